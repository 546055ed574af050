"""Published counts: every accepted spelling of a period, every rejection reason, and the public
counts files copying their source rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from research_lib.errors import InputError
from research_lib.io.counts import load_counts, validate_counts
from research_lib.stats.series import add_rates
from tests.io.episode_rows import (
    invariant,
    population_table,
)


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


PUBLIC = Path(__file__).resolve().parents[2] / "data" / "public"


@pytest.mark.parametrize(
    "name", ["national_counts.csv", "priemi_me_counts.csv", "dmsgd_counts.csv"]
)
def test_public_counts_copy_their_source_rows(name):
    """Every row of a public counts file is one row of national_care_figures.csv, as published."""
    figures = pd.read_csv(PUBLIC / "national_care_figures.csv", dtype=str, keep_default_na=False)
    counts = pd.read_csv(PUBLIC / name, dtype=str, keep_default_na=False)
    load = load_counts(PUBLIC / name)
    assert load.n_rejected == 0
    for row in counts.to_dict("records"):
        line = int(row["source_row"].split(":")[1])
        source = figures.iloc[line - 2]
        value = next(row[c] for c in ("in_care_end", "entries", "exits") if row.get(c))
        assert value == source["value"], row["source_row"]
        assert row["source_url"] == source["source_url"]
        assert row["quote"] == source["note"]
        assert row["indicator"] == source["indicator"]


def test_foster_families_disagreement_listed():
    figures = pd.read_csv(PUBLIC / "national_care_figures.csv", dtype=str)
    end_2014 = figures[
        (figures["indicator"] == "foster_families_count") & (figures["year"] == "2014")
    ]
    assert sorted(end_2014["value"]) == ["2257", "2322"]
    unicef = figures[
        (figures["indicator"] == "children_in_specialised_institutions")
        & (figures["value"] == "900")
    ]
    assert "towards late 2017" in unicef["reference_date"].iloc[0]
    readme = (PUBLIC / "README.md").read_text(encoding="utf-8")
    assert "2 257" in readme and "5 695" in readme and "towards late 2017" in readme
