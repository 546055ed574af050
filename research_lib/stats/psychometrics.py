"""Instrument quality per domain: reliability (alpha, omega) and item statistics.

Everything is read from the codebook: which items form a domain, their scales,
which are reverse-keyed and which answer codes mean "missing". Items enter the
computations as :func:`research_lib.stats.scoring.item_matrix` gives them — rescaled to
0-100, reverse items turned, missing codes as NaN — so a reverse-keyed item
correlates positively with its domain when the instrument works as intended.

:func:`reliability`
    One row per domain: Cronbach's alpha with Feldt's confidence interval,
    McDonald's omega total from a one-factor maximum-likelihood model with a
    percentile bootstrap interval, missing answers and floor / ceiling effects
    of the domain score.
:func:`item_statistics`
    One row per item: answers, mean, SD, corrected item-rest correlation,
    floor / ceiling shares and missing share.

Examples
--------
>>> from research_lib.io.codebook import load_codebook
>>> from research_lib.paths import SURVEYS_DIR
>>> from research_lib.demo.survey import make_survey
>>> from research_lib.io.surveys import validate_responses
>>> book = load_codebook(SURVEYS_DIR / "qol-child-v1.yaml")
>>> valid = validate_responses(make_survey(book, n_services=30, seed=1), book).valid
>>> table = reliability(valid, book, n_boot=100)
>>> list(table["domain"]) == book.domain_ids
True
>>> bool((table["alpha"] > 0.4).all())
True
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from research_lib.io.codebook import Codebook
from research_lib.stats.scoring import item_matrix, score_responses

__all__ = [
    "MIN_N",
    "RELIABILITY_COLUMNS",
    "ITEM_COLUMNS",
    "reliability",
    "item_statistics",
    "cronbach_alpha",
    "feldt_ci",
    "omega_total",
    "fit_one_factor",
]

#: Fewest complete cases for which alpha and omega are computed.
MIN_N = 10
#: Columns of :func:`reliability`, in order.
RELIABILITY_COLUMNS: tuple[str, ...] = (
    "domain",
    "k",
    "n",
    "n_any",
    "alpha",
    "alpha_ci_low",
    "alpha_ci_high",
    "omega",
    "omega_ci_low",
    "omega_ci_high",
    "share_missing",
    "floor",
    "ceiling",
    "low_alpha",
    "method",
)
#: Columns of :func:`item_statistics`, in order.
ITEM_COLUMNS: tuple[str, ...] = (
    "item",
    "domain",
    "n",
    "mean",
    "sd",
    "item_rest_r",
    "floor",
    "ceiling",
    "share_missing",
    "reverse",
)

#: Lower bound of a standardised uniqueness in the factor fit (as in R's psych::fa).
_PSI_FLOOR = 0.005
#: Convergence tolerance and cap on accelerated EM steps of the factor fit.
_TOL = 1e-7
_MAX_ITER = 1000
#: Bootstrap replicates are built in chunks of at most this many resampled rows.
_CHUNK_CELLS = 2_000_000


# --------------------------------------------------------------------------- #
# Coefficients
# --------------------------------------------------------------------------- #
def cronbach_alpha(cov: np.ndarray) -> float:
    """Cronbach's alpha from an item covariance matrix.

    ``k / (k - 1) * (1 - trace(C) / sum(C))``; NaN for fewer than two items or a
    total score without variance.
    """
    cov = np.asarray(cov, dtype="float64")
    k = cov.shape[0]
    total = cov.sum()
    if k < 2 or not np.isfinite(total) or total <= 0:
        return math.nan
    return float(k / (k - 1) * (1.0 - np.trace(cov) / total))


def feldt_ci(alpha: float, n: int, k: int, confidence: float = 0.95) -> tuple[float, float]:
    """Feldt's confidence interval for Cronbach's alpha.

    ``1 - (1 - alpha) * F`` at the upper and lower ``(1 - confidence) / 2``
    quantiles of ``F(n - 1, (n - 1)(k - 1))`` (Feldt, Woodruff & Salih 1987),
    as :func:`pingouin.cronbach_alpha` computes it (unrounded here).
    """
    if not np.isfinite(alpha) or n < 2 or k < 2:
        return math.nan, math.nan
    tail = (1.0 - confidence) / 2.0
    df1 = n - 1
    df2 = df1 * (k - 1)
    low = 1.0 - (1.0 - alpha) * stats.f.isf(tail, df1, df2)
    high = 1.0 - (1.0 - alpha) * stats.f.isf(1.0 - tail, df1, df2)
    return float(low), float(high)


def fit_one_factor(
    corr: np.ndarray, *, tol: float = _TOL, max_iter: int = _MAX_ITER
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood one-factor model of one or many correlation matrices.

    Parameters
    ----------
    corr : ndarray, shape (k, k) or (B, k, k)
        Item correlation matrices (a batch is fitted at once, vectorised).
    tol, max_iter : float, int
        Fitting stops for a matrix when no loading or uniqueness moves more than
        ``tol`` in one (accelerated) step, or after ``max_iter`` steps.

    Returns
    -------
    loadings : ndarray, shape (k,) or (B, k)
        Standardised loadings, signed so that their sum is not negative.
    uniquenesses : ndarray, shape (k,) or (B, k)
        Standardised uniquenesses, at least 0.005 (a Heywood case stops there).
    converged : ndarray of bool, shape () or (B,)

    Notes
    -----
    The EM algorithm of Rubin & Thayer (1982), started from the first principal
    axis and accelerated with SQUAREM (Varadhan & Roland 2008): each step
    extrapolates two EM updates and keeps the result only if it does not lower
    the likelihood. Plain EM crawls near a Heywood case; the accelerated version
    does not. For one factor the inverse of the model covariance follows from
    the Woodbury identity, so each step is a few vectorised array operations.
    ML is scale-free, so loadings on the covariance scale are ``sd * loadings``.
    """
    corr = np.asarray(corr, dtype="float64")
    single = corr.ndim == 2
    batch = corr[None] if single else corr
    diag = np.diagonal(batch, axis1=1, axis2=2)
    values, vectors = np.linalg.eigh(batch)
    lam = vectors[..., -1] * np.sqrt(np.clip(values[..., -1], 0.0, None))[:, None]
    psi = np.clip(diag - lam**2, _PSI_FLOOR, None)
    active = np.ones(len(batch), dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        new_lam, new_psi = _squarem_step(batch[idx], lam[idx], psi[idx], diag[idx])
        moved = np.maximum(np.abs(new_lam - lam[idx]).max(1), np.abs(new_psi - psi[idx]).max(1))
        lam[idx], psi[idx] = new_lam, new_psi
        active[idx[moved < tol]] = False
    lam = lam * np.where(lam.sum(1, keepdims=True) < 0, -1.0, 1.0)
    converged = ~active
    if single:
        return lam[0], psi[0], converged[0]
    return lam, psi, converged


def _em_step(
    corr: np.ndarray, lam: np.ndarray, psi: np.ndarray, diag: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One EM update of a batch of one-factor models (Rubin & Thayer 1982)."""
    scaled = lam / psi  # Psi^-1 lambda
    beta = scaled / (1.0 + (lam * scaled).sum(1))[:, None]  # Sigma^-1 lambda (Woodbury)
    s_beta = np.einsum("bij,bj->bi", corr, beta)
    second_moment = 1.0 - (beta * lam).sum(1) + (beta * s_beta).sum(1)  # E[z^2 | x]
    new_lam = s_beta / second_moment[:, None]
    new_psi = np.clip(diag - new_lam * s_beta, _PSI_FLOOR, None)
    return new_lam, new_psi


def _discrepancy(corr: np.ndarray, lam: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """ML discrepancy ``log|Sigma| + tr(Sigma^-1 S)`` (minus a constant), per matrix."""
    scaled = lam / psi
    c = 1.0 + (lam * scaled).sum(1)
    s_scaled = np.einsum("bij,bj->bi", corr, scaled)
    diag = np.diagonal(corr, axis1=1, axis2=2)
    return np.log(psi).sum(1) + np.log(c) + (diag / psi).sum(1) - (scaled * s_scaled).sum(1) / c


def _squarem_step(
    corr: np.ndarray, lam: np.ndarray, psi: np.ndarray, diag: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One SQUAREM step (scheme S3 of Varadhan & Roland 2008), safeguarded by the likelihood."""
    k = lam.shape[1]
    lam1, psi1 = _em_step(corr, lam, psi, diag)
    lam2, psi2 = _em_step(corr, lam1, psi1, diag)
    r = np.concatenate([lam1 - lam, psi1 - psi], axis=1)
    v = np.concatenate([lam2 - lam1, psi2 - psi1], axis=1) - r
    norm_r, norm_v = np.linalg.norm(r, axis=1), np.linalg.norm(v, axis=1)
    step = -norm_r / np.where(norm_v > 0, norm_v, 1.0)
    step = np.minimum(np.where(norm_v > 0, step, -1.0), -1.0)[:, None]
    theta = np.concatenate([lam, psi], axis=1) - 2.0 * step * r + step**2 * v
    lam3, psi3 = _em_step(corr, theta[:, :k], np.clip(theta[:, k:], _PSI_FLOOR, None), diag)
    worse = ~(_discrepancy(corr, lam3, psi3) <= _discrepancy(corr, lam2, psi2))
    lam3[worse], psi3[worse] = lam2[worse], psi2[worse]
    return lam3, psi3


def omega_total(loadings: np.ndarray, uniquenesses: np.ndarray) -> np.ndarray:
    """McDonald's omega total ``(sum lambda)^2 / ((sum lambda)^2 + sum psi)`` over the last axis."""
    common = np.asarray(loadings, dtype="float64").sum(-1) ** 2
    return common / (common + np.asarray(uniquenesses, dtype="float64").sum(-1))


def _omega_from_cov(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Omega of the unweighted item sum for one or many covariance matrices; and convergence.

    The factor model is fitted to the correlation matrix and rescaled by the item
    SDs, so omega refers to the domain score (the mean of the 0-100 items).
    Matrices with an item without variance give NaN.
    """
    cov = np.asarray(cov, dtype="float64")
    batch = cov[None] if cov.ndim == 2 else cov
    sd = np.sqrt(np.clip(np.diagonal(batch, axis1=1, axis2=2), 0.0, None))
    usable = (sd > 0).all(1) & np.isfinite(batch).all((1, 2))
    omega = np.full(len(batch), np.nan)
    converged = np.zeros(len(batch), dtype=bool)
    if usable.any():
        safe_sd = sd[usable]
        corr = batch[usable] / safe_sd[:, :, None] / safe_sd[:, None, :]
        lam, psi, ok = fit_one_factor(corr)
        omega[usable] = omega_total(lam * safe_sd, psi * safe_sd**2)
        converged[usable] = ok
    return omega, converged


def _bootstrap_covariances(block: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Covariance matrices of ``n_boot`` resamples (rows with replacement) of ``block``.

    Resampling is done with replicate-by-row count matrices and one matrix
    product per chunk of replicates, not by copying the data ``n_boot`` times.
    """
    n, k = block.shape
    centred = block - block.mean(0)
    products = (centred[:, :, None] * centred[:, None, :]).reshape(n, k * k)
    chunk = max(1, _CHUNK_CELLS // max(n, 1))
    out = np.empty((n_boot, k, k))
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        rows = rng.integers(0, n, size=(size, n))
        flat = (rows + n * np.arange(size)[:, None]).ravel()
        counts = np.bincount(flat, minlength=size * n).reshape(size, n).astype("float64")
        mean = counts @ centred / n
        second = (counts @ products).reshape(size, k, k) / n
        out[start : start + size] = (second - mean[:, :, None] * mean[:, None, :]) * (n / (n - 1))
    return out


# --------------------------------------------------------------------------- #
# Tables
# --------------------------------------------------------------------------- #
def reliability(
    valid: pd.DataFrame,
    codebook: Codebook,
    *,
    confidence: float = 0.95,
    n_boot: int = 500,
    seed: int = 20251124,
    alpha_threshold: float = 0.7,
) -> pd.DataFrame:
    """Internal consistency and score distribution of each domain.

    Parameters
    ----------
    valid : DataFrame
        ``LoadResult.valid``: ``respondent_id`` and one column per item.
    codebook : Codebook
        The instrument's codebook (domains, items, scales, missing codes).
    confidence : float
        Level of both confidence intervals, in (0, 1).
    n_boot : int
        Bootstrap resamples for the omega interval (0: no interval).
    seed : int
        Seed of the bootstrap; each domain draws from its own child stream
        (``numpy.random.SeedSequence(seed).spawn``), so a domain's interval does
        not depend on the other domains.
    alpha_threshold : float
        ``low_alpha`` is true where alpha is below it (conventionally 0.7).

    Returns
    -------
    DataFrame
        One row per domain in codebook order with the columns
        :data:`RELIABILITY_COLUMNS`:

        * ``domain, k`` — domain id and number of items;
        * ``n`` — children with every item of the domain answered (the listwise
          sample of alpha and omega); ``n_any`` — children with at least one;
        * ``alpha, alpha_ci_low, alpha_ci_high`` — Cronbach's alpha, Feldt CI;
        * ``omega, omega_ci_low, omega_ci_high`` — McDonald's omega total,
          percentile bootstrap CI;
        * ``share_missing`` — missing item answers / (rows x k);
        * ``floor, ceiling`` — share of children with a domain score (by
          :func:`~research_lib.stats.scoring.score_responses`) of exactly 0 / 100;
        * ``low_alpha`` — alpha < ``alpha_threshold`` (False where alpha is NaN);
        * ``method`` — the methods in one sentence, or why nothing was computed.

    Notes
    -----
    Items are rescaled to 0-100 with reverse items turned
    (:func:`~research_lib.stats.scoring.item_matrix`); alpha and omega use the children
    who answered every item of the domain (listwise deletion).

    Cronbach's alpha [1]_ is :math:`\\frac{k}{k-1}\\left(1 - \\frac{\\sum_i
    \\sigma_i^2}{\\sigma_X^2}\\right)` from the item covariance matrix, with
    Feldt's interval [2]_
    :math:`1 - (1 - \\alpha) F_{q}(n - 1, (n - 1)(k - 1))` at the upper and lower
    :math:`(1 - c)/2` quantiles — the same as :func:`pingouin.cronbach_alpha`.

    Omega total [3]_ is :math:`\\omega = (\\sum\\lambda_i)^2 / ((\\sum\\lambda_i)^2
    + \\sum\\psi_i)` from a one-factor (congeneric) model fitted by maximum
    likelihood (EM [6]_ accelerated by SQUAREM [7]_, :func:`fit_one_factor`) to the item correlation matrix and
    rescaled to the covariance scale, so it is the reliability of the domain
    score as scored (the unweighted mean of the 0-100 items). Under
    tau-equivalence omega equals alpha; otherwise alpha is lower. The interval
    is the percentile bootstrap over children [4]_, [5]_, ``n_boot`` resamples
    refitted in one vectorised batch. A one-factor model needs at least three
    items, so omega is NaN for two-item domains; alpha and omega are NaN for
    one-item domains and below :data:`MIN_N` complete cases.

    References
    ----------
    .. [1] Cronbach, L. J. (1951). Coefficient alpha and the internal structure
           of tests. Psychometrika, 16(3), 297-334.
    .. [2] Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical
           inference for coefficient alpha. Applied Psychological Measurement,
           11(1), 93-103.
    .. [3] McDonald, R. P. (1999). Test theory: A unified treatment. Erlbaum.
    .. [4] Dunn, T. J., Baguley, T., & Brunsden, V. (2014). From alpha to omega:
           A practical solution to the pervasive problem of internal consistency
           estimation. British Journal of Psychology, 105(3), 399-412.
    .. [5] Revelle, W., & Zinbarg, R. E. (2009). Coefficients alpha, beta, omega,
           and the glb: Comments on Sijtsma. Psychometrika, 74(1), 145-154.
    .. [6] Rubin, D. B., & Thayer, D. T. (1982). EM algorithms for ML factor
           analysis. Psychometrika, 47(1), 69-76.
    .. [7] Varadhan, R., & Roland, C. (2008). Simple and globally convergent
           methods for accelerating the convergence of any EM algorithm.
           Scandinavian Journal of Statistics, 35(2), 335-353.

    Examples
    --------
    >>> from research_lib.io.codebook import load_codebook
    >>> from research_lib.paths import SURVEYS_DIR
    >>> from research_lib.demo.survey import make_survey
    >>> from research_lib.io.surveys import validate_responses
    >>> book = load_codebook(SURVEYS_DIR / "qol-child-v1.yaml")
    >>> valid = validate_responses(make_survey(book, n_services=30, seed=1), book).valid
    >>> table = reliability(valid, book, n_boot=100)
    >>> table[["domain", "k", "n", "alpha", "omega", "omega_ci_low", "omega_ci_high"]].head(3).round(2)
               domain  k    n  alpha  omega  omega_ci_low  omega_ci_high
    0   relationships  5  333   0.91   0.91          0.90           0.93
    1  family_contact  5  327   0.87   0.87          0.85           0.89
    2   participation  6  321   0.92   0.92          0.90           0.93
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if n_boot < 0:
        raise ValueError(f"n_boot must be 0 or more, got {n_boot!r}")
    items = item_matrix(valid, codebook)
    scores = score_responses(valid, codebook)
    streams = np.random.SeedSequence(seed).spawn(len(codebook.domains))
    rows = []
    for domain, stream in zip(codebook.domains, streams, strict=True):
        ids = [item.id for item in codebook.items_of(domain.id)]
        row = _domain_reliability(
            items[ids].to_numpy(),
            confidence=confidence,
            n_boot=n_boot,
            rng=np.random.default_rng(stream),
        )
        score = scores[domain.id].to_numpy(dtype="float64")
        row.update(_floor_ceiling(score))
        row["low_alpha"] = bool(row["alpha"] < alpha_threshold)
        rows.append({"domain": domain.id, **row})
    return pd.DataFrame(rows, columns=list(RELIABILITY_COLUMNS))


def _domain_reliability(
    block: np.ndarray, *, confidence: float, n_boot: int, rng: np.random.Generator
) -> dict[str, object]:
    """Counts, alpha and omega of one domain's item block (rows x items, NaN missing)."""
    n_rows, k = block.shape
    answered = ~np.isnan(block)
    complete = block[answered.all(1)]
    n = len(complete)
    row: dict[str, object] = {
        "k": k,
        "n": n,
        "n_any": int(answered.any(1).sum()),
        "alpha": math.nan,
        "alpha_ci_low": math.nan,
        "alpha_ci_high": math.nan,
        "omega": math.nan,
        "omega_ci_low": math.nan,
        "omega_ci_high": math.nan,
        "share_missing": float(1.0 - answered.mean()) if n_rows else math.nan,
    }
    if k < 2:
        row["method"] = "Not computed: alpha and omega need at least 2 items (domain has 1)."
        return row
    if n < MIN_N:
        row["method"] = f"Not computed: only {n} children answered every item (need {MIN_N})."
        return row
    cov = np.cov(complete, rowvar=False)
    alpha = cronbach_alpha(cov)
    row["alpha"] = alpha
    row["alpha_ci_low"], row["alpha_ci_high"] = feldt_ci(alpha, n, k, confidence)
    level = f"{confidence:.0%}"
    alpha_note = f"Cronbach's alpha with Feldt {level} CI"
    if k < 3:
        row["method"] = (
            f"{alpha_note}; omega not computed (a one-factor model needs 3+ items); listwise n={n}."
        )
        return row
    omega, converged = _omega_from_cov(cov)
    row["omega"] = float(omega[0])
    note = "" if converged[0] else " (ML fit not converged)"
    if n_boot > 0:
        boot, _ = _omega_from_cov(_bootstrap_covariances(complete, n_boot, rng))
        tail = 100.0 * (1.0 - confidence) / 2.0
        if np.isfinite(boot).sum() >= 2:
            low, high = np.nanpercentile(boot, [tail, 100.0 - tail])
            row["omega_ci_low"], row["omega_ci_high"] = float(low), float(high)
        ci_note = f", {level} percentile bootstrap CI ({n_boot} resamples)"
    else:
        ci_note = ", no CI (n_boot=0)"
    row["method"] = (
        f"{alpha_note}; McDonald's omega total from a one-factor ML model{note}{ci_note}; "
        f"listwise n={n}."
    )
    return row


def _floor_ceiling(values: np.ndarray) -> dict[str, float]:
    """Shares of the non-missing 0-100 values at 0 and at 100 (to rounding error)."""
    present = values[~np.isnan(values)]
    if present.size == 0:
        return {"floor": math.nan, "ceiling": math.nan}
    return {
        "floor": float(np.mean(np.abs(present) < 1e-9)),
        "ceiling": float(np.mean(np.abs(present - 100.0) < 1e-9)),
    }


def item_statistics(valid: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Descriptive statistics and corrected item-total correlation of each item.

    Parameters
    ----------
    valid : DataFrame
        ``LoadResult.valid``: one column per item.
    codebook : Codebook
        The instrument's codebook.

    Returns
    -------
    DataFrame
        One row per item in codebook order with the columns :data:`ITEM_COLUMNS`:
        ``item, domain``; ``n`` (answers); ``mean, sd`` (0-100, reverse items
        turned; SD with ddof=1); ``item_rest_r``; ``floor, ceiling`` (share of
        answers at 0 / 100); ``share_missing`` (1 - n / rows); ``reverse``.

    Notes
    -----
    The corrected item-total (item-rest) correlation is the Pearson correlation
    of the item with the mean of the *other* items of its domain (the mean of
    those answered), over children with the item and at least one other item
    answered (pairwise complete). Leaving the item out of the total removes the
    part-whole inflation of the plain item-total correlation. Because reverse
    items are turned first, a negative value flags an item that runs against
    its domain (e.g. wrong keying). NaN for one-item domains.

    Examples
    --------
    >>> from research_lib.io.codebook import load_codebook
    >>> from research_lib.paths import SURVEYS_DIR
    >>> from research_lib.demo.survey import make_survey
    >>> from research_lib.io.surveys import validate_responses
    >>> book = load_codebook(SURVEYS_DIR / "qol-child-v1.yaml")
    >>> valid = validate_responses(make_survey(book, n_services=30, seed=1), book).valid
    >>> stats_ = item_statistics(valid, book)
    >>> len(stats_) == len(book.item_ids)
    True
    >>> bool((stats_["item_rest_r"] > 0).all())
    True
    """
    items = item_matrix(valid, codebook)
    n_rows = len(items)
    rows = []
    for domain in codebook.domains:
        members = codebook.items_of(domain.id)
        block = items[[item.id for item in members]].to_numpy()
        for j, item in enumerate(members):
            values = block[:, j]
            answered = values[~np.isnan(values)]
            n = int(answered.size)
            rows.append(
                {
                    "item": item.id,
                    "domain": domain.id,
                    "n": n,
                    "mean": float(answered.mean()) if n else math.nan,
                    "sd": float(answered.std(ddof=1)) if n > 1 else math.nan,
                    "item_rest_r": _item_rest_r(block, j),
                    **_floor_ceiling(answered),
                    "share_missing": 1.0 - n / n_rows if n_rows else math.nan,
                    "reverse": bool(item.reverse),
                }
            )
    return pd.DataFrame(rows, columns=list(ITEM_COLUMNS))


def _item_rest_r(block: np.ndarray, j: int) -> float:
    """Correlation of column ``j`` with the row mean of the other columns (pairwise complete)."""
    if block.shape[1] < 2:
        return math.nan
    rest = np.delete(block, j, axis=1)
    counts = (~np.isnan(rest)).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rest_mean = np.nansum(rest, axis=1) / counts
    item = block[:, j]
    both = ~np.isnan(item) & (counts > 0)
    x, y = item[both], rest_mean[both]
    if x.size < 3 or x.std() == 0 or y.std() == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])
