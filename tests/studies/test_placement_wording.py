"""Per-child time series and the words of the placement report.

References (independent of the code under test):

* planted truth: monthly counts simulated from a per-child rate with a known
  yearly trend while the child population shrinks 3% a year; the population is
  given only in the bands 0-3, 4-6 and 7-17 (as in the demo file);
* hand sums of the population bands;
* the wording rules of issue 10: a rate ratio whose CI holds 1 is described by
  what the data are compatible with, never as "did not fall".
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from research_lib.io.loader import LoadResult
from research_lib.render.labels import text
from research_lib.stats.its import fit_its
from research_lib.studies.placements import pipeline as ps

YEARS = range(2010, 2026)


def _population(shrink: float = 0.97) -> pd.DataFrame:
    """Bands only (no 0-17 row): 0-3 shrinks faster than the older bands."""
    rows = []
    for i, year in enumerate(YEARS):
        rows += [
            ("all", year, "0-3", round(250_000 * (shrink - 0.01) ** i)),
            ("all", year, "4-6", round(200_000 * shrink**i)),
            ("all", year, "7-17", round(800_000 * shrink**i)),
        ]
    return pd.DataFrame(rows, columns=["oblast", "year", "age_band", "population"])


def _data(population: pd.DataFrame) -> ps.PlacementData:
    rejected = pd.DataFrame(columns=["row", "column", "value", "problem"])
    load = LoadResult(valid=pd.DataFrame(), rejected=rejected, n_rows=0)
    return ps.PlacementData(
        load=load,
        kind="episodes",
        scope="all",
        as_of=pd.Timestamp("2025-12-31"),
        population=population,
    )


def test_offset_population_adds_up_the_bands_and_uses_0_3_for_the_young() -> None:
    population = _population()
    data = _data(population)
    periods = pd.Series(pd.date_range("2010-01-01", "2025-12-01", freq="MS"))
    child = ps.monthly_population(data, periods)
    young = ps.monthly_population(data, periods, band="0-3")
    first = population[population["year"] == 2010]
    assert child.iloc[0] == first["population"].sum()  # 0-17 = 0-3 + 4-6 + 7-17
    assert young.iloc[0] == first.loc[first["age_band"] == "0-3", "population"].iloc[0]
    assert young.iloc[-1] < child.iloc[-1]
    # a year without a figure: no offset at all (never a partial or estimated denominator)
    short = population[population["year"] < 2025]
    assert ps.monthly_population(_data(short), periods) is None


@pytest.mark.parametrize("per_child_trend", [1.00, 0.99])
def test_per_child_trend_recovered_when_the_population_shrinks(per_child_trend: float) -> None:
    """Planted truth: per-child yearly trend 1.00 / 0.99 while children fall 3% a year.

    With the 0-17 offset the fitted pre-reform trend recovers the planted one; the
    count model mistakes the shrinking population for a falling risk.
    """
    rng = np.random.default_rng(7)
    data = _data(_population())
    periods = pd.Series(pd.date_range("2010-01-01", "2025-12-01", freq="MS"))
    children = ps.monthly_population(data, periods)
    years = np.arange(len(periods)) / 12
    post = (periods >= "2016-01-01").to_numpy()
    rate = 200 / 1_250_000 * per_child_trend**years * np.where(post, 0.7, 1.0)
    monthly = pd.DataFrame({"period": periods, "entries": rng.poisson(rate * children)})
    frame = ps.its_frame(monthly, pd.Timestamp("2016-01-01"), children)
    per_child = fit_its(frame, "entries", "time", "intervention", offset="population")
    counts = fit_its(frame, "entries", "time", "intervention")
    trend = per_child.table.loc["trend"] ** 12
    assert trend["ci_low"] < per_child_trend < trend["ci_high"]
    assert abs(trend["estimate"] - per_child_trend) < 0.01
    assert counts.table.loc["trend", "estimate"] ** 12 < per_child_trend - 0.015
    assert "log population offset" in per_child.method


def _row(value: float, low: float, high: float) -> pd.Series:
    return pd.Series({"value": value, "ci_low": low, "ci_high": high})


@pytest.mark.parametrize("language", ["bg", "en"])
def test_wide_interval_is_described_by_what_it_is_compatible_with(language: str) -> None:
    """Issue 10: Ruse, RR 0.68 (0.37 to 1.23) - not evidence of no change."""
    words = ps.change_finding(
        "placements.finding_level", _row(0.68, 0.37, 1.23), language, reform="01.01.2016"
    )
    assert "did not fall" not in words and "не е спаднал" not in words
    if language == "bg":
        assert "съвместими както със спад до 63%, така и с ръст до 23%" in words
    else:
        assert "compatible with anything from a fall of 63% to a rise of 23%" in words


def test_clear_changes_are_a_fall_or_a_rise() -> None:
    fall = ps.change_finding("placements.finding_end", _row(0.5, 0.4, 0.6), "en")
    rise = ps.change_finding("placements.finding_end", _row(1.3, 1.1, 1.5), "en")
    assert "50% below" in fall and "30% above" in rise
    young = ps.change_finding("placements.finding_young", _row(0.9, 0.7, 1.2), "bg")
    assert young.startswith("Непосредствената промяна в приема на деца до 3 години")


def test_no_did_not_fall_wording_left_in_the_labels() -> None:
    for key in ("finding_level", "finding_level_up", "finding_young", "finding_end"):
        for language in ("bg", "en"):
            words = text(f"placements.{key}", language)
            assert "did not fall" not in words and "не е спаднал" not in words


def test_method_text_says_what_was_fitted() -> None:
    """The offset sentence follows the fitted model, not the presence of a population file."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"time": np.arange(1, 61), "intervention": [0] * 30 + [1] * 30})
    frame["entries"] = rng.poisson(50, 60)
    frame["population"] = 1_000_000.0
    with_offset = fit_its(frame, "entries", "time", "intervention", offset="population")
    without = fit_its(frame, "entries", "time", "intervention")
    data = _data(_population())
    analysis = ps.PlacementAnalysis(
        yearly=pd.DataFrame(),
        entries_0_3=pd.DataFrame(),
        its={"institution": with_offset, "residential_0_3": without},
        its_data={},
        indicators=pd.DataFrame(),
        time_in_care=pd.DataFrame(),
        exits=pd.DataFrame(),
    )
    offset, _ = ps.its_method_words(data, analysis, "en")
    assert "Entries into institutions are modelled per child" in offset
    assert "aged 0–17" in offset
    assert "aged 0–3 into residential care are modelled as counts" in offset
    assert "not given for every year" in offset


# --------------------------------------------------------------------------- entries vs transfers


@pytest.fixture(scope="module")
def small_study():
    from research_lib.demo.episodes import make_episodes, make_population
    from research_lib.io.episodes import validate_episodes
    from research_lib.stats.demography import population_child_bands

    load = validate_episodes(make_episodes(seed=5, n_children=3000), as_of="2025-12-31")
    episodes = load.valid
    data = ps.PlacementData(
        load=load,
        kind="episodes",
        scope="all",
        as_of=pd.Timestamp("2025-12-31"),
        population=population_child_bands(make_population()),
    )
    analysis = ps.analyse(data)
    return episodes, data, analysis, ps.published_figures(analysis, data, min_cell=1)


def test_entries_are_first_entries_and_transfers_are_apart(small_study) -> None:
    """Issue 10: "entries" = children entering care away from the family for the first time.

    Independent reference: pandas - each child's earliest formal-care episode, by year.
    """
    episodes, _, _, published = small_study
    formal = episodes[episodes["placement_type"].isin(ps.FORMAL_CARE)]
    first = formal.sort_values("start_date").groupby("child_id").head(1)
    by_year = first["start_date"].dt.year.value_counts()
    entries = published[(published["table"] == "entries_by_year") & (published["group"] == "all")]
    got = entries.set_index("measure")["value"]
    for year in (2012, 2016, 2025):
        assert got[str(year)] == by_year.get(year, 0)
    assert "family" not in set(entries["group"])
    transfers = published[
        (published["table"] == "transfers_by_year") & (published["group"] == "all")
    ].set_index("measure")["value"]
    starts = formal["start_date"].dt.year.value_counts()
    for year in (2016, 2025):  # no re-entries in the demo: starts = entries + transfers
        assert got[str(year)] + transfers[str(year)] == starts[year]


def test_method_text_defines_entries_and_the_unit_of_time_in_care(small_study) -> None:
    _, data, analysis, _ = small_study
    words = " ".join(ps.data_and_method(data, analysis, 5, "en"))
    assert "for the first time" in words and "not counted as entries" in words
    assert "The unit is the child" in words
    assert "left truncation" not in words  # the demo history is complete from its start
    assert analysis.time_in_care["n"].sum() <= data.episodes["child_id"].nunique() * 5
    tic = analysis.time_in_care.set_index("placement_type")
    spells = data.episodes.groupby("placement_type", observed=True)["child_id"].nunique()
    for kind in ("foster", "cnst"):  # one stay per child and type
        assert tic.loc[kind, "n"] == spells[kind]


def test_an_oblast_report_reads_its_partially_pooled_level_change(small_study) -> None:
    """Issue 10 item 4: a small oblast's ITS borrows strength from the other oblasts.

    Planted truth (demo model): the level change of entries into institutions is
    0.55 in every oblast; the pooled interval is narrower than the oblast's own and
    still holds the planted value.
    """
    import dataclasses

    _, data, _, _ = small_study
    oblast = dataclasses.replace(data, scope="BG342")
    analysis = ps.analyse(oblast)
    published = ps.published_figures(analysis, oblast, min_cell=1)
    its = published[published["table"] == "its_institution_entries"].set_index("measure")
    own, pooled = its.loc["level_change"], its.loc["level_change_pooled"]
    assert pooled["ci_high"] - pooled["ci_low"] < own["ci_high"] - own["ci_low"]
    assert pooled["ci_low"] < 0.55 < pooled["ci_high"]
    findings = " ".join(ps.key_findings(published, analysis.reform_date, "en"))
    assert "partial pooling" in findings
    words = " ".join(ps.data_and_method(oblast, analysis, 1, "en"))
    assert "normal hierarchical model" in words and "28 oblasts" in words


def test_an_extract_begun_mid_history_is_read_from_when_it_is_complete(small_study) -> None:
    """Planted: the demo register cut to what an extract taken on 2014-01-01 would hold.

    Episodes ended before then are missing, so counts before 2014 would be too low and
    stays too long; the study detects the extract's start, counts from 2014 and uses
    delayed entry. Reference: the same figures from the full register.
    """
    import dataclasses

    from research_lib.stats.time_in_care import left_truncate

    episodes, data, full, full_published = small_study
    extract = left_truncate(episodes, "2014-01-01").drop(columns="observed_from")
    load = LoadResult(valid=extract, rejected=data.load.rejected, n_rows=len(extract))
    cut = dataclasses.replace(data, load=load)
    analysis = ps.analyse(cut)
    assert analysis.notes["observed_from"].startswith("2014-01")
    assert analysis.yearly["year"].min() >= 2014
    published = ps.published_figures(analysis, cut, min_cell=1)
    entries = published[(published["table"] == "entries_by_year") & (published["group"] == "all")]
    assert int(entries["measure"].min()) >= 2014
    reference = full_published[
        (full_published["table"] == "entries_by_year") & (full_published["group"] == "all")
    ].set_index("measure")["value"]
    got = entries.set_index("measure")["value"]
    assert got["2020"] == reference["2020"]  # later years: the same children entering
    assert analysis.its_data["institution"]["period"].min() >= pd.Timestamp("2014-01-01")
    level = analysis.its["institution"].table.loc["level_change"]
    assert level["ci_low"] < 0.55 < level["ci_high"]  # the planted level change
    words = " ".join(ps.data_and_method(cut, analysis, 1, "en"))
    assert "left truncation" in words
    # time in care: close to the full register's, not inflated by long survivors
    # (ignoring the truncation gives 31.7 months in institutions against 26.1)
    tic = analysis.time_in_care.set_index("placement_type")["median"]
    reference_tic = full.time_in_care.set_index("placement_type")["median"]
    assert abs(tic["institution"] - reference_tic["institution"]) < 2


def test_reunification_is_reported_by_entry_cohort(small_study) -> None:
    """Issue 10 item 5: results by entry cohort; a cohort without 12 months of follow-up has none."""
    _, _, analysis, published = small_study
    rows = published[published["table"] == "reunified_12m_by_cohort"]
    assert {"2010-2014", "2015-2019", "2020-2024"} <= set(rows["measure"])
    latest = rows[rows["measure"] == "2025-2029"]
    assert latest["value"].isna().all()  # entered in 2025: not yet followed for 12 months
    table = ps.reunified_cohort_table(published, "en")
    assert table.index.name == "Year of entry" and "Foster care" in table.columns
    assert analysis.exits_by_cohort["reason"].eq("reunified").all()


def test_a_move_to_another_oblast_is_a_transfer_there_not_an_entry() -> None:
    """Entry kinds are judged on the child's whole history, not on the oblast's records."""
    from research_lib.io.episodes import validate_episodes

    raw = pd.DataFrame(
        {
            "child_id": ["x", "x", "y"],
            "oblast": ["BG311", "BG312", "BG312"],
            "placement_type": ["institution", "foster", "foster"],
            "start_date": ["2018-01-01", "2018-06-01", "2018-03-01"],
            "end_date": ["2018-06-01", None, None],
            "birth_date": ["2010-01-01", "2010-01-01", "2012-01-01"],
            "exit_reason": ["foster", None, None],
        }
    )
    load = validate_episodes(raw, as_of="2018-12-31")
    data = ps.PlacementData(
        load=load, kind="episodes", scope="BG312", as_of=pd.Timestamp("2018-12-31")
    )
    yearly = ps.yearly_counts(data).set_index(["year", "placement_type"])
    assert yearly.loc[(2018, "foster"), "entries"] == 1  # y only
    assert yearly.loc[(2018, "foster"), "transfers"] == 1  # x, moved from Vidin
    national = (
        ps.yearly_counts(dataclasses.replace(data, scope="all"))
        .groupby("year")
        .sum(numeric_only=True)
    )
    assert national.loc[2018, "entries"] == 2 and national.loc[2018, "transfers"] == 1
