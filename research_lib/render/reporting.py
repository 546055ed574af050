"""Reports: one look for every plot, number formats per language, HTML export.

* :data:`PLACEMENT_COLOURS` — one colour per placement type, the same in every
  plot of every report (Okabe-Ito, safe for colour-blind readers and in grey print).
* :func:`set_theme` — seaborn theme with a font that renders Cyrillic.
* :func:`format_number`, :func:`format_estimate` — Bulgarian uses a decimal comma.
* :func:`published_table` — a published table laid out for reading, suppressed
  figures shown as "—"; tables are only ever built from published figures.
* :func:`plot_group_means`, :func:`plot_differences` — point ranges with CIs.
* :func:`export_html` — an executed notebook to a self-contained HTML report
  without code, readable on a phone and printable.

Examples
--------
>>> format_estimate(62.345, 60.1, 64.52, language="bg")
'62,3 (60,1 – 64,5)'
>>> format_estimate(62.345, 60.1, 64.52, language="en")
'62.3 (60.1 – 64.5)'
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from research_lib.io.vocab import PLACEMENT_TYPES
from research_lib.render.labels import check_language, group_label, text
from research_lib.render.markup import sanitize_html

__all__ = [
    "PLACEMENT_COLOURS",
    "set_theme",
    "placement_palette",
    "format_number",
    "format_estimate",
    "published_table",
    "plot_group_means",
    "plot_differences",
    "export_html",
    "table_html",
    "has_shown",
    "REPORT_CSS",
]

#: One colour per placement type (Okabe-Ito palette), used by every plot.
PLACEMENT_COLOURS: dict[str, str] = {
    "family": "#009E73",
    "kinship": "#56B4E9",
    "foster": "#0072B2",
    "cnst": "#E69F00",
    "institution": "#D55E00",
}
FONT = "DejaVu Sans"  # ships with matplotlib; has Cyrillic


def set_theme() -> None:
    """Seaborn theme for reports: white grid, readable sizes, a Cyrillic font, fixed DPI."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", font=FONT)
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "axes.titleweight": "bold",
            "svg.hashsalt": "di-workbench",  # stable output
        }
    )


def placement_palette(language: str = "bg") -> dict[str, str]:
    """Colours keyed by the placement-type label in ``language`` (for seaborn ``palette=``)."""
    return {group_label("placement_type", p, language): c for p, c in PLACEMENT_COLOURS.items()}


def format_number(value: float | None, language: str = "bg", digits: int = 1) -> str:
    """A number for readers: decimal comma in Bulgarian, a dash for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return text("common.suppressed", language)
    formatted = f"{value:,.{digits}f}".replace("-", "\u2212")  # a true minus sign
    if formatted.lstrip("\u2212").strip("0.,") == "":
        formatted = formatted.lstrip("\u2212")  # no "−0,0"
    if check_language(language) == "bg":
        formatted = formatted.replace(",", "\u00a0").replace(
            ".", ","
        )  # no-break space for thousands
    return formatted


def format_estimate(
    value: float | None,
    low: float | None,
    high: float | None,
    language: str = "bg",
    digits: int = 1,
) -> str:
    """``"62,3 (60,1 – 64,5)"``; a dash when the value is suppressed or missing."""
    if value is None or pd.isna(value):
        return text("common.suppressed", language)
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return format_number(value, language, digits)
    return (
        f"{format_number(value, language, digits)} "
        f"({format_number(low, language, digits)} – {format_number(high, language, digits)})"
    )


def published_table(
    published: pd.DataFrame,
    table: str,
    *,
    dimension: str,
    measure_labels: Mapping[str, str] | None = None,
    language: str = "bg",
    digits: int = 1,
    scale: float = 1.0,
    with_n: bool = True,
) -> pd.DataFrame:
    """One published table laid out for reading: measures as rows, groups as columns.

    Each cell is "estimate (CI)" or "—" where the figure was suppressed. Column
    headers are group labels in ``language`` with the number of children.
    ``scale`` multiplies values (100 for shares shown as percentages).
    """
    rows = published[published["table"] == table]
    if rows.empty:
        return pd.DataFrame()
    cells = rows.assign(
        cell=[
            format_estimate(
                v * scale if pd.notna(v) else v, lo * scale, hi * scale, language, digits
            )
            for v, lo, hi in zip(rows["value"], rows["ci_low"], rows["ci_high"], strict=True)
        ]
    )
    layout = cells.pivot_table(
        index="measure", columns="group", values="cell", aggfunc="first", sort=False
    )
    group_n = rows.groupby("group", sort=False)["n"].max()
    layout.columns = [
        _column_title(dimension, g, group_n.get(g), language, with_n) for g in layout.columns
    ]
    layout.index = [(measure_labels or {}).get(m, m) for m in layout.index]
    layout.index.name = text("dimension.domain", language)
    return layout.fillna(text("common.suppressed", language))


def has_shown(
    published: pd.DataFrame, table: str, exclude_groups: Sequence[str] = ("all",)
) -> bool:
    """Whether ``table`` has at least one shown (not suppressed) figure outside ``exclude_groups``."""
    rows = published[(published["table"] == table) & ~published["suppressed"].astype(bool)]
    return bool((~rows["group"].isin(list(exclude_groups))).any())


def _column_title(dimension: str, group: str, n: float | None, language: str, with_n: bool) -> str:
    label = (
        group_label(dimension, group, language)
        if group != "all"
        else text("dimension.all", language)
    )
    if with_n and n is not None and pd.notna(n):
        return f"{label} (n={int(n)})"
    return label


def _group_order(groups: Sequence[str], dimension: str) -> list[str]:
    if dimension == "placement_type":
        return [p for p in PLACEMENT_TYPES if p in set(groups)]
    return list(dict.fromkeys(groups))


def plot_group_means(
    published: pd.DataFrame,
    table: str,
    *,
    dimension: str,
    measure_labels: Mapping[str, str],
    language: str = "bg",
    xlabel: str | None = None,
    ax=None,
):
    """Point ranges: the mean of each measure by group with its 95% CI (suppressed groups left out).

    Colours follow :data:`PLACEMENT_COLOURS` when ``dimension`` is the placement type.
    Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    rows = published[(published["table"] == table) & ~published["suppressed"].astype(bool)]
    measures = [m for m in measure_labels if m in set(rows["measure"])]
    groups = _group_order(rows["group"].tolist(), dimension)
    if not measures:
        raise ValueError(
            f"nothing to plot: every figure of table {table!r} is suppressed or absent"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.55 * len(measures) + 1.6))
    step = 0.8 / max(len(groups), 1)
    for g, group in enumerate(groups):
        sub = rows[rows["group"] == group].set_index("measure").reindex(measures)
        y = [i - 0.4 + step * (g + 0.5) for i in range(len(measures))]
        colour = PLACEMENT_COLOURS.get(group) if dimension == "placement_type" else None
        ax.errorbar(
            sub["value"],
            y,
            xerr=[sub["value"] - sub["ci_low"], sub["ci_high"] - sub["value"]],
            fmt="o",
            ms=5,
            capsize=2,
            color=colour,
            label=group_label(dimension, group, language),
        )
    ax.set_yticks(range(len(measures)), [measure_labels[m] for m in measures])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel or text("common.score_axis", language))
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12 - 0.02 * len(measures) / 10),
        ncol=min(len(groups), 3),
        frameon=False,
    )
    ax.figure.tight_layout()
    return ax


def plot_differences(
    published: pd.DataFrame,
    table: str,
    *,
    measure_labels: Mapping[str, str],
    reference_label: str,
    language: str = "bg",
    dimension: str = "placement_type",
    ax=None,
):
    """Forest plot: the adjusted difference from the reference group, per measure and group."""
    ax = plot_group_means(
        published,
        table,
        dimension=dimension,
        measure_labels=measure_labels,
        language=language,
        xlabel=text("common.difference_axis", language, reference=reference_label),
        ax=ax,
    )
    ax.axvline(0.0, color="0.3", lw=1, ls="--")
    return ax


_CI = re.compile(r" \(([^()]*)\)$")


#: A cell longer than this (a source, a quote, a link) is set as a wrapping text block.
LONG_CELL_CHARS = 60


def _cell_html(cell: object) -> str:
    """One cell: escaped; a trailing "(… – …)" as the CI line; long text as a wrapping block."""
    raw = str(cell)
    if len(raw) > LONG_CELL_CHARS:
        return f'<span class="long">{html.escape(raw)}</span>'
    return _CI.sub(r'<br><span class="ci">(\1)</span>', html.escape(raw))


def table_html(table: pd.DataFrame) -> str:
    """A report table as HTML: text escaped, each CI on its own unbroken line under its estimate.

    Text longer than :data:`LONG_CELL_CHARS` (a source, a quote, a link) is set
    as a left-aligned block that wraps, even inside a long link, so the table fits
    the page.
    """
    body = table.map(_cell_html)
    body.index = [html.escape(str(i)) for i in body.index]
    body.columns = [html.escape(str(c)) for c in body.columns]
    corner = html.escape(str(table.index.name or ""))
    out = body.rename_axis(None).to_html(border=0, escape=False, classes="report-table")
    return out.replace("<th></th>", f"<th>{corner}</th>", 1)


#: The policy brief's rules (its items, and four printed pages); part of :data:`REPORT_CSS`.
BRIEF_CSS_RULES = """
.brief-item { break-inside: avoid; margin-bottom: 0.9rem; }
.brief-item h3 { margin-bottom: 0.3rem; }
.brief-meta { font-size: 0.9em; color: #333; }
.brief-evidence { font-size: 0.85em; color: #333; margin: 0.2rem 0; }
.brief-why { font-size: 0.78em; color: #555; }
@media print {
  body:has(.brief-item) { font-size: 9.5pt; line-height: 1.35; }
  body:has(.brief-item) h1 { font-size: 15pt; }
  body:has(.brief-item) h2 { font-size: 12pt; margin-top: 0.9rem; }
  body:has(.brief-item) h3 { font-size: 10.5pt; }
  .brief-why { font-size: 7.5pt; }
}
"""

REPORT_CSS = (
    BRIEF_CSS_RULES
    + """
:root { --ink: #1d1d1f; --muted: #5a5a5f; --rule: #d9d9de; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
       font: 17px/1.55 "DejaVu Sans", "Segoe UI", Roboto, Arial, sans-serif; }
main { max-width: 880px; margin: 0 auto; padding: 1.2rem 1rem 3rem; }
h1 { font-size: 1.7rem; line-height: 1.25; margin: 0.6rem 0 0.2rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 2px solid var(--accent); padding-bottom: 0.2rem; }
h3 { font-size: 1.1rem; margin-top: 1.5rem; }
p, li { max-width: 72ch; }
.subtitle, .generated { color: var(--muted); }
.warning { background: #fff4e0; border-left: 4px solid #E69F00; padding: 0.6rem 0.8rem; }
img { max-width: 100%; height: auto; display: block; margin: 0.6rem auto; }
.table-wrap, .jp-RenderedHTMLCommon, .output_html { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.88rem; margin: 0.6rem 0 1rem; }
th, td { border-bottom: 1px solid var(--rule); padding: 0.3rem 0.55rem; text-align: right; vertical-align: top; }
td .long { display: inline-block; min-width: 12em; text-align: left; overflow-wrap: anywhere; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid var(--ink); }
.ci { white-space: nowrap; color: var(--muted); font-size: 0.92em; }
a.anchor-link { display: none; }
blockquote { margin: 0.6rem 0; padding: 0.3rem 0.9rem; border-left: 4px solid var(--rule); color: #333; font-style: italic; }
.jp-InputPrompt, .jp-OutputPrompt, .prompt { display: none; }
@media (max-width: 600px) { body { font-size: 16px; } h1 { font-size: 1.4rem; } table { font-size: 0.8rem; } }
@media print {
  @page { size: A4; margin: 16mm 14mm; }
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  img, table, blockquote, figure { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""
)


def export_html(
    notebook: str | Path,
    output: str | Path,
    *,
    title: str,
    language: str = "bg",
    remove_tags: Sequence[str] = ("parameters", "injected-parameters", "remove-from-report"),
) -> Path:
    """Export an executed notebook to a standalone HTML report without code cells.

    The exported body is passed through :func:`research_lib.render.markup.sanitize_html`
    (an allow-list of the tags a report uses); the page's own style sheet is added
    after that, so no ``<style>``, ``<script>`` or event handler from a cell output
    reaches the page.

    Cells tagged with any of ``remove_tags`` are left out (the parameters cell and
    notes meant only for the researcher in JupyterLab). Images stay embedded, so
    the file can be sent on its own.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = set(remove_tags)
    config.TagRemovePreprocessor.enabled = True
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    exporter = HTMLExporter(config=config, template_name="basic")
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.read(str(notebook), as_version=4))
    body = sanitize_html(body)  # whatever escaping missed: no script, handler or frame survives
    page = (
        f'<!DOCTYPE html>\n<html lang="{check_language(language)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{REPORT_CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output
