"""Descriptive tables against independent references, each named in the test's docstring."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from research_lib.demo.survey import make_survey
from research_lib.errors import InputError
from research_lib.io.surveys import validate_responses
from research_lib.stats.descriptives import (
    AGE_BANDS,
    age_band,
    describe_by_dimensions,
    describe_scores,
)
from research_lib.stats.scoring import scored_table

PLACEMENTS = ["family", "kinship", "foster", "cnst", "institution"]


def row(table: pd.DataFrame, group: str = "all", outcome: str | None = None) -> pd.Series:
    """The single row of ``table`` for ``group`` (and ``outcome``)."""
    mask = table["group"] == group
    if outcome is not None:
        mask &= table["outcome"] == outcome
    assert mask.sum() == 1
    return table[mask].iloc[0]


@pytest.fixture(scope="module")
def scored(small_survey, qol_codebook) -> pd.DataFrame:
    return scored_table(validate_responses(small_survey, qol_codebook).valid, qol_codebook)


@pytest.fixture(scope="module")
def domains(qol_codebook) -> list[str]:
    return [d.id for d in qol_codebook.domains]


# -- unweighted means and shares -----------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.95, 0.90])
def test_mean_ci_matches_scipy_t_interval(confidence):
    """Reference: scipy.stats.t.interval(confidence, n-1, loc=mean, scale=sd/sqrt(n)),
    with mean and sd (ddof=1) computed by hand with numpy."""
    x = np.array([12.5, 40.0, 55.0, 61.25, 70.0, 72.5, 88.0, 100.0, 0.0])
    out = row(describe_scores(pd.DataFrame({"d": x}), ["d"], confidence=confidence))
    n = len(x)
    mean = x.sum() / n
    sd = math.sqrt(((x - mean) ** 2).sum() / (n - 1))
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=sd / math.sqrt(n))
    assert out["n"] == n
    assert out["n_eff"] == n
    assert out["mean"] == pytest.approx(mean, rel=1e-12)
    assert out["sd"] == pytest.approx(sd, rel=1e-12)
    assert out["ci_low"] == pytest.approx(low, rel=1e-10)
    assert out["ci_high"] == pytest.approx(high, rel=1e-10)


def test_wilson_interval_matches_closed_form_for_7_of_20():
    """Reference: the Wilson score interval by hand, p = 7/20, z = norm.ppf(0.975),
    centre (p + z²/2n) / (1 + z²/n), half-width z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n)
    -> (0.18119, 0.56715); and proportion_confint(7, 20, method="wilson")."""
    low_flags = [True] * 7 + [False] * 13
    data = pd.DataFrame(
        {"d": np.linspace(0, 100, 20), "low_d": pd.array(low_flags, dtype="boolean")}
    )
    out = row(describe_scores(data, ["d"]))
    n, p = 20, 7 / 20
    z = stats.norm.ppf(0.975)
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    assert out["n_low"] == 7
    assert out["share_low"] == pytest.approx(0.35)
    assert out["share_low_ci_low"] == pytest.approx(centre - half, rel=1e-12)
    assert out["share_low_ci_high"] == pytest.approx(centre + half, rel=1e-12)
    assert (out["share_low_ci_low"], out["share_low_ci_high"]) == pytest.approx(
        (0.18119, 0.56715), abs=5e-5
    )
    ref = proportion_confint(7, 20, alpha=0.05, method="wilson")
    assert (out["share_low_ci_low"], out["share_low_ci_high"]) == pytest.approx(ref, rel=1e-12)


def test_nan_outcomes_are_not_counted():
    """Reference: counts by hand. 6 children, 2 with a missing score (and so a missing flag):
    n = 4, mean of the 4 scores, share = 1 low of 4."""
    data = pd.DataFrame(
        {
            "d": [10.0, np.nan, 60.0, 80.0, np.nan, 90.0],
            "low_d": pd.array([True, pd.NA, False, False, pd.NA, False], dtype="boolean"),
        }
    )
    out = row(describe_scores(data, ["d"]))
    assert out["n"] == 4
    assert out["mean"] == pytest.approx((10 + 60 + 80 + 90) / 4)
    assert out["n_low"] == 1
    assert out["share_low"] == pytest.approx(0.25)


def test_flag_without_score_is_not_counted():
    """Reference: by hand. A flag set where the score is missing is ignored (denominator = n)."""
    data = pd.DataFrame(
        {"d": [10.0, np.nan, 60.0], "low_d": pd.array([True, True, False], dtype="boolean")}
    )
    out = row(describe_scores(data, ["d"]))
    assert (out["n"], out["n_low"], out["share_low"]) == (2, 1, 0.5)


# -- weights -------------------------------------------------------------------------------


@pytest.fixture()
def weighted() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 60
    return pd.DataFrame(
        {
            "d": rng.uniform(0, 100, n),
            "low_d": pd.array(rng.uniform(size=n) < 0.3, dtype="boolean"),
            "w": rng.uniform(0.2, 3.0, n),
        }
    )


def test_weighted_mean_and_sd_match_numpy_and_descrstatsw(weighted):
    """References: numpy.average(x, weights=w) and DescrStatsW(x, w).mean for the mean;
    DescrStatsW with weights rescaled to sum n and ddof=1 for the SD, which is
    sqrt(n/(n-1) · Σw(x-m)²/Σw)."""
    out = row(describe_scores(weighted, ["d"], weight="w"))
    x, w = weighted["d"].to_numpy(), weighted["w"].to_numpy()
    assert out["mean"] == pytest.approx(np.average(x, weights=w), rel=1e-12)
    assert out["mean"] == pytest.approx(DescrStatsW(x, weights=w).mean, rel=1e-12)
    normalised = DescrStatsW(x, weights=w * len(w) / w.sum(), ddof=1)
    assert out["sd"] == pytest.approx(normalised.std, rel=1e-10)
    assert out["n"] == len(x)
    assert out["n_eff"] == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-12)


def test_weighted_mean_ci_matches_linearisation_reference(weighted):
    """References: (1) the HC1 robust SE of an intercept-only WLS (statsmodels), which is the
    linearisation variance n/(n-1) · Σw²(x-m)² / (Σw)²; (2) that formula by hand;
    CI = m ± t(0.975, n-1) · SE."""
    out = row(describe_scores(weighted, ["d"], weight="w"))
    x, w = weighted["d"].to_numpy(), weighted["w"].to_numpy()
    n = len(x)
    fit = sm.WLS(x, np.ones(n), weights=w).fit(cov_type="HC1")
    m = np.average(x, weights=w)
    se_hand = math.sqrt(n / (n - 1) * ((w * (x - m)) ** 2).sum()) / w.sum()
    assert fit.bse[0] == pytest.approx(se_hand, rel=1e-10)
    crit = stats.t.ppf(0.975, n - 1)
    assert out["ci_low"] == pytest.approx(fit.params[0] - crit * fit.bse[0], rel=1e-10)
    assert out["ci_high"] == pytest.approx(fit.params[0] + crit * fit.bse[0], rel=1e-10)


def test_weighted_share_uses_wilson_on_kish_effective_n(weighted):
    """Reference: by hand, p = Σw·low/Σw, n_eff = (Σw)²/Σw², Wilson closed form with n = n_eff;
    and proportion_confint(p·n_eff, n_eff, method="wilson")."""
    out = row(describe_scores(weighted, ["d"], weight="w"))
    low = weighted["low_d"].to_numpy(dtype=float)
    w = weighted["w"].to_numpy()
    p = (w * low).sum() / w.sum()
    n_eff = w.sum() ** 2 / (w**2).sum()
    z = stats.norm.ppf(0.975)
    denom = 1 + z**2 / n_eff
    centre = (p + z**2 / (2 * n_eff)) / denom
    half = z * math.sqrt(p * (1 - p) / n_eff + z**2 / (4 * n_eff**2)) / denom
    assert out["share_low"] == pytest.approx(p, rel=1e-12)
    assert out["n_low"] == int(low.sum())
    assert out["share_low_ci_low"] == pytest.approx(centre - half, rel=1e-10)
    assert out["share_low_ci_high"] == pytest.approx(centre + half, rel=1e-10)
    ref = proportion_confint(p * n_eff, n_eff, method="wilson")
    assert (out["share_low_ci_low"], out["share_low_ci_high"]) == pytest.approx(ref, rel=1e-10)
    assert "Kish" in out["method"]


def test_unit_weights_give_the_unweighted_table(scored, domains):
    """Reference: the unweighted table. With every weight 1 the linearised SE is sd/sqrt(n)
    and n_eff = n, so all figures agree (to rounding); only ``method`` differs."""
    data = scored.assign(w=1.0)
    plain = describe_scores(data, domains, by="placement_type")
    ones = describe_scores(data, domains, by="placement_type", weight="w")
    numbers = ["n", "n_eff", "mean", "ci_low", "ci_high", "sd", "n_low", "share_low"]
    numbers += ["share_low_ci_low", "share_low_ci_high"]
    pd.testing.assert_frame_equal(plain[numbers], ones[numbers], rtol=1e-9)
    assert (plain["method"] != ones["method"]).all()


def test_weighted_figures_do_not_depend_on_the_scale_of_the_weights(weighted):
    """Reference: the same table with the weights multiplied by 37 (a scale-free estimator)."""
    one = describe_scores(weighted, ["d"], weight="w")
    scaled = describe_scores(weighted.assign(w=weighted["w"] * 37), ["d"], weight="w")
    pd.testing.assert_frame_equal(one, scaled, rtol=1e-9)


def test_rows_with_missing_weight_are_left_out(weighted):
    """Reference: the table of the rows with a weight."""
    data = weighted.copy()
    data.loc[[0, 5, 9], "w"] = np.nan
    with_missing = describe_scores(data, ["d"], weight="w")
    dropped = describe_scores(data.dropna(subset=["w"]), ["d"], weight="w")
    pd.testing.assert_frame_equal(with_missing, dropped)
    assert with_missing.loc[0, "n"] == len(weighted) - 3


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, "heavy"])
def test_bad_weights_are_rejected(weighted, bad):
    data = weighted.astype({"w": object})
    data.loc[3, "w"] = bad
    with pytest.raises(InputError, match="weight"):
        describe_scores(data, ["d"], weight="w")


# -- groups --------------------------------------------------------------------------------


def test_groups_follow_category_order_and_match_subsets():
    """Reference: the overall table of each subset (groups are computed independently).
    The categories are in a deliberately non-alphabetical order."""
    order = ["institution", "family", "cnst", "foster", "kinship"]
    rng = np.random.default_rng(3)
    kind = pd.Categorical(rng.choice(order, 200), categories=order)
    data = pd.DataFrame({"placement_type": kind, "d": rng.normal(60, 20, 200)})
    table = describe_scores(data, ["d"], by="placement_type")
    assert table["group"].tolist() == ["all", *order]
    assert table["by"].tolist() == ["all"] + ["placement_type"] * 5
    assert table["placement_type"].cat.categories.tolist() == order
    for name in order:
        alone = row(describe_scores(data[data["placement_type"] == name], ["d"]))
        got = row(table, name)
        for column in ["n", "mean", "ci_low", "ci_high", "sd"]:
            assert got[column] == pytest.approx(alone[column], rel=1e-12)


def test_empty_category_gives_zero_n_and_missing_statistics():
    """Reference: by hand. A category without children is kept: n = 0, everything else NaN."""
    kind = pd.Categorical(["cnst", "cnst", "foster"], categories=PLACEMENTS)
    data = pd.DataFrame(
        {
            "placement_type": kind,
            "d": [40.0, 60.0, 70.0],
            "low_d": pd.array([True, False, False], dtype="boolean"),
        }
    )
    table = describe_scores(data, ["d"], by="placement_type", overall=False)
    assert table["group"].tolist() == PLACEMENTS
    empty = row(table, "institution")
    assert empty["n"] == 0 and empty["n_low"] == 0
    for column in ["mean", "ci_low", "ci_high", "sd", "share_low", "share_low_ci_low"]:
        assert math.isnan(empty[column])
    single = row(table, "foster")  # one child: a mean but no SD or CI
    assert single["mean"] == 70.0
    assert math.isnan(single["sd"]) and math.isnan(single["ci_low"])


def test_group_with_only_missing_scores_gives_zero_n():
    data = pd.DataFrame({"sex": ["f", "f", "m"], "d": [np.nan, np.nan, 50.0]})
    table = describe_scores(data, ["d"], by="sex")
    assert row(table, "f")["n"] == 0 and math.isnan(row(table, "f")["mean"])


def test_missing_group_value_counts_only_in_the_overall_row():
    """Reference: by hand; the child without sex is in "all" but in neither group."""
    data = pd.DataFrame({"sex": pd.array(["f", "m", pd.NA], dtype="string"), "d": [1.0, 2.0, 3.0]})
    table = describe_scores(data, ["d"], by="sex")
    assert table["group"].tolist() == ["all", "f", "m"]
    assert table["n"].tolist() == [3, 1, 1]


def test_by_none_gives_only_the_overall_rows_in_outcome_order():
    data = pd.DataFrame({"b": [1.0, 2.0], "a": [3.0, 4.0]})
    table = describe_scores(data, ["b", "a"])
    assert table["outcome"].tolist() == ["b", "a"]
    assert (table["by"] == "all").all() and (table["group"] == "all").all()
    assert "share_low" not in table


def test_several_by_variables_give_all_combinations_with_a_joined_label():
    """Reference: subsets by hand. Groups are all category combinations, first variable slowest;
    each by-variable keeps its own column and ``group`` joins the values with " | "."""
    data = pd.DataFrame(
        {
            "placement_type": pd.Categorical(
                ["cnst", "cnst", "foster", "cnst"], categories=["foster", "cnst"]
            ),
            "age": [12, 11, 9, 16],
            "d": [10.0, 30.0, 50.0, 70.0],
        }
    )
    table = describe_scores(data, ["d"], by=["placement_type", "age_band"])
    bands = [label for _, _, label in AGE_BANDS]
    expected = ["all"] + [f"{p} | {b}" for p in ["foster", "cnst"] for b in bands]
    assert table["group"].tolist() == expected
    assert set(table["by"]) == {"all", "placement_type | age_band"}
    cnst_young = row(table, "cnst | 11-13")
    assert (cnst_young["placement_type"], cnst_young["age_band"]) == ("cnst", "11-13")
    assert cnst_young["n"] == 2 and cnst_young["mean"] == 20.0
    assert row(table, "foster | 14-17")["n"] == 0
    assert table["placement_type"].isna().tolist() == [True] + [False] * 6


def test_share_columns_only_where_a_low_flag_exists():
    """Outcomes without a ``low_`` column get missing share figures; the method says so."""
    data = pd.DataFrame(
        {
            "d": [10.0, 90.0],
            "e": [5.0, 6.0],
            "low_d": pd.array([True, False], dtype="boolean"),
            "bad_e": pd.array([True, True], dtype="boolean"),
        }
    )
    table = describe_scores(data, ["d", "e"])
    assert row(table, outcome="d")["share_low"] == 0.5
    assert pd.isna(row(table, outcome="e")["share_low"]) and pd.isna(
        row(table, outcome="e")["n_low"]
    )
    assert "Wilson" in row(table, outcome="d")["method"]
    assert "Wilson" not in row(table, outcome="e")["method"]
    other = describe_scores(data, ["e"], low_prefix="bad_")
    assert row(other)["share_low"] == 1.0


def test_columns_of_the_output(scored, domains):
    table = describe_scores(scored, domains, by="placement_type")
    assert list(table.columns) == [
        "by",
        "group",
        "placement_type",
        "outcome",
        "n",
        "n_eff",
        "mean",
        "ci_low",
        "ci_high",
        "sd",
        "n_low",
        "share_low",
        "share_low_ci_low",
        "share_low_ci_high",
        "method",
    ]
    assert len(table) == len(domains) * (1 + len(PLACEMENTS))
    assert table["outcome"].tolist()[:6] == [domains[0]] * 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcomes": ["nope"]}, "not in the data"),
        ({"outcomes": ["d"], "by": "nope"}, "not in the data"),
        ({"outcomes": ["d"], "weight": "nope"}, "not in the data"),
        ({"outcomes": ["s"]}, "not numeric"),
        ({"outcomes": []}, "outcomes is empty"),
        ({"outcomes": ["d"], "confidence": 95}, "confidence"),
    ],
)
def test_unusable_parameters_raise_input_error(kwargs, message):
    data = pd.DataFrame({"d": [1.0, 2.0], "s": ["a", "b"]})
    with pytest.raises(InputError, match=message):
        describe_scores(data, **kwargs)


# -- age bands -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (7, None),
        (7.99, None),
        (8, "8-10"),
        (10, "8-10"),
        (10.5, "8-10"),
        (11, "11-13"),
        (13, "11-13"),
        (14, "14-17"),
        (17, "14-17"),
        (17.9, "14-17"),
        (18, None),
        (np.nan, None),
    ],
)
def test_age_band_boundaries(age, band):
    """Reference: the bands by hand, in completed years (fractional ages rounded down)."""
    value = age_band(pd.Series([age])).iloc[0]
    assert (pd.isna(value) and band is None) or value == band


def test_age_band_is_an_ordered_categorical_on_the_same_index():
    ages = pd.Series([15, 9, 12], index=["a", "b", "c"])
    bands = age_band(ages)
    assert bands.index.tolist() == ["a", "b", "c"]
    assert bands.name == "age_band"
    assert bands.cat.ordered
    assert bands.cat.categories.tolist() == ["8-10", "11-13", "14-17"]
    assert bands.min() == "8-10"


def test_age_band_accepts_custom_bands_and_rejects_overlaps():
    custom = age_band(pd.Series([5, 12, 16]), bands=[(0, 11, "child"), (12, 17, "teen")])
    assert custom.tolist() == ["child", "teen", "teen"]
    with pytest.raises(InputError, match="overlap"):
        age_band(pd.Series([1]), bands=[(0, 11, "a"), (11, 17, "b")])
    with pytest.raises(InputError, match="distinct"):
        age_band(pd.Series([1]), bands=[(0, 5, "a"), (6, 17, "a")])


# -- several dimensions --------------------------------------------------------------------


def test_describe_by_dimensions_stacks_the_single_tables(scored, domains):
    """Reference: describe_scores for each dimension alone, and age_band() on ``age``."""
    table = describe_by_dimensions(scored, domains)
    assert "age_band" not in scored
    assert table["by"].unique().tolist() == ["all", "placement_type", "age_band", "sex"]
    assert (table["by"] == "all").sum() == len(domains)
    with_band = scored.assign(age_band=age_band(scored["age"]))
    for dimension in ["placement_type", "age_band", "sex"]:
        alone = describe_scores(with_band, domains, by=dimension, overall=False)
        block = table[table["by"] == dimension].reset_index(drop=True)
        pd.testing.assert_frame_equal(block[alone.columns], alone)
    overall = describe_scores(scored, domains)
    block = table[table["by"] == "all"].reset_index(drop=True)
    pd.testing.assert_frame_equal(block[overall.columns], overall)
    assert row(table, "14-17", domains[0])["n"] == (
        scored.loc[scored["age"] >= 14, domains[0]].notna().sum()
    )


def test_describe_by_dimensions_on_demo_sized_weighted_data(qol_codebook, domains):
    """About 2,500 children (the demo size), 11 domains, 3 dimensions, weighted: one row each.

    Speed is measured in benchmarks/, never asserted here.
    """
    survey = make_survey(qol_codebook, n_services=200, seed=5)
    data = scored_table(validate_responses(survey, qol_codebook).valid, qol_codebook)
    data["w"] = np.random.default_rng(0).uniform(0.5, 2.0, len(data))
    assert len(data) > 2000
    table = describe_by_dimensions(data, domains, weight="w")
    assert len(table) == len(domains) * (1 + 5 + 3 + 2)


# -- clustered children (services) ------------------------------------------------------


def clustered(seed: int, n_services: int = 12, icc: float = 0.2, weighted: bool = False):
    """Planted truth: services of 4-12 children, mean 60, total SD 20, the given ICC;
    half the services 'cnst', half 'foster' (type per service); a low flag below 45."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(4, 13, n_services)
    s = np.repeat(np.arange(n_services), sizes)
    y = (
        60
        + rng.normal(0, 20 * math.sqrt(icc), n_services)[s]
        + rng.normal(0, 20 * math.sqrt(1 - icc), len(s))
    )
    data = pd.DataFrame(
        {
            "service_id": [f"S{i:02d}" for i in s],
            "placement_type": np.where(s % 2 == 0, "foster", "cnst"),
            "home": y,
            "low_home": pd.array(y < 45, dtype="boolean"),
        }
    )
    if weighted:
        data["w"] = rng.uniform(0.5, 2.0, len(s))
    return data


@pytest.mark.parametrize("weighted", [False, True])
def test_clustered_mean_ci_matches_statsmodels_cluster_robust(weighted):
    """Independent implementation: the clustered CI of a mean is the CR1 cluster-robust
    interval of an intercept-only OLS / WLS in statsmodels (``cov_type="cluster"``,
    which for one parameter has no n-correction left) with t on G - 1 df, per group
    and overall; the design effect is that variance over the unclustered one."""
    data = clustered(1, weighted=weighted)
    weight = "w" if weighted else None
    table = describe_scores(
        data, ["home"], by="placement_type", weight=weight, cluster="service_id"
    )
    plain = describe_scores(data, ["home"], by="placement_type", weight=weight)
    for group in ("all", "cnst", "foster"):
        part = data if group == "all" else data[data["placement_type"] == group]
        codes = pd.factorize(part["service_id"])[0]
        X = np.ones((len(part), 1))
        model = sm.WLS(part["home"], X, weights=part["w"]) if weighted else sm.OLS(part["home"], X)
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": codes})
        got = row(table, group)
        G = codes.max() + 1
        assert got["n_clusters"] == G
        se = float(fit.bse.iloc[0])
        half = stats.t.ppf(0.975, G - 1) * se
        assert got["mean"] == pytest.approx(float(fit.params.iloc[0]), rel=1e-12)
        assert (got["ci_low"], got["ci_high"]) == pytest.approx(
            (got["mean"] - half, got["mean"] + half), rel=1e-10
        )
        naive = row(plain, group)
        naive_se = (naive["ci_high"] - naive["mean"]) / stats.t.ppf(0.975, naive["n"] - 1)
        assert got["deff"] == pytest.approx(se**2 / naive_se**2, rel=1e-9)
    assert "service_id as clusters" in table["method"].iloc[0]


def test_clustered_share_uses_wilson_on_the_korn_graubard_effective_n():
    """Hand calculation: the share's design effect is the cluster-robust variance of the
    0/1 flag (statsmodels, as above) over p(1 - p)/n; the interval is Wilson's
    (statsmodels proportion_confint) on n* = n / max(deff, 1) · (t(n-1) / t(G-1))²."""
    data = clustered(2, n_services=10)
    got = row(describe_scores(data, ["home"], cluster="service_id"))
    flag = data["low_home"].astype(float)
    codes = pd.factorize(data["service_id"])[0]
    fit = sm.OLS(flag, np.ones((len(flag), 1))).fit(cov_type="cluster", cov_kwds={"groups": codes})
    n, p, G = len(flag), flag.mean(), codes.max() + 1
    deff = float(fit.bse.iloc[0]) ** 2 / (p * (1 - p) / n)
    assert got["share_low_deff"] == pytest.approx(deff, rel=1e-9)
    n_star = n / max(deff, 1) * (stats.t.ppf(0.975, n - 1) / stats.t.ppf(0.975, G - 1)) ** 2
    low, high = proportion_confint(p * n_star, n_star, method="wilson")
    assert (got["share_low_ci_low"], got["share_low_ci_high"]) == pytest.approx((low, high))


def test_clustered_intervals_cover_the_planted_mean():
    """Known truth: 12 services, ICC 0.2, mean 60. The clustered 95% interval covers 60
    in about 95% of 400 samples; the unclustered one, in fewer (too narrow: the
    design effect is about 1 + (8 - 1)·0.2 = 2.4). The share below 45 (truth
    P(N(60, 20²) < 45) = 0.227) is covered in at least 90%."""
    truth_share = stats.norm.cdf(45, 60, 20)
    reps = 400
    samples = pd.concat(
        [clustered(100 + seed).assign(sample=seed) for seed in range(reps)], ignore_index=True
    )
    samples["service_id"] = samples["sample"].astype(str) + "/" + samples["service_id"]
    # one call, one group per sample: each sample's services are its own clusters
    got = describe_scores(samples, ["home"], by="sample", overall=False, cluster="service_id")
    naive = describe_scores(samples, ["home"], by="sample", overall=False)
    assert (got["n_clusters"] == 12).all()
    hits = ((got["ci_low"] <= 60) & (got["ci_high"] >= 60)).sum()
    naive_hits = ((naive["ci_low"] <= 60) & (naive["ci_high"] >= 60)).sum()
    share_hits = (
        (got["share_low_ci_low"] <= truth_share) & (truth_share <= got["share_low_ci_high"])
    ).sum()
    deffs = got["deff"]
    print(
        f"coverage: clustered {hits / reps:.3f}, naive {naive_hits / reps:.3f}, "
        f"share {share_hits / reps:.3f}; median deff {np.median(deffs):.2f}"
    )
    assert 0.92 <= hits / reps <= 0.98
    assert naive_hits / reps < 0.88
    assert share_hits / reps >= 0.90
    assert 1.6 < np.median(deffs) < 3.2


def test_clustered_group_with_one_service_has_no_interval():
    """Known truth: a group run by one service cannot show how services vary: its mean
    is given, its CI and design effect are missing; children with a missing service
    are left out."""
    data = clustered(3, n_services=6)
    data.loc[data["service_id"] == "S00", "placement_type"] = "family"
    data.loc[data.index[:2], "service_id"] = None
    table = describe_scores(data, ["home"], by="placement_type", cluster="service_id")
    family = row(table, "family")
    assert family["n_clusters"] == 1 and math.isfinite(family["mean"])
    assert math.isnan(family["ci_low"]) and math.isnan(family["deff"])
    assert row(table)["n"] == len(data) - 2
    assert list(table.columns[-3:]) == ["share_low_ci_high", "share_low_deff", "method"]
    assert {"n_clusters", "deff"} <= set(table.columns)
    assert "deff" not in describe_scores(data, ["home"]).columns
