"""The placement study's report tables: published figures laid out for reading.

Each function takes ``published`` (the rows of ``published.csv``) and a language
and returns a table ready for :func:`research_lib.render.reporting.table_html`;
a suppressed figure shows as "—", a figure not published as "…".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from research_lib.io.oblasts import oblast_name
from research_lib.io.vocab import PLACEMENT_TYPES
from research_lib.render.labels import group_label, text
from research_lib.render.reporting import format_estimate, format_number
from research_lib.stats.count_series import counts_as_read
from research_lib.studies.placements.analysis import PlacementAnalysis
from research_lib.studies.placements.words import finding_date, measure_date

__all__ = [
    "COUNT_TABLES",
    "its_table",
    "count_table",
    "stock_table",
    "rate_table",
    "series_tables",
    "series_notes",
    "main_series",
    "sources_table",
    "indicator_table",
    "time_table",
    "exits_table",
    "growth_table",
    "cohort_table",
    "reunified_cohort_table",
]


def its_table(published: pd.DataFrame, table: str, language: str = "bg") -> pd.DataFrame:
    """The ITS rate ratios of one published table, one row per term."""
    rows = published[published["table"] == table]
    out = {
        text(f"placements.term_{m}", language): format_estimate(v, lo, hi, language, 3)
        for m, v, lo, hi in zip(
            rows["measure"], rows["value"], rows["ci_low"], rows["ci_high"], strict=True
        )
    }
    frame = pd.DataFrame({text("placements.col_rr", language): out})
    frame.index.name = ""
    return frame


def count_table(published: pd.DataFrame, table: str, language: str = "bg") -> pd.DataFrame:
    """Counts by year (rows) and placement type (columns); suppressed counts as "—"."""
    rows = published[published["table"] == table]
    cells = rows.assign(cell=[format_number(v, language, 0) for v in rows["value"]])
    return _by_placement_type(
        cells,
        language,
        sort=False,
        order=(*PLACEMENT_TYPES, "all"),
        index_name="placements.col_year",
        missing="placements.not_published",
    )


#: Tables of published counts, in the order the report shows them (table, heading label).
COUNT_TABLES: tuple[tuple[str, str], ...] = (
    ("in_care_at_date", "placements.h_in_care_dates"),
    ("entries_by_year", "placements.h_entries"),
    ("transfers_by_year", "placements.h_transfers"),
    ("reentries_by_year", "placements.h_reentries"),
    ("entries_part_year", "placements.h_entries_partial"),
    ("exits_by_year", "placements.h_exits"),
    ("exits_part_year", "placements.h_exits_partial"),
    ("in_care_by_year", "placements.h_in_care"),
    ("in_care_per_100k", "placements.h_in_care_rate"),
    ("entries_per_100k", "placements.h_entries_rate"),
)


def stock_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Each year's published stock by placement type, with its real date when not 31 December.

    Suppressed figures show "—", figures not published "…" (two different legends).
    """
    rows = published[published["table"] == "in_care_at_date"]
    if rows.empty:
        return pd.DataFrame()
    dates = [measure_date(m, language) for m in rows["measure"]]
    cells = [
        format_number(v, language, 0) + (f" ({words})" if words else "")
        for v, (_, words) in zip(rows["value"], dates, strict=True)
    ]
    frame = pd.DataFrame(
        {"year": [year for year, _ in dates], "group": rows["group"].to_numpy(), "cell": cells}
    )
    return _by_placement_type(
        frame,
        language,
        index="year",
        order=(*PLACEMENT_TYPES, "all"),
        index_name="placements.col_year",
        missing="placements.not_published",
    )


def rate_table(published: pd.DataFrame, table: str, language: str = "bg") -> pd.DataFrame:
    """Rates per 100,000 children (95% CI) by date or year (rows) and placement type (columns)."""
    rows = published[published["table"] == table]
    if rows.empty:
        return pd.DataFrame()
    rows = rows.sort_values("measure", kind="stable")  # ISO dates and years: in time order
    cells = rows.assign(
        cell=_estimate_cells(rows, language),
        measure=[_date_label(m, language) for m in rows["measure"]],
    )
    return _by_placement_type(
        cells,
        language,
        sort=False,
        index_name="placements.col_date",
        missing="placements.not_published",
    )


def _date_label(measure: object, language: str) -> str:
    """A row label: a day as 28.02.2023 (28 Feb 2023 in English); a year or month as it is."""
    text_ = str(measure)
    if len(text_) == 10 and text_[4] == "-" and text_[7] == "-":
        return pd.Timestamp(text_).strftime("%d.%m.%Y" if language == "bg" else "%d %b %Y")
    return text_


def series_tables(published: pd.DataFrame, language: str = "bg") -> list[tuple[str, pd.DataFrame]]:
    """(heading, table) for every count and rate table the run published, in report order."""
    out = []
    for table, heading in COUNT_TABLES:
        if not (published["table"] == table).any():
            continue
        if table == "in_care_at_date":
            frame = stock_table(published, language)
        elif table.endswith("_per_100k"):
            frame = rate_table(published, table, language)
        else:
            frame = count_table(published, table, language)
        out.append((text(heading, language), frame))
    return out


def series_notes(published: pd.DataFrame, min_cell: int, language: str = "bg") -> str:
    """The legends of the count tables: suppressed, not published, real dates, partial years."""
    notes = [
        text("common.suppressed_note", language, min_cell=min_cell),
        text("placements.not_published_note", language),
    ]
    if (published["table"] == "in_care_at_date").any():
        notes.append(text("placements.dates_note", language))
    if published["table"].astype(str).str.endswith("_part_year").any():
        notes.append(text("placements.partial_note", language))
    return " ".join(notes)


def main_series(published: pd.DataFrame) -> str:
    """The table the series plot draws: the count table with the most years shown.

    Ties go to yearly entries, then year-end stocks, then stocks at their dates;
    with nothing shown, yearly entries (the plot is then empty).
    """
    shown = published[~published["suppressed"].astype(bool) & (published["group"] != "all")]
    candidates = ("entries_by_year", "in_care_by_year", "in_care_at_date")
    years = {
        table: shown.loc[shown["table"] == table, "measure"].astype(str).str[:4].nunique()
        for table in candidates
    }
    best = max(candidates, key=lambda table: years[table])  # first of the ties
    return best if years[best] >= 2 else "entries_by_year"


def _flow_status(published: pd.DataFrame, row) -> str:
    """Why a flow figure is not the one shown: the same figure or a different one from another source."""
    table = f"{row.kind}_by_year" if len(str(row.measure)) == 4 else f"{row.kind}_part_year"
    shown = published[
        (published["table"] == table)
        & (published["group"].astype(str) == row.placement_type)
        & published["measure"].astype(str).str.startswith(str(row.measure)[:4])
    ]
    same = (shown["value"] == float(row.value)).any()
    return "placements.used_same_figure" if same else "placements.used_other_source"


def sources_table(
    analysis: PlacementAnalysis,
    published: pd.DataFrame,
    language: str = "bg",
    min_cell: int = 5,
) -> pd.DataFrame:
    """Every published count read, with its source, link and quote, and whether the tables show it.

    All figures of the scope are listed, one per row in file order, so two sources
    that disagree stand side by side (never merged). The last column says whether
    the figure is the one the tables above show, or why not: another source's
    figure of the same date is shown, a later figure of the same year is shown, or
    it is one month of a year's flow. A figure below ``min_cell`` is shown as
    suppressed. Empty when the file names no sources.
    """
    read = counts_as_read(analysis.count_rows) if len(analysis.count_rows) else pd.DataFrame()
    if read.empty or "source" not in read or read["source"].isna().all():
        return pd.DataFrame()
    shown = published[~published["suppressed"].astype(bool)]
    stock_keys = {
        (str(g), str(m), float(v))
        for g, m, v in zip(
            shown.loc[shown["table"] == "in_care_at_date", "group"],
            shown.loc[shown["table"] == "in_care_at_date", "measure"],
            shown.loc[shown["table"] == "in_care_at_date", "value"],
            strict=True,
        )
    }
    chosen = analysis.stocks
    chosen_sources = {
        (str(t), pd.Timestamp(d), str(src) if pd.notna(src) else "")
        for t, d, src in zip(
            chosen.get("placement_type", []),
            chosen.get("reference_date", []),
            chosen.get("source", []),
            strict=True,
        )
    }
    chosen_dates = {(str(t), pd.Timestamp(d)) for t, d, _ in chosen_sources}
    chosen_values = {
        (str(t), pd.Timestamp(d)): float(v)
        for t, d, v in zip(
            chosen.get("placement_type", []),
            chosen.get("reference_date", []),
            chosen.get("in_care_end", []),
            strict=True,
        )
    }
    flow_used: dict[tuple[str, str, int], tuple[set[int], set[str]]] = {}
    for column, flows in analysis.flows.items():
        for record in flows.to_dict("records"):
            months: set[int] = set()
            for part in str(record["covered"]).split(","):
                first, _, last = part.strip().partition("-")
                months |= set(range(int(first), int(last or first) + 1))
            named = str(record["source"]) if pd.notna(record["source"]) else ""
            flow_used[(column, str(record["placement_type"]), int(record["year"]))] = (
                months,
                set(named.split("; ")),
            )
    status = []
    for row in read.itertuples(index=False):
        src = str(row.source) if pd.notna(row.source) else ""
        day = pd.Timestamp(row.reference_date)
        if row.kind == "in_care_end":
            if (row.placement_type, day, src) in chosen_sources and (
                row.placement_type,
                str(row.measure),
                float(row.value),
            ) in stock_keys:
                status.append("placements.used_yes")
            elif (row.placement_type, day) in chosen_dates:
                same = chosen_values.get((row.placement_type, day)) == float(row.value)
                status.append(
                    "placements.used_same_figure" if same else "placements.used_other_source"
                )
            else:
                status.append("placements.used_later_date")
        else:
            months, named = flow_used.get(
                (row.kind, row.placement_type, int(str(row.measure)[:4])), (set(), set())
            )
            if src not in named:
                status.append(_flow_status(published, row))
            elif len(str(row.measure)) == 4:
                status.append("placements.used_yes")
            elif int(str(row.measure)[5:7]) in months:
                status.append("placements.used_month")
            else:
                status.append(_flow_status(published, row))
    suppressed = text("common.suppressed", language)
    out = pd.DataFrame(
        {
            text("placements.col_figure", language): [
                text(
                    "placements.figure_stock"
                    if kind == "in_care_end"
                    else f"placements.figure_{kind}",
                    language,
                )
                for kind in read["kind"]
            ],
            text("dimension.placement_type", language): [
                group_label("placement_type", g, language) for g in read["placement_type"]
            ],
            text("placements.col_date", language): [
                (finding_date(m, language) if kind == "in_care_end" else str(m))
                for kind, m in zip(read["kind"], read["measure"], strict=True)
            ],
            text("common.n", language): [
                format_number(v, language, 0) if v >= min_cell else suppressed
                for v in read["value"]
            ],
            text("placements.col_source", language): read["source"].fillna("").astype(str)
            + (" — " + read["source_url"].fillna("").astype(str) if "source_url" in read else ""),
            text("placements.col_quote", language): read["quote"].fillna("").astype(str)
            if "quote" in read
            else "",
            text("placements.col_used", language): [text(k, language) for k in status],
        }
    )
    out.index = pd.RangeIndex(1, len(out) + 1, name="№")
    return out


def indicator_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """The latest year's formal-care indicators: oblasts (rows, the country first) by indicator."""
    rows = published[published["table"] == "indicators_latest"]
    if rows.empty:
        return pd.DataFrame()
    digits = {"residential_to_family_ratio": 2, "exits_residential_to_family_share": 2}
    cells = rows.assign(
        cell=[
            format_estimate(v, lo, hi, language, digits.get(m, 0))
            for m, v, lo, hi in zip(
                rows["measure"], rows["value"], rows["ci_low"], rows["ci_high"], strict=True
            )
        ]
    )
    layout = cells.pivot_table(
        index="group", columns="measure", values="cell", aggfunc="first", sort=False
    )
    groups = ["all"] + sorted(g for g in layout.index if g != "all")
    layout = layout.reindex([g for g in groups if g in layout.index])
    layout.index = [oblast_name(g, language) for g in layout.index]
    layout.index.name = text("dimension.oblast", language)
    layout.columns = [text(f"placements.indicator_{m}", language) for m in layout.columns]
    return layout.fillna(text("common.suppressed", language))


def time_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Median and quartiles of time in care by placement type."""
    rows = published[published["table"] == "time_in_care"]
    if rows.empty:
        return pd.DataFrame()
    out = {}
    for group, sub in rows.groupby("group", sort=False):
        sub = sub.set_index("measure")
        out[group_label("placement_type", group, language)] = {
            text("common.n", language): format_number(sub["n"].max(), language, 0),
            text("placements.median_months", language): format_estimate(
                sub.loc["median_months", "value"],
                sub.loc["median_months", "ci_low"],
                sub.loc["median_months", "ci_high"],
                language,
            ),
            text("placements.q25_months", language): format_number(
                sub.loc["q25_months", "value"], language
            ),
            text("placements.q75_months", language): format_number(
                sub.loc["q75_months", "value"], language
            ),
        }
    frame = pd.DataFrame(out).T
    frame.index.name = text("dimension.placement_type", language)
    return frame


def _by_placement_type(
    cells: pd.DataFrame,
    language: str,
    *,
    index: str = "measure",
    sort: bool = True,
    order: tuple[str, ...] | None = None,
    index_name: str | None = None,
    missing: str = "common.suppressed",
) -> pd.DataFrame:
    """The ``cell`` column laid out with ``index`` as rows and placement types as columns.

    ``order``: the groups to show, in this order (by default all, as found);
    group ``all`` is headed "all children" when ``order`` holds it. A figure not
    in ``cells`` reads as the label ``missing``.
    """
    layout = cells.pivot_table(
        index=index, columns="group", values="cell", aggfunc="first", sort=sort
    )
    if order is not None:
        layout = layout[[g for g in order if g in layout.columns]]
    total = order is not None and "all" in order
    layout.columns = [
        text("dimension.all", language)
        if total and g == "all"
        else group_label("placement_type", g, language)
        for g in layout.columns
    ]
    if index_name is not None:
        layout.index.name = text(index_name, language)
    return layout.fillna(text(missing, language))


def _estimate_cells(rows: pd.DataFrame, language: str, digits: int = 1) -> list[str]:
    """Each row's value with its CI: "12,3 (10,1 – 14,6)"."""
    return [
        format_estimate(v, lo, hi, language, digits)
        for v, lo, hi in zip(rows["value"], rows["ci_low"], rows["ci_high"], strict=True)
    ]


def _percent_cells(rows: pd.DataFrame, language: str) -> list[str]:
    """Each row's share as "12,3 (10,1 – 14,6)" in percent; a hidden share stays hidden."""
    return [
        format_estimate(100 * v if pd.notna(v) else v, 100 * lo, 100 * hi, language, 1)
        for v, lo, hi in zip(rows["value"], rows["ci_low"], rows["ci_high"], strict=True)
    ]


def exits_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Cumulative incidence of each way of leaving within 12 months (%), by placement type."""
    rows = published[published["table"] == "exits_within_12m"]
    if rows.empty:
        return pd.DataFrame()
    cells = rows.assign(cell=_percent_cells(rows, language))
    layout = _by_placement_type(cells, language, sort=False)
    layout.index = pd.Index([text(f"placements.exit_{m}", language) for m in layout.index], name="")
    return layout


def growth_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Foster-care growth per oblast with its CI and the lagging flag, slowest first."""
    rows = published[published["table"] == "foster_growth"]
    if rows.empty:
        return pd.DataFrame()
    growth = rows[rows["measure"] == "growth_ratio"].set_index("group")
    lagging = rows[rows["measure"] == "lagging"].set_index("group")["value"]
    relative = rows[rows["measure"] == "relative_growth"].set_index("group")
    order = (
        (relative["value"].reindex(growth.index) if len(relative) else growth["value"])
        .sort_values(na_position="last")
        .index
    )
    columns = {
        text("placements.col_growth", language): [
            format_estimate(
                growth.loc[g, "value"],
                growth.loc[g, "ci_low"],
                growth.loc[g, "ci_high"],
                language,
                2,
            )
            for g in order
        ]
    }
    if len(relative):
        columns[text("placements.col_relative", language)] = [
            format_estimate(
                relative.loc[g, "value"] if g in relative.index else np.nan,
                relative.loc[g, "ci_low"] if g in relative.index else np.nan,
                relative.loc[g, "ci_high"] if g in relative.index else np.nan,
                language,
                2,
            )
            for g in order
        ]
    frame = pd.DataFrame(
        {
            **columns,
            text("placements.col_lagging", language): [
                text("common.suppressed", language)
                if pd.isna(lagging.get(g))
                else text("common.yes" if lagging.get(g) == 1 else "common.no", language)
                for g in order
            ],
        },
        index=[oblast_name(g, language) for g in order],
    )
    frame.index.name = text("dimension.oblast", language)
    return frame


def cohort_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Median months in care by entry cohort (rows) and placement type (columns); "—" if not reached."""
    rows = published[published["table"] == "median_time_by_cohort"]
    if rows.empty:
        return pd.DataFrame()
    cells = rows.assign(cell=_estimate_cells(rows, language))
    return _by_placement_type(
        cells, language, order=PLACEMENT_TYPES, index_name="placements.col_cohort"
    )


def reunified_cohort_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Reunified within 12 months (%, 95% CI) by entry cohort (rows) and placement type (columns)."""
    rows = published[published["table"] == "reunified_12m_by_cohort"]
    if rows.empty:
        return pd.DataFrame()
    cells = rows.assign(cell=_percent_cells(rows, language))
    return _by_placement_type(
        cells, language, order=PLACEMENT_TYPES, index_name="placements.col_cohort"
    )
