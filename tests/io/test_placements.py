"""Placement layer: every rejection reason, the hand-worked series, rates and published counts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest
from scipy import stats

from research_lib.errors import InputError
from research_lib.io.counts import load_counts, validate_counts
from research_lib.io.episodes import entry_age_band, load_episodes, validate_episodes
from research_lib.io.loader import parse_dates
from research_lib.io.oblasts import load_oblasts
from research_lib.io.population import load_population, validate_population
from research_lib.io.vocab import EXIT_REASONS, PLACEMENT_TYPES
from research_lib.stats.intervals import poisson_rate_ci
from research_lib.stats.series import add_rates, episodes_to_series

AS_OF = "2025-12-31"


def episode(**overrides: object) -> dict[str, object]:
    """One valid episode row; override any column."""
    row: dict[str, object] = {
        "child_id": "c1",
        "oblast": "BG421",
        "placement_type": "foster",
        "start_date": "2019-03-10",
        "end_date": "2020-06-30",
        "exit_reason": "reunified",
        "birth_date": "2014-01-01",
        "age_at_start": None,
    }
    row.update(overrides)
    return row


def check(rows: list[dict[str, object]]):
    return validate_episodes(pd.DataFrame(rows), as_of=AS_OF)


def invariant(result) -> None:
    assert len(result.valid) + result.rejected["row"].nunique() == result.n_rows


# Five children, worked by hand (see the expected tables in the tests below).
HAND = [
    episode(
        child_id="A",
        placement_type="foster",
        start_date="2019-03-10",
        end_date="2020-06-30",
        exit_reason="reunified",
    ),
    episode(
        child_id="B",
        placement_type="institution",
        start_date="2018-11-01",
        end_date="2019-02-01",
        exit_reason="foster",
        birth_date="2017-05-01",
    ),
    episode(
        child_id="B",
        placement_type="foster",
        start_date="2019-02-01",
        end_date="",
        exit_reason="",
        birth_date="2017-05-01",
    ),
    episode(
        child_id="C",
        oblast="BG411",
        placement_type="cnst",
        start_date="2020-01-15",
        end_date="",
        exit_reason="",
        birth_date="2008-02-02",
    ),
    episode(
        child_id="D",
        oblast="BG411",
        placement_type="kinship",
        start_date="2019-12-31",
        end_date="2020-12-31",
        exit_reason="aged_out",
        birth_date="2002-12-31",
    ),
    episode(
        child_id="E",
        oblast="BG411",
        placement_type="institution",
        start_date="2017-05-05",
        end_date="2019-12-31",
        exit_reason="reunified",
        birth_date="2010-01-01",
    ),
]


@pytest.fixture(scope="module")
def hand():
    result = check(HAND)
    assert result.n_valid == 6 and result.rejected.empty
    return result.valid


# ----------------------------------------------------------------------------- dates


def test_parse_dates_accepts_iso_bulgarian_and_excel():
    values = pd.Series(
        ["2019-03-01", "01.03.2019", "1.3.2019 г.", "43525", "2019-03-01T00:00:00", None, ""]
    )
    dates, problems = parse_dates(values)
    assert (dates.iloc[:5] == pd.Timestamp("2019-03-01")).all()
    assert dates.iloc[5:].isna().all() and problems.isna().all()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("31.02.2019", "no such date"),
        ("2019-13-01", "no such date"),
        ("03/01/2019", "ambiguous date with slashes"),
        ("2019", "a year, not a date"),
        ("вчера", "not a date"),
        ("99999", "outside the Excel dates"),
        ("01.01.1850", "implausible year"),
    ],
)
def test_parse_dates_says_why(text, words):
    dates, problems = parse_dates(pd.Series([text]))
    assert dates.isna().all() and words in problems.iloc[0]


# ----------------------------------------------------------------------------- episodes


def test_clean_episodes_get_canonical_codes(hand):
    rows = [
        episode(
            child_id="x1",
            oblast="област Пловдив",
            placement_type="Приемна грижа",
            start_date="10.03.2019",
            end_date="30.06.2020 г.",
            exit_reason="върнато в семейството",
        ),
        episode(
            child_id="x2",
            oblast="Sofia City",
            placement_type="ЦНСТ",
            start_date="43525",
            end_date="",
            exit_reason="",
            birth_date="",
            age_at_start=12,
        ),
        episode(
            child_id="x3",
            placement_type="институция",
            exit_reason="осиновяване",
            birth_date="2018-03-11",
        ),
        episode(child_id="x4", exit_reason="навършване на пълнолетие", birth_date="2001-06-30"),
        episode(child_id="x5", end_date="2020-01-01", exit_reason=""),  # end without reason: kept
    ]
    result = check(rows)
    assert result.rejected.empty and result.n_valid == 5
    valid = result.valid
    assert list(valid.index) == [2, 3, 4, 5, 6]
    assert valid["placement_type"].tolist() == ["foster", "cnst", "institution", "foster", "foster"]
    assert list(valid["placement_type"].cat.categories) == list(PLACEMENT_TYPES)
    assert list(valid["exit_reason"].cat.categories) == list(EXIT_REASONS)
    assert valid["exit_reason"].tolist()[:1] == ["reunified"]
    assert valid.loc[4, "exit_reason"] == "adopted" and valid.loc[5, "exit_reason"] == "aged_out"
    assert pd.isna(valid.loc[6, "exit_reason"]) and pd.isna(valid.loc[3, "exit_reason"])
    assert valid["oblast"].tolist()[:2] == ["BG421", "BG411"]
    assert valid.loc[2, "start_date"] == pd.Timestamp("2019-03-10")
    assert valid.loc[3, "start_date"] == pd.Timestamp("2019-03-01")  # Excel day number
    assert pd.isna(valid.loc[3, "end_date"])
    assert valid["start_date"].dtype == "datetime64[ns]"
    # age from the birth date in completed years (2014-01-01 -> 2019-03-10: 5); else as written
    assert valid.loc[2, "age_at_start"] == 5 and valid.loc[3, "age_at_start"] == 12
    assert valid.loc[4, "age_at_start"] == 0  # born 2018-03-11, placed 2019-03-10: not yet 1
    assert valid.loc[5, "age_at_start"] == 17


@pytest.mark.parametrize(
    ("override", "column", "words"),
    [
        ({"child_id": ""}, "child_id", "child_id is empty"),
        ({"placement_type": "сиропиталище"}, "placement_type", "unknown placement type"),
        ({"placement_type": None}, "placement_type", "placement_type is empty"),
        ({"oblast": "Атлантида"}, "oblast", "unknown oblast"),
        ({"oblast": ""}, "oblast", "oblast is empty"),
        ({"start_date": ""}, "start_date", "start_date is empty"),
        ({"start_date": "10/03/2019"}, "start_date", "ambiguous"),
        ({"start_date": "30.02.2019"}, "start_date", "no such date"),
        ({"end_date": "скоро"}, "end_date", "not a date"),
        ({"end_date": "2018-01-01"}, "end_date", "end_date is before start_date (2019-03-10)"),
        ({"exit_reason": "избягал"}, "exit_reason", "unknown exit reason"),
        ({"end_date": "", "exit_reason": "adopted"}, "exit_reason", "end_date is empty"),
        (
            {"start_date": "2026-01-05", "end_date": "", "exit_reason": ""},
            "start_date",
            "start_date is in the future (after 2025-12-31)",
        ),
        ({"end_date": "2026-02-01"}, "end_date", "end_date is in the future"),
        ({"birth_date": "2020-01-01"}, "birth_date", "birth_date is after start_date"),
        (
            {"birth_date": "1990-01-01"},
            "birth_date",
            "the child was 29 at start_date, older than 20",
        ),
        ({"birth_date": "1.1.14"}, "birth_date", "not a date"),
        ({"birth_date": ""}, "birth_date", "neither birth_date nor age_at_start"),
        ({"birth_date": "", "age_at_start": "пет"}, "age_at_start", "not a whole number"),
        ({"birth_date": "", "age_at_start": 4.5}, "age_at_start", "not a whole number"),
        ({"birth_date": "", "age_at_start": 21}, "age_at_start", "outside 0-20"),
        ({"age_at_start": 9}, "age_at_start", "disagrees with birth_date (age 5 at start_date)"),
    ],
)
def test_each_rejection_reason_names_row_column_and_problem(override, column, words):
    rows = [
        episode(child_id="ok1"),
        episode(child_id="ok2"),
        episode(**{"child_id": "bad", **override}),
    ]
    result = check(rows)
    invariant(result)
    assert result.n_valid == 2 and list(result.valid.index) == [2, 3]
    assert result.rejected["row"].unique().tolist() == [4]
    lines = result.rejected[result.rejected["column"] == column]
    assert len(lines) >= 1, result.rejected
    assert any(words in p for p in lines["problem"]), lines["problem"].tolist()


def test_age_within_a_year_of_the_birth_date_is_accepted():
    result = check([episode(age_at_start=6), episode(child_id="c2", age_at_start=4)])
    assert result.n_valid == 2
    assert result.valid["age_at_start"].tolist() == [5, 5]  # computed from birth_date


def test_value_is_reported_as_written():
    result = check([episode(child_id="c1", oblast="Атлантида", placement_type="сиропиталище")])
    assert set(result.rejected["value"]) == {"Атлантида", "сиропиталище"}
    assert result.rejected["row"].tolist() == [2, 2] and result.n_rejected == 1


def test_duplicate_row_is_rejected_even_when_written_differently():
    rows = [
        episode(),
        episode(child_id="c2"),
        episode(start_date="10.03.2019", end_date="30.06.2020", oblast="Пловдив"),
    ]
    result = check(rows)
    invariant(result)
    assert list(result.valid.index) == [2, 3]
    line = result.rejected.iloc[0]
    assert (line["row"], line["column"]) == (4, "*")
    assert "the same episode as row 2" in line["problem"]
    assert len(result.rejected) == 1  # a duplicate is not also reported as an overlap


def test_overlapping_episode_of_the_same_child_is_rejected_naming_the_row():
    rows = [
        episode(child_id="k", start_date="2019-01-01", end_date="2019-06-30", exit_reason="foster"),
        # a transfer on the day the first ends: touching, not overlapping
        episode(child_id="k", start_date="2019-06-30", end_date="", exit_reason=""),
        # starts while the ongoing episode of row 3 goes on
        episode(child_id="k", start_date="2020-02-01", end_date="2020-03-01", exit_reason="other"),
        # another child on the same days: fine
        episode(child_id="m", start_date="2019-02-01", end_date="", exit_reason=""),
        # starts inside the first episode (rows not in time order)
        episode(child_id="k", start_date="2019-03-01", end_date="2019-04-01", exit_reason="other"),
    ]
    result = check(rows)
    invariant(result)
    assert sorted(result.valid.index) == [2, 3, 5]
    rejected = result.rejected.set_index("row")
    assert rejected.loc[4, "column"] == "start_date"
    assert "overlaps the episode in row 3" in rejected.loc[4, "problem"]
    assert "overlaps the episode in row 2" in rejected.loc[6, "problem"]


def test_same_start_day_keeps_the_earlier_row():
    rows = [
        episode(child_id="k", start_date="2019-01-01", end_date="", exit_reason=""),
        episode(child_id="k", start_date="2019-01-01", end_date="2019-02-01", exit_reason="other"),
    ]
    result = check(rows)
    assert list(result.valid.index) == [2]
    assert "overlaps the episode in row 2" in result.rejected["problem"].iloc[0]


def test_required_columns_and_age_columns_raise_input_error():
    frame = pd.DataFrame([episode()])
    with pytest.raises(InputError, match="required column.*placement_type"):
        validate_episodes(frame.drop(columns="placement_type"))
    with pytest.raises(InputError, match="neither birth_date nor age_at_start"):
        validate_episodes(frame.drop(columns=["birth_date", "age_at_start"]))


def test_missing_column_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "episodes.csv"
    pd.DataFrame([episode()]).drop(columns="end_date").to_csv(path, index=False)
    with pytest.raises(InputError, match=r"episodes\.csv: required column\(s\) missing: end_date"):
        load_episodes(path)


def test_windows_1251_semicolon_csv_with_bulgarian_dates_and_a_broken_line(tmp_path):
    header = "child_id;oblast;placement_type;start_date;end_date;exit_reason;birth_date"
    lines = [
        header,
        "д1;Пловдив;приемна грижа;10.03.2019;30.06.2020;реинтеграция;01.01.2014",
        "д2;Варна;ЦНСТ;01.02.2020;;;15.05.2008",
        "д3;Видин;институция;01.02.2020;;;15.05.2008;излишно",  # one field too many
        "д4;Русе;сиропиталище;01.02.2020;;;15.05.2008",
    ]
    path = tmp_path / "episodes.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))
    result = load_episodes(path, as_of=AS_OF)
    invariant(result)
    assert result.n_rows == 4 and list(result.valid.index) == [2, 3]
    assert result.rejected["row"].tolist() == [4, 5]
    assert result.valid["child_id"].tolist() == ["д1", "д2"]
    assert result.valid.loc[2, "end_date"] == pd.Timestamp("2020-06-30")
    assert result.valid.loc[3, "oblast"] == "BG331"


def test_xlsx_with_date_cells_and_excel_day_numbers(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(
        [
            "child_id",
            "oblast",
            "placement_type",
            "start_date",
            "end_date",
            "exit_reason",
            "age_at_start",
        ]
    )
    sheet.append(
        ["e1", "BG411", "foster", dt.date(2019, 3, 1), dt.datetime(2020, 1, 31), "adopted", 2]
    )
    sheet.append(["e2", "София (столица)", "cnst", 43525, None, None, 14])
    sheet.append(["e3", "BG411", "cnst", "01.03.2019", "2019-02-01", "other", 14])
    path = tmp_path / "episodes.xlsx"
    book.save(path)
    result = load_episodes(path, as_of=AS_OF)
    invariant(result)
    assert result.format == "xlsx"
    assert list(result.valid.index) == [2, 3]
    assert (result.valid["start_date"] == pd.Timestamp("2019-03-01")).all()
    assert result.valid.loc[2, "end_date"] == pd.Timestamp("2020-01-31")
    assert result.rejected["row"].tolist() == [4]
    assert "before start_date" in result.rejected["problem"].iloc[0]


# ----------------------------------------------------------------------------- series


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


def test_entry_age_band_edges():
    ages = pd.DataFrame({"age_at_start": [0, 3, 4, 6, 7, 17, 18, 20]})
    assert entry_age_band(ages).tolist() == [
        "0-3",
        "0-3",
        "4-6",
        "4-6",
        "7-17",
        "7-17",
        "18+",
        "18+",
    ]


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


# ----------------------------------------------------------------------------- rates


def test_garwood_interval_matches_the_textbook_value():
    rate, low, high = poisson_rate_ci(10, 100_000)
    assert float(rate) == pytest.approx(10.0)
    assert float(low) == pytest.approx(4.795, abs=5e-4)
    assert float(high) == pytest.approx(18.39, abs=5e-3)


def test_garwood_interval_matches_chi2_by_hand_and_is_vectorised():
    counts = np.array([0, 1, 5, 37, 250])
    population = np.array([12_000, 12_000, 80_000, 150_000, 1_100_000])
    rate, low, high = poisson_rate_ci(counts, population, per=100_000, confidence=0.9)
    hand_low = np.where(counts > 0, stats.chi2.ppf(0.05, 2 * counts) / 2, 0) / population * 1e5
    hand_high = stats.chi2.ppf(0.95, 2 * counts + 2) / 2 / population * 1e5
    np.testing.assert_allclose(rate, counts / population * 1e5)
    np.testing.assert_allclose(low, hand_low)
    np.testing.assert_allclose(high, hand_high)
    assert low[0] == 0 and high[0] == pytest.approx(-np.log(0.05) / 12_000 * 1e5, rel=1e-9)


def test_no_denominator_gives_nan():
    rate, low, high = poisson_rate_ci([3, 3], [np.nan, 0])
    assert np.isnan(rate).all() and np.isnan(low).all() and np.isnan(high).all()


def population_table(**extra) -> pd.DataFrame:
    oblasts = load_oblasts().index
    frame = pd.DataFrame(
        {
            "oblast": list(oblasts) * 2,
            "year": [2019] * 28 + [2020] * 28,
            "population": [10_000] * 56,
        }
    )
    return frame.assign(**extra)


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


def test_load_population_validates_rows(tmp_path):
    path = tmp_path / "child_population.csv"
    pd.DataFrame(
        {
            "oblast": ["Видин", "България", "Атлантида", "Видин", "BG312", "BG313"],
            "year": [2020, 2020, 2020, 2020, "двайсет", 2020],
            "age_band": ["0-17", "0-17", "0-17", "0-17", "0-17", "0-5"],
            "population": [12_000, 1_100_000, 5, 12_000, 9_000, 700],
            "source_title": "test",
        }
    ).to_csv(path, index=False)
    result = load_population(path)
    invariant(result)
    assert list(result.valid.index) == [2, 3]
    assert result.valid["oblast"].tolist() == ["BG311", "all"]
    assert result.valid["population"].dtype == "int64" and "source_title" in result.valid
    problems = dict(zip(result.rejected["row"], result.rejected["problem"], strict=True))
    assert "unknown oblast" in problems[4]
    assert "a second row for this oblast, year and age band (first in row 2)" in problems[5]
    assert "year is not a whole number" in problems[6]
    assert "unknown age band" in problems[7]


def test_population_without_age_band_is_0_17():
    result = validate_population(
        pd.DataFrame({"oblast": ["BG311"], "year": [2020], "population": [5]})
    )
    assert result.valid["age_band"].tolist() == ["0-17"]


# ----------------------------------------------------------------------------- counts


def test_load_counts_with_national_and_oblast_rows(tmp_path):
    path = tmp_path / "counts.csv"
    pd.DataFrame(
        {
            "period": ["2019", "2019", "2019", "2020", "2020"],
            "oblast": ["България", "Видин", "Varna", "all", "BG311"],
            "placement_type": ["институция", "institution", "institution", "foster", "foster"],
            "entries": [812, 30, 40, "", 7],
            "in_care_end": [2100, 95, 120, 2300, 20],
        }
    ).to_csv(path, index=False)
    result = load_counts(path)
    invariant(result)
    assert result.rejected.empty and result.valid.attrs["freq"] == "YS"
    valid = result.valid
    assert list(valid.columns[:5]) == [
        "period",
        "oblast",
        "placement_type",
        "entries",
        "in_care_end",
    ]
    assert valid["oblast"].tolist() == ["all", "BG311", "BG331", "all", "BG311"]
    assert (valid["period"].iloc[:3] == pd.Timestamp("2019-01-01")).all()
    assert pd.isna(valid.loc[5, "entries"]) and valid.loc[5, "in_care_end"] == 2300
    rated = add_rates(valid, population_table())
    assert rated.loc[3, "entries_rate"] == pytest.approx(300.0)  # 30 per 10,000 children
    assert rated.loc[2, "population"] == 280_000  # national = the 28 oblasts
    assert np.isnan(rated.loc[5, "entries_rate"]) and rated.loc[5, "in_care_end_rate"] > 0


def test_counts_months_in_every_accepted_spelling():
    table = pd.DataFrame(
        {
            "period": ["2019-03", "04.2019", "05/2019", "2019-06-01", "01.07.2019"],
            "oblast": "all",
            "placement_type": ["foster", "foster", "foster", "foster", "foster"],
            "exits": [1, 2, 3, 4, 5],
        }
    )
    result = validate_counts(table)
    assert result.rejected.empty and result.valid.attrs["freq"] == "MS"
    assert result.valid["period"].dt.month.tolist() == [3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("override", "column", "words"),
    [
        ({"period": "пролет"}, "period", "not a period"),
        ({"period": "2019-13"}, "period", "not a period"),
        ({"period": "2019-03-15"}, "period", "not the first of a month"),
        ({"reference_date": "31.03.2020"}, "reference_date", "outside the row's period"),
        ({"reference_date": "31/03/2019"}, "reference_date", "ambiguous date"),
        ({"period": ""}, "period", "period is empty"),
        ({"oblast": "Атлантида"}, "oblast", "unknown oblast"),
        ({"placement_type": "сиропиталище"}, "placement_type", "unknown placement type"),
        ({"entries": -1}, "entries", "0 or more"),
        ({"entries": 2.5}, "entries", "whole number"),
        ({"entries": "много"}, "entries", "whole number"),
        ({"entries": "", "exits": ""}, "entries", "no count given"),
        ({"age_band": "0-5"}, "age_band", "unknown or empty age band"),
        ({"oblast": "BG311"}, "*", "a second figure for the same period, reference date, oblast"),
    ],
)
def test_each_count_rejection(override, column, words):
    rows = [
        {
            "period": "2019",
            "oblast": "BG311",
            "placement_type": "foster",
            "age_band": "0-3",
            "entries": 3,
            "exits": 1,
        },
        {
            "period": "2020",
            "oblast": "BG311",
            "placement_type": "foster",
            "age_band": "0-3",
            "entries": 4,
            "exits": 2,
        },
        {
            "period": "2019",
            "oblast": "BG312",
            "placement_type": "foster",
            "age_band": "0-3",
            "entries": 5,
            "exits": 3,
        },
    ]
    rows[2].update(override)
    result = validate_counts(pd.DataFrame(rows))
    invariant(result)
    assert list(result.valid.index) == [2, 3]
    lines = result.rejected[result.rejected["column"] == column]
    assert lines["row"].tolist() == [4]
    assert words in lines["problem"].iloc[0], lines["problem"].tolist()


def test_counts_need_a_count_column():
    with pytest.raises(InputError, match="none of the count columns"):
        validate_counts(
            pd.DataFrame({"period": ["2019"], "oblast": ["all"], "placement_type": ["foster"]})
        )
    with pytest.raises(InputError, match="required column"):
        validate_counts(pd.DataFrame({"period": ["2019"], "entries": [1]}))


def test_counts_from_xlsx_with_month_cells(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["period", "oblast", "placement_type", "in_care_end"])
    sheet.append([dt.datetime(2021, 3, 1), "Пловдив", "cnst", 44])
    sheet.append(["2021-04", "Пловдив", "cnst", 46])
    path = tmp_path / "counts.xlsx"
    book.save(path)
    result = load_counts(path)
    assert result.rejected.empty
    assert result.valid["period"].tolist() == [
        pd.Timestamp("2021-03-01"),
        pd.Timestamp("2021-04-01"),
    ]
    assert result.valid["in_care_end"].tolist() == [44, 46]
