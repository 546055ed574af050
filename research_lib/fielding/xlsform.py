"""XLSForm export: the codebook as a form KoboToolbox and ODK accept.

:func:`write_xlsform` writes the three standard sheets — ``survey``, ``choices``
and ``settings`` — with labels in Bulgarian and English (``label::Български
(bg)``, ``label::English (en)``). Choice names are the codebook's own codes
(``1`` … ``5``, and ``-8`` / ``-7`` for "Не знам" / "Не искам да кажа"), so a
"XML values" export comes back in the codes the survey loader expects, and a
"labels" export is mapped back by :mod:`research_lib.io.kobo`.

Checked in the tests by converting the file with pyxform, the reference
XLSForm-to-XForm converter that KoboToolbox and ODK Central use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from research_lib.io.codebook import Codebook
from research_lib.io.form import Question, Section, build_form, form_texts

__all__ = ["LANGUAGES", "xlsform_sheets", "write_xlsform"]

#: XLSForm language names: the language's own name and its ISO 639-1 code.
LANGUAGES: dict[str, str] = {"bg": "Български (bg)", "en": "English (en)"}


def _translated(column: str, texts: Mapping[str, str]) -> dict[str, str]:
    return {f"{column}::{name}": texts.get(lang, "") for lang, name in LANGUAGES.items() if texts}


def _question_row(question: Question) -> dict[str, str]:
    kind = question.kind
    row: dict[str, str] = {
        "type": f"select_one {question.list_name}" if kind == "select_one" else kind,
        "name": question.name,
    }
    row.update(_translated("label", question.label))
    row.update(_translated("hint", question.hint))
    if question.required:
        row["required"] = "yes"
    if question.relevant:
        row["relevant"] = question.relevant
    if question.constraint:
        row["constraint"] = question.constraint
        row.update(_translated("constraint_message", question.constraint_message))
    if question.default:
        row["default"] = question.default
    if question.calculation:
        row["calculation"] = question.calculation
    return row


def xlsform_sheets(
    book: Codebook,
    *,
    version: str | None = None,
    easy_read: bool = False,
    wave: str | None = None,
    sections: list[Section] | None = None,
) -> dict[str, list[dict[str, str]]]:
    """The rows of the ``survey``, ``choices`` and ``settings`` sheets.

    Parameters are those of :func:`~research_lib.io.form.build_form`;
    ``sections`` may pass a form already built.

    Returns
    -------
    dict
        ``{"survey": [...], "choices": [...], "settings": [...]}``, each a list
        of rows (column name -> cell text).
    """
    if sections is None:
        sections = build_form(book, version=version, easy_read=easy_read, wave=wave)
    survey: list[dict[str, str]] = [
        {"type": "start", "name": "start"},
        {"type": "end", "name": "end"},
        {"type": "calculate", "name": "respondent_id", "calculation": "once(uuid())"},
    ]
    choices: list[dict[str, str]] = []
    lists_done: set[str] = set()
    for section in sections:
        group = {"type": "begin_group", "name": section.name, **_translated("label", section.label)}
        if section.relevant:
            group["relevant"] = section.relevant
        survey.append(group)
        if section.intro:
            survey.append(
                {
                    "type": "note",
                    "name": f"{section.name}_intro",
                    **_translated("label", section.intro),
                }
            )
        for question in section.questions:
            survey.append(_question_row(question))
            if question.list_name and question.list_name not in lists_done:
                lists_done.add(question.list_name)
                choices.extend(
                    {
                        "list_name": question.list_name,
                        "name": choice.code,
                        **_translated("label", choice.label),
                    }
                    for choice in question.choices
                )
        survey.append({"type": "end_group", "name": section.name})
    title = form_texts(book)["title"]
    form_version = str(book.extra.get("version", "1"))
    settings = [
        {
            "form_title": title.get("bg") or book.instrument,
            "form_id": re.sub(r"\W", "_", book.instrument)
            + (f"_{re.sub(r'[^0-9A-Za-z]', '_', version)}" if version else ""),
            "version": form_version,
            "default_language": LANGUAGES["bg"],
            "style": "pages",
        }
    ]
    return {"survey": survey, "choices": choices, "settings": settings}


def write_xlsform(
    book: Codebook,
    path: str | Path,
    *,
    version: str | None = None,
    easy_read: bool = False,
    wave: str | None = None,
) -> Path:
    """Write the XLSForm of ``book`` to ``path`` (``.xlsx``).

    Parameters
    ----------
    book : Codebook
        The instrument.
    path : str or Path
        The workbook to write.
    version : str, optional
        An age version id: only its items, and its ages in the age constraint.
    easy_read : bool
        Use the easy-read wording of the items that have one.
    wave : str, optional
        Default answer of the ``wave`` question.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> from research_lib.io.codebook import load_codebook
    >>> from research_lib.paths import SURVEYS_DIR
    >>> sheets = xlsform_sheets(load_codebook(SURVEYS_DIR / "qol-child-v1.yaml"))
    >>> [row["name"] for row in sheets["survey"][:3]]
    ['start', 'end', 'respondent_id']
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    path = Path(path)
    sheets = xlsform_sheets(book, version=version, easy_read=easy_read, wave=wave)
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        header: list[str] = []
        for row in rows:
            header.extend(k for k in row if k not in header)
        sheet.append(header)
        for row in rows:
            sheet.append([row.get(column, "") or None for column in header])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for letter, width in zip("ABCDE", (22, 24, 60, 60, 30), strict=False):
            sheet.column_dimensions[letter].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
