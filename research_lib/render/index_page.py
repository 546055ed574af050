"""The index page (``reports/index.html``): the coordinators' entry point to every report.

:func:`index_html` turns the provenance records of every run folder
``reports/<study>/<oblast-slug>/`` (collected by
:func:`research_lib.runner.index.build_index`, which writes the page) into one
static page with

1. a table of the 28 oblasts (and the country) with each study's headline
   figure — the study's headline (from the study registry, passed in by the
   runner, or recorded in the run's provenance), read from the run's
   ``published.csv``; "—" where it is suppressed, missing or the run failed —
   each figure linking to its report;
2. the list of every report: study, oblast, date, a short hash of the input
   data, status and a relative link.

A run that failed or was interrupted keeps its previous report: the page says
"last run failed, showing the previous report of DATE" and links to it. A run
recorded as running whose process is gone is shown as interrupted, never as
ready (the runner decides a record's ``_state``); a link is shown only when the
report file exists.

The page is Bulgarian by default (English with ``language="en"``), has no
script, and reuses :data:`research_lib.render.reporting.REPORT_CSS`, so it reads on a
phone and prints on A4. Links are relative, so the ``reports/`` folder can be
copied or zipped as a whole. This module reads published files only and
imports nothing from the runner.

Examples
--------
>>> page_text("status_ok", "en")
'ready'
"""

from __future__ import annotations

import datetime
import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from research_lib.render.labels import check_language, has_text, text

__all__ = [
    "INDEX_FILE",
    "TEXT",
    "page_text",
    "shown_report",
    "headline_value",
    "index_html",
]

INDEX_FILE = "index.html"

#: The page's own words (report titles, oblast names and "—" come from the label tables).
TEXT: dict[str, dict[str, str]] = {
    "title": {
        "bg": "Доклади: деинституционализация на грижата за деца",
        "en": "Reports: deinstitutionalisation of child care",
    },
    "intro": {
        "bg": "Всички доклади, изготвени от DI evidence workbench. Всеки доклад е за една област или за цялата страна; числата в таблицата по области са взети от публикуваните (защитени) резултати на доклада.",
        "en": "Every report produced by the DI evidence workbench. Each report covers one oblast or the whole country; the figures in the table by oblast come from the report's published (disclosure-controlled) results.",
    },
    "h_headlines": {"bg": "Основни показатели по области", "en": "Headline figures by oblast"},
    "h_reports": {"bg": "Всички доклади", "en": "All reports"},
    "col_oblast": {"bg": "Област", "en": "Oblast"},
    "col_study": {"bg": "Проучване", "en": "Study"},
    "col_date": {"bg": "Дата", "en": "Date"},
    "col_data": {"bg": "Данни (хеш)", "en": "Data (hash)"},
    "col_status": {"bg": "Състояние", "en": "Status"},
    "col_report": {"bg": "Доклад", "en": "Report"},
    "open": {"bg": "отвори", "en": "open"},
    "status_ok": {"bg": "готов", "en": "ready"},
    "status_failed": {"bg": "неуспешен", "en": "failed"},
    "status_running": {"bg": "в процес", "en": "running"},
    "status_interrupted": {"bg": "прекъснат", "en": "interrupted"},
    "kept_failed": {
        "bg": "последното изпълнение е неуспешно; показан е предишният доклад от {date}",
        "en": "last run failed, showing the previous report of {date}",
    },
    "kept_interrupted": {
        "bg": "последното изпълнение е прекъснато; показан е предишният доклад от {date}",
        "en": "last run was interrupted, showing the previous report of {date}",
    },
    "kept_running": {
        "bg": "изпълнява се; показан е предишният доклад от {date}",
        "en": "running, showing the previous report of {date}",
    },
    "override": {
        "bg": "изключение: min_cell = {value} (под долната граница {floor})",
        "en": "exception: min_cell = {value} (below the floor of {floor})",
    },
    "counts": {
        "bg": "{n} доклада: {ok} готови, {failed} неуспешни, {incomplete} незавършени (прекъснати или в процес).",
        "en": "{n} reports: {ok} ready, {failed} failed, {incomplete} incomplete (interrupted or running).",
    },
    "kept_note": {
        "bg": "„†“: последното изпълнение е неуспешно или прекъснато; числото е от предишния доклад.",
        "en": "“†”: the last run failed or was interrupted; the figure is from the previous report.",
    },
    "none": {
        "bg": "Все още няма доклади. Пуснете „make demo“ или „python -m research_lib batch qol --over oblast“.",
        "en": "No reports yet. Run “make demo” or “python -m research_lib batch qol --over oblast”.",
    },
    "dash_note": {
        "bg": "„—“: няма показател — числото е скрито, защото се отнася за твърде малко деца, липсва в доклада или докладът не е изготвен.",
        "en": "“—”: no figure — it is hidden because it concerns too few children, it is missing from the report, or the report failed.",
    },
    "data_note": {
        "bg": "„Данни (хеш)“ е отпечатък на входните файлове: два доклада с еднакъв отпечатък са изготвени от едни и същи данни.",
        "en": "“Data (hash)” is a fingerprint of the input files: two reports with the same fingerprint were made from the same data.",
    },
    "generated": {"bg": "Страницата е създадена на {date}.", "en": "Page generated on {date}."},
}

_EXTRA_CSS = """
.status-failed { color: #B00020; font-weight: bold; }
.status-running, .status-interrupted { color: var(--muted); }
.status-interrupted { font-weight: bold; }
.override { color: #B00020; }
span.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 0.85em; }
td, th { text-align: left; }
td.num { text-align: right; }
"""


def page_text(key: str, language: str = "bg", **values: object) -> str:
    """A word of the index page in ``language``."""
    template = TEXT[key][check_language(language)]
    return template.format(**values) if values else template


def shown_report(
    record: Mapping[str, Any], reports_dir: str | Path
) -> tuple[str | None, Mapping[str, Any] | None]:
    """The report file a run folder shows and the record it comes from (the previous one
    when the last run failed or was interrupted); ``(None, None)`` when there is none on disk."""
    source: Mapping[str, Any] | None = record
    if record.get("_state", record.get("status")) != "ok":
        previous = record.get("previous")
        source = previous if isinstance(previous, Mapping) else None
    if source is None:
        return None, None
    name = _report_name(source)
    if name is None or not (Path(reports_dir) / record["_folder"] / name).is_file():
        return None, None
    return name, source


def headline_value(
    folder: str | Path, headline: Mapping[str, Any], scope: str = "all"
) -> float | None:
    """The headline figure from a run's ``published.csv``; ``None`` if suppressed or missing.

    A headline group ``{scope}`` stands for the run's own oblast code (``all`` for the country).
    """
    import pandas as pd

    path = Path(folder) / "published.csv"
    if not path.is_file():
        return None
    try:
        published = pd.read_csv(path, dtype={"table": str, "group": str, "measure": str})
    except (OSError, ValueError):
        return None
    rows = published[
        (published["table"] == headline["table"])
        & (published["group"] == str(headline["group"]).replace("{scope}", scope))
        & (published["measure"] == headline["measure"])
    ]
    if rows.empty:
        return None
    row = rows.iloc[0]
    suppressed = str(row.get("suppressed", "False")).strip().lower() in {"true", "1", "yes"}
    value = row.get("value")
    if suppressed or value is None or pd.isna(value):
        return None
    return float(value)


def _title(record: Mapping[str, Any], language: str, titles: Mapping[str, str]) -> str:
    """The study's title: its registered title key, else the one its run recorded."""
    key = titles.get(record.get("study", ""), record.get("title_key", ""))
    return text(key, language) if key and has_text(key) else str(record.get("study", ""))


def _headline(
    record: Mapping[str, Any], headlines: Mapping[str, Mapping[str, Any] | None]
) -> Mapping[str, Any] | None:
    """The study's headline: registered (None: it has none), else the one its run recorded."""
    study = record.get("study", "")
    return headlines[study] if study in headlines else record.get("headline")


def _place(scope: str, language: str) -> str:
    from research_lib.io.oblasts import oblast_name

    try:
        return oblast_name(scope, language)
    except Exception:
        return str(scope)


def _report_name(record: Mapping[str, Any]) -> str | None:
    """The run's exported HTML report (``report.html``, or ``brief.html`` for the brief)."""
    pages = [name for name in record.get("outputs", []) if str(name).endswith(".html")]
    return pages[0] if pages else None


def _link(folder: str, name: str = "report.html") -> str:
    return quote(f"{folder}/{name}")


def _date(record: Mapping[str, Any]) -> str:
    stamp = record.get("end_time") or record.get("start_time") or ""
    return str(stamp)[:10]


def _status(record: Mapping[str, Any], language: str, previous: Mapping[str, Any] | None) -> str:
    state = record.get("_state") or record.get("status", "running")
    key = {
        "ok": "status_ok",
        "failed": "status_failed",
        "interrupted": "status_interrupted",
    }.get(state, "status_running")
    cell = f'<span class="status-{html.escape(str(state))}">{page_text(key, language)}</span>'
    if state != "ok" and previous is not None:
        note = page_text(
            f"kept_{state}" if state in {"failed", "interrupted"} else "kept_running",
            language,
            date=_date(previous),
        )
        cell += f"<br><small>{html.escape(note)}</small>"
    for override in record.get("overrides") or []:
        if isinstance(override, Mapping) and override.get("parameter") == "min_cell":
            words = page_text(
                "override", language, value=override.get("value"), floor=override.get("floor")
            )
            cell += f'<br><small class="override">{html.escape(words)}</small>'
    return cell


def _table(header: list[str], rows: list[list[str]], numeric_from: int | None = None) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for j, cell in enumerate(row):
            cls = ' class="num"' if numeric_from is not None and j >= numeric_from else ""
            cells.append(f"<td{cls}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="table-wrap"><table class="report-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _headline_table(
    runs: list[dict[str, Any]],
    reports_dir: Path,
    language: str,
    titles: Mapping[str, str],
    headlines: Mapping[str, Mapping[str, Any] | None],
) -> str:
    from research_lib.io.oblasts import NATIONAL, load_oblasts
    from research_lib.render.reporting import format_number

    dash = text("common.suppressed", language)
    studies: dict[str, Mapping[str, Any]] = {}
    shown_titles: dict[str, str] = {}
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for record in runs:
        headline = _headline(record, headlines)
        if headline is None:
            continue
        studies.setdefault(record["study"], headline)
        shown_titles.setdefault(record["study"], _title(record, language, titles))
        by_key[(record["study"], record.get("oblast", ""))] = record
    if not studies:
        return ""
    oblasts = load_oblasts()
    name_column = "name_bg" if language == "bg" else "name_en"
    scopes = [NATIONAL, *oblasts.sort_values(name_column).index.tolist()]
    header = [page_text("col_oblast", language)]
    for study, headline in studies.items():
        label = headline.get("label", {}).get(language) or f"{headline['measure']}"
        header.append(f"{html.escape(label)}<br><small>{html.escape(shown_titles[study])}</small>")
    rows = []
    for scope in scopes:
        name = html.escape(_place(scope, language))
        row = [f"<strong>{name}</strong>" if scope == NATIONAL else name]
        for study, headline in studies.items():
            record = by_key.get((study, scope))
            cell = dash
            report, source = shown_report(record, reports_dir) if record else (None, None)
            if report is not None:
                value = headline_value(reports_dir / record["_folder"], headline, scope)
                if value is not None and not math.isnan(value):
                    shown = format_number(
                        value * float(headline.get("scale", 1.0)),
                        language,
                        int(headline.get("digits", 1)),
                    )
                    cell = f'<a href="{_link(record["_folder"], report)}">{html.escape(shown)}</a>'
                    if source is not record:
                        cell += "†"
            row.append(cell)
        rows.append(row)
    return _table(header, rows, numeric_from=1)


def _reports_table(
    runs: list[dict[str, Any]], reports_dir: Path, language: str, titles: Mapping[str, str]
) -> str:
    from research_lib.io.oblasts import NATIONAL

    def order(record: Mapping[str, Any]) -> tuple:
        scope = record.get("oblast", "")
        return (record.get("study", ""), scope != NATIONAL, _place(scope, language))

    header = [
        page_text(k, language)
        for k in ("col_oblast", "col_study", "col_date", "col_data", "col_status", "col_report")
    ]
    rows = []
    for record in sorted(runs, key=order):
        report, source = shown_report(record, reports_dir)
        link = (
            f'<a href="{_link(record["_folder"], report)}">{page_text("open", language)}</a>'
            if report is not None
            else text("common.suppressed", language)
        )
        rows.append(
            [
                html.escape(_place(record.get("oblast", ""), language)),
                html.escape(_title(record, language, titles)),
                html.escape(_date(record)),
                f'<span class="hash">{html.escape(str(record.get("data_sha256", ""))[:10])}</span>',
                _status(record, language, source if source is not record else None),
                link,
            ]
        )
    return _table(header, rows)


def index_html(
    runs: list[dict[str, Any]],
    reports_dir: str | Path,
    *,
    titles: Mapping[str, str] | None = None,
    headlines: Mapping[str, Mapping[str, Any] | None] | None = None,
    language: str = "bg",
) -> str:
    """The index page listing ``runs`` (provenance records of folders under ``reports_dir``).

    Parameters
    ----------
    runs : list of dict
        One provenance record per run folder, each with ``_folder`` (the folder
        relative to ``reports_dir``) and ``_state`` (``"ok"``, ``"failed"``,
        ``"running"`` or ``"interrupted"``).
    reports_dir : path
        The reports root: reports and ``published.csv`` files are read from there.
    titles : mapping, optional
        ``{study: title label key}`` of the registered studies (others: the key
        their runs recorded).
    headlines : mapping, optional
        ``{study: headline as a dict, or None}`` of the registered studies
        (others: the headline their runs recorded).
    language : {"bg", "en"}

    Returns
    -------
    str
        The page (HTML, no script).
    """
    check_language(language)
    reports_dir = Path(reports_dir)
    titles = dict(titles or {})
    headlines = dict(headlines or {})
    title = page_text("title", language)
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='subtitle'>{page_text('intro', language)}</p>",
    ]
    if not runs:
        parts.append(f"<p>{html.escape(page_text('none', language))}</p>")
    else:
        ok = sum(r["_state"] == "ok" for r in runs)
        failed = sum(r["_state"] == "failed" for r in runs)
        counts = page_text(
            "counts",
            language,
            n=len(runs),
            ok=ok,
            failed=failed,
            incomplete=len(runs) - ok - failed,
        )
        parts.append(f"<p>{counts}</p>")
        figures = _headline_table(runs, reports_dir, language, titles, headlines)
        if figures:
            parts += [f"<h2>{page_text('h_headlines', language)}</h2>", figures]
            parts.append(f"<p><small>{html.escape(page_text('dash_note', language))}</small></p>")
            if "†" in figures:
                parts.append(
                    f"<p><small>{html.escape(page_text('kept_note', language))}</small></p>"
                )
        parts += [
            f"<h2>{page_text('h_reports', language)}</h2>",
            _reports_table(runs, reports_dir, language, titles),
        ]
        parts.append(f"<p><small>{html.escape(page_text('data_note', language))}</small></p>")
    today = datetime.date.today().isoformat()
    parts.append(f"<p class='generated'>{page_text('generated', language, date=today)}</p>")
    from research_lib.render.reporting import REPORT_CSS

    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{REPORT_CSS}{_EXTRA_CSS}</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(parts) + "\n</main>\n</body>\n</html>\n"
    )
