"""The placement study on published counts (issue 12): figures shown exactly as published.

Small files shaped like the real АСП / НСИ / ДАЗД publications (values and dates
taken from data/public/national_care_figures.csv where the shape allows; the
complete-year monthly series and the oblast rows are made up for the test).
The reference for every assertion is the source file itself: a published figure
must equal the figure of its source row, stocks are never added across months,
sources or placement types, and a figure whose date the source does not state is
never labelled 31 December.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from research_lib.errors import InputError
from research_lib.stats.count_series import counts_as_read, source_summary
from research_lib.studies.placements import pipeline as ps

ASP = "АСП: Над 9000 деца в риск са защитени в сигурна семейна среда"


PUBLIC = Path(__file__).resolve().parents[2] / "data" / "public"
BTA = "BTA: Number of Institutionalized Children in Bulgaria Drops to 202 by End-2023"


def write(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def run(path: Path, oblast: str = "all", population: Path | None = None, min_cell: int = 5):
    data = ps.prepare(counts=path, oblast=oblast, population=population)
    analysis = ps.analyse(data)
    return data, analysis, ps.published_figures(analysis, data, min_cell=min_cell)


def shown(published: pd.DataFrame, table: str) -> dict[tuple[str, str], float]:
    rows = published[(published["table"] == table) & ~published["suppressed"].astype(bool)]
    return {
        (g, m): v for g, m, v in zip(rows["group"], rows["measure"], rows["value"], strict=True)
    }


@pytest.fixture
def yearly_stocks_file(tmp_path):
    """Yearly national stocks with gaps (no 2010, 2012, 2016), mixed reference dates and a
    disagreement (2017: UNICEF 900, Opening Doors 979), as in data/public/national_counts.csv."""
    rows = [
        ("2009", "", "institution", 7587, "ДАЗД (News.bg)"),
        ("2011", "31.12.2011", "institution", 4755, "Novini.bg"),
        ("2013", "31.12.2013", "foster", 1943, ASP),
        ("2014", "31.12.2014", "foster", 2275, ASP),
        ("2014", "31.12.2014", "kinship", 6751, ASP),
        ("2014-12", "", "institution", 2721, "Opening Doors"),
        ("2015-06", "30.06.2015", "foster", 2142, "NAPG"),
        ("2017", "", "institution", 900, "UNICEF"),
        ("2017", "", "institution", 979, "Opening Doors"),
        ("2023-10", "31.10.2023", "foster", 1548, BTA),
        ("2023-10", "31.10.2023", "kinship", 4057, BTA),
        ("2023", "31.12.2023", "institution", 202, BTA),
    ]
    return write(
        tmp_path,
        "stocks.csv",
        [
            {
                "period": p,
                "reference_date": d,
                "oblast": "all",
                "placement_type": t,
                "in_care_end": v,
                "source": s,
                "source_url": f"https://example.org/{i}",
                "quote": f"quote {i}",
            }
            for i, (p, d, t, v, s) in enumerate(rows)
        ],
    )


def test_yearly_stocks_are_published_as_in_the_source_with_their_real_dates(yearly_stocks_file):
    _, analysis, published = run(yearly_stocks_file)
    stocks = shown(published, "in_care_at_date")
    assert stocks == {
        ("institution", "2009"): 7587,  # year only: date not stated, not "31 December"
        ("institution", "2011-12-31"): 4755,
        ("foster", "2013-12-31"): 1943,
        ("foster", "2014-12-31"): 2275,
        ("kinship", "2014-12-31"): 6751,
        ("institution", "2014-12"): 2721,  # month only
        ("foster", "2015-06-30"): 2142,
        ("institution", "2017"): 900,  # the first of two sources; 979 listed beside it
        ("foster", "2023-10-31"): 1548,
        ("kinship", "2023-10-31"): 4057,
        ("institution", "2023-12-31"): 202,
    }
    # no total: no year has every type at one date from one source
    assert not (published["group"] == "all").any() or set(
        published.loc[published["group"] == "all", "table"]
    ) <= {"count_sources"}


def test_missing_is_not_published_and_undated_is_said(yearly_stocks_file):
    _, _, published = run(yearly_stocks_file)
    table = ps.stock_table(published, "en")
    assert table.loc[2009, "Institution"] == "7,587 (date not stated)"
    assert table.loc[2014, "Institution"] == "2,721 (2014-12)"
    assert table.loc[2023, "Foster care"] == "1,548 (2023-10-31)"
    assert table.loc[2023, "Institution"] == "202"  # 31 December: no date in brackets
    assert table.loc[2009, "Foster care"] == "…"  # not published, not "—" (suppressed)
    assert 2010 not in table.index and 2012 not in table.index
    notes = ps.series_notes(published, 5, "en")
    assert "not published" in notes and "fewer than 5" in notes


def test_disagreements_are_kept_side_by_side(yearly_stocks_file):
    data, analysis, published = run(yearly_stocks_file)
    summary = source_summary(data.load)
    assert summary == {"figures": 12, "sources": 7, "disagreements": 1}
    sources = shown(published, "count_sources")
    assert sources[("all", "sources")] == 7 and sources[("all", "disagreements")] == 1
    table = ps.sources_table(analysis, published, "en")
    assert len(table) == 12  # every figure read, none merged
    rows_2017 = table[table["Date or period"] == "2017, date not stated"]
    assert rows_2017["Children"].tolist() == ["900", "979"]
    assert rows_2017["In the tables above"].tolist()[0] == "yes"
    assert rows_2017["In the tables above"].tolist()[1].startswith("no: another source")
    assert table["Source"].str.contains("https://example.org/").all()
    findings = " ".join(ps.key_findings(published, analysis.reform_date, "en"))
    assert "7 different sources" in findings and "202 (31 Dec 2023)" in findings


def test_monthly_series_never_adds_stocks_and_labels_partial_years(tmp_path):
    """„Приеми ме 2015“ releases: monthly stocks, entries for some months only."""
    rows = [
        {"period": "2019-07", "reference_date": "31.07.2019", "in_care_end": 1899},
        {"period": "2019-07", "entries": 81, "exits": 124},
        {"period": "2019-08", "reference_date": "31.08.2019", "in_care_end": 1901},
        {"period": "2019-09", "reference_date": "30.09.2019", "in_care_end": 1893},
        {"period": "2019-09", "entries": 85, "exits": 93},
        {"period": "2019-12", "reference_date": "31.12.2019", "in_care_end": 1910},
    ]
    # a complete year of monthly entries (made-up values) next to one with a gap
    rows += [{"period": f"2020-{m:02d}", "entries": 60 + m} for m in range(1, 13)]
    rows += [{"period": f"2021-{m:02d}", "entries": 50 + m} for m in (1, 2, 3, 5)]
    for row in rows:
        row.update(oblast="all", placement_type="foster", source="АСП")
    _, _, published = run(write(tmp_path, "monthly.csv", rows))
    stocks = shown(published, "in_care_at_date")
    assert stocks == {("foster", "2019-12-31"): 1910}  # never 1899 + 1901 + 1893 + 1910
    assert shown(published, "entries_by_year") == {
        ("foster", "2020"): sum(60 + m for m in range(1, 13))
    }
    assert shown(published, "entries_part_year") == {
        ("foster", "2019 (07, 09)"): 81 + 85,
        ("foster", "2021 (01-03, 05)"): 51 + 52 + 53 + 55,
    }
    assert shown(published, "exits_part_year") == {("foster", "2019 (07, 09)"): 124 + 93}
    assert "exits_by_year" not in set(published["table"])


def test_a_file_without_exits_runs(tmp_path):
    rows = [
        {"period": "2014", "placement_type": "foster", "entries": 1279, "in_care_end": 2275},
        {"period": "2015", "placement_type": "foster", "entries": 1258},
        {"period": "2014", "placement_type": "kinship", "entries": 1208, "in_care_end": 6751},
        {"period": "2015", "placement_type": "kinship", "entries": 995},
    ]
    for row in rows:
        row["oblast"] = "България"
    data, analysis, published = run(write(tmp_path, "no_exits.csv", rows))
    assert "exits" not in data.load.valid.columns
    assert shown(published, "entries_by_year") == {
        ("foster", "2014"): 1279,
        ("kinship", "2014"): 1208,
        ("foster", "2015"): 1258,
        ("kinship", "2015"): 995,
    }  # no "all": ЦНСТ and institutions are not in the file, so a total would be partial
    assert shown(published, "in_care_at_date") == {
        ("foster", "2014"): 2275,
        ("kinship", "2014"): 6751,
    }
    paragraphs = " ".join(ps.data_and_method(data, analysis, 5, "en"))
    assert "cannot show how long children stay" in paragraphs
    assert "Kaplan" not in paragraphs  # no time-in-care method text on counts


def test_national_only_file_asked_for_an_oblast(yearly_stocks_file):
    with pytest.raises(InputError) as err:
        ps.prepare(counts=yearly_stocks_file, oblast="varna")
    message = str(err.value)
    assert "Varna" in message and "the whole country (all)" in message


@pytest.fixture
def oblast_file(tmp_path):
    """Year-end stocks of two oblasts, all four types from one source (made-up values)."""
    values = {
        "Варна": {"foster": 131, "kinship": 210, "cnst": 96, "institution": 12},
        "Пловдив": {"foster": 158, "kinship": 305, "cnst": 140},
    }
    rows = [
        {
            "period": "2023",
            "reference_date": "31.12.2023",
            "oblast": oblast,
            "placement_type": kind,
            "in_care_end": value,
            "source": "РДСП",
        }
        for oblast, kinds in values.items()
        for kind, value in kinds.items()
    ]
    return write(tmp_path, "oblasts.csv", rows)


def test_an_oblast_file(oblast_file):
    data, _, published = run(oblast_file, oblast="Варна")
    assert data.scope == "BG331"
    assert shown(published, "in_care_at_date") == {
        ("foster", "2023-12-31"): 131,
        ("kinship", "2023-12-31"): 210,
        ("cnst", "2023-12-31"): 96,
        ("institution", "2023-12-31"): 12,
        ("all", "2023-12-31"): 131 + 210 + 96 + 12,  # every type, one date, one source
    }
    _, _, plovdiv = run(oblast_file, oblast="plovdiv")
    # Plovdiv has no institution figure: no total (it would add what was not published)
    assert ("all", "2023-12-31") not in shown(plovdiv, "in_care_at_date")
    with pytest.raises(InputError, match=r"Varna \(BG331\).*Plovdiv \(BG421\)"):
        ps.prepare(counts=oblast_file, oblast="sofia-city")


def test_public_report_figures_equal_the_published_figures():
    data, analysis, published = run(PUBLIC / "national_counts.csv")
    read = counts_as_read(data.load)
    figures = set(
        zip(read["kind"], read["placement_type"], read["measure"], read["value"], strict=True)
    )
    for (group, measure), value in shown(published, "in_care_at_date").items():
        assert ("in_care_end", group, measure, int(value)) in figures
    for (group, measure), value in shown(published, "entries_by_year").items():
        assert ("entries", group, measure, int(value)) in figures
    # the corrections of issue 12 are in the data and in the report
    assert ("institution", "2017") in shown(published, "in_care_at_date")  # "towards late 2017"
    table = ps.sources_table(analysis, published, "en")
    assert {"5,695", "7,587", "4,755", "6,226"} <= set(table["Children"])
    assert ps.report_title(data, "en").startswith("Bulgaria 2007–2023")


def test_rates_per_100k_on_published_counts_with_the_nsi_total():
    """Reference: 202 children in institutions at end 2023 / 1,104,198 children 0-17 (НСИ)."""
    population = Path(__file__).resolve().parents[2] / "data/reference/child_population_nsi.csv"
    _, _, published = run(PUBLIC / "national_counts.csv", population=population)
    rates = shown(published, "in_care_per_100k")
    assert rates[("institution", "2023-12-31")] == pytest.approx(202 / 1_104_198 * 1e5, rel=1e-5)
    assert rates[("foster", "2023-10-31")] == pytest.approx(1548 / 1_104_198 * 1e5, rel=1e-5)
    assert not any(m.startswith("2014") for _, m in rates)  # no population for 2014: no rate


def test_its_on_monthly_counts_with_a_population_offset(tmp_path):
    """Monthly institution entries 2013-2018 drawn with a planted level change (RR 0.6 from 2016)."""

    rng = np.random.default_rng(12)
    months = pd.date_range("2013-01-01", "2018-12-01", freq="MS")
    mean = 120 * np.where(months >= "2016-01-01", 0.6, 1.0)
    counts = rng.poisson(mean)
    rows = [
        {
            "period": m.strftime("%Y-%m"),
            "oblast": "all",
            "placement_type": "institution",
            "entries": int(c),
        }
        for m, c in zip(months, counts, strict=True)
    ]
    pop = [
        {
            "oblast": "all",
            "year": y,
            "age_band": "0-17",
            "population": 1_200_000 - 10_000 * (y - 2013),
        }
        for y in range(2013, 2019)
    ]
    population = write(tmp_path, "population.csv", pop)
    data, analysis, published = run(write(tmp_path, "monthly.csv", rows), population=population)
    assert "institution" in analysis.its
    its = published[published["table"] == "its_institution_entries"].set_index("measure")
    level = its.loc["level_change"]
    assert level["ci_low"] <= 0.6 <= level["ci_high"] and level["ci_high"] < 1
    paragraphs = " ".join(ps.data_and_method(data, analysis, 5, "en"))
    assert "No interrupted time series" not in paragraphs


def test_regional_comparison_on_oblast_counts(oblast_file):
    """Reference: Varna's family-based share by hand, (131 + 210) / (131 + 210 + 96 + 12)."""
    _, analysis, published = run(oblast_file, oblast="varna")
    assert "funnel" in analysis.regional
    share = shown(published, "family_based_share")
    assert share[("BG331", "share")] == pytest.approx((131 + 210) / 449, rel=1e-5)
    # Plovdiv has no institution figure at that date: it is left out, not given a wrong share
    assert ("BG421", "share") not in share
