"""The policy brief: only published figures, nothing hidden cited, BG and EN render."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from research_lib.demo.survey import write_demo_data
from research_lib.disclosure.suppression import write_published
from research_lib.render.labels import text
from research_lib.studies.brief import evaluate_all, load_catalogue
from research_lib.studies.brief import pipeline as brief
from research_lib.studies.qol import pipeline as qol


@pytest.fixture(scope="module")
def qol_published(tmp_path_factory, qol_codebook):
    folder = tmp_path_factory.mktemp("brief")
    survey = write_demo_data(folder, qol_codebook)["survey"]
    data = qol.prepare(survey, qol_codebook)
    published = qol.published_figures(qol.analyse(data, n_boot=30))
    path = folder / "qol" / "published.csv"
    path.parent.mkdir()
    write_published(published, path)
    return path


def test_items_cite_only_shown_figures(qol_published):
    studies = brief.load_studies({"qol": qol_published, "placements": None})
    evaluation = evaluate_all(load_catalogue(), studies, language="bg")
    items = brief.brief_items(evaluation, studies, "bg")
    assert items, "the demo's planted ЦНСТ and institution gaps trigger recommendations"
    published = studies["qol"]
    hidden = published[published["suppressed"]]
    cited = {k for ev in evaluation.triggered["evidence"] for k in ev.split(";")}
    for _, row in hidden.iterrows():
        assert f"qol:{row['table']}:{row['group']}:{row['measure']}" not in cited
    assert all(item.evidence for item in items)
    grades = [brief.GRADE_ORDER.index(item.grade) for item in items]
    assert grades == sorted(grades), "most certain first"


def test_hiding_a_figure_moves_its_rule_to_what_we_do_not_know(qol_published):
    studies = brief.load_studies({"qol": qol_published})
    published = studies["qol"].copy()
    mask = (published["table"] == "difference_vs_reference") & (published["group"] == "cnst")
    published.loc[mask, "suppressed"] = True
    published.loc[mask, ["n", "value", "ci_low", "ci_high"]] = np.nan
    evaluation = evaluate_all(load_catalogue(), {"qol": published}, language="en")
    cited = " ".join(evaluation.triggered["evidence"])
    assert "difference_vs_reference:cnst" not in cited
    assert brief.unknowns(evaluation, "en")


@pytest.mark.parametrize("language", ["bg", "en"])
def test_items_html_renders_in_both_languages(qol_published, language):
    studies = brief.load_studies({"qol": qol_published})
    items = brief.brief_items(
        evaluate_all(load_catalogue(), studies, language=language), studies, language
    )
    page = brief.items_html(items, language, most=2)
    assert "{" not in page.replace("{ ", "").split("</style>")[1]
    if language == "bg":
        assert "Сила на доказателствата" in page
    else:
        assert "Strength of evidence" in page
    if len(items) > 2:
        assert "recommendations.csv" in page


def test_missing_study_file_is_left_out(tmp_path):
    assert brief.load_studies({"qol": tmp_path / "absent.csv", "placements": None}) == {}


def test_synthetic_flag_reads_provenance(tmp_path):
    published = tmp_path / "published.csv"
    published.write_text(
        "table,group,measure,n,value,ci_low,ci_high,suppressed\n", encoding="utf-8"
    )
    assert not brief.is_synthetic({"qol": published})
    (tmp_path / "provenance.json").write_text(
        '{"inputs": {"responses": {"path": "data/demo/survey.csv", "sha256": "x"}}}',
        encoding="utf-8",
    )
    assert brief.is_synthetic({"qol": published})


# ----------------------------------------------------------------------------- association, not effect

#: Words that would read a cross-sectional difference as an effect of the kind of care.
CAUSAL = re.compile(r"ефект|причин|въздейств|\beffect|\bcaus|\bimpact", re.IGNORECASE)


def _adjusted_rows(published):
    rows = published[published["table"] == "adjusted_for"]
    return [m for m in rows["measure"] if m != "none"]


@pytest.mark.parametrize("language", ["bg", "en"])
def test_brief_words_survey_differences_as_differences_adjusted_for_what_was_published(
    qol_published, qol_codebook, language
):
    """Issue 10 item 7: no brief text reads a cross-sectional difference as an effect, and
    each names the adjustment the study published (its adjusted_for rows: age and sex)."""
    studies = brief.load_studies({"qol": qol_published})
    assert _adjusted_rows(studies["qol"]) == ["age", "sex"]  # what the study published
    adjusted = "при корекция за възраст и пол" if language == "bg" else "adjusted for age and sex"
    evaluation = evaluate_all(load_catalogue(), studies, language=language)
    survey = evaluation.triggered[evaluation.triggered["design"] == "cross_sectional"]
    assert len(survey), "the demo's planted gaps trigger survey recommendations"
    for _, row in survey.iterrows():
        for column in ("title", "text", "rationale", "grade_reasons"):
            assert not CAUSAL.search(row[column]), (row["rule_id"], column, row[column])
        if "difference_vs_reference" in row["evidence"]:
            assert adjusted in row["text"], row["rule_id"]
    messages = brief.key_messages(studies, qol_codebook, "foster", "2016-01-01", language)
    for message in messages:
        assert not CAUSAL.search(message), message
    caveat = brief.association_caveat(studies["qol"], language)
    assert caveat in messages and adjusted in caveat
    # the characteristics the data did not hold are named as not adjusted for
    assert ("увреждане" if language == "bg" else "disability") in caveat


def test_caveat_reaches_the_brief_however_few_findings_are_kept(qol_published, qol_codebook):
    studies = brief.load_studies({"qol": qol_published})
    caveat = brief.association_caveat(studies["qol"], "bg")
    for most in (1, 3):
        messages = brief.key_messages(studies, qol_codebook, "foster", "2016-01-01", "bg", most)
        assert messages.index(caveat) == most  # right after the survey's findings
        assert not any(m.startswith(text("qol.association", "bg")) for m in messages)


def test_adjustment_is_read_from_the_published_rows_not_assumed(qol_published):
    studies = brief.load_studies({"qol": qol_published})
    published = studies["qol"]
    extra = published[published["table"] == "adjusted_for"].iloc[[0]].assign(measure="disability")
    more = pd.concat([published, extra], ignore_index=True)
    caveat = brief.association_caveat(more, "en")
    assert "adjusted for age, sex and disability" in caveat and "disability," not in caveat
    unadjusted = published[published["table"] != "adjusted_for"]
    unadjusted = pd.concat([unadjusted, extra.assign(measure="none")], ignore_index=True)
    assert "unadjusted" in brief.association_caveat(unadjusted, "en")
    # no adjusted_for rows at all: the method is pointed to, age and sex are never claimed
    silent = published[published["table"] != "adjusted_for"]
    caveat = brief.association_caveat(silent, "bg")
    assert "възраст" not in caveat and "описана в метода" in caveat
    evaluation = evaluate_all(load_catalogue(), {"qol": silent}, language="bg")
    assert not evaluation.triggered["text"].str.contains("възраст и пол").any()


@pytest.mark.parametrize("language", ["bg", "en"])
def test_brief_method_calls_no_difference_an_effect(language):
    assert not CAUSAL.search(text("brief.method", language))


# --------------------------------------------------------------------------- published counts (issue 12)


def _counts_published() -> pd.DataFrame:
    rows = [
        ("in_care_at_date", "institution", "2007", 8019.0),
        ("in_care_at_date", "institution", "2023-12-31", 202.0),
        ("in_care_at_date", "foster", "2013-12-31", 1943.0),
        ("in_care_at_date", "foster", "2023-10-31", 1548.0),
        ("in_care_at_date", "kinship", "2014-12-31", 6751.0),
        ("in_care_at_date", "kinship", "2023-10-31", 4057.0),
        ("count_sources", "all", "sources", 15.0),
        ("count_sources", "all", "disagreements", 4.0),
    ]
    frame = pd.DataFrame(rows, columns=["table", "group", "measure", "value"])
    return frame.assign(n=frame["value"], ci_low=np.nan, ci_high=np.nan, suppressed=False)


@pytest.mark.parametrize("language", ["bg", "en"])
def test_brief_of_published_counts_grades_them_and_says_why(language, qol_codebook):
    studies = {"placements": _counts_published()}
    evaluation = evaluate_all(load_catalogue(), studies, language=language)
    items = brief.brief_items(evaluation, studies, language)
    assert [i.rule_id for i in items] == [
        "institution-children-remaining",
        "family-care-stock-falling",
    ]
    assert {i.grade for i in items} == {"very low"}
    first = items[0]
    assert ("202" in first.text) and (
        "31.12.2023" in first.text or "31 December 2023" in first.text
    )
    assert ("15" in first.reasons) and ("4" in first.reasons)
    # what we don't know: in words, no identifiers; the survey's rules in one line
    lines = brief.unknowns(evaluation, language)
    joined = " ".join(lines)
    for identifier in ("study_missing", "missing;", "@latest", "qol:"):
        assert identifier not in joined
    study = text("brief.study_qol", language)
    assert sum(study in line for line in lines) == 1
    # key messages: the mixed-sources qualifier first, then three findings (institutions too)
    messages = brief.key_messages(studies, qol_codebook, "foster", "2016-01-01", language)
    assert messages[0] == brief.mixed_sources_sentence(studies["placements"], language)
    assert any("8" in m and "019" in m and "202" in m for m in messages[1:4])
    assert brief.title_key(studies) == "brief.title_public"
    assert brief.method_text(studies, language).startswith(text("brief.method", language))
    assert brief.method_text(studies, language) != text("brief.method", language)


def test_brief_of_the_survey_keeps_its_title_and_method(qol_published):
    studies = brief.load_studies({"qol": qol_published})
    assert brief.title_key(studies) == "brief.title"
    assert brief.method_text(studies, "bg") == text("brief.method", "bg")
    assert brief.mixed_sources_sentence(_counts_published().iloc[:2], "bg") is None
