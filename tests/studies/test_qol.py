"""The QoL study: planted effects found, disclosure respected, findings only from shown figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from research_lib.demo.survey import DEFAULT_SEED, write_demo_data
from research_lib.disclosure.suppression import PUBLISHED_COLUMNS
from research_lib.studies.qol import pipeline as qol


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory, qol_codebook):
    return write_demo_data(tmp_path_factory.mktemp("qol"), qol_codebook, seed=DEFAULT_SEED)[
        "survey"
    ]


@pytest.fixture(scope="module")
def national(demo_file, qol_codebook):
    data = qol.prepare(demo_file, qol_codebook)
    analysis = qol.analyse(data, n_boot=50)
    published = qol.published_figures(analysis, forbidden=data.load.valid["respondent_id"])
    return data, analysis, published


def test_published_layout_and_disclosure(national):
    data, _, published = national
    assert tuple(published.columns) == PUBLISHED_COLUMNS
    shown = published[~published["suppressed"]]
    assert (shown["n"] >= 5).all()
    hidden = published[published["suppressed"]]
    assert hidden[["value", "ci_low", "ci_high"]].isna().all().all()
    text = published.to_csv(index=False)
    ids = set(data.load.valid["respondent_id"])
    assert not any(i in text for i in list(ids)[:500])
    services = set(data.load.valid["service_id"])
    assert not any(s in text for s in services)


def test_planted_differences_are_found(national):
    """Planted effect (data/demo/README.md): ЦНСТ −8 on independent living, institution −22 on homeliness."""
    _, _, published = national
    diff = published[published["table"] == "difference_vs_reference"].set_index(
        ["group", "measure"]
    )
    cnst = diff.loc[("cnst", "independent_living")]
    assert cnst["ci_high"] < 0 and -14 < cnst["value"] < -3
    inst = diff.loc[("institution", "homeliness")]
    assert inst["ci_high"] < 0 and inst["value"] < -12
    no_effect = diff.loc[("kinship", "safety")]  # nothing planted
    assert no_effect["ci_low"] < 0 < no_effect["ci_high"]


def test_planted_wave_change_is_found(national):
    """Planted: ЦНСТ participation +6 from 2024 to 2025."""
    _, _, published = national
    change = published[published["table"] == "wave_change"].set_index(["group", "measure"])
    row = change.loc[("cnst", "participation")]
    assert row["ci_low"] > 0 and row["ci_low"] < 6 < row["ci_high"] + 3


def test_planted_low_reliability_is_flagged(national, qol_codebook):
    _, _, published = national
    note = qol.quality_note(published, qol_codebook, "en")
    assert "Hopes for the future" in note or "future" in note.lower()


def test_key_findings_cite_only_shown_figures(national, qol_codebook):
    _, _, published = national
    findings = qol.key_findings(published, qol_codebook, "foster", "en")
    assert findings and findings[0].startswith("Children in family-type centres")
    # hide every ЦНСТ difference: no finding may mention ЦНСТ any more
    hidden = published.copy()
    mask = (hidden["table"] == "difference_vs_reference") & (hidden["group"] == "cnst")
    hidden.loc[mask, "suppressed"] = True
    hidden.loc[mask, ["n", "value", "ci_low", "ci_high"]] = np.nan
    again = qol.key_findings(hidden, qol_codebook, "foster", "en")
    assert not any(s.startswith("Children in family-type centres") for s in again)


def test_findings_read_in_both_languages(national, qol_codebook):
    _, _, published = national
    bg = qol.key_findings(published, qol_codebook, "foster", "bg")
    assert bg[0].startswith("Децата в ЦНСТ имат по-ниска оценка")
    assert "," in bg[0] and "95% ДИ от" in bg[0]


def test_small_oblast_without_reference_group_still_reports(demo_file, qol_codebook):
    """Kyustendil (BG415) has no child in foster care in the demo: no comparison, a clear sentence."""
    data = qol.prepare(demo_file, qol_codebook, oblast="Кюстендил")
    analysis = qol.analyse(data, n_boot=20)
    published = qol.published_figures(analysis)
    assert analysis.comparison_note == "no_reference"
    assert not (published["table"] == "difference_vs_reference").any()
    assert qol.key_findings(published, qol_codebook, "foster", "en")[0].startswith("A comparison")
    shown = published[~published["suppressed"]]
    assert (shown["n"] >= 5).all()


def test_hidden_mean_cannot_be_recovered_from_a_difference():
    """Secondary suppression of a mean carries over to its difference from the reference."""
    published = pd.DataFrame(
        {
            "table": ["means_by_placement_type"] * 3 + ["difference_vs_reference"] * 2,
            "group": ["all", "foster", "cnst", "cnst", "kinship"],
            "measure": ["home"] * 5,
            "n": pd.array([40, 30, pd.NA, 8, 9], dtype="Int64"),
            "value": [60.0, 62.0, np.nan, -4.0, 1.0],
            "ci_low": np.nan,
            "ci_high": np.nan,
            "suppressed": [False, False, True, False, False],
        }
    )
    out = qol.suppress_linked(published, "foster")
    diff = out[out["table"] == "difference_vs_reference"].set_index("group")
    assert diff.loc["cnst", "suppressed"] and np.isnan(diff.loc["cnst", "value"])
    assert not diff.loc["kinship", "suppressed"]


def test_larger_min_cell_suppresses_more(national):
    _, analysis, published = national
    strict = qol.published_figures(analysis, min_cell=100)
    assert strict["suppressed"].sum() > published["suppressed"].sum()
    assert (strict.loc[~strict["suppressed"], "n"] >= 100).all()


def test_unknown_wave_and_oblast_are_clear_errors(demo_file, qol_codebook):
    from research_lib.errors import InputError

    with pytest.raises(InputError, match="waves present: 2024, 2025"):
        qol.prepare(demo_file, qol_codebook, wave="2019")
    with pytest.raises(InputError, match="unknown oblast"):
        qol.prepare(demo_file, qol_codebook, oblast="Атлантида")


def test_same_inputs_same_tables(demo_file, qol_codebook, national):
    """Reproducibility: a second run gives identical published figures."""
    _, _, first = national
    data = qol.prepare(demo_file, qol_codebook)
    again = qol.published_figures(qol.analyse(data, n_boot=50))
    pd.testing.assert_frame_equal(first, again)


def test_survey_weights_are_honoured(demo_file, qol_codebook, tmp_path):
    """Weights: doubling the weight of ЦНСТ children moves the overall mean toward theirs."""
    survey = pd.read_csv(demo_file)
    survey["weight"] = np.where(survey["placement_type"].isin(["cnst", "ЦНСТ"]), 3.0, 1.0)
    path = tmp_path / "weighted.csv"
    survey.to_csv(path, index=False)
    plain = qol.analyse(qol.prepare(demo_file, qol_codebook), n_boot=20)
    weighted = qol.analyse(qol.prepare(path, qol_codebook), n_boot=20)

    def overall(analysis, domain):
        d = analysis.descriptives
        return d[(d["by"] == "all") & (d["outcome"] == domain)]["mean"].iloc[0]

    def cnst(analysis, domain):
        d = analysis.descriptives
        return d[(d["group"] == "cnst") & (d["outcome"] == domain)]["mean"].iloc[0]

    domain = "independent_living"
    assert abs(overall(weighted, domain) - cnst(weighted, domain)) < abs(
        overall(plain, domain) - cnst(plain, domain)
    )
    assert weighted.comparisons["method"].str.contains("weight|WLS", case=False).all()


def test_item_and_floor_ceiling_figures_are_published(national, qol_codebook):
    """Instrument quality: item-rest r per item, floor and ceiling shares per domain."""
    _, _, published = national
    items = published[published["table"] == "item_rest"]
    assert set(items["measure"]) == set(qol_codebook.item_ids)
    assert (items["value"].dropna().between(-1, 1)).all()
    floors = published[published["table"] == "floor_share"]
    assert len(floors) == len(qol_codebook.domain_ids) and floors["value"].between(0, 1).all()
    sentence, _ = qol.weak_items(published, qol_codebook, "en")
    assert "0.30" in sentence


def test_cached_pattern_publishes_what_a_fresh_choice_publishes(
    national, tmp_path, monkeypatch
) -> None:
    """Reference: the same report with the pattern chosen afresh (cache off)."""
    from research_lib.disclosure.pattern_cache import CACHE_ENV
    from research_lib.studies.qol import figures

    data, analysis, _ = national
    forbidden = data.load.valid["respondent_id"]
    monkeypatch.setenv(CACHE_ENV, "off")
    fresh = qol.published_figures(analysis, forbidden=forbidden)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    chosen = qol.published_figures(analysis, forbidden=forbidden)  # chooses and stores
    assert len(list(tmp_path.glob("qol-*.parquet"))) == 1

    def must_not_choose(*args, **kwargs):
        raise AssertionError("the stored pattern should have been read")

    monkeypatch.setattr(figures, "protect_linked", must_not_choose)
    read = qol.published_figures(analysis, forbidden=forbidden)
    pd.testing.assert_frame_equal(chosen, fresh)
    pd.testing.assert_frame_equal(read, fresh)
