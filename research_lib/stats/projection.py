"""Progress toward a target: extrapolating a recent log-linear trend in annual counts.

:func:`project_to_target` fits a log-linear (Poisson or quasi-Poisson GLM) trend
to recent annual counts - e.g. children aged 0-3 in residential care at 31
December - projects it forward with a prediction interval, and reports the year
the projected expected count reaches a target such as "no child aged 0-3 in
residential care", with an interval for that year. :func:`plot_projection`
draws it, the projection visibly set apart from the data.

A projection is an **extrapolation**: it assumes the recent trend continues
unchanged, which policies, closures and reporting changes make unlikely over
long horizons. Every result says so in its ``method``.

Examples
--------
>>> import pandas as pd
>>> counts = pd.DataFrame({"year": range(2019, 2026), "children": [120, 96, 80, 62, 51, 40, 33]})
>>> result = project_to_target(counts, "year", "children", horizon_end=2060, n_sim=500)
>>> result.target_text
'2045 (95% interval 2041-2052)'
>>> result.method.split(";")[0]
'Extrapolation of the 2019-2025 log-linear trend'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from research_lib.errors import InputError

__all__ = ["FAMILIES", "ProjectionResult", "project_to_target", "plot_projection"]

#: Accepted ``family`` values.
FAMILIES: tuple[str, ...] = ("poisson", "quasipoisson")
_DEFAULT_HORIZON = 20  # years after the last observation
_TABLE_COLUMNS = ("year", "observed", "fitted", "projected", "pi_low", "pi_high", "is_projection")


@dataclass(frozen=True, eq=False)
class ProjectionResult:
    """Result of :func:`project_to_target`.

    Attributes
    ----------
    table : DataFrame
        ``year, observed, fitted, projected, pi_low, pi_high, is_projection``:
        one row per observed year (``fitted`` = the trend's expected count in the
        fitted years) and per projected year up to the horizon (``projected`` =
        the expected count, ``is_projection`` True). ``pi_low, pi_high`` is the
        prediction interval of the count in the fitted and projected years.
    target : float
        The target count.
    target_year : int or None
        First year after the last observation whose projected expected count is
        below ``target + 0.5``; None when not within the horizon.
    target_year_low, target_year_high : int or None
        Interval for that year from the simulations (parameter uncertainty);
        ``target_year_high`` None when the upper end is beyond the horizon.
    horizon_end : int
        Last projected year.
    fit_years : tuple of int
        First and last year of the fit.
    rate_ratio : float
        Fitted yearly rate ratio ``exp(slope)``; ``rate_ratio_ci`` its Wald CI.
    dispersion : float
        1 for Poisson; Pearson chi2 / df for quasi-Poisson.
    method : str
        A sentence for a methods section, labelling the projection an extrapolation.
    """

    table: pd.DataFrame
    target: float
    target_year: int | None
    target_year_low: int | None
    target_year_high: int | None
    horizon_end: int
    fit_years: tuple[int, int]
    rate_ratio: float
    rate_ratio_ci: tuple[float, float]
    dispersion: float
    family: str
    confidence: float
    method: str
    fitted: Any = field(repr=False, compare=False)

    @property
    def target_text(self) -> str:
        """The target year in words, e.g. ``"2031 (95% interval 2029-2034)"``."""
        level = f"{self.confidence:.0%}"
        if self.target_year is None:
            return f"not within horizon (to {self.horizon_end})"
        high = "beyond the horizon" if self.target_year_high is None else self.target_year_high
        return f"{self.target_year} ({level} interval {self.target_year_low}-{high})"


def _check_inputs(
    series: pd.DataFrame, time: str, value: str, family: str, confidence: float, n_sim: int
) -> str:
    if not isinstance(series, pd.DataFrame):
        raise InputError("series must be a DataFrame with one row per year.")
    missing = [c for c in (time, value) if c not in series.columns]
    if missing:
        raise InputError(f"series lacks column(s) {', '.join(missing)}.")
    fam = str(family).lower().replace("-", "")
    if fam not in FAMILIES:
        raise InputError(f"family={family!r}: use one of {', '.join(FAMILIES)}.")
    if not 0 < confidence < 1:
        raise InputError(f"confidence={confidence!r} must be between 0 and 1, e.g. 0.95.")
    if int(n_sim) < 100:
        raise InputError(f"n_sim={n_sim!r}: use at least 100 simulations.")
    return fam


def _years(values: pd.Series) -> np.ndarray:
    """Years from integers or dates (a period's first day)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.year.to_numpy(dtype="int64")
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any() or (numbers != np.round(numbers)).any():
        raise InputError("the time column must hold whole years (2019) or dates.")
    return numbers.to_numpy(dtype="int64")


def _annual(series: pd.DataFrame, time: str, value: str) -> pd.DataFrame:
    years = _years(series[time])
    counts = pd.to_numeric(series[value], errors="coerce").to_numpy(dtype="float64")
    frame = pd.DataFrame({"year": years, "observed": counts}).sort_values("year")
    if frame["year"].duplicated().any():
        raise InputError(
            "series has several rows for a year; aggregate to one count per year first."
        )
    if frame["observed"].isna().any() or (frame["observed"] < 0).any():
        raise InputError(f"{value!r} must hold non-negative counts without gaps.")
    return frame.reset_index(drop=True)


def _crossing_years(
    intercept: np.ndarray, slope: np.ndarray, threshold: float, last: int
) -> np.ndarray:
    """First year > ``last`` with exp(intercept + slope (year - last)) < threshold (inf if none)."""
    log_t = math.log(threshold)
    falling = slope < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.where(falling, (log_t - intercept) / np.where(falling, slope, -1.0), np.nan)
    # strictly below: the first whole year after the crossing point (at least next year)
    first = np.where(falling, np.maximum(np.floor(steps) + 1, 1), np.inf)
    first = np.where(~falling & (intercept + slope < log_t), 1, first)
    return last + first


def _draws(fitted: Any, n_sim: int, rng: np.random.Generator) -> np.ndarray:
    """Coefficient draws (n_sim x 2) from the estimated sampling distribution."""
    mean = np.asarray(fitted.params, dtype="float64")
    cov = np.asarray(fitted.cov_params(), dtype="float64")
    return rng.multivariate_normal(mean, cov, size=n_sim, method="cholesky")


def _counts(mu: np.ndarray, dispersion: float, rng: np.random.Generator) -> np.ndarray:
    """Counts with mean ``mu``: Poisson, or gamma-Poisson with variance ``dispersion * mu``."""
    if dispersion <= 1:
        return rng.poisson(mu)
    shape = mu / (dispersion - 1)
    return rng.poisson(rng.gamma(shape, dispersion - 1))


def project_to_target(
    series: pd.DataFrame,
    time: str,
    value: str,
    target: float = 0,
    horizon_end: int | None = None,
    family: str = "poisson",
    confidence: float = 0.95,
    fit_from: int | None = None,
    n_sim: int = 2000,
    seed: int = 20251124,
) -> ProjectionResult:
    """Project annual counts forward on their recent log-linear trend to a target.

    Parameters
    ----------
    series : DataFrame
        One row per year: ``time`` (whole years, or dates such as the ``period``
        of :func:`research_lib.stats.series.episodes_to_series`) and ``value`` (a
        count, e.g. children aged 0-3 in residential care at 31 December).
    time, value : str
        Column names.
    target : float, default 0
        The target count; reached when the expected count falls below
        ``target + 0.5`` (for 0: the most likely count is 0).
    horizon_end : int, optional
        Last year projected; default 20 years after the last observation.
    family : {"poisson", "quasipoisson"}, default "poisson"
        ``quasipoisson`` scales the coefficient covariance by the Pearson
        dispersion and draws over-dispersed counts.
    confidence : float, default 0.95
        Level of the prediction interval and of the target-year interval.
    fit_from : int, optional
        First year of the fit (default: the first year of ``series``). Use the
        recent years whose trend you want to extrapolate.
    n_sim : int, default 2000
        Number of simulations.
    seed : int, default 20251124
        Seed of the simulations (the same seed gives the same intervals).

    Returns
    -------
    ProjectionResult

    Raises
    ------
    InputError
        Missing columns, years given twice, negative or missing counts, fewer
        than three fitted years, or no event at all in the fitted years.

    Notes
    -----
    *Model.* ``log E[Y_t] = b0 + b1 (t - T)`` with ``T`` the last observed year,
    fitted by a Poisson GLM (statsmodels, log link) on the years from ``fit_from``
    to ``T``; quasi-Poisson multiplies the covariance by ``phi`` = Pearson chi2 /
    residual df (when ``phi > 1``).

    *Prediction interval.* ``n_sim`` coefficient vectors are drawn from the
    normal approximation ``N(b_hat, V_hat)`` (parameter uncertainty); each gives
    expected counts ``mu*_t``, and a count is drawn from Poisson(``mu*_t``) (or a
    gamma-Poisson with variance ``phi mu*_t`` for quasi-Poisson) - the noise of
    the year itself. The interval is the ``(1-confidence)/2`` and
    ``(1+confidence)/2`` quantiles of the simulated counts. ``projected`` is the
    point estimate ``exp(b0_hat + b1_hat (t - T))``.

    *Target year.* The first year after ``T`` in which the expected count
    (point estimate) is below ``target + 0.5``; its interval is the quantiles of
    the same year computed for each coefficient draw, i.e. it reflects the
    uncertainty of the trend, not the year-to-year noise. A rising or flat trend
    never reaches a lower target ("not within horizon"); so does one that
    reaches it only after ``horizon_end``.

    It is an extrapolation: it says when the target would be reached if the
    trend of the fitted years went on, not when it will be. A log-linear trend
    approaches 0 without reaching it, so small numbers of the last children in
    care - often the hardest to place - are where it is least reliable.

    References
    ----------
    * McCullagh P, Nelder JA. Generalized Linear Models. 2nd ed. Chapman & Hall; 1989.
    * Gelman A, Hill J. Data Analysis Using Regression and Multilevel/Hierarchical
      Models. Cambridge University Press; 2007 (ch. 7, predictive simulation).

    Examples
    --------
    >>> counts = pd.DataFrame({"year": range(2015, 2026),
    ...     "n": [300, 260, 200, 150, 109, 77, 60, 51, 40, 31, 25]})
    >>> result = project_to_target(counts, "year", "n", fit_from=2019, horizon_end=2060, n_sim=500)
    >>> result.target_year, result.target_year_low, result.target_year_high
    (2041, 2038, 2047)
    >>> result.table.columns.tolist()
    ['year', 'observed', 'fitted', 'projected', 'pi_low', 'pi_high', 'is_projection']
    """
    fam = _check_inputs(series, time, value, family, confidence, n_sim)
    annual = _annual(series, time, value)
    last = int(annual["year"].max())
    first = int(annual["year"].min()) if fit_from is None else int(fit_from)
    fit = annual.loc[annual["year"] >= first]
    if len(fit) < 3:
        raise InputError(
            f"fit_from={fit_from!r} leaves {len(fit)} year(s); a trend needs at least 3."
        )
    if fit["observed"].sum() == 0:
        raise InputError("every count in the fitted years is 0; there is no trend to extrapolate.")
    threshold = float(target) + 0.5
    if not target >= 0:
        raise InputError(f"target={target!r} must be 0 or more.")
    horizon = last + _DEFAULT_HORIZON if horizon_end is None else int(horizon_end)
    if horizon <= last:
        raise InputError(f"horizon_end={horizon_end!r} must be after the last year ({last}).")

    design = sm.add_constant((fit["year"] - last).to_numpy(dtype="float64"))
    model = sm.GLM(fit["observed"].to_numpy(), design, family=sm.families.Poisson())
    fitted = model.fit(scale="X2" if fam == "quasipoisson" else 1.0)
    dispersion = float(fitted.scale) if fam == "quasipoisson" else 1.0
    rng = np.random.default_rng(seed)
    draws = _draws(fitted, int(n_sim), rng)

    years = np.arange(first, horizon + 1)
    offsets = (years - last).astype("float64")
    beta = np.asarray(fitted.params, dtype="float64")
    point = np.exp(beta[0] + beta[1] * offsets)
    mu = np.exp(draws[:, [0]] + draws[:, [1]] * offsets[None, :])
    simulated = _counts(mu, dispersion, rng)
    alpha = 1 - confidence
    pi_low = np.quantile(simulated, alpha / 2, axis=0, method="inverted_cdf")
    pi_high = np.quantile(simulated, 1 - alpha / 2, axis=0, method="inverted_cdf")

    crossing = _crossing_years(np.array([beta[0]]), np.array([beta[1]]), threshold, last)[0]
    sim_crossing = _crossing_years(draws[:, 0], draws[:, 1], threshold, last)
    low_year = np.quantile(sim_crossing, alpha / 2, method="lower")
    high_year = np.quantile(sim_crossing, 1 - alpha / 2, method="higher")

    def within(year: float) -> int | None:
        return int(year) if np.isfinite(year) and year <= horizon else None

    table = _table(annual, years, last, point, pi_low, pi_high)
    slope_ci = fitted.conf_int(alpha=alpha)[1]
    method = _method(first, last, fam, dispersion, confidence, int(n_sim), seed, target)
    return ProjectionResult(
        table=table,
        target=float(target),
        target_year=within(crossing),
        target_year_low=within(low_year),
        target_year_high=within(high_year),
        horizon_end=horizon,
        fit_years=(first, last),
        rate_ratio=float(np.exp(beta[1])),
        rate_ratio_ci=(float(np.exp(slope_ci[0])), float(np.exp(slope_ci[1]))),
        dispersion=dispersion,
        family=fam,
        confidence=float(confidence),
        method=method,
        fitted=fitted,
    )


def _table(
    annual: pd.DataFrame,
    years: np.ndarray,
    last: int,
    point: np.ndarray,
    pi_low: np.ndarray,
    pi_high: np.ndarray,
) -> pd.DataFrame:
    trend = pd.DataFrame(
        {"year": years, "_point": point, "pi_low": pi_low, "pi_high": pi_high}
    ).astype({"pi_low": "float64", "pi_high": "float64"})
    table = pd.merge(annual, trend, on="year", how="outer").sort_values("year")
    projected = table["year"].to_numpy() > last
    table["fitted"] = table["_point"].where(~projected)
    table["projected"] = table["_point"].where(projected)
    table["is_projection"] = projected
    table["year"] = table["year"].astype("int64")
    return table[list(_TABLE_COLUMNS)].reset_index(drop=True)


def _method(
    first: int,
    last: int,
    fam: str,
    dispersion: float,
    confidence: float,
    n_sim: int,
    seed: int,
    target: float,
) -> str:
    model = (
        "Poisson GLM" if fam == "poisson" else f"quasi-Poisson GLM (dispersion {dispersion:.2f})"
    )
    return (
        f"Extrapolation of the {first}-{last} log-linear trend; assumes the trend continues. "
        f"{model} with log link on annual counts; {confidence:.0%} prediction intervals from "
        f"{n_sim} simulations (coefficients drawn from their estimated normal distribution, "
        f"then {'Poisson' if fam == 'poisson' else 'over-dispersed Poisson'} counts; seed "
        f"{seed}); target reached when the expected count falls below {target + 0.5:g}, "
        "its interval from the coefficient draws."
    )


_DEFAULT_LABELS = {
    "x": "Year",
    "y": "Count",
    "title": "",
    "observed": "Observed",
    "fitted": "Fitted trend",
    "projection": "Projection (extrapolation)",
    "interval": "{level} prediction interval",
    "target": "Target",
}


def plot_projection(
    result: ProjectionResult, ax: Any = None, labels: dict[str, str] | None = None
) -> Any:
    """Plot the observed counts, the fitted trend and the projection.

    Parameters
    ----------
    result : ProjectionResult
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure when omitted.
    labels : dict, optional
        Text (e.g. Bulgarian): ``x, y, title, observed, fitted, projection,
        interval`` (a format with ``{level}``), ``target``. Missing keys: English.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Observed counts are points, the fitted trend a solid line, the projection a
    dashed line in another colour with its shaded prediction band and the label
    "Projection (extrapolation)"; a dotted line marks the target and, when it is
    reached within the horizon, a vertical dotted line the target year.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> counts = pd.DataFrame({"year": range(2019, 2026), "n": [120, 96, 80, 62, 51, 40, 33]})
    >>> ax = plot_projection(project_to_target(counts, "year", "n", n_sim=200))
    >>> [line.get_linestyle() for line in ax.get_lines()][:2]
    ['-', '--']
    """
    import matplotlib.pyplot as plt

    unknown = set(labels or {}) - set(_DEFAULT_LABELS)
    if unknown:
        raise InputError(f"unknown label key(s) {sorted(unknown)}; use {sorted(_DEFAULT_LABELS)}.")
    lab = {**_DEFAULT_LABELS, **(labels or {})}
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    table = result.table
    fit = table.loc[table["fitted"].notna()]
    future = table.loc[table["is_projection"]]
    # the projection starts at the last fitted point so the two lines join
    joined = pd.concat([fit.tail(1).assign(projected=fit["fitted"].iloc[-1]), future])
    ax.plot(fit["year"], fit["fitted"], color="C0", lw=2, ls="-", label=lab["fitted"])
    ax.plot(joined["year"], joined["projected"], color="C1", lw=2, ls="--", label=lab["projection"])
    ax.fill_between(
        future["year"],
        future["pi_low"],
        future["pi_high"],
        color="C1",
        alpha=0.2,
        lw=0,
        label=lab["interval"].format(level=f"{result.confidence:.0%}"),
    )
    ax.scatter(table["year"], table["observed"], s=16, color="0.3", zorder=3, label=lab["observed"])
    ax.axhline(result.target, color="0.4", ls=":", lw=1, label=lab["target"])
    if result.target_year is not None:
        ax.axvline(result.target_year, color="C1", ls=":", lw=1)
    ax.set_xlabel(lab["x"])
    ax.set_ylabel(lab["y"])
    if lab["title"]:
        ax.set_title(lab["title"])
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8)
    return ax
