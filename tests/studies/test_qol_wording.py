"""QoL report wording for comparisons (issue 10, items 1, 2 and 7).

Each rule is checked on small hand-built inputs (published figures, comparison
tables from :func:`research_lib.stats.compare.compare_domains` on planted data), so the
expected sentence follows from the input by hand:

* a difference is worded as a difference and names what it is adjusted for;
  the findings close with "differences, not effects" and name the
  characteristics the data did not hold;
* a comparison not estimated (too few services) is said in words, never as
  "no difference";
* the comparisons adjust for disability, time in care and age at entry when the
  data hold them;
* the design effect of the descriptive intervals is stated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from research_lib.stats.compare import compare_domains
from research_lib.stats.descriptives import describe_scores
from research_lib.studies.qol import pipeline as qol


def published_rows(rows: list[tuple]) -> pd.DataFrame:
    """Published figures from (table, group, measure, n, value, low, high) tuples."""
    frame = pd.DataFrame(
        rows, columns=["table", "group", "measure", "n", "value", "ci_low", "ci_high"]
    )
    frame["suppressed"] = False
    return frame


DIFFERENCE = [
    ("difference_vs_reference", "cnst", "participation", 40, -6.0, -9.0, -3.0),
    ("difference_p_adjusted", "cnst", "participation", 40, 0.001, np.nan, np.nan),
]


def test_difference_names_the_adjustment_and_is_not_an_effect(qol_codebook):
    """Hand: one clear difference, adjusted for age and sex (published adjusted_for rows)."""
    published = published_rows(
        DIFFERENCE
        + [
            ("adjusted_for", "all", "age", 80, 1.0, np.nan, np.nan),
            ("adjusted_for", "all", "sex", 80, 1.0, np.nan, np.nan),
        ]
    )
    findings = qol.key_findings(published, qol_codebook, "foster", "en")
    assert findings[0].startswith("Children in family-type centres (ЦНСТ) score lower")
    assert (
        "than children in foster care, adjusted for age and sex: a difference of 6" in findings[0]
    )
    assert findings[1].startswith("These are differences between groups of children")
    assert "not effects of the kind of care" in findings[1]
    assert "do not hold disability, time in care and age at entry into care" in findings[1]
    bg = qol.key_findings(published, qol_codebook, "foster", "bg")
    assert "при корекция за възраст и пол: разлика от 6" in bg[0]
    assert "а не ефекти на вида грижа" in bg[1]


def test_adjustment_held_in_the_data_is_not_listed_as_missing(qol_codebook):
    """Hand: adjusted for age, sex and disability: only the two others are missing."""
    findings = qol.key_findings(
        published_rows(DIFFERENCE),
        qol_codebook,
        "foster",
        "en",
        covariates=["age", "sex", "disability"],
    )
    assert "adjusted for age, sex and disability:" in findings[0]
    assert "do not hold time in care and age at entry into care" in findings[1]
    everything = ["age", "sex", *qol.ADJUST_IF_PRESENT]
    findings = qol.key_findings(
        published_rows(DIFFERENCE), qol_codebook, "foster", "en", covariates=everything
    )
    assert "do not hold" not in findings[1]


def test_without_known_adjustment_the_sentence_points_to_the_method(qol_codebook):
    """Figures published without adjusted_for rows: the sentence does not guess."""
    findings = qol.key_findings(published_rows(DIFFERENCE), qol_codebook, "foster", "en")
    assert "with the adjustment described in the method:" in findings[0]
    assert "do not hold" not in findings[1]


def test_not_estimated_is_said_in_words_never_as_no_difference(qol_codebook):
    """Hand: both groups shown without a value (not estimated, too few services)."""
    published = published_rows(
        [
            ("difference_vs_reference", "cnst", "participation", 30, np.nan, np.nan, np.nan),
            ("difference_vs_reference", "family", "participation", 9, np.nan, np.nan, np.nan),
        ]
    )
    findings = qol.key_findings(published, qol_codebook, "foster", "en")
    assert findings == [
        "No difference from children in foster care is estimated for children in "
        "family-type centres (ЦНСТ) and children living with their own family: too few "
        "services to tell the kind of care apart from the particular services."
    ]
    assert not any("confidence interval that excludes zero" in f for f in findings)


def few_services(seed: int = 3) -> pd.DataFrame:
    """Planted: 6 foster services, 2 family services, 6 cnst services of 8 children."""
    rng = np.random.default_rng(seed)
    types = ["foster"] * 6 + ["family"] * 2 + ["cnst"] * 6
    service = np.repeat(np.arange(len(types)), 8)
    return pd.DataFrame(
        {
            "service_id": service,
            "placement_type": np.asarray(types)[service],
            "age": rng.integers(8, 18, len(service)).astype(float),
            "sex": rng.choice(["f", "m"], len(service)),
            "participation": rng.normal(60, 15, len(service)),
        }
    )


def fake_analysis(comparisons: pd.DataFrame, covariates=("age", "sex"), descriptives=None):
    return qol.QolAnalysis(
        reliability=pd.DataFrame(),
        descriptives=pd.DataFrame() if descriptives is None else descriptives,
        comparisons=comparisons,
        waves=pd.DataFrame(),
        reference="foster",
        covariates=tuple(covariates),
        sample=pd.DataFrame(),
    )


def test_method_text_names_the_groups_not_estimated_and_why():
    """Planted: family has 2 services (< 5): the method says so with the counts; cnst
    (6 services) is estimated by the mixed model with CR2 errors."""
    table = compare_domains(
        few_services(), ["participation"], "placement_type", "foster", ["age", "sex"], "service_id"
    )
    analysis = fake_analysis(table)
    declined = qol.not_estimated_text(analysis, "en")
    assert declined.startswith(
        "No difference from children in foster care is estimated for children living with "
        "their own family (2 services): each compared group needs children from at least 5"
    )
    assert "family-type" not in declined
    model = qol.model_text(analysis, "en")
    assert model.startswith("a linear mixed model") and "CR2, Bell–McCaffrey" in model
    assert model.endswith("adjusted for age and sex")


def test_reference_with_too_few_services_is_explained():
    """Planted: foster reduced to 1 service: nothing is estimated, and the reason names it."""
    data = few_services()
    data = data[(data["placement_type"] != "foster") | (data["service_id"] == 0)]
    table = compare_domains(
        data, ["participation"], "placement_type", "foster", cluster="service_id"
    )
    text = qol.not_estimated_text(fake_analysis(table), "en")
    assert "children in foster care come from 1 service" in text


def test_comparisons_adjust_for_what_the_data_hold():
    """Hand: disability varies and is adjusted for; a constant months_in_care is not
    (it would be collinear with the intercept); age_at_entry is absent."""
    data = few_services().assign(disability=lambda f: f["age"] % 2 == 0, months_in_care=12.0)
    assert qol.held_covariates(data, ("age", "sex")) == ("age", "sex", "disability")
    assert qol.held_covariates(data, ("age", "disability")) == ("age", "disability")


@pytest.mark.parametrize(("language", "words"), [("en", "estimated from 14 services")])
def test_design_effect_is_stated(language, words):
    """Hand: the overall rows of describe_scores with cluster carry the design effect;
    the sentence gives its range and the number of services, and warns under 20."""
    desc = describe_scores(few_services(), ["participation"], cluster="service_id")
    text = qol.design_text(fake_analysis(pd.DataFrame(), descriptives=desc), 5, language)
    deff = desc["deff"].iloc[0]
    assert words in text and f"{deff:.1f}" in text
    assert "With so few services the design effect itself is imprecise." in text
    assert qol.design_text(fake_analysis(pd.DataFrame(), descriptives=desc), 500, language) == ""
