"""Tests of the recommendations catalogue and engine.

Every rule of the shipped catalogue is exercised on published tables built
from its own condition: a table that makes it trigger, one that does not, and
one where its figure is suppressed (it must not trigger and must be listed as
not evaluable).
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from research_lib.disclosure.suppression import read_published
from research_lib.errors import InputError
from research_lib.studies.brief import (
    ACTORS,
    DESIGNS,
    RECOMMENDATION_COLUMNS,
    Catalogue,
    CatalogueError,
    GradingContext,
    evaluate,
    evaluate_all,
    load_catalogue,
    parse_catalogue,
    recommendations_csv,
)
from research_lib.studies.brief.engine import (
    AllOf,
    FigureSpec,
    Leaf,
    RatioLeaf,
    leaves,
)

CATALOGUE = load_catalogue()
RULES = list(CATALOGUE)
IDS = [rule.id for rule in RULES]
COLUMNS = ["table", "group", "measure", "n", "value", "ci_low", "ci_high", "suppressed"]
EVIDENCE = re.compile(
    r"^[a-z_]+:[A-Za-z0-9_]+:[^:;]+:[^:;]+(;[a-z_]+:[A-Za-z0-9_]+:[^:;]+:[^:;]+)*$"
)
CYRILLIC = re.compile(r"[\u0400-\u04FF]")
LATEST_YEAR = 2020
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- building tables


def binding_for(rule) -> dict[str, str]:
    """One for_each binding per rule: the first listed label or a typical one."""
    binding: dict[str, str] = {}
    if rule.for_each is None:
        return binding
    typical = {"oblasts": "BG421", "placement_types": "cnst"}
    for name in ("group", "measure"):
        selector = getattr(rule.for_each, name)
        if selector is None:
            continue
        if isinstance(selector, tuple):
            binding[name] = selector[0]
        elif selector == "present":
            binding[name] = "homeliness" if name == "measure" else "cnst"
        else:
            binding[name] = typical[selector]
    return binding


def resolve(spec: FigureSpec, binding: dict[str, str]) -> tuple[str, str, str, str]:
    group = {"{group}": binding.get("group"), "{scope}": "all"}.get(spec.group) or spec.group
    measure = spec.measure
    if measure == "{measure}":
        measure = binding["measure"]
    elif measure.startswith("@"):
        found = re.match(r"^@(first|latest)(?:-(\d+))?$", measure)
        offset = int(found.group(2) or 0)
        measure = str(2010 + offset if found.group(1) == "first" else LATEST_YEAR - offset)
    return spec.study, spec.table, group, measure


def step(x: float) -> float:
    return 3.0 if abs(x) >= 100 else max(0.2 * abs(x), 0.05)


def satisfy(test) -> tuple[float, float, float]:
    """A value and 95% CI for which every test holds."""
    if "beyond_horizon" in test:
        return math.nan, math.nan, math.nan
    low, high, equals = -math.inf, math.inf, None
    for op, x in test.items():
        if op in ("value_above", "value_at_least", "ci_above"):
            low = max(low, x)
        elif op in ("value_below", "value_at_most", "ci_below"):
            high = min(high, x)
        elif op == "value_equals":
            equals = x
    if equals is not None:
        value = equals
    elif math.isfinite(low) and math.isfinite(high):
        value = (low + high) / 2
    elif math.isfinite(low):
        value = low + step(low)
    elif math.isfinite(high):
        value = high - step(high)
    else:
        value = 1.0
    limits = [
        abs(value - x) for op, x in test.items() if op in ("ci_below", "ci_above", "ci_excludes")
    ]
    half = 0.5 * min(limits) if limits else max(0.05 * abs(value), 0.01)
    for op, x in test.items():
        if op == "ci_includes":
            half = max(half, abs(value - x) + 0.01)
    return value, value - half, value + half


def violate(test) -> tuple[float, float, float] | None:
    """A value and CI for which the first test fails (None: it cannot fail)."""
    for op, x in test.items():
        if op == "published":
            continue
        if op == "beyond_horizon":
            return 2024.0, 2022.0, 2026.0
        if op in ("value_below", "value_at_most", "ci_below"):
            value = x + step(x)
        elif op in ("value_above", "value_at_least", "ci_above"):
            value = x - step(x)
        elif op == "value_equals":
            value = x - 1
        else:  # ci_includes / ci_excludes: a narrow CI far from / around x
            value = x + 10 * step(x) if op == "ci_includes" else x
        half = 0.1 * step(x)
        return value, value - half, value + half
    return None


def violable(node) -> bool:
    if isinstance(node, Leaf | RatioLeaf):
        return any(op != "published" for op in node.test)
    if isinstance(node, AllOf):
        return any(violable(child) for child in node.children)
    return all(violable(child) for child in node.children)


class Tables:
    """Published rows keyed by (study, table, group, measure)."""

    def __init__(self, binding: dict[str, str]):
        self.binding = binding
        self.rows: dict[tuple[str, str, str, str], dict[str, object]] = {}

    def put(self, node, numbers, override: bool = True) -> None:
        value, low, high = numbers
        if isinstance(node, RatioLeaf):
            self._set(node.of, 1000 * value, math.nan, math.nan, override)
            self._set(node.to, 1000.0, math.nan, math.nan, override)
        else:
            self._set(node.figure, value, low, high, override)

    def _set(self, spec, value, low, high, override) -> None:
        key = resolve(spec, self.binding)
        if key in self.rows and not override:
            return
        self.rows[key] = {"n": 200, "value": value, "ci_low": low, "ci_high": high}

    def suppress(self, spec) -> tuple[str, str, str, str]:
        key = resolve(spec, self.binding)
        self.rows[key] = {"n": math.nan, "value": math.nan, "ci_low": math.nan, "ci_high": math.nan}
        self.rows[key]["suppressed"] = True
        return key

    def frames(self) -> dict[str, pd.DataFrame]:
        records: dict[str, list[dict[str, object]]] = {}
        for (study, table, group, measure), row in self.rows.items():
            records.setdefault(study, []).append(
                {
                    "table": table,
                    "group": group,
                    "measure": measure,
                    "suppressed": False,
                    **row,
                }
            )
        return {study: pd.DataFrame(rows)[COLUMNS] for study, rows in records.items()}


def build(node, tables: Tables, want: bool, override: bool = True) -> None:
    """Fill ``tables`` so that ``node`` is true (``want``) or false."""
    if isinstance(node, Leaf | RatioLeaf):
        numbers = satisfy(node.test) if want else violate(node.test)
        tables.put(node, numbers if numbers is not None else satisfy(node.test), override)
    elif isinstance(node, AllOf):
        if want:
            for child in node.children:
                build(child, tables, True, override)
        else:
            target = next(c for c in node.children if violable(c))
            build(target, tables, False, override)
            for child in node.children:
                if child is not target:
                    build(child, tables, True, override=False)
    else:  # AnyOf
        first, *rest = node.children
        build(first, tables, want, override)
        for child in rest:
            build(child, tables, False, override=False)


def tables_for(rule, want: bool) -> Tables:
    tables = Tables(binding_for(rule))
    build(rule.condition, tables, want)
    return tables


def only(rule) -> Catalogue:
    return Catalogue(rules=(rule,), studies=CATALOGUE.studies, source="test")


# --------------------------------------------------------------------------- the catalogue


def test_catalogue_rules_and_vocabulary():
    """The rules themselves are checked, not how many there are (a catalogue may grow)."""
    assert RULES  # each rule triggers, does not trigger, is unknown when hidden: tests below
    assert len(set(IDS)) == len(IDS)
    assert {rule.actor for rule in RULES} <= set(ACTORS)
    assert {rule.design for rule in RULES} <= set(DESIGNS)
    # the catalogue covers every actor and every design
    assert {rule.actor for rule in RULES} == set(ACTORS)
    assert {rule.design for rule in RULES} == set(DESIGNS)


def test_catalogue_figures_name_known_tables():
    for rule in RULES:
        for leaf in leaves(rule.condition):
            for spec in leaf.specs:
                assert spec.table in CATALOGUE.studies[spec.study], rule.id


# --------------------------------------------------------------------------- every rule


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_rule_triggers(rule):
    tables = tables_for(rule, want=True)
    result = evaluate_all(only(rule), tables.frames())
    assert list(result.triggered["rule_id"]) == [rule.id]
    assert result.not_evaluable.empty
    row = result.triggered.iloc[0]
    assert row["actor"] == rule.actor and row["design"] == rule.design
    assert row["grade"] in ("high", "moderate", "low", "very low")
    assert EVIDENCE.match(row["evidence"])
    cited = {tuple(key.split(":")) for key in row["evidence"].split(";")}
    assert cited <= set(tables.rows)


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_rule_does_not_trigger(rule):
    tables = tables_for(rule, want=False)
    result = evaluate_all(only(rule), tables.frames())
    assert result.triggered.empty
    assert result.not_evaluable.empty


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_rule_on_suppressed_figure_is_not_evaluable(rule):
    tables = tables_for(rule, want=True)
    first = next(leaves(rule.condition))
    key = tables.suppress(first.specs[0])
    result = evaluate_all(only(rule), tables.frames())
    assert result.triggered.empty
    assert list(result.not_evaluable["rule_id"]) == [rule.id]
    row = result.not_evaluable.iloc[0]
    assert ":".join(key) in row["figures"].split(";")
    assert "suppressed" in row["reasons"].split(";")


@pytest.mark.parametrize("language", ["bg", "en"])
@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_texts_render_in_both_languages(rule, language):
    result = evaluate_all(only(rule), tables_for(rule, want=True).frames(), language=language)
    row = result.triggered.iloc[0]
    for column in ("title", "text", "rationale", "grade_reasons", "grade_label", "actor_label"):
        assert row[column].strip(), column
        assert "{" not in row[column] and "}" not in row[column], (column, row[column])
    if language == "bg":
        assert CYRILLIC.search(row["text"]) and CYRILLIC.search(row["grade_reasons"])
    else:
        assert re.search(r"[A-Za-z]{4}", row["text"])


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_not_evaluable_without_the_study(rule):
    result = evaluate_all(only(rule), {})
    assert result.triggered.empty
    assert result.not_evaluable["reasons"].str.contains("study_missing").all()


# --------------------------------------------------------------------------- engine behaviour


def difference(group: str, measure: str, value: float, low: float, high: float, **extra):
    return {
        "table": "difference_vs_reference",
        "group": group,
        "measure": measure,
        "n": extra.get("n", 200),
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "suppressed": extra.get("suppressed", False),
    }


def hidden(table: str, group: str, measure: str) -> dict[str, object]:
    return {
        "table": table,
        "group": group,
        "measure": measure,
        "n": math.nan,
        "value": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "suppressed": True,
    }


def test_any_cites_only_the_shown_true_part():
    rule = CATALOGUE["institution-quality-gap"]
    frame = pd.DataFrame(
        [
            hidden("difference_vs_reference", "institution", "homeliness"),
            difference("institution", "relationships", -15.0, -20.0, -10.0),
        ]
    )
    result = evaluate_all(only(rule), {"qol": frame})
    assert result.triggered["evidence"].tolist() == [
        "qol:difference_vs_reference:institution:relationships"
    ]


def test_all_with_a_false_part_is_false_even_if_another_is_suppressed():
    rule = CATALOGUE["zero-three-entries-not-falling"]
    frame = pd.DataFrame(
        [
            {
                "table": "its_residential_entries_0_3",
                "group": "residential_0_3",
                "measure": "level_change",
                "n": 500,
                "value": 0.5,
                "ci_low": 0.4,
                "ci_high": 0.6,
                "suppressed": False,
            },
            hidden("its_residential_entries_0_3", "residential_0_3", "slope_change_per_year"),
        ]
    )
    result = evaluate_all(only(rule), {"placements": frame})
    assert result.triggered.empty and result.not_evaluable.empty


def test_missing_and_valueless_figures_are_not_evaluable():
    rule = CATALOGUE["cnst-homeliness"]
    missing = evaluate_all(
        only(rule), {"qol": pd.DataFrame([difference("kinship", "safety", 1, 0, 2)])}
    )
    assert missing.not_evaluable["reasons"].tolist() == ["missing"]
    valueless = pd.DataFrame([difference("cnst", "homeliness", math.nan, math.nan, math.nan)])
    result = evaluate_all(only(rule), {"qol": valueless})
    assert result.not_evaluable["reasons"].tolist() == ["no_value"]
    assert result.triggered.empty


def test_missing_interval_makes_a_ci_test_not_evaluable():
    rule = CATALOGUE["cnst-homeliness"]
    frame = pd.DataFrame([difference("cnst", "homeliness", -9.0, math.nan, math.nan)])
    result = evaluate_all(only(rule), {"qol": frame})
    assert result.not_evaluable["reasons"].tolist() == ["no_interval"]


def test_not_evaluable_sentence_names_the_figure_without_a_value():
    rule = CATALOGUE["cnst-homeliness"]
    frame = pd.DataFrame([hidden("difference_vs_reference", "cnst", "homeliness")])
    result = evaluate_all(only(rule), {"qol": frame}, language="bg")
    sentence = result.not_evaluable["text"].iloc[0]
    assert "Усещане за дом" in sentence and "скрито" in sentence


def test_beyond_horizon_projection_triggers():
    rule = CATALOGUE["zero-three-projection"]
    frame = pd.DataFrame(
        [
            {
                "table": "projection_0_3_residential",
                "group": "residential_0_3",
                "measure": "target_year",
                "n": 120,
                "value": math.nan,
                "ci_low": math.nan,
                "ci_high": math.nan,
                "suppressed": False,
            }
        ]
    )
    result = evaluate_all(only(rule), {"placements": frame})
    assert result.triggered["rule_id"].tolist() == ["zero-three-projection"]
    assert result.triggered["grade"].tolist() == ["very low"]


def oblast_rows(codes_lagging: dict[str, int]) -> pd.DataFrame:
    rows = []
    for code, flag in codes_lagging.items():
        rows.append(("foster_growth", code, "growth_ratio", 80, 1.1, 0.9, 1.3))
        relative = (0.5, 0.3, 0.8) if flag else (1.0, 0.8, 1.2)
        rows.append(("foster_growth", code, "relative_growth", 80, *relative))
        rows.append(("foster_growth", code, "lagging", 80, float(flag), math.nan, math.nan))
    frame = pd.DataFrame(rows, columns=COLUMNS[:-1])
    frame["suppressed"] = False
    return frame


def test_for_each_over_oblasts_and_scope():
    rule = CATALOGUE["foster-lagging-oblast"]
    frames = {"placements": oblast_rows({"BG421": 1, "BG311": 1, "BG411": 0})}
    national = evaluate_all(only(rule), frames)
    assert sorted(national.triggered["group"]) == ["BG311", "BG421"]
    plovdiv = evaluate_all(only(rule), frames, scope="Пловдив")
    assert plovdiv.triggered["group"].tolist() == ["BG421"]
    assert "Пловдив" in plovdiv.triggered["text"].iloc[0]


def test_for_each_over_groups_and_measures():
    rule = CATALOGUE["residential-wave-decline"]
    frame = pd.DataFrame(
        [
            {**difference("cnst", "safety", -8.0, -12.0, -4.0), "table": "wave_change"},
            {**difference("cnst", "homeliness", -1.0, -4.0, 2.0), "table": "wave_change"},
            {**difference("institution", "safety", -9.0, -14.0, -4.0), "table": "wave_change"},
        ]
    )
    result = evaluate_all(only(rule), {"qol": frame})
    pairs = sorted(zip(result.triggered["group"], result.triggered["measure"], strict=True))
    assert pairs == [("cnst", "safety"), ("institution", "safety")]
    # pairs absent from the table are listed as unknown, not triggered
    assert set(result.not_evaluable["reasons"]) == {"missing"}


def test_ratio_of_counts_uses_the_selected_years():
    rule = CATALOGUE["prevention-entries-not-falling"]
    years = {str(y): 1000 - 5 * (y - 2010) for y in range(2010, 2021)}
    frame = pd.DataFrame(
        [("entries_by_year", "all", y, c, float(c), math.nan, math.nan) for y, c in years.items()],
        columns=COLUMNS[:-1],
    )
    frame["suppressed"] = False
    result = evaluate_all(only(rule), {"placements": frame})
    assert result.triggered["evidence"].tolist() == [
        "placements:entries_by_year:all:2020;placements:entries_by_year:all:2015"
    ]


def test_results_are_ordered_by_grade_then_catalogue():
    rules = (CATALOGUE["cnst-homeliness"], CATALOGUE["cnst-participation"])
    frame = pd.DataFrame(
        [
            difference("cnst", "homeliness", -6.0, -9.0, -3.0),  # imprecise: very low
            difference("cnst", "participation", -9.0, -12.0, -6.0),  # precise: low
        ]
    )
    result = evaluate(Catalogue(rules=rules, studies=CATALOGUE.studies), {"qol": frame})
    assert result["rule_id"].tolist() == ["cnst-participation", "cnst-homeliness"]
    assert result["grade"].tolist() == ["low", "very low"]


def test_evaluate_attrs_hold_what_we_do_not_know():
    frame = pd.DataFrame([difference("cnst", "homeliness", -9.0, -12.0, -6.0)])
    result = evaluate(CATALOGUE, {"qol": frame})
    unknown = pd.DataFrame(result.attrs["not_evaluable"])
    assert "cnst-participation" in set(unknown["rule_id"])
    assert "reunification-within-12m" in set(unknown["rule_id"])
    pd.concat([result, result])  # attrs stay plain data: frames can still be combined


def test_replications_change_the_grade_through_the_engine():
    rule = CATALOGUE["institution-quality-gap"]
    frame = pd.DataFrame([difference("institution", "homeliness", -20.0, -26.0, -14.0)])
    alone = evaluate_all(only(rule), {"qol": frame})
    same = {"BG311": {"qol": pd.DataFrame([difference("institution", "homeliness", -15, -25, -5)])}}
    replicated = evaluate_all(only(rule), {"qol": frame}, context=GradingContext(replications=same))
    assert alone.triggered["grade"].tolist() == ["low"]
    # a survey difference is never raised for its size (GRADE: plausible confounding) ...
    assert replicated.triggered["grade"].tolist() == ["low"]
    # ... but replications that disagree lower it
    differ = {
        code: {"qol": pd.DataFrame([difference("institution", "homeliness", 6, 1, 11)])}
        for code in ("BG311", "BG312", "BG313")
    }
    lowered = evaluate_all(only(rule), {"qol": frame}, context=GradingContext(replications=differ))
    assert lowered.triggered["grade"].tolist() == ["very low"]


def test_unknown_language_and_bad_frames_are_refused():
    frame = pd.DataFrame([difference("cnst", "homeliness", -9.0, -12.0, -6.0)])
    with pytest.raises(InputError, match="unknown language"):
        evaluate_all(CATALOGUE, {"qol": frame}, language="de")
    with pytest.raises(InputError, match="lack the column"):
        evaluate_all(CATALOGUE, {"qol": frame.drop(columns="ci_low")})


# --------------------------------------------------------------------------- recommendations.csv


def test_recommendations_csv_has_exactly_five_columns(tmp_path):
    frames: dict[str, list[pd.DataFrame]] = {}
    for rule in RULES:
        for study, frame in tables_for(rule, want=True).frames().items():
            frames.setdefault(study, []).append(frame)
    published = {
        study: pd.concat(parts).drop_duplicates(["table", "group", "measure"])
        for study, parts in frames.items()
    }
    triggered = evaluate(CATALOGUE, published)
    assert len(triggered) >= len(RULES) - 2
    path = recommendations_csv(triggered, tmp_path)
    assert path == tmp_path / "recommendations.csv"
    written = pd.read_csv(path, encoding="utf-8", dtype=str, keep_default_na=False)
    assert tuple(written.columns) == RECOMMENDATION_COLUMNS
    assert len(written) == len(triggered)
    assert written["evidence"].map(lambda e: bool(EVIDENCE.match(e))).all()
    assert written["text"].map(lambda t: bool(CYRILLIC.search(t))).all()


def test_recommendations_csv_empty_and_refuses_other_frames(tmp_path):
    empty = evaluate(CATALOGUE, {})
    path = recommendations_csv(empty, tmp_path / "recommendations.csv")
    assert path.read_text(encoding="utf-8").strip() == ",".join(RECOMMENDATION_COLUMNS)
    with pytest.raises(InputError, match="lack the column"):
        recommendations_csv(pd.DataFrame({"rule_id": ["x"]}), tmp_path / "x.csv")


def test_runs_on_a_real_published_file():
    path = ROOT / "reports" / "qol" / "all" / "published.csv"
    if not path.exists():
        pytest.skip("no national QoL report has been run")
    published = {"qol": read_published(path)}
    result = evaluate_all(CATALOGUE, published, language="en")
    suppressed = published["qol"][published["qol"]["suppressed"]]
    hidden_keys = {
        f"qol:{t}:{g}:{m}"
        for t, g, m in suppressed[["table", "group", "measure"]].itertuples(index=False)
    }
    for evidence in result.triggered["evidence"]:
        assert not set(evidence.split(";")) & hidden_keys


# --------------------------------------------------------------------------- malformed rules

VALID_RULE = yaml.safe_load(
    """
id: cnst-participation
title: {bg: "Участие", en: "Participation"}
condition:
  figure: {study: qol, table: difference_vs_reference, group: cnst, measure: participation}
  test: {value_below: -5, ci_below: 0}
recommendation: {bg: "Децата в ЦНСТ: {magnitude} точки.", en: "Children: {magnitude} points."}
actor: provider
evidence_needed: {bg: "Разлика.", en: "Difference."}
design: cross_sectional
importance: {scale: points, mid: 5}
rationale: {bg: "Защото.", en: "Because."}
"""
)


def catalogue_with(rule: dict) -> dict:
    return {"studies": {k: list(v) for k, v in CATALOGUE.studies.items()}, "rules": [rule]}


def mutated(change) -> dict:
    rule = copy.deepcopy(VALID_RULE)
    change(rule)
    return catalogue_with(rule)


def test_valid_rule_parses():
    catalogue = parse_catalogue(catalogue_with(copy.deepcopy(VALID_RULE)))
    assert catalogue.ids == ("cnst-participation",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["condition"]["figure"].pop("table"),
            "rule cnst-participation: key 'condition.figure.table' is missing",
        ),
        (
            lambda r: r["condition"]["test"].update({"value_bellow": 3}),
            "rule cnst-participation: key 'condition.test.value_bellow' is not a known test",
        ),
        (
            lambda r: r["condition"]["figure"].update({"table": "means"}),
            "rule cnst-participation: key 'condition.figure.table' has unknown value 'means'",
        ),
        (
            lambda r: r.update({"actor": "ministry"}),
            "rule cnst-participation: key 'actor' has unknown value 'ministry'",
        ),
        (
            lambda r: r.update({"design": "randomised"}),
            "rule cnst-participation: key 'design' has unknown value 'randomised'",
        ),
        (lambda r: r.pop("rationale"), "rule cnst-participation: key 'rationale' is missing"),
        (lambda r: r["title"].pop("en"), "rule cnst-participation: key 'title.en' is missing"),
        (
            lambda r: r["title"].update({"bg": "Participation"}),
            "rule cnst-participation: key 'title.bg' must be in Bulgarian",
        ),
        (
            lambda r: r["recommendation"].update({"en": "Children: {valu}."}),
            "rule cnst-participation: key 'recommendation.en' uses unknown placeholder '{valu}'",
        ),
        (
            lambda r: r.update({"recomendation": r["recommendation"]}),
            "rule cnst-participation: key 'recomendation' is not a known key",
        ),
        (
            lambda r: r["condition"]["figure"].update({"study": "survey"}),
            "rule cnst-participation: key 'condition.figure.study' has unknown value 'survey'",
        ),
        (
            lambda r: r["condition"]["figure"].update({"group": "{group}"}),
            "rule cnst-participation: key 'for_each.group' is missing",
        ),
        (
            lambda r: r.update({"for_each": {"group": "regions"}}),
            "rule cnst-participation: key 'for_each.group' has unknown value 'regions'",
        ),
        (
            lambda r: r["importance"].update({"scale": "percent"}),
            "rule cnst-participation: key 'importance.scale' has unknown value 'percent'",
        ),
        (
            lambda r: r["importance"].update({"mid": -5}),
            "rule cnst-participation: key 'importance.mid' must be a positive number",
        ),
        (
            lambda r: r["condition"]["test"].update({"ci_below": "zero"}),
            "rule cnst-participation: key 'condition.test.ci_below' must be a number",
        ),
        (
            lambda r: r["condition"]["figure"].update({"measure": "@last"}),
            "rule cnst-participation: key 'condition.figure.measure' has an unknown selector",
        ),
        (
            lambda r: r.update(
                {
                    "condition": {
                        "all": [
                            r["condition"],
                            {
                                "figure": {"study": "qol", "table": "sample", "group": "all"},
                                "test": {"published": True},
                            },
                        ]
                    }
                }
            ),
            "rule cnst-participation: key 'condition.all[1].figure.measure' is missing",
        ),
        (
            lambda r: r.update({"condition": {"some": []}}),
            "rule cnst-participation: key 'condition' must hold exactly one of figure, ratio, all, any",
        ),
        (lambda r: r.update({"id": "Bad Id"}), "rule Bad Id: key 'id' must be lower-case"),
        (lambda r: r.pop("id"), "rule #1: key 'id' is missing"),
    ],
)
def test_malformed_rules_name_rule_and_key(change, message):
    with pytest.raises(CatalogueError) as error:
        parse_catalogue(mutated(change))
    assert str(error.value).startswith(message), str(error.value)


def test_duplicate_ids_and_missing_studies_are_refused():
    data = catalogue_with(copy.deepcopy(VALID_RULE))
    data["rules"].append(copy.deepcopy(VALID_RULE))
    with pytest.raises(CatalogueError, match="rule cnst-participation: key 'id' is duplicated"):
        parse_catalogue(data)
    with pytest.raises(CatalogueError, match="key 'studies' is missing"):
        parse_catalogue({"rules": [copy.deepcopy(VALID_RULE)]})


def test_a_new_rule_needs_only_yaml(tmp_path):
    text = (Path(CATALOGUE.source)).read_text(encoding="utf-8")
    extra = """
  - id: kinship-emotional-support
    title: {bg: "Подкрепа за роднините", en: "Support for kinship carers"}
    condition:
      figure: {study: qol, table: difference_vs_reference, group: kinship, measure: emotional}
      test: {value_below: -5}
    recommendation:
      bg: "Децата при роднини: {magnitude} точки по-ниско. Да се осигури подкрепа."
      en: "Children in kinship care: {magnitude} points lower. Provide support."
    actor: municipality
    evidence_needed: {bg: "Разлика.", en: "Difference."}
    design: cross_sectional
    importance: {scale: points, mid: 5}
    rationale: {bg: "Роднините често са възрастни хора.", en: "Kinship carers are often elderly."}
"""
    path = tmp_path / "catalogue.yaml"
    path.write_text(text + extra, encoding="utf-8")
    catalogue = load_catalogue(path)
    assert catalogue.ids[-1] == "kinship-emotional-support"
    frame = pd.DataFrame([difference("kinship", "emotional", -7.0, -10.0, -4.0)])
    result = evaluate(catalogue, {"qol": frame}, language="en")
    assert result["text"].tolist() == [
        "Children in kinship care: 7.0 points lower. Provide support."
    ]


def test_malformed_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="broken.yaml"):
        load_catalogue(path)
    with pytest.raises(CatalogueError, match="file not found"):
        load_catalogue(tmp_path / "absent.yaml")


def test_a_whole_missing_table_is_not_evaluable_in_words():
    rule = CATALOGUE["residential-safety"]
    frame = pd.DataFrame([difference("cnst", "homeliness", -9.0, -12.0, -6.0)]).assign(
        table="wave_change"
    )
    result = evaluate_all(only(rule), {"qol": frame}, language="en")
    row = result.not_evaluable.iloc[0]
    assert row["reasons"] == "missing"
    assert "{" not in row["text"] and "difference from the reference group" in row["text"]


# --------------------------------------------------------------------------- evidence rules


#: Tables whose figures are counts or ratios of counts of placements: they show
#: what happened, not which services exist or work.
COUNT_TABLES = {"entries_by_year", "in_care_by_year", "entries_0_3_residential_by_year"}
SERVICE_WORDS = ("prevention services", "services should be expanded", "expand")


def test_rules_recommending_services_on_counts_alone_are_indirect():
    """Issue 10: "expand prevention services" rests on a ratio of entry counts - indirect."""
    assert CATALOGUE["prevention-entries-not-falling"].indirect
    for rule in RULES:
        tables = {spec.table for leaf in leaves(rule.condition) for spec in leaf.specs}
        words = rule.recommendation.get("en").lower()
        if tables <= COUNT_TABLES and any(w in words for w in SERVICE_WORDS):
            assert rule.indirect, rule.id


def test_every_flag_is_cited_with_its_estimate_and_an_importance():
    """A flag (scale 'flag') never stands alone: its estimate with a CI test and an MID is cited."""
    for rule in RULES:
        found = list(leaves(rule.condition))
        flags = [leaf for leaf in found if leaf.importance and leaf.importance.scale == "flag"]
        if not flags:
            continue
        graded = [
            leaf
            for leaf in found
            if leaf.importance
            and leaf.importance.graded
            and any(key.startswith("ci_") for key in leaf.test)
        ]
        assert graded, rule.id


def test_zero_three_wording_matches_what_was_modelled():
    """The projection models the year-end stock, so the rule speaks of children *in* care."""
    rule = CATALOGUE["zero-three-projection"]
    for language, stock in (("en", "on 31 December"), ("bg", "към 31 декември")):
        words = rule.recommendation.get(language)
        assert stock in words
        assert "enters residential care" not in words and "не постъпва" not in words
        assert stock.split()[-1] in rule.evidence_needed.get(language)
    young = CATALOGUE["zero-three-entries-not-falling"].recommendation.get("en")
    assert "not fallen" not in young  # an uncertain estimate is not "no fall"


def test_shares_are_printed_with_the_precision_their_interval_needs():
    """Issue 10: never "4% (95% CI 4% to 4%)" - decimals are added until the three numbers differ."""
    rule = CATALOGUE["family-based-share-low"]
    frame = pd.DataFrame(
        [("family_based_share", "BG311", "share", 2400, 0.0412, 0.0381, 0.0445)],
        columns=COLUMNS[:-1],
    )
    frame["suppressed"] = False
    result = evaluate_all(only(rule), {"placements": frame}, language="en")
    words = result.triggered["text"].iloc[0]
    assert "4.1%" in words and "3.8% to 4.5%" in words
    assert "4% to 4%" not in words
    wide = frame.assign(value=0.256, ci_low=0.20, ci_high=0.31)
    words = evaluate_all(only(rule), {"placements": wide}, language="en").triggered["text"].iloc[0]
    assert "26%" in words and "20% to 31%" in words  # a wide interval keeps whole percentages


@pytest.mark.parametrize(
    ("value", "low", "high", "scale", "digits"),
    [
        (0.0412, 0.0381, 0.0445, "share", 1),
        (0.256, 0.20, 0.31, "share", 0),
        (0.0401, 0.0400, 0.0402, "share", 2),  # at most two more decimals
        (0.981, 0.9794, 0.9826, "ratio", 3),
        (-8.0, -11.0, -6.0, "points", 1),
        (0.0, 0.0, 0.012, "share", 0),  # an estimate equal to its limit may print alike
        (2031.0, 2029.0, 2034.0, "years", 0),
        (0.05, math.nan, math.nan, "share", 0),
    ],
)
def test_estimate_digits(value, low, high, scale, digits):
    from research_lib.studies.brief.grading import estimate_digits

    assert estimate_digits(value, low, high, scale) == digits


# --------------------------------------------------------------------------- association, not effect

#: Words that would read a cross-sectional difference as an effect of the kind of care.
CAUSAL = re.compile(r"ефект|причин|въздейств|\beffect|\bcaus|\bimpact", re.IGNORECASE)


@pytest.mark.parametrize("language", ["bg", "en"])
def test_cross_sectional_rules_word_differences_and_name_the_adjustment(language):
    """Issue 10 item 7: a survey comparison is a difference between groups at one time,
    never an effect, and its text says what it is adjusted for ({adjusted}, filled from
    the study's published adjusted_for rows)."""
    survey = [rule for rule in RULES if rule.design == "cross_sectional"]
    assert survey
    for rule in survey:
        for field_ in ("title", "recommendation", "rationale", "evidence_needed"):
            words = getattr(rule, field_).get(language)
            assert not CAUSAL.search(words), (rule.id, field_, words)
        specs = [spec for leaf in leaves(rule.condition) for spec in leaf.specs]
        if any(spec.table == "difference_vs_reference" for spec in specs):
            words = rule.recommendation.get(language)
            assert "{adjusted}" in words, rule.id
            assert ("разлика между" if language == "bg" else "a difference between") in words


@pytest.mark.parametrize("language", ["bg", "en"])
def test_adjustment_in_the_text_comes_from_the_published_rows(language):
    rule = CATALOGUE["cnst-homeliness"]
    frame = pd.DataFrame(
        [
            ("difference_vs_reference", "cnst", "homeliness", 200, -9.0, -12.0, -6.0),
            ("adjusted_for", "all", "age", 600, 1.0, math.nan, math.nan),
            ("adjusted_for", "all", "sex", 600, 1.0, math.nan, math.nan),
            ("adjusted_for", "all", "disability", 600, 1.0, math.nan, math.nan),
        ],
        columns=COLUMNS[:-1],
    ).assign(suppressed=False)
    words = evaluate_all(only(rule), {"qol": frame}, language=language).triggered["text"].iloc[0]
    expected = {
        "bg": "при корекция за възраст, пол и увреждане",
        "en": "adjusted for age, sex and disability",
    }
    assert expected[language] in words
    silent = frame[frame["table"] != "adjusted_for"]
    words = evaluate_all(only(rule), {"qol": silent}, language=language).triggered["text"].iloc[0]
    assert ("възраст" if language == "bg" else "age and sex") not in words  # never assumed


def test_grading_texts_call_no_difference_an_effect():
    """The reasons of a grade (GRADE's "large effect" upgrade included) say "difference"."""
    texts = yaml.safe_load(
        (Path(__file__).parents[2] / "research_lib/render/grading.yaml").read_text(encoding="utf-8")
    )
    for key, entry in texts["reason"].items():
        for language in ("bg", "en"):
            assert not CAUSAL.search(entry[language]), (key, entry[language])
    assert "голяма разлика" in texts["reason"]["large_effect"]["bg"]


# --------------------------------------------------------------------------- published counts (issue 12)


def stock_rows(group: str, stocks: dict[str, float]) -> list[tuple]:
    """Published stocks at their reference dates, as the placement study publishes counts."""
    return [
        ("in_care_at_date", group, date, v, v, math.nan, math.nan) for date, v in stocks.items()
    ]


def counts_frame(rows: list[tuple], sources: int | None = None, disagree: int = 0) -> pd.DataFrame:
    if sources is not None:
        rows = rows + [
            ("count_sources", "all", "sources", 20, float(sources), math.nan, math.nan),
            ("count_sources", "all", "disagreements", 20, float(disagree), math.nan, math.nan),
        ]
    frame = pd.DataFrame(rows, columns=COLUMNS[:-1])
    frame["suppressed"] = False
    return frame


INSTITUTION = {"2007": 8019, "2011-12-31": 4755, "2014-12": 2721, "2017": 900, "2018-10": 681}


def test_selectors_read_reference_dates_by_calendar_year():
    """@latest is the latest date, @latest-5 the figure of 5 calendar years earlier (any date in it)."""
    rule = CATALOGUE["institution-decline-slow"]
    slow = counts_frame(stock_rows("institution", {**INSTITUTION, "2023-12-31": 500}))
    result = evaluate_all(only(rule), {"placements": slow})
    assert result.triggered["evidence"].tolist() == [
        "placements:in_care_at_date:institution:2023-12-31;"
        "placements:in_care_at_date:institution:2018-10"
    ]
    text_bg = result.triggered["text"].iloc[0]
    assert "31.12.2023 г." in text_bg and "октомври 2018 г." in text_bg
    fast = counts_frame(stock_rows("institution", {**INSTITUTION, "2023-12-31": 202}))
    result = evaluate_all(only(rule), {"placements": fast})
    assert result.triggered.empty and result.not_evaluable.empty  # 202/681: more than halved
    gap = counts_frame(stock_rows("institution", {"2015-12-31": 2000, "2023-12-31": 202}))
    result = evaluate_all(only(rule), {"placements": gap})
    assert result.triggered.empty
    assert result.not_evaluable["reasons"].str.contains("missing").all()  # no figure for 2018


def test_a_stock_without_a_stated_date_is_named_so():
    rule = CATALOGUE["institution-children-remaining"]
    frame = counts_frame(stock_rows("institution", {"2007": 8019, "2017": 900}))
    for language, words in (
        ("bg", "2017 г. (без посочена дата)"),
        ("en", "2017 (date not stated)"),
    ):
        row = evaluate_all(only(rule), {"placements": frame}, language=language).triggered.iloc[0]
        assert words in row["text"]
        assert "{" not in row["text"]


def test_rules_on_published_counts_leave_episode_figures_alone():
    """An episodes study publishes in_care_by_year, not in_care_at_date: the count rules do not apply."""
    counts_rules = {r.id for r in RULES if r.applies_if_published}
    assert counts_rules == {
        "institution-children-remaining",
        "institution-decline-slow",
        "family-care-stock-falling",
    }
    episodes = pd.DataFrame(
        [("in_care_by_year", "institution", "2020", 300, 300.0, math.nan, math.nan)],
        columns=COLUMNS[:-1],
    ).assign(suppressed=False)
    result = evaluate_all(CATALOGUE, {"placements": episodes})
    listed = set(result.triggered["rule_id"]) | set(result.not_evaluable["rule_id"])
    assert not listed & counts_rules
    # without the placement study at all they are unknown like every other rule on it
    absent = evaluate_all(CATALOGUE, {})
    assert counts_rules <= set(absent.not_evaluable["rule_id"])


@pytest.mark.parametrize("language", ["bg", "en"])
def test_counts_from_mixed_sources_are_graded_lower_and_say_why(language):
    rule = CATALOGUE["institution-children-remaining"]
    stocks = stock_rows("institution", {"2010": 7587, "2023-12-31": 202})
    one = evaluate_all(only(rule), {"placements": counts_frame(stocks, 1)}, language=language)
    mixed = evaluate_all(only(rule), {"placements": counts_frame(stocks, 15, 4)}, language=language)
    assert one.triggered["grade"].tolist() == ["low"]  # published counts start low
    assert mixed.triggered["grade"].tolist() == ["very low"]  # mixed sources: one level less
    reasons = mixed.triggered["grade_reasons"].iloc[0]
    if language == "bg":
        assert "публикувани" in reasons and "15 различни публикувани източника" in reasons
        assert "разминават за 4" in reasons
    else:
        assert "copied as published" in reasons and "15 different published sources" in reasons
        assert "disagree on 4" in reasons


def test_family_care_falling_per_type_with_both_dates():
    rule = CATALOGUE["family-care-stock-falling"]
    frame = counts_frame(
        stock_rows("foster", {"2013-12-31": 1943, "2014-12-31": 2275, "2023-10-31": 1548})
        + stock_rows("kinship", {"2014-12-31": 6751, "2023-10-31": 4057})
        + stock_rows("cnst", {"2018": 2952})
    )
    result = evaluate_all(only(rule), {"placements": frame}, language="en")
    assert result.triggered["group"].tolist() == ["foster", "kinship"]
    foster = result.triggered.iloc[0]
    assert "31 October 2023" in foster["text"] and "31 December 2013" in foster["text"]
    assert "0.80 times" in foster["text"]
    assert foster["grade"] == "very low"  # published counts (low), indirect (-1)
    growing = counts_frame(stock_rows("foster", {"2013-12-31": 1943, "2023-10-31": 2300}))
    assert evaluate_all(only(rule), {"placements": growing}).triggered.empty
