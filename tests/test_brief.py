"""The policy brief: only published figures, nothing hidden cited, BG and EN render."""

from __future__ import annotations

import numpy as np
import pytest

from research_lib import brief, qol
from research_lib.disclosure import write_published
from research_lib.recommendations import evaluate_all, load_catalogue
from research_lib.synthetic import write_demo_data


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
