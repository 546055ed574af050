"""Group differences in domain scores, with honest uncertainty.

Children live in services (care homes, foster families of one provider, ...),
and all children of a service share its placement type. Their scores are
therefore not independent: a comparison of placement types that ignores the
services overstates its precision. The functions here compare groups with the
clustering taken into account:

* :func:`compare_groups` — the covariate-adjusted difference of each group from
  a reference group, from a linear mixed model with a random intercept per
  cluster (REML, kept at the variance boundary) with small-sample corrected
  cluster-robust (CR2, Bell-McCaffrey) standard errors, or from OLS / WLS with
  robust standard errors; a contrast whose groups have fewer than
  :data:`MIN_SERVICES` services each is not estimated, and the row says why;
* :func:`compare_domains` — the same over several outcomes, with p-values
  adjusted for multiple testing across the whole table;
* :func:`compare_waves` — the change between two survey waves within each group;
* :func:`adjust_pvalues` — Holm or Benjamini-Hochberg adjustment;
* :func:`cr2_vcov`, :func:`reml_variance_ratio` — the CR2 sandwich with its
  Satterthwaite df, and the REML variance ratio of a random-intercept model.

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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests

from research_lib.errors import InputError

__all__ = [
    "CORRECTIONS",
    "MIN_CLUSTERS_MIXED",
    "MIN_SERVICES",
    "NOT_ESTIMATED",
    "SINGULAR_ICC",
    "adjust_pvalues",
    "compare_domains",
    "compare_groups",
    "compare_waves",
    "cr2_vcov",
    "reml_variance_ratio",
]

#: Fewest clusters (services) each compared group must have for a contrast to be
#: estimated. With fewer, a group's difference cannot be told apart from the
#: differences between its few services (with one service per group it *is* the
#: difference between two services), so the row is marked not estimated.
MIN_SERVICES = 5
#: Codes of ``not_estimated`` (why a contrast was not estimated), with their meaning.
NOT_ESTIMATED: dict[str, str] = {
    "too_few_services": "the group has fewer services than the minimum",
    "too_few_services_reference": "the reference group has fewer services than the minimum",
}
#: Fewest clusters for which the random-intercept working model is fitted; with
#: fewer, the working model is independence (OLS), still with CR2 errors.
MIN_CLUSTERS_MIXED = 10
#: An ICC below this is reported as the variance boundary (the REML fit is kept:
#: its estimates then equal OLS).
SINGULAR_ICC = 1e-4
#: Accepted ``correction`` / ``method`` codes for multiple testing, with their names.
CORRECTIONS: dict[str, str] = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}

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
    "n_services",
    "n_services_reference",
    "estimated",
    "not_estimated",
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
    min_services: int = MIN_SERVICES,
) -> pd.DataFrame:
    """Adjusted difference of each group from a reference group, with a CI.

    Parameters
    ----------
    data : DataFrame
        One row per child, e.g. from :func:`research_lib.stats.scoring.scored_table`.
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
    min_services : int
        Fewest distinct clusters (services) the group **and** the reference
        must each have for their contrast to be estimated, default
        :data:`MIN_SERVICES` (5); values below 2 count as 2 (one service per
        group can never be told apart from its placement type). Only used
        with ``cluster``.

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
          covariate, cluster or weight (also in ``attrs["n_excluded"]``);
        * ``n_services``, ``n_services_reference`` — distinct clusters of the
          group and of the reference (missing without ``cluster``);
        * ``estimated`` — False when the contrast was not estimated (too few
          services); its estimate, CI and p are then missing,
          ``not_estimated`` holds the code (a key of :data:`NOT_ESTIMATED`,
          '' when estimated) and ``method`` says why in words.

    Raises
    ------
    InputError
        A column that does not exist (the message lists those that do), a
        non-numeric outcome, a reference group that is absent (the message
        lists the groups present), fewer than two groups, covariates collinear
        with the groups, non-positive weights or a confidence outside (0, 1).

    Notes
    -----
    **Which contrasts are estimated.** With ``cluster``, a group is compared
    with the reference only when both have at least ``min_services``
    distinct clusters. A placement type is assigned per service, so a
    contrast between one or two services per group is a contrast between
    those services: no standard error can separate the placement type from
    the service. Such rows come back with ``estimated = False``; the model is
    fitted on the reference and the groups that pass (the others' children
    are left out of it, so they do not shape the covariate adjustment).

    **The model** is ``outcome ~ 1 + group dummies + covariates``:

    * ``cluster`` given, no weights: a linear mixed model with a random
      intercept per cluster, fitted by REML (:func:`reml_variance_ratio`;
      Hox 2010; Snijders & Bosker 2012); a REML variance of 0 (ICC below
      :data:`SINGULAR_ICC`) is a legitimate boundary estimate and is kept
      (the GLS estimates then equal OLS), not replaced by another model.
      With fewer than :data:`MIN_CLUSTERS_MIXED` clusters (only possible with
      ``min_services`` below 5) the working model is independence (OLS).
    * ``cluster`` not given: OLS with HC3 heteroscedasticity-robust standard
      errors (Long & Ervin 2000).
    * ``weights`` given: WLS with the weights, with CR2 standard errors by
      ``cluster`` (independence working model) or HC3 without; the mixed
      model is not used with weights.

    **Standard errors with clusters** are the CR2 ("bias-reduced
    linearisation") sandwich of Bell & McCaffrey (2002) with the working
    model of the fit (Pustejovsky & Tipton 2018), see :func:`cr2_vcov`:
    robust to a wrong variance model, and with few clusters far less biased
    than CR1, which with one service per group collapses towards zero (the
    residuals of a lone service sum to zero). Intervals are Wald intervals
    ``estimate ± t * SE`` and p-values two-sided, always with **t**
    quantiles: HC3 on ``n − k`` df; CR2 on the Satterthwaite (Bell-McCaffrey)
    df of each coefficient under the working model, which for a two-group
    comparison of cluster-level types is close to Welch's df on the service
    means (exactly, when the design is balanced).

    **Measured** (``benchmarks/bench_few_clusters.py``, 7 children per service,
    ICC 0.10, 1000 samples each): with no true difference, 95% intervals
    exclude zero in 3.8% (3 + 3 services, ``min_services=3``), 5.5% (4 + 4),
    4.5% (5 + 5), 6.1% (6 + 6), 5.8% (8 + 8) and 4.9% (10 + 10) of samples,
    and in 1.1% with 2 + 6 services (CR2 is conservative there; the CR1
    errors used before gave 11%); one family, one foster and four cnst
    services (the case where the earlier OLS + CR1 on G − 1 df put zero
    outside 65% of the intervals, 100% for the one-service contrast) are
    declined. With 30 + 30 services the coverage of a planted −8 is 94.6%.

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
    * Bell, R. M., & McCaffrey, D. F. (2002). Bias reduction in standard errors
      for linear regression with multi-stage samples. *Survey Methodology*,
      28(2), 169-181.
    * Pustejovsky, J. E., & Tipton, E. (2018). Small-sample methods for
      cluster-robust variance estimation and hypothesis testing in fixed
      effects models. *J. Business & Economic Statistics*, 36(4), 672-683.

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

    labels = frame[by].to_numpy()
    services = _services_per_group(labels, codes, groups)
    estimable = [g for g in groups[1:] if _too_few(services, g, reference, min_services) == ""]
    fit = None
    if estimable:
        kept = np.isin(labels, [reference, *estimable])
        part = frame.loc[kept]
        X, _ = _design(part, [_indicator(part[by], g) for g in estimable], covariates)
        _check_rank(X, by, covariates)
        fit = _fit(
            y[kept],
            X,
            None if codes is None else _cluster_codes(frame.loc[kept, cluster]),
            cluster,
            None if w is None else w[kept],
            weights,
        )
        q = _quantiles(fit.df, confidence)
    sd = _pooled_sd(y, labels)
    rows = []
    for group in groups[1:]:
        row = {
            "group": group,
            "n": int(np.sum(labels == group)),
            "reference": reference,
            "n_reference": int(np.sum(labels == reference)),
            "outcome": outcome,
            "n_excluded": n_excluded,
            "n_services": services.get(group, pd.NA),
            "n_services_reference": services.get(reference, pd.NA),
        }
        reason = _too_few(services, group, reference, min_services)
        if fit is None or reason:
            rows.append(
                row
                | {
                    "estimated": False,
                    "not_estimated": reason,
                    "method": _not_estimated_sentence(reason, services, group, reference, cluster)
                    + f" (minimum {max(min_services, 2)} per group)",
                    "icc": math.nan,
                    "n_clusters": pd.NA,
                }
            )
            continue
        j = 1 + estimable.index(group)
        estimate, se, df = fit.params[j], fit.bse[j], fit.df[j]
        low, high = estimate - q[j] * se, estimate + q[j] * se
        rows.append(
            row
            | {
                "estimate": estimate,
                "ci_low": low,
                "ci_high": high,
                "p_value": _p_value(estimate, se, df),
                "df": df,
                "effect_size": estimate / sd,
                "effect_size_ci_low": low / sd,
                "effect_size_ci_high": high / sd,
                "method": _sentence(fit, df, covariates, confidence),
                "icc": fit.icc,
                "n_clusters": pd.NA if codes is None else int(np.unique(codes[kept]).size),
                "estimated": True,
                "not_estimated": "",
            }
        )
    table = pd.DataFrame(rows, columns=_GROUP_COLUMNS)
    for column in ("n_clusters", "n_services", "n_services_reference"):
        table[column] = table[column].astype("Int64")
    table["estimated"] = table["estimated"].astype(bool)
    table.attrs.update(n_excluded=n_excluded, confidence=confidence, min_services=min_services)
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
    min_services: int = MIN_SERVICES,
) -> pd.DataFrame:
    """:func:`compare_groups` over several outcomes, with adjusted p-values.

    Parameters
    ----------
    data, by, reference, covariates, cluster, weights, min_services
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
        compare_groups(
            data, o, by, reference, covariates, cluster, weights, min_services=min_services
        )
        for o in outcomes
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
    min_services: int = MIN_SERVICES,
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
    children of the two waves: CR2 cluster-robust standard errors by
    ``cluster`` with t quantiles on the Bell-McCaffrey df (see
    :func:`cr2_vcov`), or HC3 with ``n − k`` df without ``cluster``. With
    ``cluster``, a group with fewer than ``min_services`` services (at least
    2) is not estimated and ``method`` says so. Rows of other waves are ignored
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
                min_services,
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


def _services_per_group(labels: np.ndarray, codes: np.ndarray | None, groups: list) -> dict:
    """Distinct clusters per group ({} without clusters)."""
    if codes is None:
        return {}
    return {g: int(np.unique(codes[labels == g]).size) for g in groups}


def _too_few(services: dict, group: object, reference: object, min_services: int) -> str:
    """Code of :data:`NOT_ESTIMATED` when ``group`` vs ``reference`` lacks services, else ''."""
    if not services:
        return ""
    min_services = max(min_services, 2)  # one service per group can never be separated
    if services[reference] < min_services:
        return "too_few_services_reference"
    if services[group] < min_services:
        return "too_few_services"
    return ""


def _not_estimated_sentence(
    reason: str, services: dict, group: object, reference: object, cluster: str | None
) -> str:
    return (
        f"not estimated: {group!r} has {services.get(group)} and {reference!r} has "
        f"{services.get(reference)} distinct {cluster}"
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
    """The model of :func:`compare_groups`, Notes: mixed model + CR2, OLS/WLS + CR2, or HC3."""
    if codes is not None and codes.max() + 1 < 2:
        raise InputError(f"cluster column {cluster!r} has only one cluster among the rows analysed")
    if w is not None:
        how = f"WLS with survey weights {weights!r}"
        if codes is None:
            return _replace_model(_fit_least_squares(y, X, None, w), f"{how}, HC3 standard errors")
        fit = _fit_cr2(y, X, codes, 0.0, w)
        return _replace_model(
            fit,
            f"{how} and {_CR2_TEXT} by {cluster} (mixed model not used with weights)",
        )
    if codes is None:
        return _replace_model(_fit_least_squares(y, X, None, None), "OLS, HC3 standard errors")
    n_clusters = int(codes.max() + 1)
    if n_clusters < MIN_CLUSTERS_MIXED:
        fit = _fit_cr2(y, X, codes, 0.0, None)
        return _replace_model(
            fit,
            f"OLS with {_CR2_TEXT} by {cluster} (the mixed model was not tried: "
            f"{n_clusters} clusters, fewer than {MIN_CLUSTERS_MIXED})",
        )
    ratio = reml_variance_ratio(y, X, codes)
    fit = _fit_cr2(y, X, codes, ratio, None)
    icc = ratio / (1.0 + ratio)
    boundary = (
        " at the boundary (random-intercept variance estimated at 0, so the estimates equal OLS)"
        if icc < SINGULAR_ICC
        else ""
    )
    return _Fit(
        fit.params,
        fit.bse,
        fit.df,
        f"linear mixed model with a random intercept per {cluster} (REML{boundary}) "
        f"and {_CR2_TEXT}",
        fit.df_label,
        icc,
    )


_CR2_TEXT = "cluster-robust CR2 (Bell-McCaffrey) standard errors"


def _replace_model(fit: _Fit, model: str) -> _Fit:
    return _Fit(fit.params, fit.bse, fit.df, model, fit.df_label, fit.icc)


def _fit_least_squares(y: np.ndarray, X: np.ndarray, codes: None, w: np.ndarray | None) -> _Fit:
    """OLS/WLS with HC3 standard errors and t on n − k df (no clusters)."""
    model = sm.OLS(y, X) if w is None else sm.WLS(y, X, weights=w)
    result = model.fit(cov_type="HC3")
    params = np.asarray(result.params, dtype="float64")
    df = np.full(len(params), float(result.df_resid))
    return _Fit(params, np.asarray(result.bse, dtype="float64"), df, "", "n − k")


def _fit_cr2(
    y: np.ndarray, X: np.ndarray, codes: np.ndarray, ratio: float, w: np.ndarray | None
) -> _Fit:
    """GLS (working model of :func:`cr2_vcov`) with CR2 standard errors and BM df."""
    params, vcov, df = cr2_vcov(y, X, codes, ratio=ratio, weights=w)
    bse = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    return _Fit(params, bse, df, "", "Bell-McCaffrey / Satterthwaite")


def reml_variance_ratio(y: np.ndarray, X: np.ndarray, codes: np.ndarray) -> float:
    """REML estimate of ``λ = τ² / σ²`` in a random-intercept model, boundary included.

    Parameters
    ----------
    y : ndarray
        Outcome, length N.
    X : ndarray
        Fixed-effects design, N × p, full column rank.
    codes : ndarray
        Integer cluster code per row (0 .. G − 1).

    Returns
    -------
    float
        ``λ ≥ 0``: random-intercept variance over residual variance; the ICC is
        ``λ / (1 + λ)``. ``0`` when the REML maximum lies on the boundary.

    Notes
    -----
    The model is ``y = Xβ + u_cluster + e`` with ``u ~ N(0, τ²)``,
    ``e ~ N(0, σ²)``, so ``Var(y_j) = σ² (I + λJ)`` in cluster ``j``. The
    restricted log-likelihood with ``σ²`` profiled out is, up to a constant,
    ``−½ [(N − p) log(RSS_λ / (N − p)) + Σ_j log(1 + n_j λ) + log|X'V⁻¹X|]``
    (Harville 1977; ``RSS_λ`` the generalised residual sum of squares). It is
    maximised over the ICC ``ρ = λ / (1 + λ)`` in ``[0, 1)`` on a grid
    refined by Brent's bounded search, with ``ρ = 0`` itself evaluated, so a
    maximum on the boundary is found and **kept** (the fit is then exactly
    OLS), rather than being reported as a failed fit. Cluster sums make each
    evaluation ``O(G p²)``. Validated against ``statsmodels`` ``MixedLM``
    (REML) in ``tests/test_compare.py``.

    References
    ----------
    * Harville, D. A. (1977). Maximum likelihood approaches to variance
      component estimation and to related problems. *JASA*, 72(358), 320-338.
    """
    n, p = X.shape
    n_clusters = int(codes.max() + 1)
    sizes = np.bincount(codes, minlength=n_clusters).astype("float64")
    sums_x = np.vstack(
        [np.bincount(codes, weights=X[:, k], minlength=n_clusters) for k in range(p)]
    ).T
    sums_y = np.bincount(codes, weights=y, minlength=n_clusters)
    xtx, xty, yty = X.T @ X, X.T @ y, float(y @ y)
    dof = n - p

    def objective(rho: float) -> float:
        lam = rho / (1.0 - rho)
        shrink = lam / (1.0 + sizes * lam)
        xvx = xtx - (sums_x * shrink[:, None]).T @ sums_x
        xvy = xty - sums_x.T @ (shrink * sums_y)
        sign, logdet = np.linalg.slogdet(xvx)
        if sign <= 0:
            return math.inf
        rss = yty - float(np.sum(shrink * sums_y**2)) - float(xvy @ np.linalg.solve(xvx, xvy))
        if rss <= 0:
            return math.inf
        return 0.5 * (dof * math.log(rss / dof) + float(np.sum(np.log1p(sizes * lam))) + logdet)

    grid = np.linspace(0.0, 0.98, 50)
    values = np.array([objective(r) for r in grid])
    best = int(np.argmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    if best == len(grid) - 1:
        high = 1.0 - 1e-9
    refined = optimize.minimize_scalar(
        objective, bounds=(low, high), method="bounded", options={"xatol": 1e-10}
    )
    rho = float(refined.x) if refined.fun < values[best] else float(grid[best])
    if values[0] <= min(refined.fun, values[best]):
        rho = 0.0
    return rho / (1.0 - rho)


def cr2_vcov(
    y: np.ndarray,
    X: np.ndarray,
    codes: np.ndarray,
    ratio: float = 0.0,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GLS/WLS coefficients with the CR2 cluster-robust covariance and BM df.

    Parameters
    ----------
    y : ndarray
        Outcome, length N.
    X : ndarray
        Design, N × p, full column rank.
    codes : ndarray
        Integer cluster code per row (0 .. G − 1).
    ratio : float
        ``λ = τ² / σ²`` of the working model ``Φ_j = I + λJ`` (a random
        intercept, e.g. from :func:`reml_variance_ratio`); 0 for independence.
    weights : ndarray, optional
        Survey weights: WLS with ``W = diag(w)`` and working model ``Φ = I``
        (``ratio`` must then be 0). Without weights ``W = Φ⁻¹`` (GLS).

    Returns
    -------
    params : ndarray
        ``β = (X'WX)⁻¹ X'Wy``.
    vcov : ndarray
        CR2 covariance, p × p.
    df : ndarray
        Satterthwaite degrees of freedom of each coefficient (Bell & McCaffrey
        2002; Pustejovsky & Tipton 2018, "model-based" under ``Φ``).

    Notes
    -----
    With ``M = (X'WX)⁻¹``, residuals ``e = y − Xβ`` and ``(I − H)_j`` the rows of
    cluster ``j`` of ``I − X M X'W``::

        V_CR2 = M [Σ_j X_j' W_j A_j e_j e_j' A_j W_j X_j] M,
        A_j   = D_j' B_j^(−1/2) D_j,  Φ_j = D_j' D_j (upper Cholesky factor),
        B_j   = D_j (I − H)_j Φ (I − H)_j' D_j'

    (a Moore-Penrose inverse square root where ``B_j`` is singular). ``A_j``
    makes ``V_CR2`` exactly unbiased when the working model is true (Bell &
    McCaffrey 2002; Pustejovsky & Tipton 2018); with ``Φ = I`` and one row per
    cluster it is HC2. For a coefficient ``c`` the statistic ``c'V_CR2 c`` is a
    quadratic form ``Σ_j (g_j'y)²``; its Satterthwaite df under ``Φ`` is
    ``(tr Ω)² / ‖Ω‖²_F`` with ``Ω_jk = g_j' Φ g_k``, computed through
    ``Ω = diag(u_j'Φ_j u_j) − A'MB − B'MA + A'MQMA`` (``u_j = A_j W_j X_j M c``,
    columns ``a_j = X_j'u_j``, ``b_j = X_j'W_jΦ_j u_j``, ``Q = X'WΦWX``) without
    forming N × N matrices. In a balanced two-group comparison with the
    groups assigned per cluster this is Welch's test on the cluster means
    (hand-checked in the tests).

    References
    ----------
    * Bell, R. M., & McCaffrey, D. F. (2002). Bias reduction in standard errors
      for linear regression with multi-stage samples. *Survey Methodology*,
      28(2), 169-181.
    * Pustejovsky, J. E., & Tipton, E. (2018). Small-sample methods for
      cluster-robust variance estimation and hypothesis testing in fixed
      effects models. *J. Business & Economic Statistics*, 36(4), 672-683.
    * Imbens, G. W., & Kolesár, M. (2016). Robust standard errors in small
      samples: some practical advice. *Rev. Economics and Statistics*, 98(4),
      701-712.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.column_stack([np.ones(4), [0.0, 0.0, 1.0, 1.0]])
    >>> params, vcov, df = cr2_vcov(np.array([1.0, 3.0, 4.0, 8.0]), X, np.arange(4))
    >>> params.round(9).tolist(), np.diag(vcov).round(9).tolist(), df.round(9).tolist()
    ([2.0, 4.0], [1.0, 5.0], [1.0, 2.0])
    """
    if weights is not None and ratio != 0:
        raise InputError("cr2_vcov: survey weights are used with the independence working model")
    n_clusters = int(codes.max() + 1)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_clusters + 1))
    blocks = [order[bounds[j] : bounds[j + 1]] for j in range(n_clusters)]

    def working(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Φ_j and W_j of one cluster."""
        size = len(rows)
        if weights is not None:
            return np.eye(size), np.diag(weights[rows])
        phi = np.eye(size) + ratio
        return phi, np.eye(size) - ratio / (1.0 + size * ratio)

    parts = [(rows, *working(rows)) for rows in blocks]
    xwx = sum(X[r].T @ wj @ X[r] for r, _, wj in parts)
    q = sum(X[r].T @ wj @ phi @ wj @ X[r] for r, phi, wj in parts)
    m = np.linalg.inv(xwx)
    params = m @ sum(X[r].T @ wj @ y[r] for r, _, wj in parts)
    resid = y - X @ params

    p = X.shape[1]
    meat = np.zeros((p, p))
    a_cols = np.empty((n_clusters, p, p))
    b_cols = np.empty((n_clusters, p, p))
    d_terms = np.empty((n_clusters, p))
    for j, (rows, phi, wj) in enumerate(parts):
        xj = X[rows]
        d = np.linalg.cholesky(phi).T  # upper: Φ_j = D'D
        xm = xj @ m
        middle = (
            phi - xm @ (xj.T @ wj @ phi) - (phi @ wj @ xj) @ xm.T + xm @ q @ xm.T
        )  # (I − H)_j Φ (I − H)_j'
        b = d @ middle @ d.T
        values, vectors = np.linalg.eigh((b + b.T) / 2)
        keep = values > 1e-10 * max(values.max(), 1e-300)
        inv_sqrt = (vectors[:, keep] / np.sqrt(values[keep])) @ vectors[:, keep].T
        a = d.T @ inv_sqrt @ d
        u = a @ wj @ xj @ m  # n_j × p: column k is u_j for coefficient k
        s = u.T @ resid[rows]
        meat += np.outer(s, s)
        a_cols[j] = xj.T @ u
        b_cols[j] = xj.T @ wj @ phi @ u
        d_terms[j] = np.einsum("ik,ij,jk->k", u, phi, u)
    df = np.empty(p)
    mqm = m @ q @ m
    for k in range(p):
        a_k, b_k = a_cols[:, :, k].T, b_cols[:, :, k].T  # p × G
        cross = a_k.T @ m @ b_k
        omega = np.diag(d_terms[:, k]) - cross - cross.T + a_k.T @ mqm @ a_k
        total = float(np.sum(omega**2))
        df[k] = float(np.trace(omega)) ** 2 / total if total > 0 else math.nan
    return params, meat, df


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
        f"t quantiles on {round(float(df), 1):g} df ({fit.df_label})"
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
    min_services: int,
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
    if codes is not None and codes.max() + 1 < max(min_services, 2):
        return (
            row
            | empty
            | {
                "method": f"not estimated: {codes.max() + 1} {cluster} in this group "
                f"(minimum {max(min_services, 2)})"
            }
        )
    X, _ = _design(frame, [later.astype("float64")], covariates)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        return row | empty | {"method": "not estimable: covariates collinear with the wave"}
    if codes is None:
        fit = _fit_least_squares(y, X, None, None)
        model = "OLS, HC3 standard errors"
    else:
        fit = _fit_cr2(y, X, codes, 0.0, None)
        model = f"OLS with {_CR2_TEXT} by {cluster}"
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
