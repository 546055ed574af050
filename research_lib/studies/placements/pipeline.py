"""The placement study: did entries into institutions fall, where does foster care lag?

The notebook ``notebooks/placements_study.ipynb`` tells the story; this module
holds its steps so each is tested and none is re-implemented in a notebook:

1. :func:`prepare` — load episodes (or published counts) and the child population;
2. :func:`analyse` — yearly series, interrupted time series at the reform date,
   the UNICEF formal-care indicators per oblast, the regional comparison, time
   in care and exits, and the projection toward "no child aged 0-3 in
   residential care";
3. :func:`published_figures` — every figure the report shows, in the
   ``published.csv`` layout, passed through :mod:`research_lib.disclosure.suppression`.

Published tables (``table`` column):

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

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from research_lib.disclosure.suppression import figure_rows, to_published
from research_lib.errors import InputError
from research_lib.io.counts import load_counts
from research_lib.io.episodes import entry_age_band, load_episodes
from research_lib.io.loader import LoadResult
from research_lib.io.oblasts import NATIONAL, resolve_scope
from research_lib.io.population import load_population
from research_lib.stats.count_series import (
    count_oblasts,
    counts_as_read,
    source_summary,
    stock_measures,
    stock_totals,
    yearly_flows,
    yearly_stocks,
)
from research_lib.stats.demography import population_child_bands
from research_lib.stats.indicators import wilson_ci
from research_lib.stats.its import ITSResult, fit_its
from research_lib.stats.series import add_rates, episodes_to_series
from research_lib.stats.time_in_care import (
    exit_pathways,
    first_spells,
    join_spells,
    left_truncate,
    observation_start,
    time_in_care,
)

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
    time_by_cohort: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    #: Reunified within 12 months by placement type and 5-year entry cohort.
    exits_by_cohort: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    regional: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    projection: object | None = field(default=None, repr=False)
    reform_date: pd.Timestamp = pd.Timestamp("2016-01-01")
    periods_per_year: int = 12
    notes: dict[str, str] = field(default_factory=dict)
    #: Published counts only: each year's stock (with its real date) and flows (complete or partial).
    stocks: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    flows: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    #: Published counts with a population: rates per 100,000 children.
    count_rates: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    #: Published counts only: every row of the scope as read (all sources, disagreements kept).
    count_rows: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


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
        _check_count_scope(load, scope)
        default_as_of = (
            pd.Timestamp(load.valid["reference_date"].max())
            if len(load.valid)
            else pd.Timestamp.today()
        )
    pop = (
        population_child_bands(load_population(population).valid)
        if population is not None
        else None
    )
    return PlacementData(
        load=load,
        kind=kind,
        scope=scope,
        as_of=pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(default_as_of),
        population=pop,
    )


def _check_count_scope(load: LoadResult, scope: str) -> None:
    """A clear error when the counts file has no rows for the oblast asked for."""
    from research_lib.io.oblasts import oblast_name

    have = count_oblasts(load)
    if scope in have or (scope == NATIONAL and have):
        return
    names = ", ".join(
        "the whole country (all)" if code == NATIONAL else f"{oblast_name(code, 'en')} ({code})"
        for code in have
    )
    raise InputError(
        f"the counts file has no rows for {oblast_name(scope, 'en')} ({scope}). "
        f"It has figures for: {names or 'nothing (no valid rows)'}. "
        "Run it with one of these as oblast, or give a file with rows for this oblast."
    )


def _yearly(data: PlacementData) -> pd.DataFrame:
    """Entries, exits and children in care at year end, by placement type, in scope.

    Episodes: ``entries`` are first entries into care away from the family
    (:func:`research_lib.stats.indicators.entry_kinds`), with ``reentries`` and
    ``transfers`` (moves between placements within care) counted apart;
    ``episode_starts`` keeps every episode start.
    """
    if data.kind == "episodes":
        series = episodes_to_series(data.scoped, freq="YS", by=("placement_type",), end=data.as_of)
        series = _with_entry_kinds(series, data.scoped, "YS", data.as_of, _scoped_kinds(data))
    else:
        return _counts_yearly(_count_rows(data.scoped))
    series["year"] = pd.to_datetime(series["period"]).dt.year
    return series


#: Columns of a series holding the episode starts of each kind (entry_kinds).
_KIND_COLUMNS = {"first_entry": "entries", "re_entry": "reentries", "transfer": "transfers"}


def _scoped_kinds(data: PlacementData) -> pd.Series:
    """What each episode of the scope starts, judged on the child's whole history.

    Classified over every oblast, so a move to a service in another oblast is a
    transfer there, not a first entry.
    """
    from research_lib.stats.indicators import entry_kinds

    episodes = data.load.valid
    kinds = entry_kinds(episodes)
    return kinds if data.scope == NATIONAL else kinds[(episodes["oblast"] == data.scope).to_numpy()]


def _entry_episodes(
    episodes: pd.DataFrame, kind: str = "first_entry", kinds: pd.Series | None = None
) -> pd.DataFrame:
    """The episodes whose start is of ``kind`` (default: a child's first entry into care).

    ``kinds``: :func:`research_lib.stats.indicators.entry_kinds` of these episodes, when
    already judged on a wider history (:func:`_scoped_kinds`).
    """
    from research_lib.stats.indicators import entry_kinds

    kinds = entry_kinds(episodes) if kinds is None else kinds
    return episodes[(kinds == kind).to_numpy()]


def _with_entry_kinds(
    series: pd.DataFrame,
    episodes: pd.DataFrame,
    freq: str,
    end: pd.Timestamp,
    kinds: pd.Series | None = None,
) -> pd.DataFrame:
    """``series`` with ``entries`` replaced by first entries, and reentries / transfers added."""
    from research_lib.stats.indicators import entry_kinds

    kinds = entry_kinds(episodes) if kinds is None else kinds
    out = series.rename(columns={"entries": "episode_starts"})
    keys = ["period", "placement_type"]
    first = pd.Timestamp(out["period"].min()) if len(out) else None
    for kind, column in _KIND_COLUMNS.items():
        part = episodes[(kinds == kind).to_numpy()]
        counts = (
            episodes_to_series(part, freq=freq, by=("placement_type",), start=first, end=end)
            if len(part)
            else pd.DataFrame(columns=[*keys, "entries"])
        )
        counts = counts[[*keys, "entries"]].rename(columns={"entries": column})
        counts["placement_type"] = counts["placement_type"].astype(str)
        out = out.assign(placement_type=out["placement_type"].astype(str)).merge(
            counts, on=keys, how="left"
        )
        out[column] = pd.to_numeric(out[column], errors="coerce").fillna(0).astype("int64")
    return out


def _count_rows(counts: pd.DataFrame) -> pd.DataFrame:
    """Published counts of all ages (age band 0-17 or none given)."""
    if "age_band" in counts:
        band = counts["age_band"].astype("string")
        counts = counts[band.isna() | (band == "0-17")]
    return counts.drop(columns=["age_band"], errors="ignore")


def _counts_yearly(counts: pd.DataFrame) -> pd.DataFrame:
    """Stocks at the date closest to each year end and complete yearly flows, by placement type.

    One row per year and placement type: ``in_care_end`` with its ``reference_date``,
    ``entries`` and ``exits`` only for years their periods cover (else missing).
    """
    keys = ["year", "placement_type"]
    stocks = yearly_stocks(counts)[[*keys, "in_care_end", "reference_date"]]
    frames = [stocks]
    for column in ("entries", "exits"):
        flows = yearly_flows(counts, column)
        frames.append(flows.loc[flows["complete"].astype(bool), [*keys, column]])
    yearly = frames[0]
    for frame in frames[1:]:
        yearly = yearly.merge(frame, on=keys, how="outer")
    for column in ("entries", "exits", "in_care_end"):
        yearly[column] = yearly[column].astype("Int64")
    yearly["year"] = yearly["year"].astype(int)
    yearly["period"] = pd.to_datetime(yearly["year"].astype(str) + "-01-01")
    return yearly.sort_values(keys, kind="stable").reset_index(drop=True)


def _monthly_population(
    data: PlacementData, periods: pd.Series, band: str = "0-17"
) -> pd.Series | None:
    """Children of ``band`` in scope for each month's year (the ITS offset).

    0-17 is the given figure or the sum of 0-3, 4-6 and 7-17; the country the
    given figure or the sum of the 28 oblasts (:func:`research_lib.stats.indicators.child_population`).
    None without a population or when a year of the series has no figure.
    """
    if data.population is None:
        return None
    from research_lib.stats.indicators import child_population

    years = pd.to_datetime(periods).dt.year
    by_year = child_population(data.population, sorted(years.unique()), data.scope, band)
    values = years.map(by_year)
    return None if values.isna().any() else values.astype(float)


def its_frame(
    series: pd.DataFrame,
    reform_date: pd.Timestamp,
    population: pd.Series | None = None,
    periods_per_year: int = 12,
) -> pd.DataFrame:
    """A monthly (or quarterly) series laid out for :func:`research_lib.stats.its.fit_its`.

    Columns ``period, entries, time`` (1…T), ``intervention`` (0 before the
    reform period, 1 from it), ``season`` (month 1-12, or quarter 1-4, for the
    Fourier terms) and, when given, ``population`` (the log offset).
    """
    frame = series[["period", "entries"]].sort_values("period").reset_index(drop=True)
    frame["time"] = np.arange(1, len(frame) + 1)
    frame["intervention"] = (pd.to_datetime(frame["period"]) >= reform_date).astype(int)
    dates = pd.to_datetime(frame["period"])
    frame["season"] = dates.dt.month if periods_per_year == 12 else dates.dt.quarter
    if population is not None:
        frame["population"] = population.to_numpy()
    return frame


def _fit_entries_its(
    monthly: pd.DataFrame,
    data: PlacementData,
    reform: pd.Timestamp,
    periods_per_year: int,
    band: str = "0-17",
) -> tuple[ITSResult | None, pd.DataFrame, str]:
    population = _monthly_population(data, monthly["period"], band)
    frame = its_frame(monthly, reform, population, periods_per_year)
    offset = "population" if "population" in frame else None
    try:
        result = fit_its(
            frame,
            "entries",
            "time",
            "intervention",
            offset=offset,
            family="quasipoisson",
            season="season",
            harmonics=2 if periods_per_year == 12 else 1,
            period=periods_per_year,
            slope_change=True,
        )
    except (InputError, ValueError, np.linalg.LinAlgError) as err:
        return None, frame, f"{err}"
    return result, frame, ""


#: Fewest oblasts with an ITS for the oblast estimates to be pooled.
MIN_POOLED_OBLASTS = 10


def _pooled_its(
    data: PlacementData, reform: pd.Timestamp, frequency: str, per_year: int, end: pd.Timestamp
) -> pd.DataFrame | None:
    """The level change of entries into institutions in every oblast, partially pooled.

    One ITS per oblast (the same model as the report's), then a normal
    hierarchical model of the log level changes (:func:`research_lib.stats.its.pool_its`).
    None with fewer than :data:`MIN_POOLED_OBLASTS` fitted oblasts.
    """
    import dataclasses

    from research_lib.stats.its import pool_its

    episodes = data.episodes
    entering = _entry_episodes(episodes)
    entering = entering[entering["placement_type"].astype(str) == "institution"]
    if entering.empty:
        return None
    window = observation_start(episodes)
    since = episodes["start_date"].min() if window is None else _series_start(window, frequency)
    monthly = episodes_to_series(entering, freq=frequency, by=("oblast",), start=since, end=end)
    results = {}
    for code, series in monthly.groupby(monthly["oblast"].astype(str), sort=True):
        oblast = dataclasses.replace(data, scope=code)
        result, _, _ = _fit_entries_its(series, oblast, reform, per_year)
        if result is not None:
            results[code] = result
    if data.scope not in results or len(results) < MIN_POOLED_OBLASTS:
        return None
    return pool_its(results, "level_change")


def _series_start(window: pd.Timestamp, frequency: str) -> pd.Timestamp:
    """The first month, quarter or year (``MS``, ``QS``, ``YS``) wholly inside an extract.

    An extract that starts at ``window`` holds every episode begun on or after it:
    counts of entries are complete from the first period that starts then or later.
    """
    period = pd.Period(pd.Timestamp(window), freq={"MS": "M", "QS": "Q", "YS": "Y"}[frequency])
    first = period.start_time
    return first if first == pd.Timestamp(window).normalize() else (period + 1).start_time


def _complete_periods(as_of: pd.Timestamp, periods_per_year: int) -> pd.Timestamp:
    """The last day of the last complete month (or quarter) on or before ``as_of``."""
    offset = pd.offsets.MonthEnd if periods_per_year == 12 else pd.offsets.QuarterEnd
    period_end = as_of + offset(0)
    return period_end if as_of == period_end else as_of - offset(1)


#: Series frequencies the time series accepts, with their periods per year.
FREQUENCIES: dict[str, int] = {"MS": 12, "QS": 4}


def _spell_tables(
    data: PlacementData, window: pd.Timestamp | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Time in care, by cohort, exits at 12 months, reunified by cohort: the scope's first stays."""
    # a move between two services of the same type does not end the stay in that care
    spells = join_spells(data.scoped)
    if window is not None:  # an extract begun mid-history: delayed entry
        spells = left_truncate(spells, window)
    spells = first_spells(spells)  # each child's first stay in each type: n = children
    tic = time_in_care(spells, by="placement_type", as_of=data.as_of)
    tic_cohort = time_in_care(spells, by="placement_type", as_of=data.as_of, cohort_freq=5)
    exits = exit_pathways(spells, by="placement_type", as_of=data.as_of, horizons=(12,))
    exits_cohort = exit_pathways(
        spells,
        by="placement_type",
        as_of=data.as_of,
        horizons=(12,),
        reasons=("reunified",),
        cohort_freq=5,
    )
    return tic, tic_cohort, exits, exits_cohort


def analyse(
    data: PlacementData,
    reform_date: str | pd.Timestamp = "2016-01-01",
    frequency: str = "MS",
    projection_horizon: int = 2040,
) -> PlacementAnalysis:
    """All analyses of the placement study for the scope of ``data``."""
    reform = pd.Timestamp(reform_date)
    if frequency not in FREQUENCIES:
        raise InputError(
            f"frequency {frequency!r} is not supported; use MS (monthly) or QS (quarterly)."
        )
    per_year = FREQUENCIES[frequency]
    notes: dict[str, str] = {}
    yearly = _yearly(data)
    window = observation_start(data.episodes) if data.kind == "episodes" else None
    if window is not None:  # an extract begun mid-history: counts only from when it is complete
        notes["observed_from"] = window.strftime("%Y-%m-%d")
        yearly = yearly[yearly["year"] >= _series_start(window, "YS").year].reset_index(drop=True)
    its: dict[str, ITSResult] = {}
    its_data: dict[str, pd.DataFrame] = {}
    entries_0_3 = pd.DataFrame(columns=["year", "entries"])
    tic = pd.DataFrame()
    tic_cohort = pd.DataFrame()
    exits_cohort = pd.DataFrame()
    exits = pd.DataFrame()
    indicators = pd.DataFrame()
    if data.kind == "episodes":
        scoped = data.scoped
        end = _complete_periods(data.as_of, per_year)
        since = scoped["start_date"].min() if window is None else _series_start(window, frequency)
        # entries = children entering care away from the family for the first time
        entering = _entry_episodes(scoped, kinds=_scoped_kinds(data))
        monthly = episodes_to_series(
            entering,
            freq=frequency,
            by=("placement_type",),
            start=since,
            end=end,
        )
        inst = monthly[monthly["placement_type"].astype(str) == "institution"]
        result, frame, why = _fit_entries_its(inst, data, reform, per_year)
        its_data["institution"] = frame
        pooled = None
        if result is not None:
            its["institution"] = result
            if data.scope != NATIONAL:  # an oblast borrows strength from the others
                pooled = _pooled_its(data, reform, frequency, per_year, end)
        else:
            notes["its_institution"] = why
        young = entering.assign(age_band_at_entry=entry_age_band(entering))
        young = young[
            (young["age_band_at_entry"].astype(str) == "0-3")
            & young["placement_type"].astype(str).isin(RESIDENTIAL)
        ]
        monthly_young = episodes_to_series(young, freq=frequency, by=None, start=since, end=end)
        result, frame, why = _fit_entries_its(monthly_young, data, reform, per_year, band="0-3")
        its_data["residential_0_3"] = frame
        if result is not None:
            its["residential_0_3"] = result
        else:
            notes["its_residential_0_3"] = why
        first_year = since if window is None else _series_start(window, "YS")
        yearly_young = episodes_to_series(
            young, freq="YS", by=None, start=first_year, end=data.as_of
        )
        entries_0_3 = yearly_young.assign(year=pd.to_datetime(yearly_young["period"]).dt.year)[
            ["year", "entries"]
        ]
        tic, tic_cohort, exits, exits_cohort = _spell_tables(data, window)
        if data.population is not None:
            from research_lib.stats.indicators import care_indicators

            indicators = care_indicators(data.episodes, data.population)
        else:
            notes["indicators"] = "no population"
        regional = _regional(data, reform)
        if pooled is not None:
            regional["its_pooled"] = pooled
        if len(indicators):
            regional["rate_funnel"] = _rate_funnel(indicators)
        stock = young_residential_in_care(
            scoped, range(pd.Timestamp(first_year).year, data.as_of.year + 1)
        )
        projection = _projection(stock, data.as_of.year, projection_horizon)
    else:
        notes["episodes"] = "counts only"
        projection = None
        counts = _count_rows(data.scoped)
        stocks = yearly_stocks(counts)
        flows = {c: yearly_flows(counts, c) for c in ("entries", "exits") if c in counts}
        result, frame, why = _counts_its(counts, data, reform, frequency, per_year)
        if result is not None:
            its["institution"], its_data["institution"] = result, frame
        elif why:
            notes["its_institution"] = why
        count_rates = _counts_rates(stocks, flows, data)
        if data.population is None:
            notes["indicators"] = "no population"
        regional = _counts_regional(data, reform)
    return PlacementAnalysis(
        yearly=yearly,
        entries_0_3=entries_0_3,
        its=its,
        its_data=its_data,
        indicators=indicators,
        time_in_care=tic,
        time_by_cohort=tic_cohort,
        exits_by_cohort=exits_cohort,
        exits=exits,
        regional=regional,
        projection=projection,
        reform_date=reform,
        periods_per_year=per_year,
        notes=notes,
        **(
            {"stocks": stocks, "flows": flows, "count_rates": count_rates, "count_rows": counts}
            if data.kind == "counts"
            else {}
        ),
    )


#: Fewest periods (in years' worth) before and after the reform for an ITS on counts.
MIN_ITS_YEARS: tuple[int, int] = (2, 1)


def _counts_its(
    counts: pd.DataFrame,
    data: PlacementData,
    reform: pd.Timestamp,
    frequency: str,
    per_year: int,
) -> tuple[ITSResult | None, pd.DataFrame, str]:
    """The ITS on monthly (or quarterly) published entries into institutions, when there are enough."""
    if "entries" not in counts:
        return None, pd.DataFrame(), "no entries in the counts"
    rows = counts[
        (counts["placement_type"].astype(str) == "institution")
        & (counts["period_kind"] == frequency)
        & counts["entries"].notna()
    ]
    if "source" in rows:
        rows = rows.drop_duplicates(["period"], keep="first")
    series = rows[["period", "entries"]].sort_values("period").reset_index(drop=True)
    if series.empty:
        return None, series, "not enough periods"
    before = int((series["period"] < reform).sum())
    after = len(series) - before
    expected = pd.date_range(series["period"].min(), series["period"].max(), freq=frequency)
    if (
        len(expected) != len(series)
        or before < MIN_ITS_YEARS[0] * per_year
        or after < MIN_ITS_YEARS[1] * per_year
    ):
        return None, series, "not enough periods"
    series["entries"] = series["entries"].astype(int)
    return _fit_entries_its(series, data, reform, per_year)


def _counts_rates(
    stocks: pd.DataFrame, flows: dict[str, pd.DataFrame], data: PlacementData
) -> pd.DataFrame:
    """Rates per 100,000 children 0-17 for stocks (at their date's year) and complete yearly flows."""
    if data.population is None:
        return pd.DataFrame()
    pieces = []
    if len(stocks):
        pieces.append(
            stocks.assign(
                measure_kind="in_care_end",
                count=stocks["in_care_end"],
                measure=stock_measures(stocks),
            )
        )
    for column, frame in flows.items():
        complete = frame[frame["complete"].astype(bool)]
        if len(complete):
            pieces.append(
                complete.assign(
                    measure_kind=column,
                    count=complete[column],
                    measure=complete["year"].astype(str),
                )
            )
    if not pieces:
        return pd.DataFrame()
    table = pd.concat(pieces, ignore_index=True)
    table = table[["year", "oblast", "placement_type", "measure_kind", "measure", "count"]]
    series = table.assign(
        period=pd.to_datetime(table["year"].astype(str) + "-01-01"),
        entries=table["count"].astype(float),
    )[["period", "oblast", "entries"]]
    rated = add_rates(series, data.population)
    table["population"] = rated["population"].to_numpy()
    table["rate"] = rated["entries_rate"].to_numpy()
    table["rate_low"] = rated["entries_rate_low"].to_numpy()
    table["rate_high"] = rated["entries_rate_high"].to_numpy()
    return table.dropna(subset=["rate"]).reset_index(drop=True)


def _counts_regional(data: PlacementData, reform: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Foster growth and family-based share per oblast from published stocks, when oblast rows exist.

    Only years in which an oblast has every placement type of the file at one date
    from one source enter (a share of figures from different dates would mix them).
    """
    from research_lib.stats.funnels import family_based_share, foster_growth, funnel_proportions

    counts = _count_rows(data.load.valid)
    if not (counts["oblast"].astype(str) != NATIONAL).any():
        return {}
    stocks = yearly_stocks(counts)
    if stocks.empty:
        return {}
    complete = stock_totals(stocks, types=FORMAL_CARE)[["year", "oblast"]]
    stocks = stocks.merge(complete, on=["year", "oblast"], how="inner")
    if stocks.empty:
        return {}
    series = stocks.assign(period=pd.to_datetime(stocks["year"].astype(str) + "-01-01"))
    out: dict[str, pd.DataFrame] = {}
    last = int(series["year"].max())
    with contextlib.suppress(InputError, ValueError, KeyError):
        out["funnel"] = funnel_proportions(family_based_share(series, last))
    with contextlib.suppress(InputError, ValueError, KeyError):
        out["growth"] = foster_growth(series, reform.year - 1, last, value="in_care_end")
    return out


def young_residential_in_care(episodes: pd.DataFrame, years) -> pd.DataFrame:
    """Children aged 0-3 on 31 December in residential care (ЦНСТ or institution), per year.

    Age on the day is taken from ``birth_date`` where known, else from
    ``age_at_start`` plus the time since the start.
    """
    residential = episodes[episodes["placement_type"].astype(str).isin(RESIDENTIAL)]
    start = residential["start_date"]
    end = residential["end_date"]
    rows = []
    for year in years:
        day = pd.Timestamp(year=year, month=12, day=31)
        open_then = (start <= day) & (end.isna() | (end > day))
        sub = residential[open_then]
        elapsed = (day - sub["start_date"]).dt.days / 365.25
        age = ((day - sub["birth_date"]).dt.days / 365.25).where(
            sub["birth_date"].notna(), sub["age_at_start"] + elapsed
        )
        rows.append({"year": year, "in_care": int((age < 4).sum())})
    return pd.DataFrame(rows)


def _regional(data: PlacementData, reform: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Foster growth since the year before the reform, and the family-based share, per oblast."""
    from research_lib.stats.funnels import family_based_share, foster_growth, funnel_proportions

    series = episodes_to_series(
        data.episodes, freq="YS", by=("oblast", "placement_type"), end=data.as_of
    )
    last = data.as_of.year
    growth = foster_growth(series, reform.year - 1, last, value="in_care_end")
    if data.population is not None:  # per child, with the starting rate as the baseline
        with_rates = foster_growth(
            series, reform.year - 1, last, value="in_care_end", population=data.population
        )
        if with_rates["relative_growth"].notna().any():
            growth = with_rates
    funnel = funnel_proportions(family_based_share(series, last))
    return {"growth": growth, "funnel": funnel}


def _rate_funnel(indicators: pd.DataFrame) -> pd.DataFrame:
    """Entries per 100,000 children per oblast in the latest year against the national rate."""
    from research_lib.stats.funnels import funnel_table

    latest = indicators[
        (indicators["year"] == indicators["year"].max())
        & (indicators["indicator"] == "entries_per_100k")
    ]
    rates = latest.rename(columns={"numerator": "count", "denominator": "population"})[
        ["oblast", "count", "population"]
    ]
    rates = rates.dropna(subset=["population"])
    return (
        funnel_table(rates, count="count", population="population")
        if len(rates)
        else pd.DataFrame()
    )


def _projection(stock: pd.DataFrame, last_year: int, horizon: int):
    """Extrapolate the last seven years' trend of 0-3-year-olds in residential care to zero."""
    from research_lib.stats.projection import project_to_target

    window = stock[stock["year"] > last_year - 7]
    if window["in_care"].sum() == 0:
        return None
    try:
        return project_to_target(
            stock,
            "year",
            "in_care",
            target=0,
            horizon_end=horizon,
            family="quasipoisson",
            fit_from=last_year - 6,
        )
    except (InputError, ValueError):
        return None


def _count_figures(table: str, yearly: pd.DataFrame, column: str) -> pd.DataFrame:
    """Counts by placement type and year, with the year's total as group ``all``."""
    rows = yearly.dropna(subset=[column])
    total = rows.groupby("year", as_index=False)[column].sum()
    parts = [
        figure_rows(
            table,
            rows["placement_type"].astype(str),
            rows["year"].astype(str),
            rows[column],
            rows[column],
            by="placement_type",
        ),
        figure_rows(
            table,
            "all",
            total["year"].astype(str),
            total[column],
            total[column],
            by="placement_type",
        ),
    ]
    return pd.concat(parts, ignore_index=True)


def _its_figures(
    table: str, group: str, result: ITSResult, frame: pd.DataFrame, periods_per_year: int
) -> pd.DataFrame:
    """Level change, and trend / slope change per year (monthly rate ratios to the 12th power)."""
    t = result.table
    n = int(frame["entries"].sum())
    rows = [("level_change", 1)] + [
        (name, periods_per_year) for name in ("slope_change", "trend") if name in t.index
    ]
    measures, values, lows, highs = [], [], [], []
    for term, power in rows:
        measures.append(term if power == 1 else f"{term}_per_year")
        values.append(t.loc[term, "estimate"] ** power)
        lows.append(t.loc[term, "ci_low"] ** power)
        highs.append(t.loc[term, "ci_high"] ** power)
    end = result.change_at_end()
    measures.append("change_at_end")
    values.append(end["estimate"])
    lows.append(end["ci_low"])
    highs.append(end["ci_high"])
    return figure_rows(table, group, measures, n, values, lows, highs)


def _counts_figures(analysis: PlacementAnalysis) -> list[pd.DataFrame]:
    """Published counts as figures: stocks at their real dates, complete and partial flows, rates.

    ``in_care_at_date``: measure = the stock's reference date (ISO), one per year and
    placement type; ``all`` only where every type has a figure of that date and source.
    ``<flow>_by_year``: complete years; ``<flow>_part_year``: measure ``"2019 (07-09)"``,
    the months the published periods cover.
    """
    parts = []
    stocks = analysis.stocks
    if len(stocks):
        totals = stock_totals(stocks, types=FORMAL_CARE)
        for frame in (stocks, totals):
            if len(frame):
                parts.append(
                    figure_rows(
                        "in_care_at_date",
                        frame["placement_type"].astype(str),
                        stock_measures(frame),
                        frame["in_care_end"],
                        frame["in_care_end"],
                        by="placement_type",
                    )
                )
    for column, flows in analysis.flows.items():
        if flows.empty:
            continue
        complete = flows["complete"].astype(bool)
        whole = flows[complete]
        if len(whole):
            totals = stock_totals(whole.assign(reference_date="year"), column, FORMAL_CARE)
            for frame in (whole, totals):
                if len(frame):
                    parts.append(
                        figure_rows(
                            f"{column}_by_year",
                            frame["placement_type"].astype(str),
                            frame["year"].astype(str),
                            frame[column],
                            frame[column],
                            by="placement_type",
                        )
                    )
        partial = flows[~complete]
        if len(partial):
            parts.append(
                figure_rows(
                    f"{column}_part_year",
                    partial["placement_type"].astype(str),
                    partial["year"].astype(str) + " (" + partial["covered"] + ")",
                    partial[column],
                    partial[column],
                    by="placement_type",
                )
            )
    if len(analysis.count_rows) and "source" in analysis.count_rows:
        summary = source_summary(analysis.count_rows)
        parts.append(
            figure_rows(
                "count_sources",
                "all",
                ["sources", "disagreements"],
                summary["figures"],
                [summary["sources"], summary["disagreements"]],
            )
        )
    rates = analysis.count_rates
    if len(rates):
        names = {"in_care_end": "in_care_per_100k", "entries": "entries_per_100k"}
        names["exits"] = "exits_per_100k"
        for kind, sub in rates.groupby("measure_kind", sort=False):
            parts.append(
                figure_rows(
                    names[str(kind)],
                    sub["placement_type"].astype(str),
                    sub["measure"],
                    sub["count"],
                    sub["rate"],
                    sub["rate_low"],
                    sub["rate_high"],
                )
            )
    return parts


_INDICATOR_NAMES = {"exits_residential_to_family": "exits_residential_to_family_share"}


def _young_figures(analysis) -> list[pd.DataFrame]:
    """First entries of children aged 0-3 into residential care, by year."""
    parts = []
    young = analysis.entries_0_3
    if len(young):
        parts.append(
            figure_rows(
                "entries_0_3_residential_by_year",
                "residential",
                young["year"].astype(str),
                young["entries"],
                young["entries"],
            )
        )
    return parts


def _child_figures(analysis) -> list[pd.DataFrame]:
    """Time in care, exits and the entry-cohort tables (n = children, first stays)."""
    parts = []
    tic = analysis.time_in_care
    if len(tic):
        for stat in ("median", "q25", "q75"):
            parts.append(
                figure_rows(
                    "time_in_care",
                    tic["placement_type"].astype(str),
                    f"{stat}_months",
                    tic["n"],
                    tic[stat],
                    tic[f"{stat}_ci_low"],
                    tic[f"{stat}_ci_high"],
                )
            )
    cohorts = analysis.time_by_cohort
    if len(cohorts):
        parts.append(
            figure_rows(
                "median_time_by_cohort",
                cohorts["placement_type"].astype(str),
                cohorts["entry_cohort"].astype(str),
                cohorts["n"],
                cohorts["median"],
                cohorts["median_ci_low"],
                cohorts["median_ci_high"],
            )
        )
    exits = analysis.exits
    if len(exits):
        at12 = exits[exits["horizon"] == 12]
        parts.append(
            figure_rows(
                "exits_within_12m",
                at12["placement_type"].astype(str),
                at12["reason"].astype(str),
                at12["events"],
                at12["cumulative_incidence"],
                at12["ci_low"],
                at12["ci_high"],
            )
        )
    by_cohort = analysis.exits_by_cohort
    if len(by_cohort):
        parts.append(
            figure_rows(
                "reunified_12m_by_cohort",
                by_cohort["placement_type"].astype(str),
                by_cohort["entry_cohort"].astype(str),
                by_cohort["n"],
                by_cohort["cumulative_incidence"],
                by_cohort["ci_low"],
                by_cohort["ci_high"],
            )
        )
    return parts


def published_figures(
    analysis: PlacementAnalysis, data: PlacementData, min_cell: int = 5
) -> pd.DataFrame:
    """Every figure of the placement report in the ``published.csv`` layout, disclosure-controlled."""
    if data.kind == "counts":
        parts = _counts_figures(analysis)
    else:
        formal = analysis.yearly[analysis.yearly["placement_type"].astype(str).isin(FORMAL_CARE)]
        parts = [
            # entries: first entries into care away from the family; transfers apart
            _count_figures("entries_by_year", formal, "entries"),
            _count_figures("transfers_by_year", formal, "transfers"),
            _count_figures("in_care_by_year", analysis.yearly, "in_care_end"),
        ]
        if "reentries" in formal and formal["reentries"].sum() > 0:
            parts.append(_count_figures("reentries_by_year", formal, "reentries"))
    parts += _young_figures(analysis)
    for key, table in (
        ("institution", "its_institution_entries"),
        ("residential_0_3", "its_residential_entries_0_3"),
    ):
        if key in analysis.its:
            parts.append(
                _its_figures(
                    table, key, analysis.its[key], analysis.its_data[key], analysis.periods_per_year
                )
            )
    pooled = analysis.regional.get("its_pooled")
    if pooled is not None and data.scope in pooled.index and "institution" in analysis.its:
        row = pooled.loc[data.scope]
        parts.append(
            figure_rows(
                "its_institution_entries",
                "institution",
                ["level_change_pooled"],
                int(analysis.its_data["institution"]["entries"].sum()),
                [row["pooled_rr"]],
                [row["pooled_rr_low"]],
                [row["pooled_rr_high"]],
            )
        )
    ind = analysis.indicators
    if len(ind):
        latest = ind[ind["year"] == ind["year"].max()]
        if "age_band" in latest:
            latest = latest[latest["age_band"].isna() | (latest["age_band"].astype(str) == "0-17")]
        parts.append(
            figure_rows(
                "indicators_latest",
                latest["oblast"].astype(str),
                latest["indicator"].replace(_INDICATOR_NAMES),
                latest["numerator"],
                latest["value"],
                latest["ci_low"],
                latest["ci_high"],
            )
        )
    parts += _child_figures(analysis)
    parts += _regional_figures(analysis)
    figures = pd.concat([p for p in parts if len(p)], ignore_index=True)
    for column in ("value", "ci_low", "ci_high"):  # 6 significant digits: stable across machines
        figures[column] = [float(f"{v:.6g}") if pd.notna(v) else np.nan for v in figures[column]]
    if data.kind == "episodes":
        return _linked_published(figures, data, min_cell)
    return to_published(figures, min_cell)


#: Yearly count tables protected as one linked table over the country and the oblasts.
_LINKED_COUNTS = ("entries_by_year", "transfers_by_year", "in_care_by_year", "reentries_by_year")
#: Tables whose ``n`` counts children, protected with the yearly counts (same linked pattern).
_LINKED_CHILDREN = (
    "entries_0_3_residential_by_year",
    "time_in_care",
    "median_time_by_cohort",
    "exits_within_12m",
    "reunified_12m_by_cohort",
)


def _young_yearly(data: PlacementData, window: pd.Timestamp | None) -> pd.DataFrame:
    """First entries of children aged 0-3 into residential care per year (as :func:`analyse`)."""
    scoped = data.scoped
    entering = _entry_episodes(scoped, kinds=_scoped_kinds(data))
    young = entering[
        (entry_age_band(entering).astype(str) == "0-3").to_numpy()
        & entering["placement_type"].astype(str).isin(RESIDENTIAL).to_numpy()
    ]
    first_year = scoped["start_date"].min() if window is None else _series_start(window, "YS")
    yearly = episodes_to_series(young, freq="YS", by=None, start=first_year, end=data.as_of)
    return yearly.assign(year=pd.to_datetime(yearly["period"]).dt.year)[["year", "entries"]]


def linked_year_counts(data: PlacementData, children: bool = True) -> pd.DataFrame:
    """The counts by placement type of the country and every oblast, from all episodes.

    The yearly counts (:data:`_LINKED_COUNTS`) and, with ``children``, the tables
    whose ``n`` counts children (:data:`_LINKED_CHILDREN`: first entries aged 0-3,
    time in care, exits at 12 months and the entry-cohort tables; ``n`` = the
    children of the scope's first stays, see :mod:`research_lib.disclosure.audit` on why
    these add up only approximately when a child moves between oblasts).

    Built from the whole file, whatever the scope of ``data``, so that a report run
    alone gets the pattern it gets in the batch. Columns ``study, scope, table,
    group, measure, n`` (measure = year), as :func:`research_lib.disclosure.suppression.protect_linked`
    takes them.
    """
    from dataclasses import replace

    from lifelines.exceptions import StatError

    from research_lib.io.oblasts import load_oblasts

    frames = []
    window = observation_start(data.episodes)
    for scope in (NATIONAL, *load_oblasts().index):
        yearly = _yearly(replace(data, scope=scope))
        formal = yearly[yearly["placement_type"].astype(str).isin(FORMAL_CARE)]
        parts = [
            _count_figures("entries_by_year", formal, "entries"),
            _count_figures("transfers_by_year", formal, "transfers"),
            _count_figures("in_care_by_year", yearly, "in_care_end"),
        ]
        if "reentries" in formal:
            parts.append(_count_figures("reentries_by_year", formal, "reentries"))
        if children:
            scoped = replace(data, scope=scope)
            try:
                tic, tic_cohort, exits, exits_cohort = _spell_tables(scoped, window)
            except (InputError, ValueError, StatError):
                # no estimable stays in this scope (its own run fails the same way): its
                # cells stay unknown, and the national margins become bounds
                tic = tic_cohort = exits = exits_cohort = pd.DataFrame()
            tables = SimpleNamespace(
                entries_0_3=_young_yearly(scoped, window),
                time_in_care=tic,
                time_by_cohort=tic_cohort,
                exits=exits,
                exits_by_cohort=exits_cohort,
            )
            parts += _young_figures(tables) + _child_figures(tables)
        rows = pd.concat([p for p in parts if len(p)], ignore_index=True)
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


def _linked_published(figures: pd.DataFrame, data: PlacementData, min_cell: int) -> pd.DataFrame:
    """The yearly counts take this scope's part of the batch-wide pattern; the rest as before."""
    from research_lib.disclosure.suppression import (
        PUBLISHED_COLUMNS,
        apply_pattern,
        check_published,
        protect_linked,
    )

    cells = linked_year_counts(data)
    cells["hidden"] = protect_linked(cells, min_cell).to_numpy()
    pattern = cells[cells["scope"] == data.scope].loc[:, ["table", "group", "measure", "hidden"]]
    governed = figures["table"].isin((*_LINKED_COUNTS, *_LINKED_CHILDREN))
    out = pd.concat(
        [
            apply_pattern(figures[governed], pattern, min_cell),
            to_published(figures[~governed], min_cell),
        ]
    )
    out = out.loc[:, list(PUBLISHED_COLUMNS)].sort_index(kind="stable").reset_index(drop=True)
    check_published(out, min_cell)
    return out


def _regional_figures(analysis: PlacementAnalysis) -> list[pd.DataFrame]:
    """Foster growth and family-based shares per oblast, and the 0-3 projection, as figures."""
    parts = []
    growth = analysis.regional.get("growth")
    if growth is not None and len(growth):
        parts.append(
            figure_rows(
                "foster_growth",
                growth["oblast"],
                "growth_ratio",
                growth["count_end"],
                growth["growth"],
                growth["ci_low"],
                growth["ci_high"],
            )
        )
        parts.append(
            figure_rows(
                "foster_growth",
                growth["oblast"],
                "lagging",
                growth["count_end"],
                growth["lagging"].astype(float),
            )
        )
        parts += _growth_model_figures(growth)
    funnel = analysis.regional.get("funnel")
    if funnel is not None and len(funnel):
        count, total = funnel["count"].sum(), funnel["total"].sum()
        _, low, high = wilson_ci(np.array([count]), np.array([total]))
        parts.append(
            figure_rows(
                "family_based_share",
                [*funnel["oblast"], "all"],
                "share",
                [*funnel["total"], total],
                [*funnel["share"], count / total],
                [*funnel["ci_low"], float(np.asarray(low)[0])],
                [*funnel["ci_high"], float(np.asarray(high)[0])],
                by="oblast",
            )
        )
    funnel = analysis.regional.get("rate_funnel")
    if funnel is not None and len(funnel):
        funnel = funnel[funnel["oblast"] != "all"]
        for level in ("95", "998"):
            parts.append(
                figure_rows(
                    "entry_rate_funnel",
                    funnel["oblast"],
                    f"outside_{level}",
                    funnel["count"],
                    funnel[f"outside_{level}"].map({"below": -1.0, "within": 0.0, "above": 1.0}),
                )
            )
        parts.append(_dispersion_figures("entry_rate_dispersion", funnel))
    result = analysis.projection
    if result is not None:
        observed = result.table.loc[~result.table["is_projection"], "observed"]
        parts.append(
            figure_rows(
                "projection_0_3_residential",
                ["residential_0_3"],
                ["target_year"],
                [int(observed.tail(7).sum())],
                [_or_nan(result.target_year)],
                [_or_nan(result.target_year_low)],
                [_or_nan(result.target_year_high)],
            )
        )
    return parts


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _shown(published: pd.DataFrame, table: str) -> pd.DataFrame:
    rows = published[(published["table"] == table) & ~published["suppressed"].astype(bool)]
    return rows.dropna(subset=["value"]).set_index(["group", "measure"])


def _pct_fall(rate_ratio: float) -> float:
    return 100.0 * (1.0 - rate_ratio)


def key_findings(
    published: pd.DataFrame, reform_date: pd.Timestamp, language: str = "bg", horizon: int = 2040
) -> list[str]:
    """Plain-language findings from published figures only (never a suppressed one)."""
    from research_lib.io.oblasts import oblast_name
    from research_lib.render.labels import text
    from research_lib.render.reporting import format_number as fmt

    reform = pd.Timestamp(reform_date).strftime("%d.%m.%Y" if language == "bg" else "%Y-%m-%d")
    out: list[str] = []
    its = _shown(published, "its_institution_entries")
    if ("institution", "level_change") in its.index:
        row = its.loc[("institution", "level_change")]
        out.append(_change_finding("placements.finding_level", row, language, reform=reform))
    if ("institution", "level_change_pooled") in its.index:
        row = its.loc[("institution", "level_change_pooled")]
        out.append(_change_finding("placements.finding_pooled", row, language))
    if ("institution", "change_at_end") in its.index:
        row = its.loc[("institution", "change_at_end")]
        out.append(_change_finding("placements.finding_end", row, language))
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
        out.append(_change_finding("placements.finding_young", row, language))
    growth = _shown(published, "foster_growth")
    if len(growth):
        lagging = [g for (g, m), r in growth.iterrows() if m == "lagging" and r["value"] == 1]
        strict = [g for (g, m), r in growth.iterrows() if m == "lagging_998" and r["value"] == 1]
        if lagging:
            names = ", ".join(oblast_name(code, language) for code in sorted(lagging))
            out.append(
                text("placements.finding_lagging", language, count=len(lagging), names=names)
            )
            if strict:
                names = ", ".join(oblast_name(code, language) for code in sorted(strict))
                out[-1] += " " + text("placements.finding_lagging_strict", language, names=names)
            elif any(m == "lagging_998" for _, m in growth.index):
                out[-1] += " " + text("placements.finding_lagging_strict_none", language)
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
    out += _stock_findings(published, language)
    projection = published[published["table"] == "projection_0_3_residential"]
    if len(projection):
        row = projection.iloc[0]
        if row["suppressed"]:
            pass
        elif pd.isna(row["value"]):
            out.append(text("placements.finding_projection_none", language, horizon=horizon))
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


def _stock_findings(published: pd.DataFrame, language: str) -> list[str]:
    """Published counts: per placement type, the first and the latest stock with their dates.

    When the figures come from more than one source, a sentence saying so comes first
    (a brief that quotes the first findings quotes it too).
    """
    from research_lib.render.labels import group_label, text
    from research_lib.render.reporting import format_number as fmt

    rows = published[
        (published["table"] == "in_care_at_date") & ~published["suppressed"].astype(bool)
    ].dropna(subset=["value"])
    out = []
    for group in (*FORMAL_CARE, "all"):
        sub = rows[rows["group"] == group].sort_values("measure")
        if len(sub) < 2:
            continue
        first, last = sub.iloc[0], sub.iloc[-1]
        name = (
            text("dimension.all", language)
            if group == "all"
            else group_label("placement_type", group, language)
        )
        out.append(
            text(
                "placements.finding_stock",
                language,
                group=name,
                first=fmt(first["value"], language, 0),
                first_date=_finding_date(first["measure"], language),
                last=fmt(last["value"], language, 0),
                last_date=_finding_date(last["measure"], language),
            )
        )
    sources = published[
        (published["table"] == "count_sources") & ~published["suppressed"].astype(bool)
    ].set_index("measure")["value"]
    if sources.get("sources", 0) > 1:  # first: it qualifies every figure after it
        out.insert(
            0,
            text(
                "placements.finding_mixed_sources",
                language,
                sources=int(sources["sources"]),
                disagreements=int(sources.get("disagreements", 0)),
            ),
        )
    return out


def report_title(data: PlacementData, language: str = "bg") -> str:
    """The report title: published figures from public sources get their own title."""
    from research_lib.paths import project_path
    from research_lib.render.labels import text

    source = data.load.source
    public = project_path("data/public").resolve()
    if data.kind == "counts" and source is not None and public in Path(source).resolve().parents:
        dates = pd.to_datetime(data.scoped["reference_date"]).dropna()
        if len(dates):
            first, last = int(dates.dt.year.min()), int(dates.dt.year.max())
            return text("placements.title_public_years", language, first=first, last=last)
        return text("placements.title_public", language)
    return text("placements.title", language)


def _change_finding(key: str, row: pd.Series, language: str, **values: object) -> str:
    """A rate ratio in words: a fall or a rise when the CI excludes 1, else what it is compatible with.

    Keys: ``key`` (fall), ``key + "_up"`` (rise), ``key + "_compatible"`` (CI holds 1:
    "compatible with anything from a fall of X% to a rise of Y%", never "did not fall").
    """
    from research_lib.render.labels import text
    from research_lib.render.reporting import format_number as fmt
    from research_lib.stats.its import change_direction

    direction = change_direction(row["ci_low"], row["ci_high"])
    suffix = {"decrease": "", "increase": "_up", "compatible": "_compatible"}[direction]
    pct = abs(100.0 * (row["value"] - 1.0))
    return text(
        key + suffix,
        language,
        pct=fmt(pct, language, 0),
        rr=fmt(row["value"], language, 2),
        low=fmt(row["ci_low"], language, 2),
        high=fmt(row["ci_high"], language, 2),
        fall=fmt(_pct_fall(row["ci_low"]), language, 0),
        rise=fmt(-_pct_fall(row["ci_high"]), language, 0),
        **values,
    )


_ITS_BANDS = {"institution": "0-17", "residential_0_3": "0-3"}


def _its_method_words(
    data: PlacementData, analysis: PlacementAnalysis, language: str
) -> tuple[str, str]:
    """What was fitted, in words: the denominator and the autocorrelation check of each series."""
    from research_lib.render.labels import text

    offsets, checks = [], []
    for key, band in _ITS_BANDS.items():
        result = analysis.its.get(key)
        if result is None:
            continue
        series = text(f"placements.series_{key}", language)
        if result.log_offset is not None:
            offsets.append(
                text("placements.offset_rate", language, series=series, band=band.replace("-", "–"))
            )
        else:
            why = "none" if data.population is None else "years"
            reason = text(f"placements.offset_why_{why}", language)
            offsets.append(text("placements.offset_count", language, series=series, why=reason))
        check = result.autocorrelation
        if check.get("lags"):
            p = f"= {check['lb_pvalue']:.2g}" if check["lb_pvalue"] >= 0.001 else "< 0.001"
            if language == "bg":
                p = p.replace(".", ",")
            if check["handled"] == "newey_west":
                checks.append(
                    text(
                        "placements.autocorr_handled",
                        language,
                        series=series,
                        p=p,
                        lags=check["hac_lags"],
                    )
                )
            else:
                checks.append(text("placements.autocorr_none", language, series=series, p=p))
    return " ".join(offsets), " ".join(checks)


def _regional_method_words(analysis: PlacementAnalysis, language: str) -> list[str]:
    """The dispersion of the entry-rate funnel and the foster-growth model, in words."""
    from research_lib.render.labels import text
    from research_lib.render.reporting import format_number as fmt
    from research_lib.stats.funnels import funnel_dispersion

    out = []
    funnel = analysis.regional.get("rate_funnel")
    if funnel is not None and len(funnel) and "tau" in funnel:
        d = funnel_dispersion(funnel)
        p = "< 0,001" if language == "bg" else "< 0.001"
        if d.p_value >= 0.001:
            p = "= " + fmt(d.p_value, language, 3)
        key = "placements.method_funnel" if d.widened else "placements.method_funnel_plain"
        out.append(
            text(
                key,
                language,
                chi2=fmt(d.chi2, language, 0),
                df=d.df,
                ratio=fmt(d.ratio, language, 1),
                p=p,
            )
        )
    growth = analysis.regional.get("growth")
    if growth is not None and len(growth) and np.isfinite(growth["baseline_slope"].iloc[0]):
        doubling = np.log(2.0)
        row = growth.iloc[0]
        out.append(
            text(
                "placements.method_growth",
                language,
                factor=fmt(row["baseline_slope"] ** doubling, language, 2),
                low=fmt(row["baseline_slope_low"] ** doubling, language, 2),
                high=fmt(row["baseline_slope_high"] ** doubling, language, 2),
            )
        )
    return out


def _growth_model_figures(growth: pd.DataFrame) -> list[pd.DataFrame]:
    """Each oblast's growth relative to the growth expected for its starting level, and the 99.8% flag."""
    if "relative_growth" not in growth:
        return []
    return [
        figure_rows(
            "foster_growth",
            growth["oblast"],
            "relative_growth",
            growth["count_end"],
            growth["relative_growth"],
            growth["relative_ci_low"],
            growth["relative_ci_high"],
        ),
        figure_rows(
            "foster_growth",
            growth["oblast"],
            "lagging_998",
            growth["count_end"],
            growth["flag_998"].eq("lagging").astype(float),
        ),
    ]


def _dispersion_figures(table: str, funnel: pd.DataFrame) -> pd.DataFrame:
    """The dispersion test of a funnel: chi-squared / df (``dispersion_ratio``) and its p-value."""
    from research_lib.stats.funnels import funnel_dispersion

    d = funnel_dispersion(funnel)
    return figure_rows(
        table,
        "all",
        ["dispersion_ratio", "dispersion_p"],
        d.units,
        [d.ratio, d.p_value],
    )


def data_and_method(
    data: PlacementData, analysis: PlacementAnalysis, min_cell: int, language: str = "bg"
) -> list[str]:
    """Paragraphs of the "Data and method" section."""
    from research_lib.io.oblasts import oblast_name
    from research_lib.render.labels import text
    from research_lib.render.reporting import format_number as fmt

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
            text("placements.counts_summary", language, n_rows=fmt(data.load.n_rows, language, 0)),
            text("placements.counts_method", language),
        ]
    if data.kind == "episodes":
        paragraphs.append(text("placements.method_entries", language))
    if data.kind == "episodes" or analysis.its:
        offset, autocorrelation = _its_method_words(data, analysis, language)
        paragraphs.append(
            text(
                "placements.method_its",
                language,
                reform=reform,
                offset=offset,
                autocorrelation=autocorrelation,
            )
        )
        pooled = analysis.regional.get("its_pooled")
        if pooled is not None:
            paragraphs.append(
                text("placements.method_pooled", language, oblasts=int(pooled["units"].iloc[0]))
            )
    else:
        paragraphs.append(text("placements.counts_no_its", language))
    if data.population is None:
        paragraphs.append(text("placements.no_population", language))
    elif data.kind == "episodes":
        paragraphs.append(text("placements.method_rates", language))
        paragraphs += _regional_method_words(analysis, language)
    else:
        paragraphs.append(text("placements.method_rates_counts", language))
    if (
        data.population is not None
        and (data.population.get("method", pd.Series(dtype=str)) == "sprague").any()
    ):
        paragraphs.append(text("placements.method_sprague", language))
    if data.kind == "episodes":
        paragraphs.append(text("placements.method_time", language))
        if "observed_from" in analysis.notes:
            date = pd.Timestamp(analysis.notes["observed_from"])
            shown = date.strftime("%d.%m.%Y" if language == "bg" else "%Y-%m-%d")
            first = _series_start(date, "YS").year
            paragraphs.append(
                text("placements.method_truncation", language, date=shown, first=first)
            )
    paragraphs.append(text("qol.method_disclosure", language, min_cell=min_cell))
    return paragraphs


# ----------------------------------------------------------------------------- report views


def its_table(published: pd.DataFrame, table: str, language: str = "bg") -> pd.DataFrame:
    """The ITS rate ratios of one published table, one row per term."""
    from research_lib.render.labels import text
    from research_lib.render.reporting import format_estimate

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
    from research_lib.io.vocab import PLACEMENT_TYPES
    from research_lib.render.labels import group_label, text
    from research_lib.render.reporting import format_number

    rows = published[published["table"] == table]
    cells = rows.assign(cell=[format_number(v, language, 0) for v in rows["value"]])
    layout = cells.pivot_table(
        index="measure", columns="group", values="cell", aggfunc="first", sort=False
    )
    order = [g for g in (*PLACEMENT_TYPES, "all") if g in layout.columns]
    layout = layout[order]
    layout.columns = [
        text("dimension.all", language)
        if g == "all"
        else group_label("placement_type", g, language)
        for g in order
    ]
    layout.index.name = text("placements.col_year", language)
    return layout.fillna(text("placements.not_published", language))


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


def _measure_date(measure: object, language: str) -> tuple[int, str]:
    """(year, words) of a stock's measure: "" for 31 December, else the date, month or "date not stated"."""
    from research_lib.render.labels import text

    m = str(measure)
    year = int(m[:4])
    if len(m) == 10:
        day = pd.Timestamp(m)
        if (day.month, day.day) == (12, 31):
            return year, ""
        return year, day.strftime("%d.%m.%Y" if language == "bg" else "%Y-%m-%d")
    if len(m) == 7 and m[4] == "-" and m[5:].isdigit():
        return year, f"{m[5:]}.{m[:4]}" if language == "bg" else m
    if "-Q" in m:
        return year, m
    return year, text("placements.date_not_stated", language)


def _finding_date(measure: object, language: str) -> str:
    """A stock's date in a sentence: the day, the month, or the year with "date not stated"."""
    m = str(measure)
    if len(m) == 10:
        return pd.Timestamp(m).strftime("%d.%m.%Y" if language == "bg" else "%d %b %Y")
    year, words = _measure_date(m, language)
    return words if len(m) == 7 or "-Q" in m else f"{year}, {words}"


def stock_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Each year's published stock by placement type, with its real date when not 31 December.

    Suppressed figures show "—", figures not published "…" (two different legends).
    """
    from research_lib.io.vocab import PLACEMENT_TYPES
    from research_lib.render.labels import group_label, text
    from research_lib.render.reporting import format_number

    rows = published[published["table"] == "in_care_at_date"]
    if rows.empty:
        return pd.DataFrame()
    dates = [_measure_date(m, language) for m in rows["measure"]]
    cells = [
        format_number(v, language, 0) + (f" ({words})" if words else "")
        for v, (_, words) in zip(rows["value"], dates, strict=True)
    ]
    frame = pd.DataFrame(
        {"year": [year for year, _ in dates], "group": rows["group"].to_numpy(), "cell": cells}
    )
    layout = frame.pivot_table(
        index="year", columns="group", values="cell", aggfunc="first", sort=True
    )
    order = [g for g in (*PLACEMENT_TYPES, "all") if g in layout.columns]
    layout = layout[order]
    layout.columns = [
        text("dimension.all", language)
        if g == "all"
        else group_label("placement_type", g, language)
        for g in order
    ]
    layout.index.name = text("placements.col_year", language)
    return layout.fillna(text("placements.not_published", language))


def rate_table(published: pd.DataFrame, table: str, language: str = "bg") -> pd.DataFrame:
    """Rates per 100,000 children (95% CI) by date or year (rows) and placement type (columns)."""
    from research_lib.render.labels import group_label, text
    from research_lib.render.reporting import format_estimate

    rows = published[published["table"] == table]
    if rows.empty:
        return pd.DataFrame()
    cells = rows.assign(
        cell=[
            format_estimate(v, lo, hi, language, 1)
            for v, lo, hi in zip(rows["value"], rows["ci_low"], rows["ci_high"], strict=True)
        ]
    )
    layout = cells.pivot_table(
        index="measure", columns="group", values="cell", aggfunc="first", sort=True
    )
    layout.columns = [group_label("placement_type", g, language) for g in layout.columns]
    layout.index.name = text("placements.col_date", language)
    return layout.fillna(text("placements.not_published", language))


def series_tables(published: pd.DataFrame, language: str = "bg") -> list[tuple[str, pd.DataFrame]]:
    """(heading, table) for every count and rate table the run published, in report order."""
    from research_lib.render.labels import text

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
    from research_lib.render.labels import text

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
    from research_lib.render.labels import group_label, text
    from research_lib.render.reporting import format_number

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
                (_finding_date(m, language) if kind == "in_care_end" else str(m))
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
    from research_lib.io.oblasts import oblast_name
    from research_lib.render.labels import text
    from research_lib.render.reporting import format_estimate

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
    from research_lib.render.labels import group_label, text
    from research_lib.render.reporting import format_estimate, format_number

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


def _percent_cells(rows: pd.DataFrame, language: str) -> list[str]:
    """Each row's share as "12,3 (10,1 – 14,6)" in percent; a hidden share stays hidden."""
    from research_lib.render.reporting import format_estimate

    return [
        format_estimate(100 * v if pd.notna(v) else v, 100 * lo, 100 * hi, language, 1)
        for v, lo, hi in zip(rows["value"], rows["ci_low"], rows["ci_high"], strict=True)
    ]


def exits_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Cumulative incidence of each way of leaving within 12 months (%), by placement type."""
    from research_lib.render.labels import group_label, text

    rows = published[published["table"] == "exits_within_12m"]
    if rows.empty:
        return pd.DataFrame()
    cells = rows.assign(cell=_percent_cells(rows, language))
    layout = cells.pivot_table(
        index="measure", columns="group", values="cell", aggfunc="first", sort=False
    )
    layout.columns = [group_label("placement_type", g, language) for g in layout.columns]
    layout.index = [text(f"placements.exit_{m}", language) for m in layout.index]
    layout.index.name = ""
    return layout.fillna(text("common.suppressed", language))


def plot_counts(published: pd.DataFrame, table: str, language: str = "bg", ax=None):
    """Counts by year, one line per placement type in its report colour (shown figures only)."""
    import matplotlib.pyplot as plt

    from research_lib.render.labels import group_label, text
    from research_lib.render.reporting import PLACEMENT_COLOURS

    rows = published[
        (published["table"] == table)
        & ~published["suppressed"].astype(bool)
        & (published["group"] != "all")
    ]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    for group, colour in PLACEMENT_COLOURS.items():
        sub = rows[rows["group"] == group]
        if len(sub):
            ax.plot(
                sub["measure"].astype(str).str[:4].astype(int),
                sub["value"],
                marker="o",
                ms=3,
                color=colour,
                label=group_label("placement_type", group, language),
            )
    from matplotlib.ticker import MaxNLocator

    heading = dict(COUNT_TABLES).get(table)
    if heading:
        ax.set_title(text(heading, language), fontsize=11, loc="left")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # years, never 2014.2
    ax.set_xlabel(text("placements.col_year", language))
    ax.set_ylabel(text("common.n", language))
    ax.legend(frameon=False, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.figure.tight_layout()
    return ax


def plot_its_safe(result: ITSResult, min_cell: int, language: str = "bg", ax=None):
    """The ITS plot with months of fewer than ``min_cell`` entries left out of the observed points.

    The fitted and counterfactual lines are model estimates and are always drawn.
    """
    import dataclasses

    from research_lib.render.labels import text
    from research_lib.stats.its import plot_its

    observed = result.observed.where(result.observed >= min_cell)
    safe = dataclasses.replace(result, observed=observed)
    labels = {
        "observed": text("placements.its_observed", language),
        "fitted": text("placements.its_fitted", language),
        "counterfactual": text("placements.its_counterfactual", language),
        "intervention": text("placements.its_intervention", language),
        "y": text("placements.its_y", language),
        "x": text("placements.its_x", language),
    }
    return plot_its(safe, ax=ax, labels=labels)


def is_demo(data: PlacementData) -> bool:
    """Whether the records are the synthetic demo data (the report then says so)."""
    from research_lib.paths import is_demo_data

    return is_demo_data(data.load.source)


def growth_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Foster-care growth per oblast with its CI and the lagging flag, slowest first."""
    from research_lib.io.oblasts import oblast_name
    from research_lib.render.labels import text
    from research_lib.render.reporting import format_estimate

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


def plot_share_funnel(
    analysis: PlacementAnalysis, published: pd.DataFrame, language: str = "bg", ax=None
):
    """Funnel plot of the family-based share per oblast; lagging oblasts highlighted.

    Only oblasts whose share is published (not suppressed) are drawn.
    """
    from research_lib.render.labels import text
    from research_lib.stats.funnels import plot_funnel

    shown = published[
        (published["table"] == "family_based_share") & ~published["suppressed"].astype(bool)
    ]
    funnel = analysis.regional["funnel"]
    funnel = funnel[funnel["oblast"].isin(set(shown["group"]))]
    growth = published[
        (published["table"] == "foster_growth") & (published["measure"] == "lagging")
    ]
    lagging = growth.loc[growth["value"] == 1, "group"].tolist()
    labels = {
        "x": text("placements.funnel_x", language),
        "y": text("placements.funnel_y", language),
        "national": text("placements.funnel_national", language),
        "limit": text("placements.funnel_limit", language, level="{level}"),
    }
    return plot_funnel(funnel, ax=ax, labels=labels, highlight=lagging, language=language)


def plot_projection_safe(
    result, published: pd.DataFrame, min_cell: int, language: str = "bg", ax=None
):
    """The 0-3 projection plot, observed counts below ``min_cell`` left out (the trend lines stay)."""
    import dataclasses

    from research_lib.render.labels import text
    from research_lib.stats.projection import plot_projection

    table = result.table.copy()
    table["observed"] = table["observed"].where(table["observed"] >= min_cell)
    safe = dataclasses.replace(result, table=table)
    labels = {
        "y": text("placements.projection_y", language),
        "x": text("placements.col_year", language),
        "observed": text("placements.projection_observed", language),
        "fitted": text("placements.projection_fitted", language),
        "projection": text("placements.projection_line", language),
        "interval": text("placements.projection_interval", language, level="{level}"),
        "target": text("placements.projection_target", language),
    }
    return plot_projection(safe, ax=ax, labels=labels)


def cohort_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Median months in care by entry cohort (rows) and placement type (columns); "—" if not reached."""
    from research_lib.io.vocab import PLACEMENT_TYPES
    from research_lib.render.labels import group_label, text
    from research_lib.render.reporting import format_estimate

    rows = published[published["table"] == "median_time_by_cohort"]
    if rows.empty:
        return pd.DataFrame()
    cells = rows.assign(
        cell=[
            format_estimate(v, lo, hi, language, 1)
            for v, lo, hi in zip(rows["value"], rows["ci_low"], rows["ci_high"], strict=True)
        ]
    )
    layout = cells.pivot_table(
        index="measure", columns="group", values="cell", aggfunc="first", sort=True
    )
    layout = layout[[g for g in PLACEMENT_TYPES if g in layout.columns]]
    layout.columns = [group_label("placement_type", g, language) for g in layout.columns]
    layout.index.name = text("placements.col_cohort", language)
    return layout.fillna(text("common.suppressed", language))


def reunified_cohort_table(published: pd.DataFrame, language: str = "bg") -> pd.DataFrame:
    """Reunified within 12 months (%, 95% CI) by entry cohort (rows) and placement type (columns)."""
    from research_lib.io.vocab import PLACEMENT_TYPES
    from research_lib.render.labels import group_label, text

    rows = published[published["table"] == "reunified_12m_by_cohort"]
    if rows.empty:
        return pd.DataFrame()
    cells = rows.assign(cell=_percent_cells(rows, language))
    layout = cells.pivot_table(
        index="measure", columns="group", values="cell", aggfunc="first", sort=True
    )
    layout = layout[[g for g in PLACEMENT_TYPES if g in layout.columns]]
    layout.columns = [group_label("placement_type", g, language) for g in layout.columns]
    layout.index.name = text("placements.col_cohort", language)
    return layout.fillna(text("common.suppressed", language))


def plot_rate_funnel(
    analysis: PlacementAnalysis, published: pd.DataFrame, language: str = "bg", ax=None
):
    """Funnel plot of entries per 100,000 children by oblast against the national rate.

    Oblasts whose flag is suppressed in ``published`` are left out.
    """
    from research_lib.render.labels import text
    from research_lib.stats.funnels import plot_funnel

    shown = published[
        (published["table"] == "entry_rate_funnel") & ~published["suppressed"].astype(bool)
    ]
    table = analysis.regional["rate_funnel"]
    table = table[table["oblast"].isin(set(shown["group"]))]
    outside = shown[(shown["measure"] == "outside_998") & (shown["value"] != 0)]["group"].tolist()
    labels = {
        "x": text("placements.rate_funnel_x", language),
        "y": text("placements.rate_funnel_y", language),
        "national": text("placements.funnel_national_rate", language),
        "limit": text("placements.funnel_limit", language, level="{level}"),
    }
    return plot_funnel(table, ax=ax, labels=labels, highlight=outside, language=language)
