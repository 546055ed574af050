"""The notebook helper: the repeated notebook steps give exactly the text the notebooks wrote."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

import research_lib
from research_lib.errors import InputError
from research_lib.paths import project_path
from research_lib.render import notebook
from research_lib.render.labels import text
from research_lib.render.markup import md_text

COLUMNS = ["table", "group", "measure", "n", "value", "ci_low", "ci_high", "suppressed"]


@pytest.fixture
def shown(monkeypatch):
    """What the helper displays, as (kind, text) pairs instead of notebook outputs."""
    outputs = []
    monkeypatch.setattr(
        notebook, "display", lambda obj: outputs.append((type(obj).__name__, obj.data))
    )
    return outputs


def test_heading_is_the_label_with_its_paragraphs():
    assert notebook.heading_markdown("qol.h_summary", "bg") == f"## {text('qol.h_summary', 'bg')}"
    body = notebook.heading_markdown("qol.h_limits", "en", "One.", "Two.")
    assert body == f"## {text('qol.h_limits', 'en')}\n\nOne.\n\nTwo."
    assert notebook.heading_markdown("dimension.sex", "en", level=3).startswith("### ")


def test_heading_fills_the_labels_placeholders():
    reference = text("placement_phrase.foster", "en")
    heading = notebook.heading_markdown("qol.h_compare", "en", reference=reference)
    assert heading == f"## {text('qol.h_compare', 'en', reference=reference)}"
    assert reference in heading


@pytest.mark.parametrize("level", [0, 7])
def test_heading_level_is_checked(level):
    with pytest.raises(ValueError, match="level"):
        notebook.heading_markdown("qol.h_summary", "bg", level=level)


def test_unknown_heading_label_is_an_error():
    with pytest.raises(KeyError):
        notebook.heading_markdown("qol.no_such_heading", "bg")


def test_display_helpers_show_one_output_each(shown):
    notebook.heading("qol.h_low", "en", "Share.")
    notebook.paragraph("qol.waves_none", "en")
    notebook.note("common.suppressed_note", "en", min_cell=5)
    notebook.markdown("a", "b")
    assert shown == [
        ("Markdown", f"## {text('qol.h_low', 'en')}\n\nShare."),
        ("Markdown", text("qol.waves_none", "en")),
        ("Markdown", f"<small>{text('common.suppressed_note', 'en', min_cell=5)}</small>"),
        ("Markdown", "a\n\nb"),
    ]


def test_title_warns_only_on_demo_data(shown):
    notebook.title("Title", "Sub", "en")
    assert shown == [("Markdown", "# Title\n\n<p class='subtitle'>Sub</p>")]
    notebook.title("Title", "Sub", "en", synthetic=True)
    assert shown[-1] == (
        "Markdown",
        f"<p class='warning'>{text('common.synthetic_warning', 'en')}</p>",
    )
    assert len(shown) == 3


def test_empty_tables_are_skipped_unless_asked(shown):
    notebook.show_table(pd.DataFrame())
    assert shown == []
    notebook.show_table(pd.DataFrame(), skip_empty=False)
    notebook.show_table(pd.DataFrame({"a": [1]}))
    assert [kind for kind, _ in shown] == ["HTML", "HTML"]
    assert "report-table" in shown[-1][1]


def test_footer_names_the_date_and_the_version():
    line = notebook.footer_markdown("en", today=datetime.date(2026, 1, 2))
    assert line.startswith("<p class='generated'>") and line.endswith("</p>")
    assert "2026-01-02" in line and research_lib.__version__ in line


def test_bullets_keep_markdown_and_dates_follow_the_language():
    assert notebook.bullets(["*a*", "b"]) == "- *a*\n- b"
    assert notebook.bullets([]) == ""
    day = pd.Timestamp("2024-03-05")
    assert notebook.date_text(day, "bg") == "05.03.2024"
    assert notebook.date_text(day, "en") == "2024-03-05"


def test_setup_checks_the_language_and_makes_the_folder(tmp_path):
    with pytest.raises(InputError, match="language"):
        notebook.setup("de", tmp_path / "x", plots=False)
    assert not (tmp_path / "x").exists()  # refused before anything is written
    out = notebook.setup("en", tmp_path / "a" / "b", plots=False)
    assert out == tmp_path / "a" / "b" and out.is_dir()
    assert notebook.setup("bg", plots=False) is None
    for option, value in notebook.PANDAS_OPTIONS.items():
        assert pd.get_option(option) == value


def test_publish_writes_both_files_and_says_so(tmp_path, capsys):
    figures = pd.DataFrame(
        [
            ("t", "a", "m", np.nan, np.nan, np.nan, np.nan, True),
            ("t", "b", "m", 6, 2.5, 1, 4, False),
        ],
        columns=COLUMNS,
    )
    problems = pd.DataFrame({"problem": ["missing"], "rows": [2]})
    path = notebook.publish(figures, tmp_path, 5, problems=problems)
    assert path == tmp_path / "published.csv"
    assert path.read_text(encoding="utf-8").splitlines() == [
        ",".join(COLUMNS),
        "t,a,m,,,,,True",
        "t,b,m,6.0,2.5,1.0,4.0,False",
    ]
    assert (tmp_path / "validation_summary.csv").read_text().splitlines() == [
        "problem,rows",
        "missing,2",
    ]
    assert capsys.readouterr().out.startswith("2 figures published (1 suppressed) in ")
    other = tmp_path / "other"
    other.mkdir()
    notebook.publish(figures, other, 5)
    assert not (other / "validation_summary.csv").exists()


def test_published_paths_replace_the_oblast():
    paths = notebook.published_paths(
        "all", qol="reports/qol/{oblast}/published.csv", placements="x/{oblast}.csv"
    )
    assert paths == {
        "qol": project_path("reports/qol/all/published.csv"),
        "placements": project_path("x/all.csv"),
    }
    assert notebook.published_paths("BG331", qol="q/{oblast}")["qol"] == project_path("q/varna")


ANSWERS = [
    "Да можем сами да си избираме храната.",
    "Да има ключ за моето шкафче.",
    "Казвам се Иван Петров и искам да се прибера у дома.",
    "Да не ни заключват вечер.",
    "Искам да виждам брат си по-често.",
    "Да живея в истински дом.",
]


def children(groups):
    rows = [
        {"placement_type": group, "voice": ANSWERS[i % len(ANSWERS)] if i < answered else ""}
        for group, (size, answered) in groups.items()
        for i in range(size)
    ]
    frame = pd.DataFrame(rows)
    frame.insert(0, "respondent_id", [f"R2025-{i:05d}" for i in range(len(frame))])
    return frame


def test_voices_are_grouped_redacted_and_escaped(qol_codebook):
    data = children({"cnst": (8, 6), "foster": (4, 4)})  # foster: too few to quote
    section = notebook.voices_markdown(data, qol_codebook, min_cell=5, language="en")
    blocks = section.split("\n\n")
    question = qol_codebook.extra["voice"]["text"]["en"]
    assert blocks[0] == md_text(text("qol.voices_intro", "en", question=question, min_cell=5))
    assert blocks[1] == f"### {text('placement_type.cnst', 'en')}"
    assert text("placement_type.foster", "en") not in section
    assert 1 <= len(blocks) - 2 <= 3  # at most three quotes a group
    assert "Иван Петров" not in section and "R2025" not in section


def test_without_voices_the_section_says_so(qol_codebook):
    none = text("qol.voices_none", "bg")
    data = children({"cnst": (8, 6)})
    assert (
        notebook.voices_markdown(
            data.drop(columns="voice"), qol_codebook, min_cell=5, language="bg"
        )
        == none
    )
    assert notebook.voices_markdown(data, qol_codebook, min_cell=50, language="bg") == none


def test_children_pages_only_with_the_qol_figures(tmp_path, qol_codebook):
    assert notebook.write_children_pages(None, qol_codebook, "en", tmp_path) == []
    assert list(tmp_path.iterdir()) == []
