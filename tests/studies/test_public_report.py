"""The national report from public sources (issue 12): it renders, cites its sources, and the index links it.

Runs the placement study notebook through the runner (a real kernel) into a
temporary reports folder, on data/public/national_counts.csv and the НСИ 0-17
total; the reference is the counts file itself (every figure and link in it).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest

from research_lib.runner.runs import run_one

ROOT = Path(__file__).resolve().parents[2]
COUNTS = ROOT / "data" / "public" / "national_counts.csv"


@pytest.mark.slow
def test_public_report_renders_with_sources_and_the_index_links_it(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    parameters = {
        "episodes": "",
        "counts": "data/public/national_counts.csv",
        "population": "data/reference/child_population_nsi.csv",
    }
    result = run_one("placements_public", parameters, reports_dir=reports)
    assert result.status == "done", result
    folder = reports / "placements_public" / "all"
    page = html.unescape((folder / "report.html").read_text(encoding="utf-8"))
    assert "България 2007–2023: какво показват публикуваните данни" in page
    assert "датата не е посочена" in page  # undated figures are not called 31 December
    assert "синтетични" not in page.lower()  # no synthetic-data warning on published figures
    counts = pd.read_csv(COUNTS, dtype=str, keep_default_na=False)
    for url in set(counts["source_url"]):
        assert html.unescape(url) in page, url  # every figure traceable to its link
    published = pd.read_csv(folder / "published.csv", dtype={"measure": str})
    stocks = published[published["table"] == "in_care_at_date"]
    assert set(stocks["value"].astype(int)) <= {int(v) for v in counts["in_care_end"] if v}
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert 'href="placements_public/all/report.html"' in index
    assert "какво показват публикуваните данни" in index


@pytest.mark.slow
def test_brief_of_the_public_report_grades_published_counts(tmp_path):
    """brief_public reads the public report like any study; its grades say: published, mixed sources."""
    reports = tmp_path / "reports"
    reports.mkdir()
    parameters = {
        "episodes": "",
        "counts": "data/public/national_counts.csv",
        "population": "data/reference/child_population_nsi.csv",
    }
    assert run_one("placements_public", parameters, reports_dir=reports).status == "done"
    published = reports / "placements_public" / "all" / "published.csv"
    result = run_one(
        "brief_public",
        {"qol_published": "", "placements_published": str(published)},
        reports_dir=reports,
    )
    assert result.status == "done", result
    folder = reports / "brief_public" / "all"
    recommendations = pd.read_csv(folder / "recommendations.csv", dtype=str)
    assert "institution-children-remaining" in set(recommendations["rule_id"])
    assert set(recommendations["grade"]) <= {"low", "very low"}
    page = html.unescape((folder / "brief.html").read_text(encoding="utf-8"))
    assert "202" in page and "31.12.2023 г." in page  # the latest published figure, dated
    assert "преписани такива, каквито са публикувани" in page  # why it starts low
    assert "различни публикувани източника" in page  # why it goes lower
    for identifier in ("study_missing", "@latest", "in_care_at_date"):
        assert identifier not in page
    assert "синтетични" not in page.lower()
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert 'href="brief_public/all/brief.html"' in index


@pytest.mark.slow
def test_monthly_priemi_me_and_dmsgd_series_are_their_own_reports(tmp_path):
    """Monthly stocks are never summed (a year shows its figure nearest 31 December, dated);
    flows that cover part of a year are labelled with their months; the index lists both."""
    reports = tmp_path / "reports"
    reports.mkdir()
    published = {}
    for name in ("priemi_me", "dmsgd"):
        parameters = {
            "episodes": "",
            "counts": f"data/public/{name}_counts.csv",
            "population": "data/reference/child_population_nsi.csv",
        }
        result = run_one(f"placements_{name}", parameters, reports_dir=reports)
        assert result.status == "done", result
        folder = reports / f"placements_{name}" / "all"
        published[name] = pd.read_csv(folder / "published.csv", dtype={"measure": str})
        counts = pd.read_csv(ROOT / "data" / "public" / f"{name}_counts.csv", dtype=str)
        page = html.unescape((folder / "report.html").read_text(encoding="utf-8"))
        for url in set(counts["source_url"].dropna()):
            assert url in page, url
    priemi = published["priemi_me"]
    stocks = priemi[priemi["table"] == "in_care_at_date"].set_index("measure")["value"]
    assert stocks["2019-12-31"] == 1910  # not July's 1,899, not 1,899 + 1,901 + 1,893 + 1,910
    assert not any(m.startswith("2019-0") for m in stocks.index)  # one stock per year
    assert stocks["2023-02-28"] == 1532  # a partial year keeps its real date
    partial = priemi[priemi["table"] == "entries_part_year"].set_index("measure")["value"]
    assert partial["2023 (01-02)"] == 65 + 85  # a flow over the months published, labelled so
    assert not (priemi["table"] == "entries_by_year").any()  # no month range passed off as a year
    dmsgd = published["dmsgd"]
    infant = dmsgd[dmsgd["table"] == "in_care_at_date"].set_index("measure")["value"]
    assert infant["2014-12-31"] == 975 and "2014-01" not in infant.index
    assert infant["2018-10"] == 460 and infant["2008"] == 2440  # month, and year without a date
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert 'href="placements_priemi_me/all/report.html"' in index
    assert 'href="placements_dmsgd/all/report.html"' in index
    assert "Приеми ме 2015" in html.unescape(index) and "ДМСГД" in html.unescape(index)
