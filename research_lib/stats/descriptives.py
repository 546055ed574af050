"""Descriptive tables of domain scores by group: means, confidence intervals, low shares.

The tables start from ``scored_table`` (one row per child) and come out tidy and
long, one row per (group, outcome), ready for plotting, for disclosure control
and for the report tables:

* the mean score with a t-based confidence interval and the SD;
* where a ``low_<outcome>`` flag exists, the number and share of children with a
  low score, the share with a Wilson score interval;
* optionally with survey weights and with children clustered in services: the
  intervals then take the clustering into account and the design effect is
  given (see :func:`describe_scores`, Notes).

Children with a missing score are left out of that outcome's row (``n`` counts
only children with a score), never imputed.

Examples
--------
>>> import pandas as pd
>>> data = pd.DataFrame({
...     "placement_type": pd.Categorical(["cnst", "cnst", "foster", "foster"],
...                                      categories=["foster", "cnst"]),
...     "home": [40.0, 60.0, 70.0, 90.0],
...     "low_home": pd.array([True, False, False, False], dtype="boolean")})
>>> table = describe_scores(data, ["home"], by="placement_type")
>>> table[["by", "group", "n", "mean", "n_low", "share_low"]]
               by   group  n  mean  n_low  share_low
0             all     all  4  65.0      1       0.25
1  placement_type  foster  2  80.0      0       0.00
2  placement_type    cnst  2  50.0      1       0.50
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from research_lib.errors import InputError

__all__ = [
    "AGE_BANDS",
    "AGE_BAND_COLUMN",
    "OVERALL",
    "GROUP_SEPARATOR",
    "age_band",
    "describe_scores",
    "describe_by_dimensions",
]

#: Age bands in completed years, inclusive at both ends: (lowest, highest, label).
AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (8, 10, "8-10"),
    (11, 13, "11-13"),
    (14, 17, "14-17"),
)
#: Name of the derived age-band column.
AGE_BAND_COLUMN = "age_band"
#: ``by`` and ``group`` label of the rows about all children.
OVERALL = "all"
#: Joins the names and the values of several ``by`` variables into one label.
GROUP_SEPARATOR = " | "

_MEAN_COLUMNS = ["n", "n_eff", "mean", "ci_low", "ci_high", "sd"]
_LOW_COLUMNS = ["n_low", "share_low", "share_low_ci_low", "share_low_ci_high"]
#: Extra columns with ``cluster``.
_CLUSTER_COLUMNS = ["n_clusters", "deff"]
_CLUSTER_LOW_COLUMNS = ["share_low_deff"]


def age_band(age: pd.Series, bands: Sequence[tuple[int, int, str]] = AGE_BANDS) -> pd.Series:
    """Age bands as an ordered categorical.

    Parameters
    ----------
    age : Series
        Age in years (numbers; missing allowed).
    bands : sequence of (lowest, highest, label)
        Bands in completed years, both ends inclusive, in the order the
        categories should have. Must not overlap. Default :data:`AGE_BANDS`
        (8-10, 11-13, 14-17).

    Returns
    -------
    Series
        Ordered categorical named ``"age_band"`` with the band labels as
        categories, on the index of ``age``. Missing where the age is missing
        and where it lies outside every band (for the default bands: outside
        8-17, e.g. 7 or 18); such children are kept in the table, they only have
        no band.

    Notes
    -----
    Ages are taken in completed years: a fractional age is rounded down first,
    so 10.9 is 10 and falls in "8-10", 17.5 falls in "14-17" and 7.9 in no band.

    Examples
    --------
    >>> age_band(pd.Series([7, 8, 10.5, 11, 17, 18])).tolist()
    [nan, '8-10', '8-10', '11-13', '14-17', nan]
    """
    bands = tuple(bands)
    labels = [label for _, _, label in bands]
    if len(set(labels)) != len(labels):
        raise InputError(f"age bands must have distinct labels, got {labels}")
    for i, (low, high, label) in enumerate(bands):
        if low > high:
            raise InputError(f"age band {label!r} has lowest {low} above highest {high}")
        for other_low, other_high, other in bands[i + 1 :]:
            if low <= other_high and other_low <= high:
                raise InputError(f"age bands {label!r} and {other!r} overlap; make them disjoint")
    series = pd.Series(age)
    years = np.floor(pd.to_numeric(series).astype("Float64").to_numpy("float64", na_value=np.nan))
    codes = np.full(len(years), -1, dtype=np.int64)
    for code, (low, high, _) in enumerate(bands):
        codes[(years >= low) & (years <= high)] = code
    values = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(labels, ordered=True))
    return pd.Series(values, index=series.index, name=AGE_BAND_COLUMN)


def describe_scores(
    data: pd.DataFrame,
    outcomes: Sequence[str],
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    low_prefix: str = "low_",
    overall: bool = True,
    cluster: str | None = None,
) -> pd.DataFrame:
    """Mean, confidence interval, SD and low-score share of outcomes, by group.

    Parameters
    ----------
    data : DataFrame
        One row per child, e.g. from ``scored_table``.
    outcomes : sequence of str
        Numeric outcome columns (domain scores).
    by : str, sequence of str or None
        Grouping variable(s). ``None`` gives only the overall rows. With several
        variables the groups are their combinations. ``"age_band"`` is derived
        from ``age`` with :func:`age_band` when ``data`` has no such column.
    weight : str or None
        Column of positive survey weights. Children with a missing weight are
        left out, like children with a missing outcome.
    confidence : float
        Confidence level of all intervals, between 0 and 1.
    low_prefix : str
        Prefix of the low-score flags: the share is given for ``outcome``
        when a ``low_prefix + outcome`` column exists.
    overall : bool
        Also give the rows about all children (``by == group == "all"``).
        Always true when ``by`` is ``None``.
    cluster : str or None
        Column naming the cluster (service) of each child, e.g.
        ``"service_id"``. Children of one service resemble each other, so the
        intervals are then cluster-robust and the design effect is given
        (see Notes). Children with a missing cluster are left out.

    Returns
    -------
    DataFrame
        Tidy, one row per (group, outcome), ordered by outcome (as given), then
        the overall row, then the groups in order: category order for
        categoricals, sorted values otherwise. Columns:

        ``by``
            Name of the grouping variable, several joined with ``" | "``
            (``"placement_type | age_band"``); ``"all"`` on the overall rows.
        ``group``
            The group's value as a string, several joined with ``" | "``
            (``"cnst | 11-13"``); ``"all"`` on the overall rows.
        one column per ``by`` variable
            The group's value of that variable (categorical in group order),
            missing on the overall rows - for filtering and plotting.
        ``outcome``
            Name of the outcome.
        ``n``
            Children with a non-missing outcome (and weight, if weighted).
        ``n_eff``
            Kish effective sample size ``(Σw)² / Σw²``; equals ``n`` unweighted.
        ``mean``, ``ci_low``, ``ci_high``
            Mean and its confidence interval (see Notes).
        ``sd``
            Standard deviation (weighted if weighted).
        ``n_low``, ``share_low``, ``share_low_ci_low``, ``share_low_ci_high``
            Only when at least one outcome has a low flag (missing for the others):
            number of children flagged low (unweighted count), share flagged low
            (weighted if weighted) and its Wilson interval.
        ``n_clusters``, ``deff``, ``share_low_deff``
            Only with ``cluster``: clusters (services) with at least one child
            in the row, and the design effect of the clustering for the mean
            and for the low share (variance with the clustering over the
            variance without it; 1 = no clustering effect).
        ``method``
            Short text naming the methods used.

    Notes
    -----
    Unweighted: ``mean ± t(1 - α/2, n - 1) · sd / √n`` with ``sd`` the sample
    SD (``ddof=1``); the low share is ``n_low / n`` with the Wilson score
    interval of ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.

    Weighted, with ``w`` the weights and ``m`` the weighted mean ``Σwx / Σw``:

    * the CI of the mean uses the linearisation (Taylor, sandwich) variance of
      a ratio mean for a with-replacement design without strata or clusters,
      ``Var(m) = n / (n - 1) · Σ w² (x - m)² / (Σw)²``, with ``t(n - 1)``
      critical values - as R's ``survey::svymean`` on ``svydesign(ids = ~1,
      weights = ~w)``, and the HC1 robust SE of an intercept-only WLS;
    * ``sd = √(n / (n - 1) · Σ w (x - m)² / Σw)``;
    * the low share is the weighted share ``p = Σw·low / Σw`` with the Wilson
      interval computed on the Kish effective sample size ``n_eff``, i.e. with
      ``count = p · n_eff`` and ``nobs = n_eff`` (non-integer).

    With all weights equal every weighted figure equals the unweighted one.
    Without ``cluster`` neither approach accounts for clustering of children
    within services: the intervals are too narrow where outcomes cluster
    (ICC > 0).

    **With** ``cluster`` the services are the primary sampling units, as in R's
    ``survey::svymean`` on ``svydesign(ids = ~service_id, weights = ~w)``
    (Wolter 2007, ch. 6): with ``G`` the clusters of the row and
    ``z_c = Σ_{i in c} w_i (x_i - m)`` the cluster totals of the linearised
    residuals,

    * ``Var(m) = G / (G - 1) · Σ_c z_c² / (Σw)²`` and the CI is
      ``m ± t(1 - α/2, G - 1) · √Var(m)`` (the same as the CR1 standard
      error of an intercept-only OLS/WLS clustered by ``cluster``); a row
      with fewer than two clusters has no CI (one service cannot show how
      services vary);
    * ``deff`` is ``Var(m)`` over the variance without the clustering (the
      unclustered formula above, same weights) - about ``1 + (b - 1)·ICC``
      for ``b`` children per service (Kish 1965);
    * the low share uses the same variance with ``x`` the 0/1 flag; its
      ``share_low_deff`` is that variance over ``p(1 - p) / n`` (``n_eff``
      when weighted), and its interval is the Wilson interval on the
      Korn-Graubard effective sample size
      ``n* = n / max(deff, 1) · (t(1 - α/2, n - 1) / t(1 - α/2, G - 1))²``
      (Korn & Graubard 1998): the clustering shrinks ``n`` and the few
      clusters widen the critical value. A share of 0 or 1 has no variance
      between clusters; its ``deff`` is then taken as 1.

    ``G`` counts the clusters within the row's group, so a placement type run
    by three services gets ``t`` on 2 df, not on the country's services.

    References: Kish, L. (1965). *Survey Sampling*. Wiley. Wolter, K. M.
    (2007). *Introduction to Variance Estimation* (2nd ed.). Springer. Korn,
    E. L., & Graubard, B. I. (1998). Confidence intervals for proportions with
    small expected number of positive counts estimated from survey data.
    *Survey Methodology*, 24(2), 193-201.

    Groups with fewer than two children have no SD and no CI of the mean; a
    category with no children (or no child with the outcome) is kept with
    ``n = 0`` and missing statistics, so tables keep their shape. Children with
    a missing grouping value appear only in the overall rows.

    Examples
    --------
    >>> data = pd.DataFrame({"sex": ["f", "f", "m", "m", None],
    ...                      "home": [40.0, 60.0, 70.0, float("nan"), 50.0]})
    >>> describe_scores(data, ["home"], by="sex")[["group", "n", "mean", "sd"]]
      group  n  mean         sd
    0   all  4  55.0  12.909944
    1     f  2  50.0  14.142136
    2     m  1  70.0        NaN

    Four services of two children; the services differ, so the design effect is
    above 1 (by hand: cluster totals of ``x - m`` are -23, 15, -3, 11, so
    ``Var(m) = 4/3 · 884 / 8² = 18.42`` against ``8/7 · 462 / 8² = 8.25``):

    >>> data = pd.DataFrame({"service_id": ["a", "a", "b", "b", "c", "c", "d", "d"],
    ...                      "home": [40.0, 44.0, 60.0, 62.0, 50.0, 54.0, 58.0, 60.0]})
    >>> row = describe_scores(data, ["home"], cluster="service_id").iloc[0]
    >>> row[["n", "n_clusters", "mean", "deff"]].to_dict()
    {'n': 8, 'n_clusters': 4, 'mean': 53.5, 'deff': 2.2323...}
    """
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    if not outcomes:
        raise InputError("outcomes is empty; name at least one score column")
    by_list = [] if by is None else [by] if isinstance(by, str) else list(by)
    data = _with_age_band(data, by_list)
    extra = [c for c in (weight, cluster) if c]
    missing = [c for c in [*outcomes, *by_list, *extra] if c not in data]
    if missing:
        raise InputError(f"column(s) {missing} not in the data; columns are {list(data.columns)}")

    values = _numeric_matrix(data, outcomes)
    weights = _weights(data, weight)
    clusters = None
    if cluster is not None:
        clusters = pd.factorize(data[cluster], use_na_sentinel=True)[0].astype(np.int64)
    low_names = [f"{low_prefix}{o}" for o in outcomes]
    has_low = np.array([name in data.columns for name in low_names])
    flags = None
    if has_low.any():
        flags = np.full(values.shape, np.nan)
        for j in np.flatnonzero(has_low):
            flags[:, j] = _flag_vector(data[low_names[j]])

    blocks = []
    if overall or not by_list:
        codes = np.zeros(len(data), dtype=np.int64)
        stats_ = _grouped(values, flags, weights, codes, 1, confidence, clusters)
        blocks.append((stats_, pd.DataFrame({"by": [OVERALL], "group": [OVERALL]})))
    if by_list:
        codes, labels = _group_codes(data, by_list)
        stats_ = _grouped(values, flags, weights, codes, len(labels), confidence, clusters)
        blocks.append((stats_, labels))

    frames = []
    for order, (block_stats, block_labels) in enumerate(blocks):
        n_groups = len(block_labels)
        frame = block_labels.loc[np.tile(np.arange(n_groups), len(outcomes))].reset_index(drop=True)
        frame["outcome"] = np.repeat(outcomes, n_groups)
        for name, array in block_stats.items():
            frame[name] = array.T.ravel()  # (groups, outcomes) -> outcome-major
        frame["_outcome"] = np.repeat(np.arange(len(outcomes)), n_groups)
        frame["_block"] = order
        frame["_group"] = np.tile(np.arange(n_groups), len(outcomes))
        frames.append(frame)
    result = pd.concat(frames, ignore_index=True)
    result = result.sort_values(["_outcome", "_block", "_group"], kind="stable")
    if flags is not None:
        no_flag = ~has_low[result["_outcome"].to_numpy()]
        low_columns = _LOW_COLUMNS + (_CLUSTER_LOW_COLUMNS if cluster is not None else [])
        result.loc[no_flag, low_columns] = np.nan
        result["n_low"] = result["n_low"].astype("Int64")
    if cluster is not None:
        result["n_clusters"] = result["n_clusters"].astype("int64")
    result["method"] = _method_text(
        weight is not None, has_low[result["_outcome"].to_numpy()], cluster
    )
    result["n"] = result["n"].astype("int64")
    for name in by_list:
        result[name] = result[name].astype(blocks[-1][1][name].dtype)
    columns = ["by", "group", *by_list, "outcome", *_MEAN_COLUMNS]
    columns += _CLUSTER_COLUMNS if cluster is not None else []
    columns += _LOW_COLUMNS if flags is not None else []
    columns += _CLUSTER_LOW_COLUMNS if flags is not None and cluster is not None else []
    return result[[*columns, "method"]].reset_index(drop=True)


def describe_by_dimensions(
    data: pd.DataFrame,
    outcomes: Sequence[str],
    dimensions: Sequence[str] = ("placement_type", AGE_BAND_COLUMN, "sex"),
    weight: str | None = None,
    confidence: float = 0.95,
    low_prefix: str = "low_",
    cluster: str | None = None,
) -> pd.DataFrame:
    """:func:`describe_scores` for each dimension in turn, stacked into one table.

    Parameters
    ----------
    data : DataFrame
        One row per child, e.g. from ``scored_table``.
    outcomes : sequence of str
        Numeric outcome columns.
    dimensions : sequence of str
        Grouping variables, each described on its own (not crossed). An absent
        ``"age_band"`` is derived from ``age`` with :func:`age_band`.
    weight, confidence, low_prefix, cluster
        As in :func:`describe_scores`.

    Returns
    -------
    DataFrame
        The overall rows once (``by == "all"``), then one block per dimension,
        with the columns of :func:`describe_scores`; the column of each
        dimension is filled only in its own block.

    Notes
    -----
    Each block is exactly ``describe_scores(data, outcomes, by=dimension,
    overall=False)``; see there for the methods.

    Examples
    --------
    >>> data = pd.DataFrame({"sex": ["f", "m", "f"], "age": [9, 12, 16],
    ...                      "home": [40.0, 60.0, 80.0]})
    >>> table = describe_by_dimensions(data, ["home"], dimensions=["sex", "age_band"])
    >>> table[["by", "group", "n", "mean"]]
             by  group  n  mean
    0       all    all  3  60.0
    1       sex      f  2  60.0
    2       sex      m  1  60.0
    3  age_band   8-10  1  40.0
    4  age_band  11-13  1  60.0
    5  age_band  14-17  1  80.0
    """
    dimensions = [dimensions] if isinstance(dimensions, str) else list(dimensions)
    data = _with_age_band(data, dimensions)
    options = {
        "weight": weight,
        "confidence": confidence,
        "low_prefix": low_prefix,
        "cluster": cluster,
    }
    blocks = [describe_scores(data, outcomes, by=None, **options)]
    blocks += [describe_scores(data, outcomes, by=d, overall=False, **options) for d in dimensions]
    result = pd.concat(blocks, ignore_index=True)
    for block, name in zip(blocks[1:], dimensions, strict=True):
        result[name] = result[name].astype(block[name].dtype)
    columns = ["by", "group", *dimensions, "outcome"]
    return result[[*columns, *[c for c in result.columns if c not in columns]]]


# -- helpers ---------------------------------------------------------------------------


def _with_age_band(data: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    if AGE_BAND_COLUMN in names and AGE_BAND_COLUMN not in data and "age" in data:
        return data.assign(**{AGE_BAND_COLUMN: age_band(data["age"])})
    return data


def _numeric_matrix(data: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    out = np.empty((len(data), len(columns)), dtype="float64")
    for j, name in enumerate(columns):
        column = data[name]
        if not (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)):
            raise InputError(f"outcome {name!r} is not numeric (dtype {column.dtype})")
        out[:, j] = column.astype("Float64").to_numpy("float64", na_value=np.nan)
    return out


def _flag_vector(flag: pd.Series) -> np.ndarray:
    try:
        return flag.astype("boolean").astype("Float64").to_numpy("float64", na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise InputError(f"low flag {flag.name!r} is not boolean (dtype {flag.dtype})") from error


def _weights(data: pd.DataFrame, weight: str | None) -> np.ndarray | None:
    if weight is None:
        return None
    column = pd.to_numeric(data[weight], errors="coerce").astype("Float64")
    values = column.to_numpy("float64", na_value=np.nan)
    bad = ~np.isnan(values) & ~(np.isfinite(values) & (values > 0))
    if bad.any() or (column.isna() & data[weight].notna()).any():
        raise InputError(
            f"weight column {weight!r} must hold positive numbers (or be empty); "
            "fix or drop the rows with other values"
        )
    return values


def _group_codes(data: pd.DataFrame, by: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer group code per row (-1 where any by-value is missing) and the group labels.

    The groups are all combinations of the levels of the ``by`` variables: the
    categories of a categorical (all of them, in order), else the observed
    values, sorted.
    """
    level_codes, level_values = [], []
    for name in by:
        column = data[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy(dtype=np.int64)
            levels = column.cat.categories
            dtype = column.dtype
        else:
            codes, levels = pd.factorize(column, sort=True, use_na_sentinel=True)
            codes = codes.astype(np.int64)
            dtype = pd.CategoricalDtype(categories=levels, ordered=True)
        level_codes.append(codes)
        level_values.append(pd.Categorical(levels, dtype=dtype))
    sizes = [len(v) for v in level_values]
    missing = np.logical_or.reduce([c < 0 for c in level_codes])
    if np.prod(sizes) == 0:
        combined = np.full(len(data), -1, dtype=np.int64)
    else:
        safe = [np.where(missing, 0, c) for c in level_codes]
        combined = np.where(missing, -1, np.ravel_multi_index(safe, sizes))
    grid = np.indices(sizes).reshape(len(sizes), -1) if sizes else np.empty((0, 1))
    labels = pd.DataFrame(
        {
            name: values.take(grid[i])
            for i, (name, values) in enumerate(zip(by, level_values, strict=True))
        }
    )
    strings = [labels[name].astype(str).to_numpy(dtype=object) for name in by]
    group = strings[0]
    for more in strings[1:]:
        group = group + GROUP_SEPARATOR + more
    labels.insert(0, "group", group)
    labels.insert(0, "by", GROUP_SEPARATOR.join(by))
    return combined, labels


def _group_sum(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum of each column of ``values`` per group: shape (n_groups, columns)."""
    return np.column_stack(
        [
            np.bincount(codes, weights=values[:, j], minlength=n_groups)
            for j in range(values.shape[1])
        ]
    ).reshape(n_groups, values.shape[1])


def _grouped(
    values: np.ndarray,
    flags: np.ndarray | None,
    weights: np.ndarray | None,
    codes: np.ndarray,
    n_groups: int,
    confidence: float,
    clusters: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """All statistics per (group, outcome), each as an array of shape (n_groups, outcomes)."""
    keep = codes >= 0
    if clusters is not None:
        keep &= clusters >= 0
    x, codes = values[keep], codes[keep]
    w = np.ones(len(x)) if weights is None else weights[keep]
    used = ~np.isnan(x) & ~np.isnan(w)[:, None]
    ww = np.where(used, w[:, None], 0.0)
    xx = np.where(used, x, 0.0)

    n = _group_sum(codes, used.astype("float64"), n_groups)
    sw = _group_sum(codes, ww, n_groups)
    sw2 = _group_sum(codes, ww**2, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = _group_sum(codes, ww * xx, n_groups) / sw
        dev = np.where(used, xx - mean[codes], 0.0)
        sd = np.sqrt(n / (n - 1) * _group_sum(codes, ww * dev**2, n_groups) / sw)
        se = np.sqrt(n / (n - 1) * _group_sum(codes, (ww * dev) ** 2, n_groups)) / sw
        n_eff = sw**2 / sw2
    sd[n < 2] = np.nan
    se[n < 2] = np.nan
    crit = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
    result = {
        "n": n,
        "n_eff": n_eff,
        "mean": mean,
        "ci_low": mean - crit * se,
        "ci_high": mean + crit * se,
        "sd": sd,
    }
    if clusters is not None:
        psu = clusters[keep]
        variance, n_clusters = _cluster_variance(codes, psu, ww * dev, used, sw, n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            deff = variance / se**2
        se_cl = np.sqrt(variance)
        crit_cl = stats.t.ppf(0.5 + confidence / 2, np.maximum(n_clusters - 1, 1))
        few = n_clusters < 2
        result.update(
            ci_low=np.where(few, np.nan, mean - crit_cl * se_cl),
            ci_high=np.where(few, np.nan, mean + crit_cl * se_cl),
            n_clusters=n_clusters,
            deff=np.where(few, np.nan, deff),
        )
    if flags is not None:
        result.update(
            _grouped_share(
                flags[keep],
                w,
                used,
                codes,
                n_groups,
                confidence,
                weights,
                None if clusters is None else clusters[keep],
            )
        )
    return result


def _cluster_variance(
    codes: np.ndarray,
    psu: np.ndarray,
    scores: np.ndarray,
    used: np.ndarray,
    sw: np.ndarray,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``G/(G-1) Σ_c z_c² / sw²`` per (group, outcome) and ``G``, the clusters with data.

    ``scores`` holds ``w·(x - m)`` per row and outcome (0 where not used); a
    cluster counts for a (group, outcome) when one of its rows is ``used`` there.
    """
    n_psu = max(int(psu.max()) + 1 if len(psu) else 1, 1)
    cell = codes * n_psu + psu
    size = n_groups * n_psu

    def per_cell(matrix: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                np.bincount(cell, weights=matrix[:, j], minlength=size)
                for j in range(matrix.shape[1])
            ],
            axis=-1,
        ).reshape(n_groups, n_psu, matrix.shape[1])

    totals = per_cell(scores)
    n_clusters = (per_cell(used.astype("float64")) > 0).sum(axis=1).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = n_clusters / (n_clusters - 1) * (totals**2).sum(axis=1) / sw**2
    variance[n_clusters < 2] = np.nan
    return variance, n_clusters


def _grouped_share(
    flags: np.ndarray,
    w: np.ndarray,
    used: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    confidence: float,
    weights: np.ndarray | None,
    psu: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    flagged = used & ~np.isnan(flags)
    ww = np.where(flagged, w[:, None], 0.0)
    low = np.where(flagged, flags, 0.0)
    n_flag = _group_sum(codes, flagged.astype("float64"), n_groups)
    n_low = _group_sum(codes, low, n_groups)
    sw = _group_sum(codes, ww, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = _group_sum(codes, ww * low, n_groups) / sw
        nobs = n_flag if weights is None else sw**2 / _group_sum(codes, ww**2, n_groups)
    result = {}
    if psu is not None:
        dev = np.where(flagged, low - share[codes], 0.0)
        variance, n_clusters = _cluster_variance(codes, psu, ww * dev, flagged, sw, n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            deff = variance / (share * (1 - share) / nobs)
        deff = np.where((share == 0) | (share == 1), 1.0, deff)
        deff[n_clusters < 2] = np.nan
        level = 0.5 + confidence / 2
        ratio = stats.t.ppf(level, np.maximum(nobs - 1, 1)) / stats.t.ppf(
            level, np.maximum(n_clusters - 1, 1)
        )
        nobs = nobs / np.maximum(deff, 1.0) * ratio**2  # Korn-Graubard effective n
        result["share_low_deff"] = deff
    ci_low = np.full(share.shape, np.nan)
    ci_high = np.full(share.shape, np.nan)
    ok = (n_flag > 0) & np.isfinite(nobs)
    if ok.any():
        count = n_low[ok] if weights is None and psu is None else share[ok] * nobs[ok]
        ci_low[ok], ci_high[ok] = proportion_confint(
            count, nobs[ok], alpha=1 - confidence, method="wilson"
        )
    return {
        "n_low": n_low,
        "share_low": share,
        "share_low_ci_low": ci_low,
        "share_low_ci_high": ci_high,
        **result,
    }


def _method_text(weighted: bool, has_low: np.ndarray, cluster: str | None = None) -> np.ndarray:
    if cluster is not None:
        weighted_ = "weighted " if weighted else ""
        mean = (
            f"{weighted_}mean, SE linearised with {cluster} as clusters, t(clusters-1) CI, "
            "design effect"
        )
        share = f"; {weighted_}share, Wilson CI on the Korn-Graubard effective n, design effect"
        return np.where(has_low, mean + share, mean)
    if weighted:
        mean = "weighted mean, linearised SE, t(n-1) CI"
        share = "; weighted share, Wilson CI on Kish n_eff"
    else:
        mean = "mean, t(n-1) CI"
        share = "; share, Wilson CI"
    return np.where(has_low, mean + share, mean)
