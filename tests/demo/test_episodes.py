"""Demo placement episodes: deterministic, loadable, and the planted effects are there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from research_lib.demo.episodes import (
    CENSOR_DATE,
    INSTITUTION_LEVEL_RR,
    LAGGING_OBLASTS,
    PLANTED_PLACEMENTS,
    REFORM_DATE,
    START_DATE,
    make_episodes,
    make_population,
    readme_section,
    write_demo_episodes,
)
from research_lib.io.episodes import load_episodes
from research_lib.io.oblasts import load_oblasts
from research_lib.io.population import load_population
from research_lib.io.vocab import PLACEMENT_TYPES
from research_lib.stats.series import add_rates, episodes_to_series


@pytest.fixture(scope="module")
def episodes() -> pd.DataFrame:
    return make_episodes()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    directory = tmp_path_factory.mktemp("demo")
    return write_demo_episodes(directory)


@pytest.fixture(scope="module")
def loaded(written):
    return load_episodes(written["episodes"], as_of=CENSOR_DATE)


@pytest.fixture(scope="module")
def yearly(loaded) -> pd.DataFrame:
    series = episodes_to_series(loaded, freq="YS", by=("placement_type",))
    return series.pivot(index="period", columns="placement_type", values="entries")


def test_deterministic_for_a_seed():
    first = make_episodes(seed=5, n_children=800)
    pd.testing.assert_frame_equal(first, make_episodes(seed=5, n_children=800))
    assert not first.equals(make_episodes(seed=6, n_children=800))


def test_size_and_coverage(episodes):
    assert episodes["child_id"].nunique() == 24_000
    assert 27_000 <= len(episodes) <= 33_000
    assert set(episodes["oblast"]) == set(load_oblasts().index)
    assert set(episodes["placement_type"]) == set(PLACEMENT_TYPES)
    assert episodes["start_date"].min() >= START_DATE
    assert episodes["start_date"].max() <= CENSOR_DATE
    assert episodes["end_date"].max() <= CENSOR_DATE


def test_ongoing_episodes_have_no_end_and_no_reason(episodes):
    ongoing = episodes["end_date"].isna()
    assert 0.1 < ongoing.mean() < 0.4
    assert episodes.loc[ongoing, "exit_reason"].isna().all()
    assert episodes.loc[~ongoing, "exit_reason"].notna().all()
    assert ((episodes["end_date"] >= episodes["start_date"]) | ongoing).all()


def test_aged_out_at_the_eighteenth_birthday(episodes):
    aged = episodes[episodes["exit_reason"] == "aged_out"]
    age = (aged["end_date"] - aged["birth_date"]).dt.days / 365.25
    assert len(aged) > 100 and age.between(17.99, 18.01).all()


def test_transfers_start_the_next_episode_without_overlap(episodes):
    ordered = episodes.sort_values(["child_id", "start_date"])
    same = ordered["child_id"].eq(ordered["child_id"].shift())
    previous_end = ordered["end_date"].shift()
    assert (ordered.loc[same, "start_date"] >= previous_end[same]).all()
    transferred = ordered["exit_reason"].shift()[same]
    assert transferred.isin(["foster", "kinship", "cnst"]).all()
    assert (ordered.loc[same, "placement_type"] == transferred).all()


def test_written_file_loads_without_a_rejected_row(written, loaded, episodes):
    assert loaded.n_rows == len(episodes)
    assert loaded.rejected.empty, loaded.summary()
    assert loaded.valid["placement_type"].value_counts().to_dict() == (
        episodes["placement_type"].value_counts().to_dict()
    )
    raw = pd.read_csv(written["episodes"], dtype=str, keep_default_na=False)
    assert raw["start_date"].str.contains(r"^\d{2}\.\d{2}\.\d{4}$").any()  # Bulgarian dates
    assert raw["placement_type"].isin(["ЦНСТ", "приемна грижа"]).any()  # Bulgarian labels


def test_planted_institution_drop_is_visible_in_yearly_entries(yearly):
    institution = yearly["institution"]
    before = institution.loc["2013":"2015"].mean()
    after = institution.loc["2016":"2018"].mean()
    assert 0.3 < after / before < 0.7  # planted level 0.55 and a steeper decline
    assert institution.loc["2025"].iloc[0] < 0.25 * before
    foster = yearly["foster"]
    assert foster.loc["2023":"2025"].mean() > 2 * foster.loc["2013":"2015"].mean()
    # level change at the reform month, on the monthly series
    assert PLANTED_PLACEMENTS["institution_level_rr"] == INSTITUTION_LEVEL_RR
    assert PLANTED_PLACEMENTS["reform_date"] == REFORM_DATE.date().isoformat()


def test_young_children_stop_entering_institutions_by_2021(loaded):
    series = episodes_to_series(loaded, by=("placement_type", "age_band_at_entry"))
    young = series[
        (series["placement_type"] == "institution") & (series["age_band_at_entry"] == "0-3")
    ]
    young = young.set_index(young["period"].dt.year)["entries"]
    assert young.loc[2010:2015].mean() > 150
    assert young.loc[2021:2025].max() <= 0.03 * young.loc[2010:2015].mean()


def test_lagging_oblasts_show_little_foster_growth(loaded):
    series = episodes_to_series(loaded, by=("oblast", "placement_type"))
    foster = series[series["placement_type"] == "foster"].copy()
    foster["era"] = np.where(foster["period"] < REFORM_DATE, "before", "after")
    foster = foster[foster["period"].dt.year.between(2012, 2025)]
    per_year = foster.groupby(["oblast", "era"], observed=True)["entries"].mean().unstack()
    growth = per_year["after"] / per_year["before"]
    lagging = growth.loc[list(LAGGING_OBLASTS)]
    others = growth.drop(list(LAGGING_OBLASTS))
    assert lagging.max() < others.median()


def test_autumn_has_more_entries_than_spring(loaded):
    months = loaded.valid["start_date"].dt.month.value_counts()
    assert months.loc[10] > 1.1 * months.loc[4]


def test_time_in_care_by_type(episodes):
    early = episodes[episodes["start_date"] < "2013-01-01"].copy()
    months = (early["end_date"].fillna(CENSOR_DATE) - early["start_date"]).dt.days / 30.44
    median = months.groupby(early["placement_type"]).median()
    assert median["cnst"] > median["foster"]
    assert 15 < median["institution"] < 40


def test_synthetic_population_is_labelled_and_loads(written):
    population = make_population()
    assert len(population) == 28 * 16 * 3
    assert population["source_title"].str.startswith("SYNTHETIC").all()
    result = load_population(written["population"])
    assert result.rejected.empty and result.n_valid == len(population)
    assert written["population"].name == "population_synthetic.csv"


def test_demo_rates_with_the_synthetic_population(loaded, written):
    population = load_population(written["population"])
    series = episodes_to_series(loaded, by=("placement_type",))
    rated = add_rates(series, population)
    assert rated["population"].notna().all()
    institution = rated[rated["placement_type"] == "institution"].set_index("period")
    assert institution["entries_rate"].iloc[0] > institution["entries_rate"].iloc[-1]
    assert (institution["entries_rate_low"] <= institution["entries_rate"]).all()


def test_readme_section_documents_the_planted_effects(episodes):
    text = readme_section(episodes)
    assert text.startswith("## Placement episodes (synthetic")
    assert "2016-01-01" in text and "rate ratio 0.55" in text
    for code in LAGGING_OBLASTS:
        assert load_oblasts().loc[code, "name_bg"] in text
    assert f"{len(episodes)} placement episodes" in text
    assert "| 2016 |" in text
