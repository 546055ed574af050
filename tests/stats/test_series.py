"""Series from episodes, matching the hand-worked example, and rates per 100,000 children."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from research_lib.errors import InputError
from research_lib.io.episodes import entry_age_band
from research_lib.stats.series import add_rates, episodes_to_series
from tests.io.episode_rows import (
    hand_episodes,
    population_table,
)


@pytest.fixture(scope="module")
def hand():
    return hand_episodes()


def test_yearly_series_matches_the_hand_worked_example(hand):
    series = episodes_to_series(hand, freq="YS", by=())
    expected = pd.DataFrame(
        {
            "period": pd.to_datetime(["2017-01-01", "2018-01-01", "2019-01-01", "2020-01-01"]),
            "entries": [1, 1, 3, 1],
            "exits": [0, 0, 2, 2],
            "in_care_end": [1, 2, 3, 2],
        }
    )
    pd.testing.assert_frame_equal(series, expected)


def test_monthly_series_matches_the_hand_worked_example(hand):
    series = episodes_to_series(hand, freq="MS", by=(), start="2019-01-01", end="2019-12-31")
    assert len(series) == 12 and series["period"].iloc[0] == pd.Timestamp("2019-01-01")
    by_month = series.set_index(series["period"].dt.month)
    # Jan: E and B(institution) in care; Feb: B transferred; Mar: A enters; Dec: D in, E out.
    assert by_month.loc[1, ["entries", "exits", "in_care_end"]].tolist() == [0, 0, 2]
    assert by_month.loc[2, ["entries", "exits", "in_care_end"]].tolist() == [1, 1, 2]
    assert by_month.loc[3, ["entries", "exits", "in_care_end"]].tolist() == [1, 0, 3]
    assert by_month.loc[12, ["entries", "exits", "in_care_end"]].tolist() == [1, 1, 3]
    assert series["entries"].sum() == 3 and series["exits"].sum() == 2


def test_quarterly_series_and_stock_identity(hand):
    series = episodes_to_series(hand, freq="QS", by=())
    assert series["period"].dt.month.isin([1, 4, 7, 10]).all()
    change = series["in_care_end"].diff().iloc[1:]
    assert (change == (series["entries"] - series["exits"]).iloc[1:]).all()


def test_series_by_oblast_and_type_is_a_complete_grid_with_zeros(hand):
    series = episodes_to_series(hand, freq="YS")
    assert list(series.columns) == [
        "period",
        "oblast",
        "placement_type",
        "entries",
        "exits",
        "in_care_end",
    ]
    # 4 years x 2 oblasts x 4 types present (family absent) = 32 rows
    assert len(series) == 32
    assert list(series["placement_type"].cat.categories) == [
        "kinship",
        "foster",
        "cnst",
        "institution",
    ]
    cell = series.set_index(["oblast", "placement_type", "period"])
    assert cell.loc[("BG421", "cnst", pd.Timestamp("2019-01-01")), "entries"] == 0
    assert cell.loc[("BG421", "foster", pd.Timestamp("2019-01-01"))].tolist() == [2, 0, 2]
    assert cell.loc[("BG411", "institution", pd.Timestamp("2019-01-01"))].tolist() == [0, 1, 0]
    totals = series.groupby("period")[["entries", "exits", "in_care_end"]].sum()
    assert totals["in_care_end"].tolist() == [1, 2, 3, 2]


def test_series_by_age_band_at_entry(hand):
    assert entry_age_band(hand).tolist() == ["4-6", "0-3", "0-3", "7-17", "7-17", "7-17"]
    series = episodes_to_series(hand, freq="YS", by=("age_band_at_entry",))
    assert list(series["age_band_at_entry"].cat.categories) == ["0-3", "4-6", "7-17"]
    entries = series.pivot(index="period", columns="age_band_at_entry", values="entries")
    assert entries.loc[pd.Timestamp("2019-01-01")].tolist() == [1, 1, 1]


def test_window_counts_earlier_episodes_in_the_stock(hand):
    series = episodes_to_series(hand, freq="YS", by=(), start="2019-06-01", end="2021-12-31")
    assert series["period"].dt.year.tolist() == [2019, 2020, 2021]
    assert series["in_care_end"].tolist() == [3, 2, 2]
    assert series["entries"].tolist() == [3, 1, 0]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"freq": "W"}, "freq='W' is not supported"),
        ({"by": ("sex",)}, "by='sex' is not a column"),
        ({"by": ("exit_reason",)}, "missing values"),
        ({"start": "2020-01-01", "end": "2019-01-01"}, "before start"),
    ],
)
def test_series_arguments_are_checked(hand, kwargs, words):
    with pytest.raises(InputError, match=words):
        episodes_to_series(hand, **kwargs)


def test_add_rates_by_oblast_and_nationally(hand):
    population = population_table()
    series = episodes_to_series(hand, freq="YS")
    rated = add_rates(series, population)
    row = rated.set_index(["oblast", "placement_type", "period"]).loc[
        ("BG421", "foster", pd.Timestamp("2019-01-01"))
    ]
    assert row["population"] == 10_000 and row["entries_rate"] == pytest.approx(20.0)
    low = stats.chi2.ppf(0.025, 4) / 2 / 10_000 * 1e5
    assert row["entries_rate_low"] == pytest.approx(low)
    # years without a denominator: NaN, never estimated
    assert rated.loc[rated["period"].dt.year.isin([2017, 2018]), "entries_rate"].isna().all()
    national = add_rates(episodes_to_series(hand, by=()), population)
    nat_2019 = national.set_index("period").loc[pd.Timestamp("2019-01-01")]
    assert nat_2019["population"] == 280_000
    assert nat_2019["in_care_end_rate"] == pytest.approx(3 / 280_000 * 1e5)


def test_national_sum_needs_all_28_oblasts(hand):
    partial = population_table().iloc[1:]  # one oblast missing in 2019
    national = add_rates(episodes_to_series(hand, by=()), partial).set_index("period")
    assert np.isnan(national.loc[pd.Timestamp("2019-01-01"), "population"])
    assert national.loc[pd.Timestamp("2020-01-01"), "population"] == 280_000


def test_age_band_rates_only_for_entries(hand):
    rows = []
    for band, size in (("0-3", 2_000), ("4-6", 1_500), ("7-17", 6_500)):
        rows.append(population_table(age_band=band, population=size))
    population = pd.concat(rows, ignore_index=True)
    series = episodes_to_series(hand, by=("oblast", "age_band_at_entry"))
    rated = add_rates(series, population).set_index(["oblast", "age_band_at_entry", "period"])
    cell = rated.loc[("BG421", "0-3", pd.Timestamp("2019-01-01"))]
    assert cell["population"] == 2_000 and cell["entries_rate"] == pytest.approx(50.0)
    assert np.isnan(cell["in_care_end_rate"]) and np.isnan(cell["exits_rate"])
    # without an age band, 0-17 is the sum of the three bands
    total = add_rates(episodes_to_series(hand, by=("oblast",)), population)
    assert set(total["population"].dropna()) == {10_000}


def test_rates_need_a_population():
    with pytest.raises(InputError, match="rates need a child-population table"):
        add_rates(pd.DataFrame({"period": [pd.Timestamp("2020-01-01")], "entries": [1]}), None)
    broken = population_table()
    broken.loc[0, "population"] = -5
    with pytest.raises(InputError, match="population must be a positive whole number"):
        add_rates(pd.DataFrame({"period": [pd.Timestamp("2020-01-01")], "entries": [1]}), broken)
