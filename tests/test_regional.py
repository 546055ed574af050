"""Regional comparison: funnel limits by hand, their coverage, and the planted lagging oblasts.

References used (independent of research_lib.regional):

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
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from research_lib.demo_episodes import LAGGING_OBLASTS, make_episodes, make_population
from research_lib.errors import InputError
from research_lib.placements import episodes_to_series
from research_lib.regional import (
    family_based_share,
    foster_growth,
    funnel_limits,
    funnel_proportion_limits,
    funnel_proportions,
    funnel_table,
    plot_funnel,
    regional_rates,
)
from research_lib.regions import load_oblasts

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


def test_regional_rates_vs_hand() -> None:
    counts = pd.DataFrame({"oblast": ["BG311", "BG312"], "n": [0, 25], "pop": [10_000, np.nan]})
    out = regional_rates(counts, "n", "pop")
    assert out["rate"].iloc[0] == 0 and out["ci_low"].iloc[0] == 0
    assert out["ci_high"].iloc[0] == pytest.approx(stats.chi2.ppf(0.975, 2) / 2 / 10_000 * 1e5)
    assert np.isnan(out["rate"].iloc[1])  # no denominator, never estimated


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
    growth = foster_growth(demo_series, 2015, 2025)
    lagging = set(growth.loc[growth["lagging"], "oblast"])
    assert set(LAGGING_OBLASTS) <= lagging
    assert set(growth["oblast"].head(3)) == set(LAGGING_OBLASTS)  # the three slowest
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
    assert set(LAGGING_OBLASTS) <= set(growth.loc[growth["lagging"], "oblast"])


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
    assert growth.loc["BG312", "flag"] == "in line"
    assert growth.loc["BG311", "flag"] == "ahead"
    assert growth.loc["BG313", "flag"] == "no estimate"


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
    flagged = table.set_index("oblast").loc[list(LAGGING_OBLASTS), "outside_95"]
    assert (flagged == "below").all()


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
