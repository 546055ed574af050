"""Report helpers: number formats, tables, colours, HTML export without code."""

from __future__ import annotations

import nbformat
import pandas as pd

from research_lib.io.vocab import PLACEMENT_TYPES
from research_lib.render.reporting import (
    PLACEMENT_COLOURS,
    export_html,
    format_estimate,
    format_number,
    published_table,
    table_html,
)


def test_numbers_follow_the_language():
    assert format_number(1234.56, "bg") == "1\u00a0234,6"
    assert format_number(1234.56, "en") == "1,234.6"
    assert format_number(-5.04, "bg") == "\u22125,0"
    assert format_number(-0.01, "en") == "0.0"
    assert format_number(float("nan"), "bg") == "—"
    assert format_estimate(None, 1, 2) == "—"


def test_one_distinct_colour_per_placement_type():
    assert set(PLACEMENT_COLOURS) == set(PLACEMENT_TYPES)
    assert len(set(PLACEMENT_COLOURS.values())) == len(PLACEMENT_TYPES)


def test_published_table_shows_a_dash_for_suppressed_figures():
    published = pd.DataFrame(
        {
            "table": "t",
            "group": ["cnst", "foster", "cnst", "foster"],
            "measure": ["home", "home", "voice", "voice"],
            "n": pd.array([12, pd.NA, 12, pd.NA], dtype="Int64"),
            "value": [55.0, None, 60.0, None],
            "ci_low": [50.0, None, 55.0, None],
            "ci_high": [60.0, None, 65.0, None],
            "suppressed": [False, True, False, True],
        }
    )
    table = published_table(published, "t", dimension="placement_type", language="bg")
    assert list(table.columns) == ["ЦНСТ (n=12)", "Приемна грижа"]
    assert table.loc["home", "ЦНСТ (n=12)"] == "55,0 (50,0 – 60,0)"
    assert table.loc["home", "Приемна грижа"] == "—"


def test_table_html_escapes_and_keeps_ci_on_one_line():
    table = pd.DataFrame({"<b>x</b>": ["1,0 (0,5 – 1,5)"]}, index=["a & b"])
    out = table_html(table)
    assert "&lt;b&gt;" in out and "a &amp; b" in out
    assert '<br><span class="ci">(0,5 – 1,5)</span>' in out


def test_export_html_leaves_out_code_and_researcher_notes(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "only for the researcher", metadata={"tags": ["remove-from-report"]}
        ),
        nbformat.v4.new_code_cell("secret_code = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "print('visible')",
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="видимо\n")],
        ),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    html = export_html(
        path, tmp_path / "out" / "report.html", title="Доклад", language="bg"
    ).read_text(encoding="utf-8")
    assert "видимо" in html and '<html lang="bg">' in html and 'name="viewport"' in html
    assert (
        "secret_code" not in html and "print(" not in html and "only for the researcher" not in html
    )
    assert "@media print" in html
