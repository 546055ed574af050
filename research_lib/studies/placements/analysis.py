"""The placement study's data and analyses: load the records, then every analysis of one scope.

:func:`prepare` loads episodes (or published counts) and the child population;
:func:`analyse` builds the yearly series, the interrupted time series at the
reform date, the formal-care indicators, the regional comparison, time in care
and exits, and the projection of 0-3-year-olds in residential care. Nothing here
is published: :mod:`research_lib.studies.placements.figures` declares what is.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.errors import InputError
from research_lib.io.counts import load_counts
from research_lib.io.episodes import entry_age_band, load_episodes
from research_lib.io.loader import LoadResult
from research_lib.io.oblasts import NATIONAL, oblast_name, resolve_scope
from research_lib.io.population import load_population
from research_lib.paths import is_demo_data
from research_lib.stats.count_series import (
    count_oblasts,
    stock_measures,
    stock_totals,
    yearly_flows,
    yearly_stocks,
)
from research_lib.stats.demography import population_child_bands
from research_lib.stats.funnels import (
    family_based_share,
    foster_growth,
    funnel_proportions,
    funnel_table,
)
from research_lib.stats.indicators import (
    FAMILY_BASED,
    FORMAL_CARE,
    RESIDENTIAL,
    care_indicators,
    child_population,
    entry_kinds,
)
from research_lib.stats.its import ITSResult, fit_its, pool_its
from research_lib.stats.projection import project_to_target
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
    "FORMAL_CARE",
    "FREQUENCIES",
    "MIN_ITS_YEARS",
    "MIN_POOLED_OBLASTS",
    "PlacementData",
    "PlacementAnalysis",
    "prepare",
    "analyse",
    "its_frame",
    "monthly_population",
    "series_start",
    "spell_tables",
    "yearly_counts",
    "young_yearly",
    "young_residential_in_care",
    "is_demo",
]


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
    #: The scope analysed (NUTS-3 code or ``"all"``), as :attr:`PlacementData.scope`.
    scope: str = NATIONAL


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


def yearly_counts(data: PlacementData) -> pd.DataFrame:
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


def monthly_population(
    data: PlacementData, periods: pd.Series, band: str = "0-17"
) -> pd.Series | None:
    """Children of ``band`` in scope for each month's year (the ITS offset).

    0-17 is the given figure or the sum of 0-3, 4-6 and 7-17; the country the
    given figure or the sum of the 28 oblasts (:func:`research_lib.stats.indicators.child_population`).
    None without a population or when a year of the series has no figure.
    """
    if data.population is None:
        return None
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
    population = monthly_population(data, monthly["period"], band)
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
    episodes = data.episodes
    entering = _entry_episodes(episodes)
    entering = entering[entering["placement_type"].astype(str) == "institution"]
    if entering.empty:
        return None
    window = observation_start(episodes)
    since = episodes["start_date"].min() if window is None else series_start(window, frequency)
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


def series_start(window: pd.Timestamp, frequency: str) -> pd.Timestamp:
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


def spell_tables(
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
    yearly = yearly_counts(data)
    window = observation_start(data.episodes) if data.kind == "episodes" else None
    if window is not None:  # an extract begun mid-history: counts only from when it is complete
        notes["observed_from"] = window.strftime("%Y-%m-%d")
        yearly = yearly[yearly["year"] >= series_start(window, "YS").year].reset_index(drop=True)
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
        since = scoped["start_date"].min() if window is None else series_start(window, frequency)
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
        first_year = since if window is None else series_start(window, "YS")
        yearly_young = episodes_to_series(
            young, freq="YS", by=None, start=first_year, end=data.as_of
        )
        entries_0_3 = yearly_young.assign(year=pd.to_datetime(yearly_young["period"]).dt.year)[
            ["year", "entries"]
        ]
        tic, tic_cohort, exits, exits_cohort = spell_tables(data, window)
        if data.population is not None:
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
        scope=data.scope,
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


def young_yearly(data: PlacementData, window: pd.Timestamp | None) -> pd.DataFrame:
    """First entries of children aged 0-3 into residential care per year (as :func:`analyse`)."""
    scoped = data.scoped
    entering = _entry_episodes(scoped, kinds=_scoped_kinds(data))
    young = entering[
        (entry_age_band(entering).astype(str) == "0-3").to_numpy()
        & entering["placement_type"].astype(str).isin(RESIDENTIAL).to_numpy()
    ]
    first_year = scoped["start_date"].min() if window is None else series_start(window, "YS")
    yearly = episodes_to_series(young, freq="YS", by=None, start=first_year, end=data.as_of)
    return yearly.assign(year=pd.to_datetime(yearly["period"]).dt.year)[["year", "entries"]]


def is_demo(data: PlacementData) -> bool:
    """Whether the records are the synthetic demo data (the report then says so)."""
    return is_demo_data(data.load.source)
