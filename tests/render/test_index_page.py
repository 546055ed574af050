"""reports/index.html: every report with a relative link, headline figures per oblast."""

from __future__ import annotations

import os
import re

import pytest

from research_lib.paths import PROJECT_ROOT
from research_lib.render.index_page import TEXT, headline_value, page_text
from research_lib.render.reporting import REPORT_CSS
from research_lib.runner.index import build_index, collect_runs, registered_headlines
from research_lib.runner.provenance import write_provenance

HEADER = "table,group,measure,n,value,ci_low,ci_high,suppressed\n"


def add_run(
    reports,
    study,
    oblast,
    slug,
    *,
    status="ok",
    value="55.63",
    suppressed=False,
    headline=None,
    title_key="qol.title",
):
    """A run folder as the runner leaves it: provenance, published.csv, report.html."""
    folder = reports / study / slug
    folder.mkdir(parents=True)
    outputs = [f"{study}.ipynb"]
    if status == "ok":
        (folder / "report.html").write_text("<html></html>", encoding="utf-8")
        outputs.append("report.html")
    row = (
        "means_by_placement_type,cnst,emotional,,,,,True\n"
        if suppressed
        else f"means_by_placement_type,cnst,emotional,12,{value},50.1,60.2,False\n"
    )
    (folder / "published.csv").write_text(
        HEADER
        + "sample,all,children,40,40,,,False\n"
        + row
        + "headline,all,score,9,0.25,,,False\n",
        encoding="utf-8",
    )
    write_provenance(
        folder,
        {
            "study": study,
            "title_key": title_key,
            "oblast": oblast,
            "oblast_slug": slug,
            "status": status,
            "data_sha256": "0123456789abcdef" * 4,
            "start_time": "2025-03-01T10:00:00+00:00",
            "end_time": "2025-03-01T10:00:05+00:00",
            "outputs": outputs,
            "headline": headline,
        },
    )
    return folder


@pytest.fixture
def reports(tmp_path):
    reports = tmp_path / "reports"
    add_run(reports, "qol", "all", "all", value="61.04")
    add_run(reports, "qol", "BG421", "plovdiv", value="55.63")
    add_run(reports, "qol", "BG311", "vidin", suppressed=True)
    add_run(reports, "qol", "BG331", "varna", status="failed")
    return reports


def _rows(page: str, heading: str) -> list[str]:
    section = page.split(f"<h2>{heading}</h2>", 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", section)


def test_index_lists_every_report_with_a_relative_link(reports):
    path = build_index(reports)
    assert path == reports / "index.html"
    page = path.read_text(encoding="utf-8")
    rows = _rows(page, page_text("h_reports"))
    assert len(rows) == 1 + 4  # header + runs
    assert 'href="qol/plovdiv/report.html"' in page and 'href="qol/all/report.html"' in page
    assert 'href="qol/varna/report.html"' not in page  # failed: no report to open
    varna = next(r for r in rows if "Варна" in r)
    assert page_text("status_failed") in varna
    plovdiv = next(r for r in rows if "Пловдив" in r)
    assert "2025-03-01" in plovdiv and "0123456789" in plovdiv
    assert text_of(plovdiv).count("0123456789abcdef") == 0  # the hash is shortened
    assert "Качество на живот" in plovdiv  # the study's title from the labels
    # national report first
    assert "България" in rows[1]
    # no machine path anywhere; every link is relative
    assert str(reports) not in page and str(PROJECT_ROOT) not in page
    for link in re.findall(r'href="([^"]+)"', page):
        assert not link.startswith(("/", "file:", "http")), link


def text_of(row: str) -> str:
    return re.sub(r"<[^>]+>", "", row)


def test_headline_table_has_every_oblast_and_dashes(reports):
    page = build_index(reports).read_text(encoding="utf-8")
    rows = _rows(page, page_text("h_headlines"))
    assert len(rows) == 1 + 1 + 28  # header, the country, the 28 oblasts
    label = registered_headlines()["qol"]["label"]["bg"]  # the domain the codebook declares
    assert label == "Емоционално благополучие на децата в ЦНСТ (средна оценка 0–100)"
    assert label in rows[0]
    cells = {text_of(r.split("</td>")[0]): r for r in rows[1:]}
    assert len(cells) == 29
    assert '<a href="qol/plovdiv/report.html">55,6</a>' in cells["Пловдив"]  # decimal comma
    assert "61,0" in cells["България"]
    assert ">—<" in cells["Видин"]  # suppressed
    assert ">—<" in cells["Варна"]  # failed run
    assert ">—<" in cells["Бургас"]  # no run
    assert page_text("dash_note") in page


def test_english_page(reports):
    page = build_index(reports, language="en").read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    assert TEXT["h_headlines"]["en"] in page and "Plovdiv" in page and "55.6" in page
    assert "Quality of life" in page


def test_page_reads_on_a_phone_and_prints(reports):
    page = build_index(reports).read_text(encoding="utf-8")
    assert '<html lang="bg">' in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    assert REPORT_CSS in page and "@media print" in page
    assert page.count('class="table-wrap"') == 2  # wide tables scroll sideways on a phone
    assert "<script" not in page


def test_empty_reports_folder(tmp_path):
    page = build_index(tmp_path / "reports").read_text(encoding="utf-8")
    assert page_text("none") in page


def test_unregistered_study_uses_its_recorded_headline(tmp_path):
    reports = tmp_path / "reports"
    headline = {
        "table": "headline",
        "group": "all",
        "measure": "score",
        "label": {"bg": "Дял", "en": "Share"},
        "scale": 100,
        "digits": 0,
    }
    add_run(reports, "toy", "BG421", "plovdiv", headline=headline)
    page = build_index(reports).read_text(encoding="utf-8")
    assert "Дял" in page and '<a href="toy/plovdiv/report.html">25</a>' in page


def test_collect_runs_skips_folders_without_provenance(reports):
    (reports / "qol" / "old").mkdir()
    (reports / "qol" / "old" / "report.html").write_text("x", encoding="utf-8")
    runs = collect_runs(reports)
    assert sorted(r["_folder"] for r in runs) == [
        "qol/all",
        "qol/plovdiv",
        "qol/varna",
        "qol/vidin",
    ]


def test_headline_value(reports):
    spec = registered_headlines()["qol"]
    assert headline_value(reports / "qol" / "plovdiv", spec) == pytest.approx(55.63)
    assert headline_value(reports / "qol" / "vidin", spec) is None  # suppressed
    assert headline_value(reports / "qol" / "absent", spec) is None
    assert headline_value(reports / "qol" / "plovdiv", {**spec, "group": "family"}) is None


def test_every_page_word_exists_in_both_languages():
    for key, entry in TEXT.items():
        assert set(entry) == {"bg", "en"} and all(entry.values()), key


# --------------------------------------------------------------------------- issue 15: incomplete runs


def _dead_pid() -> int:
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _mark(folder, status, **extra):
    from research_lib.runner.provenance import read_provenance

    record = read_provenance(folder)
    previous = {k: v for k, v in record.items() if k != "previous"}
    write_provenance(folder, {**record, "status": status, "previous": previous, **extra})


def test_a_killed_run_is_shown_as_interrupted_never_as_ready(reports):
    """SIGKILL leaves "running" behind; its pid is dead and its lock free: interrupted."""
    from research_lib.runner.outputs import folder_lock

    _mark(reports / "qol" / "plovdiv", "running", pid=_dead_pid())  # no lock file: pid checked
    _mark(reports / "qol" / "all", "running", pid=os.getpid())  # lock file, nobody holds it
    (reports / "qol" / ".all.lock").write_text("1\n")
    _mark(reports / "qol" / "vidin", "running", pid=os.getpid())
    with folder_lock(reports / "qol" / "vidin"):  # a run that really is under way
        page = build_index(reports).read_text(encoding="utf-8")
    rows = {text_of(r.split("</td>")[0]): r for r in _rows(page, page_text("h_reports"))[1:]}
    assert page_text("status_interrupted") in rows["Пловдив"]
    assert page_text("status_interrupted") in rows["България"]
    assert page_text("status_running") in rows["Видин"]
    for name in ("Пловдив", "България", "Видин"):
        assert page_text("status_ok") not in rows[name], name
    assert (
        "последното изпълнение е прекъснато; показан е предишният доклад от 2025-03-01"
        in (rows["Пловдив"])
    )
    assert "4 доклада: 0 готови, 1 неуспешни, 3 незавършени" in page
    # the previous report is still linked, marked as such in the headline table
    assert '<a href="qol/plovdiv/report.html">55,6</a>†' in page
    assert page_text("kept_note") in page


def test_a_link_is_shown_only_to_a_report_that_exists(reports):
    (reports / "qol" / "plovdiv" / "report.html").unlink()
    page = build_index(reports).read_text(encoding="utf-8")
    assert 'href="qol/plovdiv/report.html"' not in page
    assert 'href="qol/all/report.html"' in page


def test_temporary_folders_and_lock_files_are_not_reports(reports):
    tmp = reports / "qol" / ".plovdiv.k2j3.tmp"
    tmp.mkdir()
    write_provenance(tmp, {"study": "qol", "oblast": "BG421", "status": "ok"})
    (reports / "qol" / ".plovdiv.lock").write_text("")
    assert len(collect_runs(reports)) == 4


def test_new_page_words_in_both_languages_and_natural_bulgarian():
    assert page_text("kept_failed", "en", date="2025-03-01") == (
        "last run failed, showing the previous report of 2025-03-01"
    )
    assert page_text("status_interrupted") == "прекъснат"


def test_the_page_imports_nothing_from_the_runner():
    """Arrows point down: render/ never imports runner/ (the runner passes the registry in)."""
    import subprocess
    import sys

    code = (
        "import sys, research_lib.render.index_page\n"
        "print([m for m in sys.modules if m.startswith('research_lib.runner')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    assert done.stdout.strip() == "[]"
