"""The placement study's published figures, declared once.

Each table of ``published.csv`` is one or more :class:`~research_lib.disclosure.figures.FigureSpec`:
the frame of :class:`~research_lib.studies.placements.analysis.PlacementAnalysis`
its rows come from and how ``group``, ``measure``, ``n``, the value and its CI
are read. :func:`published_figures` hands them to
:func:`research_lib.disclosure.figures.published_rows`.

==================================== ======================== ==============================
table                                group                    measure
==================================== ======================== ==============================
``entries_by_year``                  placement type / ``all`` year (first entries into care)
``transfers_by_year``                placement type / ``all`` year (moves within care)
``reentries_by_year``                placement type / ``all`` year (only when any)
``in_care_by_year``                  placement type / ``all`` year (count at 31 December)
``entries_0_3_residential_by_year``  ``residential``          year (count)
``its_institution_entries``          ``institution``          ``level_change``,
                                                              ``slope_change_per_year``,
                                                              ``trend_per_year``,
                                                              ``change_at_end`` (rate ratios);
                                                              oblast runs:
                                                              ``level_change_pooled``
``its_residential_entries_0_3``      ``residential_0_3``      the same
``indicators_latest``                oblast code / ``all``    ``entries_per_100k``,
                                                              ``in_care_per_100k``,
                                                              ``residential_to_family_ratio``,
                                                              ``exits_residential_to_family_share``
``time_in_care``                     placement type           ``median_months``,
                                                              ``q25_months``, ``q75_months``
``median_time_by_cohort``            placement type           entry cohort
``exits_within_12m``                 placement type           exit reason (cumulative incidence)
``reunified_12m_by_cohort``          placement type           entry cohort
``foster_growth``                    oblast code              ``growth_ratio``, ``lagging``,
                                                              ``relative_growth``, ``lagging_998``
``family_based_share``               oblast code / ``all``    ``share``
``entry_rate_funnel``                oblast code              ``outside_95``, ``outside_998``
``entry_rate_dispersion``            ``all``                  ``dispersion_ratio``, ``dispersion_p``
``projection_0_3_residential``       ``residential_0_3``      ``target_year`` (extrapolation)
==================================== ======================== ==============================

From published counts instead of episodes: ``in_care_at_date`` (measure = the
stock's date), ``entries_by_year`` / ``exits_by_year`` (complete years),
``entries_part_year`` / ``exits_part_year`` (measure ``"2019 (07-09)"``),
``count_sources`` and the rates ``in_care_per_100k``, ``entries_per_100k``,
``exits_per_100k``.

Counts below ``min_cell`` are suppressed. From episodes, the yearly counts and
the tables whose ``n`` counts children (``linked=True``) take this scope's part
of one pattern over the country and every oblast (:func:`linked_year_counts`),
so a report run alone hides what the batch hides.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from types import SimpleNamespace

import numpy as np
import pandas as pd
from lifelines.exceptions import StatError

from research_lib.disclosure.figures import (
    FigureSpec,
    Fixed,
    build_figures,
    linked_tables,
    published_rows,
)
from research_lib.disclosure.linked import protect_linked
from research_lib.disclosure.pattern_cache import cached_pattern, pattern_key
from research_lib.errors import InputError
from research_lib.io.oblasts import NATIONAL, load_oblasts
from research_lib.stats.count_series import source_summary, stock_measures, stock_totals
from research_lib.stats.funnels import funnel_dispersion
from research_lib.stats.indicators import FORMAL_CARE, wilson_ci
from research_lib.stats.time_in_care import observation_start
from research_lib.studies.placements.analysis import (
    PlacementAnalysis,
    PlacementData,
    spell_tables,
    yearly_counts,
    young_yearly,
)

__all__ = [
    "EPISODE_COUNT_FIGURES",
    "YOUNG_FIGURES",
    "CHILD_FIGURES",
    "COUNT_FIGURES",
    "MODEL_FIGURES",
    "REGIONAL_FIGURES",
    "LINKED_COUNTS",
    "LINKED_CHILDREN",
    "by_year_with_total",
    "published_figures",
    "linked_year_counts",
    "linked_pattern",
]


# ----------------------------------------------------------------------------- frames


def by_year_with_total(yearly: pd.DataFrame, column: str) -> pd.DataFrame:
    """Counts by placement type and year, then each year's total as placement type ``all``.

    Examples
    --------
    >>> yearly = pd.DataFrame({"year": [2020, 2020], "placement_type": ["cnst", "foster"],
    ...                        "entries": [3, 4]})
    >>> by_year_with_total(yearly, "entries")["placement_type"].tolist()
    ['cnst', 'foster', 'all']
    """
    rows = yearly.dropna(subset=[column])
    total = rows.groupby("year", as_index=False)[column].sum()
    return pd.concat(
        [
            rows.loc[:, ["placement_type", "year", column]].assign(
                placement_type=rows["placement_type"].astype(str)
            ),
            total.assign(placement_type="all"),
        ],
        ignore_index=True,
    )


def _formal(yearly: pd.DataFrame) -> pd.DataFrame:
    return yearly[yearly["placement_type"].astype(str).isin(FORMAL_CARE)]


def _yearly_table(column: str, formal: bool = True, require_any: bool = False):
    """The frame reader of a yearly count table (formal care only, unless ``formal=False``)."""

    def frame(source) -> pd.DataFrame | None:
        yearly = _formal(source.yearly) if formal else source.yearly
        if column not in yearly or (require_any and not yearly[column].sum() > 0):
            return None
        return by_year_with_total(yearly, column)

    return frame


def _count_spec(table: str, column: str, **frame_options: bool) -> FigureSpec:
    return FigureSpec(
        table,
        _yearly_table(column, **frame_options),
        group="placement_type",
        measure="year",
        n=column,
        value=column,
        by="placement_type",
        linked=True,
    )


def _its_rows(analysis: PlacementAnalysis, key: str) -> pd.DataFrame | None:
    """Level change, and trend / slope change per year (monthly rate ratios to the periods' power)."""
    if key not in analysis.its:
        return None
    result = analysis.its[key]
    t = result.table
    n = int(analysis.its_data[key]["entries"].sum())
    terms = [("level_change", 1)] + [
        (name, analysis.periods_per_year) for name in ("slope_change", "trend") if name in t.index
    ]
    measures, values, lows, highs = [], [], [], []
    for term, power in terms:
        measures.append(term if power == 1 else f"{term}_per_year")
        values.append(t.loc[term, "estimate"] ** power)
        lows.append(t.loc[term, "ci_low"] ** power)
        highs.append(t.loc[term, "ci_high"] ** power)
    end = result.change_at_end()
    return pd.DataFrame(
        {
            "measure": [*measures, "change_at_end"],
            "n": n,
            "value": [*values, end["estimate"]],
            "ci_low": [*lows, end["ci_low"]],
            "ci_high": [*highs, end["ci_high"]],
        }
    )


def _pooled_rows(analysis: PlacementAnalysis) -> pd.DataFrame | None:
    """An oblast's level change, partially pooled with the other oblasts'."""
    pooled = analysis.regional.get("its_pooled")
    if pooled is None or analysis.scope not in pooled.index or "institution" not in analysis.its:
        return None
    row = pooled.loc[analysis.scope]
    return pd.DataFrame(
        {
            "measure": ["level_change_pooled"],
            "n": int(analysis.its_data["institution"]["entries"].sum()),
            "value": [row["pooled_rr"]],
            "ci_low": [row["pooled_rr_low"]],
            "ci_high": [row["pooled_rr_high"]],
        }
    )


def _latest_indicators(indicators: pd.DataFrame) -> pd.DataFrame:
    latest = indicators[indicators["year"] == indicators["year"].max()]
    if "age_band" in latest:
        latest = latest[latest["age_band"].isna() | (latest["age_band"].astype(str) == "0-17")]
    return latest


_INDICATOR_NAMES = {"exits_residential_to_family": "exits_residential_to_family_share"}


def _regional(key: str, source) -> pd.DataFrame | None:
    return source.regional.get(key)


def _growth_model(source) -> pd.DataFrame | None:
    growth = source.regional.get("growth")
    return growth if growth is not None and "relative_growth" in growth else None


def _share_rows(source) -> pd.DataFrame | None:
    """The family-based share per oblast, then the country's (Wilson CI)."""
    funnel = source.regional.get("funnel")
    if funnel is None or not len(funnel):
        return None
    count, total = funnel["count"].sum(), funnel["total"].sum()
    _, low, high = wilson_ci(np.array([count]), np.array([total]))
    return pd.DataFrame(
        {
            "oblast": [*funnel["oblast"], "all"],
            "total": [*funnel["total"], total],
            "share": [*funnel["share"], count / total],
            "ci_low": [*funnel["ci_low"], float(np.asarray(low)[0])],
            "ci_high": [*funnel["ci_high"], float(np.asarray(high)[0])],
        }
    )


def _oblast_rows(funnel: pd.DataFrame) -> pd.DataFrame:
    return funnel[funnel["oblast"] != "all"]


def _dispersion_rows(source) -> pd.DataFrame | None:
    """The dispersion test of the entry-rate funnel: chi-squared / df and its p-value."""
    funnel = source.regional.get("rate_funnel")
    if funnel is None or not len(funnel):
        return None
    d = funnel_dispersion(_oblast_rows(funnel))
    return pd.DataFrame(
        {
            "measure": ["dispersion_ratio", "dispersion_p"],
            "n": d.units,
            "value": [d.ratio, d.p_value],
        }
    )


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _projection_rows(source) -> pd.DataFrame | None:
    """The year the 0-3 residential count would reach zero, on the last seven years' trend."""
    result = source.projection
    if result is None:
        return None
    observed = result.table.loc[~result.table["is_projection"], "observed"]
    return pd.DataFrame(
        {
            "n": [int(observed.tail(7).sum())],
            "value": [_or_nan(result.target_year)],
            "ci_low": [_or_nan(result.target_year_low)],
            "ci_high": [_or_nan(result.target_year_high)],
        }
    )


def _stock_rows(source) -> pd.DataFrame | None:
    """Published stocks at their real dates, then the ``all`` totals where every type has one."""
    stocks = source.stocks
    if not len(stocks):
        return None
    frames = [stocks, stock_totals(stocks, types=FORMAL_CARE)]
    return pd.concat(
        [f.assign(measure=stock_measures(f)) for f in frames if len(f)], ignore_index=True
    )


def _flow_rows(column: str, complete: bool, source) -> pd.DataFrame | None:
    """A flow's complete years (with ``all`` totals), or its partial years."""
    flows = source.flows.get(column)
    if flows is None or flows.empty:
        return None
    whole = flows["complete"].astype(bool)
    if not complete:
        partial = flows[~whole]
        return partial.assign(measure=partial["year"].astype(str) + " (" + partial["covered"] + ")")
    rows = flows[whole]
    if not len(rows):
        return None
    totals = stock_totals(rows.assign(reference_date="year"), column, FORMAL_CARE)
    return pd.concat([f for f in (rows, totals) if len(f)], ignore_index=True)


def _source_rows(source) -> pd.DataFrame | None:
    """How many sources the counts come from and how many figures they disagree on."""
    if not len(source.count_rows) or "source" not in source.count_rows:
        return None
    summary = source_summary(source.count_rows)
    return pd.DataFrame(
        {
            "measure": ["sources", "disagreements"],
            "n": summary["figures"],
            "value": [summary["sources"], summary["disagreements"]],
        }
    )


def _rate_rows(kind: str, source) -> pd.DataFrame | None:
    rates = source.count_rates
    return rates[rates["measure_kind"] == kind] if len(rates) else None


# ----------------------------------------------------------------------------- declarations

#: Yearly counts from episodes (``reentries_by_year`` only when there are any).
EPISODE_COUNT_FIGURES: tuple[FigureSpec, ...] = (
    # entries: first entries into care away from the family; transfers apart
    _count_spec("entries_by_year", "entries"),
    _count_spec("transfers_by_year", "transfers"),
    _count_spec("in_care_by_year", "in_care_end", formal=False),
    _count_spec("reentries_by_year", "reentries", require_any=True),
)

#: First entries of children aged 0-3 into residential care, by year.
YOUNG_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "entries_0_3_residential_by_year",
        "entries_0_3",
        group=Fixed("residential"),
        measure="year",
        n="entries",
        value="entries",
        linked=True,
    ),
)

#: The interrupted time series (and an oblast's pooled level change) and the indicators.
MODEL_FIGURES: tuple[FigureSpec, ...] = (
    *(
        FigureSpec(
            table,
            partial(_its_rows, key=key),
            group=Fixed(key),
            measure="measure",
            n="n",
            value="value",
            ci_low="ci_low",
            ci_high="ci_high",
        )
        for key, table in (
            ("institution", "its_institution_entries"),
            ("residential_0_3", "its_residential_entries_0_3"),
        )
    ),
    FigureSpec(
        "its_institution_entries",
        _pooled_rows,
        group=Fixed("institution"),
        measure="measure",
        n="n",
        value="value",
        ci_low="ci_low",
        ci_high="ci_high",
    ),
    FigureSpec(
        "indicators_latest",
        "indicators",
        where=_latest_indicators,
        group="oblast",
        measure=lambda f: f["indicator"].replace(_INDICATOR_NAMES),
        n="numerator",
        value="value",
        ci_low="ci_low",
        ci_high="ci_high",
    ),
)

#: Time in care, exits and the entry-cohort tables (n = children, their first stays).
CHILD_FIGURES: tuple[FigureSpec, ...] = (
    *(
        FigureSpec(
            "time_in_care",
            "time_in_care",
            group="placement_type",
            measure=Fixed(f"{stat}_months"),
            n="n",
            value=stat,
            ci_low=f"{stat}_ci_low",
            ci_high=f"{stat}_ci_high",
            linked=True,
        )
        for stat in ("median", "q25", "q75")
    ),
    FigureSpec(
        "median_time_by_cohort",
        "time_by_cohort",
        group="placement_type",
        measure="entry_cohort",
        n="n",
        value="median",
        ci_low="median_ci_low",
        ci_high="median_ci_high",
        linked=True,
    ),
    FigureSpec(
        "exits_within_12m",
        "exits",
        where=lambda f: f[f["horizon"] == 12],
        group="placement_type",
        measure="reason",
        n="events",
        value="cumulative_incidence",
        ci_low="ci_low",
        ci_high="ci_high",
        linked=True,
    ),
    FigureSpec(
        "reunified_12m_by_cohort",
        "exits_by_cohort",
        group="placement_type",
        measure="entry_cohort",
        n="n",
        value="cumulative_incidence",
        ci_low="ci_low",
        ci_high="ci_high",
        linked=True,
    ),
)

#: Foster growth and family-based shares per oblast, the entry-rate funnel, the 0-3 projection.
REGIONAL_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "foster_growth",
        partial(_regional, "growth"),
        group="oblast",
        measure=Fixed("growth_ratio"),
        n="count_end",
        value="growth",
        ci_low="ci_low",
        ci_high="ci_high",
    ),
    FigureSpec(
        "foster_growth",
        partial(_regional, "growth"),
        group="oblast",
        measure=Fixed("lagging"),
        n="count_end",
        value=lambda f: f["lagging"].astype(float),
    ),
    # each oblast's growth relative to the growth expected for its starting level
    FigureSpec(
        "foster_growth",
        _growth_model,
        group="oblast",
        measure=Fixed("relative_growth"),
        n="count_end",
        value="relative_growth",
        ci_low="relative_ci_low",
        ci_high="relative_ci_high",
    ),
    FigureSpec(
        "foster_growth",
        _growth_model,
        group="oblast",
        measure=Fixed("lagging_998"),
        n="count_end",
        value=lambda f: f["flag_998"].eq("lagging").astype(float),
    ),
    FigureSpec(
        "family_based_share",
        _share_rows,
        group="oblast",
        measure=Fixed("share"),
        n="total",
        value="share",
        ci_low="ci_low",
        ci_high="ci_high",
        by="oblast",
    ),
    *(
        FigureSpec(
            "entry_rate_funnel",
            partial(_regional, "rate_funnel"),
            where=_oblast_rows,
            group="oblast",
            measure=Fixed(f"outside_{level}"),
            n="count",
            value=lambda f, level=level: f[f"outside_{level}"].map(
                {"below": -1.0, "within": 0.0, "above": 1.0}
            ),
        )
        for level in ("95", "998")
    ),
    FigureSpec(
        "entry_rate_dispersion",
        _dispersion_rows,
        group=Fixed("all"),
        measure="measure",
        n="n",
        value="value",
    ),
    FigureSpec(
        "projection_0_3_residential",
        _projection_rows,
        group=Fixed("residential_0_3"),
        measure=Fixed("target_year"),
        n="n",
        value="value",
        ci_low="ci_low",
        ci_high="ci_high",
    ),
)

#: Published counts (instead of episodes): stocks at their dates, flows, sources, rates.
COUNT_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "in_care_at_date",
        _stock_rows,
        group="placement_type",
        measure="measure",
        n="in_care_end",
        value="in_care_end",
        by="placement_type",
    ),
    *(
        spec
        for column in ("entries", "exits")
        for spec in (
            FigureSpec(
                f"{column}_by_year",
                partial(_flow_rows, column, True),
                group="placement_type",
                measure="year",
                n=column,
                value=column,
                by="placement_type",
            ),
            FigureSpec(
                f"{column}_part_year",
                partial(_flow_rows, column, False),
                group="placement_type",
                measure="measure",
                n=column,
                value=column,
                by="placement_type",
            ),
        )
    ),
    FigureSpec(
        "count_sources",
        _source_rows,
        group=Fixed("all"),
        measure="measure",
        n="n",
        value="value",
    ),
    *(
        FigureSpec(
            table,
            partial(_rate_rows, kind),
            group="placement_type",
            measure="measure",
            n="count",
            value="rate",
            ci_low="rate_low",
            ci_high="rate_high",
        )
        for kind, table in (
            ("in_care_end", "in_care_per_100k"),
            ("entries", "entries_per_100k"),
            ("exits", "exits_per_100k"),
        )
    ),
)

#: Yearly count tables protected as one linked table over the country and the oblasts.
LINKED_COUNTS: tuple[str, ...] = linked_tables(EPISODE_COUNT_FIGURES)
#: Tables whose ``n`` counts children, protected with the yearly counts (same linked pattern).
LINKED_CHILDREN: tuple[str, ...] = linked_tables((*YOUNG_FIGURES, *CHILD_FIGURES))


# ----------------------------------------------------------------------------- publishing


def published_figures(
    analysis: PlacementAnalysis, data: PlacementData, min_cell: int = 5
) -> pd.DataFrame:
    """Every figure of the placement report in the ``published.csv`` layout, disclosure-controlled."""
    counts = EPISODE_COUNT_FIGURES if data.kind == "episodes" else COUNT_FIGURES
    specs = (*counts, *YOUNG_FIGURES, *MODEL_FIGURES, *CHILD_FIGURES, *REGIONAL_FIGURES)
    if data.kind != "episodes":
        return published_rows(specs, analysis, min_cell)
    linked = linked_pattern(data, min_cell)
    pattern = linked[linked["scope"] == data.scope].drop(columns="scope")
    return published_rows(specs, analysis, min_cell, pattern=pattern)


def linked_pattern(data: PlacementData, min_cell: int = 5) -> pd.DataFrame:
    """The batch-wide pattern of hidden cells (every scope), chosen once per data set.

    :func:`linked_year_counts` protected as one linked table, kept by
    :func:`research_lib.disclosure.pattern_cache.cached_pattern` under a key of
    the episodes, the population table, the date of the data, ``min_cell`` and
    the library's code: the batch's first report chooses it, the others read it.

    Returns
    -------
    DataFrame
        Columns ``scope, table, group, measure, hidden`` (no counts).
    """

    def choose() -> pd.DataFrame:
        cells = linked_year_counts(data)
        cells["hidden"] = protect_linked(cells, min_cell).to_numpy()
        return cells.loc[:, ["scope", "table", "group", "measure", "hidden"]]

    population = data.population if data.population is not None else "no population"
    key = pattern_key(data.load.valid, population, str(data.as_of), int(min_cell))
    return cached_pattern("placements", key, choose)


#: The yearly counts of every scope in the linked table: ``reentries_by_year`` even when all zero.
_LINKED_COUNT_FIGURES: tuple[FigureSpec, ...] = (
    *EPISODE_COUNT_FIGURES[:3],
    _count_spec("reentries_by_year", "reentries"),
)


def linked_year_counts(data: PlacementData, children: bool = True) -> pd.DataFrame:
    """The counts by placement type of the country and every oblast, from all episodes.

    The yearly counts (:data:`LINKED_COUNTS`) and, with ``children``, the tables
    whose ``n`` counts children (:data:`LINKED_CHILDREN`: first entries aged 0-3,
    time in care, exits at 12 months and the entry-cohort tables; ``n`` = the
    children of the scope's first stays, see :mod:`research_lib.disclosure.audit` on why
    these add up only approximately when a child moves between oblasts).

    Built from the whole file, whatever the scope of ``data``, so that a report run
    alone gets the pattern it gets in the batch. Columns ``study, scope, table,
    group, measure, n`` (measure = year), as :func:`research_lib.disclosure.linked.protect_linked`
    takes them.
    """
    frames = []
    window = observation_start(data.episodes)
    specs = (
        (*_LINKED_COUNT_FIGURES, *YOUNG_FIGURES, *CHILD_FIGURES)
        if children
        else _LINKED_COUNT_FIGURES
    )
    for scope in (NATIONAL, *load_oblasts().index):
        scoped = dataclasses.replace(data, scope=scope)
        tables = SimpleNamespace(yearly=yearly_counts(scoped))
        if children:
            try:
                tic, tic_cohort, exits, exits_cohort = spell_tables(scoped, window)
            except (InputError, ValueError, StatError):
                # no estimable stays in this scope (its own run fails the same way): its
                # cells stay unknown, and the national margins become bounds
                tic = tic_cohort = exits = exits_cohort = pd.DataFrame()
            tables.entries_0_3 = young_yearly(scoped, window)
            tables.time_in_care = tic
            tables.time_by_cohort = tic_cohort
            tables.exits = exits
            tables.exits_by_cohort = exits_cohort
        rows = build_figures(specs, tables)
        frames.append(
            pd.DataFrame(
                {
                    "study": "placements",
                    "scope": scope,
                    "table": rows["table"].astype(str),
                    "group": rows["group"].astype(str),
                    "measure": rows["measure"].astype(str),
                    "n": pd.to_numeric(rows["n"]).astype(int),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
