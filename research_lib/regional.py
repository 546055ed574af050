"""Regional comparison: oblast rates and shares against the national figure.

* :func:`regional_rates` - each oblast's rate per 100,000 children with an exact
  Poisson CI;
* :func:`funnel_limits` / :func:`funnel_table` - exact Poisson control limits
  around the national rate as a function of the child population (Spiegelhalter
  2005), and each oblast flagged above / below the 95% and 99.8% limits;
* :func:`family_based_share`, :func:`funnel_proportion_limits` and
  :func:`funnel_proportions` - the share of children in formal care who are in
  family-based care (foster + kinship) with Wilson CIs and binomial funnel limits;
* :func:`foster_growth` - growth of foster care per oblast between two years with
  an exact CI for the rate ratio, flagging oblasts that lag the country;
* :func:`plot_funnel` - the funnel plot, points labelled with oblast names
  (Bulgarian or English).

Funnel plots compare each unit with one target using limits that depend on the
unit's size, so small oblasts are not flagged for noise and no league table is
implied. With real between-oblast variation (over-dispersion) many oblasts fall
outside the limits; Spiegelhalter (2005) discusses widening the limits then -
this module reports the plain (Poisson / binomial) limits.

Examples
--------
>>> import pandas as pd
>>> counts = pd.DataFrame({"oblast": ["BG311", "BG411"], "count": [30, 200],
...                        "population": [20_000, 200_000]})
>>> table = funnel_table(counts)
>>> table[["oblast", "rate", "outside_95"]]
  oblast   rate outside_95
0  BG311  150.0      above
1  BG411  100.0     within
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from research_lib.errors import InputError
from research_lib.indicators import FAMILY_BASED, FORMAL_CARE, poisson_ratio_ci, wilson_ci
from research_lib.placements import CHILD_AGE_BAND, _population_table, poisson_rate_ci
from research_lib.regions import NATIONAL, load_oblasts, oblast_name
from research_lib.validation import LoadResult

__all__ = [
    "FUNNEL_LEVELS",
    "FLAGS",
    "regional_rates",
    "funnel_limits",
    "funnel_table",
    "funnel_proportion_limits",
    "funnel_proportions",
    "family_based_share",
    "foster_growth",
    "plot_funnel",
]

#: The usual funnel levels: "warning" (95%) and "alarm" (99.8%, about 3 SD).
FUNNEL_LEVELS: tuple[float, ...] = (0.95, 0.998)
#: Values of the ``outside_<level>`` columns.
FLAGS: tuple[str, ...] = ("below", "within", "above")


# ----------------------------------------------------------------------------- helpers


def _level_name(level: float) -> str:
    """0.95 -> "95", 0.998 -> "998"."""
    if not 0 < level < 1:
        raise InputError(f"funnel level {level!r} must be between 0 and 1, e.g. 0.95.")
    return f"{level * 100:g}".replace(".", "")


def _level_of(name: str) -> float:
    """Inverse of :func:`_level_name` for levels of 10-99.9...%: "95" -> 0.95, "998" -> 0.998."""
    return float(f"0.{name}") if len(name) >= 2 else int(name) / 100


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{what} must be a DataFrame.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}."
        )


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _interpolated_quantile(
    p: float, cdf: Any, ppf: Any, lower: float = 0.0, upper: np.ndarray | None = None
) -> np.ndarray:
    """Spiegelhalter's (2005, appendix) smooth quantile of a discrete distribution.

    ``r`` = the ``p`` quantile (smallest ``r`` with ``F(r) >= p``), then
    ``r - (F(r) - p) / (F(r) - F(r - 1))``, clipped to ``[lower, upper]``.
    """
    r = ppf(p)
    f_r = cdf(r)
    f_below = cdf(r - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(f_r > f_below, (f_r - p) / (f_r - f_below), 0.0)
    value = np.maximum(r - alpha, lower)
    return value if upper is None else np.minimum(value, upper)


def _flags(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> pd.Categorical:
    code = np.where(value > high, 2, np.where(value < low, 0, 1))
    code = np.where(np.isnan(value) | np.isnan(low) | np.isnan(high), -1, code)
    return pd.Categorical.from_codes(code, categories=list(FLAGS))


# ----------------------------------------------------------------------------- rates


def regional_rates(
    counts: pd.DataFrame,
    value: str,
    population: str,
    per: int = 100_000,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Rate per ``per`` children of each row (oblast) with an exact Poisson CI.

    Parameters
    ----------
    counts : DataFrame
        One row per oblast (and year, ...) with a count and a population column.
    value : str
        The count column (e.g. ``"entries"``, ``"in_care_end"``).
    population : str
        The child-population column (the denominator; NaN gives NaN, never estimated).
    per : int, default 100_000
        Rates per this many children.
    confidence : float, default 0.95
        Level of the Garwood interval.

    Returns
    -------
    DataFrame
        ``counts`` with ``rate, ci_low, ci_high`` added.

    Notes
    -----
    Garwood (1936) exact Poisson limits, :func:`research_lib.placements.poisson_rate_ci`.

    Examples
    --------
    >>> counts = pd.DataFrame({"oblast": ["BG311"], "entries": [10], "children": [100_000]})
    >>> regional_rates(counts, "entries", "children")[["rate", "ci_low"]].round(3).values.tolist()
    [[10.0, 4.795]]
    """
    _require(counts, [value, population], "counts")
    rate, low, high = poisson_rate_ci(
        _numbers(counts, value), _numbers(counts, population), per=per, confidence=confidence
    )
    return counts.assign(rate=rate, ci_low=low, ci_high=high)


def funnel_limits(
    national_rate: float,
    population: np.ndarray | Sequence[float],
    per: int = 100_000,
    levels: Sequence[float] = FUNNEL_LEVELS,
) -> pd.DataFrame:
    """Exact Poisson funnel limits around ``national_rate`` for each population size.

    Parameters
    ----------
    national_rate : float
        The target: the national rate per ``per`` children.
    population : array-like
        Population sizes (children) at which to compute the limits, e.g.
        ``np.geomspace(10_000, 300_000, 200)`` for drawing.
    per : int, default 100_000
        Rates per this many children.
    levels : sequence of float, default (0.95, 0.998)
        Two-sided levels.

    Returns
    -------
    DataFrame
        ``population, expected`` (expected count ``rate * population / per``),
        ``national_rate`` and ``low_<level>, high_<level>`` as rates, e.g.
        ``low_95, high_95, low_998, high_998``.

    Notes
    -----
    Spiegelhalter (2005): under the target, a unit of population ``n`` has a
    Poisson count with mean ``θ = rate n / per``. The ``p`` limit (``p = (1 -
    level) / 2`` and ``1 - p``) is the Poisson quantile ``r_p`` made continuous
    by interpolation, ``r_p - (F(r_p) - p) / (F(r_p) - F(r_p - 1))``, divided by
    ``n`` (times ``per``); lower limits are floored at 0. Treat the national rate
    as known (it is estimated from many more children than any oblast has).

    References
    ----------
    Spiegelhalter DJ. Funnel plots for comparing institutional performance.
    Stat Med. 2005;24(8):1185-1202. https://doi.org/10.1002/sim.1970

    Examples
    --------
    >>> limits = funnel_limits(100.0, [10_000, 100_000])
    >>> limits[["population", "expected"]].values.tolist()
    [[10000.0, 10.0], [100000.0, 100.0]]
    >>> bool((limits["high_998"] > limits["high_95"]).all())
    True
    """
    rate = float(national_rate)
    if not np.isfinite(rate) or rate < 0:
        raise InputError(f"national_rate={national_rate!r} must be a non-negative number.")
    n = np.asarray(population, dtype="float64").ravel()
    if (n <= 0).any() or np.isnan(n).any():
        raise InputError("population sizes must be positive numbers.")
    theta = rate * n / per
    out = {"population": n, "expected": theta, "national_rate": np.full(len(n), rate)}
    for level in levels:
        name = _level_name(level)
        tail = (1 - level) / 2
        for side, p in (("low", tail), ("high", 1 - tail)):
            count = _interpolated_quantile(
                p,
                cdf=lambda r, t=theta: stats.poisson.cdf(r, t),
                ppf=lambda q, t=theta: stats.poisson.ppf(q, t),
            )
            out[f"{side}_{name}"] = count / n * per
    return pd.DataFrame(out)


def _national_from(
    table: pd.DataFrame, unit: str, count: str, size: str
) -> tuple[pd.DataFrame, float | None]:
    """Units without the national row, and the national ``count / size`` from it if given."""
    national = table[unit].astype(str) == NATIONAL
    if national.sum() == 1:
        row = table.loc[national]
        return table.loc[~national], float(_numbers(row, count)[0] / _numbers(row, size)[0])
    return table.loc[~national], None


def _with_limits(
    table: pd.DataFrame,
    values: object,
    valid: np.ndarray,
    limits: pd.DataFrame,
    levels: Sequence[float],
) -> pd.DataFrame:
    """Add the expected count, the control limits of each level and the flags to ``table``.

    Units without a valid size (``valid`` false) get no limits and no flag.
    """
    table["expected"] = np.where(valid, limits["expected"], np.nan)
    for level in levels:
        name = _level_name(level)
        table[f"low_{name}"] = np.where(valid, limits[f"low_{name}"], np.nan)
        table[f"high_{name}"] = np.where(valid, limits[f"high_{name}"], np.nan)
    for level in levels:
        name = _level_name(level)
        table[f"outside_{name}"] = _flags(values, table[f"low_{name}"], table[f"high_{name}"])
    return table


def funnel_table(
    rates: pd.DataFrame,
    count: str = "count",
    population: str = "population",
    unit: str = "oblast",
    per: int = 100_000,
    national_rate: float | None = None,
    levels: Sequence[float] = FUNNEL_LEVELS,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each oblast's rate against exact Poisson funnel limits around the national rate.

    Parameters
    ----------
    rates : DataFrame
        One row per unit (oblast) with a count and a population column (e.g. the
        output of :func:`regional_rates` for one year). A row with
        ``unit == "all"`` is taken as the national figure and not plotted.
    count, population : str
        Column names of the count and the child population.
    unit : str, default "oblast"
        The unit column.
    per : int, default 100_000
        Rates per this many children.
    national_rate : float, optional
        The target. Default: the ``all`` row if present, else the pooled rate of
        the units (sum of counts / sum of populations).
    levels : sequence of float, default (0.95, 0.998)
        Funnel levels.
    confidence : float, default 0.95
        Level of each unit's own exact Poisson CI.

    Returns
    -------
    DataFrame
        ``<unit>, count, population, rate, ci_low, ci_high, national_rate,
        expected, low_<level>, high_<level>, outside_<level>`` with
        ``outside_<level>`` one of ``below, within, above`` (categorical).

    Notes
    -----
    A unit is ``above`` when its rate exceeds the upper limit at its population
    (strictly), ``below`` when under the lower limit; see :func:`funnel_limits`.
    The test is one unit against the target; with 28 oblasts about 1.4 fall
    outside the 95% limits by chance alone (0.06 outside 99.8%).

    References
    ----------
    Spiegelhalter DJ. Stat Med. 2005;24(8):1185-1202.

    Examples
    --------
    >>> counts = pd.DataFrame({"oblast": ["BG311", "BG312"], "count": [5, 40],
    ...                        "population": [20_000, 20_000]})
    >>> funnel_table(counts)["outside_95"].tolist()
    ['below', 'above']
    """
    _require(rates, [unit, count, population], "rates")
    units, given = _national_from(rates, unit, count, population)
    k = _numbers(units, count)
    n = _numbers(units, population)
    if national_rate is None:
        ok = ~np.isnan(k) & ~np.isnan(n)
        pooled = given if given is not None else k[ok].sum() / n[ok].sum()
        national_rate = float(pooled) * per
    rate, low, high = poisson_rate_ci(k, n, per=per, confidence=confidence)
    table = pd.DataFrame(
        {
            unit: units[unit].to_numpy(),
            "count": k,
            "population": n,
            "rate": rate,
            "ci_low": low,
            "ci_high": high,
        }
    )
    valid = ~np.isnan(n) & (n > 0)
    limits = funnel_limits(national_rate, np.where(valid, n, 1.0), per=per, levels=levels)
    table["national_rate"] = float(national_rate)
    return _with_limits(table, rate, valid, limits, levels)


# ----------------------------------------------------------------------------- proportions


def funnel_proportion_limits(
    national_share: float,
    total: np.ndarray | Sequence[float],
    levels: Sequence[float] = FUNNEL_LEVELS,
) -> pd.DataFrame:
    """Exact binomial funnel limits around ``national_share`` for each denominator size.

    Parameters
    ----------
    national_share : float
        The target proportion (0-1).
    total : array-like
        Denominators (e.g. children in formal care in an oblast).
    levels : sequence of float, default (0.95, 0.998)

    Returns
    -------
    DataFrame
        ``total, expected, national_share, low_<level>, high_<level>`` (shares).

    Notes
    -----
    Spiegelhalter (2005) for proportions: the binomial ``Bin(total,
    national_share)`` quantile interpolated as in :func:`funnel_limits`, divided
    by ``total`` and kept within [0, 1].

    Examples
    --------
    >>> funnel_proportion_limits(0.5, [100])[["low_95", "high_95"]].round(3).values.tolist()
    [[0.397, 0.593]]
    """
    share = float(national_share)
    if not 0 <= share <= 1:
        raise InputError(f"national_share={national_share!r} must be between 0 and 1.")
    n = np.asarray(total, dtype="float64").ravel()
    if (n <= 0).any() or np.isnan(n).any():
        raise InputError("denominators must be positive numbers.")
    out = {"total": n, "expected": share * n, "national_share": np.full(len(n), share)}
    for level in levels:
        name = _level_name(level)
        tail = (1 - level) / 2
        for side, p in (("low", tail), ("high", 1 - tail)):
            count = _interpolated_quantile(
                p,
                cdf=lambda r, m=n: stats.binom.cdf(r, m, share),
                ppf=lambda q, m=n: stats.binom.ppf(q, m, share),
                upper=n,
            )
            out[f"{side}_{name}"] = count / n
    return pd.DataFrame(out)


def funnel_proportions(
    counts: pd.DataFrame,
    count: str = "count",
    total: str = "total",
    unit: str = "oblast",
    national_share: float | None = None,
    levels: Sequence[float] = FUNNEL_LEVELS,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each oblast's share against binomial funnel limits around the national share.

    Parameters
    ----------
    counts : DataFrame
        One row per unit with ``count`` (e.g. children in family-based care) and
        ``total`` (e.g. children in formal care); see :func:`family_based_share`.
        A row with ``unit == "all"`` gives the national share.
    count, total, unit : str
        Column names.
    national_share : float, optional
        The target; default the ``all`` row, else pooled over the units.
    levels : sequence of float, default (0.95, 0.998)
    confidence : float, default 0.95
        Level of each unit's Wilson interval.

    Returns
    -------
    DataFrame
        ``<unit>, count, total, share, ci_low, ci_high`` (Wilson),
        ``national_share, expected, low_<level>, high_<level>, outside_<level>``.

    References
    ----------
    * Spiegelhalter DJ. Stat Med. 2005;24(8):1185-1202.
    * Wilson EB. J Am Stat Assoc. 1927;22(158):209-212.

    Examples
    --------
    >>> counts = pd.DataFrame({"oblast": ["BG311", "BG312", "BG313"],
    ...                        "count": [50, 20, 80], "total": [100, 100, 100]})
    >>> funnel_proportions(counts)["outside_95"].tolist()
    ['within', 'below', 'above']
    """
    _require(counts, [unit, count, total], "counts")
    units, given = _national_from(counts, unit, count, total)
    k = _numbers(units, count)
    n = _numbers(units, total)
    if national_share is None:
        ok = ~np.isnan(k) & ~np.isnan(n)
        national_share = given if given is not None else float(k[ok].sum() / n[ok].sum())
    share, low, high = wilson_ci(k, n, confidence)
    table = pd.DataFrame(
        {
            unit: units[unit].to_numpy(),
            "count": k,
            "total": n,
            "share": share,
            "ci_low": low,
            "ci_high": high,
        }
    )
    valid = ~np.isnan(n) & (n > 0)
    limits = funnel_proportion_limits(national_share, np.where(valid, n, 1.0), levels=levels)
    table["national_share"] = float(national_share)
    return _with_limits(table, share, valid, limits, levels)


# ----------------------------------------------------------------------------- series


def _yearly(series: pd.DataFrame, value: str) -> pd.DataFrame:
    """A yearly series (episodes_to_series / load_counts layout) with a ``year`` column."""
    _require(series, ["period", "oblast", "placement_type", value], "series")
    frame = series.assign(
        year=pd.to_datetime(series["period"]).dt.year,
        oblast=series["oblast"].astype(str),
        placement_type=series["placement_type"].astype(str),
    )
    if frame.duplicated(["year", "oblast", "placement_type"]).any():
        raise InputError(
            "series has several rows per year, oblast and placement type; pass a yearly "
            "series (episodes_to_series(..., freq='YS', by=('oblast', 'placement_type')))."
        )
    return frame


def family_based_share(series: pd.DataFrame, year: int, value: str = "in_care_end") -> pd.DataFrame:
    """Children in family-based care (foster + kinship) out of all children in formal care.

    Parameters
    ----------
    series : DataFrame
        Yearly counts by ``oblast`` and ``placement_type``:
        :func:`research_lib.placements.episodes_to_series` with
        ``by=("oblast", "placement_type")`` or ``load_counts(...).valid``.
    year : int
        The year (``in_care_end`` = at 31 December of it).
    value : str, default "in_care_end"

    Returns
    -------
    DataFrame
        ``oblast, year, count`` (foster + kinship), ``total`` (foster, kinship,
        ЦНСТ, institution) - one row per oblast and a national ``all`` row (the
        given ``all`` rows if the series has them, else the sum of the oblasts).
        Own-family (``family``) placements are not formal care and not counted.

    Examples
    --------
    >>> series = pd.DataFrame({"period": pd.to_datetime(["2020-01-01"] * 3),
    ...     "oblast": ["BG311"] * 3, "placement_type": ["foster", "institution", "family"],
    ...     "in_care_end": [3, 1, 9]})
    >>> family_based_share(series, 2020)[["oblast", "count", "total"]].values.tolist()
    [['BG311', 3, 4], ['all', 3, 4]]
    """
    frame = _yearly(series, value)
    frame = frame.loc[(frame["year"] == int(year)) & frame["placement_type"].isin(FORMAL_CARE)]
    if frame.empty:
        raise InputError(f"series has no formal-care counts for {year}.")
    frame = frame.assign(
        family=np.where(frame["placement_type"].isin(FAMILY_BASED), _numbers(frame, value), 0.0),
        formal=_numbers(frame, value),
    )
    sums = frame.groupby("oblast", sort=True)[["family", "formal"]].sum(min_count=1)
    if NATIONAL not in sums.index:
        sums.loc[NATIONAL] = sums.sum(min_count=1)
    out = pd.DataFrame(
        {
            "oblast": sums.index.astype(str),
            "year": int(year),
            "count": sums["family"].to_numpy(),
            "total": sums["formal"].to_numpy(),
        }
    )
    return out.astype({"count": "int64", "total": "int64"}, errors="ignore")


def _population_0_17(
    population: pd.DataFrame | LoadResult, oblasts: Sequence[str], year: int
) -> np.ndarray:
    table = _population_table(population)
    keys = pd.MultiIndex.from_arrays(
        [list(oblasts), [int(year)] * len(oblasts), [CHILD_AGE_BAND] * len(oblasts)]
    )
    return table.reindex(keys).to_numpy(dtype="float64")


def foster_growth(
    series: pd.DataFrame,
    start_year: int,
    end_year: int,
    value: str = "in_care_end",
    placement_type: str | Sequence[str] = "foster",
    population: pd.DataFrame | LoadResult | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Growth of foster care per oblast between two years, against national growth.

    Parameters
    ----------
    series : DataFrame
        Yearly counts by ``oblast`` and ``placement_type`` (see
        :func:`family_based_share`).
    start_year, end_year : int
        The two years compared (``in_care_end``: children in foster care at 31
        December of each).
    value : str, default "in_care_end"
        The count column (``entries`` compares the yearly entries instead).
    placement_type : str or sequence of str, default "foster"
        The placement type(s) summed, e.g. ``("foster", "kinship")``.
    population : DataFrame or LoadResult, optional
        Child population (0-17) by oblast and year: growth of the *rate* per child
        instead of the count (the count ratio times the population ratio).
    confidence : float, default 0.95
        Level of the interval of each oblast's growth.

    Returns
    -------
    DataFrame
        One row per oblast: ``oblast, start_year, end_year, count_start,
        count_end, growth`` (rate ratio end / start), ``ci_low, ci_high``,
        ``national_growth``, ``flag`` (``lagging`` when the whole CI is below the
        national growth, ``ahead`` when above, ``no estimate`` without counts,
        else ``in line``) and ``lagging``
        (bool); sorted by growth. With ``population``: ``population_start,
        population_end`` too.

    Notes
    -----
    The two counts are treated as independent Poisson counts and the ratio's CI
    is the exact conditional one (Clopper-Pearson on ``end / (start + end)``,
    transformed to ``p / (1 - p)``; :func:`research_lib.indicators.poisson_ratio_ci`)
    multiplied by ``population_start / population_end`` for rates. Children in
    care at both dates make the two stocks positively correlated, which makes
    this interval conservative (too wide), so a ``lagging`` flag is, if anything,
    cautious. National growth is that of the ``all`` rows when the series has
    them, else of the sum of the oblasts, taken as known; an oblast's own counts
    are part of it. An oblast with no foster care in ``start_year`` has no finite
    growth (NaN, upper limit infinite) and can only be flagged ``ahead``; one
    with none in either year is ``no estimate``.

    Examples
    --------
    >>> series = pd.DataFrame({"period": pd.to_datetime(["2015-01-01", "2025-01-01"] * 3),
    ...     "oblast": ["BG311", "BG311", "BG312", "BG312", "BG313", "BG313"],
    ...     "placement_type": "foster", "in_care_end": [100, 400, 100, 420, 50, 60]})
    >>> table = foster_growth(series, 2015, 2025)
    >>> table[["oblast", "growth", "flag"]].values.tolist()
    [['BG313', 1.2, 'lagging'], ['BG311', 4.0, 'in line'], ['BG312', 4.2, 'in line']]
    """
    frame = _yearly(series, value)
    types = [placement_type] if isinstance(placement_type, str) else list(placement_type)
    frame = frame.loc[frame["placement_type"].isin(types)]
    years = (int(start_year), int(end_year))
    counts = (
        frame.loc[frame["year"].isin(years)]
        .assign(_n=lambda f: _numbers(f, value))
        .pivot_table(index="oblast", columns="year", values="_n", aggfunc="sum")
        .reindex(columns=list(years))
    )
    if counts.isna().all().any():
        raise InputError(f"series has no {'/'.join(types)} counts for one of the years {years}.")
    national_given = NATIONAL in counts.index
    oblasts = counts.loc[counts.index != NATIONAL]
    national = counts.loc[NATIONAL] if national_given else oblasts.sum()
    start, end = oblasts[years[0]].to_numpy(), oblasts[years[1]].to_numpy()
    growth, low, high = poisson_ratio_ci(end, start, confidence)
    national_growth = float(national[years[1]] / national[years[0]])
    out = pd.DataFrame(
        {
            "oblast": oblasts.index.astype(str),
            "start_year": years[0],
            "end_year": years[1],
            "count_start": start,
            "count_end": end,
        }
    )
    if population is not None:
        names = [*out["oblast"], NATIONAL]
        pop_start = _population_0_17(population, names, years[0])
        pop_end = _population_0_17(population, names, years[1])
        scale = pop_start / pop_end
        growth, low, high = growth * scale[:-1], low * scale[:-1], high * scale[:-1]
        national_growth *= float(scale[-1])
        out["population_start"] = pop_start[:-1]
        out["population_end"] = pop_end[:-1]
    out["growth"] = growth
    out["ci_low"] = low
    out["ci_high"] = high
    out["national_growth"] = national_growth
    out["flag"] = np.select(
        [np.isnan(low) | np.isnan(high), high < national_growth, low > national_growth],
        ["no estimate", "lagging", "ahead"],
        "in line",
    )
    out["lagging"] = out["flag"].eq("lagging")
    return out.sort_values(["growth", "oblast"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- plot

_DEFAULT_LABELS = {
    "x": None,
    "y": None,
    "title": "",
    "national": "National",
    "limit": "{level} limits",
}


def _point_label(code: object, language: str) -> str:
    text = str(code)
    if text == NATIONAL or text in load_oblasts().index:
        return oblast_name(text, language)
    return text


def plot_funnel(
    table: pd.DataFrame,
    limits: pd.DataFrame | None = None,
    ax: Any = None,
    labels: Mapping[str, str] | None = None,
    highlight: Iterable[str] | None = None,
    language: str = "bg",
    unit: str = "oblast",
) -> Any:
    """Funnel plot: each oblast's rate (or share) against its size, with the limits.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`funnel_table` (rates) or :func:`funnel_proportions` (shares).
    limits : DataFrame, optional
        Output of :func:`funnel_limits` / :func:`funnel_proportion_limits` over a
        grid of sizes for smooth curves; default: a grid spanning the table.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure when omitted.
    labels : dict, optional
        Text: ``x``, ``y``, ``title``, ``national`` and ``limit`` (a format with
        ``{level}``, e.g. ``"{level} граници"``). Missing keys: English.
    highlight : iterable of str, optional
        Oblast codes drawn in a contrasting colour (e.g. the lagging oblasts).
    language : {"bg", "en"}, default "bg"
        Language of the oblast names beside the points
        (:func:`research_lib.regions.oblast_name`).
    unit : str, default "oblast"
        The unit column of ``table``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> counts = pd.DataFrame({"oblast": ["BG311", "BG411"], "count": [30, 200],
    ...                        "population": [20_000, 200_000]})
    >>> ax = plot_funnel(funnel_table(counts), highlight=["BG311"])
    >>> sorted(t.get_text() for t in ax.texts)
    ['Видин', 'София (столица)']
    """
    import matplotlib.pyplot as plt

    unknown = set(labels or {}) - set(_DEFAULT_LABELS)
    if unknown:
        raise InputError(f"unknown label key(s) {sorted(unknown)}; use {sorted(_DEFAULT_LABELS)}.")
    is_rate = "rate" in table.columns
    x, y, target = (
        ("population", "rate", "national_rate") if is_rate else ("total", "share", "national_share")
    )
    _require(table, [unit, x, y, target], "table")
    lab = {
        **_DEFAULT_LABELS,
        "x": "Child population" if is_rate else "Children in formal care",
        "y": "Rate per 100,000 children" if is_rate else "Share",
        **(labels or {}),
    }
    levels = sorted(
        (c.removeprefix("high_") for c in table.columns if c.startswith("high_")), key=len
    )
    national = float(table[target].iloc[0])
    if limits is None:
        sizes = _numbers(table, x)
        sizes = sizes[np.isfinite(sizes) & (sizes > 0)]
        grid = np.geomspace(sizes.min() * 0.8, sizes.max() * 1.2, 200)
        if not is_rate:  # binomial limits need whole numbers of children
            grid = np.unique(np.round(grid))
        fractions = [_level_of(name) for name in levels]
        limits = (
            funnel_limits(national, grid, levels=fractions)
            if is_rate
            else funnel_proportion_limits(national, grid, levels=fractions)
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5.5))
    styles = ["--", ":", "-."]
    for i, name in enumerate(levels):
        style = styles[i % len(styles)]
        level_text = f"{_level_of(name) * 100:g}%"
        if language == "bg":
            level_text = level_text.replace(".", ",")
        ax.plot(
            limits[x],
            limits[f"high_{name}"],
            color="0.35",
            ls=style,
            lw=1.1,
            label=lab["limit"].format(level=level_text),
        )
        ax.plot(limits[x], limits[f"low_{name}"], color="0.35", ls=style, lw=1.1)
    ax.axhline(national, color="0.2", lw=1.2, label=lab["national"])
    marked = {str(h) for h in (highlight or ())}
    is_marked = table[unit].astype(str).isin(marked).to_numpy()
    ax.scatter(table.loc[~is_marked, x], table.loc[~is_marked, y], s=22, color="C0", zorder=3)
    if is_marked.any():
        ax.scatter(table.loc[is_marked, x], table.loc[is_marked, y], s=34, color="C3", zorder=4)
    for code, xv, yv, mark in zip(table[unit], table[x], table[y], is_marked, strict=True):
        if np.isfinite(xv) and np.isfinite(yv):
            ax.annotate(
                _point_label(code, language),
                (xv, yv),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=7,
                color="C3" if mark else "0.25",
                fontweight="bold" if mark else "normal",
            )
    ax.set_xlabel(lab["x"])
    ax.set_ylabel(lab["y"])
    if lab["title"]:
        ax.set_title(lab["title"])
    ax.legend(frameon=False, fontsize=8)
    return ax
