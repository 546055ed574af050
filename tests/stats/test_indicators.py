"""Formal-care indicators: hand-worked episodes, interval formulas, the demo data.

References used (independent of research_lib.stats.indicators):

* the HAND episodes below, counted by hand (the working is in the comments);
* Garwood limits written out with scipy.stats.chi2, Clopper-Pearson / Wilson from
  statsmodels.stats.proportion.proportion_confint and closed forms of the beta
  quantiles for tiny counts;
* on the demo data, research_lib.stats.series.episodes_to_series (stocks) and plain
  pandas counts (entries, exits).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from research_lib.demo.episodes import make_episodes, make_population
from research_lib.errors import InputError
from research_lib.io.episodes import validate_episodes
from research_lib.stats.indicators import (
    INDICATOR_COLUMNS,
    care_indicators,
    clopper_pearson_ci,
    entry_kinds,
    poisson_ratio_ci,
    wilson_ci,
)
from research_lib.stats.series import episodes_to_series

NAT = None


def ep(child, oblast, kind, start, end=NAT, reason=None, birth=NAT, age=None):
    return {
        "child_id": child,
        "oblast": oblast,
        "placement_type": kind,
        "start_date": start,
        "end_date": end,
        "exit_reason": reason,
        "birth_date": birth,
        "age_at_start": age,
    }


# Nine children (two oblasts), counted by hand for 2020 and 2021.
HAND_ROWS = [
    # A: institution at 1 (0-3), same-day transfer to foster (not an entry).
    ep("A", "BG311", "institution", "2020-03-01", "2021-05-10", "foster", birth="2018-06-15"),
    ep("A", "BG311", "foster", "2021-05-10", birth="2018-06-15"),
    # B: kinship at 10, ongoing.
    ep("B", "BG311", "kinship", "2020-07-01", birth="2010-01-01"),
    # C: ЦНСТ since 2019 (entry not in 2020-21), reunified 2021 at 16.
    ep("C", "BG311", "cnst", "2019-09-01", "2021-03-01", "reunified", birth="2005-02-01"),
    # D: age only (15 at start); moves ЦНСТ -> ЦНСТ on 31.12.2021 (a move within residential care).
    ep("D", "BG312", "cnst", "2020-11-01", "2021-12-31", "cnst", age=15),
    ep("D", "BG312", "cnst", "2021-12-31", age=16),
    # E: own family (not formal care), then foster the same day: an entry into formal care.
    ep("E", "BG312", "family", "2020-01-01", "2020-06-01", "foster", birth="2019-03-01"),
    ep("E", "BG312", "foster", "2020-06-01", "2021-02-01", "reunified", birth="2019-03-01"),
    # F: institution since 2019, ages out on the 18th birthday in 2021.
    ep("F", "BG312", "institution", "2019-01-01", "2021-04-01", "aged_out", birth="2003-04-01"),
    # G: a young adult placed at 19: not a child, excluded everywhere.
    ep("G", "BG311", "institution", "2020-02-01", birth="2001-01-01"),
    # H: a short institutional stay in 2020 with no recorded exit reason.
    ep("H", "BG311", "institution", "2020-10-01", "2020-10-20", None, birth="2019-01-01"),
    # I: institution at 5, to kinship after a 14-day gap (a transfer, not an entry).
    ep("I", "BG312", "institution", "2020-02-01", "2020-08-01", "kinship", birth="2014-05-05"),
    ep("I", "BG312", "kinship", "2020-08-15", birth="2014-05-05"),
]


def hand_episodes() -> pd.DataFrame:
    frame = pd.DataFrame(HAND_ROWS)
    for column in ("start_date", "end_date", "birth_date"):
        frame[column] = pd.to_datetime(frame[column])
    frame["age_at_start"] = pd.to_numeric(frame["age_at_start"])
    return frame


# 0-17 by band for the two oblasts in 2020; the country only as a 0-17 total;
# nothing for 2021 (-> NaN rates, never estimated).
HAND_POPULATION = pd.DataFrame(
    {
        "oblast": ["BG311"] * 3 + ["BG312"] * 3 + ["all"],
        "year": [2020] * 7,
        "age_band": ["0-3", "4-6", "7-17", "0-3", "4-6", "7-17", "0-17"],
        "population": [1000, 800, 3000, 1000, 1000, 2000, 100_000],
    }
)


def pick(table: pd.DataFrame, indicator: str, year: int, **keys: str) -> pd.Series:
    mask = (table["indicator"] == indicator) & (table["year"] == year)
    for column, level in keys.items():
        mask &= table[column] == level
    rows = table.loc[mask]
    assert len(rows) == 1, (indicator, year, keys)
    return rows.iloc[0]


def garwood(k: int, n: float, per: float = 100_000) -> tuple[float, float]:
    low = stats.chi2.ppf(0.025, 2 * k) / 2 if k else 0.0
    high = stats.chi2.ppf(0.975, 2 * k + 2) / 2
    return low / n * per, high / n * per


@pytest.fixture(scope="module")
def hand() -> pd.DataFrame:
    return care_indicators(hand_episodes(), HAND_POPULATION, years=[2020, 2021])


# ----------------------------------------------------------------------------- hand-worked


def test_layout(hand: pd.DataFrame) -> None:
    assert hand.columns.tolist() == ["year", "oblast", *INDICATOR_COLUMNS]
    assert set(hand["oblast"]) == {"BG311", "BG312", "all"}
    assert hand["indicator"].unique().tolist() == [
        "entries_per_100k",
        "in_care_per_100k",
        "residential_to_family_ratio",
        "exits_residential_to_family",
    ]
    assert len(hand) == 4 * 3 * 2


@pytest.mark.parametrize(
    ("oblast", "year", "count", "population"),
    [
        ("BG311", 2020, 3, 4800),  # A, B, H (G is 19; C entered in 2019)
        ("BG312", 2020, 3, 4000),  # D, E (after own family), I (I's kinship is a transfer)
        ("all", 2020, 6, 100_000),
        ("BG311", 2021, 0, np.nan),  # A's foster placement is a transfer
        ("all", 2021, 0, np.nan),  # D's second ЦНСТ is a transfer
    ],
)
def test_entries_by_hand(hand, oblast, year, count, population) -> None:
    row = pick(hand, "entries_per_100k", year, oblast=oblast)
    assert row["numerator"] == count
    if np.isnan(population):
        assert np.isnan(row["denominator"]) and np.isnan(row["value"])
        assert row["method"].startswith("no denominator")
    else:
        assert row["denominator"] == population
        assert row["value"] == pytest.approx(count / population * 100_000)
        low, high = garwood(count, population)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))


@pytest.mark.parametrize(
    ("oblast", "year", "residential", "family"),
    [
        ("BG311", 2020, 2, 1),  # A, C | B
        ("BG312", 2020, 2, 2),  # D, F | E, I
        ("all", 2020, 4, 3),
        ("BG311", 2021, 0, 2),  # - | A (foster), B
        ("BG312", 2021, 1, 1),  # D (second ЦНСТ from 31.12) | I
        ("all", 2021, 1, 3),
    ],
)
def test_stocks_and_ratio_by_hand(hand, oblast, year, residential, family) -> None:
    in_care = pick(hand, "in_care_per_100k", year, oblast=oblast)
    assert in_care["numerator"] == residential + family
    ratio = pick(hand, "residential_to_family_ratio", year, oblast=oblast)
    assert (ratio["numerator"], ratio["denominator"]) == (residential, family)
    assert ratio["value"] == pytest.approx(residential / family)


def test_in_care_rate_by_hand(hand) -> None:
    row = pick(hand, "in_care_per_100k", 2020, oblast="BG312")
    assert row["value"] == pytest.approx(4 / 4000 * 100_000)  # 100 per 100,000
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(garwood(4, 4000))


def test_ratio_ci_by_hand(hand) -> None:
    """r = 2, f = 1: p = r/(r+f) ~ Beta; Beta(2,2) and Beta(3,1) quantiles in closed form."""
    row = pick(hand, "residential_to_family_ratio", 2020, oblast="BG311")
    # Beta(2, 2): F(p) = 3p^2 - 2p^3 = 0.025; Beta(3, 1): F(p) = p^3 = 0.975.
    from scipy.optimize import brentq

    p_low = brentq(lambda p: 3 * p**2 - 2 * p**3 - 0.025, 1e-9, 0.5)
    p_high = 0.975 ** (1 / 3)
    assert row["ci_low"] == pytest.approx(p_low / (1 - p_low), rel=1e-6)
    assert row["ci_high"] == pytest.approx(p_high / (1 - p_high), rel=1e-6)
    assert row["ci_high"] == pytest.approx(118.0, abs=0.1)


def test_ratio_ci_national_vs_statsmodels(hand) -> None:
    row = pick(hand, "residential_to_family_ratio", 2020, oblast="all")
    low, high = proportion_confint(4, 7, alpha=0.05, method="beta")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low / (1 - low), high / (1 - high)))


@pytest.mark.parametrize(
    ("oblast", "year", "to_family", "counted", "unknown"),
    [
        ("BG311", 2020, 0, 0, 1),  # H: no reason -> left out
        ("BG312", 2020, 1, 1, 0),  # I -> kinship
        ("BG311", 2021, 2, 2, 0),  # A -> foster, C -> reunified
        ("BG312", 2021, 0, 1, 0),  # F aged out; D's move to a ЦНСТ is not an exit
        ("all", 2021, 2, 3, 0),
    ],
)
def test_exits_by_hand(hand, oblast, year, to_family, counted, unknown) -> None:
    row = pick(hand, "exits_residential_to_family", year, oblast=oblast)
    assert (row["numerator"], row["denominator"]) == (to_family, counted)
    assert ("no recorded reason" in row["method"]) == bool(unknown)
    if counted:
        low, high = proportion_confint(to_family, counted, alpha=0.05, method="wilson")
        assert row["value"] == pytest.approx(to_family / counted)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
    else:
        assert np.isnan(row["value"])


def test_age_bands_by_hand() -> None:
    table = care_indicators(
        hand_episodes(), HAND_POPULATION, years=[2020, 2021], by=("oblast", "age_band")
    )
    assert set(table["age_band"]) == {"0-3", "4-6", "7-17", "0-17"}
    # entries 2020 by age at entry: A (1), E (1), H (1) | I (5) | B (10), D (15)
    for band, count in {"0-3": 3, "4-6": 1, "7-17": 2, "0-17": 6}.items():
        assert (
            pick(table, "entries_per_100k", 2020, oblast="all", age_band=band)["numerator"] == count
        )
    # 31.12.2020 by age then: A (2), E (1) | I (6) | B (10), C (15), D (15), F (17)
    expected = {"0-3": (1, 1), "4-6": (0, 1), "7-17": (3, 1)}
    for band, (residential, family) in expected.items():
        row = pick(table, "residential_to_family_ratio", 2020, oblast="all", age_band=band)
        assert (row["numerator"], row["denominator"]) == (residential, family)
    # 31.12.2021: A is 3 (0-3, foster); I turned 7 (7-17)
    row = pick(table, "residential_to_family_ratio", 2021, oblast="all", age_band="0-3")
    assert (row["numerator"], row["denominator"]) == (0, 1)
    # exits 2021 by age on the last day: A 2 (0-3); C 16, F 17 (7-17, F leaves on the 18th birthday)
    row = pick(table, "exits_residential_to_family", 2021, oblast="all", age_band="7-17")
    assert (row["numerator"], row["denominator"]) == (1, 2)
    # band rates use the band's population: BG311 2020 entries 0-3 = A, H of 1000 children
    row = pick(table, "entries_per_100k", 2020, oblast="BG311", age_band="0-3")
    assert row["value"] == pytest.approx(200.0)
    # the country is only given for 0-17: national band rates stay NaN (never estimated)
    assert np.isnan(pick(table, "in_care_per_100k", 2020, oblast="all", age_band="0-3")["value"])


def test_national_only_matches_all_rows(hand) -> None:
    national = care_indicators(hand_episodes(), HAND_POPULATION, years=[2020, 2021], by=())
    assert "oblast" not in national.columns
    expected = hand.loc[hand["oblast"] == "all"].drop(columns="oblast").reset_index(drop=True)
    pd.testing.assert_frame_equal(national, expected)


def test_no_population_gives_nan_rates_never_estimates() -> None:
    table = care_indicators(hand_episodes(), None, years=[2020])
    rates = table["indicator"].str.endswith("_per_100k")
    assert table.loc[rates, "value"].isna().all()
    assert table.loc[rates, "method"].str.startswith("no denominator").all()
    assert table.loc[~rates, "value"].notna().any()


def test_transfer_days_zero_makes_gap_a_re_entry_not_an_entry() -> None:
    """I's kinship placement 14 days after leaving an institution: a transfer by default,
    a re-entry with ``transfer_days=0``; a first entry either way it is not (hand count)."""
    default = care_indicators(hand_episodes(), None, years=[2020])
    table = care_indicators(hand_episodes(), None, years=[2020], transfer_days=0)
    assert pick(table, "entries_per_100k", 2020, oblast="BG312")["numerator"] == 3
    assert default.attrs["other_starts"].iloc[0][["re_entries", "transfers"]].tolist() == [0, 1]
    assert table.attrs["other_starts"].iloc[0][["re_entries", "transfers"]].tolist() == [1, 0]


def test_loadresult_from_validation_gives_the_same(hand) -> None:
    raw = pd.DataFrame(HAND_ROWS).astype(object).where(lambda f: f.notna(), "")
    result = validate_episodes(raw, as_of="2025-12-31")
    assert result.n_valid == len(HAND_ROWS)
    table = care_indicators(result, HAND_POPULATION, years=[2020, 2021])
    pd.testing.assert_frame_equal(table, hand)


def test_per_changes_scale_and_name() -> None:
    table = care_indicators(hand_episodes(), HAND_POPULATION, years=[2020], per=1000)
    row = pick(table, "entries_per_1k", 2020, oblast="BG311")
    assert row["value"] == pytest.approx(3 / 4800 * 1000)


def test_sex_requires_column_and_population_by_sex() -> None:
    with pytest.raises(InputError, match="sex"):
        care_indicators(hand_episodes(), None, by=("oblast", "sex"))
    episodes = hand_episodes().assign(sex=lambda f: np.where(f["child_id"] < "E", "f", "m"))
    table = care_indicators(episodes, HAND_POPULATION, years=[2020], by=("sex",))
    row = pick(table, "in_care_per_100k", 2020, sex="f")  # A, B, C, D
    assert row["numerator"] == 4 and np.isnan(row["value"])
    assert "not by sex" in row["method"]
    assert pick(table, "in_care_per_100k", 2020, sex="all")["numerator"] == 7


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="by="):
        care_indicators(hand_episodes(), None, by=("region",))
    with pytest.raises(InputError, match="lack"):
        care_indicators(hand_episodes().drop(columns="exit_reason"), None)
    with pytest.raises(InputError, match="confidence"):
        care_indicators(hand_episodes(), None, confidence=95)


# ----------------------------------------------------------------------------- intervals


def test_wilson_and_clopper_pearson_vs_statsmodels() -> None:
    k = np.array([0, 1, 3, 7, 50, 100])
    n = np.array([10, 10, 10, 7, 120, 100])
    for level in (0.9, 0.95):
        _, low, high = wilson_ci(k, n, level)
        ref = proportion_confint(k, n, alpha=1 - level, method="wilson")
        np.testing.assert_allclose(low, ref[0], atol=1e-12)
        np.testing.assert_allclose(high, ref[1], atol=1e-12)
        _, low, high = clopper_pearson_ci(k, n, level)
        ref = proportion_confint(k, n, alpha=1 - level, method="beta")
        np.testing.assert_allclose(low, np.nan_to_num(ref[0]), atol=1e-12)
        np.testing.assert_allclose(high, np.nan_to_num(ref[1], nan=1.0), atol=1e-12)


def test_poisson_ratio_edges() -> None:
    ratio, low, high = poisson_ratio_ci([0, 5, 0], [5, 0, 0])
    assert ratio[0] == 0 and low[0] == 0 and np.isfinite(high[0])
    assert np.isnan(ratio[1]) and np.isinf(high[1]) and low[1] > 0
    assert np.isnan(ratio[2]) and np.isnan(low[2]) and np.isnan(high[2])


def test_poisson_ratio_close_to_score_interval_for_large_counts() -> None:
    from statsmodels.stats.rates import confint_poisson_2indep

    ratio, low, high = poisson_ratio_ci(900, 1100)
    ref = confint_poisson_2indep(900, 1, 1100, 1, method="score")
    assert ratio == pytest.approx(900 / 1100)
    assert (low, high) == pytest.approx(ref, rel=0.01)


# ----------------------------------------------------------------------------- demo data


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_episodes(), make_population()


@pytest.fixture(scope="module")
def demo_table(demo) -> pd.DataFrame:
    episodes, population = demo
    return care_indicators(episodes, population, by=("oblast", "age_band"))


def test_demo_stocks_match_episodes_to_series(demo, demo_table) -> None:
    """In the demo every child leaves care at 18, so the stock is episodes_to_series' in_care_end."""
    episodes, _ = demo
    series = episodes_to_series(episodes, by=("oblast", "placement_type"))
    series = series.assign(year=series["period"].dt.year, kind=series["placement_type"].astype(str))
    residential = series[series["kind"].isin(["cnst", "institution"])]
    family = series[series["kind"].isin(["foster", "kinship"])]
    ratio = demo_table[
        (demo_table["indicator"] == "residential_to_family_ratio")
        & (demo_table["age_band"] == "0-17")
        & (demo_table["oblast"] != "all")
    ].set_index(["oblast", "year"])
    r = residential.groupby(["oblast", "year"])["in_care_end"].sum()
    f = family.groupby(["oblast", "year"])["in_care_end"].sum()
    np.testing.assert_array_equal(ratio["numerator"], r.reindex(ratio.index).to_numpy())
    np.testing.assert_array_equal(ratio["denominator"], f.reindex(ratio.index).to_numpy())


def test_demo_entries_and_exits_vs_pandas(demo, demo_table) -> None:
    episodes, _ = demo
    ordered = episodes.sort_values(["child_id", "start_date"])
    formal = ["foster", "kinship", "cnst", "institution"]
    # an entry = a child's earliest formal-care episode (a first entry), under 18 at the start
    start, birth = ordered["start_date"], ordered["birth_date"]
    birthday_passed = (start.dt.month > birth.dt.month) | (
        (start.dt.month == birth.dt.month) & (start.dt.day >= birth.dt.day)
    )
    age = start.dt.year - birth.dt.year - (~birthday_passed).astype(int)
    is_formal = ordered["placement_type"].isin(formal)
    earliest = ~ordered["child_id"].where(is_formal).duplicated() & is_formal
    entry = earliest & (age < 18)
    entries = ordered[entry].groupby(ordered["start_date"].dt.year).size()
    national = demo_table[
        (demo_table["oblast"] == "all") & (demo_table["age_band"] == "0-17")
    ].set_index(["indicator", "year"])
    np.testing.assert_array_equal(
        national.loc["entries_per_100k", "numerator"], entries.reindex(range(2010, 2026))
    )
    residential = episodes[episodes["placement_type"].isin(["cnst", "institution"])]
    ended = residential[residential["end_date"].notna()]
    year = ended["end_date"].dt.year
    to_family = ended["exit_reason"].isin(["reunified", "adopted", "foster", "kinship"])
    counted = ended["exit_reason"] != "cnst"
    exits = national.loc["exits_residential_to_family"]
    np.testing.assert_array_equal(exits["numerator"], to_family.groupby(year).sum())
    np.testing.assert_array_equal(exits["denominator"], counted.groupby(year).sum())


def test_demo_sums_and_trend(demo_table) -> None:
    table = demo_table
    stock = table[table["indicator"] == "in_care_per_100k"]
    by_band = stock[(stock["oblast"] == "all") & (stock["age_band"] != "0-17")]
    total = stock[(stock["oblast"] == "all") & (stock["age_band"] == "0-17")]
    np.testing.assert_array_equal(
        by_band.groupby("year")["numerator"].sum(), total.set_index("year")["numerator"]
    )
    oblasts = stock[(stock["oblast"] != "all") & (stock["age_band"] == "0-17")]
    np.testing.assert_array_equal(
        oblasts.groupby("year")["numerator"].sum(), total.set_index("year")["numerator"]
    )
    # the planted reform: residential / family-based falls from above 1 to below 1
    ratio = table[
        (table["indicator"] == "residential_to_family_ratio")
        & (table["oblast"] == "all")
        & (table["age_band"] == "0-17")
    ].set_index("year")
    assert ratio.loc[2015, "ci_low"] > 1 and ratio.loc[2025, "ci_high"] < 1
    assert ratio.loc[2025, "value"] < ratio.loc[2020, "value"] < ratio.loc[2015, "value"]


# ----------------------------------------------------------------------------- entries vs transfers


def test_entry_kinds_by_hand() -> None:
    """Issue 10: an entry is a child entering care away from the family, not an episode start.

    Hand-classified: a's move from an institution to foster care the day it ended and
    b's move to a ЦНСТ 20 days after a move-out are transfers; c goes home and comes
    back a year later (re-entry); d's own-family placement is not care away from the
    family, so d's later foster placement is d's first entry.
    """
    episodes = pd.DataFrame(
        {
            "child_id": ["a", "a", "b", "b", "c", "c", "d", "d"],
            "placement_type": [
                "institution",
                "foster",
                "foster",
                "cnst",
                "kinship",
                "kinship",
                "family",
                "foster",
            ],
            "start_date": pd.to_datetime(
                [
                    "2020-01-01",
                    "2020-06-01",
                    "2020-01-01",
                    "2020-03-21",
                    "2020-01-01",
                    "2021-06-01",
                    "2020-01-01",
                    "2020-09-01",
                ]
            ),
            "end_date": pd.to_datetime(
                ["2020-06-01", None, "2020-03-01", None, "2020-05-01", None, "2020-08-01", None]
            ),
            "exit_reason": ["foster", None, "cnst", None, "reunified", None, "other", None],
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17],
    )
    kinds = entry_kinds(episodes)
    assert kinds.index.tolist() == episodes.index.tolist()
    assert kinds.tolist() == [
        "first_entry",
        "transfer",
        "first_entry",
        "transfer",
        "first_entry",
        "re_entry",
        "own_family",
        "first_entry",
    ]
    # the first entries are the children ever in formal care (a, b, c, d)
    assert (kinds == "first_entry").sum() == 4
    with pytest.raises(InputError, match="child_id"):
        entry_kinds(episodes.drop(columns="child_id"))


def test_first_entries_on_the_demo_are_children_not_episode_starts(demo, demo_table) -> None:
    """Every child ever in formal care has exactly one first entry; starts over-count them.

    Independent reference: pandas counts of children (each child's earliest formal
    episode) - and the entries indicator, which excludes transfers, agrees for children
    under 18 when no child re-enters care.
    """
    episodes, _ = demo
    kinds = entry_kinds(episodes)
    formal = episodes["placement_type"].isin(["foster", "kinship", "cnst", "institution"])
    assert (kinds == "first_entry").sum() == episodes.loc[formal, "child_id"].nunique()
    assert (kinds == "own_family").sum() == (~formal).sum()
    year = episodes["start_date"].dt.year == 2025
    starts = int(year.sum())
    first = int(((kinds == "first_entry") & year).sum())
    assert first < starts  # transfers and own-family placements are not entries
    assert first + int(((kinds != "first_entry") & year).sum()) == starts
    if (kinds == "re_entry").sum() == 0:
        national = demo_table[
            (demo_table["oblast"] == "all")
            & (demo_table["age_band"] == "0-17")
            & (demo_table["indicator"] == "entries_per_100k")
            & (demo_table["year"] == 2025)
        ]
        adults = (
            (kinds == "first_entry")
            & year
            & ((episodes["start_date"] - episodes["birth_date"]).dt.days / 365.25 >= 18).to_numpy()
        ).sum()
        assert int(national["numerator"].iloc[0]) == first - int(adults)


def test_entries_are_first_entries_by_hand() -> None:
    """Issue 10 item 5: ``entries_per_100k`` counts first entries into care away from the family.

    Independent reference: a hand count of this table. Child p enters foster care in
    2020, goes home and comes back to an institution in 2021 (a re-entry), then moves
    to a ЦНСТ the same day it leaves (a transfer); q enters kinship care in 2021; r
    lived with their own family (not care) before entering foster care in 2021; s
    moves from a ЦНСТ to foster care 10 days after leaving (a transfer). By hand,
    entries: 2020 - p, s (2); 2021 - q, r (2), not p's re-entry. Other starts: 2021 -
    1 re-entry (p), 2 transfers (p's ЦНСТ, s's foster placement).
    """
    rows = [
        ep("p", "BG311", "foster", "2020-02-01", "2020-09-01", "reunified", age=6),
        ep("p", "BG311", "institution", "2021-03-01", "2021-07-01", "cnst", age=7),
        ep("p", "BG311", "cnst", "2021-07-01", age=7),
        ep("q", "BG311", "kinship", "2021-05-01", age=12),
        ep("r", "BG311", "family", "2020-01-01", "2021-01-10", "foster", age=3),
        ep("r", "BG311", "foster", "2021-01-10", age=4),
        ep("s", "BG311", "cnst", "2020-06-01", "2021-04-01", "foster", age=10),
        ep("s", "BG311", "foster", "2021-04-11", age=11),
    ]
    frame = pd.DataFrame(rows)
    for column in ("start_date", "end_date"):
        frame[column] = pd.to_datetime(frame[column])
    frame["age_at_start"] = pd.to_numeric(frame["age_at_start"])
    population = pd.DataFrame(
        {"oblast": "all", "year": [2020, 2021], "age_band": "0-17", "population": [1000, 1000]}
    )
    table = care_indicators(frame, population, years=[2020, 2021], by=())
    rates = table[table["indicator"] == "entries_per_100k"].set_index("year")
    assert rates["numerator"].to_dict() == {2020: 2, 2021: 2}
    assert rates["value"].tolist() == pytest.approx([200.0, 200.0])
    assert "first entries" in rates["method"].iloc[0]
    other = table.attrs["other_starts"].set_index("year")
    assert other.loc[2020].tolist() == [0, 0]
    assert other.loc[2021, "re_entries"] == 1 and other.loc[2021, "transfers"] == 2
    # the same classification as entry_kinds: first entries are the entries
    kinds = entry_kinds(frame)
    year = frame["start_date"].dt.year
    assert ((kinds == "first_entry") & (year == 2021)).sum() == 2
