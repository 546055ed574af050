"""Episode records: every rejection reason, canonical codes, files in every format, age bands at entry."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest

from research_lib.errors import InputError
from research_lib.io.episodes import entry_age_band, load_episodes, validate_episodes
from research_lib.io.vocab import EXIT_REASONS, PLACEMENT_TYPES
from tests.io.episode_rows import (
    AS_OF,
    check,
    episode,
    hand_episodes,
    invariant,
)


@pytest.fixture(scope="module")
def hand():
    return hand_episodes()


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
