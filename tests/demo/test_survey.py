"""The demo data: deterministic, complete, and carrying the documented planted effects."""

from __future__ import annotations

import numpy as np

from research_lib.demo.survey import PLANTED, make_survey, write_demo_data
from research_lib.io.surveys import validate_responses
from research_lib.stats.scoring import scored_table


def test_same_seed_same_data(qol_codebook):
    a = make_survey(qol_codebook, n_services=20, seed=5)
    b = make_survey(qol_codebook, n_services=20, seed=5)
    c = make_survey(qol_codebook, n_services=20, seed=6)
    assert a.equals(b) and not a.equals(c)


def test_demo_survey_covers_all_oblasts_types_and_two_waves(qol_codebook):
    survey = make_survey(qol_codebook, seed=20251124)
    result = validate_responses(survey, qol_codebook)
    assert result.rejected.empty
    valid = result.valid
    assert 2000 <= len(valid) <= 3000
    assert valid["oblast"].nunique() == 28
    assert set(valid["placement_type"].astype(str)) == set(PLANTED)
    assert sorted(valid["wave"].unique()) == ["2024", "2025"]
    assert 150 <= valid["service_id"].nunique() <= 250


def test_planted_differences_show_in_unadjusted_means(qol_codebook):
    """Planted effect: the raw mean gap ЦНСТ - foster is near the planted value, shrunk by rounding."""
    survey = make_survey(qol_codebook, seed=20251124)
    table = scored_table(validate_responses(survey, qol_codebook).valid, qol_codebook)
    first = table[table["wave"] == "2024"]
    means = first.groupby("placement_type", observed=True)["homeliness"].mean()
    gap = means["cnst"] - means["foster"]
    assert -18 < gap < -6, gap  # planted -15
    assert abs(means["family"] - means["foster"] - PLANTED["family"]["homeliness"]) < 6


def test_broken_file_has_the_documented_problems(tmp_path, qol_codebook):
    from research_lib.io.surveys import load_responses

    paths = write_demo_data(tmp_path, qol_codebook, seed=3)
    result = load_responses(paths["broken"], qol_codebook)
    assert result.format == "csv" and result.n_rows == 20
    assert result.n_rejected == 9
    assert "Planted differences" in paths["readme"].read_text(encoding="utf-8")


def test_service_clustering_is_present(qol_codebook):
    """ICC of a domain score by service, one-way ANOVA estimator, near the planted 0.1."""
    survey = make_survey(qol_codebook, seed=20251124)
    table = scored_table(validate_responses(survey, qol_codebook).valid, qol_codebook)
    # within placement type and wave, so planted fixed effects do not inflate the ICC
    sub = table[(table["placement_type"] == "cnst") & (table["wave"] == "2024")].dropna(
        subset=["health"]
    )
    groups = sub.groupby("service_id")["health"]
    k = groups.size().mean()
    msb = (groups.size() * (groups.mean() - sub["health"].mean()) ** 2).sum() / (groups.ngroups - 1)
    msw = ((sub["health"] - groups.transform("mean")) ** 2).sum() / (len(sub) - groups.ngroups)
    icc = (msb - msw) / (msb + (k - 1) * msw)
    assert 0.02 < icc < 0.35, icc
    assert np.isfinite(icc)
