"""The page for the children who took part: "what you told us, what we ask adults to change".

Children who took part have a right to hear back. The page is built only from
the quality-of-life study's published, disclosure-controlled figures, in short
sentences without jargon, and shows no number except how many children answered
(itself a published, protected count). It says what is going well, what should
get better (where children in a kind of care are clearly worse off) and what we
asked adults to do, then where to find help. Where a shortfall comes from
comparing groups of children, the page says, in a child's words, what the
comparison took into account (the study's published ``adjusted_for`` rows) and
that it does not show whether the place itself is behind the difference: it
describes differences, never what a placement does to a child.

Examples
--------
>>> from research_lib.disclosure.suppression import read_published  # doctest: +SKIP
>>> summary = children_summary(read_published("reports/qol/all/published.csv"), book)  # doctest: +SKIP
>>> write_children_page(summary, "reports/brief/all/children.html")  # doctest: +SKIP
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from research_lib.disclosure.figures import adjusted_for
from research_lib.io.codebook import Codebook
from research_lib.render.labels import check_language, has_text, text
from research_lib.render.reporting import format_number

__all__ = ["ChildrenSummary", "children_summary", "children_page_html", "write_children_page"]

#: The groups whose clear disadvantage the page names (others are not singled out).
_NAMED_GROUPS = ("cnst", "institution", "foster", "kinship", "family")


@dataclass(frozen=True)
class ChildrenSummary:
    """What the children's page says, sentence by sentence."""

    language: str
    n_children: float | None
    good: list[str] = field(default_factory=list)
    better: list[str] = field(default_factory=list)
    asks: list[str] = field(default_factory=list)
    compared: str | None = None


def _compared(published: pd.DataFrame, language: str) -> str:
    """What the comparison of groups took into account, and that it shows no cause."""
    note = text("children.compared_note", language)
    covariates = adjusted_for(published)
    if not covariates:
        return note
    words = [
        text(f"children.covariate_{c}", language)
        for c in covariates
        if has_text(f"children.covariate_{c}")
    ]
    if not words:
        return note
    joined = (
        words[0]
        if len(words) == 1
        else ", ".join(words[:-1]) + (" и " if language == "bg" else " and ") + words[-1]
    )
    return text("children.compared_took_into_account", language, what=joined) + " " + note


def _shown(published: pd.DataFrame, table: str) -> pd.DataFrame:
    rows = published[(published["table"] == table) & ~published["suppressed"].astype(bool)]
    return rows.dropna(subset=["value"])


def _domain_text(kind: str, domain: str, codebook: Codebook, language: str) -> str:
    key = f"children.{kind}_{domain}"
    if has_text(key):
        return text(key, language)
    return text(
        f"children.{kind}_generic", language, domain=codebook.domain_label(domain, language)
    )


def children_summary(
    published: pd.DataFrame,
    codebook: Codebook,
    language: str = "bg",
    most: int = 4,
    per_group: int = 2,
) -> ChildrenSummary:
    """The sentences of the children's page, from the QoL study's published figures only.

    * going well: the ``most`` domains with the highest mean score of all children;
    * to get better: the clearest shortfalls of a kind of care against the reference
      group (95% CI below zero), at most ``per_group`` per kind of care, ЦНСТ first;
      without any, the lowest domains;
    * asks: one concrete ask per domain that should get better;
    * compared: when the shortfalls come from comparing groups, what the
      comparison took into account (from the published ``adjusted_for`` rows,
      in a child's words) and that it does not show whether the place itself is
      behind the difference.
    """
    check_language(language)
    sample = _shown(published, "sample")
    total = sample[sample["group"] == "all"]["value"]
    means = _shown(published, "means_by_placement_type")
    overall = means[means["group"] == "all"].sort_values("value", ascending=False)
    good = [_domain_text("good", d, codebook, language) for d in overall["measure"].head(3)]

    gaps = _shown(published, "difference_vs_reference")
    gaps = gaps[(gaps["ci_high"] < 0) & gaps["group"].isin(_NAMED_GROUPS)]
    gaps = gaps.assign(rank=gaps["group"].map({g: i for i, g in enumerate(_NAMED_GROUPS)}))
    gaps = (
        gaps.sort_values("value")
        .groupby("group", sort=False)
        .head(per_group)
        .sort_values(["rank", "value"])
    )
    better, domains = [], []
    for _, row in gaps.iterrows():
        if len(better) == most or row["measure"] in domains:
            continue
        domains.append(row["measure"])
        key = f"children.better_{row['measure']}"
        where = text(f"children.where_{row['group']}", language)
        label = codebook.domain_label(row["measure"], language)
        better.append(
            text(key, language, where=where)
            if has_text(key)
            else text("children.better_group", language, where=where, domain=label)
        )
    if not better:
        for domain in overall["measure"].tail(most)[::-1]:
            domains.append(domain)
            better.append(
                text(
                    "children.better_generic",
                    language,
                    domain=codebook.domain_label(domain, language),
                )
            )
    asks = [_domain_text("ask", d, codebook, language) for d in domains]
    return ChildrenSummary(
        compared=_compared(published, language) if len(gaps) and better else None,
        language=language,
        n_children=float(total.iloc[0]) if len(total) else None,
        good=good,
        better=better,
        asks=asks,
    )


_CSS = """
body { margin: 0; background: #fffaf0; color: #222; font: 20px/1.6 "DejaVu Sans", Arial, sans-serif; }
main { max-width: 720px; margin: 0 auto; padding: 1.5rem 1.1rem 3rem; }
h1 { font-size: 1.6rem; line-height: 1.3; color: #0b5c8a; }
h2 { font-size: 1.25rem; margin-top: 2rem; color: #0b5c8a; }
ul { padding-left: 1.2rem; } li { margin: 0.5rem 0; }
.good li::marker { content: "✓  "; color: #009E73; }
.better li::marker { content: "!  "; color: #D55E00; font-weight: bold; }
.ask li::marker { content: "→  "; color: #0072B2; }
.help { background: #e8f4fb; border-radius: 12px; padding: 0.9rem 1.1rem; margin-top: 2rem; }
.privacy { color: #555; font-size: 0.85rem; margin-top: 1.5rem; }
@media print { body { background: #fff; font-size: 13pt; } }
"""


def children_page_html(summary: ChildrenSummary, warning: str | None = None) -> str:
    """The page as a standalone, phone-friendly, printable HTML document."""
    lang = summary.language

    def items(sentences: list[str]) -> str:
        return "\n".join(f"<li>{html.escape(s)}</li>" for s in sentences)

    count = (
        f"<p>{html.escape(text('children.how_many', lang, n=format_number(summary.n_children, lang, 0)))}</p>"
        if summary.n_children is not None
        else ""
    )
    note = f'<p class="privacy">{html.escape(warning)}</p>' if warning else ""
    compared = f"<p>{html.escape(summary.compared)}</p>" if summary.compared else ""
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(text("children.title", lang))}</title><style>{_CSS}</style></head>
<body><main>
<h1>{html.escape(text("children.title", lang))}</h1>
<p>{html.escape(text("children.intro", lang))}</p>
{count}
<h2>{html.escape(text("children.h_good", lang))}</h2>
<ul class="good">{items(summary.good)}</ul>
<h2>{html.escape(text("children.h_better", lang))}</h2>
<ul class="better">{items(summary.better)}</ul>
{compared}
<h2>{html.escape(text("children.h_ask", lang))}</h2>
<ul class="ask">{items(summary.asks)}</ul>
<h2>{html.escape(text("children.h_next", lang))}</h2>
<p>{html.escape(text("children.next", lang))}</p>
<p class="help">{html.escape(text("children.help", lang))}</p>
<p class="privacy">{html.escape(text("children.privacy", lang))}</p>
{note}
</main></body></html>
"""


def write_children_page(
    summary: ChildrenSummary, path: str | Path, warning: str | None = None
) -> Path:
    """Write :func:`children_page_html` to ``path`` (UTF-8)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(children_page_html(summary, warning), encoding="utf-8")
    return path
