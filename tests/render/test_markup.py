"""Issue 15, item 1: what came from data is text in a report, never markup.

The payloads are the ones the attacker used (a child's free-text answer, a wave,
a label). Three levels are tested:

* the escaping helpers, through the Markdown renderer nbconvert itself uses
  (mistune), so the test checks what a report really gets;
* ``export_html``'s sanitiser, fed the payloads *unescaped* (what a missed
  escape would let through);
* a real browser: headless Chromium loads the exported page and the QoL report
  of a survey whose answers are the payloads; the test asserts that no injected
  script or handler ran (each payload would mark the DOM) and that the text of
  every payload is still on the page. Skipped, with the reason, where no
  Chromium is installed (``apt-get install chromium``).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from research_lib.render.markup import (
    QUOTE_MAX_CHARS,
    html_text,
    md_list,
    md_text,
    plain_text,
    quote_html,
    sanitize_html,
)
from research_lib.render.reporting import REPORT_CSS, export_html

MARK = "data-pwned"
#: Each payload marks the DOM (or blanks the page) if it ever runs as markup.
PAYLOADS = [
    f"<script>document.documentElement.setAttribute('{MARK}','script')</script>",
    f"<details open ontoggle=\"document.documentElement.setAttribute('{MARK}','details')\">x</details>",
    f"<iframe srcdoc=\"<script>parent.document.documentElement.setAttribute('{MARK}','iframe')</script>\"></iframe>",
    f"<img src=x onerror=\"document.documentElement.setAttribute('{MARK}','img')\">",
    f"[натисни тук](javascript:document.documentElement.setAttribute('{MARK}','link'))",
    "<style>body{display:none}</style>",
    "</blockquote><h1>Фалшиво заглавие</h1>",
    f"<svg onload=\"document.documentElement.setAttribute('{MARK}','svg')\"></svg>",
]
LIVE_TAG = re.compile(r"<(script|iframe|details|svg|style|h1>Фалшиво)", re.I)
HANDLER = re.compile(r"<[^>]*\son\w+\s*=", re.I)


def _rendered(markdown: str) -> str:
    return markdown2html_mistune(markdown)


# ---- escaping ------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_in_markdown_text_is_shown_as_text(payload):
    out = _rendered(md_text(payload))
    assert not LIVE_TAG.search(out) and not HANDLER.search(out)
    assert "javascript:" not in out.replace("(javascript:", "") or "href" not in out
    # the reader sees exactly what the child wrote
    assert html.unescape(re.sub(r"<[^>]+>", "", out)).strip() == payload


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_as_a_quote_is_one_blockquote_of_text(payload):
    out = _rendered(quote_html(payload))
    assert out.count("<blockquote>") == 1 and out.count("</blockquote>") == 1
    assert not LIVE_TAG.search(out) and not HANDLER.search(out)
    assert html.unescape(re.sub(r"<[^>]+>", "", out)).strip() == payload


def test_markdown_structure_in_a_sentence_stays_literal():
    for text in ["# заглавие", "- списък", "1. номер", "**удебелено** _курсив_", "`код`", "a | b"]:
        out = _rendered(md_text(text))
        assert out.startswith("<p>") and html.unescape(out[3:].split("</p>")[0]) == text
    listed = _rendered(md_list(["<b>първо</b>", "второ"]))
    assert listed.count("<li>") == 2 and "<b>" not in listed


def test_quotes_lose_control_and_direction_characters_and_are_capped():
    hidden = "Искам\u202e вкъщи\u2066 \u200bсега\x07\x1b[31m"
    assert plain_text(hidden) == "Искам вкъщи сега [31m"
    long = "дума " * 1000
    shown = html.unescape(re.sub(r"<[^>]+>", "", quote_html(long)))
    assert len(shown) <= QUOTE_MAX_CHARS and shown.endswith("…")
    assert "\n" not in quote_html("ред едно\n\n> ред две")  # cannot start a new block


def test_html_text_escapes_attribute_quotes():
    assert html_text('" onmouseover="x') == "&quot; onmouseover=&quot;x"


# ---- the sanitiser ---------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sanitiser_removes_what_a_missed_escape_would_let_through(payload):
    out = sanitize_html(_rendered(payload))
    assert not re.search(r"<(script|iframe|details|svg|style|object|embed)", out, re.I)
    assert not HANDLER.search(out) and "javascript:" not in out


def test_sanitiser_keeps_what_reports_are_made_of():
    png = "data:image/png;base64,iVBORw0KGgo="
    fragment = (
        '<div class="jp-Cell"><h2 id="Резултати">Резултати<a class="anchor-link" href="#Резултати">¶</a></h2>'
        '<table class="report-table"><thead><tr style="text-align: right;"><th>Група</th></tr></thead>'
        '<tbody><tr><td>12,3<br><span class="ci">(1 – 2)</span></td></tr></tbody></table>'
        f'<img alt="фигура" src="{png}"><blockquote><p>цитат</p></blockquote>'
        '<p class="subtitle"><small>бележка</small> <a href="qol/all/report.html">доклад</a></p></div>'
    )
    out = sanitize_html(fragment)
    for kept in [
        'class="jp-Cell"',
        'id="Резултати"',
        'href="#Резултати"',
        'style="text-align:right"',
        'class="ci"',
        f'src="{png}"',
        "<blockquote>",
        "<small>",
        'href="qol/all/report.html"',
    ]:
        assert kept in out, kept


def test_sanitiser_drops_images_other_than_embedded_png():
    for src in ["x.svg", "data:image/svg+xml;base64,PHN2Zz4=", "https://tracker.example/p.gif"]:
        assert "src=" not in sanitize_html(f'<img src="{src}" alt="a">')


def _notebook_with_payload_outputs(path: Path) -> Path:
    """A notebook whose outputs hold the payloads escaped (quotes) and raw (missed escapes)."""
    nb = nbformat.v4.new_notebook()
    raw = "\n\n".join(PAYLOADS)
    escaped = "\n\n".join(quote_html(p) for p in PAYLOADS)
    cell = nbformat.v4.new_code_cell("display(...)")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": f"# Отчет\n\n{escaped}"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": raw}),
        nbformat.v4.new_output("display_data", data={"text/html": raw}),
    ]
    nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def test_exported_report_has_one_style_sheet_and_no_script(tmp_path):
    report = export_html(
        _notebook_with_payload_outputs(tmp_path / "nb.ipynb"), tmp_path / "r.html", title="<t>"
    )
    page = report.read_text(encoding="utf-8")
    assert page.count("<style") == 1 and REPORT_CSS in page
    assert "<script" not in page.lower() and "<iframe" not in page.lower()
    assert not HANDLER.search(page)
    assert "<title>&lt;t&gt;</title>" in page


# ---- in a browser ----------------------------------------------------------------------------

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium to render the page (Debian: apt-get install chromium); "
    "the sanitiser and escaping tests above still ran",
)


def _dom_after_scripts(page: Path) -> str:
    """The DOM after the page loaded and any script ran (headless Chromium, --dump-dom).

    A fresh profile and no background networking (this machine's network is closed).
    """
    profile = page.parent / "chromium-profile"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _marked(dom: str) -> bool:
    """Whether an injected script or handler set its mark on the ``<html>`` element."""
    return re.search(rf"<html[^>]*{MARK}", dom) is not None


def _visible_text(dom: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", dom))


@needs_chromium
def test_in_chromium_no_injected_script_runs_and_the_text_remains(tmp_path):
    report = export_html(
        _notebook_with_payload_outputs(tmp_path / "nb.ipynb"), tmp_path / "r.html", title="t"
    )
    dom = _dom_after_scripts(report)
    assert not _marked(dom)
    assert dom.count("<style") == 1  # the page's own; a payload's style could blank the page
    text = _visible_text(dom)
    for payload in PAYLOADS:  # the escaped quotes show every payload as written
        assert payload in text


@needs_chromium
@pytest.mark.slow
def test_in_chromium_the_qol_report_shows_childrens_answers_as_text(tmp_path):
    """End to end: answers that are payloads go through the QoL study to report.html."""
    from research_lib.runner import runs

    survey = pd.read_csv("data/demo/survey.csv", dtype=str, keep_default_na=False)
    groups = sorted(survey["placement_type"].unique())
    chosen = dict(zip(groups, PAYLOADS[:3] + PAYLOADS[4:], strict=False))
    survey["voice"] = survey["placement_type"].map(chosen).fillna("")
    data = tmp_path / "survey.csv"
    survey.to_csv(data, index=False)
    folder = runs.run_study(
        "qol", {"responses": str(data)}, reports_dir=tmp_path / "reports", index=False
    )
    page = folder / "report.html"
    dom = _dom_after_scripts(page)
    assert not _marked(dom)
    text = _visible_text(dom)
    shown = [payload for payload in chosen.values() if payload in text]
    assert len(shown) >= 3, "the answers should be quoted, as text"
