"""The loader core: dates in every accepted spelling, and why a date is refused."""

from __future__ import annotations

import pandas as pd
import pytest

from research_lib.io.loader import parse_dates


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
