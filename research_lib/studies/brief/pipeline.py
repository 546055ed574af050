"""The policy brief: recommendations from the studies' published figures, with their grades.

The brief reads only the studies' ``published.csv`` files — never raw data — so
it can cite nothing that disclosure control hid. :func:`load_studies` reads them,
:func:`brief_items` folds the triggered recommendations of the engine
(:mod:`research_lib.studies.brief`) into one item per rule, with every figure
it rests on in words, and :func:`unknowns` lists what cannot be judged.
:func:`key_messages` gives the brief's key messages, closing the survey's
findings with :func:`association_caveat`: its group differences are differences
between groups of children at one time, adjusted for what the study's published
``adjusted_for`` rows name, not effects of the kind of care.

Examples
--------
>>> studies = load_studies({"qol": "reports/qol/all/published.csv"})  # doctest: +SKIP
>>> evaluation = evaluate_all(load_catalogue(), studies)  # doctest: +SKIP
>>> items = brief_items(evaluation, studies, "bg")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from research_lib.disclosure.figures import adjusted_for
from research_lib.disclosure.suppression import read_published
from research_lib.io.codebook import Codebook
from research_lib.io.oblasts import load_oblasts, oblast_name
from research_lib.paths import is_demo_data, project_path
from research_lib.render.labels import has_text, text
from research_lib.render.reporting import BRIEF_CSS_RULES, format_estimate
from research_lib.render.sources import mixed_sources_sentence
from research_lib.studies.brief import Evaluation
from research_lib.studies.brief.grading import (
    LEVELS,
    Figure,
    adjusted_phrase,
    covariates_words,
    figure_label,
    phrase,
)

__all__ = [
    "STUDY_NAMES",
    "BriefItem",
    "load_studies",
    "key_messages",
    "association_caveat",
    "brief_items",
    "unknowns",
    "mixed_sources_sentence",
    "from_published_counts",
    "title_key",
    "method_text",
    "is_synthetic",
    "items_html",
    "BRIEF_CSS",
    "GRADE_ORDER",
]

STUDY_NAMES = ("qol", "placements")
#: Grades from the most to the least certain (the grading's LEVELS, reversed).
GRADE_ORDER: tuple[str, ...] = tuple(reversed(LEVELS))


@dataclass(frozen=True)
class BriefItem:
    """One recommendation of the brief: a rule, possibly for several groups."""

    rule_id: str
    title: str
    actor: str
    grade: str
    grade_label: str
    text: str
    reasons: str
    evidence: list[str]
    also_for: list[str]


def load_studies(paths: Mapping[str, str | Path | None]) -> dict[str, pd.DataFrame]:
    """Read each study's ``published.csv``; a study whose file is absent is left out.

    An unreadable or malformed file raises an :class:`~research_lib.errors.InputError`.
    """
    studies = {}
    for study, path in paths.items():
        if path and Path(path).is_file():
            studies[study] = read_published(path)
    return studies


def association_caveat(published: pd.DataFrame, language: str = "bg") -> str:
    """The brief's caveat on the survey's differences between kinds of care.

    They compare groups of children at one point in time and are adjusted only
    for what the study's published ``adjusted_for`` rows name (read here, never
    assumed); the characteristics of :data:`research_lib.studies.qol.pipeline.ADJUST_IF_PRESENT`
    the data did not hold are named as not adjusted for. The sentence says the
    differences do not show what the kind of care itself does.

    Examples
    --------
    >>> rows = pd.DataFrame({"table": ["adjusted_for"] * 2, "measure": ["age", "sex"]})
    >>> print(association_caveat(rows, "en"))  # doctest: +ELLIPSIS
    The differences ... at one point in time, adjusted for age and sex. They do not show ...
    """
    from research_lib.studies.qol.pipeline import ADJUST_IF_PRESENT

    sentence = phrase("caveat.qol", language, adjusted=adjusted_phrase(published, language))
    covariates = adjusted_for(published)
    if covariates is not None:
        missing = [c for c in ADJUST_IF_PRESENT if c not in covariates]
        if missing:
            sentence += " " + text(
                "qol.not_adjusted", language, missing=covariates_words(missing, language)
            )
    return sentence


def key_messages(
    studies: Mapping[str, pd.DataFrame],
    codebook: Codebook,
    reference: str,
    reform_date: str | pd.Timestamp,
    language: str = "bg",
    most: int = 3,
) -> list[str]:
    """The brief's key messages: each study's strongest findings, and the caveats they need.

    At most ``most`` findings of the QoL study (one per kind of care) and then,
    whenever it published group differences, :func:`association_caveat` -
    always, however many findings are kept; then at most ``most`` findings of
    the placement study; then a line for each study not included.
    """
    from research_lib.studies.placements import pipeline as placement_study
    from research_lib.studies.qol import pipeline as qol

    messages: list[str] = []
    survey = studies.get("qol")
    if survey is not None:
        association = text("qol.association", language)
        findings = qol.key_findings(survey, codebook, reference, language, most=most, per_group=1)
        # the study's own closing sentence is replaced by the brief's caveat below
        messages += [s for s in findings if not s.startswith(association)][:most]
        if (survey["table"] == "difference_vs_reference").any():
            messages.append(association_caveat(survey, language))
    placements = studies.get("placements")
    if placements is not None:
        reform = pd.Timestamp(reform_date)
        findings = placement_study.key_findings(placements, reform, language)
        qualifier = mixed_sources_sentence(placements, language)
        if qualifier and findings and findings[0] == qualifier:
            # it qualifies every published count after it: kept, not counted among the findings
            messages.append(findings.pop(0))
        messages += findings[:most]
    for study in STUDY_NAMES:
        if study not in studies:
            messages.append(
                text("brief.not_included", language, study=text(f"brief.study_{study}", language))
            )
    return messages


def from_published_counts(studies: Mapping[str, pd.DataFrame]) -> bool:
    """Whether the placement figures are counts as published (its ``in_care_at_date`` table)."""
    placements = studies.get("placements")
    return placements is not None and (placements["table"] == "in_care_at_date").any()


def title_key(studies: Mapping[str, pd.DataFrame]) -> str:
    """The brief's title label: its own title when it reads only published counts (no survey)."""
    if from_published_counts(studies) and "qol" not in studies:
        return "brief.title_public"
    return "brief.title"


def method_text(studies: Mapping[str, pd.DataFrame], language: str = "bg") -> str:
    """How the grades are given; on published counts, also where their grade starts and why."""
    words = text("brief.method", language)
    if from_published_counts(studies):
        words += " " + text("brief.method_counts", language)
    return words


def _figure_value(key: str, studies: Mapping[str, pd.DataFrame]) -> pd.Series | None:
    study, table, group, measure = key.split(":", 3)
    published = studies.get(study)
    if published is None:
        return None
    rows = published[
        (published["table"] == table)
        & (published["group"] == group)
        & (published["measure"] == measure)
    ]
    return rows.iloc[0] if len(rows) else None


def _evidence_line(key: str, studies: Mapping[str, pd.DataFrame], language: str) -> str:
    study, table, group, measure = key.split(":", 3)
    row = _figure_value(key, studies)
    label = figure_label(Figure(study, table, group, measure), language)
    if row is None:
        return label
    return f"{label}: {_value_words(row, measure, language)}"


def _value_words(row: pd.Series, measure: str, language: str) -> str:
    """A figure's value as a reader needs it: yes/no for a flag, whole counts, CIs where known."""
    value = row["value"]
    if measure in ("lagging", "lagging_998") and pd.notna(value):
        return text("common.yes" if value == 1 else "common.no", language)
    if pd.isna(row["ci_low"]) and pd.notna(value) and float(value).is_integer():
        return format_estimate(value, None, None, language, 0)
    digits = 3 if pd.notna(value) and abs(value) < 10 else 1
    return format_estimate(value, row["ci_low"], row["ci_high"], language, digits)


def _group_words(group: str, language: str) -> str:
    if group in set(load_oblasts().index):
        return oblast_name(group, language)
    key = f"placement_type.{group}"
    from research_lib.render.labels import has_text

    return text(key, language) if has_text(key) else group


def brief_items(
    evaluation: Evaluation, studies: Mapping[str, pd.DataFrame], language: str = "bg"
) -> list[BriefItem]:
    """One item per triggered rule, most certain first; all its figures cited in words."""
    triggered = evaluation.triggered
    if triggered.empty:
        return []
    rank = {g: i for i, g in enumerate(GRADE_ORDER)}
    triggered = triggered.assign(rank=triggered["grade"].map(rank))
    items = []
    for rule_id, rows in triggered.sort_values("rank", kind="stable").groupby(
        "rule_id", sort=False
    ):
        first = rows.iloc[0]
        keys = [k for ev in rows["evidence"] for k in str(ev).split(";") if k]
        groups = [g for g in rows["group"].fillna("").astype(str).iloc[1:] if g]
        items.append(
            BriefItem(
                rule_id=str(rule_id),
                title=str(first["title"]),
                actor=phrase(f"actor.{first['actor']}", language),
                grade=str(first["grade"]),
                grade_label=str(first["grade_label"]),
                text=str(first["text"]),
                reasons=str(first["grade_reasons"]),
                evidence=list(dict.fromkeys(_evidence_line(k, studies, language) for k in keys)),
                also_for=[_group_words(g, language) for g in dict.fromkeys(groups)],
            )
        )
    return items


def unknowns(evaluation: Evaluation, language: str = "bg") -> list[str]:
    """Titles of the rules that could not be judged, once each, with why in words.

    The rules that rest only on a study the brief does not include are one line
    per study (how many), not one line each.
    """
    frame = evaluation.not_evaluable
    if frame is None or len(frame) == 0:
        return []
    lines = []
    absent: dict[str, int] = {}
    for _, rows in frame.groupby("rule_id", sort=False):
        first = rows.iloc[0]
        reasons = {r for r in str(first.get("reasons", "") or "").split(";") if r}
        if reasons == {"study_missing"}:
            for study in dict.fromkeys(
                key.split(":")[0] for key in str(first.get("figures", "")).split(";") if key
            ):
                absent[study] = absent.get(study, 0) + 1
            continue
        sentence = str(first.get("text", "") or "")
        lines.append(f"{first['title']}" + (f" — {sentence}" if sentence else ""))
    for study, count in absent.items():
        name = text(f"brief.study_{study}", language) if has_text(f"brief.study_{study}") else study
        lines.append(phrase("not_evaluable.study_rules", language, study=name, count=count))
    return lines


def is_synthetic(published_paths: Mapping[str, str | Path | None]) -> bool:
    """Whether any study's figures come from the synthetic demo data.

    Read from the ``provenance.json`` beside each ``published.csv`` (its input
    files); without provenance the answer is no.
    """
    import json

    for path in published_paths.values():
        if not path:
            continue
        provenance = Path(path).with_name("provenance.json")
        if not provenance.is_file():
            continue
        record = json.loads(provenance.read_text(encoding="utf-8"))
        inputs = record.get("inputs", {})
        names = inputs.values() if isinstance(inputs, dict) else inputs
        for entry in names:
            location = entry.get("path", "") if isinstance(entry, dict) else str(entry)
            if location and is_demo_data(project_path(str(location))):
                return True
    return False


#: Print styles of the brief: compact enough for 2-4 A4 pages.
#: The brief's styles for the notebook view in JupyterLab; the exported report gets the
#: same rules from :data:`research_lib.render.reporting.REPORT_CSS` (a page keeps one style sheet).
BRIEF_CSS = f"<style>{BRIEF_CSS_RULES}</style>"


def items_html(items: list[BriefItem], language: str = "bg", most: int = 8) -> str:
    """The recommendations section: the ``most`` most certain items, compact, printable."""
    import html

    blocks = [BRIEF_CSS, f"<h2>{html.escape(text('brief.h_recommendations', language))}</h2>"]
    for number, item in enumerate(items[:most], start=1):
        also = (
            f" {html.escape(text('brief.also_in', language, groups=', '.join(item.also_for)))}"
            if item.also_for
            else ""
        )
        blocks.append(
            f'<div class="brief-item"><h3>{number}. {html.escape(item.title)}</h3>'
            f"<p>{html.escape(item.text)}{also}</p>"
            f'<p class="brief-meta"><b>{html.escape(text("brief.actor", language))}:</b> {html.escape(item.actor)}. '
            f"<b>{html.escape(text('brief.grade', language))}:</b> {html.escape(item.grade_label)}.</p>"
            f'<p class="brief-evidence"><b>{html.escape(text("brief.evidence", language))}:</b> '
            f"{html.escape('; '.join(item.evidence))}.</p>"
            f'<p class="brief-why"><b>{html.escape(text("brief.why", language))}:</b> {html.escape(item.reasons)}</p></div>'
        )
    if len(items) > most:
        blocks.append(
            f"<p><i>{html.escape(text('brief.more_in_csv', language, count=len(items) - most))}</i></p>"
        )
    return "\n".join(blocks)
