"""Evidence-graded policy recommendations: catalogue of rules and the engine that applies them.

Rules are data, the engine is code. ``catalogue.yaml`` beside this module
holds the rules (its header comments describe the rule language); this module

1. reads and checks the catalogue (:func:`load_catalogue`) - a malformed rule
   raises a :class:`CatalogueError` naming the rule and the key;
2. evaluates every rule against the ``published.csv`` frames of the studies
   (:func:`evaluate`, :func:`evaluate_all`) - a rule triggers only on shown
   figures: a condition on a suppressed or missing figure is *not evaluable*
   and is reported as "what we don't know", never as a recommendation;
3. grades each triggered recommendation (:mod:`.grading`) and renders its text
   in Bulgarian or English;
4. writes ``recommendations.csv`` (:func:`recommendations_csv`).

The brief reads only ``published.csv`` files; so does the engine.

Examples
--------
>>> import pandas as pd
>>> published = {"qol": pd.DataFrame({
...     "table": "difference_vs_reference", "group": "cnst", "measure": ["homeliness"],
...     "n": [320], "value": [-9.0], "ci_low": [-12.5], "ci_high": [-5.5],
...     "suppressed": [False]})}
>>> triggered = evaluate(load_catalogue(), published)
>>> triggered[["rule_id", "actor", "grade", "evidence"]]
          rule_id     actor grade                                       evidence
0  cnst-homeliness  provider   low  qol:difference_vs_reference:cnst:homeliness
>>> len(triggered.attrs["not_evaluable"]) > 0   # e.g. every rule on the placements study
True
"""

from __future__ import annotations

import itertools
import math
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from research_lib.errors import InputError
from research_lib.io.csv_out import write_csv
from research_lib.io.oblasts import NATIONAL, load_oblasts, oblast_name, resolve_scope
from research_lib.io.vocab import PLACEMENT_TYPES
from research_lib.render.labels import check_language, has_text, text
from research_lib.studies.brief.grading import (
    DESIGNS,
    LEVELS,
    SCALES,
    Figure,
    GradingContext,
    Importance,
    adjusted_phrase,
    date_words,
    estimate_digits,
    figure_label,
    format_value,
    grade,
    group_text,
    measure_text,
    phrase,
    table_text,
)

__all__ = [
    "CATALOGUE_PATH",
    "ACTORS",
    "TEST_OPS",
    "FOR_EACH_KEYWORDS",
    "TEXT_PLACEHOLDERS",
    "RECOMMENDATION_COLUMNS",
    "TRIGGERED_COLUMNS",
    "NOT_EVALUABLE_COLUMNS",
    "CatalogueError",
    "Text",
    "FigureSpec",
    "Leaf",
    "RatioLeaf",
    "AllOf",
    "AnyOf",
    "ForEach",
    "Rule",
    "Catalogue",
    "Evaluation",
    "load_catalogue",
    "parse_catalogue",
    "leaves",
    "evaluate",
    "evaluate_all",
    "recommendations_csv",
]

#: The default catalogue, shipped with the package.
CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
#: Who is to act on a recommendation.
ACTORS: tuple[str, ...] = ("national", "oblast", "municipality", "provider")
#: Tests a condition may apply to a figure (all tests of one ``test:`` must hold).
TEST_OPS: dict[str, str] = {
    "value_below": "value < x",
    "value_above": "value > x",
    "value_at_most": "value <= x",
    "value_at_least": "value >= x",
    "value_equals": "value == x",
    "ci_below": "the whole 95% CI below x (ci_high < x)",
    "ci_above": "the whole 95% CI above x (ci_low > x)",
    "ci_excludes": "x outside the 95% CI",
    "ci_includes": "x inside the 95% CI",
    "published": "true: the figure is shown with a value",
    "beyond_horizon": "true: shown without a value (a projection beyond its horizon)",
}
#: Keywords of ``for_each`` (besides an explicit list of labels).
FOR_EACH_KEYWORDS: tuple[str, ...] = ("oblasts", "placement_types", "present")
#: Placeholders a rule's texts may use.
TEXT_PLACEHOLDERS: tuple[str, ...] = (
    "value",
    "magnitude",
    "ci_low",
    "ci_high",
    "n",
    "group",
    "group_label",
    "group_phrase",
    "measure",
    "measure_label",
    "scope_label",
    "adjusted",
    "date",
    "since",
)
#: The columns of ``recommendations.csv``, in this order.
RECOMMENDATION_COLUMNS: tuple[str, ...] = ("rule_id", "actor", "grade", "text", "evidence")
#: The columns of the frame of triggered recommendations.
TRIGGERED_COLUMNS: tuple[str, ...] = (
    "rule_id",
    "group",
    "measure",
    "actor",
    "actor_label",
    "design",
    "grade",
    "grade_label",
    "grade_reasons",
    "title",
    "text",
    "rationale",
    "evidence",
)
#: The columns of the "what we don't know" frame.
NOT_EVALUABLE_COLUMNS: tuple[str, ...] = (
    "rule_id",
    "group",
    "measure",
    "actor",
    "title",
    "figures",
    "reasons",
    "text",
)

_FLAG_OPS = ("published", "beyond_horizon")
_RULE_REQUIRED = (
    "id",
    "title",
    "condition",
    "recommendation",
    "actor",
    "evidence_needed",
    "design",
    "importance",
    "rationale",
)
_RULE_OPTIONAL = ("indirect", "for_each", "applies_if_published")
_FIGURE_KEYS = ("study", "table", "group", "measure")
_IMPORTANCE_KEYS = ("scale", "mid", "baseline")
_SELECTOR = re.compile(r"^@(first|latest(-(\d+))?)$")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_PUBLISHED_NEEDED = ("table", "group", "measure", "n", "value", "ci_low", "ci_high", "suppressed")
_Z95 = 1.959963984540054


class CatalogueError(InputError):
    """A malformed catalogue; the message names the rule and the key, e.g.
    ``rule cnst-participation: key 'condition.figure.table' is missing``."""


# --------------------------------------------------------------------------- rule objects


@dataclass(frozen=True)
class Text:
    """A reader-facing text in Bulgarian and English."""

    bg: str
    en: str

    def get(self, language: str = "bg") -> str:
        return self.bg if check_language(language) == "bg" else self.en


@dataclass(frozen=True)
class FigureSpec:
    """Which published figure a condition reads: ``study:table:group:measure``.

    ``group`` may be ``{group}`` (bound by ``for_each``) or ``{scope}`` (the
    oblast code of the run, ``all`` nationally); ``measure`` may be ``{measure}``
    or a selector for by-year tables: ``@latest``, ``@first`` (the latest / first
    year present for the group) or ``@latest-<k>`` (``k`` years before the
    latest; if that year is not in the table, the figure is missing).
    """

    study: str
    table: str
    group: str
    measure: str

    @property
    def key(self) -> str:
        return f"{self.study}:{self.table}:{self.group}:{self.measure}"

    def bind(self, binding: Mapping[str, str], scope: str) -> FigureSpec:
        """The spec with ``{group}``, ``{measure}`` and ``{scope}`` filled in."""
        group = {"{group}": binding.get("group"), "{scope}": scope}.get(self.group) or self.group
        measure = binding.get("measure") if self.measure == "{measure}" else self.measure
        return replace(self, group=group, measure=measure or self.measure)


@dataclass(frozen=True)
class Leaf:
    """A test on one figure. ``importance`` ``None``: the rule's importance applies."""

    figure: FigureSpec
    test: Mapping[str, float | bool]
    importance: Importance | None = None
    path: str = "condition"

    @property
    def specs(self) -> tuple[FigureSpec, ...]:
        return (self.figure,)


@dataclass(frozen=True)
class RatioLeaf:
    """A test on the ratio of two counts (``of`` / ``to``), e.g. entries now vs 5 years ago.

    The 95% CI treats the two counts as independent Poisson counts (Wald
    interval on the log scale).
    """

    of: FigureSpec
    to: FigureSpec
    test: Mapping[str, float | bool]
    importance: Importance | None = None
    path: str = "condition"

    @property
    def specs(self) -> tuple[FigureSpec, ...]:
        return (self.of, self.to)


@dataclass(frozen=True)
class AllOf:
    """True when every part is true."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    """True when at least one part is true (only the true parts are cited)."""

    children: tuple[Node, ...]


Node = Leaf | RatioLeaf | AllOf | AnyOf


@dataclass(frozen=True)
class ForEach:
    """Apply a rule once per group and/or measure: a keyword or a list of labels."""

    group: str | tuple[str, ...] | None = None
    measure: str | tuple[str, ...] | None = None


@dataclass(frozen=True)
class Rule:
    """One rule of the catalogue (see the header of ``catalogue.yaml``).

    ``applies_if_published`` ``(study, table)``: the rule is evaluated only when
    that study published that table (rules on published counts read tables an
    episodes study does not publish); otherwise it is left out silently.
    """

    id: str
    title: Text
    condition: Node
    recommendation: Text
    rationale: Text
    evidence_needed: Text
    actor: str
    design: str
    importance: Importance
    indirect: bool = False
    for_each: ForEach | None = None
    applies_if_published: tuple[str, str] | None = None


@dataclass(frozen=True)
class Catalogue:
    """The rules, in catalogue order, and the tables each study publishes."""

    rules: tuple[Rule, ...]
    studies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __getitem__(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"no rule {rule_id!r} in the catalogue {self.source}")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)


@dataclass(frozen=True)
class Evaluation:
    """Triggered recommendations and the rules that could not be evaluated."""

    triggered: pd.DataFrame
    not_evaluable: pd.DataFrame


def leaves(node: Node) -> Iterator[Leaf | RatioLeaf]:
    """Every figure test of a condition, in order."""
    if isinstance(node, Leaf | RatioLeaf):
        yield node
    else:
        for child in node.children:
            yield from leaves(child)


# --------------------------------------------------------------------------- loading


def load_catalogue(path: str | PathLike[str] = CATALOGUE_PATH) -> Catalogue:
    """Read and check a catalogue of rules.

    Parameters
    ----------
    path : path-like, default the package's ``catalogue.yaml``

    Returns
    -------
    Catalogue

    Raises
    ------
    CatalogueError
        On the first malformed rule, naming the rule id and the key, e.g.
        ``rule cnst-participation: key 'condition.figure.table' is missing``.

    Examples
    --------
    >>> catalogue = load_catalogue()
    >>> catalogue["cnst-participation"].actor, catalogue["institution-children-remaining"].design
    ('provider', 'published_counts')

    Each rule is tested by what it does, not by how many there are:
    ``tests/studies/test_recommendations.py`` builds, for every rule, a small
    published table on which it triggers, one on which it does not and one on
    which its figure is hidden.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CatalogueError(f"catalogue {path}: file not found") from error
    except yaml.YAMLError as error:
        raise CatalogueError(f"catalogue {path}: not valid YAML ({error})") from error
    return parse_catalogue(data, source=str(path))


def parse_catalogue(data: object, source: str = "<catalogue>") -> Catalogue:
    """Check a catalogue given as Python data (the parsed YAML) and build it.

    Examples
    --------
    >>> parse_catalogue({"studies": {"qol": ["sample"]}, "rules": [{"id": "x"}]})
    Traceback (most recent call last):
    ...
    research_lib.studies.brief.engine.CatalogueError: rule x: key 'title' is missing
    """
    if not isinstance(data, dict):
        raise CatalogueError(f"catalogue {source}: must be a mapping with 'studies' and 'rules'")
    unknown = set(data) - {"version", "studies", "rules"}
    if unknown:
        raise CatalogueError(
            f"catalogue {source}: key {sorted(unknown)[0]!r} is not known; "
            "use version, studies, rules"
        )
    studies = _parse_studies(data.get("studies"), source)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise CatalogueError(f"catalogue {source}: key 'rules' must be a non-empty list")
    rules: list[Rule] = []
    for position, raw in enumerate(raw_rules, start=1):
        rule = _RuleParser(raw, position, studies).parse()
        if rule.id in {r.id for r in rules}:
            raise CatalogueError(f"rule {rule.id}: key 'id' is duplicated; rule ids must be unique")
        rules.append(rule)
    return Catalogue(rules=tuple(rules), studies=studies, source=source)


def _parse_studies(raw: object, source: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        raise CatalogueError(f"catalogue {source}: key 'studies' is missing")
    if not isinstance(raw, dict) or not raw:
        raise CatalogueError(f"catalogue {source}: key 'studies' must map study -> list of tables")
    studies: dict[str, tuple[str, ...]] = {}
    for study, tables in raw.items():
        if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
            raise CatalogueError(f"catalogue {source}: key 'studies.{study}' must list table names")
        studies[str(study)] = tuple(tables)
    return studies


class _RuleParser:
    """Checks one raw rule; every error names the rule id and the dotted key."""

    def __init__(self, raw: object, position: int, studies: Mapping[str, tuple[str, ...]]):
        self.raw = raw
        self.studies = studies
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        self.id = str(rule_id) if rule_id not in (None, "") else f"#{position}"
        self.placeholders: set[str] = set()

    def fail(self, key: str, problem: str) -> CatalogueError:
        return CatalogueError(f"rule {self.id}: key '{key}' {problem}")

    def require(self, mapping: Mapping[str, Any], key: str, path: str) -> Any:
        if key not in mapping or mapping[key] is None:
            raise self.fail(_join(path, key), "is missing")
        return mapping[key]

    def mapping(self, value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, "must be a mapping")
        return value

    def no_unknown(self, mapping: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
        for key in mapping:
            if key not in allowed:
                raise self.fail(
                    _join(path, str(key)), f"is not a known key; use one of {', '.join(allowed)}"
                )

    def choice(self, value: object, options: Sequence[str], path: str) -> str:
        if value not in options:
            raise self.fail(path, f"has unknown value {value!r}; use one of {', '.join(options)}")
        return str(value)

    # -- the rule
    def parse(self) -> Rule:
        raw = self.mapping(self.raw, "rule")
        for key in _RULE_REQUIRED:
            self.require(raw, key, "")
        self.no_unknown(raw, _RULE_REQUIRED + _RULE_OPTIONAL, "")
        if not isinstance(raw["id"], str) or not _RULE_ID.match(raw["id"]):
            raise self.fail("id", "must be lower-case letters, digits and '-', e.g. 'cnst-safety'")
        for_each = self.for_each(raw.get("for_each"))
        condition = self.node(raw["condition"], "condition")
        self.check_placeholders(for_each)
        indirect = raw.get("indirect", False)
        if not isinstance(indirect, bool):
            raise self.fail("indirect", "must be true or false")
        applies = None
        if "applies_if_published" in raw:
            path = "applies_if_published"
            mapping = self.mapping(raw[path], path)
            self.no_unknown(mapping, ("study", "table"), path)
            study = self.choice(self.require(mapping, "study", path), tuple(self.studies), path)
            table = self.choice(
                self.require(mapping, "table", path), self.studies[study], f"{path}.table"
            )
            applies = (study, table)
        return Rule(
            id=raw["id"],
            title=self.text(raw["title"], "title"),
            condition=condition,
            recommendation=self.text(raw["recommendation"], "recommendation"),
            rationale=self.text(raw["rationale"], "rationale"),
            evidence_needed=self.text(raw["evidence_needed"], "evidence_needed"),
            actor=self.choice(raw["actor"], ACTORS, "actor"),
            design=self.choice(raw["design"], DESIGNS, "design"),
            importance=self.importance(raw["importance"], "importance"),
            indirect=indirect,
            for_each=for_each,
            applies_if_published=applies,
        )

    def text(self, raw: object, path: str) -> Text:
        mapping = self.mapping(raw, path)
        self.no_unknown(mapping, ("bg", "en"), path)
        values = {}
        for language in ("bg", "en"):
            value = self.require(mapping, language, path)
            key = f"{path}.{language}"
            if not isinstance(value, str) or not value.strip():
                raise self.fail(key, "must be a non-empty text")
            self.check_fields(value, key)
            values[language] = " ".join(value.split())
        if not _CYRILLIC.search(values["bg"]):
            raise self.fail(f"{path}.bg", "must be in Bulgarian (Cyrillic)")
        return Text(**values)

    def check_fields(self, template: str, path: str) -> None:
        try:
            names = [
                name for _, name, _, _ in string.Formatter().parse(template) if name is not None
            ]
        except ValueError as error:
            raise self.fail(path, f"has unbalanced braces ({error})") from error
        for name in names:
            if name not in TEXT_PLACEHOLDERS:
                raise self.fail(
                    path,
                    f"uses unknown placeholder '{{{name}}}'; use one of "
                    + ", ".join(f"{{{p}}}" for p in TEXT_PLACEHOLDERS),
                )

    def importance(self, raw: object, path: str) -> Importance:
        mapping = self.mapping(raw, path)
        self.no_unknown(mapping, _IMPORTANCE_KEYS, path)
        scale = self.choice(self.require(mapping, "scale", path), SCALES, f"{path}.scale")
        mid = mapping.get("mid")
        if mid is not None and (not _is_number(mid) or mid <= 0):
            raise self.fail(f"{path}.mid", "must be a positive number")
        baseline = mapping.get("baseline")
        if baseline is not None and not _is_number(baseline):
            raise self.fail(f"{path}.baseline", "must be a number")
        return Importance(
            scale=scale,
            mid=None if mid is None else float(mid),
            baseline=None if baseline is None else float(baseline),
        )

    def for_each(self, raw: object) -> ForEach | None:
        if raw is None:
            return None
        mapping = self.mapping(raw, "for_each")
        self.no_unknown(mapping, ("group", "measure"), "for_each")
        if not mapping:
            raise self.fail("for_each", "must name 'group' and/or 'measure'")
        values: dict[str, str | tuple[str, ...]] = {}
        for key, value in mapping.items():
            path = f"for_each.{key}"
            if isinstance(value, list) and value and all(_is_label(v) for v in value):
                values[key] = tuple(str(v) for v in value)
            elif isinstance(value, str):
                values[key] = self.choice(value, FOR_EACH_KEYWORDS, path)
            else:
                raise self.fail(
                    path, f"must be one of {', '.join(FOR_EACH_KEYWORDS)} or a list of labels"
                )
        return ForEach(**values)

    def check_placeholders(self, for_each: ForEach | None) -> None:
        for name in ("group", "measure"):
            bound = for_each is not None and getattr(for_each, name) is not None
            used = name in self.placeholders
            if used and not bound:
                raise self.fail(
                    f"for_each.{name}", f"is missing ('{{{name}}}' is used by a figure)"
                )
            if bound and not used:
                raise self.fail(
                    f"for_each.{name}", f"is not used: put '{{{name}}}' in a figure's {name}"
                )

    # -- conditions
    def node(self, raw: object, path: str) -> Node:
        mapping = self.mapping(raw, path)
        kinds = [k for k in ("figure", "ratio", "all", "any") if k in mapping]
        if len(kinds) != 1:
            raise self.fail(path, "must hold exactly one of figure, ratio, all, any")
        kind = kinds[0]
        if kind in ("all", "any"):
            self.no_unknown(mapping, (kind,), path)
            parts = mapping[kind]
            if not isinstance(parts, list) or not parts:
                raise self.fail(f"{path}.{kind}", "must be a non-empty list of conditions")
            children = tuple(self.node(p, f"{path}.{kind}[{i}]") for i, p in enumerate(parts))
            return AllOf(children) if kind == "all" else AnyOf(children)
        self.no_unknown(mapping, (kind, "test", "importance"), path)
        test = self.test(self.require(mapping, "test", path), f"{path}.test")
        importance = (
            self.importance(mapping["importance"], f"{path}.importance")
            if "importance" in mapping
            else None
        )
        if kind == "figure":
            spec = self.figure(mapping["figure"], f"{path}.figure")
            return Leaf(figure=spec, test=test, importance=importance, path=path)
        ratio = self.mapping(mapping["ratio"], f"{path}.ratio")
        self.no_unknown(ratio, ("of", "to"), f"{path}.ratio")
        of = self.figure(self.require(ratio, "of", f"{path}.ratio"), f"{path}.ratio.of")
        to = self.figure(self.require(ratio, "to", f"{path}.ratio"), f"{path}.ratio.to")
        return RatioLeaf(of=of, to=to, test=test, importance=importance, path=path)

    def figure(self, raw: object, path: str) -> FigureSpec:
        mapping = self.mapping(raw, path)
        self.no_unknown(mapping, _FIGURE_KEYS, path)
        values = {}
        for key in _FIGURE_KEYS:
            value = self.require(mapping, key, path)
            if not _is_label(value):
                raise self.fail(f"{path}.{key}", "must be a label")
            values[key] = str(value)
        study = self.choice(values["study"], tuple(self.studies), f"{path}.study")
        tables = self.studies[study]
        if values["table"] not in tables:
            raise self.fail(
                f"{path}.table",
                f"has unknown value {values['table']!r}; "
                f"the tables of study {study!r} are: {', '.join(tables)}",
            )
        self.check_label(values["group"], ("{group}", "{scope}"), f"{path}.group")
        self.check_label(values["measure"], ("{measure}",), f"{path}.measure")
        return FigureSpec(**values)

    def check_label(self, value: str, placeholders: Sequence[str], path: str) -> None:
        if "{" in value or "}" in value:
            if value not in placeholders:
                raise self.fail(path, f"must be a label or one of {', '.join(placeholders)}")
            self.placeholders.add(value.strip("{}"))
        if value.startswith("@") and (path.endswith(".group") or not _SELECTOR.match(value)):
            raise self.fail(path, "has an unknown selector; use @latest, @first or @latest-<k>")

    def test(self, raw: object, path: str) -> dict[str, float | bool]:
        mapping = self.mapping(raw, path)
        if not mapping:
            raise self.fail(path, "must hold at least one test")
        tests: dict[str, float | bool] = {}
        for op, value in mapping.items():
            key = f"{path}.{op}"
            if op not in TEST_OPS:
                raise self.fail(key, f"is not a known test; use one of {', '.join(TEST_OPS)}")
            if op in _FLAG_OPS:
                if value is not True:
                    raise self.fail(key, "must be true")
                tests[op] = True
            elif not _is_number(value):
                raise self.fail(key, "must be a number")
            else:
                tests[op] = float(value)
        if "beyond_horizon" in tests and len(tests) > 1:
            raise self.fail(f"{path}.beyond_horizon", "must be the only test of its figure")
        return tests


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_label(value: object) -> bool:
    return (isinstance(value, str) and value.strip() != "") or (
        isinstance(value, int) and not isinstance(value, bool)
    )


# --------------------------------------------------------------------------- published figures


@dataclass(frozen=True)
class _Row:
    n: float
    value: float
    ci_low: float
    ci_high: float
    suppressed: bool


class _Study:
    """One study's published figures, indexed by (table, group, measure)."""

    def __init__(self, study: str, frame: pd.DataFrame):
        missing = [c for c in _PUBLISHED_NEEDED if c not in frame.columns]
        if missing:
            raise InputError(
                f"published figures of study {study!r} lack the column(s) {missing}; "
                f"published.csv has the columns {', '.join(_PUBLISHED_NEEDED)}"
            )
        labels = frame[["table", "group", "measure"]].astype(str)
        numbers = frame[["n", "value", "ci_low", "ci_high"]].apply(pd.to_numeric, errors="coerce")
        hidden = frame["suppressed"].map(_truthy)
        self.rows: dict[tuple[str, str, str], _Row] = {}
        self.labels: dict[tuple[str, str], list[str]] = {}
        self.measures: dict[tuple[str, str], list[str]] = {}
        for (table, group, measure), nums, flag in zip(
            labels.itertuples(index=False, name=None),
            numbers.astype("float64").itertuples(index=False, name=None),
            hidden,
            strict=True,
        ):
            self.rows.setdefault((table, group, measure), _Row(*nums, suppressed=bool(flag)))
            for name, label in (("group", group), ("measure", measure)):
                _append(self.labels.setdefault((table, name), []), label)
            _append(self.measures.setdefault((table, group), []), measure)

    def has_table(self, table: str) -> bool:
        return (table, "group") in self.labels

    def select(self, spec: FigureSpec) -> str | None:
        """The measure a selector (``@latest`` ...) stands for, or the measure itself.

        ``@latest-<k>`` is the year ``k`` years before the latest year when the
        measures are years (numbers), else the label ``k`` places before the last.
        """
        found = _SELECTOR.match(spec.measure)
        if not found:
            return spec.measure
        measures = sorted(self.measures.get((spec.table, spec.group), []), key=_natural)
        if not measures:
            return None
        if found.group(1) == "first":
            return measures[0]
        offset = int(found.group(3) or 0)
        years = [_DATE_LABEL.match(m) for m in measures]
        if all(years) and any("-" in m for m in measures):
            # reference dates of published stocks (2023-12-31, 2018-10, 2017): by calendar year
            wanted = int(years[-1].group(1)) - offset  # type: ignore[union-attr]
            return next(
                (
                    m
                    for m, y in zip(reversed(measures), reversed(years), strict=True)
                    if int(y.group(1)) == wanted
                ),  # type: ignore[union-attr]
                None,
            )
        numbers = [_natural(m)[1] for m in measures if _natural(m)[0] == 0]
        if len(numbers) == len(measures):
            wanted = numbers[-1] - offset
            return next((m for m, x in zip(measures, numbers, strict=True) if x == wanted), None)
        position = len(measures) - 1 - offset
        return measures[position] if position >= 0 else None


def _append(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)


_DATE_LABEL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _natural(label: str) -> tuple[int, float, str]:
    """Sort key: numbers (and years) by value, reference dates by date, then other labels.

    A year alone (a stock whose source gave no date) sorts at the start of its year.
    """
    dated = _DATE_LABEL.match(label)
    if dated and "-" in label:
        year, month, day = dated.groups()
        return (0, int(year) + (int(month) - 1) / 12 + (int(day or 1) - 1) / 372, label)
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "t", "y"}
    return False if pd.isna(value) else bool(value)  # type: ignore[arg-type]


def _finite(value: float) -> bool:
    return value is not None and math.isfinite(value)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Outcome:
    """Three-valued result of a condition: True, False or None (not evaluable)."""

    state: bool | None
    figures: tuple[Figure, ...] = ()
    blocked: tuple[tuple[str, str], ...] = ()


class _Evaluator:
    def __init__(self, rule: Rule, studies: Mapping[str, _Study], scope: str):
        self.rule = rule
        self.studies = studies
        self.scope = scope

    def run(self, node: Node, binding: Mapping[str, str]) -> _Outcome:
        if isinstance(node, Leaf):
            return self.leaf(node, binding)
        if isinstance(node, RatioLeaf):
            return self.ratio(node, binding)
        outcomes = [self.run(child, binding) for child in node.children]
        states = [o.state for o in outcomes]
        blocked = tuple(b for o in outcomes for b in o.blocked)
        if isinstance(node, AllOf):
            if False in states:
                return _Outcome(False)
            if None in states:
                return _Outcome(None, blocked=blocked)
            return _Outcome(True, tuple(f for o in outcomes for f in o.figures))
        if True in states:
            return _Outcome(True, tuple(f for o in outcomes if o.state for f in o.figures))
        return _Outcome(None, blocked=blocked) if None in states else _Outcome(False)

    def lookup(
        self, spec: FigureSpec, binding: Mapping[str, str], importance: Importance | None
    ) -> tuple[Figure, None] | tuple[None, tuple[str, str]]:
        """``(Figure, None)`` for a shown figure, else ``(None, (key, reason))``."""
        spec = spec.bind(binding, self.scope)
        study = self.studies.get(spec.study)
        if study is None:
            return None, (spec.key, "study_missing")
        measure = study.select(spec)
        row = study.rows.get((spec.table, spec.group, measure)) if measure else None
        key = replace(spec, measure=measure or spec.measure).key
        if row is None:
            return None, (key, "missing")
        if row.suppressed:
            return None, (key, "suppressed")
        figure = Figure(
            study=spec.study,
            table=spec.table,
            group=spec.group,
            measure=str(measure),
            n=row.n if _finite(row.n) else None,
            value=row.value,
            ci_low=row.ci_low,
            ci_high=row.ci_high,
            importance=importance or self.rule.importance,
        )
        return figure, None

    def leaf(self, leaf: Leaf, binding: Mapping[str, str]) -> _Outcome:
        figure, blocked = self.lookup(leaf.figure, binding, leaf.importance)
        if figure is None:
            return _Outcome(None, blocked=(blocked,))
        return self.judge(leaf.test, figure)

    def ratio(self, leaf: RatioLeaf, binding: Mapping[str, str]) -> _Outcome:
        of, blocked_of = self.lookup(leaf.of, binding, leaf.importance)
        to, blocked_to = self.lookup(leaf.to, binding, leaf.importance)
        if of is None or to is None:
            return _Outcome(None, blocked=tuple(b for b in (blocked_of, blocked_to) if b))
        if not (_finite(of.value) and _finite(to.value)) or to.value <= 0 or of.value < 0:
            return _Outcome(None, blocked=((of.key, "no_value"), (to.key, "no_value")))
        value = of.value / to.value
        low = high = math.nan
        if of.value > 0:
            half = _Z95 * math.sqrt(1 / of.value + 1 / to.value)
            low, high = value * math.exp(-half), value * math.exp(half)
        group = of.group if of.group == to.group else f"{of.group}/{to.group}"
        derived = Figure(
            study=of.study,
            table=of.table,
            group=group,
            measure=f"{of.measure}/{to.measure}",
            value=value,
            ci_low=low,
            ci_high=high,
            importance=leaf.importance or self.rule.importance,
            derived_from=(of.key, to.key),
        )
        return self.judge(leaf.test, derived)

    @staticmethod
    def judge(test: Mapping[str, float | bool], figure: Figure) -> _Outcome:
        state, reason = _apply_test(test, figure)
        if state is None:
            return _Outcome(None, blocked=tuple((key, reason) for key in figure.evidence))
        return _Outcome(state, (figure,) if state else ())


def _apply_test(test: Mapping[str, float | bool], figure: Figure) -> tuple[bool | None, str]:
    """Kleene AND of the tests of one figure; ``(None, reason)`` when not evaluable."""
    if "beyond_horizon" in test:
        return (not figure.has_value), ""
    if not figure.has_value:
        return None, "no_value"
    value, low, high = figure.value, figure.ci_low, figure.ci_high
    results: list[bool | None] = []
    for op, x in test.items():
        if op == "published":
            results.append(True)
        elif op.startswith("ci_"):
            results.append(_ci_test(op, low, high, float(x)) if figure.has_interval else None)
        else:
            results.append(_value_test(op, value, float(x)))
    if False in results:
        return False, ""
    return (None, "no_interval") if None in results else (True, "")


def _value_test(op: str, value: float, x: float) -> bool:
    return {
        "value_below": value < x,
        "value_above": value > x,
        "value_at_most": value <= x,
        "value_at_least": value >= x,
        "value_equals": math.isclose(value, x, rel_tol=1e-9, abs_tol=1e-12),
    }[op]


def _ci_test(op: str, low: float, high: float, x: float) -> bool:
    return {
        "ci_below": high < x,
        "ci_above": low > x,
        "ci_excludes": x < low or x > high,
        "ci_includes": low <= x <= high,
    }[op]


def _bindings(
    rule: Rule, studies: Mapping[str, _Study], scope: str
) -> list[dict[str, str]] | tuple[str, str]:
    """The for_each bindings of a rule, or ``(spec key, reason)`` when a table is absent."""
    if rule.for_each is None:
        return [{}]
    choices: dict[str, list[str]] = {}
    for name in ("group", "measure"):
        selector = getattr(rule.for_each, name)
        if selector is None:
            continue
        present: list[str] = []
        for spec in (s for leaf in leaves(rule.condition) for s in leaf.specs):
            if getattr(spec, name) != f"{{{name}}}":
                continue
            study = studies[spec.study]
            if not study.has_table(spec.table):
                return spec.key, "missing"
            for label in study.labels[(spec.table, name)]:
                _append(present, label)
        choices[name] = _select(selector, present, scope)
    names = list(choices)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices.values())]


def _select(selector: str | tuple[str, ...], present: list[str], scope: str) -> list[str]:
    if isinstance(selector, tuple):
        return [label for label in selector if label in present]
    if selector == "oblasts":
        codes = set(load_oblasts().index)
        return [x for x in present if x in codes and (scope == NATIONAL or x == scope)]
    if selector == "placement_types":
        return [x for x in PLACEMENT_TYPES if x in present]
    return [x for x in present if x != NATIONAL]


def evaluate_all(
    catalogue: Catalogue,
    published: Mapping[str, pd.DataFrame],
    scope: str = NATIONAL,
    language: str = "bg",
    context: GradingContext | None = None,
) -> Evaluation:
    """Apply every rule to the published figures; grade and word what triggers.

    Parameters
    ----------
    catalogue : Catalogue
        From :func:`load_catalogue`.
    published : mapping of str to DataFrame
        Study (``qol``, ``placements``) -> its ``published.csv`` frame
        (:func:`research_lib.disclosure.suppression.read_published`) for one scope.
    scope : str, default "all"
        The oblast of the run (any name :func:`research_lib.io.oblasts.resolve_scope`
        accepts) or ``"all"``. Fills ``{scope}`` in figures and restricts
        ``for_each: {group: oblasts}`` to that oblast.
    language : {"bg", "en"}
        Language of the texts and grade reasons.
    context : GradingContext, optional
        Replications in other oblasts or waves and grading thresholds; its
        ``published`` defaults to ``published``.

    Returns
    -------
    Evaluation
        ``triggered`` (columns :data:`TRIGGERED_COLUMNS`, highest grade first,
        then catalogue order) and ``not_evaluable`` (:data:`NOT_EVALUABLE_COLUMNS`):
        the rules whose condition rests on a suppressed or missing figure.

    Notes
    -----
    Conditions use three-valued logic: a test on a suppressed or missing figure
    is *unknown*; ``all`` is false if any part is false, unknown if any part is
    unknown, else true; ``any`` is true if any part is true (only the true parts
    are cited), unknown if any part is unknown, else false. Only *true* triggers
    a recommendation, and its evidence cites only shown figures; *unknown*
    goes to ``not_evaluable``.
    """
    language = check_language(language)
    scope = resolve_scope(scope)
    studies = {study: _Study(study, frame) for study, frame in published.items()}
    context = context or GradingContext()
    if not context.published:
        context = replace(context, published=dict(published))
    triggered: list[dict[str, object]] = []
    unknown: list[dict[str, object]] = []
    for position, rule in enumerate(catalogue):
        needed = sorted({s.study for leaf in leaves(rule.condition) for s in leaf.specs})
        absent = [study for study in needed if study not in studies]
        if rule.applies_if_published and not absent:
            study, table = rule.applies_if_published
            if not studies[study].has_table(table):  # another kind of data: does not apply
                continue
        if absent:
            blocked = [(f"{study}:*", "study_missing") for study in absent]
            unknown.append(_unknown_row(rule, {}, blocked, scope, language))
            continue
        bindings = _bindings(rule, studies, scope)
        if isinstance(bindings, tuple):
            unknown.append(_unknown_row(rule, {}, [bindings], scope, language))
            continue
        evaluator = _Evaluator(rule, studies, scope)
        for binding in bindings:
            outcome = evaluator.run(rule.condition, binding)
            if outcome.state is None:
                unknown.append(_unknown_row(rule, binding, outcome.blocked, scope, language))
            elif outcome.state:
                row = _triggered_row(rule, binding, outcome.figures, scope, language, context)
                triggered.append({**row, "_position": position})
    frame = pd.DataFrame(triggered, columns=[*TRIGGERED_COLUMNS, "_position"])
    if len(frame):
        frame["_rank"] = frame["grade"].map(lambda level: -LEVELS.index(level))
        frame = frame.sort_values(["_rank", "_position"], kind="mergesort")
    frame = frame[list(TRIGGERED_COLUMNS)].reset_index(drop=True)
    return Evaluation(
        triggered=frame,
        not_evaluable=pd.DataFrame(unknown, columns=list(NOT_EVALUABLE_COLUMNS)),
    )


def evaluate(
    catalogue: Catalogue,
    published: Mapping[str, pd.DataFrame],
    scope: str = NATIONAL,
    language: str = "bg",
    context: GradingContext | None = None,
) -> pd.DataFrame:
    """The triggered recommendations (see :func:`evaluate_all` for the parameters).

    Returns
    -------
    DataFrame
        Columns :data:`TRIGGERED_COLUMNS`: ``rule_id, group, measure, actor,
        actor_label, design, grade, grade_label, grade_reasons, title, text,
        rationale, evidence``. ``attrs["not_evaluable"]`` holds the rules that
        could not be evaluated ("what we don't know") as a list of records with
        the columns :data:`NOT_EVALUABLE_COLUMNS`
        (``pd.DataFrame(result.attrs["not_evaluable"])``).
    """
    evaluation = evaluate_all(catalogue, published, scope, language, context)
    triggered = evaluation.triggered
    triggered.attrs["not_evaluable"] = evaluation.not_evaluable.to_dict("records")
    return triggered


def _triggered_row(
    rule: Rule,
    binding: Mapping[str, str],
    figures: Sequence[Figure],
    scope: str,
    language: str,
    context: GradingContext,
) -> dict[str, object]:
    result = grade(rule, figures, context)
    values = _text_values(binding, figures[0], scope, language)
    # what the study's differences are adjusted for, read from its published rows
    values["adjusted"] = adjusted_phrase(context.published.get(figures[0].study), language)
    evidence = list(dict.fromkeys(key for figure in figures for key in figure.evidence))
    return {
        "rule_id": rule.id,
        "group": binding.get("group", ""),
        "measure": binding.get("measure", ""),
        "actor": rule.actor,
        "actor_label": phrase(f"actor.{rule.actor}", language),
        "design": rule.design,
        "grade": result.level,
        "grade_label": result.label(language),
        "grade_reasons": result.text(language),
        "title": rule.title.get(language).format_map(values),
        "text": rule.recommendation.get(language).format_map(values),
        "rationale": rule.rationale.get(language).format_map(values),
        "evidence": ";".join(evidence),
    }


def _text_values(
    binding: Mapping[str, str], first: Figure | None, scope: str, language: str
) -> dict[str, str]:
    """Values of the text placeholders: the binding, then the first cited figure."""
    group = binding.get("group", first.group if first else "")
    measure = binding.get("measure", first.measure if first else "")
    dates = [key.split(":", 3)[3] for key in (first.evidence if first else ())]
    scale = first.importance.scale if first else "points"
    value = first.value if first else math.nan
    low = first.ci_low if first else math.nan
    high = first.ci_high if first else math.nan
    digits = estimate_digits(value, low, high, scale)  # never "4% (4% to 4%)"
    return {
        "value": format_value(value, scale, language, digits),
        "magnitude": format_value(abs(value), scale, language, digits),
        "ci_low": format_value(low, scale, language, digits),
        "ci_high": format_value(high, scale, language, digits),
        "n": format_value(first.n if first else math.nan, "count", language),
        "group": group,
        "group_label": group_text(group, language),
        "group_phrase": (
            text(f"placement_phrase.{group}", language)
            if has_text(f"placement_phrase.{group}")
            else group_text(group, language)
        ),
        "measure": measure,
        "measure_label": measure_text(measure, language),
        "scope_label": oblast_name(scope, language),
        "adjusted": "",
        # the reference dates of the first figure (of a ratio: its two figures)
        "date": date_words(dates[0], language) if dates else "",
        "since": date_words(dates[-1], language) if dates else "",
    }


def _unknown_row(
    rule: Rule,
    binding: Mapping[str, str],
    blocked: Sequence[tuple[str, str]],
    scope: str,
    language: str,
) -> dict[str, object]:
    blocked = list(dict.fromkeys(blocked))
    opening, closing = ("„", "“") if language == "bg" else ("“", "”")
    words = []
    for key, reason in blocked:
        study, table, group, measure = (key.split(":") + ["", "", ""])[:4]
        if table == "*":
            what = study
        elif "{" in group or "{" in measure:  # the whole table is absent
            what = table_text(table, language)
        else:
            what = figure_label(Figure(study, table, group, measure), language)
        words.append(f"{opening}{what}{closing} ({phrase(f'not_evaluable.{reason}', language)})")
    return {
        "rule_id": rule.id,
        "group": binding.get("group", ""),
        "measure": binding.get("measure", ""),
        "actor": rule.actor,
        "title": rule.title.get(language).format_map(_text_values(binding, None, scope, language)),
        "figures": ";".join(key for key, _ in blocked),
        "reasons": ";".join(reason for _, reason in blocked),
        "text": phrase("not_evaluable.sentence", language, figures="; ".join(words)),
    }


# --------------------------------------------------------------------------- output


def recommendations_csv(triggered: pd.DataFrame, path: str | PathLike[str]) -> Path:
    """Write ``recommendations.csv``: exactly :data:`RECOMMENDATION_COLUMNS`, UTF-8.

    Parameters
    ----------
    triggered : DataFrame
        From :func:`evaluate` (or ``evaluate_all(...).triggered``).
    path : path-like
        The file to write, or a folder (the file is then ``recommendations.csv``
        in it).

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> frame = pd.DataFrame({"rule_id": ["r"], "actor": ["national"], "grade": ["low"],
    ...     "text": ["Текст"], "evidence": ["qol:sample:all:children"], "title": ["x"]})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     print(recommendations_csv(frame, folder).read_text(encoding="utf-8"), end="")
    rule_id,actor,grade,text,evidence
    r,national,low,Текст,qol:sample:all:children
    """
    missing = [c for c in RECOMMENDATION_COLUMNS if c not in triggered.columns]
    if missing:
        raise InputError(
            f"the recommendations lack the column(s) {missing}; pass the frame from evaluate()"
        )
    target = Path(path)
    if target.is_dir():
        target = target / "recommendations.csv"
    write_csv(triggered.loc[:, list(RECOMMENDATION_COLUMNS)], target, index=False, encoding="utf-8")
    return target
