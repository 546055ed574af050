"""Tests for research_lib.stats.compare (group differences with honest uncertainty).

The truth comes from a generator in this file (not from research_lib.demo.survey):
services with a random intercept (ICC 0.15), 10-15 children per service, the
placement type assigned per service, a planted difference of -8 points for
"cnst" against "foster", an age slope of +1.5 points a year and, for the wave
tests, a planted change between waves. Each test's docstring says whether it
checks against that known truth, a hand calculation or an independent
implementation (statsmodels formula fits, scipy t-tests, a hand Holm/BH).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from research_lib.errors import InputError
from research_lib.stats import compare
from research_lib.stats.compare import (
    adjust_pvalues,
    compare_domains,
    compare_groups,
    compare_waves,
)

BASE = 60.0
EFFECT = -8.0  # cnst vs foster, points
AGE_SLOPE = 1.5  # points per year
ICC = 0.15
TOTAL_SD = 20.0
WAVE_CHANGE = {"foster": 0.0, "cnst": 6.0}  # second wave minus first, points
REPS = 200  # replications of the coverage simulations


# --------------------------------------------------------------------------- #
# Generator of the known truth
# --------------------------------------------------------------------------- #
def make_clustered(
    seed: int,
    n_services: int = 20,
    children: tuple[int, int] = (10, 15),
    icc: float = ICC,
    effect: float = EFFECT,
    waves: tuple[str, ...] = ("2025",),
    wave_change: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Children nested in services; placement type per service (half foster, half cnst).

    outcome = BASE + effect·[cnst] + wave_change[placement]·[second wave]
              + AGE_SLOPE·(age − 12) + u_service + e_child,
    u ~ N(0, icc·SD²), e ~ N(0, (1 − icc)·SD²), SD = TOTAL_SD. Every service is
    surveyed in every wave (same u), with new children each wave. Scores are
    not clipped to 0-100, so the truth is exactly linear.
    """
    rng = np.random.default_rng(seed)
    placement = np.where(np.arange(n_services) % 2 == 0, "foster", "cnst")
    u = rng.normal(0.0, TOTAL_SD * math.sqrt(icc), n_services)
    parts = []
    for w, wave in enumerate(waves):
        sizes = rng.integers(children[0], children[1] + 1, n_services)
        s = np.repeat(np.arange(n_services), sizes)
        n = len(s)
        age = rng.integers(8, 18, n)
        change = np.array([(wave_change or {}).get(p, 0.0) for p in placement])
        y = (
            BASE
            + effect * (placement[s] == "cnst")
            + w * change[s]
            + AGE_SLOPE * (age - 12)
            + u[s]
            + rng.normal(0.0, TOTAL_SD * math.sqrt(1 - icc), n)
        )
        parts.append(
            pd.DataFrame(
                {
                    "service_id": [f"S{i:03d}" for i in s],
                    "placement_type": placement[s],
                    "age": age.astype("float64"),
                    "sex": rng.choice(["f", "m"], n),
                    "wave": wave,
                    "participation": y,
                }
            )
        )
    data = pd.concat(parts, ignore_index=True)
    data["placement_type"] = pd.Categorical(data["placement_type"], categories=["foster", "cnst"])
    return data


def covers(table: pd.DataFrame, truth: float, group: str = "cnst") -> bool:
    row = table.set_index("group").loc[group]
    return bool(row["ci_low"] <= truth <= row["ci_high"])


# --------------------------------------------------------------------------- #
# Coverage against the planted truth
# --------------------------------------------------------------------------- #
def test_coverage_mixed_model_versus_naive() -> None:
    """Known truth: over 200 samples (20 services each), the mixed-model 95% CI covers
    the planted -8 in about 95% of samples; the naive OLS (HC3) CI that ignores the
    services covers visibly less (design effect ≈ 1 + 11.5 · 0.15 ≈ 2.7)."""
    clustered = naive = mixed_used = 0
    for seed in range(REPS):
        data = make_clustered(seed)
        table = compare_groups(
            data, "participation", "placement_type", "foster", ["age"], cluster="service_id"
        )
        clustered += covers(table, EFFECT)
        mixed_used += table.loc[0, "method"].startswith("linear mixed model")
        naive += covers(
            compare_groups(data, "participation", "placement_type", "foster", ["age"]), EFFECT
        )
    coverage_clustered, coverage_naive = clustered / REPS, naive / REPS
    print(
        f"coverage mixed {coverage_clustered:.3f}, naive {coverage_naive:.3f}, mixed {mixed_used}"
    )
    assert 0.90 <= coverage_clustered <= 0.99
    assert coverage_naive < 0.85
    assert coverage_clustered - coverage_naive > 0.08
    assert mixed_used >= 0.9 * REPS  # the fallback is the exception


def test_coverage_independence_working_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Known truth: OLS with CR2 SE and Bell-McCaffrey df (the independence working
    model, forced by raising the minimum number of clusters for the mixed model)
    covers the planted -8 in about 95%."""
    monkeypatch.setattr(compare, "MIN_CLUSTERS_MIXED", 10**6)
    hits = 0
    for seed in range(REPS):
        table = compare_groups(
            make_clustered(seed), "participation", "placement_type", "foster", ["age"], "service_id"
        )
        assert "mixed model was not tried" in table.loc[0, "method"]
        hits += covers(table, EFFECT)
    print(f"coverage OLS + CR2 {hits / REPS:.3f}")
    assert 0.90 <= hits / REPS <= 0.99


def test_coverage_wave_change() -> None:
    """Known truth: compare_waves' cluster-robust 95% CI covers the planted change
    (+6 cnst, 0 foster) in about 95% of 200 samples of 20 services × 2 waves."""
    hits = {"foster": 0, "cnst": 0}
    for seed in range(REPS):
        data = make_clustered(seed, waves=("2024", "2025"), wave_change=WAVE_CHANGE)
        table = compare_waves(
            data, "participation", "placement_type", covariates=["age"], cluster="service_id"
        )
        for group in hits:
            hits[group] += covers(table, WAVE_CHANGE[group], group)
    print(f"coverage waves {hits}")
    for group in hits:
        assert 0.90 <= hits[group] / REPS <= 0.99


# --------------------------------------------------------------------------- #
# Point estimates and intervals against independent implementations
# --------------------------------------------------------------------------- #
def test_unadjusted_estimate_is_difference_in_means() -> None:
    """Hand calculation: with no covariates and no cluster the estimate is the plain
    difference in group means, and n / n_reference are the group sizes."""
    data = make_clustered(1)
    table = compare_groups(data, "participation", "placement_type", "foster")
    means = data.groupby("placement_type", observed=True)["participation"].mean()
    assert table.loc[0, "estimate"] == pytest.approx(means["cnst"] - means["foster"], rel=1e-12)
    assert table.loc[0, "n"] == (data["placement_type"] == "cnst").sum()
    assert table.loc[0, "n_reference"] == (data["placement_type"] == "foster").sum()
    assert math.isnan(table.loc[0, "icc"]) and table.loc[0, "n_clusters"] is pd.NA
    assert table.loc[0, "method"].startswith("OLS, HC3 standard errors, unadjusted")


def test_ols_matches_statsmodels_formula_fit() -> None:
    """Independent implementation: estimate, CI and p equal a statsmodels formula OLS
    (HC3, t with n − k df) on the complete cases; missing rows are counted; rows come
    in category order with the reference left out."""
    data = make_clustered(2, n_services=30)
    data["placement_type"] = pd.Categorical(
        np.where(data.index % 3 == 0, "family", data["placement_type"].astype(str)),
        categories=["family", "kinship", "foster", "cnst"],
    )
    data.loc[[3, 10, 11], "participation"] = np.nan
    data.loc[[5, 11, 40], "sex"] = None
    table = compare_groups(data, "participation", "placement_type", "foster", ["age", "sex"])

    complete = data.dropna(subset=["participation", "sex"]).copy()
    complete["placement_type"] = complete["placement_type"].cat.remove_unused_categories()
    fit = smf.ols(
        "participation ~ C(placement_type, Treatment('foster')) + age + C(sex)", data=complete
    ).fit(cov_type="HC3", use_t=True)
    ci = fit.conf_int()
    assert list(table["group"]) == ["family", "cnst"]
    for _, row in table.iterrows():
        term = f"C(placement_type, Treatment('foster'))[T.{row['group']}]"
        assert row["estimate"] == pytest.approx(fit.params[term], rel=1e-10)
        assert row["ci_low"] == pytest.approx(ci.loc[term, 0], rel=1e-10)
        assert row["ci_high"] == pytest.approx(ci.loc[term, 1], rel=1e-10)
        assert row["p_value"] == pytest.approx(fit.pvalues[term], rel=1e-8)
        assert row["df"] == fit.df_resid
    assert (table["n_excluded"] == 5).all() and table.attrs["n_excluded"] == 5
    assert table["n"].sum() + table["n_reference"].iloc[0] == len(complete)
    assert "adjusted for age, sex" in table.loc[0, "method"]


def test_cr2_on_singleton_clusters_is_hc2() -> None:
    """Independent implementation: with one row per cluster and the independence
    working model, CR2 is HC2 (statsmodels ``cov_type="HC2"``), with covariates and
    unequal group sizes; the estimate is OLS."""
    data = make_clustered(3, n_services=12)
    data["placement_type"] = data["placement_type"].astype(str)
    X, _ = compare._design(
        data, [compare._indicator(data["placement_type"], "cnst")], ["age", "sex"]
    )
    y = data["participation"].to_numpy()
    params, vcov, _ = compare.cr2_vcov(y, X, np.arange(len(y)))
    fit = sm.OLS(y, X).fit(cov_type="HC2")
    np.testing.assert_allclose(params, fit.params, rtol=1e-10)
    np.testing.assert_allclose(vcov, fit.cov_params(), rtol=1e-8)


@pytest.mark.parametrize("ratio", [0.0, 0.3])
def test_cr2_balanced_is_welch_on_service_means(ratio: float) -> None:
    """Hand calculation: 5 foster and 8 cnst services of 6 children each, no
    covariates. CR2 (independence or random-intercept working model) of the group
    difference equals s1²/m1 + s2²/m2 on the service means (Welch's variance), and
    its Bell-McCaffrey df is the Satterthwaite df of that sum under the working
    model, where Σ(ȳ_j − ȳ)² of group k is a scaled χ² on m_k − 1 df:
    df = (a1(m1−1) + a2(m2−1))² / (a1²(m1−1) + a2²(m2−1)), a_k = 1/(m_k(m_k−1))."""
    rng = np.random.default_rng(31)
    m1, m2, size = 5, 8, 6
    groups = np.repeat(np.r_[np.zeros(m1), np.ones(m2)], size)
    codes = np.repeat(np.arange(m1 + m2), size)
    y = 50 + 4 * groups + rng.normal(0, 5, m1 + m2)[codes] + rng.normal(0, 10, len(codes))
    X = np.column_stack([np.ones(len(y)), groups])
    params, vcov, df = compare.cr2_vcov(y, X, codes, ratio=ratio)
    means = pd.Series(y).groupby(codes).mean().to_numpy()
    first, second = means[:m1], means[m1:]
    assert params[1] == pytest.approx(second.mean() - first.mean(), rel=1e-10)
    welch = first.var(ddof=1) / m1 + second.var(ddof=1) / m2
    assert vcov[1, 1] == pytest.approx(welch, rel=1e-9)
    a1, a2 = 1 / (m1 * (m1 - 1)), 1 / (m2 * (m2 - 1))
    expected = (a1 * (m1 - 1) + a2 * (m2 - 1)) ** 2 / (a1**2 * (m1 - 1) + a2**2 * (m2 - 1))
    assert df[1] == pytest.approx(expected, rel=1e-9)


def test_reml_matches_statsmodels_mixedlm() -> None:
    """Independent implementation: the REML variance ratio, the ICC and the GLS
    coefficients equal statsmodels ``MixedLM(reml=True)`` (to its optimiser's
    tolerance), with a covariate and unequal service sizes."""
    for seed in (15, 16):
        data = make_clustered(seed, n_services=24)
        X, _ = compare._design(data, [compare._indicator(data["placement_type"], "cnst")], ["age"])
        y, codes = data["participation"].to_numpy(), pd.factorize(data["service_id"])[0]
        ratio = compare.reml_variance_ratio(y, X, codes)
        result = sm.MixedLM(y, X, groups=codes).fit(reml=True, method=["powell"])
        tau2 = float(np.asarray(result.cov_re)[0, 0])
        assert ratio == pytest.approx(tau2 / result.scale, rel=1e-3)
        params, _, _ = compare.cr2_vcov(y, X, codes, ratio=ratio)
        np.testing.assert_allclose(params, result.fe_params, rtol=1e-5)
        row = compare_groups(
            data, "participation", "placement_type", "foster", ["age"], "service_id"
        ).iloc[0]
        assert row["icc"] == pytest.approx(tau2 / (tau2 + result.scale), rel=1e-3)
        assert row["estimate"] == pytest.approx(result.fe_params[1], rel=1e-5)


def test_contrast_with_too_few_services_is_not_estimated() -> None:
    """Known truth (the Ruse case of issue 10): one family service, one foster service
    and four cnst services: no contrast has 5 services per group, so none is
    estimated and each row says why. With 6 foster, 2 family and 6 cnst services,
    family is declined and cnst equals the fit on the foster and cnst children alone."""
    types = ["family", "foster"] + ["cnst"] * 4
    data = pd.DataFrame(
        {
            "service_id": np.repeat([f"S{i}" for i in range(6)], 7),
            "placement_type": np.repeat(types, 7),
            "participation": np.random.default_rng(17).normal(60, 20, 42),
        }
    )
    table = compare_groups(data, "participation", "placement_type", "foster", cluster="service_id")
    assert not table["estimated"].any()
    assert table["estimate"].isna().all() and table["ci_low"].isna().all()
    row = table.set_index("group")
    assert row.loc["family", "not_estimated"] == "too_few_services_reference"
    assert row.loc["cnst", "n_services"] == 4 and row.loc["cnst", "n_services_reference"] == 1
    assert row.loc["cnst", "method"].startswith("not estimated: 'cnst' has 4 and 'foster' has 1")
    assert "minimum 5 per group" in row.loc["cnst", "method"]
    assert set(table["not_estimated"]) <= set(compare.NOT_ESTIMATED)

    data = make_clustered(18, n_services=12)
    data["placement_type"] = data["placement_type"].astype(str)
    extra = make_clustered(19, n_services=2).assign(placement_type="family")
    extra["service_id"] = "F" + extra["service_id"]
    both = pd.concat([data, extra], ignore_index=True)
    table = compare_groups(both, "participation", "placement_type", "foster", ["age"], "service_id")
    row = table.set_index("group")
    assert row.loc["family", "not_estimated"] == "too_few_services"
    assert not row.loc["family", "estimated"] and row.loc["cnst", "estimated"]
    alone = compare_groups(data, "participation", "placement_type", "foster", ["age"], "service_id")
    assert row.loc["cnst", "estimate"] == pytest.approx(alone.loc[0, "estimate"], rel=1e-10)
    assert row.loc["cnst", "ci_low"] == pytest.approx(alone.loc[0, "ci_low"], rel=1e-10)
    assert row.loc["cnst", "n_clusters"] == 12
    lowered = compare_groups(
        both, "participation", "placement_type", "foster", ["age"], "service_id", min_services=2
    )
    assert lowered["estimated"].all()
    without_cluster = compare_groups(both, "participation", "placement_type", "foster")
    assert without_cluster["estimated"].all() and without_cluster["n_services"].isna().all()


def test_mixed_model_matches_t_test_on_service_means() -> None:
    """Independent implementation: in a balanced design (12 children in each of 20
    services, 10 per placement type, no covariates) the REML random-intercept
    estimate and its CR2 SE equal a two-sample t-test on the service means
    (scipy), and the Bell-McCaffrey df equals that test's G − 2 = 18 (to rounding:
    the df is a ratio of floating-point sums)."""
    data = make_clustered(4, children=(12, 12))
    table = compare_groups(data, "participation", "placement_type", "foster", cluster="service_id")
    row = table.iloc[0]
    assert row["method"].startswith("linear mixed model with a random intercept per service_id")
    means = data.groupby("service_id").agg(
        y=("participation", "mean"), placement=("placement_type", "first")
    )
    cnst, foster = (
        means.loc[means["placement"] == "cnst", "y"],
        means.loc[means["placement"] == "foster", "y"],
    )
    test = stats.ttest_ind(cnst, foster)
    difference = cnst.mean() - foster.mean()
    se = difference / test.statistic
    half = stats.t.ppf(0.975, 18) * se
    assert row["df"] == pytest.approx(18, rel=1e-9)
    assert row["estimate"] == pytest.approx(difference, rel=1e-8)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (difference - half, difference + half), rel=1e-4
    )
    assert row["p_value"] == pytest.approx(test.pvalue, rel=1e-3)


def test_effect_size_is_estimate_over_pooled_sd() -> None:
    """Hand calculation: effect_size = estimate / pooled within-group SD of the outcome,
    and its CI is the CI scaled by the same SD."""
    data = make_clustered(5)
    table = compare_groups(data, "participation", "placement_type", "foster", ["age"])
    groups = data.groupby("placement_type", observed=True)["participation"]
    pooled = math.sqrt(((groups.count() - 1) * groups.var()).sum() / (len(data) - 2))
    row = table.iloc[0]
    assert row["effect_size"] == pytest.approx(row["estimate"] / pooled, rel=1e-10)
    assert row["effect_size_ci_low"] == pytest.approx(row["ci_low"] / pooled, rel=1e-10)
    assert row["effect_size_ci_high"] == pytest.approx(row["ci_high"] / pooled, rel=1e-10)


def test_icc_recovered_on_large_sample() -> None:
    """Known truth: with 300 services the mixed model's ICC is near the planted 0.15,
    and the adjusted difference near -8."""
    data = make_clustered(6, n_services=300)
    row = compare_groups(
        data, "participation", "placement_type", "foster", ["age", "sex"], "service_id"
    ).iloc[0]
    assert row["method"].startswith("linear mixed model")
    assert row["icc"] == pytest.approx(ICC, abs=0.04)
    assert row["ci_low"] <= EFFECT <= row["ci_high"]
    assert row["n_clusters"] == 300


def test_mixed_model_kept_at_the_variance_boundary() -> None:
    """Known truth: service means equal within each placement type (no service variance
    at all) put the REML variance on the boundary 0. The mixed model is kept (not
    replaced by another model) and says so; its estimate is then OLS (hand: the
    difference in means) and the CR2 interval is finite."""
    data = make_clustered(7, icc=0.0)
    noise = data["participation"] - data.groupby("service_id")["participation"].transform("mean")
    data["participation"] = BASE + EFFECT * (data["placement_type"] == "cnst") + noise
    row = compare_groups(
        data, "participation", "placement_type", "foster", cluster="service_id"
    ).iloc[0]
    assert row["method"].startswith("linear mixed model") and "boundary" in row["method"]
    assert row["icc"] == 0.0
    means = data.groupby("placement_type", observed=True)["participation"].mean()
    assert row["estimate"] == pytest.approx(means["cnst"] - means["foster"], rel=1e-10)
    assert math.isfinite(row["ci_low"]) and row["ci_low"] < row["ci_high"]


def test_weights_of_one_equal_unweighted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Independent implementation: WLS with all weights 1 equals OLS (HC3 without
    cluster; CR2 with cluster, compared with the forced independence working model)."""
    data = make_clustered(8).assign(w=1.0)
    columns = ["estimate", "ci_low", "ci_high", "p_value", "effect_size"]
    weighted = compare_groups(
        data, "participation", "placement_type", "foster", ["age"], weights="w"
    )
    plain = compare_groups(data, "participation", "placement_type", "foster", ["age"])
    pd.testing.assert_frame_equal(weighted[columns], plain[columns], rtol=1e-10)
    assert weighted.loc[0, "method"].startswith("WLS with survey weights 'w', HC3")

    weighted = compare_groups(
        data, "participation", "placement_type", "foster", ["age"], "service_id", "w"
    )
    monkeypatch.setattr(compare, "MIN_CLUSTERS_MIXED", 10**6)
    plain = compare_groups(data, "participation", "placement_type", "foster", ["age"], "service_id")
    pd.testing.assert_frame_equal(weighted[columns], plain[columns], rtol=1e-10)
    assert "mixed model not used with weights" in weighted.loc[0, "method"]


def test_weighted_estimate_is_weighted_difference_in_means() -> None:
    """Hand calculation: without covariates the WLS estimate is the difference of the
    weighted group means."""
    data = make_clustered(9)
    data["w"] = np.random.default_rng(9).uniform(0.5, 3.0, len(data))
    table = compare_groups(data, "participation", "placement_type", "foster", weights="w")
    mean = {
        g: np.average(part["participation"], weights=part["w"])
        for g, part in data.groupby("placement_type", observed=True)
    }
    assert table.loc[0, "estimate"] == pytest.approx(mean["cnst"] - mean["foster"], rel=1e-10)


def test_confidence_level_changes_width_only() -> None:
    """Hand calculation: a 90% CI is the 95% CI shrunk by t(.95, df) / t(.975, df)."""
    data = make_clustered(10)
    wide = compare_groups(data, "participation", "placement_type", "foster").iloc[0]
    narrow = compare_groups(data, "participation", "placement_type", "foster", confidence=0.9).iloc[
        0
    ]
    ratio = stats.t.ppf(0.95, wide["df"]) / stats.t.ppf(0.975, wide["df"])
    assert narrow["estimate"] == wide["estimate"]
    assert narrow["ci_high"] - narrow["estimate"] == pytest.approx(
        ratio * (wide["ci_high"] - wide["estimate"]), rel=1e-10
    )
    assert "Wald 90% CI" in narrow["method"]


# --------------------------------------------------------------------------- #
# Multiple testing
# --------------------------------------------------------------------------- #
def test_holm_by_hand() -> None:
    """Hand calculation (Holm 1979): sorted 0.01·4, 0.03·3, max(0.04·2, 0.09), 0.20·1;
    a NaN is left out of the family (m = 4) and passes through."""
    p = [0.01, 0.04, 0.03, float("nan"), 0.20]
    np.testing.assert_allclose(
        adjust_pvalues(p), [0.04, 0.09, 0.09, np.nan, 0.20], rtol=1e-12, equal_nan=True
    )
    np.testing.assert_allclose(adjust_pvalues(pd.Series([0.5, 0.6])), [1.0, 1.0])


def test_benjamini_hochberg_textbook_example() -> None:
    """Known example: the 15 p-values of Benjamini & Hochberg (1995, section 4); BH at
    q = 0.05 rejects the 4 smallest. Adjusted values by hand: p_(i)·m/i, then the
    running minimum from the largest down."""
    p = np.array([0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
                  0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000])  # fmt: skip
    expected = [0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0638571, 0.0638571, 0.0645,
                0.0765, 0.486, 0.5811818, 0.714875, 0.7532308, 0.8132143, 1.0]  # fmt: skip
    adjusted = adjust_pvalues(p[::-1], method="fdr_bh")[::-1]  # order must not matter
    np.testing.assert_allclose(adjusted, expected, rtol=1e-6)
    assert (adjusted <= 0.05).sum() == 4


def test_compare_domains_adjusts_across_all_tests() -> None:
    """Hand calculation: p_adjusted is Holm (or BH) over all outcome × group tests of
    the table, computed here step by step."""
    data = make_clustered(11, n_services=30)
    data["placement_type"] = pd.Categorical(
        np.where(data.index % 4 == 0, "kinship", data["placement_type"].astype(str)),
        categories=["kinship", "foster", "cnst"],
    )
    rng = np.random.default_rng(11)
    data["homeliness"] = data["participation"] + rng.normal(0, 15, len(data))
    data["safety"] = rng.normal(70, 15, len(data))
    outcomes = ["participation", "homeliness", "safety"]
    table = compare_domains(data, outcomes, "placement_type", "foster", ["age"])
    assert list(table["outcome"]) == [o for o in outcomes for _ in range(2)]
    assert list(table["group"]) == ["kinship", "cnst"] * 3
    p = table["p_value"].to_numpy()
    m = len(p)
    order = np.argsort(p)
    holm = np.empty(m)
    holm[order] = np.minimum(1, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    np.testing.assert_allclose(table["p_adjusted"], holm, rtol=1e-12)
    assert (table["correction"] == "Holm").all()

    bh_table = compare_domains(
        data, outcomes, "placement_type", "foster", ["age"], correction="fdr_bh"
    )
    bh = np.empty(m)
    bh[order] = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    np.testing.assert_allclose(bh_table["p_adjusted"], np.minimum(bh, 1), rtol=1e-12)
    assert (bh_table["correction"] == "Benjamini-Hochberg").all()


# --------------------------------------------------------------------------- #
# Waves
# --------------------------------------------------------------------------- #
def test_compare_waves_recovers_planted_change() -> None:
    """Known truth: on 80 services × 2 waves the cluster-robust change covers the planted
    +6 (cnst) and 0 (foster); counts and means by hand."""
    data = make_clustered(12, n_services=80, waves=("2024", "2025"), wave_change=WAVE_CHANGE)
    table = compare_waves(
        data, "participation", "placement_type", covariates=["age"], cluster="service_id"
    )
    assert list(table["group"]) == ["foster", "cnst"]
    for _, row in table.iterrows():
        part = data[data["placement_type"] == row["group"]]
        assert row["n_first"] == (part["wave"] == "2024").sum()
        assert row["n_second"] == (part["wave"] == "2025").sum()
        assert row["mean_first"] == pytest.approx(
            part.loc[part["wave"] == "2024", "participation"].mean()
        )
        assert row["ci_low"] <= WAVE_CHANGE[row["group"]] <= row["ci_high"]
        assert 20 < row["df"] <= 39 and row["n_clusters"] == 40
        assert "cluster-robust CR2 (Bell-McCaffrey) standard errors by service_id" in row["method"]
        assert "wave 2025 − wave 2024" in row["method"]
    cnst = table.set_index("group").loc["cnst"]
    assert cnst["p_value"] < 0.05


def test_compare_waves_unadjusted_is_difference_in_means() -> None:
    """Hand calculation: without covariates the change is mean_second − mean_first;
    first/second can be swapped and a third wave is ignored once both are named."""
    data = make_clustered(13, waves=("2023", "2024", "2025"), wave_change=WAVE_CHANGE)
    table = compare_waves(data, "participation", "placement_type", first="2025", second="2023")
    for _, row in table.iterrows():
        assert row["estimate"] == pytest.approx(row["mean_second"] - row["mean_first"], rel=1e-10)
        assert row["first"] == "2025" and row["second"] == "2023"
    assert table.attrs["n_other_waves"] == (data["wave"] == "2024").sum()
    with pytest.raises(InputError, match="3 waves.*pass first= and second="):
        compare_waves(data, "participation", "placement_type")


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return make_clustered(14, n_services=6)


def test_unknown_column_lists_available(small: pd.DataFrame) -> None:
    """Error message names the unknown column and lists the available ones."""
    with pytest.raises(InputError, match=r"'happiness'.*available columns: service_id"):
        compare_groups(small, "happiness", "placement_type", "foster")
    with pytest.raises(InputError, match="'home_id'"):
        compare_groups(small, "participation", "placement_type", "foster", cluster="home_id")
    with pytest.raises(InputError, match="'cohort'"):
        compare_waves(small, "participation", "placement_type", wave="cohort")


def test_missing_reference_lists_groups(small: pd.DataFrame) -> None:
    """Error message names the absent reference and lists the groups present."""
    with pytest.raises(
        InputError, match=r"'kinship' is not in column 'placement_type'.*'foster', 'cnst'"
    ):
        compare_groups(small, "participation", "placement_type", "kinship")


def test_other_input_errors(small: pd.DataFrame) -> None:
    """Fewer than 2 groups, a non-numeric outcome, collinear covariates, a bad
    confidence or correction, non-positive weights: clear InputErrors."""
    only_foster = small[small["placement_type"] == "foster"]
    with pytest.raises(InputError, match="fewer than 2 groups"):
        compare_groups(only_foster, "participation", "placement_type", "foster")
    with pytest.raises(InputError, match="must be numeric"):
        compare_groups(small, "sex", "placement_type", "foster")
    with pytest.raises(InputError, match="collinear"):
        compare_groups(
            small.assign(p2=small["placement_type"]),
            "participation",
            "placement_type",
            "foster",
            ["p2"],
        )
    with pytest.raises(InputError, match="confidence"):
        compare_groups(small, "participation", "placement_type", "foster", confidence=95)
    with pytest.raises(InputError, match="unknown multiple-testing correction"):
        adjust_pvalues([0.1], method="bonferroni")
    with pytest.raises(InputError, match="positive"):
        compare_groups(
            small.assign(w=0.0), "participation", "placement_type", "foster", weights="w"
        )
    no_cnst_scores = small.assign(
        participation=small["participation"].where(small["placement_type"] == "foster")
    )
    with pytest.raises(InputError, match="nothing to compare"):
        compare_groups(no_cnst_scores, "participation", "placement_type", "foster")


def test_compare_waves_declines_groups_with_few_services() -> None:
    """Known truth: a group surveyed in 4 services (fewer than 5) gets no change
    estimate, and the method says why; 2 is enough with min_services=2."""
    data = make_clustered(20, n_services=8, waves=("2024", "2025"), wave_change=WAVE_CHANGE)
    table = compare_waves(data, "participation", "placement_type", cluster="service_id")
    assert table["estimate"].isna().all()
    assert table["method"].str.startswith("not estimated: 4 service_id in this group").all()
    lowered = compare_waves(
        data, "participation", "placement_type", cluster="service_id", min_services=2
    )
    assert lowered["estimate"].notna().all()


# --------------------------------------------------------------------------- #
# Few services: false findings and coverage (simulation, issue 10)
# --------------------------------------------------------------------------- #
def _few_services_sample(
    seed: int, m1: int, m2: int, effect: float = 0.0, sizes: tuple[int, int] = (3, 12)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Planted truth for the simulation below: ``m1`` foster then ``m2`` cnst services of
    3-12 children, ICC 0.10, total SD 20, difference ``effect``; (y, X, codes)."""
    rng = np.random.default_rng(seed)
    cnst = np.r_[np.zeros(m1), np.ones(m2)]
    codes = np.repeat(np.arange(m1 + m2), rng.integers(sizes[0], sizes[1] + 1, m1 + m2))
    y = (
        BASE
        + effect * cnst[codes]
        + rng.normal(0.0, TOTAL_SD * math.sqrt(0.10), m1 + m2)[codes]
        + rng.normal(0.0, TOTAL_SD * math.sqrt(0.90), len(codes))
    )
    return y, np.column_stack([np.ones(len(y)), cnst[codes]]), codes


def _interval(y: np.ndarray, X: np.ndarray, codes: np.ndarray) -> tuple[float, float]:
    """95% interval of the group coefficient from the model path of compare_groups."""
    fit = compare._fit(y, X, codes, "service_id", None, None)
    half = stats.t.ppf(0.975, fit.df[1]) * fit.bse[1]
    return fit.params[1] - half, fit.params[1] + half


@pytest.mark.slow
def test_few_services_false_findings_and_coverage() -> None:
    """Known truth (planted; ICC 0.10, 3-12 children per service, no difference unless
    stated). benchmarks/bench_few_clusters.py runs the same with more samples and
    against the old method (OLS + CR1 on G − 1 df: 0 outside 72% of the intervals
    in the oblast case):

    * the Ruse case, one family, one foster and four cnst services of 7 children:
      every contrast is declined, through compare_groups;
    * 5 foster + 5 cnst services (10; REML + CR2 with Bell-McCaffrey df) and
      3 + 3 (6, allowed with min_services=3; OLS + CR2): at most about 5% of the
      95% intervals exclude 0 (400 samples each: bound 8%, 2.7 Monte-Carlo SE);
    * 30 + 30 services with a planted −8: coverage about 95% (150 samples:
      0.90 to 0.99).

    The model path is ``compare._fit`` (what compare_groups fits), called on arrays
    to keep the test to seconds; the first samples also go through compare_groups
    to show they are the same intervals.
    """
    oblast = pd.DataFrame(
        {
            "service_id": np.repeat(np.arange(6), 7),
            "placement_type": np.repeat(["family", "foster"] + ["cnst"] * 4, 7),
        }
    )
    for seed in range(10):
        sample = oblast.assign(participation=np.random.default_rng(seed).normal(60, 20, 42))
        table = compare_groups(
            sample, "participation", "placement_type", "foster", cluster="service_id"
        )
        assert not table["estimated"].any()

    reps = 400
    for m, minimum in ((5, 5), (3, 3)):
        false = 0
        for seed in range(reps):
            y, X, codes = _few_services_sample(1000 + seed, m, m)
            low, high = _interval(y, X, codes)
            false += low > 0 or high < 0
            if seed < 5:
                frame = pd.DataFrame(
                    {
                        "participation": y,
                        "placement_type": np.where(X[:, 1] == 1, "cnst", "foster"),
                        "service_id": codes,
                    }
                )
                row = compare_groups(
                    frame,
                    "participation",
                    "placement_type",
                    "foster",
                    cluster="service_id",
                    min_services=minimum,
                ).iloc[0]
                assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-12)
        print(f"{m} + {m} services, no difference: {false / reps:.3f} of intervals exclude 0")
        assert false / reps <= 0.08

    reps = 150
    hits = 0
    for seed in range(reps):
        low, high = _interval(*_few_services_sample(3000 + seed, 30, 30, EFFECT))
        hits += low <= EFFECT <= high
    print(f"30 + 30 services, planted {EFFECT}: coverage {hits / reps:.3f}")
    assert 0.90 <= hits / reps <= 0.99
