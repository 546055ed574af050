"""Placement series: episodes counted per period, and rates per 100,000 children.

:func:`episodes_to_series` counts validated episodes (:mod:`research_lib.io.episodes`)
per period (``entries``, ``exits``, ``in_care_end``) in the same tidy layout as
published counts (:mod:`research_lib.io.counts`): ``period`` (the period's first
day), the grouping columns and the count columns, so later analyses accept either.
:func:`add_rates` adds rates per 100,000 children (the TransMonEE convention) with
exact Poisson (Garwood) confidence intervals (:func:`research_lib.stats.intervals.poisson_rate_ci`),
from a child-population table the caller gives (:func:`research_lib.io.population.load_population`);
the library ships no population figures and never estimates a missing denominator.

Examples
--------
>>> import pandas as pd
>>> from research_lib.io.episodes import validate_episodes
>>> episodes = pd.DataFrame({
...     "child_id": ["a", "b"], "oblast": ["Пловдив", "BG411"],
...     "placement_type": ["приемна грижа", "institution"],
...     "start_date": ["01.03.2019", "2018-11-01"], "end_date": ["", "2019-02-01"],
...     "exit_reason": ["", "осиновяване"], "age_at_start": [4, 1]})
>>> result = validate_episodes(episodes, as_of="2025-12-31")
>>> result.n_valid
2
>>> series = episodes_to_series(result.valid, freq="YS", by=("placement_type",))
>>> print(series.to_string(index=False))
    period placement_type  entries  exits  in_care_end
2018-01-01         foster        0      0            0
2019-01-01         foster        1      0            1
2018-01-01    institution        1      0            1
2019-01-01    institution        0      1            0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from research_lib.errors import InputError
from research_lib.io.episodes import entry_age_band
from research_lib.io.loader import (
    LoadResult,
)
from research_lib.io.oblasts import NATIONAL, load_oblasts
from research_lib.io.population import POPULATION_AGE_BANDS, validate_population
from research_lib.io.vocab import (
    CHILD_AGE_BAND,
    COUNT_COLUMNS,
    frequency_code,
)
from research_lib.stats.demography import population_child_bands
from research_lib.stats.intervals import poisson_rate_ci

__all__ = ["episodes_to_series", "population_denominators", "add_rates"]


def _ordinals(dates: pd.Series, code: str) -> np.ndarray:
    """Period ordinals of dates (NaT -> pandas' NaT ordinal, the smallest int64)."""
    return dates.dt.to_period(code).array.asi8


def _frame_of(episodes: pd.DataFrame | LoadResult) -> pd.DataFrame:
    frame = episodes.valid if isinstance(episodes, LoadResult) else episodes
    missing = [c for c in ("start_date", "end_date") if c not in frame.columns]
    if missing:
        raise InputError(
            f"episodes lack {', '.join(missing)}; pass LoadResult.valid of load_episodes."
        )
    return frame


def _by_columns(frame: pd.DataFrame, by: Sequence[str] | str | None) -> tuple[str, ...]:
    by = (by,) if isinstance(by, str) else tuple(by or ())
    available = [*frame.columns, "age_band_at_entry"]
    for column in by:
        if column not in available:
            raise InputError(
                f"by={column!r} is not a column of the episodes; use oblast, placement_type, "
                f"age_band_at_entry or another column ({', '.join(map(str, frame.columns))})."
            )
    if len(set(by)) != len(by):
        raise InputError(f"by={by!r} names a column twice.")
    return by


def _levels(values: pd.Series) -> tuple[list, np.ndarray]:
    """Levels present in a by-column (category order for categoricals) and each row's code."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        levels = [c for c in values.cat.categories if c in present]
    else:
        levels = sorted(values.dropna().unique())
    codes = pd.Categorical(values, categories=levels).codes.astype("int64")
    return levels, codes


def episodes_to_series(
    episodes: pd.DataFrame | LoadResult,
    freq: str = "YS",
    by: Sequence[str] | str | None = ("oblast", "placement_type"),
    start: object = None,
    end: object = None,
) -> pd.DataFrame:
    """Count entries, exits and children in care at the end of each period.

    Parameters
    ----------
    episodes : DataFrame or LoadResult
        Valid episodes (``LoadResult.valid`` of :func:`load_episodes`).
    freq : {"MS", "QS", "YS"}, default "YS"
        Months, quarters or calendar years; a period is labelled by its first day.
    by : sequence of str, default ("oblast", "placement_type")
        Grouping columns: any episode column without missing values, and
        ``age_band_at_entry`` (see :func:`entry_age_band`). ``()`` gives national totals.
    start, end : date-like, optional
        First and last period (the periods containing these days). By default
        from the first start date to the last start or end date in the data.

    Returns
    -------
    DataFrame
        Columns ``period``, the ``by`` columns, ``entries`` (episodes starting in
        the period), ``exits`` (episodes ending in the period) and ``in_care_end``
        (episodes started on or before the period's last day and not ended by
        then: no end date, or an end date after the period's last day). One row
        per period and combination of the levels present in each ``by`` column,
        zeros filled; sorted by the ``by`` columns, then period.

    Raises
    ------
    InputError
        Unknown ``freq`` or ``by`` column, or a ``by`` column with missing values.

    Notes
    -----
    An episode ending on a period's last day is an exit of that period and not
    in care at its end (episodes are ``[start, end)``). Episodes that started
    before ``start`` count in ``in_care_end`` while they last; entries and exits
    outside the window are not counted. The grid is the product of the levels
    present in each ``by`` column, so a placement type absent from an oblast gets
    zero rows: episode data are a register, and zero is what it says.
    ``in_care_end`` = cumulative entries - cumulative exits, so the identity
    ``in_care_end[t] = in_care_end[t-1] + entries[t] - exits[t]`` holds exactly.

    Examples
    --------
    >>> episodes = pd.DataFrame({
    ...     "start_date": pd.to_datetime(["2019-03-10", "2019-12-31"]),
    ...     "end_date": pd.to_datetime(["2020-06-30", None]),
    ...     "placement_type": ["foster", "cnst"]})
    >>> episodes_to_series(episodes, by=()).to_dict("list")["in_care_end"]
    [2, 1]
    """
    frame = _frame_of(episodes)
    if frame["start_date"].isna().any():
        raise InputError(
            "some episodes have no start_date; pass LoadResult.valid of load_episodes."
        )
    by = _by_columns(frame, by)
    alias, code = frequency_code(freq)
    if "age_band_at_entry" in by and "age_band_at_entry" not in frame.columns:
        frame = frame.assign(age_band_at_entry=entry_age_band(frame))
    for column in by:
        if frame[column].isna().any():
            raise InputError(
                f"by column {column!r} has {int(frame[column].isna().sum())} missing values; "
                "group by a column that every episode has (or fill it first)."
            )
    start_ord = _ordinals(frame["start_date"], code)
    end_ord = _ordinals(frame["end_date"], code)
    ended = frame["end_date"].notna().to_numpy()
    lo, hi = _window(start_ord, end_ord, ended, start, end, code)
    if lo is None:
        return _empty_series(by, alias)
    first = min(lo, int(start_ord.min())) if len(start_ord) else lo
    n_periods = hi - first + 1

    levels, codes = zip(*(_levels(frame[c]) for c in by), strict=True) if by else ((), ())
    sizes = tuple(len(level) for level in levels)
    group = np.ravel_multi_index(codes, sizes) if by else np.zeros(len(frame), dtype="int64")
    n_groups = int(np.prod(sizes)) if by else 1

    def tally(ordinal: np.ndarray, mask: np.ndarray) -> np.ndarray:
        keep = mask & (ordinal <= hi)
        cells = group[keep] * n_periods + (ordinal[keep] - first)
        return np.bincount(cells, minlength=n_groups * n_periods).reshape(n_groups, n_periods)

    entries = tally(start_ord, np.ones(len(frame), dtype=bool))
    exits = tally(end_ord, ended)
    in_care = np.cumsum(entries - exits, axis=1)
    window = slice(lo - first, n_periods)
    periods = pd.period_range(pd.Period(ordinal=lo, freq=code), periods=hi - lo + 1)
    return _series_frame(
        periods.to_timestamp(how="start"),
        by,
        levels,
        frame,
        {
            "entries": entries[:, window],
            "exits": exits[:, window],
            "in_care_end": in_care[:, window],
        },
        alias,
    )


def _window(
    start_ord: np.ndarray,
    end_ord: np.ndarray,
    ended: np.ndarray,
    start: object,
    end: object,
    code: str,
) -> tuple[int | None, int]:
    """First and last period ordinal of the output."""
    if start is not None:
        lo = int(pd.Period(pd.Timestamp(start), freq=code).ordinal)
    else:
        lo = int(start_ord.min()) if len(start_ord) else None
    if end is not None:
        hi = int(pd.Period(pd.Timestamp(end), freq=code).ordinal)
    else:
        last = [int(start_ord.max())] if len(start_ord) else []
        last += [int(end_ord[ended].max())] if ended.any() else []
        hi = max(last) if last else None
    if lo is None or hi is None:
        return None, 0
    if hi < lo:
        raise InputError(f"end ({end}) is before start ({start}); give end on or after start.")
    return lo, hi


def _empty_series(by: tuple[str, ...], alias: str) -> pd.DataFrame:
    columns = {"period": pd.Series(dtype="datetime64[ns]")}
    columns.update({c: pd.Series(dtype=object) for c in by})
    columns.update({c: pd.Series(dtype="int64") for c in COUNT_COLUMNS})
    series = pd.DataFrame(columns)
    series.attrs["freq"] = alias
    return series


def _series_frame(
    periods: pd.DatetimeIndex,
    by: tuple[str, ...],
    levels: Sequence[list],
    frame: pd.DataFrame,
    counts: Mapping[str, np.ndarray],
    alias: str,
) -> pd.DataFrame:
    """Tidy frame: every combination of levels x every period."""
    n_periods = len(periods)
    shape = (*(len(level) for level in levels), n_periods)
    grid = np.unravel_index(np.arange(int(np.prod(shape))), shape)  # by-levels, then period
    columns: dict[str, object] = {}
    if by:
        columns["period"] = periods[grid[-1]]
        for i, column in enumerate(by):
            dtype = frame[column].dtype
            if isinstance(dtype, pd.CategoricalDtype):  # the levels present, in category order
                columns[column] = pd.Categorical.from_codes(grid[i], categories=levels[i])
            else:
                values = np.asarray(levels[i], dtype=object)[grid[i]]
                columns[column] = pd.array(values, dtype=dtype)
    else:
        columns["period"] = periods
    for name, matrix in counts.items():
        columns[name] = matrix.reshape(-1).astype("int64")
    series = pd.DataFrame(columns)
    series.attrs["freq"] = alias
    return series


def population_denominators(population: pd.DataFrame | LoadResult | None) -> pd.DataFrame:
    """Denominators by (oblast, year, age_band), with national and 0-17 totals added.

    Totals are sums of complete sets only: the country is the sum of all 28
    oblasts (when no ``all`` row is given), 0-17 the sum of 0-3, 4-6 and 7-17
    (when no 0-17 row is given). Anything else stays missing.
    """
    if population is None:
        raise InputError(
            "rates need a child-population table: pass population= (oblast, year, [age_band], "
            "population), e.g. LoadResult.valid of load_population. The library ships no "
            "population figures and never estimates them."
        )
    if isinstance(population, LoadResult):
        population = population.valid
    checked = validate_population(population.reset_index(drop=True))
    if len(checked.rejected):
        raise InputError(
            "the population table has problems:\n"
            + checked.summary()
            + "\nCorrect them (or load the table with load_population and pass .valid)."
        )
    table = population_child_bands(checked.valid)[
        ["oblast", "year", "age_band", "population"]
    ].astype({"oblast": str, "age_band": str})
    table = _add_total(
        table,
        by=["oblast", "year"],
        part="age_band",
        members=POPULATION_AGE_BANDS[:3],
        total=CHILD_AGE_BAND,
    )
    oblasts = tuple(load_oblasts().index)
    table = _add_total(
        table, by=["age_band", "year"], part="oblast", members=oblasts, total=NATIONAL
    )
    return table.set_index(["oblast", "year", "age_band"])["population"]


def _add_total(
    table: pd.DataFrame, by: list[str], part: str, members: Sequence[str], total: str
) -> pd.DataFrame:
    """Append ``part = total`` rows summing complete sets of ``members`` where none is given."""
    parts = table[table[part].isin(members)]
    if parts.empty:
        return table
    sums = parts.groupby(by)[["population"]].agg(["sum", "count"])
    sums.columns = ["population", "n"]
    complete = sums[sums["n"] == len(set(members))].drop(columns="n").reset_index()
    complete[part] = total
    given = table.loc[table[part] == total, by]
    merged = complete.merge(given, on=by, how="left", indicator=True)
    new = merged.loc[merged["_merge"] == "left_only", [*by, part, "population"]]
    return pd.concat([table, new[table.columns]], ignore_index=True)


def add_rates(
    series: pd.DataFrame,
    population: pd.DataFrame | LoadResult | None,
    per: float = 100_000,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Add rates per ``per`` children with exact Poisson confidence intervals.

    Parameters
    ----------
    series : DataFrame
        Output of :func:`episodes_to_series` or ``LoadResult.valid`` of :func:`load_counts`.
    population : DataFrame or LoadResult
        ``oblast, year, [age_band], population`` (see :func:`load_population`).
    per : float, default 100_000
        The TransMonEE convention: rates per 100,000 children aged 0-17.
    confidence : float, default 0.95
        Level of the Garwood interval (:func:`poisson_rate_ci`).

    Returns
    -------
    DataFrame
        ``series`` with ``population`` and, for each count column present,
        ``<count>_rate``, ``<count>_rate_low``, ``<count>_rate_high``.

    Raises
    ------
    InputError
        ``population`` is None or has invalid rows.

    Notes
    -----
    The denominator of a row is the population of its oblast (``all`` or no
    ``oblast`` column: the country), of the period's calendar year and of its age
    band (no band column: 0-17). Where the table has no such figure — a year or
    oblast not given, the band 18+ — the rate is NaN, never estimated. National
    and 0-17 figures are sums of complete sets of given figures only.

    With ``age_band_at_entry`` (episodes) only ``entries`` get age-specific
    rates: children in care at a period's end or leaving care are no longer of
    the age they entered at, so there is no matching denominator and those rates
    are NaN. With ``age_band`` (published counts, the age as published) every
    count column gets a rate. A monthly series gives rates per month.

    Examples
    --------
    >>> series = pd.DataFrame({"period": pd.to_datetime(["2020-01-01"]), "oblast": ["BG311"],
    ...                        "entries": [10]})
    >>> population = pd.DataFrame({"oblast": ["BG311"], "year": [2020], "population": [100_000]})
    >>> add_rates(series, population)[["entries_rate", "entries_rate_low"]].round(3).values.tolist()
    [[10.0, 4.795]]
    """
    table = population_denominators(population)
    if "period" not in series.columns:
        raise InputError(
            "series has no period column; pass the output of episodes_to_series or load_counts."
        )
    band_column = next((c for c in ("age_band", "age_band_at_entry") if c in series.columns), None)
    oblast = series["oblast"].astype(str) if "oblast" in series.columns else NATIONAL
    band = series[band_column].astype(str) if band_column else CHILD_AGE_BAND
    keys = pd.DataFrame(
        {"oblast": oblast, "year": pd.to_datetime(series["period"]).dt.year, "age_band": band},
        index=series.index,
    )
    denominator = table.reindex(pd.MultiIndex.from_frame(keys)).to_numpy(dtype="float64")
    out = series.copy()
    out["population"] = denominator
    for column in COUNT_COLUMNS:
        if column not in series.columns:
            continue
        base = denominator
        if band_column == "age_band_at_entry" and column != "entries":
            base = np.full(len(series), np.nan)
        counts = pd.to_numeric(series[column], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
        rate, low, high = poisson_rate_ci(counts, base, per=per, confidence=confidence)
        out[f"{column}_rate"] = rate
        out[f"{column}_rate_low"] = low
        out[f"{column}_rate_high"] = high
    return out
