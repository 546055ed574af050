"""The placement study: did entries into institutions fall, where does foster care lag?

The notebook ``notebooks/placements_study.ipynb`` tells the story; this module
holds its steps so each is tested and none is re-implemented in a notebook:

1. :func:`prepare` — load episodes (or published counts) and the child population;
2. :func:`analyse` — yearly series, interrupted time series at the reform date,
   the UNICEF formal-care indicators per oblast, the regional comparison, time
   in care and exits, and the projection toward "no child aged 0-3 in
   residential care";
3. :func:`published_figures` — every figure the report shows, in the
   ``published.csv`` layout, passed through :mod:`research_lib.disclosure`.

Published tables (``table`` column):

==================================== ======================== ==============================
table                                group                    measure
==================================== ======================== ==============================
``entries_by_year``                  placement type / ``all`` year (count)
``in_care_by_year``                  placement type / ``all`` year (count at 31 December)
``entries_0_3_residential_by_year``  ``residential``          year (count)
``its_institution_entries``          ``institution``          ``level_change``,
                                                              ``slope_change_per_year``,
                                                              ``trend_per_year`` (rate ratios)
``its_residential_entries_0_3``      ``residential_0_3``      the same
``indicators_latest``                oblast code / ``all``    ``entries_per_100k``,
                                                              ``in_care_per_100k``,
                                                              ``residential_to_family_ratio``,
                                                              ``exits_residential_to_family_share``
``foster_growth``                    oblast code              ``growth_ratio``, ``lagging``
``family_based_share``               oblast code / ``all``    ``share``
``time_in_care``                     placement type           ``median_months``,
                                                              ``q25_months``, ``q75_months``
``exits_within_12m``                 placement type           exit reason (cumulative incidence)
``projection_0_3_residential``       ``residential_0_3``      ``target_year`` (extrapolation)
==================================== ======================== ==============================

Residential care is ``cnst`` and ``institution``; family-based care is ``foster``
and ``kinship``. Counts below ``min_cell`` are suppressed, with complementary
suppression against the ``all`` total of each year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.disclosure import to_published
from research_lib.errors import InputError
from research_lib.its import ITSResult, fit_its
from research_lib.placements import (
    entry_age_band,
    episodes_to_series,
    load_counts,
    load_episodes,
    load_population,
)
from research_lib.regions import NATIONAL, resolve_scope
from research_lib.rejections import LoadResult
from research_lib.time_in_care import exit_pathways, time_in_care

__all__ = [
    "RESIDENTIAL",
    "FAMILY_BASED",
    "PlacementData",
    "PlacementAnalysis",
    "prepare",
    "analyse",
    "published_figures",
    "its_frame",
]

RESIDENTIAL: tuple[str, ...] = ("cnst", "institution")
FAMILY_BASED: tuple[str, ...] = ("foster", "kinship")
FORMAL_CARE: tuple[str, ...] = (*FAMILY_BASED, *RESIDENTIAL)


@dataclass(frozen=True)
class PlacementData:
    """Loaded placement records, with the scope (an oblast or the country) asked for."""

    load: LoadResult
    kind: str  #: ``episodes`` or ``counts``
    scope: str  #: NUTS-3 code or ``"all"``
    as_of: pd.Timestamp
    population: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def episodes(self) -> pd.DataFrame | None:
        """All valid episodes (every oblast: the regional comparison needs them)."""
        return self.load.valid if self.kind == "episodes" else None

    @property
    def scoped(self) -> pd.DataFrame:
        """The valid records of the scope."""
        valid = self.load.valid
        return valid if self.scope == NATIONAL else valid[valid["oblast"] == self.scope]


@dataclass(frozen=True)
class PlacementAnalysis:
    """The analysis tables of one run (unpublished: may hold small counts)."""

    yearly: pd.DataFrame
    entries_0_3: pd.DataFrame
    its: dict[str, ITSResult]
    its_data: dict[str, pd.DataFrame] = field(repr=False)
    indicators: pd.DataFrame = field(repr=False)
    time_in_care: pd.DataFrame = field(repr=False)
    exits: pd.DataFrame = field(repr=False)
    regional: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    projection: object | None = field(default=None, repr=False)
    reform_date: pd.Timestamp = pd.Timestamp("2016-01-01")
    notes: dict[str, str] = field(default_factory=dict)


def prepare(
    episodes: str | Path | None = None,
    counts: str | Path | None = None,
    population: str | Path | None = None,
    oblast: str = NATIONAL,
    as_of: str | pd.Timestamp | None = None,
) -> PlacementData:
    """Load episode records (or a table of published counts) and the child population.

    Give ``episodes`` or ``counts``, not both. ``as_of`` is the date the records
    describe (ongoing episodes are open then); by default the latest start or
    end date in the file.
    """
    if (episodes is None) == (counts is None):
        raise InputError(
            "give either episodes (one row per placement episode) or counts (published counts), not both."
        )
    scope = resolve_scope(oblast)
    if episodes is not None:
        load = load_episodes(episodes)
        kind = "episodes"
        dates = pd.concat([load.valid["start_date"], load.valid["end_date"]]).dropna()
        default_as_of = dates.max() if len(dates) else pd.Timestamp.today().normalize()
    else:
        load = load_counts(counts)
        kind = "counts"
        default_as_of = (
            pd.Timestamp(load.valid["period"].max()) if len(load.valid) else pd.Timestamp.today()
        )
    pop = load_population(population).valid if population is not None else None
    return PlacementData(
        load=load,
        kind=kind,
        scope=scope,
        as_of=pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(default_as_of),
        population=pop,
    )


def _yearly(data: PlacementData) -> pd.DataFrame:
    """Entries, exits and children in care at year end, by placement type, in scope."""
    if data.kind == "episodes":
        series = episodes_to_series(data.scoped, freq="YS", by=("placement_type",), end=data.as_of)
    else:
        counts = data.scoped
        series = counts.groupby(["period", "placement_type"], observed=True, as_index=False)[
            ["entries", "exits", "in_care_end"]
        ].sum(min_count=1)
    series["year"] = pd.to_datetime(series["period"]).dt.year
    return series


def _monthly_population(data: PlacementData, periods: pd.Series) -> pd.Series | None:
    """Children aged 0-17 in scope for each month's year (the ITS offset); None without a population."""
    if data.population is None:
        return None
    pop = data.population
    if "age_band" in pop:
        pop = pop[pop["age_band"].astype(str) == "0-17"]
    if data.scope != NATIONAL:
        pop = pop[pop["oblast"] == data.scope]
    by_year = pop.groupby("year")["population"].sum()
    years = pd.to_datetime(periods).dt.year
    values = years.map(by_year)
    return None if values.isna().any() else values.astype(float)


def its_frame(
    series: pd.DataFrame, reform_date: pd.Timestamp, population: pd.Series | None = None
) -> pd.DataFrame:
    """A monthly series laid out for :func:`research_lib.its.fit_its`.

    Columns ``period, entries, time`` (1…T), ``intervention`` (0 before the
    reform month, 1 from it), ``month`` (for the Fourier terms) and, when given,
    ``population`` (the log offset).
    """
    frame = series[["period", "entries"]].sort_values("period").reset_index(drop=True)
    frame["time"] = np.arange(1, len(frame) + 1)
    frame["intervention"] = (pd.to_datetime(frame["period"]) >= reform_date).astype(int)
    frame["month"] = pd.to_datetime(frame["period"]).dt.month
    if population is not None:
        frame["population"] = population.to_numpy()
    return frame


def _fit_entries_its(
    monthly: pd.DataFrame, data: PlacementData, reform: pd.Timestamp
) -> tuple[ITSResult | None, pd.DataFrame, str]:
    frame = its_frame(monthly, reform, _monthly_population(data, monthly["period"]))
    offset = "population" if "population" in frame else None
    try:
        result = fit_its(
            frame,
            "entries",
            "time",
            "intervention",
            offset=offset,
            family="quasipoisson",
            season="month",
            harmonics=2,
            period=12,
            slope_change=True,
        )
    except (InputError, ValueError, np.linalg.LinAlgError) as err:
        return None, frame, f"{err}"
    return result, frame, ""


def _complete_months(episodes: pd.DataFrame, as_of: pd.Timestamp) -> pd.Timestamp:
    """The last day of the last complete month on or before ``as_of``."""
    month_end = as_of + pd.offsets.MonthEnd(0)
    return month_end if as_of == month_end else as_of - pd.offsets.MonthEnd(1)


def analyse(
    data: PlacementData,
    reform_date: str | pd.Timestamp = "2016-01-01",
    projection_horizon: int = 2040,
) -> PlacementAnalysis:
    """All analyses of the placement study for the scope of ``data``."""
    reform = pd.Timestamp(reform_date)
    notes: dict[str, str] = {}
    yearly = _yearly(data)
    its: dict[str, ITSResult] = {}
    its_data: dict[str, pd.DataFrame] = {}
    entries_0_3 = pd.DataFrame(columns=["year", "entries"])
    tic = pd.DataFrame()
    exits = pd.DataFrame()
    indicators = pd.DataFrame()
    if data.kind == "episodes":
        scoped = data.scoped
        end = _complete_months(scoped, data.as_of)
        monthly = episodes_to_series(scoped, freq="MS", by=("placement_type",), end=end)
        inst = monthly[monthly["placement_type"].astype(str) == "institution"]
        result, frame, why = _fit_entries_its(inst, data, reform)
        its_data["institution"] = frame
        if result is not None:
            its["institution"] = result
        else:
            notes["its_institution"] = why
        young = scoped.assign(age_band_at_entry=entry_age_band(scoped))
        young = young[
            (young["age_band_at_entry"].astype(str) == "0-3")
            & young["placement_type"].astype(str).isin(RESIDENTIAL)
        ]
        monthly_young = episodes_to_series(
            young, freq="MS", by=None, start=scoped["start_date"].min(), end=end
        )
        result, frame, why = _fit_entries_its(monthly_young, data, reform)
        its_data["residential_0_3"] = frame
        if result is not None:
            its["residential_0_3"] = result
        else:
            notes["its_residential_0_3"] = why
        yearly_young = episodes_to_series(
            young, freq="YS", by=None, start=scoped["start_date"].min(), end=data.as_of
        )
        entries_0_3 = yearly_young.assign(year=pd.to_datetime(yearly_young["period"]).dt.year)[
            ["year", "entries"]
        ]
        tic = time_in_care(scoped, by="placement_type", as_of=data.as_of)
        exits = exit_pathways(scoped, by="placement_type", as_of=data.as_of, horizons=(12,))
        if data.population is not None:
            from research_lib.indicators import care_indicators

            indicators = care_indicators(data.episodes, data.population)
        else:
            notes["indicators"] = "no population"
    else:
        notes["episodes"] = "counts only"
    return PlacementAnalysis(
        yearly=yearly,
        entries_0_3=entries_0_3,
        its=its,
        its_data=its_data,
        indicators=indicators,
        time_in_care=tic,
        exits=exits,
        reform_date=reform,
        notes=notes,
    )


def _figures(
    table: str, group, measure, n, value, low=np.nan, high=np.nan, by: str | None = None
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "table": table,
            "group": group,
            "measure": measure,
            "n": n,
            "value": value,
            "ci_low": low,
            "ci_high": high,
        }
    )
    frame["by"] = by if by is not None else table
    return frame


def _count_figures(table: str, yearly: pd.DataFrame, column: str) -> pd.DataFrame:
    """Counts by placement type and year, with the year's total as group ``all``."""
    rows = yearly.dropna(subset=[column])
    total = rows.groupby("year", as_index=False)[column].sum()
    parts = [
        _figures(
            table,
            rows["placement_type"].astype(str),
            rows["year"].astype(str),
            rows[column],
            rows[column],
            by="placement_type",
        ),
        _figures(
            table,
            "all",
            total["year"].astype(str),
            total[column],
            total[column],
            by="placement_type",
        ),
    ]
    return pd.concat(parts, ignore_index=True)


def _its_figures(table: str, group: str, result: ITSResult, frame: pd.DataFrame) -> pd.DataFrame:
    """Level change, and trend / slope change per year (monthly rate ratios to the 12th power)."""
    t = result.table
    n = int(frame["entries"].sum())
    rows = [("level_change", 1)] + [
        (name, 12) for name in ("slope_change", "trend") if name in t.index
    ]
    measures, values, lows, highs = [], [], [], []
    for term, power in rows:
        measures.append(term if power == 1 else f"{term}_per_year")
        values.append(t.loc[term, "estimate"] ** power)
        lows.append(t.loc[term, "ci_low"] ** power)
        highs.append(t.loc[term, "ci_high"] ** power)
    return _figures(table, group, measures, n, values, lows, highs)


_INDICATOR_NAMES = {"exits_residential_to_family": "exits_residential_to_family_share"}


def published_figures(
    analysis: PlacementAnalysis, data: PlacementData, min_cell: int = 5
) -> pd.DataFrame:
    """Every figure of the placement report in the ``published.csv`` layout, disclosure-controlled."""
    parts = [
        _count_figures("entries_by_year", analysis.yearly, "entries"),
        _count_figures("in_care_by_year", analysis.yearly, "in_care_end"),
    ]
    young = analysis.entries_0_3
    if len(young):
        parts.append(
            _figures(
                "entries_0_3_residential_by_year",
                "residential",
                young["year"].astype(str),
                young["entries"],
                young["entries"],
            )
        )
    for key, table in (
        ("institution", "its_institution_entries"),
        ("residential_0_3", "its_residential_entries_0_3"),
    ):
        if key in analysis.its:
            parts.append(_its_figures(table, key, analysis.its[key], analysis.its_data[key]))
    ind = analysis.indicators
    if len(ind):
        latest = ind[ind["year"] == ind["year"].max()]
        if "age_band" in latest:
            latest = latest[latest["age_band"].isna() | (latest["age_band"].astype(str) == "0-17")]
        parts.append(
            _figures(
                "indicators_latest",
                latest["oblast"].astype(str),
                latest["indicator"].replace(_INDICATOR_NAMES),
                latest["numerator"],
                latest["value"],
                latest["ci_low"],
                latest["ci_high"],
            )
        )
    tic = analysis.time_in_care
    if len(tic):
        for stat in ("median", "q25", "q75"):
            parts.append(
                _figures(
                    "time_in_care",
                    tic["placement_type"].astype(str),
                    f"{stat}_months",
                    tic["n"],
                    tic[stat],
                    tic[f"{stat}_ci_low"],
                    tic[f"{stat}_ci_high"],
                )
            )
    exits = analysis.exits
    if len(exits):
        at12 = exits[exits["horizon"] == 12]
        parts.append(
            _figures(
                "exits_within_12m",
                at12["placement_type"].astype(str),
                at12["reason"].astype(str),
                at12["events"],
                at12["cumulative_incidence"],
                at12["ci_low"],
                at12["ci_high"],
            )
        )
    parts += _regional_figures(analysis)
    figures = pd.concat([p for p in parts if len(p)], ignore_index=True)
    for column in ("value", "ci_low", "ci_high"):  # 6 significant digits: stable across machines
        figures[column] = [float(f"{v:.6g}") if pd.notna(v) else np.nan for v in figures[column]]
    return to_published(figures, min_cell)


def _regional_figures(analysis: PlacementAnalysis) -> list[pd.DataFrame]:
    """Foster growth and family-based shares per oblast (filled in when computed)."""
    return [
        frame
        for frame in analysis.regional.values()
        if isinstance(frame, pd.DataFrame) and "table" in frame
    ]


def _shown(published: pd.DataFrame, table: str) -> pd.DataFrame:
    rows = published[(published["table"] == table) & ~published["suppressed"].astype(bool)]
    return rows.dropna(subset=["value"]).set_index(["group", "measure"])


def _pct_fall(rate_ratio: float) -> float:
    return 100.0 * (1.0 - rate_ratio)


def key_findings(
    published: pd.DataFrame, reform_date: pd.Timestamp, language: str = "bg"
) -> list[str]:
    """Plain-language findings from published figures only (never a suppressed one)."""
    from research_lib.labels import text
    from research_lib.regions import oblast_name
    from research_lib.reporting import format_number as fmt

    reform = pd.Timestamp(reform_date).strftime("%d.%m.%Y" if language == "bg" else "%Y-%m-%d")
    out: list[str] = []
    its = _shown(published, "its_institution_entries")
    if ("institution", "level_change") in its.index:
        row = its.loc[("institution", "level_change")]
        key = "placements.finding_level" if row["ci_high"] < 1 else "placements.finding_level_up"
        out.append(
            text(
                key,
                language,
                reform=reform,
                pct=fmt(_pct_fall(row["value"]), language, 0),
                rr=fmt(row["value"], language, 2),
                low=fmt(row["ci_low"], language, 2),
                high=fmt(row["ci_high"], language, 2),
            )
        )
    if ("institution", "slope_change_per_year") in its.index:
        row = its.loc[("institution", "slope_change_per_year")]
        if row["ci_high"] < 1:
            out.append(
                text(
                    "placements.finding_slope",
                    language,
                    pct=fmt(_pct_fall(row["value"]), language, 0),
                    low=fmt(_pct_fall(row["ci_high"]), language, 0),
                    high=fmt(_pct_fall(row["ci_low"]), language, 0),
                )
            )
    young = _shown(published, "its_residential_entries_0_3")
    if ("residential_0_3", "level_change") in young.index:
        row = young.loc[("residential_0_3", "level_change")]
        if row["ci_high"] < 1:
            out.append(
                text(
                    "placements.finding_young",
                    language,
                    pct=fmt(_pct_fall(row["value"]), language, 0),
                    rr=fmt(row["value"], language, 2),
                    low=fmt(row["ci_low"], language, 2),
                    high=fmt(row["ci_high"], language, 2),
                )
            )
    growth = _shown(published, "foster_growth")
    if len(growth):
        lagging = [g for (g, m), r in growth.iterrows() if m == "lagging" and r["value"] == 1]
        if lagging:
            names = ", ".join(oblast_name(code, language) for code in sorted(lagging))
            out.append(
                text("placements.finding_lagging", language, count=len(lagging), names=names)
            )
        else:
            out.append(text("placements.finding_no_lagging", language))
    exits = _shown(published, "exits_within_12m")
    for group in RESIDENTIAL:
        if (group, "reunified") in exits.index:
            row = exits.loc[(group, "reunified")]
            out.append(
                text(
                    "placements.finding_reunified",
                    language,
                    group=text(f"placement_phrase.{group}", language)
                    .replace("децата в ", "")
                    .replace("children in ", ""),
                    share=fmt(100 * row["value"], language, 1),
                    low=fmt(100 * row["ci_low"], language, 1),
                    high=fmt(100 * row["ci_high"], language, 1),
                )
            )
    projection = published[published["table"] == "projection_0_3_residential"]
    if len(projection):
        row = projection.iloc[0]
        if row["suppressed"] or pd.isna(row["value"]):
            pass
        else:
            out.append(
                text(
                    "placements.finding_projection",
                    language,
                    year=int(row["value"]),
                    low=int(row["ci_low"]) if pd.notna(row["ci_low"]) else "?",
                    high=int(row["ci_high"]) if pd.notna(row["ci_high"]) else "?",
                )
            )
    return out


def data_and_method(
    data: PlacementData, analysis: PlacementAnalysis, min_cell: int, language: str = "bg"
) -> list[str]:
    """Paragraphs of the "Data and method" section."""
    from research_lib.labels import text
    from research_lib.regions import oblast_name
    from research_lib.reporting import format_number as fmt

    scope = oblast_name(data.scope, language)
    reform = analysis.reform_date.strftime("%d.%m.%Y" if language == "bg" else "%Y-%m-%d")
    if data.kind == "episodes":
        scoped = data.scoped
        paragraphs = [
            text(
                "placements.data_summary",
                language,
                n_rows=fmt(len(scoped), language, 0),
                n_children=fmt(scoped["child_id"].nunique(), language, 0),
                scope=scope,
                n_rejected=fmt(data.load.n_rejected, language, 0),
            )
        ]
    else:
        paragraphs = [
            text("placements.counts_summary", language, n_rows=fmt(data.load.n_rows, language, 0))
        ]
    offset = text("placements.offset_text", language) if data.population is not None else ""
    paragraphs.append(text("placements.method_its", language, reform=reform, offset=offset))
    paragraphs.append(
        text("placements.method_rates", language)
        if data.population is not None
        else text("placements.no_population", language)
    )
    if data.kind == "episodes":
        paragraphs.append(text("placements.method_time", language))
    paragraphs.append(text("qol.method_disclosure", language, min_cell=min_cell))
    return paragraphs
