"""Tests for research_lib.stats.time_in_care (Kaplan-Meier and Aalen-Johansen).

Each test names its independent reference: a hand calculation written out in
the docstring, another implementation (statsmodels ``SurvfuncRight``, lifelines
``KaplanMeierFitter`` / ``AalenJohansenFitter``), a closed form (binomial
variance, exponential quantiles and cumulative incidences) or a planted effect.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, KaplanMeierFitter
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from research_lib.errors import InputError
from research_lib.stats.time_in_care import (
    UNKNOWN_REASON,
    durations,
    exit_pathways,
    first_spells,
    join_spells,
    left_truncate,
    observation_start,
    plot_time_in_care,
    survival_curves,
    time_in_care,
)

DAY0 = pd.Timestamp("2020-01-01")
QUANTILES = {"q25": 0.25, "median": 0.5, "q75": 0.75}  # name -> share exited
Z95 = float(stats.norm.ppf(0.975))


def staggered(days, ended, reasons=None, as_of="2030-01-01", **columns) -> pd.DataFrame:
    """Episodes whose durations up to ``as_of`` are exactly ``days``.

    An ended episode starts ``days`` before some date and ends on it; a
    censored one starts ``days`` before ``as_of`` and is still ongoing, so it
    is censored at exactly ``days``.
    """
    as_of = pd.Timestamp(as_of)
    days = np.asarray(days, dtype=float)
    ended = np.asarray(ended, dtype=bool)
    delta = pd.to_timedelta(days, unit="D")
    end = pd.Series(as_of - pd.Timedelta(days=1) - pd.to_timedelta(np.arange(len(days)), unit="D"))
    start = pd.Series(np.where(ended, end - delta, as_of - delta))
    data = {
        "child_id": [f"c{i}" for i in range(len(days))],
        "start_date": pd.to_datetime(start),
        "end_date": end.where(ended, pd.NaT),
        "exit_reason": None
        if reasons is None
        else [r if e else None for r, e in zip(reasons, ended, strict=True)],
        **columns,
    }
    return pd.DataFrame(data)


# --------------------------------------------------------------------------- #
# durations
# --------------------------------------------------------------------------- #
def test_durations_ongoing_late_end_and_future_start():
    """Hand calculation with as_of = 2020-03-01 (2020 is a leap year):

    * ended 2020-01-31: 30 days, event 1;
    * ongoing: censored at as_of, 60 days, event 0;
    * ends 2020-06-01, after as_of: censored at as_of, 60 days, event 0;
    * starts 2020-05-01, after as_of: excluded and reported in attrs;
    * same-day start and end: 0 days, event 1.
    """
    episodes = pd.DataFrame(
        {
            "start_date": ["2020-01-01", "2020-01-01", "2020-01-01", "2020-05-01", "2020-02-01"],
            "end_date": ["2020-01-31", None, "2020-06-01", None, "2020-02-01"],
        },
        index=[10, 11, 12, 13, 14],
    )
    out = durations(episodes, "2020-03-01", unit="days")
    assert out.index.tolist() == [10, 11, 12, 14]
    assert out["duration"].tolist() == [30.0, 60.0, 60.0, 0.0]
    assert out["event"].tolist() == [1, 0, 0, 1]
    assert out.attrs["n_excluded_after_as_of"] == 1
    assert out.attrs["excluded_after_as_of"] == (13,)
    assert out.attrs["as_of"] == pd.Timestamp("2020-03-01")
    # months are days / 30.4375, years days / 365.25
    months = durations(episodes, "2020-03-01")
    np.testing.assert_allclose(months["duration"], np.array([30, 60, 60, 0]) / 30.4375)
    years = durations(episodes, pd.Timestamp("2020-03-01"), unit="years")
    np.testing.assert_allclose(years["duration"], np.array([30, 60, 60, 0]) / 365.25)
    # the input is not modified
    assert "duration" not in episodes.columns


def test_durations_rejects_unusable_input():
    """Clear InputErrors (a ValueError) for input that cannot be used at all."""
    good = pd.DataFrame({"start_date": ["2020-01-01"], "end_date": [None]})
    with pytest.raises(InputError, match="empty"):
        durations(good.iloc[:0], "2021-01-01")
    with pytest.raises(InputError, match="end_date"):
        durations(good[["start_date"]], "2021-01-01")
    with pytest.raises(InputError, match="end before they start"):
        durations(pd.DataFrame({"start_date": ["2020-05-01"], "end_date": ["2020-01-01"]}), "2021")
    with pytest.raises(InputError, match="no start_date"):
        durations(pd.DataFrame({"start_date": [None], "end_date": [None]}), "2021-01-01")
    with pytest.raises(InputError, match="not dates"):
        durations(pd.DataFrame({"start_date": ["soon"], "end_date": [None]}), "2021-01-01")
    with pytest.raises(InputError, match="unit"):
        durations(good, "2021-01-01", unit="weeks")
    with pytest.raises(InputError, match="as_of"):
        durations(good, "not a date")
    with pytest.raises(InputError, match="as_of"):
        durations(good, None)
    assert issubclass(InputError, ValueError)


# --------------------------------------------------------------------------- #
# Kaplan-Meier: hand-worked examples
# --------------------------------------------------------------------------- #
KM_DAYS = [10, 20, 30, 40, 50, 60, 70]
KM_ENDED = [True, False, True, True, False, True, False]


def test_km_hand_worked_survival_and_quantiles():
    """Seven episodes, times in days, + = censored: 10, 20+, 30, 40, 50+, 60, 70+.

    By hand, S(t) = prod (1 - d_j / n_j):

    ====  ===  ===  ===========================
    t     n    d    S(t)
    ====  ===  ===  ===========================
    10    7    1    6/7            = 0.857
    30    5    1    6/7 * 4/5      = 24/35 = 0.686
    40    4    1    24/35 * 3/4    = 18/35 = 0.514
    60    2    1    18/35 * 1/2    = 9/35  = 0.257
    ====  ===  ===  ===========================

    q25 (S <= 0.75) = 30; median (S <= 0.5) = 60; q75 (S <= 0.25) is never
    reached (S stays at 9/35 > 0.25), so it is NaN, not extrapolated.
    Greenwood at t = 40: Var = S^2 (1/(7*6) + 1/(5*4) + 1/(4*3)); the log-log
    interval is S^exp(-+z sqrt(sum) / log S).
    """
    episodes = staggered(KM_DAYS, KM_ENDED, placement_type="foster")
    as_of = "2030-01-01"
    table = time_in_care(episodes, as_of=as_of, unit="days")
    row = table.iloc[0]
    assert (row["n"], row["events"], row["censored"]) == (7, 4, 3)
    assert row["q25"] == 30.0
    assert row["median"] == 60.0
    assert math.isnan(row["q75"])

    curves = survival_curves(episodes, as_of=as_of, unit="days").set_index("time")
    expected = {0: 1.0, 10: 6 / 7, 20: 6 / 7, 30: 24 / 35, 40: 18 / 35, 50: 18 / 35, 60: 9 / 35}
    for t, s in expected.items():
        assert curves.loc[float(t), "survival"] == pytest.approx(s)
    assert curves.loc[40.0, "at_risk"] == 4
    assert curves.loc[60.0, "at_risk"] == 2

    s40 = 18 / 35
    greenwood_sum = 1 / (7 * 6) + 1 / (5 * 4) + 1 / (4 * 3)
    c = Z95 * math.sqrt(greenwood_sum) / math.log(s40)
    assert curves.loc[40.0, "ci_low"] == pytest.approx(s40 ** math.exp(-c))
    assert curves.loc[40.0, "ci_high"] == pytest.approx(s40 ** math.exp(c))


def test_median_when_survival_hits_exactly_one_half():
    """Four episodes ending at 1, 2, 3, 4 days, none censored: S(2) = 2/4 = 0.5.

    The documented convention is the smallest t with S(t) <= 0.5, so the
    median is 2 (R would report 2.5, SAS/statsmodels 3); q25 is 1, q75 is 3.
    """
    episodes = staggered([1, 2, 3, 4], [True] * 4)
    row = time_in_care(episodes, by=None, as_of="2030-01-01", unit="days").iloc[0]
    assert (row["q25"], row["median"], row["q75"]) == (1.0, 2.0, 3.0)


def test_median_not_reached_is_nan():
    """Ten episodes, two exits (days 5 and 8), eight censored at 20-90 days.

    By hand: S(5) = 9/10, S(8) = 9/10 * 8/9 = 0.8; S never falls to 0.5, so
    median and q75 are NaN, and so is the upper median limit; q25 (S <= 0.75)
    is also not reached.
    """
    days = [5, 8, 20, 30, 40, 50, 60, 70, 80, 90]
    ended = [True, True] + [False] * 8
    row = time_in_care(staggered(days, ended), by=None, as_of="2030-01-01", unit="days").iloc[0]
    for name in ("median", "median_ci_high", "q25", "q75", "q75_ci_high"):
        assert math.isnan(row[name]), name
    assert "Kaplan-Meier" in row["method"] and "Brookmeyer-Crowley" in row["method"]


# --------------------------------------------------------------------------- #
# Kaplan-Meier: other implementations and planted effects
# --------------------------------------------------------------------------- #
def random_episodes(rng: np.random.Generator, n: int, mean_days: float) -> pd.DataFrame:
    start = DAY0 + pd.to_timedelta(rng.integers(0, 2000, n), unit="D")
    end = start + pd.to_timedelta(rng.exponential(mean_days, n).round(), unit="D")
    return pd.DataFrame({"start_date": start, "end_date": end})


@pytest.mark.parametrize("seed", range(12))
def test_quantiles_and_ci_match_statsmodels(seed):
    """Median, quartiles and their Brookmeyer-Crowley CIs vs statsmodels.

    Reference: ``statsmodels.duration.survfunc.SurvfuncRight`` (a separate
    implementation that inverts z-tests on the cloglog scale, as SAS does).
    statsmodels takes the first time with S(t) < 1 - p, this module S(t) <=
    1 - p; ``quantile(p - 1e-9)`` bridges the two conventions. An infinite
    statsmodels limit is NaN here. Random staggered entry gives censoring and
    day-level ties.
    """
    rng = np.random.default_rng(seed)
    episodes = random_episodes(rng, int(rng.integers(20, 150)), rng.uniform(100, 900))
    as_of = "2024-06-30"
    row = time_in_care(episodes, by=None, as_of=as_of, unit="days").iloc[0]
    data = durations(episodes, as_of, unit="days")
    reference = SurvfuncRight(data["duration"].to_numpy(), data["event"].to_numpy())
    for name, p in QUANTILES.items():
        expected = np.array([reference.quantile(p - 1e-9), *reference.quantile_ci(p)], float)
        expected[np.isinf(expected)] = np.nan
        got = row[[name, f"{name}_ci_low", f"{name}_ci_high"]].to_numpy(float)
        np.testing.assert_allclose(got, expected, equal_nan=True, err_msg=name)


def test_planted_exponential_medians_are_recovered():
    """Planted effect: exponential time in placement, median ln2 / lambda.

    foster: median 9 months; institution: median 30 months; 3000 episodes
    each, entering uniformly over 2010-2023 and censored at 2024-01-01 (about
    a quarter censored in institutions). Medians and quartiles (-ln(1 - p) /
    lambda) must lie within 8% of the truth and the 95% CI of each median
    must cover it. (Quartile CIs are not all required to cover: six 95%
    intervals all covering is only a ~75% event.)
    """
    rng = np.random.default_rng(20240601)
    truth = {"foster": 9.0, "institution": 30.0}  # median months
    frames = []
    for placement, median in truth.items():
        rate = math.log(2) / median
        n = 3000
        start = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 14 * 365, n), unit="D")
        days = np.round(rng.exponential(1 / rate, n) * 30.4375)
        frames.append(
            pd.DataFrame(
                {
                    "placement_type": placement,
                    "start_date": start,
                    "end_date": start + pd.to_timedelta(days, unit="D"),
                }
            )
        )
    episodes = pd.concat(frames, ignore_index=True)
    table = time_in_care(episodes, as_of="2024-01-01").set_index("placement_type")
    assert table.loc["institution", "censored"] > 500
    for placement, median in truth.items():
        rate = math.log(2) / median
        for name, p in QUANTILES.items():
            true_q = -math.log(1 - p) / rate
            row = table.loc[placement]
            assert row[name] == pytest.approx(true_q, rel=0.08), (placement, name)
        row = table.loc[placement]
        assert row["median_ci_low"] <= median <= row["median_ci_high"], placement
        assert row["median_ci_high"] - row["median_ci_low"] < 0.25 * median


def test_groups_keep_category_order_and_entry_cohorts():
    """Grouping: categorical order is kept (institution before foster as
    declared), group dtype stays categorical, entry cohorts are calendar
    years ("YS") or calendar-aligned ranges ("5YS", 2010-2014 / 2015-2019);
    counts checked by hand: 2 + 1 episodes per placement type.
    """
    episodes = pd.DataFrame(
        {
            "placement_type": pd.Categorical(
                ["foster", "institution", "foster", "institution", "institution"],
                categories=["institution", "foster"],
            ),
            "start_date": pd.to_datetime(
                ["2012-03-01", "2013-01-01", "2016-05-01", "2014-12-31", "2019-07-01"]
            ),
            "end_date": pd.to_datetime(["2013-03-01", None, "2016-11-01", "2015-06-30", None]),
        }
    )
    table = time_in_care(episodes, as_of="2021-01-01")
    assert table["placement_type"].tolist() == ["institution", "foster"]
    assert isinstance(table["placement_type"].dtype, pd.CategoricalDtype)
    assert table["n"].tolist() == [3, 2]
    assert table.columns.tolist() == [
        "placement_type",
        "n",
        "events",
        "censored",
        "median",
        "median_ci_low",
        "median_ci_high",
        "q25",
        "q25_ci_low",
        "q25_ci_high",
        "q75",
        "q75_ci_low",
        "q75_ci_high",
        "method",
    ]
    yearly = time_in_care(episodes, by=None, as_of="2021-01-01", cohort_freq="YS")
    assert yearly["entry_cohort"].astype(str).tolist() == ["2012", "2013", "2014", "2016", "2019"]
    five = time_in_care(episodes, as_of="2021-01-01", cohort_freq="5YS")
    assert five[["placement_type", "entry_cohort"]].astype(str).values.tolist() == [
        ["institution", "2010-2014"],
        ["institution", "2015-2019"],
        ["foster", "2010-2014"],
        ["foster", "2015-2019"],
    ]
    assert five["n"].tolist() == [2, 1, 1, 1]
    assert time_in_care(episodes, by=[], as_of="2021-01-01")["n"].tolist() == [5]
    with pytest.raises(InputError, match="cohort_freq"):
        time_in_care(episodes, cohort_freq="MS")


def test_default_as_of_is_latest_date_and_late_starts_are_reported():
    """as_of=None takes the latest date in the data (here 2020-06-30, an end
    date): the ongoing episode is censored at 181 days; with an explicit
    earlier as_of the later start is excluded and the method says so."""
    episodes = pd.DataFrame(
        {
            "placement_type": ["cnst", "cnst"],
            "start_date": ["2020-01-01", "2020-03-01"],
            "end_date": [None, "2020-06-30"],
        }
    )
    curves = survival_curves(episodes, unit="days")
    assert curves.attrs["as_of"] == pd.Timestamp("2020-06-30")
    assert curves["time"].max() == 181.0
    table = time_in_care(episodes, as_of="2020-02-01")
    assert table["n"].tolist() == [1]
    assert table.attrs["n_excluded_after_as_of"] == 1
    assert "1 episode(s) starting after that date excluded" in table["method"].iloc[0]
    with pytest.raises(InputError, match="start after as_of"):
        time_in_care(episodes, as_of="2019-01-01")


def test_time_in_care_input_errors():
    """A missing grouping column or a bad confidence level raises InputError."""
    episodes = staggered(KM_DAYS, KM_ENDED)
    with pytest.raises(InputError, match="placement_type"):
        time_in_care(episodes)
    with pytest.raises(InputError, match="confidence"):
        time_in_care(episodes, by=None, confidence=95)
    with pytest.raises(InputError, match="DataFrame"):
        time_in_care([1, 2, 3])


# --------------------------------------------------------------------------- #
# Aalen-Johansen
# --------------------------------------------------------------------------- #
AJ_DAYS = [2, 3, 4, 5, 6, 7, 8, 10]
AJ_ENDED = [True, False, True, True, False, True, True, False]
AJ_REASONS = ["reunified", None, "adopted", "reunified", None, "foster", "reunified", None]
AJ_ORDER = ["reunified", "adopted", "foster"]  # canonical order of EXIT_REASONS


def test_aalen_johansen_hand_worked():
    """Eight episodes (days, + = censored): 2 reunified, 3+, 4 adopted,
    5 reunified, 6+, 7 foster, 8 reunified, 10+.

    By hand, F_k(t) = sum S(t_j-) d_kj / n_j:

    ====  ===  =========  ======  ==========================
    t     n    reason     S(t-)   increment
    ====  ===  =========  ======  ==========================
    2     8    reunified  1       1/8
    4     6    adopted    7/8     7/8 * 1/6 = 7/48
    5     5    reunified  35/48   35/48 * 1/5 = 7/48
    7     3    foster     7/12    7/12 * 1/3 = 7/36
    8     2    reunified  7/18    7/18 * 1/2 = 7/36
    ====  ===  =========  ======  ==========================

    At 6 days: reunified 1/8 + 7/48 = 13/48, adopted 7/48, foster 0; sum
    20/48 = 1 - S(6) = 1 - 7/12. At 10 days (the last time observed, censored): reunified 13/48 + 7/36 = 67/144,
    adopted 21/144, foster 28/144; sum 116/144 = 1 - S(10) = 1 - 7/36.
    Naive 1 - KM for reunification (other exits censored): 1 - 7/8 * 4/5 *
    1/2 = 0.65 > 67/144 = 0.465, the overstatement the Notes describe. Beyond 10 days nobody is
    under observation and the estimate is NaN (tested below).
    """
    episodes = staggered(AJ_DAYS, AJ_ENDED, AJ_REASONS)
    table = exit_pathways(episodes, by=None, as_of="2030-01-01", horizons=[6, 10], unit="days")
    got = table.set_index(["reason", "horizon"])["cumulative_incidence"]
    expected = {
        ("reunified", 6.0): 13 / 48,
        ("adopted", 6.0): 7 / 48,
        ("foster", 6.0): 0.0,
        ("reunified", 10.0): 67 / 144,
        ("adopted", 10.0): 21 / 144,
        ("foster", 10.0): 28 / 144,
    }
    assert list(got.index) == sorted(expected, key=lambda k: (AJ_ORDER.index(k[0]), k[1]))
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key
    events = table.set_index(["reason", "horizon"])["events"]
    assert events[("reunified", 10.0)] == 3 and events[("reunified", 6.0)] == 2
    assert (table["n"] == 8).all()
    # no event yet: the interval is [0, NaN]
    foster6 = table[(table["reason"] == "foster") & (table["horizon"] == 6.0)].iloc[0]
    assert foster6["ci_low"] == 0.0 and math.isnan(foster6["ci_high"])
    # naive 1 - KM overstates it
    data = durations(episodes, "2030-01-01", unit="days")
    naive = KaplanMeierFitter().fit(
        data["duration"], (data["exit_reason"] == "reunified") & (data["event"] == 1)
    )
    assert 1 - naive.predict(10.0) == pytest.approx(0.65)
    assert got[("reunified", 10.0)] < 0.65


@pytest.mark.parametrize("seed", range(4))
def test_cif_sums_to_one_minus_km_and_is_below_naive(seed):
    """Additivity and the competing-risks bound, with ties and censoring.

    Reference: lifelines ``KaplanMeierFitter``. At every horizon, the sum of
    the cumulative incidences over all reasons equals 1 - KM (all causes),
    and each reason's CIF is at most 1 - KM with the other reasons treated
    as censored. Durations are whole days (many ties), entry is staggered.
    """
    rng = np.random.default_rng(seed)
    n = 300
    episodes = random_episodes(rng, n, 400)
    episodes["placement_type"] = rng.choice(["foster", "institution"], n)
    episodes["exit_reason"] = rng.choice(
        ["reunified", "adopted", "foster", "kinship", "aged_out"], n, p=[0.4, 0.1, 0.2, 0.2, 0.1]
    )
    as_of, horizons = "2024-06-30", (0.0, 3.0, 6.0, 12.0, 24.0, 36.0)
    table = exit_pathways(episodes, as_of=as_of, horizons=horizons)
    data = durations(episodes, as_of)
    for placement, part in data.groupby("placement_type"):
        km = KaplanMeierFitter().fit(part["duration"], part["event"])
        mine = table[table["placement_type"] == placement]
        total = mine.groupby("horizon")["cumulative_incidence"].sum()
        for h in horizons:
            assert total[h] == pytest.approx(1 - km.predict(h), abs=1e-12), (placement, h)
        for reason, rows in mine.groupby("reason"):
            hit = (part["event"] == 1) & (part["exit_reason"] == reason)
            naive = KaplanMeierFitter().fit(part["duration"], hit)
            for _, row in rows.iterrows():
                bound = 1 - naive.predict(row["horizon"])
                assert row["cumulative_incidence"] <= bound + 1e-12, (placement, reason)


def test_aalen_johansen_matches_lifelines_without_ties():
    """Point estimate and CI vs lifelines ``AalenJohansenFitter`` (with
    ``calculate_variance=True``) on continuous times, so lifelines does not
    jitter. lifelines' two CI columns are labelled the wrong way round, so the
    bounds are compared after sorting.
    """
    rng = np.random.default_rng(7)
    n = 120
    start = DAY0 + pd.to_timedelta(rng.uniform(0, 1000, n) * 86400, unit="s")
    end = start + pd.to_timedelta(rng.exponential(300, n) * 86400, unit="s")
    codes = {"reunified": 1, "adopted": 2, "foster": 3}
    episodes = pd.DataFrame(
        {"start_date": start, "end_date": end, "exit_reason": rng.choice(list(codes), n)}
    )
    as_of = DAY0 + pd.Timedelta(days=1000)
    horizons = [50.0, 200.0, 500.0]
    table = exit_pathways(episodes, by=None, as_of=as_of, horizons=horizons, unit="days")
    data = durations(episodes, as_of, unit="days")
    assert 0.2 < 1 - data["event"].mean() < 0.5
    cause = np.where(data["event"] == 1, data["exit_reason"].map(codes), 0)
    for reason, code in codes.items():
        aj = AalenJohansenFitter(calculate_variance=True).fit(
            data["duration"], cause, event_of_interest=code
        )
        cif = aj.cumulative_density_.iloc[:, 0]
        for h in horizons:
            t = cif.index[cif.index <= h][-1]
            row = table[(table["reason"] == reason) & (table["horizon"] == h)].iloc[0]
            assert row["cumulative_incidence"] == pytest.approx(cif.loc[t], abs=1e-12)
            bounds = np.sort(aj.confidence_interval_.loc[t].to_numpy(float))
            np.testing.assert_allclose([row["ci_low"], row["ci_high"]], bounds, rtol=1e-9)


def test_cif_variance_is_binomial_without_censoring():
    """Without censoring the Aalen-Johansen estimate is the share of episodes
    that ended for the reason by t, and the delta-method variance reduces to
    the binomial F(1 - F) / n (closed-form reference); the CI is that
    variance on the log(-log F) scale: F^exp(+-z se / (F |log F|)).
    """
    rng = np.random.default_rng(3)
    n = 200
    days = rng.integers(1, 40, n)
    reasons = rng.choice(["reunified", "adopted", "cnst"], n)
    episodes = staggered(days, [True] * n, reasons)
    table = exit_pathways(episodes, by=None, as_of="2030-01-01", horizons=[10, 25], unit="days")
    for _, row in table.iterrows():
        f = np.mean((days <= row["horizon"]) & (reasons == row["reason"]))
        assert row["cumulative_incidence"] == pytest.approx(f)
        c = Z95 * math.sqrt(f * (1 - f) / n) / (f * abs(math.log(f)))
        assert row["ci_low"] == pytest.approx(f ** math.exp(c))
        assert row["ci_high"] == pytest.approx(f ** math.exp(-c))


def test_planted_competing_exits_are_recovered():
    """Planted effect: constant cause-specific hazards, reunification 0.04 and
    transfer to foster care 0.02 per month, so F_k(t) = lambda_k / lambda *
    (1 - exp(-lambda t)), lambda = 0.06. 4000 episodes with staggered entry
    (censoring). Estimates within 0.02 of the truth and 95% CIs covering it.
    """
    rng = np.random.default_rng(11)
    n, hazards = 4000, {"reunified": 0.04, "foster": 0.02}
    total = sum(hazards.values())
    start = pd.Timestamp("2016-01-01") + pd.to_timedelta(rng.integers(0, 8 * 365, n), unit="D")
    months = rng.exponential(1 / total, n)
    reason = rng.choice(list(hazards), n, p=[h / total for h in hazards.values()])
    episodes = pd.DataFrame(
        {
            "start_date": start,
            "end_date": start + pd.to_timedelta(np.round(months * 30.4375), unit="D"),
            "exit_reason": reason,
        }
    )
    table = exit_pathways(episodes, by=None, as_of="2024-01-01", horizons=(6, 12, 24))
    assert set(table["reason"]) == set(hazards)
    for _, row in table.iterrows():
        truth = hazards[row["reason"]] / total * (1 - math.exp(-total * row["horizon"]))
        assert row["cumulative_incidence"] == pytest.approx(truth, abs=0.02)
        assert row["ci_low"] <= truth <= row["ci_high"]


def test_exit_pathways_reasons_unknown_and_beyond_follow_up():
    """Hand-checked edge cases on four episodes (days): 10 reunified, 20
    with no reason recorded (-> "unknown"), 30 ongoing but with a reason
    (ignored: censored), 40 aged_out.

    * reasons=None lists reunified, aged_out, unknown (canonical order, unknown last);
    * at 35 days aged_out is 0 and at 40 it is S(40-) * 1/1 = 3/4 * 2/3 = 1/2;
    * a horizon of 50 days lies beyond follow-up for a group whose last time
      is censored -> NaN; here the last time is an exit (S = 0), so it stays
      defined; with the ongoing episode as the last time it is NaN.
    """
    episodes = staggered(
        [10, 20, 30, 40], [True, True, False, True], ["reunified", None, "aged_out", "aged_out"]
    )
    table = exit_pathways(episodes, by=None, as_of="2030-01-01", horizons=[35, 40, 50], unit="days")
    assert table["reason"].unique().tolist() == ["reunified", "aged_out", UNKNOWN_REASON]
    ci = table.set_index(["reason", "horizon"])["cumulative_incidence"]
    assert ci[("aged_out", 35.0)] == 0.0
    assert ci[("aged_out", 40.0)] == pytest.approx(0.5)
    assert ci[("aged_out", 50.0)] == pytest.approx(0.5)
    assert ci[(UNKNOWN_REASON, 40.0)] == pytest.approx(0.25)

    censored_last = staggered([10, 20, 30], [True, True, False], ["reunified", "adopted", None])
    out = exit_pathways(censored_last, by=None, as_of="2030-01-01", horizons=[30, 31], unit="days")
    at = out.set_index(["reason", "horizon"])["cumulative_incidence"]
    assert at[("reunified", 30.0)] == pytest.approx(1 / 3)
    assert math.isnan(at[("reunified", 31.0)])

    only = exit_pathways(episodes, by=None, as_of="2030-01-01", reasons=["adopted"], unit="days")
    assert only["reason"].unique().tolist() == ["adopted"]
    assert (only["cumulative_incidence"] == 0).all()
    with pytest.raises(InputError, match="exit reason"):
        exit_pathways(episodes, by=None, reasons=["eloped"])
    with pytest.raises(InputError, match="horizons"):
        exit_pathways(episodes, by=None, horizons=[-1])
    with pytest.raises(InputError, match="exit_reason"):
        exit_pathways(episodes.drop(columns="exit_reason"), by=None)


# --------------------------------------------------------------------------- #
# Curves and plot
# --------------------------------------------------------------------------- #
def test_survival_curves_and_plot():
    """Tidy curves per group (time 0 first, survival 1), and a step plot with
    one colour per group from ``palette`` and Bulgarian axis labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    foster = staggered(KM_DAYS, KM_ENDED, placement_type="foster")
    cnst = staggered([15, 25, 35], [True, True, False], placement_type="cnst")
    episodes = pd.concat([foster, cnst], ignore_index=True)
    curves = survival_curves(episodes, as_of="2030-01-01", unit="days")
    assert curves.columns.tolist() == [
        "placement_type",
        "time",
        "survival",
        "ci_low",
        "ci_high",
        "at_risk",
    ]
    first = curves.groupby("placement_type").first()
    assert (first["time"] == 0).all() and (first["survival"] == 1).all()
    assert first.loc["cnst", "at_risk"] == 3

    palette = {"foster": "#1b9e77", "cnst": "#d95f02"}
    labels = {
        "x": "Време от настаняването (дни)",
        "y": "Дял все още в услугата",
        "title": "Престой",
        "groups": {"cnst": "ЦНСТ", "foster": "Приемна грижа"},
    }
    ax = plot_time_in_care(curves, palette=palette, labels=labels)
    assert ax.get_xlabel() == labels["x"] and ax.get_ylabel() == labels["y"]
    assert ax.get_title() == "Престой"
    lines = {line.get_label(): line.get_color() for line in ax.get_lines()}
    assert lines == {"ЦНСТ": "#d95f02", "Приемна грижа": "#1b9e77"}
    plt.close(ax.figure)
    with pytest.raises(InputError, match="survival_curves"):
        plot_time_in_care(curves.drop(columns="at_risk"))


# --------------------------------------------------------------------------- left truncation, spells


def _register(seed: int = 11, n: int = 6000) -> pd.DataFrame:
    """Planted truth: exponential stays with median 24 months, starts 2000-2024."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2000-01-01") + pd.to_timedelta(rng.uniform(0, 25 * 365.25, n), "D")
    months = rng.exponential(24 / np.log(2), n)
    end = start + pd.to_timedelta(months * 30.4375, "D")
    reason = np.where(rng.uniform(size=n) < 0.5, "reunified", "adopted")
    return pd.DataFrame(
        {
            "child_id": [f"c{i}" for i in range(n)],
            "placement_type": "foster",
            "start_date": start,
            "end_date": end.where(end <= pd.Timestamp("2025-01-01")),
            "exit_reason": pd.Series(reason).where(end <= pd.Timestamp("2025-01-01")),
        }
    )


def test_left_truncation_recovers_the_planted_median() -> None:
    """An extract from 2015 sees only stays still open then: long stays are over-represented.

    With delayed entry (lifelines entry=) the median is the planted 24 months;
    ignoring the truncation overstates it.
    """
    extract = left_truncate(_register(), "2015-01-01")
    assert extract.attrs["n_ended_before_window"] > 0
    truncated = time_in_care(extract, by=None, as_of="2025-01-01")
    naive = time_in_care(extract.drop(columns="observed_from"), by=None, as_of="2025-01-01")
    assert truncated["median_ci_low"].iloc[0] < 24 < truncated["median_ci_high"].iloc[0]
    assert naive["median"].iloc[0] > 27


def test_competing_risks_with_delayed_entry() -> None:
    """Planted truth: half the exits are reunifications; by 24 months 50% have left, 25% reunified."""
    extract = left_truncate(_register(12), "2015-01-01")
    table = exit_pathways(extract, by=None, as_of="2025-01-01", horizons=(24,))
    row = table.set_index("reason").loc["reunified"]
    assert row["ci_low"] < 0.25 < row["ci_high"]


def test_join_spells_joins_same_type_transfers_only() -> None:
    episodes = pd.DataFrame(
        {
            "child_id": ["a", "a", "a", "b", "b"],
            "placement_type": ["foster", "foster", "institution", "cnst", "cnst"],
            "start_date": pd.to_datetime(
                ["2020-01-01", "2020-06-10", "2021-01-01", "2019-01-01", "2020-01-01"]
            ),
            "end_date": pd.to_datetime(
                ["2020-06-01", "2020-12-01", None, "2019-03-01", "2020-05-01"]
            ),
            "exit_reason": ["foster", "cnst", None, "reunified", "aged_out"],
        }
    )
    spells = join_spells(episodes)
    assert spells["n_episodes"].tolist() == [2, 1, 1, 1]  # b's gap is 10 months: new spell
    first = spells.iloc[0]
    assert first["end_date"] == pd.Timestamp("2020-12-01") and first["exit_reason"] == "cnst"


def test_observation_start_finds_a_truncated_extract_and_leaves_full_histories() -> None:
    """Planted: an extract from 2015-01-01 of the register; the full register starts in 2000."""
    register = _register()
    extract = left_truncate(register, "2015-01-01").drop(columns="observed_from")
    found = observation_start(extract)
    assert found is not None
    assert pd.Timestamp("2015-01-01") <= found < pd.Timestamp("2015-02-01")
    assert observation_start(register) is None  # complete from its first start
    # the detected window gives the planted median back, like the true one
    table = time_in_care(left_truncate(extract, found), by=None, as_of="2025-01-01")
    assert table["median_ci_low"].iloc[0] < 24 < table["median_ci_high"].iloc[0]


def test_first_spells_make_the_child_the_unit() -> None:
    """Planted: every child has a 6-month foster stay; every other child comes back for 60 months.

    Per spell the returners' second stays count again (a third of the spells last 60
    months, so the 75th percentile is 60); per child (first spell) n is the number of
    children and every quantile is 6 months.
    """
    rng = np.random.default_rng(3)
    rows = []
    for i in range(400):
        start = pd.Timestamp("2015-01-01") + pd.Timedelta(days=int(rng.integers(0, 365)))
        end = start + pd.Timedelta(days=round(6 * 30.4375))
        rows.append((f"c{i}", "foster", start, end, "reunified"))
        if i % 2 == 0:
            again = end + pd.Timedelta(days=365)
            rows.append(
                (f"c{i}", "foster", again, again + pd.Timedelta(days=round(60 * 30.4375)), "other")
            )
    spells = pd.DataFrame(
        rows, columns=["child_id", "placement_type", "start_date", "end_date", "exit_reason"]
    )
    first = first_spells(join_spells(spells))
    assert len(first) == 400 and first.attrs["n_later_spells"] == 200
    per_child = time_in_care(first, as_of="2025-01-01")
    assert per_child["n"].iloc[0] == 400
    assert per_child["q75"].iloc[0] == pytest.approx(6, abs=0.1)
    per_spell = time_in_care(spells, as_of="2025-01-01")
    assert per_spell["n"].iloc[0] == 600
    assert per_spell["q75"].iloc[0] == pytest.approx(60, abs=0.1)
