"""Projection to a target: recovery of a known log-linear trend and interval coverage.

References used (independent of research_lib.stats.projection):

* series simulated from a known trend ``mu_t = 200 * 0.8 ** (t - 2019)``, whose
  expected count first falls below 0.5 in 2046 (200 * 0.8**27 = 0.48 < 0.5 <
  200 * 0.8**26 = 0.60) - the true target year;
* an exact exponential series, on which the Poisson GLM must return the rate
  ratio exactly;
* coverage over 100 simulated series (n_sim kept small for speed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from research_lib.demo.episodes import make_episodes
from research_lib.errors import InputError
from research_lib.stats.indicators import care_indicators
from research_lib.stats.projection import ProjectionResult, plot_projection, project_to_target

YEARS = np.arange(2019, 2026)
TRUE_MU = 200 * 0.8 ** (YEARS - 2019)
TRUE_TARGET_YEAR = 2046


def expected(year: int) -> float:
    return 200 * 0.8 ** (year - 2019)


def test_true_target_year_by_hand() -> None:
    assert expected(TRUE_TARGET_YEAR) < 0.5 <= expected(TRUE_TARGET_YEAR - 1)


@pytest.mark.filterwarnings("ignore:Perfect separation")
def test_exact_exponential_is_recovered() -> None:
    series = pd.DataFrame({"year": YEARS, "n": TRUE_MU})
    result = project_to_target(series, "year", "n", horizon_end=2060, n_sim=200)
    assert result.rate_ratio == pytest.approx(0.8, rel=1e-8)
    assert result.target_year == TRUE_TARGET_YEAR
    row = result.table.set_index("year").loc[2030]
    assert row["projected"] == pytest.approx(expected(2030), rel=1e-6)
    assert row["is_projection"] and np.isnan(row["fitted"])
    assert result.table.set_index("year").loc[2025, "fitted"] == pytest.approx(expected(2025))


def test_layout_and_method_label() -> None:
    series = pd.DataFrame({"year": YEARS, "n": np.round(TRUE_MU)})
    result = project_to_target(series, "year", "n", n_sim=200)
    assert isinstance(result, ProjectionResult)
    assert result.table.columns.tolist() == [
        "year",
        "observed",
        "fitted",
        "projected",
        "pi_low",
        "pi_high",
        "is_projection",
    ]
    assert result.table["is_projection"].dtype == bool
    assert result.table["year"].tolist() == list(range(2019, 2046))  # default horizon: +20
    assert result.method.startswith(
        "Extrapolation of the 2019-2025 log-linear trend; assumes the trend continues"
    )
    assert result.target_year is None  # 2046 is after the default horizon (2045)
    assert result.target_text == "not within horizon (to 2045)"


def test_same_seed_same_result_and_fit_from() -> None:
    rng = np.random.default_rng(1)
    series = pd.DataFrame({"year": np.arange(2010, 2026), "n": rng.poisson(300, 16)})
    series.loc[series["year"] >= 2019, "n"] = rng.poisson(TRUE_MU)
    a = project_to_target(series, "year", "n", fit_from=2019, n_sim=300, seed=5)
    b = project_to_target(series, "year", "n", fit_from=2019, n_sim=300, seed=5)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.fit_years == (2019, 2025)
    early = a.table[a.table["year"] < 2019]
    assert early["fitted"].isna().all() and early["observed"].notna().all()


def test_coverage_over_simulated_series() -> None:
    """100 series from the known trend: the PI covers the true mean and a new count in 2030,
    and the target-year interval covers 2046, in most of them."""
    rng = np.random.default_rng(20251124)
    covered_mean = covered_count = covered_year = 0
    reps = 100
    for i in range(reps):
        series = pd.DataFrame({"year": YEARS, "n": rng.poisson(TRUE_MU)})
        result = project_to_target(series, "year", "n", horizon_end=2080, n_sim=400, seed=i)
        row = result.table.set_index("year").loc[2030]
        assert row["pi_low"] <= row["projected"] <= row["pi_high"]
        covered_mean += row["pi_low"] <= expected(2030) <= row["pi_high"]
        covered_count += row["pi_low"] <= rng.poisson(expected(2030)) <= row["pi_high"]
        low, high = result.target_year_low, result.target_year_high
        covered_year += low is not None and high is not None and low <= TRUE_TARGET_YEAR <= high
    assert covered_mean >= 90
    assert covered_count >= 88
    assert covered_year >= 85


def test_quasipoisson_widens_for_overdispersed_counts() -> None:
    rng = np.random.default_rng(3)
    noisy = rng.negative_binomial(5, 5 / (5 + TRUE_MU))  # variance well above the mean
    series = pd.DataFrame({"year": YEARS, "n": noisy})
    poisson = project_to_target(series, "year", "n", n_sim=500)
    quasi = project_to_target(series, "year", "n", family="quasipoisson", n_sim=500)
    assert quasi.dispersion > 1
    width = lambda r: (r.table["pi_high"] - r.table["pi_low"]).iloc[-1]  # noqa: E731
    assert width(quasi) >= width(poisson)
    assert "quasi-Poisson" in quasi.method


def test_rising_trend_never_reaches_target() -> None:
    series = pd.DataFrame({"year": YEARS, "n": [10, 12, 13, 15, 18, 20, 23]})
    result = project_to_target(series, "year", "n", horizon_end=2040, n_sim=200)
    assert result.target_year is None and result.target_year_high is None
    assert result.rate_ratio > 1


def test_dates_as_time_and_bad_inputs() -> None:
    series = pd.DataFrame(
        {"period": pd.to_datetime([f"{y}-01-01" for y in YEARS]), "n": np.round(TRUE_MU)}
    )
    assert project_to_target(series, "period", "n", n_sim=100).fit_years == (2019, 2025)
    with pytest.raises(InputError, match="several rows"):
        project_to_target(pd.concat([series, series]), "period", "n")
    with pytest.raises(InputError, match="at least 3"):
        project_to_target(series, "period", "n", fit_from=2024)
    with pytest.raises(InputError, match="every count"):
        project_to_target(series.assign(n=0), "period", "n")
    with pytest.raises(InputError, match="family"):
        project_to_target(series, "period", "n", family="gaussian")
    with pytest.raises(InputError, match="horizon"):
        project_to_target(series, "period", "n", horizon_end=2020)


def test_demo_institutions_0_3_reach_zero_but_residential_does_not() -> None:
    """Demo: institution entries at 0-3 stop by 2021 (planted), while ЦНСТ keep taking some."""
    episodes = make_episodes()
    series = {}
    for name, drop in (("residential", None), ("institution", "cnst")):
        kept = episodes if drop is None else episodes[episodes["placement_type"] != drop]
        table = care_indicators(kept, None, years=range(2015, 2026), by=("age_band",))
        series[name] = table[
            (table["indicator"] == "residential_to_family_ratio") & (table["age_band"] == "0-3")
        ]
    institution = project_to_target(series["institution"], "year", "numerator", fit_from=2019)
    assert institution.target_year is not None and institution.target_year <= 2030
    residential = project_to_target(series["residential"], "year", "numerator", fit_from=2019)
    assert residential.target_year is None


def test_plot_projection_is_visibly_distinct() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = pd.DataFrame({"year": YEARS, "n": np.round(TRUE_MU)})
    result = project_to_target(series, "year", "n", horizon_end=2060, n_sim=200)
    ax = plot_projection(result, labels={"projection": "Прогноза (екстраполация)"})
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["Прогноза (екстраполация)"].get_linestyle() == "--"
    assert lines["Fitted trend"].get_linestyle() == "-"
    assert ax.collections  # the shaded prediction band (and the observed points)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "95% prediction interval" in legend
    with pytest.raises(InputError):
        plot_projection(result, labels={"colour": "red"})
    plt.close("all")
