"""Confidence intervals shared by the statistics modules.

* :func:`poisson_rate_ci` — a rate per ``per`` population with the exact Poisson
  (Garwood 1936) interval, for counts of children over a population.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from research_lib.errors import InputError

__all__ = ["poisson_rate_ci"]


def poisson_rate_ci(
    count: object, population: object, per: float = 100_000, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate per ``per`` population with an exact Poisson (Garwood) confidence interval.

    Parameters
    ----------
    count : array-like
        Event counts (non-negative; NaN gives NaN).
    population : array-like
        Denominators (positive; NaN or <= 0 gives NaN: no rate without a denominator).
    per : float, default 100_000
        Rates per this many children.
    confidence : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    rate, low, high : ndarray
        Broadcast to a common shape; 0-d arrays for scalar inputs.

    Notes
    -----
    Garwood (1936): for ``k`` events the limits of the Poisson mean are
    ``chi2.ppf(a/2, 2k) / 2`` (0 when ``k = 0``) and ``chi2.ppf(1 - a/2, 2k + 2) / 2``
    with ``a = 1 - confidence``; the rate limits are these divided by the
    population, times ``per``. The population is treated as known exactly.

    Examples
    --------
    >>> rate, low, high = poisson_rate_ci(10, 100_000)
    >>> round(float(rate), 1), round(float(low), 3), round(float(high), 2)
    (10.0, 4.795, 18.39)
    """
    if not 0 < confidence < 1:
        raise InputError(f"confidence={confidence!r} must be between 0 and 1, e.g. 0.95.")
    k, n = np.broadcast_arrays(
        np.asarray(count, dtype="float64"), np.asarray(population, dtype="float64")
    )
    n = np.where(n > 0, n, np.nan)
    k = np.where(k >= 0, k, np.nan)
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
        high = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    low = np.where(np.isnan(k), np.nan, low)
    scale = per / n
    return k * scale, low * scale, high * scale
