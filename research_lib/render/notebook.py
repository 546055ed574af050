"""Notebook helper: the steps every study notebook repeats, as one call each.

A study notebook is narrative plus calls: its cells say *what* the report shows
and call the library for *how*. This module holds the calls that were copied
from notebook to notebook:

* :func:`setup` — display options (seaborn theme, pandas), the language check
  and the output folder;
* :func:`publish` — writes ``published.csv`` (through disclosure control) and
  ``validation_summary.csv`` and says how many figures were published;
* :func:`title`, :func:`heading`, :func:`paragraph`, :func:`note`,
  :func:`markdown`, :func:`show_table` — the report's pieces, with the words
  read from the labels (:func:`research_lib.render.labels.text`);
* :func:`footer` — the "generated on … with research_lib …" line;
* :func:`voices_markdown`, :func:`published_paths`, :func:`write_children_pages`
  — the logic that used to live in the quality-of-life and brief notebooks.

Functions that display something return ``None`` (so a cell shows nothing
twice); the pure ``*_markdown`` functions return the text they would display
and are what the tests check. Label text and library sentences are trusted
Markdown; text that comes from data must be escaped by the caller
(:func:`research_lib.render.markup.md_text`, :func:`~research_lib.render.markup.html_text`).

Layer: ``render`` — imports ``io``, ``disclosure`` and the rest of ``render``;
never ``studies`` or ``runner`` (the brief's children's page is imported where
it is used).

Examples
--------
>>> heading_markdown("qol.h_limits", "en", "First paragraph.", "Second.")
'## Limitations\\n\\nFirst paragraph.\\n\\nSecond.'
>>> heading_markdown("dimension.sex", "en", level=3)
'### Sex'
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Markdown, display

from research_lib.disclosure.suppression import write_published
from research_lib.disclosure.voices import select_quotes
from research_lib.io.codebook import Codebook
from research_lib.io.oblasts import expand_oblast, oblast_slug
from research_lib.paths import display_path, project_path
from research_lib.render.labels import check_language, text
from research_lib.render.markup import md_text, quote_html
from research_lib.render.reporting import set_theme, table_html
from research_lib.version import __version__

__all__ = [
    "PANDAS_OPTIONS",
    "setup",
    "publish",
    "heading_markdown",
    "heading",
    "title",
    "paragraph",
    "note",
    "markdown",
    "bullets",
    "show_table",
    "date_text",
    "footer_markdown",
    "footer",
    "voices_markdown",
    "published_paths",
    "write_children_pages",
]

#: pandas display options for tables a researcher looks at in JupyterLab
#: (reports show tables through :func:`show_table`, which these do not change).
PANDAS_OPTIONS: Mapping[str, object] = {"display.max_columns": 50, "display.width": 160}


def setup(
    language: str, output_dir: str | Path | None = None, *, plots: bool = True
) -> Path | None:
    """Prepare a notebook: display options, the language check and the output folder.

    Parameters
    ----------
    language : str
        The report language; an unknown one raises an
        :class:`~research_lib.errors.InputError` before anything is computed.
    output_dir : str or Path, optional
        The run's output folder (relative to the project root); created if absent.
    plots : bool, default True
        Set the report theme for plots (:func:`~research_lib.render.reporting.set_theme`);
        a notebook without plots (the brief) skips it.

    Returns
    -------
    Path or None
        The output folder as an absolute path, or ``None`` without ``output_dir``.
    """
    if plots:
        set_theme()
    for option, value in PANDAS_OPTIONS.items():
        pd.set_option(option, value)
    check_language(language)
    if output_dir is None:
        return None
    out = project_path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def publish(
    published: pd.DataFrame,
    out: str | Path,
    min_cell: int,
    *,
    problems: pd.DataFrame | None = None,
) -> Path:
    """Write a study's ``published.csv`` and ``validation_summary.csv`` into ``out``.

    Parameters
    ----------
    published : DataFrame
        The study's figures (its ``published_figures``); disclosure control is
        applied on writing (:func:`~research_lib.disclosure.suppression.write_published`).
    out : str or Path
        The output folder (from :func:`setup`).
    min_cell : int
        The fewest children a published figure may rest on.
    problems : DataFrame, optional
        The loader's problem counts (``data.load.problem_counts()``), written
        as ``validation_summary.csv``.

    Returns
    -------
    Path
        The ``published.csv`` written. One line says how many figures were
        published and suppressed, and where.
    """
    out = Path(out)
    path = write_published(published, out / "published.csv", min_cell)
    if problems is not None:
        problems.to_csv(out / "validation_summary.csv", index=False)
    suppressed = int(published["suppressed"].sum())
    print(f"{len(published)} figures published ({suppressed} suppressed) in {display_path(out)}")
    return path


def heading_markdown(key: str, language: str, *body: str, level: int = 2, **fmt: object) -> str:
    """A heading read from the labels, followed by paragraphs of Markdown.

    Parameters
    ----------
    key : str
        The label of the heading (e.g. ``"qol.h_summary"``).
    language : str
        ``"bg"`` or ``"en"``.
    *body : str
        Paragraphs after the heading (trusted Markdown), separated by a blank line.
    level : int, default 2
        ``2`` for ``##``, ``3`` for ``###``.
    **fmt
        Values for the label's ``{placeholders}``.
    """
    if not 1 <= level <= 6:
        raise ValueError(f"heading level must be 1-6, not {level}")
    return "\n\n".join([f"{'#' * level} {text(key, language, **fmt)}", *body])


def heading(key: str, language: str, *body: str, level: int = 2, **fmt: object) -> None:
    """Display :func:`heading_markdown` (a heading from the labels and its paragraphs)."""
    display(Markdown(heading_markdown(key, language, *body, level=level, **fmt)))


def title(heading: str, subtitle: str, language: str, *, synthetic: bool = False) -> None:
    """Display the report's title and subtitle, and the demo-data warning if ``synthetic``.

    ``heading`` is Markdown and ``subtitle`` HTML: escape text from data first.
    """
    display(Markdown(f"# {heading}\n\n<p class='subtitle'>{subtitle}</p>"))
    if synthetic:
        display(Markdown(f"<p class='warning'>{text('common.synthetic_warning', language)}</p>"))


def paragraph(key: str, language: str, **fmt: object) -> None:
    """Display the label ``key`` as a paragraph."""
    display(Markdown(text(key, language, **fmt)))


def note(key: str, language: str, **fmt: object) -> None:
    """Display the label ``key`` as a note in small print (under a table or plot)."""
    display(Markdown(f"<small>{text(key, language, **fmt)}</small>"))


def markdown(*parts: str) -> None:
    """Display trusted Markdown, the parts separated by a blank line."""
    display(Markdown("\n\n".join(parts)))


def bullets(sentences: Iterable[str]) -> str:
    """A Markdown list of sentences that are already Markdown (the library's own words).

    For text from data use :func:`research_lib.render.markup.md_list`, which escapes.

    >>> print(bullets(["One.", "*Two*."]))
    - One.
    - *Two*.
    """
    return "\n".join(f"- {sentence}" for sentence in sentences)


def show_table(table: pd.DataFrame, *, skip_empty: bool = True) -> None:
    """Display a report table (:func:`~research_lib.render.reporting.table_html`).

    An empty table is not shown unless ``skip_empty`` is false.
    """
    if skip_empty and table.empty:
        return
    display(HTML(table_html(table)))


def date_text(day: datetime.date | pd.Timestamp, language: str) -> str:
    """A date as the report writes it: ``31.12.2024`` in Bulgarian, ``2024-12-31`` in English.

    >>> date_text(datetime.date(2024, 12, 31), "bg"), date_text(datetime.date(2024, 12, 31), "en")
    ('31.12.2024', '2024-12-31')
    """
    return day.strftime("%d.%m.%Y" if language == "bg" else "%Y-%m-%d")


def footer_markdown(language: str, today: datetime.date | None = None) -> str:
    """The report's last line: the date it was generated and the library version."""
    day = (today or datetime.date.today()).isoformat()
    generated = text("common.generated", language, date=day, version=__version__)
    return f"<p class='generated'>{generated}</p>"


def footer(language: str) -> None:
    """Display :func:`footer_markdown` for today."""
    display(Markdown(footer_markdown(language)))


def voices_markdown(
    current: pd.DataFrame,
    codebook: Codebook,
    *,
    min_cell: int,
    language: str,
    known_ids: Iterable[object] | None = None,
    column: str = "voice",
    by: str = "placement_type",
) -> str:
    """The children's own words, redacted, grouped by kind of care (the QoL report's section).

    Quotes come from :func:`~research_lib.disclosure.voices.select_quotes` (only
    groups with at least ``min_cell`` answers; names, ids and places masked) and
    are written as HTML text, never markup. The question asked is read from the
    codebook's ``voice`` entry.

    Parameters
    ----------
    current : DataFrame
        The children of the report's wave and scope, with the free-text ``column``.
    codebook : Codebook
        The instrument; its ``voice.text.<language>`` is the question quoted.
    min_cell : int
        The fewest children who answered a group must have to be quoted.
    language : str
        ``"bg"`` or ``"en"``.
    known_ids : iterable, optional
        Every respondent and service id of the file, masked in the answers.
    column, by : str
        The free-text column and the grouping column.

    Returns
    -------
    str
        Markdown: the introduction and one ``###`` block per group, or the
        sentence that no quotes can be shown.
    """
    question = codebook.extra.get(column, {}).get("text", {}).get(language, "")
    quotes = (
        select_quotes(
            current, text=column, by=by, min_cell=min_cell, language=language, known_ids=known_ids
        )
        if column in current.columns
        else None
    )
    if quotes is None or quotes.empty:
        return text("qol.voices_none", language)
    blocks = [md_text(text("qol.voices_intro", language, question=question, min_cell=min_cell))]
    for group, rows in quotes.groupby("group", sort=False):
        blocks.append(f"### {text(f'{by}.{group}', language)}")
        blocks += [quote_html(quote) for quote in rows["quote"]]  # a child's words: text only
    return "\n\n".join(blocks)


def published_paths(scope: str, **templates: str) -> dict[str, Path]:
    """Where each study's ``published.csv`` is for ``scope`` (absolute paths).

    Parameters
    ----------
    scope : str
        A NUTS-3 code or ``"all"`` (:func:`~research_lib.io.oblasts.resolve_scope`).
    **templates : str
        Study name to path relative to the project root, in which ``{oblast}``
        stands for the scope's slug (:func:`~research_lib.io.oblasts.expand_oblast`).

    Examples
    --------
    >>> paths = published_paths("BG331", qol="reports/qol/{oblast}/published.csv")
    >>> paths["qol"].relative_to(project_path(".")).as_posix()
    'reports/qol/varna/published.csv'
    """
    expanded = expand_oblast(templates, oblast_slug(scope))
    return {study: project_path(path) for study, path in expanded.items()}


def write_children_pages(
    qol_published: pd.DataFrame | None, codebook: Codebook, language: str, out: str | Path
) -> list[Path]:
    """Write the children's page (always in Bulgarian, and also in ``language``).

    ``children.html`` is in Bulgarian; another report language adds
    ``children_<language>.html``. Without the quality-of-life study's figures
    (``None``) nothing is written.

    Returns
    -------
    list of Path
        The pages written.
    """
    # imported here: the page reads the brief's grading words (research_lib.studies.brief)
    from research_lib.render.children_page import children_summary, write_children_page

    if qol_published is None:
        return []
    out = Path(out)
    written = [
        write_children_page(children_summary(qol_published, codebook, "bg"), out / "children.html")
    ]
    if language != "bg":
        page = out / f"children_{language}.html"
        written.append(
            write_children_page(children_summary(qol_published, codebook, language), page)
        )
    return written
