"""Regional comparison: oblast rates and shares against the national figure.

* :func:`funnel_limits` / :func:`funnel_table` - each oblast's rate per 100,000
  children with an exact Poisson CI against exact Poisson control limits
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
outside plain Poisson / binomial limits for reasons no single oblast controls.
:func:`overdispersion` tests for it (Pearson chi-squared on ``k - 1`` df) and
estimates the between-oblast variance ``tau^2`` from winsorised z-scores; the
funnel functions then widen the limits by additive random effects
(Spiegelhalter 2005, Qual Saf Health Care) and flag only beyond the widened
limits. With 28 oblasts about 1.4 fall outside 95% limits by chance alone; the
99.8% limits (about 0.06 by chance) are close to a Bonferroni 5% for 28
comparisons (:func:`expected_false_flags`).

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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from research_lib.errors import InputError
from research_lib.io.oblasts import NATIONAL, load_oblasts, oblast_name
from research_lib.io.surveys import LoadResult
from research_lib.io.vocab import CHILD_AGE_BAND
from research_lib.stats.indicators import FAMILY_BASED, FORMAL_CARE, poisson_ratio_ci, wilson_ci
from research_lib.stats.intervals import poisson_rate_ci
from research_lib.stats.series import population_denominators

__all__ = [
    "FUNNEL_LEVELS",
    "FLAGS",
    "MIN_UNITS_FOR_DISPERSION",
    "Dispersion",
    "overdispersion",
    "funnel_dispersion",
    "expected_false_flags",
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
#: Fewer units than this: no between-unit variance is estimated (plain limits).
MIN_UNITS_FOR_DISPERSION = 10
#: Accepted values of ``overdispersion`` in the funnel functions.
_DISPERSION_MODES = ("auto", "random_effects", "none")
#: Columns of a funnel table that describe its dispersion (one value per table).
_DISPERSION_COLUMNS = ("dispersion_chi2", "dispersion_df", "dispersion_p", "phi", "tau", "limits")


@dataclass(frozen=True)
class Dispersion:
    """Over-dispersion of a set of units around one target (Spiegelhalter 2005).

    Attributes
    ----------
    chi2 : float
        Pearson chi-squared, the sum of squared z-scores (not winsorised).
    df : int
        Degrees of freedom, ``units - 1``.
    p_value : float
        ``P(chi2_df >= chi2)``: small values mean more spread than chance allows.
    phi : float
        Over-dispersion factor from winsorised z-scores, ``sum(z_w^2) / units``
        divided by its value under no over-dispersion (1 = as much spread as
        chance alone).
    tau2 : float
        Additive between-unit variance on the indicator's scale (0 when ``phi``
        shows no excess spread or there are too few units).
    units : int
        Units used.
    widened : bool
        Whether the funnel limits were widened by ``tau2``.
    """

    chi2: float
    df: int
    p_value: float
    phi: float
    tau2: float
    units: int
    widened: bool

    @property
    def tau(self) -> float:
        """Between-unit standard deviation, ``sqrt(tau2)``."""
        return float(np.sqrt(self.tau2))

    @property
    def ratio(self) -> float:
        """Chi-squared over its df: how many times the chance spread (NaN with < 2 units)."""
        return self.chi2 / self.df if self.df > 0 else float("nan")


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


# ----------------------------------------------------------------------------- over-dispersion


def overdispersion(
    values: np.ndarray | Sequence[float],
    target: float,
    se: np.ndarray | Sequence[float],
    winsorise: float = 0.10,
    min_units: int = MIN_UNITS_FOR_DISPERSION,
    mode: str = "auto",
) -> Dispersion:
    """Test for over-dispersion and estimate the additive between-unit variance.

    Parameters
    ----------
    values : array-like
        Each unit's indicator (rate or share).
    target : float
        The value all units are compared with (the national figure).
    se : array-like
        Each unit's standard error *under the target* (e.g. ``sqrt(target *
        per / population)`` for a rate, ``sqrt(p (1 - p) / n)`` for a share).
    winsorise : float, default 0.10
        z-scores are pulled in to their ``winsorise`` and ``1 - winsorise``
        quantiles before ``phi`` is estimated, so a few true outliers do not
        inflate the limits that should reveal them.
    min_units : int, default :data:`MIN_UNITS_FOR_DISPERSION`
        With fewer units ``tau2`` is not estimated (0).
    mode : {"auto", "random_effects", "none"}, default "auto"
        ``auto`` widens the limits when the chi-squared test has ``p < 0.05``;
        ``random_effects`` whenever ``tau2 > 0``; ``none`` never.

    Returns
    -------
    Dispersion

    Notes
    -----
    Spiegelhalter (2005, Qual Saf Health Care 14:347): ``z_i = (y_i - target) /
    s_i``; ``phi = sum(z_w^2) / (I c_w)`` with ``z_w`` winsorised and ``c_w``
    the mean of a winsorised squared standard normal (0.679 at 10%), so that
    ``phi`` is about 1 without over-dispersion - without ``c_w`` the
    winsorised ``phi`` underestimates the spread by a third and, in simulation
    (tests/test_regional.py, benchmarks/bench_regional.py), about 10% of
    ordinary oblasts are flagged at 95% instead of 5%; the additive
    random-effects variance is the DerSimonian-Laird type moment estimate

    .. math:: \\tau^2 = \\frac{I\\phi - (I - 1)}{\\sum w_i - \\sum w_i^2 / \\sum w_i},
              \\quad w_i = 1 / s_i^2,

    set to 0 when ``I phi <= I - 1``. The limits for a unit are then
    ``target +/- z_p sqrt(s_i^2 + tau^2)``. The test reported is the plain
    Pearson chi-squared ``sum(z_i^2)`` on ``I - 1`` df.

    References
    ----------
    * Spiegelhalter DJ. Handling over-dispersion of performance indicators.
      Qual Saf Health Care. 2005;14(5):347-351. https://doi.org/10.1136/qshc.2005.013755
    * Spiegelhalter DJ. Funnel plots for comparing institutional performance.
      Stat Med. 2005;24(8):1185-1202.

    Examples
    --------
    >>> d = overdispersion([10, 12, 8, 30, 11, 9, 10, 13, 7, 10, 12, 9], 10.0, [1.0] * 12)
    >>> d.df, round(d.chi2, 1), d.widened
    (11, 433.0, True)
    """
    if mode not in _DISPERSION_MODES:
        raise InputError(f"overdispersion={mode!r}; use one of {', '.join(_DISPERSION_MODES)}.")
    if not 0 <= winsorise < 0.5:
        raise InputError(f"winsorise={winsorise!r} must be in [0, 0.5).")
    y = np.asarray(values, dtype="float64").ravel()
    s = np.asarray(se, dtype="float64").ravel()
    ok = np.isfinite(y) & np.isfinite(s) & (s > 0)
    y, s = y[ok], s[ok]
    units = int(y.size)
    if units < 2:
        return Dispersion(np.nan, 0, np.nan, np.nan, 0.0, units, False)
    z = (y - float(target)) / s
    chi2 = float(np.sum(z**2))
    df = units - 1
    p_value = float(stats.chi2.sf(chi2, df))
    low, high = np.quantile(z, [winsorise, 1 - winsorise])
    phi = float(np.mean(np.clip(z, low, high) ** 2)) / _winsorised_second_moment(winsorise)
    w = 1 / s**2
    tau2 = 0.0
    if units >= min_units and units * phi > df:
        tau2 = float((units * phi - df) / (w.sum() - (w**2).sum() / w.sum()))
    widened = tau2 > 0 and (mode == "random_effects" or (mode == "auto" and p_value < 0.05))
    return Dispersion(chi2, df, p_value, phi, tau2 if widened else 0.0, units, widened)


_overdispersion = overdispersion


def _winsorised_second_moment(winsorise: float) -> float:
    """``E[Z_w^2]`` of a standard normal winsorised at its ``w`` and ``1 - w`` quantiles."""
    if winsorise == 0:
        return 1.0
    q = stats.norm.ppf(1 - winsorise)
    return float((1 - 2 * winsorise) - 2 * q * stats.norm.pdf(q) + 2 * winsorise * q**2)


def funnel_dispersion(table: pd.DataFrame) -> Dispersion:
    """The :class:`Dispersion` of a table from :func:`funnel_table` or :func:`funnel_proportions`.

    Examples
    --------
    >>> counts = pd.DataFrame({"oblast": ["BG311", "BG411"], "count": [30, 200],
    ...                        "population": [20_000, 200_000]})
    >>> funnel_dispersion(funnel_table(counts)).df
    1
    """
    _require(table, _DISPERSION_COLUMNS, "table")
    if table.empty:
        return Dispersion(np.nan, 0, np.nan, np.nan, 0.0, 0, False)
    row = table.iloc[0]
    tau = float(row["tau"])
    return Dispersion(
        chi2=float(row["dispersion_chi2"]),
        df=int(row["dispersion_df"]),
        p_value=float(row["dispersion_p"]),
        phi=float(row["phi"]),
        tau2=tau**2,
        units=int(row["dispersion_df"]) + 1,
        widened=str(row["limits"]) == "random_effects",
    )


def expected_false_flags(units: int, level: float) -> float:
    """How many of ``units`` fall outside two-sided ``level`` limits by chance alone.

    The multiplicity of a funnel plot: each unit is one test, so with 28 oblasts
    ``28 * 0.05 = 1.4`` are expected outside the 95% limits when none differs,
    and ``28 * 0.002 = 0.056`` outside the 99.8% limits (close to a Bonferroni
    5% family-wise level for 28 comparisons, ``0.05 / 28 = 0.0018``).

    Examples
    --------
    >>> expected_false_flags(28, 0.95), round(expected_false_flags(28, 0.998), 3)
    (1.4000000000000012, 0.056)
    """
    if not 0 < level < 1:
        raise InputError(f"level {level!r} must be between 0 and 1.")
    return int(units) * (1 - float(level))


def _add_dispersion(table: pd.DataFrame, dispersion: Dispersion, plain: str) -> None:
    table["dispersion_chi2"] = dispersion.chi2
    table["dispersion_df"] = dispersion.df
    table["dispersion_p"] = dispersion.p_value
    table["phi"] = dispersion.phi
    table["tau"] = dispersion.tau
    table["limits"] = "random_effects" if dispersion.widened else plain


# ----------------------------------------------------------------------------- rates


def funnel_limits(
    national_rate: float,
    population: np.ndarray | Sequence[float],
    per: int = 100_000,
    levels: Sequence[float] = FUNNEL_LEVELS,
    tau: float = 0.0,
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
    tau : float, default 0
        Between-unit standard deviation of the rate (per ``per``), from
        :func:`overdispersion`; above 0 the limits are the additive
        random-effects limits ``rate +/- z sqrt(rate per / n + tau^2)``.

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
    if tau > 0:
        spread = np.sqrt(rate * per / n + float(tau) ** 2)
        for level in levels:
            name, z = _level_name(level), stats.norm.ppf(1 - (1 - level) / 2)
            out[f"low_{name}"] = np.maximum(rate - z * spread, 0.0)
            out[f"high_{name}"] = rate + z * spread
        return pd.DataFrame(out)
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
    plain: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Add the expected count, the control limits of each level and the flags to ``table``.

    Units without a valid size (``valid`` false) get no limits and no flag.
    ``plain``: the unwidened limits, whose flags go to ``plain_outside_<level>``
    (for comparison only; the flags that count are ``outside_<level>``).
    """
    plain = limits if plain is None else plain
    for level in levels:
        name = _level_name(level)
        low = np.where(valid, plain[f"low_{name}"], np.nan)
        high = np.where(valid, plain[f"high_{name}"], np.nan)
        table[f"plain_outside_{name}"] = _flags(values, low, high)
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
    overdispersion: str = "auto",
) -> pd.DataFrame:
    """Each oblast's rate against funnel limits around the national rate, over-dispersion allowed.

    Parameters
    ----------
    rates : DataFrame
        One row per unit (oblast) with a count and a population column (e.g. one
        year of :func:`research_lib.stats.series.add_rates`). A row with
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
    overdispersion : {"auto", "random_effects", "none"}, default "auto"
        When to widen the limits by the between-oblast variance (see
        :func:`overdispersion`): ``auto`` when the dispersion test has ``p <
        0.05`` (and at least :data:`MIN_UNITS_FOR_DISPERSION` units).

    Returns
    -------
    DataFrame
        ``<unit>, count, population, rate, ci_low, ci_high, z`` (under the
        target), ``plain_outside_<level>`` (against exact Poisson limits, for
        comparison), ``national_rate, expected, low_<level>, high_<level>,
        outside_<level>`` (the limits used and the flags that count, one of
        ``below, within, above``) and the dispersion columns
        ``dispersion_chi2, dispersion_df, dispersion_p, phi, tau, limits``
        (``poisson`` or ``random_effects``; read them with
        :func:`funnel_dispersion`).

    Notes
    -----
    A unit is ``above`` when its rate exceeds the upper limit at its population
    (strictly), ``below`` when under the lower limit. Without over-dispersion the
    limits are exact Poisson (:func:`funnel_limits`); with it, the additive
    random-effects limits ``rate +/- z sqrt(rate per / n + tau^2)``
    (Spiegelhalter 2005, Qual Saf Health Care), so an oblast is flagged only if
    it stands out from the ordinary spread between oblasts. The test is one unit
    against the target; with 28 oblasts about 1.4 fall outside the 95% limits by
    chance alone (0.06 outside 99.8%, :func:`expected_false_flags`).

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
    sizes = np.where(valid, n, 1.0)
    se = np.where(valid, np.sqrt(national_rate * per / sizes), np.nan)
    dispersion = _overdispersion(rate, national_rate, se, mode=overdispersion)
    table["z"] = (rate - national_rate) / se
    plain = funnel_limits(national_rate, sizes, per=per, levels=levels)
    limits = funnel_limits(national_rate, sizes, per=per, levels=levels, tau=dispersion.tau)
    table["national_rate"] = float(national_rate)
    table = _with_limits(table, rate, valid, limits, levels, plain)
    _add_dispersion(table, dispersion, "poisson")
    return table


# ----------------------------------------------------------------------------- proportions


def funnel_proportion_limits(
    national_share: float,
    total: np.ndarray | Sequence[float],
    levels: Sequence[float] = FUNNEL_LEVELS,
    tau: float = 0.0,
) -> pd.DataFrame:
    """Exact binomial funnel limits around ``national_share`` for each denominator size.

    Parameters
    ----------
    national_share : float
        The target proportion (0-1).
    total : array-like
        Denominators (e.g. children in formal care in an oblast).
    levels : sequence of float, default (0.95, 0.998)
    tau : float, default 0
        Between-unit standard deviation of the share (:func:`overdispersion`);
        above 0 the limits are ``share +/- z sqrt(share (1 - share) / n +
        tau^2)``, kept within [0, 1].

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
    if tau > 0:
        spread = np.sqrt(share * (1 - share) / n + float(tau) ** 2)
        for level in levels:
            name, z = _level_name(level), stats.norm.ppf(1 - (1 - level) / 2)
            out[f"low_{name}"] = np.clip(share - z * spread, 0.0, 1.0)
            out[f"high_{name}"] = np.clip(share + z * spread, 0.0, 1.0)
        return pd.DataFrame(out)
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
    overdispersion: str = "auto",
) -> pd.DataFrame:
    """Each oblast's share against binomial funnel limits, over-dispersion allowed.

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
    overdispersion : {"auto", "random_effects", "none"}, default "auto"
        As in :func:`funnel_table`.

    Returns
    -------
    DataFrame
        ``<unit>, count, total, share, ci_low, ci_high`` (Wilson), ``z``,
        ``plain_outside_<level>`` (binomial limits), ``national_share, expected,
        low_<level>, high_<level>, outside_<level>`` (limits used, flags that
        count) and the dispersion columns (:func:`funnel_dispersion`).

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
    sizes = np.where(valid, n, 1.0)
    se = np.where(valid, np.sqrt(national_share * (1 - national_share) / sizes), np.nan)
    dispersion = _overdispersion(share, national_share, se, mode=overdispersion)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["z"] = (share - national_share) / se
    plain = funnel_proportion_limits(national_share, sizes, levels=levels)
    limits = funnel_proportion_limits(national_share, sizes, levels=levels, tau=dispersion.tau)
    table["national_share"] = float(national_share)
    table = _with_limits(table, share, valid, limits, levels, plain)
    _add_dispersion(table, dispersion, "binomial")
    return table


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
        :func:`research_lib.stats.series.episodes_to_series` with
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


def _child_population(
    population: pd.DataFrame | LoadResult, oblasts: Sequence[str], year: int
) -> np.ndarray:
    """Children aged 0-17: the given 0-17 figure, else the sum of 0-3, 4-6 and 7-17."""
    table = population_denominators(population)
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
    flag_level: float = 0.95,
) -> pd.DataFrame:
    """Growth of foster care per oblast between two years, against what its starting level predicts.

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
        Child population by oblast, year and age band (0-17, or the bands 0-3,
        4-6 and 7-17 that add up to it): growth of the *rate* per child, and the
        starting rate per 100,000 children as the baseline covariate.
    confidence : float, default 0.95
        Level of the intervals of ``growth`` and ``relative_growth``.
    flag_level : float, default 0.95
        Level of the limits behind ``flag`` / ``lagging``. Each oblast is one
        test: with 28 oblasts and no true difference about 1.4 are flagged at
        95% by chance (:func:`expected_false_flags`). ``flag_998`` uses 99.8%
        limits, which keep the chance of any false flag among 28 oblasts near
        5% (Bonferroni: ``0.05 / 28 = 0.0018`` per oblast).

    Returns
    -------
    DataFrame
        One row per oblast, sorted by ``relative_growth``: ``oblast, start_year,
        end_year, count_start, count_end, growth`` (rate ratio end / start) with
        its exact ``ci_low, ci_high``; ``national_growth``; ``baseline`` (the
        starting rate per 100,000 children, or the starting count without a
        population); ``expected_growth`` (the growth the model predicts for an
        oblast with this starting level); ``relative_growth`` (= growth /
        expected_growth = observed / expected end count) with
        ``relative_ci_low, relative_ci_high`` (over-dispersion included);
        ``z``; ``flag`` (``lagging`` / ``ahead`` beyond the ``flag_level``
        limits, ``in line``, ``no estimate``), ``flag_998`` and ``lagging``
        (bool); and one value per table: ``baseline_slope`` with
        ``baseline_slope_low, baseline_slope_high`` (the factor on growth per
        unit of log baseline, see Notes), ``nb_alpha`` and ``model`` (text). With
        ``population``: ``population_start, population_end`` too.

    Notes
    -----
    Oblasts that started with more foster care grow less in relative terms
    (the demo and the national data both show it), so comparing every oblast's
    growth with the national growth penalises early starters. Instead the end
    count is modelled against the starting level, a negative binomial (NB2)
    regression

    .. math:: \\log E[Y_i] = \\log S_i + \\log(P_i^{end} / P_i^{start})
              + \\beta_0 + \\beta_1 (\\log b_i - \\overline{\\log b}),
              \\quad \\mathrm{Var}\\, Y_i = \\mu_i + \\alpha \\mu_i^2,

    with ``S`` the start count (offset), ``P`` the child population (omitted
    without one) and ``b`` the baseline (starting rate, or starting count).
    ``exp(beta_1)`` is the factor on growth per unit of log baseline
    (``baseline_slope``); ``alpha`` is the between-oblast over-dispersion.
    With fewer than :data:`MIN_UNITS_FOR_DISPERSION` oblasts the baseline term
    is dropped. An oblast's ``relative_growth`` is ``Y_i / mu_i``; its interval
    is ``exp(log(Y_i / mu_i) +/- z sd_i)`` with ``sd_i^2 = 1 / mu_i + alpha +
    x_i' V x_i`` (Poisson noise, between-oblast spread and the uncertainty of
    the fitted line). ``lagging`` means the whole ``flag_level`` interval lies
    below 1: the oblast grew less than oblasts that started at its level, by
    more than the ordinary spread between oblasts. The oblast's own counts are
    part of the fit (a conservative choice: it pulls the line towards itself).

    ``growth``'s own interval treats the two counts as independent Poisson
    counts (exact conditional, :func:`research_lib.stats.indicators.poisson_ratio_ci`),
    scaled by ``population_start / population_end`` for rates. An oblast with no
    foster care in ``start_year`` has no growth and ``no estimate``.

    References
    ----------
    * Spiegelhalter DJ. Qual Saf Health Care. 2005;14(5):347-351 (over-dispersion).
    * Hilbe JM. Negative Binomial Regression. 2nd ed. Cambridge UP; 2011.

    Examples
    --------
    >>> series = pd.DataFrame({"period": pd.to_datetime(["2015-01-01", "2025-01-01"] * 3),
    ...     "oblast": ["BG311", "BG311", "BG312", "BG312", "BG313", "BG313"],
    ...     "placement_type": "foster", "in_care_end": [100, 400, 100, 420, 50, 60]})
    >>> table = foster_growth(series, 2015, 2025)
    >>> table[["oblast", "growth"]].values.tolist()
    [['BG313', 1.2], ['BG311', 4.0], ['BG312', 4.2]]
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
    scale = np.ones(len(out))
    baseline = start.astype(float)
    if population is not None:
        names = [*out["oblast"], NATIONAL]
        pop_start = _child_population(population, names, years[0])
        pop_end = _child_population(population, names, years[1])
        ratio = pop_start / pop_end
        scale = ratio[:-1]
        growth, low, high = growth * scale, low * scale, high * scale
        national_growth *= float(ratio[-1])
        out["population_start"] = pop_start[:-1]
        out["population_end"] = pop_end[:-1]
        baseline = start / pop_start[:-1] * 100_000
    out["growth"] = growth
    out["ci_low"] = low
    out["ci_high"] = high
    out["national_growth"] = national_growth
    out["baseline"] = baseline
    model = _growth_model(start, end, scale, baseline, confidence, flag_level)
    for column, values in model.items():
        out[column] = values
    return out.sort_values(
        ["relative_growth", "oblast"], kind="stable", na_position="last"
    ).reset_index(drop=True)


def _growth_model(
    start: np.ndarray,
    end: np.ndarray,
    scale: np.ndarray,
    baseline: np.ndarray,
    confidence: float,
    flag_level: float,
) -> dict[str, object]:
    """Negative binomial model of the end count on the start count and the baseline."""
    import statsmodels.api as sm
    from statsmodels.discrete.discrete_model import NegativeBinomial

    start = np.asarray(start, dtype="float64")
    end = np.asarray(end, dtype="float64")
    scale = np.asarray(scale, dtype="float64")
    ok = np.isfinite(start) & np.isfinite(end) & (start > 0) & np.isfinite(scale) & (scale > 0)
    ok &= np.isfinite(baseline) & (baseline > 0)
    k = len(start)
    nan = np.full(k, np.nan)
    result: dict[str, object] = {
        "expected_growth": nan.copy(),
        "relative_growth": nan.copy(),
        "relative_ci_low": nan.copy(),
        "relative_ci_high": nan.copy(),
        "z": nan.copy(),
    }
    used = int(ok.sum())
    slope = np.array([np.nan, np.nan, np.nan])
    alpha = np.nan
    text = "no model (fewer than 2 oblasts with foster care at the start)"
    if used >= 2:
        offset = np.log(start[ok]) - np.log(scale[ok])
        log_b = np.log(baseline[ok])
        with_slope = used >= MIN_UNITS_FOR_DISPERSION
        x = (
            np.column_stack([np.ones(used), log_b - log_b.mean()])
            if with_slope
            else np.ones((used, 1))
        )
        y = end[ok]
        poisson = sm.GLM(y, x, family=sm.families.Poisson(), offset=offset).fit()
        params, cov, alpha = poisson.params, poisson.cov_params(), 0.0
        text = "Poisson"
        try:
            nb = NegativeBinomial(y, x, offset=offset, loglike_method="nb2").fit(
                start_params=np.append(poisson.params, 0.1), disp=0, maxiter=200
            )
            nb_alpha = float(nb.params[-1])
            if nb.mle_retvals.get("converged", True) and np.isfinite(nb_alpha) and nb_alpha > 1e-8:
                params = np.asarray(nb.params[:-1])
                cov = np.asarray(nb.cov_params())[:-1, :-1]
                alpha, text = nb_alpha, "negative binomial (NB2)"
        except (ValueError, np.linalg.LinAlgError):  # pragma: no cover - falls back to Poisson
            pass
        params, cov = np.asarray(params), np.asarray(cov)
        eta = x @ params
        mu = np.exp(eta + offset)
        var_eta = np.einsum("ij,jk,ik->i", x, cov, x)
        sd = np.sqrt(1 / mu + alpha + var_eta)
        log_ratio = np.log(np.maximum(y, 0.5) / mu)
        z_ci = stats.norm.ppf(1 - (1 - confidence) / 2)
        result["expected_growth"][ok] = np.exp(eta) * scale[ok]  # type: ignore[index]
        result["relative_growth"][ok] = y / mu  # type: ignore[index]
        result["relative_ci_low"][ok] = np.where(y > 0, np.exp(log_ratio - z_ci * sd), 0.0)  # type: ignore[index]
        result["relative_ci_high"][ok] = np.exp(log_ratio + z_ci * sd)  # type: ignore[index]
        result["z"][ok] = log_ratio / sd  # type: ignore[index]
        if with_slope:
            se = float(np.sqrt(cov[1, 1]))
            slope = np.exp(params[1] + np.array([0.0, -z_ci, z_ci]) * se)
            text += ", end count on start count (offset) and log baseline"
        else:
            text += f", end count on start count (offset); baseline term dropped (< {MIN_UNITS_FOR_DISPERSION} oblasts)"
    z = np.asarray(result["z"], dtype="float64")
    flags = {}
    for name, level in (("flag", flag_level), ("flag_998", 0.998)):
        cut = stats.norm.ppf(1 - (1 - level) / 2)
        flags[name] = np.select(
            [np.isnan(z), z < -cut, z > cut], ["no estimate", "lagging", "ahead"], "in line"
        )
    result.update(flags)
    result["lagging"] = flags["flag"] == "lagging"
    result["baseline_slope"] = slope[0]
    result["baseline_slope_low"] = slope[1]
    result["baseline_slope_high"] = slope[2]
    result["nb_alpha"] = alpha
    result["model"] = text
    return result


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
        (:func:`research_lib.io.oblasts.oblast_name`).
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
        tau = float(table["tau"].iloc[0]) if "tau" in table.columns else 0.0
        limits = (
            funnel_limits(national, grid, levels=fractions, tau=tau)
            if is_rate
            else funnel_proportion_limits(national, grid, levels=fractions, tau=tau)
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
