"""The placement study on the demo episodes: planted effects found, disclosure respected."""

from __future__ import annotations

import pandas as pd
import pytest

from research_lib.demo.episodes import LAGGING_OBLASTS, PLANTED_PLACEMENTS, write_demo_episodes
from research_lib.disclosure.suppression import PUBLISHED_COLUMNS
from research_lib.errors import InputError
from research_lib.studies.placements import pipeline as ps


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo_episodes(tmp_path_factory.mktemp("episodes"))


@pytest.fixture(scope="module")
def national(demo):
    data = ps.prepare(episodes=demo["episodes"], population=demo["population"])
    analysis = ps.analyse(data)
    return data, analysis, ps.published_figures(analysis, data)


def figure(published, table, group, measure):
    rows = published[
        (published["table"] == table)
        & (published["group"] == group)
        & (published["measure"] == measure)
    ]
    assert len(rows) == 1, (table, group, measure)
    return rows.iloc[0]


def test_its_recovers_the_planted_level_and_slope_change(national):
    """Planted effect (demo_episodes.PLANTED_PLACEMENTS): level RR 0.55, slope RR 0.88 per year."""
    _, _, published = national
    level = figure(published, "its_institution_entries", "institution", "level_change")
    assert level["ci_low"] <= 0.55 <= level["ci_high"] and level["ci_high"] < 1
    slope = figure(published, "its_institution_entries", "institution", "slope_change_per_year")
    assert slope["ci_low"] <= 0.88 <= slope["ci_high"]
    assert "institution" in str(PLANTED_PLACEMENTS).lower()


def test_planted_lagging_oblasts_are_flagged(national):
    _, _, published = national
    lagging = published[
        (published["table"] == "foster_growth") & (published["measure"] == "lagging")
    ]
    flagged = set(lagging.loc[lagging["value"] == 1, "group"])
    assert set(LAGGING_OBLASTS) <= flagged


def test_published_is_disclosure_safe(national):
    data, _, published = national
    assert tuple(published.columns) == PUBLISHED_COLUMNS
    shown = published[~published["suppressed"]]
    assert (shown["n"].dropna() >= 5).all()
    text = published.to_csv(index=False)
    assert not any(child in text for child in data.episodes["child_id"].head(300))


def test_small_oblast_counts_are_suppressed_with_their_complement(demo):
    data = ps.prepare(episodes=demo["episodes"], population=demo["population"], oblast="Видин")
    analysis = ps.analyse(data)
    published = ps.published_figures(analysis, data)
    counts = published[published["table"] == "entries_by_year"]
    assert counts["suppressed"].any()
    for _, year in counts.groupby("measure"):
        hidden = year[year["suppressed"] & (year["group"] != "all")]
        total_shown = not year.loc[year["group"] == "all", "suppressed"].iloc[0]
        assert not (total_shown and len(hidden) == 1), "one hidden cell next to a shown total"


def test_findings_come_from_published_figures(national):
    _, analysis, published = national
    bg = ps.key_findings(published, analysis.reform_date, "bg")
    assert bg[0].startswith("При реформата (01.01.2016) месечният прием в институции спада веднага")
    hidden = published.copy()
    mask = hidden["table"] == "its_institution_entries"
    hidden.loc[mask, "suppressed"] = True
    hidden.loc[mask, ["n", "value", "ci_low", "ci_high"]] = float("nan")
    en = ps.key_findings(hidden, analysis.reform_date, "en")
    assert not any("entries into institutions dropped" in s for s in en)


def test_counts_only_input(tmp_path, national):
    """Users with only published counts get the series and the ITS, not the child-level analyses."""
    data, _, _ = national
    from research_lib.stats.series import episodes_to_series

    series = episodes_to_series(data.episodes, freq="MS", by=("placement_type",), end=data.as_of)
    table = series.assign(
        period=pd.to_datetime(series["period"]).dt.strftime("%Y-%m"), oblast="all"
    )
    path = tmp_path / "counts.csv"
    table[["period", "oblast", "placement_type", "entries", "exits", "in_care_end"]].to_csv(
        path, index=False
    )
    counts = ps.prepare(counts=path)
    analysis = ps.analyse(counts)
    published = ps.published_figures(analysis, counts)
    assert analysis.notes.get("episodes") == "counts only"
    assert (published["table"] == "entries_by_year").any()
    assert not (published["table"] == "time_in_care").any()


def test_without_population_rates_are_not_estimated(demo):
    data = ps.prepare(episodes=demo["episodes"])
    analysis = ps.analyse(data)
    assert analysis.notes.get("indicators") == "no population"
    assert "population" not in analysis.its_data["institution"]
    paragraphs = ps.data_and_method(data, analysis, 5, "en")
    assert any("never estimated" in p for p in paragraphs)


def test_quarterly_series_and_bad_frequency(demo):
    data = ps.prepare(episodes=demo["episodes"], population=demo["population"])
    quarterly = ps.analyse(data, frequency="QS")
    assert quarterly.periods_per_year == 4
    assert len(quarterly.its_data["institution"]) == 64  # 2010-2025
    with pytest.raises(InputError, match="MS \\(monthly\\) or QS"):
        ps.analyse(data, frequency="W")


def test_episodes_or_counts_not_both(demo):
    with pytest.raises(InputError, match="either episodes"):
        ps.prepare(episodes=demo["episodes"], counts=demo["episodes"])


def test_cohorts_and_rate_funnel_are_published(national):
    """Time in care by entry cohort, and each oblast's entry rate flagged against the national rate."""
    _, _, published = national
    cohorts = published[published["table"] == "median_time_by_cohort"]
    assert {"2010-2014", "2015-2019"} <= set(cohorts["measure"])
    flags = published[(published["table"] == "entry_rate_funnel") & ~published["suppressed"]]
    assert set(flags["value"].dropna()) <= {-1.0, 0.0, 1.0}
    assert len(flags[flags["measure"] == "outside_95"]) == 28
    assert ps.cohort_table(published, "en").index.name == "Year of entry"


def test_cached_pattern_publishes_what_a_fresh_choice_publishes(
    national, tmp_path, monkeypatch
) -> None:
    """Reference: the national report with the pattern chosen afresh in this test.

    A second run reads the stored pattern (choosing it again would fail here) and
    publishes the same table; an oblast run reads its part of the same file.
    """
    from research_lib.disclosure.pattern_cache import CACHE_ENV
    from research_lib.studies.placements import figures

    data, analysis, _ = national
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    fresh = ps.published_figures(analysis, data)  # chooses and stores
    assert len(list(tmp_path.glob("placements-*.parquet"))) == 1
    pd.testing.assert_frame_equal(fresh, national[2])  # the fixture's run (project cache)

    def must_not_choose(*args, **kwargs):
        raise AssertionError("the stored pattern should have been read")

    monkeypatch.setattr(figures, "linked_year_counts", must_not_choose)
    pd.testing.assert_frame_equal(ps.published_figures(analysis, data), fresh)
    pd.testing.assert_frame_equal(ps.published_figures(analysis, data, min_cell=5), fresh)
    with pytest.raises(AssertionError, match="stored pattern"):
        ps.published_figures(analysis, data, min_cell=6)  # another key: chosen again
