"""Tests of the evidence grading: each criterion moves the grade as documented."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pandas as pd
import pytest

from research_lib.errors import InputError
from research_lib.studies.brief.grading import (
    LEVELS,
    START_LEVEL,
    Figure,
    GradingContext,
    Importance,
    figure_label,
    format_value,
    grade,
    phrase,
)

CROSS = SimpleNamespace(design="cross_sectional", indirect=False)
ITS = SimpleNamespace(design="interrupted_time_series", indirect=False)
ADMIN = SimpleNamespace(design="administrative_trend", indirect=False)
PROJECTION = SimpleNamespace(design="projection", indirect=False)
POINTS = Importance("points", mid=5)
RATIO = Importance("ratio", mid=0.10)
CYRILLIC = re.compile(r"[\u0400-\u04FF]")


def diff(value: float, low: float, high: float, n: float = 300, measure: str = "homeliness"):
    return Figure("qol", "difference_vs_reference", "cnst", measure, n, value, low, high, POINTS)


def rate_ratio(value: float, low: float, high: float) -> Figure:
    return Figure(
        "placements",
        "its_institution_entries",
        "institution",
        "level_change",
        900,
        value,
        low,
        high,
        RATIO,
    )


def published(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["table", "group", "measure", "n", "value", "ci_low", "ci_high"]
    )
    frame["suppressed"] = False
    return frame


def quality(alpha: float = 0.85, missing: float = 0.05, measure: str = "homeliness") -> dict:
    return {
        "qol": published(
            [
                ("reliability_alpha", "all", measure, 900, alpha, alpha - 0.03, alpha + 0.03),
                ("item_missing", "all", measure, 900, missing, math.nan, math.nan),
            ]
        )
    }


def replication(value: float) -> dict:
    return {
        "qol": published(
            [("difference_vs_reference", "cnst", "homeliness", 100, value, value - 4, value + 4)]
        )
    }


# --------------------------------------------------------------------------- start by design


def test_start_levels_are_documented_and_ordered():
    assert START_LEVEL == {
        "interrupted_time_series": "moderate",
        "administrative_trend": "moderate",
        "cross_sectional": "low",
        "projection": "very low",
        "published_counts": "low",
    }


@pytest.mark.parametrize(
    ("rule", "expected"),
    [(ITS, "moderate"), (ADMIN, "moderate"), (CROSS, "low"), (PROJECTION, "very low")],
)
def test_design_sets_the_start(rule, expected):
    result = grade(
        rule, [rate_ratio(0.70, 0.65, 0.76)] if rule is not CROSS else [diff(-8, -11, -6)]
    )
    assert result.start == expected
    assert result.level == expected  # precise, not large, no replication: no move


def test_its_grades_higher_than_cross_sectional_on_the_same_figure():
    figure = diff(-8, -11, -6)
    assert grade(ITS, [figure]).rank > grade(CROSS, [figure]).rank


def test_unknown_design_is_refused():
    with pytest.raises(InputError, match="unknown design"):
        grade(SimpleNamespace(design="rct", indirect=False), [diff(-8, -11, -6)])


# --------------------------------------------------------------------------- imprecision


def test_narrow_ci_keeps_and_ci_crossing_the_mid_lowers():
    narrow = grade(ITS, [diff(-8, -10, -6)])
    crossing = grade(ITS, [diff(-8, -12, -4)])  # contains -5: important or not
    assert (narrow.level, crossing.level) == ("moderate", "low")
    assert ("imprecision", -1) in crossing.moves


def test_ci_with_important_differences_both_ways_lowers_two_levels():
    result = grade(ITS, [diff(-1, -12, 10)])
    assert result.level == "very low"
    assert ("imprecision", -2) in result.moves


def test_wide_ci_wholly_beyond_the_mid_is_not_imprecise():
    assert grade(ITS, [diff(-30, -45, -15)]).level == "moderate"


def test_no_interval_lowers_unless_not_graded():
    assert grade(ITS, [diff(-8, math.nan, math.nan)]).level == "low"
    count = Figure(
        "placements", "entries_by_year", "all", "2020", 900, 900.0, importance=Importance("count")
    )
    assert grade(ADMIN, [count]).level == "moderate"


def test_rate_ratios_are_judged_on_the_log_scale():
    # thresholds 1/1.1 = 0.909 and 1.1
    assert grade(ITS, [rate_ratio(0.97, 0.93, 1.02)]).level == "moderate"  # no important change
    assert grade(ITS, [rate_ratio(0.95, 0.88, 1.03)]).level == "low"  # may be an important fall
    assert grade(ITS, [rate_ratio(1.0, 0.85, 1.18)]).level == "very low"


def test_the_worst_figure_counts():
    result = grade(ITS, [diff(-8, -10, -6), diff(-8, -12, -4, measure="safety")])
    assert result.level == "low"


# --------------------------------------------------------------------------- consistency


def test_consistent_replications_upgrade_a_large_effect_but_not_a_survey_difference():
    """GRADE raises a grade for a large effect only where confounding cannot explain it.

    The same large, replicated figure raises an interrupted time series by one
    level, but not a cross-sectional comparison of groups (selection into care
    types is not measured): that one is reported as large and left where it was.
    """
    figure = diff(-15, -19, -11)
    context = GradingContext(replications={"BG311": replication(-12), "2023": replication(-9)})
    alone = grade(CROSS, [figure])
    replicated = grade(CROSS, [figure], context)
    assert (alone.level, replicated.level) == ("low", "low")
    assert ("large_effect", 1) not in replicated.moves
    assert "is not raised" in replicated.text("en") and "at one time" in replicated.text("en")
    assert "not been confirmed" in alone.text("en")
    its = grade(ITS, [figure], context)
    assert its.level == "high" and ("large_effect", 1) in its.moves
    assert "large difference" in its.text("en")  # a difference, not an effect


def test_inconsistent_replications_lower_the_grade():
    figure = diff(-8, -11, -6)
    context = GradingContext(
        replications={"BG311": replication(4), "BG312": replication(-7), "BG313": replication(3)}
    )
    result = grade(ITS, [figure], context)
    assert result.level == "low"
    assert ("inconsistency", -1) in result.moves
    assert "2 of 3" in result.text("en")


def test_a_minority_of_differing_directions_is_not_material():
    figure = diff(-8, -11, -6)
    agree = {f"BG3{i}": replication(-6) for i in range(11, 16)}
    context = GradingContext(replications={**agree, "BG316": replication(2)})  # 1 of 6
    assert grade(ITS, [figure], context).level == "moderate"


def test_suppressed_replications_are_not_counted():
    frame = published([("difference_vs_reference", "cnst", "homeliness", None, None, None, None)])
    frame["suppressed"] = True
    hidden = {"qol": frame}
    result = grade(ITS, [diff(-8, -11, -6)], GradingContext(replications={"BG311": hidden}))
    assert result.moves == () and result.level == "moderate"


def test_a_large_effect_is_not_upgraded_when_something_was_downgraded():
    figure = diff(-15, -19, -11, n=20)  # small n: risk of bias
    context = GradingContext(replications={"BG311": replication(-12)})
    result = grade(CROSS, [figure], context)
    assert result.level == "very low"
    assert all(name != "large_effect" for name, _ in result.moves)


def test_a_projection_is_never_upgraded():
    years = Importance("years", mid=2, baseline=2025)
    figure = Figure(
        "placements",
        "projection_0_3_residential",
        "residential_0_3",
        "target_year",
        100,
        2040.0,
        2033.0,
        2050.0,
        years,
    )
    result = grade(
        PROJECTION,
        [figure],
        GradingContext(
            replications={
                "x": {
                    "placements": published(
                        [
                            (
                                "projection_0_3_residential",
                                "residential_0_3",
                                "target_year",
                                100,
                                2038,
                                2031,
                                2047,
                            )
                        ]
                    )
                }
            }
        ),
    )
    assert result.level == "very low"


# --------------------------------------------------------------------------- risk of bias


def test_small_n_lowers_the_grade():
    assert grade(ITS, [diff(-8, -11, -6, n=300)]).level == "moderate"
    small = grade(ITS, [diff(-8, -11, -6, n=25)])
    assert small.level == "low" and ("risk_of_bias", -1) in small.moves
    assert "25" in small.text("bg")


def test_low_alpha_lowers_the_grade():
    figure = diff(-8, -11, -6)
    good = grade(ITS, [figure], GradingContext(published=quality(alpha=0.85)))
    poor = grade(ITS, [figure], GradingContext(published=quality(alpha=0.62)))
    assert (good.level, poor.level) == ("moderate", "low")
    assert "α = 0.62" in poor.text("en") and "α = 0,62" in poor.text("bg")


def test_high_item_missingness_lowers_the_grade():
    poor = grade(ITS, [diff(-8, -11, -6)], GradingContext(published=quality(missing=0.31)))
    assert poor.level == "low"
    assert "31%" in poor.text("en")


def test_two_kinds_of_bias_lower_two_levels():
    context = GradingContext(published=quality(alpha=0.6))
    result = grade(ITS, [diff(-8, -11, -6, n=20)], context)
    assert result.level == "very low" and ("risk_of_bias", -2) in result.moves


def test_thresholds_are_parameters():
    context = GradingContext(published=quality(alpha=0.75), min_alpha=0.80, min_n=10)
    assert grade(ITS, [diff(-8, -11, -6, n=20)], context).level == "low"


def test_quality_figures_themselves_are_not_checked_against_their_domain():
    alpha = Figure(
        "qol",
        "reliability_alpha",
        "all",
        "future",
        900,
        0.59,
        0.55,
        0.63,
        Importance("coefficient", mid=0.05, baseline=0.75),
    )
    result = grade(CROSS, [alpha], GradingContext(published=quality(alpha=0.59, measure="future")))
    assert all(name != "risk_of_bias" for name, _ in result.moves)


# --------------------------------------------------------------------------- indirectness and floor


def test_indirect_rules_lose_a_level():
    indirect = SimpleNamespace(design="interrupted_time_series", indirect=True)
    result = grade(indirect, [diff(-8, -11, -6)])
    assert result.level == "low" and ("indirectness", -1) in result.moves


def test_grades_stay_within_the_scale():
    worst = SimpleNamespace(design="cross_sectional", indirect=True)
    result = grade(worst, [diff(-1, -12, 10, n=12)], GradingContext(published=quality(alpha=0.5)))
    assert result.level == LEVELS[0]


# --------------------------------------------------------------------------- words


def test_reasons_are_sentences_in_both_languages():
    result = grade(ITS, [diff(-8, -12, -4, n=25)])
    assert len(result.reasons) >= 3
    for bg, en in result.reasons:
        assert CYRILLIC.search(bg)
        assert en and "{" not in en and "{" not in bg
    assert result.text("bg").endswith("Крайна оценка: много ниска.")
    assert result.label("en") == "very low"


def test_formatting_helpers():
    assert format_value(-5.26, "points", "bg") == "−5,3"
    assert format_value(0.125, "share", "en") == "12%"
    assert format_value(2031.4, "years") == "2031"
    assert phrase("grade.moderate") == "умерена"
    label = figure_label(diff(-8, -11, -6), "bg")
    assert label == "разлика спрямо сравнителната група – ЦНСТ, Усещане за дом"


# --------------------------------------------------------------------------- flags and indirectness


def _flag(group: str = "BG313") -> Figure:
    return Figure(
        "placements", "foster_growth", group, "lagging", 30, 1.0, importance=Importance("flag")
    )


def _relative(value: float, low: float, high: float, group: str = "BG313") -> Figure:
    return Figure(
        "placements", "foster_growth", group, "relative_growth", 30, value, low, high, RATIO
    )


def test_a_flag_alone_is_downgraded_for_imprecision():
    """Hand-graded: administrative trend starts moderate; a flag without its interval: -1."""
    result = grade(ADMIN, [_flag()])
    assert result.level == "low"
    assert ("imprecision", -1) in result.moves
    assert "flag cited without the interval" in result.text("en")


def test_a_flag_goes_through_the_precision_of_its_estimate():
    """The lagging flag on BG342 (relative growth 0.40, 95% CI 0.17 to 0.95) crosses 1/1.10."""
    wide = grade(ADMIN, [_relative(0.40, 0.17, 0.95), _flag()])
    assert wide.level == "low" and ("imprecision", -1) in wide.moves
    narrow = grade(ADMIN, [_relative(0.40, 0.30, 0.55), _flag()])
    assert ("imprecision", -1) not in narrow.moves


def test_indirect_rule_is_lowered_one_level():
    """Issue 10: 'expand prevention services' on a ratio of entry counts: moderate -> low."""
    ratio = Figure(
        "placements", "entries_by_year", "all", "2020/2015", 2000, 1.02, 0.96, 1.08, RATIO
    )
    direct = grade(ADMIN, [ratio])
    indirect = grade(SimpleNamespace(design="administrative_trend", indirect=True), [ratio])
    assert LEVELS.index(indirect.level) == LEVELS.index(direct.level) - 1
    assert ("indirectness", -1) in indirect.moves
