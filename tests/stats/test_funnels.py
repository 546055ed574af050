"""Regional comparison: funnel limits by hand, their coverage, and the planted lagging oblasts.

References used (independent of research_lib.stats.funnels):

* funnel limits recomputed one population size at a time from Spiegelhalter's
  (2005, appendix) interpolation, with the Poisson distribution function written
  through the chi-square identity ``P(Y <= r) = chi2.sf(2 theta, 2r + 2)`` and a
  plain search for the quantile (and scipy.stats.poisson.ppf as a second route);
  binomial limits the same way with scipy.stats.binom;
* the known property of the limits: in a homogeneous system about 95% (99.8%) of
  units fall inside the 95% (99.8%) limits - 2,000 simulated systems of 28 oblasts;
* the demo data's planted lagging oblasts (demo_episodes.LAGGING_OBLASTS).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from statsmodels.stats.proportion import proportion_confint

from research_lib.demo.episodes import LAGGING_OBLASTS, make_episodes, make_population
from research_lib.errors import InputError
from research_lib.io.oblasts import load_oblasts
from research_lib.stats.funnels import (
    expected_false_flags,
    family_based_share,
    foster_growth,
    funnel_dispersion,
    funnel_limits,
    funnel_proportion_limits,
    funnel_proportions,
    funnel_table,
    overdispersion,
    plot_funnel,
)
from research_lib.stats.series import episodes_to_series

RNG_SEED = 20251124
# 28 oblast child populations of the demo's size range (synthetic)
SIZES = np.linspace(20_000, 130_000, 28)


def hand_limit(theta: float, p: float) -> float:
    """Spiegelhalter's interpolated Poisson quantile, via the chi-square identity."""
    r = 0
    cdf = lambda k: 0.0 if k < 0 else stats.chi2.sf(2 * theta, 2 * k + 2)  # noqa: E731
    while cdf(r) < p:
        r += 1
    assert r == stats.poisson.ppf(p, theta)  # the second route to the quantile
    alpha = (cdf(r) - p) / (cdf(r) - cdf(r - 1))
    return max(r - alpha, 0.0)


@pytest.mark.parametrize("population", [3_000, 20_000, 150_000])
def test_funnel_limits_vs_hand_calculation(population: int) -> None:
    rate = 250.0  # per 100,000 -> expected 7.5, 50, 375
    theta = rate * population / 100_000
    limits = funnel_limits(rate, [population]).iloc[0]
    assert limits["expected"] == pytest.approx(theta)
    for name, level in (("95", 0.95), ("998", 0.998)):
        tail = (1 - level) / 2
        low = hand_limit(theta, tail) / population * 100_000
        high = hand_limit(theta, 1 - tail) / population * 100_000
        assert limits[f"low_{name}"] == pytest.approx(low, rel=1e-9)
        assert limits[f"high_{name}"] == pytest.approx(high, rel=1e-9)


def test_funnel_limits_approach_normal_for_large_counts() -> None:
    theta = 10_000.0
    limits = funnel_limits(100.0, [theta * 1000]).iloc[0]  # per 100,000: rate 100
    z = stats.norm.ppf(0.975)
    assert limits["high_95"] == pytest.approx(100 * (1 + z / np.sqrt(theta)), rel=2e-3)
    assert limits["low_95"] == pytest.approx(100 * (1 - z / np.sqrt(theta)), rel=2e-3)


def test_funnel_limits_shape() -> None:
    limits = funnel_limits(250.0, np.geomspace(5_000, 500_000, 50))
    width = limits["high_95"] - limits["low_95"]
    assert (np.diff(width) < 1e-9).all()  # the funnel narrows with size (to rounding)
    assert (limits["low_998"] <= limits["low_95"]).all()
    assert (limits["high_998"] >= limits["high_95"]).all()
    assert (limits["low_95"] >= 0).all()
    with pytest.raises(InputError):
        funnel_limits(250.0, [0])


def test_homogeneous_system_is_95_percent_inside() -> None:
    """2,000 simulated systems of 28 oblasts with one true rate: ~95% / ~99.8% inside."""
    rng = np.random.default_rng(RNG_SEED)
    rate = 250.0
    theta = rate * SIZES / 100_000
    counts = rng.poisson(theta, size=(2000, len(SIZES)))
    limits = funnel_limits(rate, SIZES)
    observed = counts / SIZES * 100_000
    inside_95 = (observed >= limits["low_95"].to_numpy()) & (
        observed <= limits["high_95"].to_numpy()
    )
    inside_998 = (observed >= limits["low_998"].to_numpy()) & (
        observed <= limits["high_998"].to_numpy()
    )
    assert 0.94 <= inside_95.mean() <= 0.96
    assert 0.996 <= inside_998.mean() <= 1.0
    # flags of funnel_table, with the national rate pooled from each system, agree
    sample = pd.DataFrame({"oblast": load_oblasts().index, "count": counts[0], "population": SIZES})
    table = funnel_table(sample)
    assert table["national_rate"].iloc[0] == pytest.approx(counts[0].sum() / SIZES.sum() * 1e5)


def test_funnel_table_flags_and_national_row() -> None:
    counts = pd.DataFrame(
        {
            "oblast": ["BG311", "BG312", "BG313", "all"],
            "count": [100, 20, 50, 1000],
            "population": [20_000, 20_000, 20_000, 400_000],
        }
    )
    table = funnel_table(counts)
    assert "all" not in set(table["oblast"])
    assert table["national_rate"].iloc[0] == pytest.approx(250.0)  # from the "all" row
    assert table["outside_95"].tolist() == ["above", "below", "within"]
    assert table["outside_998"].tolist() == ["above", "below", "within"]
    # each oblast's own CI is Garwood's
    low = stats.chi2.ppf(0.025, 200) / 2 / 20_000 * 1e5
    assert table["ci_low"].iloc[0] == pytest.approx(low)


@pytest.mark.parametrize("total", [40, 250, 1000])
def test_proportion_limits_vs_hand(total: int) -> None:
    share = 0.55
    limits = funnel_proportion_limits(share, [total]).iloc[0]
    for name, level in (("95", 0.95), ("998", 0.998)):
        for side, p in (("low", (1 - level) / 2), ("high", (1 + level) / 2)):
            r = stats.binom.ppf(p, total, share)
            f_r, f_below = stats.binom.cdf([r, r - 1], total, share)
            expected = (r - (f_r - p) / (f_r - f_below)) / total
            assert limits[f"{side}_{name}"] == pytest.approx(expected, rel=1e-9)


def test_homogeneous_proportions_are_95_percent_inside() -> None:
    rng = np.random.default_rng(RNG_SEED + 1)
    totals = np.linspace(100, 700, 28).round()
    counts = rng.binomial(totals.astype(int), 0.55, size=(2000, 28))
    limits = funnel_proportion_limits(0.55, totals)
    share = counts / totals
    inside = (share >= limits["low_95"].to_numpy()) & (share <= limits["high_95"].to_numpy())
    assert 0.94 <= inside.mean() <= 0.96


def test_funnel_proportions_wilson_and_flags() -> None:
    counts = pd.DataFrame(
        {"oblast": ["BG311", "BG312", "BG313"], "count": [50, 20, 80], "total": [100, 100, 100]}
    )
    table = funnel_proportions(counts)
    assert table["national_share"].iloc[0] == pytest.approx(0.5)
    assert table["outside_95"].tolist() == ["within", "below", "above"]
    low, high = proportion_confint(20, 100, method="wilson")
    assert (table["ci_low"].iloc[1], table["ci_high"].iloc[1]) == pytest.approx((low, high))


# ----------------------------------------------------------------------------- demo data


@pytest.fixture(scope="module")
def demo_series() -> pd.DataFrame:
    return episodes_to_series(make_episodes(), by=("oblast", "placement_type"))


def test_foster_growth_finds_the_planted_lagging_oblasts(demo_series) -> None:
    """Planted truth: the demo's three lagging oblasts, and only they, lag their baseline."""
    growth = foster_growth(demo_series, 2015, 2025)
    lagging = set(growth.loc[growth["lagging"], "oblast"])
    assert lagging == set(LAGGING_OBLASTS)
    assert set(growth["oblast"].head(3)) == set(LAGGING_OBLASTS)  # the three slowest
    # growth falls with the starting level: the baseline slope is below 1
    assert growth["baseline_slope"].iloc[0] < 1
    assert growth["nb_alpha"].iloc[0] > 0  # over-dispersion between oblasts is modelled
    # foster entries (flows) single out exactly the planted oblasts
    entries = foster_growth(demo_series, 2016, 2025, value="entries")
    assert set(entries.loc[entries["lagging"], "oblast"]) == set(LAGGING_OBLASTS)


def test_foster_growth_rates_with_population(demo_series) -> None:
    population = make_population()
    growth = foster_growth(demo_series, 2015, 2025, population=population)
    counts = foster_growth(demo_series, 2015, 2025)
    merged = growth.merge(counts, on="oblast", suffixes=("", "_count"))
    scale = merged["population_start"] / merged["population_end"]
    np.testing.assert_allclose(merged["growth"], merged["growth_count"] * scale)
    assert set(LAGGING_OBLASTS) == set(growth.loc[growth["lagging"], "oblast"])
    # the population has only the bands 0-3, 4-6, 7-17: the denominator is their sum
    bands = population[(population["oblast"] == "BG311") & (population["year"] == 2015)]
    row = growth.set_index("oblast").loc["BG311"]
    assert row["population_start"] == bands["population"].sum()
    assert row["baseline"] == pytest.approx(row["count_start"] / row["population_start"] * 1e5)


def test_foster_growth_ci_vs_hand() -> None:
    series = pd.DataFrame(
        {
            "period": pd.to_datetime(["2015-01-01", "2025-01-01"] * 3),
            "oblast": ["BG311", "BG311", "BG312", "BG312", "BG313", "BG313"],
            "placement_type": "foster",
            "in_care_end": [10, 30, 100, 100, 0, 0],
        }
    )
    growth = foster_growth(series, 2015, 2025).set_index("oblast")
    low, high = proportion_confint(30, 40, method="beta")  # 30 of the 40 in the later year
    assert growth.loc["BG311", "growth"] == pytest.approx(3.0)
    assert growth.loc["BG311", "ci_low"] == pytest.approx(low / (1 - low))
    assert growth.loc["BG311", "ci_high"] == pytest.approx(high / (1 - high))
    assert growth.loc["BG311", "national_growth"] == pytest.approx(130 / 110)
    # the model's expectation and the observed/expected ratio agree with each other
    ratio = growth["growth"] / growth["expected_growth"]
    np.testing.assert_allclose(growth["relative_growth"].dropna(), ratio.dropna())
    assert growth.loc["BG313", "flag"] == "no estimate"  # no foster care at the start
    assert growth["model"].iloc[0].endswith("baseline term dropped (< 10 oblasts)")


def test_family_based_share_and_funnel_on_demo(demo_series) -> None:
    shares = family_based_share(demo_series, 2025)
    assert shares["oblast"].iloc[-1] == "all"
    year = demo_series[demo_series["period"].dt.year == 2025]
    kinds = year["placement_type"].astype(str)
    family = year.loc[kinds.isin(["foster", "kinship"]), "in_care_end"].sum()
    formal = year.loc[kinds != "family", "in_care_end"].sum()
    assert shares.set_index("oblast").loc["all", ["count", "total"]].tolist() == [family, formal]
    table = funnel_proportions(shares)
    assert len(table) == 28
    planted = table.set_index("oblast").loc[list(LAGGING_OBLASTS)]
    assert (planted["plain_outside_95"] == "below").all()  # beyond the binomial limits
    # the shares are over-dispersed: limits widened, fewer flags, the planted ones lowest
    assert table["limits"].iloc[0] == "random_effects"
    assert (table["outside_95"] != "within").sum() < (table["plain_outside_95"] != "within").sum()
    assert (planted["share"] < planted["national_share"]).all()
    assert "below" in set(planted["outside_95"])


def test_plot_funnel_labels_in_bulgarian_and_english() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = pd.DataFrame(
        {"oblast": ["BG311", "BG411"], "count": [30, 200], "population": [20_000, 200_000]}
    )
    table = funnel_table(counts)
    ax = plot_funnel(table, highlight=["BG311"], labels={"y": "На 100 000 деца"})
    assert {t.get_text() for t in ax.texts} == {"Видин", "София (столица)"}
    assert ax.get_ylabel() == "На 100 000 деца"
    limits = funnel_limits(table["national_rate"].iloc[0], np.geomspace(10_000, 300_000, 50))
    ax2 = plot_funnel(table, limits, language="en")
    assert "Vidin" in {t.get_text() for t in ax2.texts}
    shares = funnel_proportions(
        pd.DataFrame({"oblast": ["BG311", "BG312"], "count": [5, 9], "total": [10, 12]})
    )
    assert plot_funnel(shares).get_xlabel() == "Children in formal care"
    with pytest.raises(InputError):
        plot_funnel(table, labels={"colour": "x"})
    plt.close("all")


# ----------------------------------------------------------------------------- over-dispersion


def test_overdispersion_vs_hand_calculation() -> None:
    """phi, tau^2 and the chi-squared test by hand (Spiegelhalter 2005, QSHC, eqs. 1-3)."""
    y = np.array([12.0, 7, 15, 9, 11, 4, 14, 10, 8, 13, 6, 16])
    se = np.array([1.0, 2, 1.5, 1, 2.5, 1, 1.2, 2, 1, 1.8, 1.1, 2.2])
    target = 10.0
    d = overdispersion(y, target, se, mode="random_effects")
    z = (y - target) / se
    assert d.chi2 == pytest.approx((z**2).sum())
    assert d.p_value == pytest.approx(stats.chi2.sf((z**2).sum(), 11))
    # winsorised at the 10% / 90% quantiles (numpy's linear definition)
    lo, hi = np.quantile(z, [0.1, 0.9])
    # divided by E[Z_w^2] of a standard normal winsorised at 10% / 90%, by quadrature
    q = stats.norm.ppf(0.9)
    moment = integrate.quad(
        lambda x: min(max(x, -q), q) ** 2 * stats.norm.pdf(x), -12, 12, points=[-q, q]
    )[0]
    phi = (np.clip(z, lo, hi) ** 2).mean() / moment
    assert d.phi == pytest.approx(phi, rel=1e-9)
    w = 1 / se**2
    tau2 = (12 * phi - 11) / (w.sum() - (w**2).sum() / w.sum())
    assert d.tau2 == pytest.approx(max(tau2, 0.0), rel=1e-9)
    assert d.tau2 > 0 and d.widened
    # too few units: no between-unit variance
    assert overdispersion(y[:5], target, se[:5]).tau2 == 0
    with pytest.raises(InputError):
        overdispersion(y, target, se, mode="bayes")


def test_random_effects_limits_vs_hand() -> None:
    limits = funnel_limits(200.0, [50_000], tau=30.0).iloc[0]
    spread = np.sqrt(200 * 1e5 / 50_000 + 30.0**2)
    assert limits["high_95"] == pytest.approx(200 + stats.norm.ppf(0.975) * spread)
    assert limits["low_998"] == pytest.approx(200 - stats.norm.ppf(0.999) * spread)
    shares = funnel_proportion_limits(0.4, [200], tau=0.05).iloc[0]
    spread = np.sqrt(0.4 * 0.6 / 200 + 0.05**2)
    assert shares["high_95"] == pytest.approx(0.4 + stats.norm.ppf(0.975) * spread)


def _overdispersed_system(rng, n_sims: int, outliers: int = 0, factor: float = 2.0):
    """28 oblasts whose true rates vary (gamma, CV 0.25) around 250 per 100,000."""
    sizes = np.tile(SIZES, (n_sims, 1))
    true_rate = 250.0 * rng.gamma(16.0, 1 / 16.0, size=sizes.shape)  # CV 0.25
    true_rate[:, :outliers] *= factor  # planted outliers: the first `outliers` oblasts
    counts = rng.poisson(true_rate * sizes / 1e5)
    return counts


def test_funnel_false_flags_under_overdispersion_with_and_without_outliers() -> None:
    """Planted truth: no oblast is special (false flags ~ nominal), then two planted outliers.

    Plain Poisson limits flag ordinary between-oblast variation; the widened
    (random-effects) limits flag about the nominal share at 95% and still find
    oblasts with twice the typical rate. The heavier version with rates printed
    is benchmarks/bench_regional.py.
    """
    rng = np.random.default_rng(RNG_SEED + 2)
    codes = load_oblasts().index
    counts = _overdispersed_system(rng, 150)
    plain = widened = 0
    for row in counts:
        table = funnel_table(pd.DataFrame({"oblast": codes, "count": row, "population": SIZES}))
        plain += (table["plain_outside_95"] != "within").sum()
        widened += (table["outside_95"] != "within").sum()
    plain_rate, widened_rate = plain / counts.size, widened / counts.size
    assert plain_rate > 0.25  # Poisson limits: ordinary variation flagged
    assert widened_rate < 0.08  # random-effects limits: about the nominal 5%
    counts = _overdispersed_system(rng, 150, outliers=2, factor=2.0)
    found = false = 0
    for row in counts:
        table = funnel_table(pd.DataFrame({"oblast": codes, "count": row, "population": SIZES}))
        flagged = (table["outside_95"] != "within").to_numpy()
        found += flagged[:2].sum()
        false += flagged[2:].sum()
    assert found / (2 * len(counts)) > 0.7  # winsorising keeps true outliers visible
    assert false / (26 * len(counts)) < 0.08


def test_growth_model_false_flags_when_growth_depends_on_the_start() -> None:
    """Planted truth: growth falls with the starting level, no oblast lags its peers.

    Comparing with national growth flags early starters; the model does not.
    """
    rng = np.random.default_rng(RNG_SEED + 3)
    codes = load_oblasts().index
    naive = model = total = 0
    for _ in range(40):
        start = rng.integers(10, 150, size=28)
        growth = 3.0 * (start / 40.0) ** -0.5 * rng.gamma(20.0, 1 / 20.0, size=28)
        end = rng.poisson(start * growth)
        series = pd.DataFrame(
            {
                "period": pd.to_datetime(["2015-01-01"] * 28 + ["2025-01-01"] * 28),
                "oblast": [*codes, *codes],
                "placement_type": "foster",
                "in_care_end": [*start, *end],
            }
        )
        table = foster_growth(series, 2015, 2025)
        model += table["lagging"].sum()
        naive += (table["ci_high"] < table["national_growth"]).sum()
        total += 28
    assert naive / total > 0.15  # the old rule: early starters "lag"
    assert model / total < 0.06


def test_expected_false_flags_and_funnel_dispersion_columns() -> None:
    assert expected_false_flags(28, 0.95) == pytest.approx(1.4)
    assert expected_false_flags(28, 0.998) == pytest.approx(0.056)
    counts = pd.DataFrame(
        {"oblast": load_oblasts().index, "count": np.arange(28) * 10 + 20, "population": SIZES}
    )
    table = funnel_table(counts)
    d = funnel_dispersion(table)
    assert d.df == 27 and d.widened and table["limits"].iloc[0] == "random_effects"
    none = funnel_table(counts, overdispersion="none")
    assert none["limits"].iloc[0] == "poisson"
    assert (none["outside_95"] == none["plain_outside_95"]).all()
