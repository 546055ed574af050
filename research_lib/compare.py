"""Group differences in domain scores, with honest uncertainty.

Children live in services (care homes, foster families of one provider, ...),
and all children of a service share its placement type. Their scores are
therefore not independent: a comparison of placement types that ignores the
services overstates its precision. The functions here compare groups with the
clustering taken into account:

* :func:`compare_groups` — the covariate-adjusted difference of each group from
  a reference group, from a linear mixed model with a random intercept per
  cluster (falling back to OLS with cluster-robust standard errors), or from
  OLS / WLS with robust standard errors;
* :func:`compare_domains` — the same over several outcomes, with p-values
  adjusted for multiple testing across the whole table;
* :func:`compare_waves` — the change between two survey waves within each group;
* :func:`adjust_pvalues` — Holm or Benjamini-Hochberg adjustment.

Rows with a missing outcome, group, covariate, cluster or weight are left out of
the analysis and counted (``n_excluded``), never imputed.

Examples
--------
>>> import pandas as pd
>>> data = pd.DataFrame({
...     "placement_type": ["foster"] * 4 + ["cnst"] * 4,
...     "participation": [70.0, 80.0, 75.0, 65.0, 60.0, 55.0, 70.0, 59.0]})
>>> table = compare_groups(data, "participation", by="placement_type", reference="foster")
>>> table[["group", "n", "estimate", "reference", "n_reference"]]
  group  n  estimate reference  n_reference
0  cnst  4     -11.5    foster            4
>>> print(table.loc[0, "method"])
OLS, HC3 standard errors, unadjusted; Wald 95% CI, t quantiles on 6 df (n − k)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.tools.sm_exceptions import ConvergenceWarning, SingularMatrixWarning

from research_lib.errors import InputError

__all__ = [
    "CORRECTIONS",
    "MIN_CLUSTERS_MIXED",
    "SINGULAR_ICC",
    "adjust_pvalues",
    "compare_domains",
    "compare_groups",
    "compare_waves",
]

#: Fewest clusters for which the mixed model is tried; with fewer, OLS with
#: cluster-robust standard errors is used directly.
MIN_CLUSTERS_MIXED = 10
#: A mixed model whose random-intercept share of the variance (ICC) is below this
#: is treated as singular (variance on the boundary) and replaced by the fallback.
SINGULAR_ICC = 1e-4
#: Accepted ``correction`` / ``method`` codes for multiple testing, with their names.
CORRECTIONS: dict[str, str] = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}

# MixedLM optimisers, tried in turn. The gradient optimisers statsmodels uses by
# default (bfgs, lbfgs, cg) often stop short of convergence on a single random
# intercept (about 1 fit in 12 in our simulations, lbfgs even returns garbage);
# Powell's derivative-free search converged in every simulated sample.
_OPTIMISERS = ("powell", "nm", "bfgs")

_GROUP_COLUMNS = [
    "group",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "df",
    "effect_size",
    "effect_size_ci_low",
    "effect_size_ci_high",
    "reference",
    "n_reference",
    "outcome",
    "method",
    "icc",
    "n_clusters",
    "n_excluded",
]
_WAVE_COLUMNS = [
    "group",
    "n_first",
    "n_second",
    "mean_first",
    "mean_second",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "df",
    "method",
    "outcome",
    "first",
    "second",
    "n_clusters",
    "n_excluded",
]


# --------------------------------------------------------------------------- #
# Public functions
# --------------------------------------------------------------------------- #
def compare_groups(
    data: pd.DataFrame,
    outcome: str,
    by: str,
    reference: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    weights: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Adjusted difference of each group from a reference group, with a CI.

    Parameters
    ----------
    data : DataFrame
        One row per child, e.g. from :func:`research_lib.scoring.scored_table`.
    outcome : str
        Numeric outcome column (a domain score, 0-100).
    by : str
        Grouping column (e.g. ``"placement_type"``).
    reference : str
        The group every other group is compared with (e.g. ``"foster"``).
    covariates : sequence of str
        Adjustment variables. Numeric columns enter linearly (centred);
        other columns (text, categorical, e.g. ``sex``, ``wave``) are
        dummy-coded with their first level as baseline.
    cluster : str, optional
        Column naming the cluster a child belongs to (e.g. ``"service_id"``).
        Without it the children are treated as independent.
    weights : str, optional
        Survey weights column (positive numbers): weighted least squares with
        robust (or cluster-robust) standard errors instead of the mixed model.
    confidence : float
        Confidence level of the intervals, default 0.95.

    Returns
    -------
    DataFrame
        One row per non-reference group present (in category order when ``by``
        is categorical, else sorted), columns:

        * ``group``, ``n`` — children of the group in the analysis;
        * ``estimate`` — covariate-adjusted difference in the outcome, group
          minus reference; ``ci_low``, ``ci_high``, ``p_value`` (two-sided),
          ``df`` (degrees of freedom of the t reference distribution);
        * ``effect_size`` — the **adjusted difference in SD units**: ``estimate``
          divided by the pooled within-group SD of the outcome (over all groups
          of ``by``, unweighted, unadjusted); ``effect_size_ci_low``,
          ``effect_size_ci_high`` — the CI scaled the same way (the SD is taken
          as known);
        * ``reference``, ``n_reference``, ``outcome``;
        * ``method`` — one sentence for a methods section;
        * ``icc`` — intra-class correlation within clusters from the mixed model
          (random-intercept variance / total, conditional on group and
          covariates); NaN without ``cluster``, with ``weights`` or when the
          mixed model did not converge or was not tried;
        * ``n_clusters`` — clusters in the analysis (missing without ``cluster``);
        * ``n_excluded`` — rows left out for a missing outcome, group,
          covariate, cluster or weight (also in ``attrs["n_excluded"]``).

    Raises
    ------
    InputError
        A column that does not exist (the message lists those that do), a
        non-numeric outcome, a reference group that is absent (the message
        lists the groups present), fewer than two groups, covariates collinear
        with the groups, non-positive weights or a confidence outside (0, 1).

    Notes
    -----
    The model is ``outcome ~ 1 + group dummies + covariates``:

    * ``cluster`` given, no weights: a linear mixed model with a random
      intercept per cluster, fitted by REML (``statsmodels`` ``MixedLM``;
      Hox 2010; Snijders & Bosker 2012). If there are fewer than
      :data:`MIN_CLUSTERS_MIXED` clusters, if the fit fails or does not
      converge, if its Hessian is not positive definite, or if it is singular
      (ICC below :data:`SINGULAR_ICC`, the variance on the boundary), the
      fixed-effects model is fitted by OLS with cluster-robust (CR1) standard
      errors instead (Cameron & Miller 2015), and ``method`` says so and why.
    * ``cluster`` not given: OLS with HC3 heteroscedasticity-robust standard
      errors (Long & Ervin 2000).
    * ``weights`` given: WLS with the weights, with CR1 standard errors by
      ``cluster`` or HC3 without; the mixed model is not used with weights.

    Intervals are Wald intervals ``estimate ± t * SE`` and p-values two-sided,
    always with **t** quantiles (never normal ones); the degrees of freedom
    are: HC3 — ``n − k`` (k model coefficients); CR1 — ``G − 1`` (G clusters,
    as Stata and Cameron & Miller 2015 recommend); mixed model — the
    "between-within" approximation (Schluchter & Elashoff 1990): ``G − p_b``
    for a coefficient whose column is constant within clusters (a placement
    type assigned per service; ``p_b`` counts such columns, intercept
    included), ``N − G − p_w`` otherwise. statsmodels offers no Satterthwaite
    or Kenward-Roger df; with many clusters all choices agree.

    References
    ----------
    * Hox, J. J. (2010). *Multilevel Analysis: Techniques and Applications*
      (2nd ed.). Routledge.
    * Snijders, T. A. B., & Bosker, R. J. (2012). *Multilevel Analysis* (2nd ed.).
      Sage.
    * Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to
      cluster-robust inference. *Journal of Human Resources*, 50(2), 317-372.
    * Long, J. S., & Ervin, L. H. (2000). Using heteroscedasticity consistent
      standard errors in the linear regression model. *The American
      Statistician*, 54(3), 217-224.
    * Schluchter, M. D., & Elashoff, J. D. (1990). Small-sample adjustments to
      tests with unbalanced repeated measures assuming several covariance
      structures. *J. Statistical Computation and Simulation*, 37, 69-87.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({
    ...     "placement_type": ["foster", "foster", "foster", "cnst", "cnst", "cnst"],
    ...     "age": [10, 12, 14, 10, 12, None],
    ...     "homeliness": [80.0, 70.0, 60.0, 65.0, 55.0, 50.0]})
    >>> table = compare_groups(data, "homeliness", "placement_type", "foster", covariates=["age"])
    >>> table[["group", "n", "estimate", "n_excluded"]]
      group  n  estimate  n_excluded
    0  cnst  2     -15.0           1
    """
    _check_confidence(confidence)
    columns = [outcome, by, *covariates, *_optional(cluster, weights)]
    _check_columns(data, columns)
    groups = _check_groups(data[by], by, reference)
    frame, y, n_excluded = _complete(data, outcome, columns)
    groups = _check_analysed_groups(frame[by], by, reference, groups, outcome)
    w = _weights(frame[weights], weights) if weights is not None else None
    codes = _cluster_codes(frame[cluster]) if cluster is not None else None

    X, names = _design(frame, [_indicator(frame[by], g) for g in groups[1:]], covariates)
    _check_rank(X, by, covariates)
    fit = _fit(y, X, codes, cluster, w, weights)

    labels = frame[by].to_numpy()
    sd = _pooled_sd(y, labels)
    q = _quantiles(fit.df, confidence)
    rows = []
    for j, group in enumerate(groups[1:], start=1):
        estimate, se, df = fit.params[j], fit.bse[j], fit.df[j]
        low, high = estimate - q[j] * se, estimate + q[j] * se
        rows.append(
            {
                "group": group,
                "n": int(np.sum(labels == group)),
                "estimate": estimate,
                "ci_low": low,
                "ci_high": high,
                "p_value": _p_value(estimate, se, df),
                "df": df,
                "effect_size": estimate / sd,
                "effect_size_ci_low": low / sd,
                "effect_size_ci_high": high / sd,
                "reference": reference,
                "n_reference": int(np.sum(labels == reference)),
                "outcome": outcome,
                "method": _sentence(fit, df, covariates, confidence),
                "icc": fit.icc,
                "n_clusters": pd.NA if codes is None else int(codes.max() + 1),
                "n_excluded": n_excluded,
            }
        )
    table = pd.DataFrame(rows, columns=_GROUP_COLUMNS)
    table["n_clusters"] = table["n_clusters"].astype("Int64")
    table.attrs.update(n_excluded=n_excluded, confidence=confidence)
    return table


def adjust_pvalues(p: pd.Series | np.ndarray | Sequence[float], method: str = "holm") -> np.ndarray:
    """P-values adjusted for multiple testing; NaNs pass through.

    Parameters
    ----------
    p : Series, array or sequence of float
        One-dimensional p-values in [0, 1]; NaN entries are left out of the
        family and returned as NaN.
    method : {"holm", "fdr_bh"}
        ``"holm"``: Holm's step-down method, controls the family-wise error
        rate. ``"fdr_bh"``: Benjamini-Hochberg step-up, controls the false
        discovery rate.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same order and length as ``p``.

    Notes
    -----
    Computed with ``statsmodels.stats.multitest.multipletests`` over the
    non-missing values.

    References
    ----------
    * Holm, S. (1979). A simple sequentially rejective multiple test procedure.
      *Scandinavian Journal of Statistics*, 6(2), 65-70.
    * Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery
      rate. *Journal of the Royal Statistical Society B*, 57(1), 289-300.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03])
    array([0.03, 0.06, 0.06])
    >>> adjust_pvalues([0.01, float("nan"), 0.04], method="fdr_bh")
    array([0.02,  nan, 0.04])
    """
    _correction_label(method)
    values = (
        p.to_numpy(dtype="float64", na_value=np.nan)
        if isinstance(p, pd.Series)
        else np.asarray(p, dtype="float64")
    )
    if values.ndim != 1:
        raise InputError(f"p-values must be one-dimensional, got shape {values.shape}")
    present = ~np.isnan(values)
    if np.any((values[present] < 0) | (values[present] > 1)):
        raise InputError("p-values must lie between 0 and 1")
    adjusted = np.full(values.shape, np.nan)
    if present.any():
        adjusted[present] = multipletests(values[present], method=method)[1]
    return adjusted


def compare_domains(
    data: pd.DataFrame,
    outcomes: Sequence[str],
    by: str,
    reference: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    weights: str | None = None,
    correction: str = "holm",
) -> pd.DataFrame:
    """:func:`compare_groups` over several outcomes, with adjusted p-values.

    Parameters
    ----------
    data, by, reference, covariates, cluster, weights
        As in :func:`compare_groups`.
    outcomes : sequence of str
        The outcome columns (domains), each analysed on its own complete cases.
    correction : {"holm", "fdr_bh"}
        Multiple-testing correction across **all** tests in the table (every
        outcome × group), see :func:`adjust_pvalues`.

    Returns
    -------
    DataFrame
        The :func:`compare_groups` tables stacked, outcome by outcome, with
        ``outcome`` first, ``p_adjusted`` after ``p_value`` and a
        ``correction`` column naming it ("Holm" or "Benjamini-Hochberg").
        ``attrs["n_excluded"]`` maps each outcome to its excluded rows.

    Notes
    -----
    Confidence intervals are not adjusted; only the p-values are.

    References
    ----------
    * Holm, S. (1979). *Scandinavian Journal of Statistics*, 6(2), 65-70.
    * Benjamini, Y., & Hochberg, Y. (1995). *JRSS B*, 57(1), 289-300.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"placement_type": ["foster"] * 3 + ["cnst"] * 3,
    ...                      "home": [80.0, 70.0, 75.0, 50.0, 60.0, 55.0],
    ...                      "voice": [60.0, 70.0, 65.0, 62.0, 58.0, 66.0]})
    >>> table = compare_domains(data, ["home", "voice"], "placement_type", "foster")
    >>> table[["outcome", "group", "estimate", "correction"]]
      outcome group  estimate correction
    0    home  cnst     -20.0       Holm
    1   voice  cnst      -3.0       Holm
    """
    label = _correction_label(correction)
    outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    if not outcomes:
        raise InputError("outcomes is empty: name at least one outcome column")
    if len(set(outcomes)) != len(outcomes):
        raise InputError(f"outcomes lists a column twice: {outcomes}")
    tables = [
        compare_groups(data, o, by, reference, covariates, cluster, weights) for o in outcomes
    ]
    table = pd.concat(tables, ignore_index=True)
    table.insert(
        table.columns.get_loc("p_value") + 1,
        "p_adjusted",
        adjust_pvalues(table["p_value"], correction),
    )
    table["correction"] = label
    table = table[["outcome", *[c for c in table.columns if c != "outcome"]]]
    table.attrs = {
        "n_excluded": {o: t.attrs["n_excluded"] for o, t in zip(outcomes, tables, strict=True)}
    }
    return table


def compare_waves(
    data: pd.DataFrame,
    outcome: str,
    by: str,
    wave: str = "wave",
    first: object = None,
    second: object = None,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Change in the outcome between two waves, within each group.

    Parameters
    ----------
    data : DataFrame
        One row per child and wave.
    outcome, by, covariates, confidence
        As in :func:`compare_groups`.
    wave : str
        The wave column, default ``"wave"``.
    first, second : optional
        The two waves to compare (change = second − first). Default: the two
        distinct values of ``wave``, sorted; when there are more than two,
        both must be given.
    cluster : str, optional
        Cluster column (e.g. ``"service_id"``). Services are surveyed in both
        waves, so their children's scores are correlated across waves too;
        the standard errors are then cluster-robust.

    Returns
    -------
    DataFrame
        One row per group of ``by`` (category order, else sorted):
        ``group, n_first, n_second, mean_first, mean_second`` (unadjusted
        means of the children analysed), ``estimate`` (second − first,
        adjusted for the covariates), ``ci_low, ci_high, p_value, df, method,
        outcome, first, second, n_clusters, n_excluded`` (rows of the group in
        the two waves left out for missing values). A group seen in one wave
        only, or whose covariates are collinear with the wave, gets NaN
        estimates and ``method`` says why.

    Raises
    ------
    InputError
        Unknown columns, fewer than two waves, more than two waves without
        ``first`` and ``second``, a wave that is not present.

    Notes
    -----
    Per group, OLS of ``outcome ~ 1 + [wave == second] + covariates`` on the
    children of the two waves: CR1 cluster-robust standard errors by
    ``cluster`` with t quantiles on ``G − 1`` df (Cameron & Miller 2015), or
    HC3 with ``n − k`` df without ``cluster``. Rows of other waves are ignored
    (``attrs["n_other_waves"]``); rows with a missing outcome, group, wave,
    covariate or cluster are left out (``attrs["n_excluded"]``).

    References
    ----------
    * Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to
      cluster-robust inference. *Journal of Human Resources*, 50(2), 317-372.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"placement_type": ["cnst"] * 6,
    ...                      "wave": ["2024"] * 3 + ["2025"] * 3,
    ...                      "home": [50.0, 55.0, 60.0, 58.0, 62.0, 63.0]})
    >>> table = compare_waves(data, "home", "placement_type")
    >>> table[["group", "n_first", "n_second", "mean_first", "mean_second", "estimate"]]
      group  n_first  n_second  mean_first  mean_second  estimate
    0  cnst        3         3        55.0         61.0       6.0
    """
    _check_confidence(confidence)
    _check_columns(data, [outcome, by, wave, *covariates, *_optional(cluster, None)])
    first, second = _wave_pair(data[wave], wave, first, second)
    in_pair = data[wave].isin([first, second]).to_numpy(dtype=bool)
    columns = [outcome, by, wave, *covariates, *_optional(cluster, None)]
    frame, y, n_excluded = _complete(data.loc[in_pair], outcome, columns)
    raw_by = data.loc[in_pair, by]
    rows = []
    for group in _levels(frame[by]):
        in_group = (frame[by] == group).to_numpy(dtype=bool)
        dropped = int((raw_by == group).sum()) - int(in_group.sum())
        rows.append(
            _wave_row(
                frame.loc[in_group],
                y[in_group],
                group,
                wave,
                (first, second),
                covariates,
                cluster,
                confidence,
            )
            | {"outcome": outcome, "first": first, "second": second, "n_excluded": dropped}
        )
    table = pd.DataFrame(rows, columns=_WAVE_COLUMNS)
    table["n_clusters"] = table["n_clusters"].astype("Int64")
    table.attrs.update(
        n_excluded=n_excluded,
        n_other_waves=int((~in_pair).sum()),
        confidence=confidence,
    )
    return table


# --------------------------------------------------------------------------- #
# Checks
# --------------------------------------------------------------------------- #
def _optional(*names: str | None) -> list[str]:
    return [name for name in names if name is not None]


def _check_columns(data: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in data.columns]
    if missing:
        raise InputError(
            f"unknown column(s) {', '.join(map(repr, missing))}; "
            f"available columns: {', '.join(map(str, data.columns))}"
        )


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise InputError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def _correction_label(method: str) -> str:
    if method not in CORRECTIONS:
        raise InputError(
            f"unknown multiple-testing correction {method!r}; use one of: {', '.join(CORRECTIONS)}"
        )
    return CORRECTIONS[method]


def _check_groups(labels: pd.Series, by: str, reference: object) -> list:
    """Groups present in ``by`` (reference first), before missing values are dropped."""
    groups = _levels(labels)
    if reference not in groups:
        raise InputError(
            f"reference group {reference!r} is not in column {by!r}; "
            f"groups present: {', '.join(map(repr, groups)) or 'none'}"
        )
    if len(groups) < 2:
        raise InputError(
            f"column {by!r} has fewer than 2 groups ({', '.join(map(repr, groups))}): "
            "nothing to compare"
        )
    return [reference, *[g for g in groups if g != reference]]


def _check_analysed_groups(
    labels: pd.Series, by: str, reference: object, groups: list, outcome: str
) -> list:
    """The groups left after complete-case exclusion, reference first."""
    present = set(_levels(labels))
    if reference not in present:
        raise InputError(
            f"reference group {reference!r} has no child with a non-missing {outcome!r} "
            "and covariates"
        )
    kept = [g for g in groups if g in present]
    if len(kept) < 2:
        raise InputError(
            f"only the reference group {reference!r} has children with a non-missing "
            f"{outcome!r} and covariates: nothing to compare"
        )
    return kept


def _check_rank(X: np.ndarray, by: str, covariates: Sequence[str]) -> None:
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise InputError(
            f"the covariates ({', '.join(covariates) or 'none'}) are collinear with the "
            f"groups of {by!r} or with each other; drop the redundant covariate"
        )


# --------------------------------------------------------------------------- #
# Data preparation
# --------------------------------------------------------------------------- #
def _levels(values: pd.Series) -> list:
    """Distinct non-missing values: category order if categorical, else sorted."""
    present = values.dropna()
    if isinstance(values.dtype, pd.CategoricalDtype):
        seen = set(present.unique())
        return [c for c in values.cat.categories if c in seen]
    distinct = list(pd.unique(present))
    try:
        return sorted(distinct)
    except TypeError:
        return distinct


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype)


def _complete(
    data: pd.DataFrame, outcome: str, columns: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Complete cases: the rows kept, the outcome as floats, the number left out."""
    if not _is_numeric(data[outcome]):
        raise InputError(
            f"outcome {outcome!r} must be numeric (a score), got dtype {data[outcome].dtype}"
        )
    y = data[outcome].to_numpy(dtype="float64", na_value=np.nan)
    keep = np.isfinite(y)
    for column in dict.fromkeys(columns):
        if column != outcome:
            keep &= data[column].notna().to_numpy(dtype=bool)
    return data.loc[keep], y[keep], int((~keep).sum())


def _weights(values: pd.Series, name: str) -> np.ndarray:
    if not _is_numeric(values):
        raise InputError(f"weights column {name!r} must be numeric, got dtype {values.dtype}")
    w = values.to_numpy(dtype="float64", na_value=np.nan)
    if not np.all(np.isfinite(w) & (w > 0)):
        raise InputError(f"weights column {name!r} must hold positive finite numbers")
    return w


def _cluster_codes(values: pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(values, sort=False)
    return codes


def _indicator(values: pd.Series, level: object) -> np.ndarray:
    return (values == level).to_numpy(dtype="float64")


def _design(
    frame: pd.DataFrame, indicators: list[np.ndarray], covariates: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Intercept, the given indicators, then the covariates (centred / dummy-coded)."""
    columns = [np.ones(len(frame)), *indicators]
    names = ["intercept", *[f"indicator{i}" for i in range(len(indicators))]]
    for covariate in covariates:
        values = frame[covariate]
        if _is_numeric(values):
            x = values.to_numpy(dtype="float64", na_value=np.nan)
            columns.append(x - x.mean())
            names.append(covariate)
        else:
            for level in _levels(values)[1:]:
                columns.append(_indicator(values, level))
                names.append(f"{covariate}[{level}]")
    return np.column_stack(columns), names


def _pooled_sd(y: np.ndarray, labels: np.ndarray) -> float:
    """Pooled within-group SD: sqrt(sum (n_g - 1) s_g² / (N - number of groups))."""
    codes, _ = pd.factorize(labels)
    counts = np.bincount(codes)
    means = np.bincount(codes, weights=y) / counts
    dof = len(y) - len(counts)
    if dof <= 0:
        return math.nan
    return math.sqrt(np.sum((y - means[codes]) ** 2) / dof)


# --------------------------------------------------------------------------- #
# Model fitting
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Fit:
    """Coefficients, standard errors and t df of one fitted model, and its description."""

    params: np.ndarray
    bse: np.ndarray
    df: np.ndarray
    model: str
    df_label: str
    icc: float = math.nan


def _fit(
    y: np.ndarray,
    X: np.ndarray,
    codes: np.ndarray | None,
    cluster: str | None,
    w: np.ndarray | None,
    weights: str | None,
) -> _Fit:
    """The model of :func:`compare_groups`, Notes: mixed model, its fallback, OLS or WLS."""
    if codes is not None and codes.max() + 1 < 2:
        raise InputError(f"cluster column {cluster!r} has only one cluster among the rows analysed")
    if w is not None:
        fit = _fit_least_squares(y, X, codes, w)
        how = f"WLS with survey weights {weights!r}"
        if codes is None:
            return _replace_model(fit, f"{how}, HC3 standard errors")
        return _replace_model(
            fit,
            f"{how} and cluster-robust (CR1) standard errors by {cluster} "
            "(mixed model not used with weights)",
        )
    if codes is None:
        return _replace_model(_fit_least_squares(y, X, None, None), "OLS, HC3 standard errors")
    n_clusters = int(codes.max() + 1)
    if n_clusters < MIN_CLUSTERS_MIXED:
        mixed: _Fit | str = f"was not tried: {n_clusters} clusters, fewer than {MIN_CLUSTERS_MIXED}"
        icc = math.nan
    else:
        mixed, icc = _fit_mixed(y, X, codes, cluster)
    if isinstance(mixed, _Fit):
        return mixed
    fit = _fit_least_squares(y, X, codes, None)
    return _Fit(
        fit.params,
        fit.bse,
        fit.df,
        f"OLS with cluster-robust (CR1) standard errors by {cluster} "
        f"(fallback: the mixed model {mixed})",
        fit.df_label,
        icc,
    )


def _replace_model(fit: _Fit, model: str) -> _Fit:
    return _Fit(fit.params, fit.bse, fit.df, model, fit.df_label, fit.icc)


def _fit_least_squares(
    y: np.ndarray, X: np.ndarray, codes: np.ndarray | None, w: np.ndarray | None
) -> _Fit:
    """OLS/WLS with HC3 (no clusters) or CR1 cluster-robust standard errors."""
    model = sm.OLS(y, X) if w is None else sm.WLS(y, X, weights=w)
    if codes is None:
        result = model.fit(cov_type="HC3")
        df, label = float(result.df_resid), "n − k"
    else:
        result = model.fit(cov_type="cluster", cov_kwds={"groups": codes})
        df, label = float(codes.max()), "clusters − 1"
    params = np.asarray(result.params, dtype="float64")
    return _Fit(
        params, np.asarray(result.bse, dtype="float64"), np.full(len(params), df), "", label
    )


def _fit_mixed(
    y: np.ndarray, X: np.ndarray, codes: np.ndarray, cluster: str | None
) -> tuple[_Fit | str, float]:
    """Random-intercept model by REML, or the reason it cannot be used (and its ICC)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = sm.MixedLM(y, X, groups=codes).fit(reml=True, method=list(_OPTIMISERS))
        except Exception as exc:  # any failure means: use the fallback, and say why
            return f"failed ({type(exc).__name__}: {exc})", math.nan
    if not result.converged:
        return "did not converge", math.nan
    variance = float(np.asarray(result.cov_re)[0, 0])
    icc = variance / (variance + float(result.scale))
    problem = _mixed_problem(caught, icc, np.asarray(result.bse_fe, dtype="float64"))
    if problem:
        return problem, icc
    params = np.asarray(result.fe_params, dtype="float64")
    return (
        _Fit(
            params,
            np.asarray(result.bse_fe, dtype="float64"),
            _between_within_df(X, codes),
            f"linear mixed model with a random intercept per {cluster} (REML)",
            "between-within",
            icc,
        ),
        icc,
    )


def _mixed_problem(caught: list[warnings.WarningMessage], icc: float, bse: np.ndarray) -> str:
    """Why a converged mixed model should not be used ('' if it can be)."""
    if not math.isfinite(icc) or icc < SINGULAR_ICC:
        return "was singular (random-intercept variance estimated at 0)"
    for record in caught:
        if issubclass(record.category, SingularMatrixWarning):
            return "was singular (singular random-effects covariance)"
        if issubclass(record.category, ConvergenceWarning) and "Hessian" in str(record.message):
            return "had a Hessian that is not positive definite"
    if not np.all(np.isfinite(bse)):
        return "gave non-finite standard errors"
    return ""


def _between_within_df(X: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Between-within df per column: G − p_b for cluster-level columns, N − G − p_w otherwise."""
    n, n_clusters = len(X), int(codes.max() + 1)
    counts = np.bincount(codes, minlength=n_clusters)
    means = np.vstack(
        [
            np.bincount(codes, weights=X[:, j], minlength=n_clusters) / counts
            for j in range(X.shape[1])
        ]
    ).T
    between = np.all(np.isclose(X, means[codes]), axis=0)
    p_between = np.linalg.matrix_rank(X[:, between]) if between.any() else 0
    p_within = X.shape[1] - p_between
    df = np.where(between, n_clusters - p_between, n - n_clusters - p_within).astype("float64")
    return np.where(df > 0, df, np.nan)


# --------------------------------------------------------------------------- #
# Inference and reporting
# --------------------------------------------------------------------------- #
def _quantiles(df: np.ndarray, confidence: float) -> np.ndarray:
    return stats.t.ppf(0.5 + confidence / 2, df)


def _p_value(estimate: float, se: float, df: float) -> float:
    if not (math.isfinite(se) and se > 0 and math.isfinite(df)):
        return math.nan
    return float(2 * stats.t.sf(abs(estimate / se), df))


def _sentence(fit: _Fit, df: float, covariates: Sequence[str], confidence: float) -> str:
    adjusted = f"adjusted for {', '.join(covariates)}" if covariates else "unadjusted"
    return (
        f"{fit.model}, {adjusted}; Wald {confidence * 100:g}% CI, "
        f"t quantiles on {df:g} df ({fit.df_label})"
    )


# --------------------------------------------------------------------------- #
# Waves
# --------------------------------------------------------------------------- #
def _wave_pair(values: pd.Series, wave: str, first: object, second: object) -> tuple:
    present = _levels(values)
    shown = ", ".join(map(repr, present)) or "none"
    if first is None and second is None:
        if len(present) != 2:
            raise InputError(
                f"column {wave!r} has {len(present)} waves ({shown}); "
                + ("pass first= and second=" if len(present) > 2 else "two are needed")
            )
        return present[0], present[1]
    if first is None or second is None:
        others = [v for v in present if v != (second if first is None else first)]
        if len(present) != 2 or len(others) != 1:
            raise InputError(f"pass both first= and second=; waves present in {wave!r}: {shown}")
        first, second = (others[0], second) if first is None else (first, others[0])
    for value in (first, second):
        if value not in present:
            raise InputError(f"wave {value!r} is not in column {wave!r}; waves present: {shown}")
    if first == second:
        raise InputError(f"first and second are the same wave ({first!r})")
    return first, second


def _wave_row(
    frame: pd.DataFrame,
    y: np.ndarray,
    group: object,
    wave: str,
    pair: tuple,
    covariates: Sequence[str],
    cluster: str | None,
    confidence: float,
) -> dict:
    """One row of :func:`compare_waves`: the change within one group."""
    first, second = pair
    later = (frame[wave] == second).to_numpy(dtype=bool)
    codes = _cluster_codes(frame[cluster]) if cluster is not None else None
    row = {
        "group": group,
        "n_first": int((~later).sum()),
        "n_second": int(later.sum()),
        "mean_first": float(y[~later].mean()) if (~later).any() else math.nan,
        "mean_second": float(y[later].mean()) if later.any() else math.nan,
        "n_clusters": pd.NA if codes is None else int(codes.max() + 1),
    }
    empty = {"estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan}
    empty["df"] = math.nan
    if not (later.any() and (~later).any()):
        return row | empty | {"method": "not estimable: the group was observed in one wave only"}
    if codes is not None and codes.max() + 1 < 2:
        return row | empty | {"method": f"not estimable: one {cluster} only in this group"}
    X, _ = _design(frame, [later.astype("float64")], covariates)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        return row | empty | {"method": "not estimable: covariates collinear with the wave"}
    fit = _fit_least_squares(y, X, codes, None)
    model = (
        "OLS, HC3 standard errors"
        if codes is None
        else f"OLS with cluster-robust (CR1) standard errors by {cluster}"
    )
    fit = _replace_model(fit, f"{model}, wave {second} − wave {first} within {group}")
    estimate, se, df = fit.params[1], fit.bse[1], fit.df[1]
    q = float(_quantiles(np.array([df]), confidence)[0])
    return row | {
        "estimate": estimate,
        "ci_low": estimate - q * se,
        "ci_high": estimate + q * se,
        "p_value": _p_value(estimate, se, df),
        "df": df,
        "method": _sentence(fit, df, covariates, confidence),
    }
