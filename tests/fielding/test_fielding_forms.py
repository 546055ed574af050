"""XLSForm, paper questionnaire, data-entry template and age versions.

References: pyxform (the converter KoboToolbox and ODK use) must accept the
generated XLSForm; the data-entry round trip is checked against the same answers
as a plain CSV (tests/test_fielding_kobo.plain_answers); the not-asked rule
against hand-calculated domain scores.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook
from pyxform.xls2xform import convert

from research_lib.fielding.entry import write_entry_template
from research_lib.fielding.paper import paper_html
from research_lib.fielding.xlsform import write_xlsform, xlsform_sheets
from research_lib.io.codebook import parse_codebook
from research_lib.io.form import HELPLINE, build_form
from research_lib.io.surveys import load_responses, validate_responses
from research_lib.paths import SURVEYS_DIR
from research_lib.runner.cli import main
from research_lib.stats.scoring import score_responses
from tests.io.test_kobo import BOOK, plain_answers

RAW = yaml.safe_load((SURVEYS_DIR / "qol-child-v1.yaml").read_text(encoding="utf-8"))


def versioned_book():
    """qol-child-v1 with rel_04/rel_05 asked only at 12-17 and easy-read text on rel_01."""
    raw = copy.deepcopy(RAW)
    for item in raw["items"]:
        if item["id"] in ("rel_04", "rel_05"):
            item["asked_in"] = ["12-17"]
        if item["id"] == "rel_01":
            item["easy_read"] = {"bg": "Има ли възрастен, на когото казваш, когато си тъжен?"}
    return parse_codebook(raw)


# ----------------------------------------------------------------------------- XLSForm


def test_xlsform_converts_with_pyxform(tmp_path):
    path = write_xlsform(BOOK, tmp_path / "form.xlsx", wave="2026")
    warnings: list[str] = []
    xform = convert(str(path), warnings=warnings).xform
    assert 'lang="Български (bg)"' in xform and 'lang="English (en)"' in xform
    assert "<rel_01/>" in xform and "<voice/>" in xform
    assert not [w for w in warnings if "error" in w.lower()]
    workbook = load_workbook(path, read_only=True)
    assert workbook.sheetnames == ["survey", "choices", "settings"]
    header = next(workbook["survey"].iter_rows(values_only=True))
    assert {"label::Български (bg)", "label::English (en)"} <= set(header)


def test_xlsform_content_follows_the_codebook():
    sheets = xlsform_sheets(BOOK, wave="2026")
    survey = sheets["survey"]
    names = [row["name"] for row in survey]
    # assent before any question, helpline in the last note, items in codebook order
    assert names.index("intro") < names.index("assent") < names.index("service_id")
    notes = [row for row in survey if row["type"] == "note"]
    assert HELPLINE in notes[-1]["label::Български (bg)"]
    assert [n for n in names if n in BOOK.item_ids] == BOOK.item_ids
    for name in ("service_id", "placement_type", "oblast", "age", "sex", "wave", "voice"):
        assert name in names
    age = next(row for row in survey if row["name"] == "age")
    assert age["constraint"] == ". >= 8 and . <= 17"
    choices = pd.DataFrame(sheets["choices"])
    freq = choices[choices["list_name"] == "freq5"]
    assert freq["name"].tolist() == ["1", "2", "3", "4", "5", "-8", "-7"]
    assert freq["label::Български (bg)"].tolist()[-2:] == ["Не знам", "Не искам да кажа"]
    assert len(choices[choices["list_name"] == "oblast"]) == 28
    item = next(row for row in survey if row["name"] == "fam_01")
    assert item["relevant"] == "${fam_filter} != '0'"


def test_age_versions_and_easy_read_in_the_form():
    book = versioned_book()
    survey = xlsform_sheets(book)["survey"]
    rel_04 = next(row for row in survey if row["name"] == "rel_04")
    assert rel_04["relevant"] == "(${age} >= 12 and ${age} <= 17)"
    younger = [q.name for s in build_form(book, version="8-11") for q in s.questions]
    assert "rel_04" not in younger and "rel_03" in younger
    easy = xlsform_sheets(book, easy_read=True)["survey"]
    rel_01 = next(row for row in easy if row["name"] == "rel_01")
    assert rel_01["label::Български (bg)"].startswith("Има ли възрастен")
    assert paper_html(book, version="8-11", easy_read=True).count("Има ли възрастен") == 1


def test_not_asked_is_not_missing_in_scoring():
    book = versioned_book()
    answers = plain_answers(2)
    answers["age"] = [9, 14]
    items = ["rel_01", "rel_02", "rel_03", "rel_04", "rel_05"]
    # the 9-year-old was asked 3 items and answered 2 (one "don't know"): 2 >= ceil(0.5*3)
    answers.loc[0, items] = [4, 5, -8, np.nan, np.nan]
    # the 14-year-old was asked 5 and answered 2: 2 < ceil(0.5*5), too few
    answers.loc[1, items] = [4, 5, -8, np.nan, -7]
    result = validate_responses(answers, book)
    assert result.n_rejected == 0
    scores = score_responses(result.valid, book)
    # hand calculation: rel_01 agree4 4 -> 100, rel_02 freq5 5 -> 100
    assert scores.loc["r000", "relationships"] == 100.0
    assert math.isnan(scores.loc["r001", "relationships"])
    # an answer written in a not-asked item is not scored
    answers.loc[0, "rel_05"] = 4  # reverse keyed: would pull the mean down to 66.7
    again = score_responses(validate_responses(answers, book).valid, book)
    assert again.loc["r000", "relationships"] == 100.0
    # without age versions the same answers count rel_04/rel_05 as missing
    plain = score_responses(validate_responses(answers, BOOK).valid, BOOK)
    assert plain.loc["r000", "relationships"] == pytest.approx(200 / 3)


# ----------------------------------------------------------------------------- paper


def test_paper_escapes_and_shows_faces_for_the_youngest(tmp_path):
    raw = copy.deepcopy(RAW)
    raw["items"][0]["text"]["bg"] = "<script>alert(1)</script> & друго"
    book = parse_codebook(raw)
    page = paper_html(book, version="8-11")
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert page.count('class="page"') == 1 + len(book.domains) + 1
    assert "<svg" in page and HELPLINE in page
    assert "Искаш ли да отговориш на въпросите?" in page
    older = paper_html(book, version="12-17")
    assert "<svg" not in older
    # faces only on scales that allow them: contact5 (fam_01) has none
    fam = page.split("Връзка със семейството")[1].split("</section>")[0]
    first_item = fam.split('class="num">6.')[1].split('class="num">7.')[0]
    assert "<svg" not in first_item


# ----------------------------------------------------------------------------- data entry


def _fill(template, answers: pd.DataFrame, path):
    workbook = load_workbook(template)
    sheet = workbook["data"]
    header = [cell.value for cell in sheet[1]]
    for r, row in enumerate(answers.itertuples(index=False), start=2):
        values = row._asdict()
        for c, name in enumerate(header, start=1):
            value = values.get(name)
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            if isinstance(value, float | np.floating | np.integer):
                value = int(value)
            sheet.cell(row=r, column=c, value=value)
    workbook.save(path)
    return header


def test_entry_template_round_trip_and_typo(tmp_path):
    template = write_entry_template(BOOK, tmp_path / "entry.xlsx", wave="2026")
    workbook = load_workbook(template)
    assert workbook.sheetnames[0] == "data" and "codes" in workbook.sheetnames
    sheet = workbook["data"]
    header = [cell.value for cell in sheet[1]]
    assert [h for h in header if h in BOOK.item_ids] == BOOK.item_ids
    validated = {
        str(dv.sqref).split(":")[0].rstrip("0123456789")
        for dv in sheet.data_validations.dataValidation
    }
    coded = [
        i
        for i, h in enumerate(header, 1)
        if h not in ("respondent_id", "service_id", "wave", "voice")
    ]
    from openpyxl.utils import get_column_letter

    assert {get_column_letter(i) for i in coded} <= validated

    answers = plain_answers(25).drop(columns=["assent"])
    plain = tmp_path / "plain.csv"
    answers.to_csv(plain, index=False)
    expected = load_responses(plain, BOOK)
    _fill(template, answers, tmp_path / "filled.xlsx")
    result = load_responses(tmp_path / "filled.xlsx", BOOK)
    assert result.n_rejected == 0, result.summary()
    pd.testing.assert_frame_equal(
        score_responses(result.valid, BOOK), score_responses(expected.valid, BOOK)
    )

    answers.loc[3, "rel_02"] = 55  # a typo: 5 typed twice
    _fill(template, answers, tmp_path / "typo.xlsx")
    result = load_responses(tmp_path / "typo.xlsx", BOOK)
    assert result.n_rejected == 1
    line = result.rejected.iloc[0]
    assert (line["row"], line["column"]) == (5, "rel_02")  # data row 4 = spreadsheet row 5
    assert get_column_letter(header.index("rel_02") + 1) == "I"


# ----------------------------------------------------------------------------- CLI


def test_cli_form_writes_every_kind(tmp_path, capsys):
    codebook = str(SURVEYS_DIR / "qol-child-v1.yaml")
    for kind, name in (("xlsform", "f.xlsx"), ("paper", "p.html"), ("entry", "e.xlsx")):
        assert main(["form", codebook, "--to", kind, str(tmp_path / name)]) == 0
        assert (tmp_path / name).stat().st_size > 1000
    assert (
        main(["form", codebook, "--to", "paper", str(tmp_path / "x.html"), "--version", "7-9"]) == 2
    )
    assert "unknown age version" in capsys.readouterr().err
