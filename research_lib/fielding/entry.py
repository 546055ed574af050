"""Data-entry template: a spreadsheet for typing in the answers of paper questionnaires.

The first sheet, ``data``, has one column per data question in form order —
``respondent_id``, the background, each domain's filter question and items in
codebook order, ``voice`` — with the column names the survey loader reads, so a
filled template loads as it is (``python -m research_lib validate entry.xlsx``).
Every coded column has a drop-down (Excel data validation) with the codebook's
codes, ``age`` a whole-number range check; the sheet ``codes`` explains every
column and code in Bulgarian and English. Each header cell carries the
question's wording as a comment.

Excel checks only what is typed in by hand; the loader checks everything again
and rejects a wrong value with its spreadsheet row and column.
"""

from __future__ import annotations

from pathlib import Path

from research_lib.io.codebook import Codebook
from research_lib.io.form import build_form, data_questions, target_ages

__all__ = ["write_entry_template", "ENTRY_ROWS"]

#: Rows of the data sheet covered by the drop-downs (a survey of a few thousand children).
ENTRY_ROWS = 5000


def write_entry_template(
    book: Codebook, path: str | Path, *, version: str | None = None, wave: str | None = None
) -> Path:
    """Write the data-entry workbook for ``book``.

    Parameters
    ----------
    book : Codebook
        The instrument.
    path : str or Path
        The ``.xlsx`` file to write.
    version : str, optional
        An age version id: only the items asked in it.
    wave : str, optional
        Named in the ``codes`` sheet as the wave to enter.

    Returns
    -------
    Path
    """
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    path = Path(path)
    sections = build_form(book, version=version)
    questions = [q for q in data_questions(sections) if q.name != "assent"]
    low, high = target_ages(book, book.age_version(version) if version else None)

    workbook = Workbook()
    data = workbook.active
    data.title = "data"
    lists = workbook.create_sheet("lists")
    codes = workbook.create_sheet("codes")
    columns = ["respondent_id", *[q.name for q in questions]]
    data.append(columns)
    bold = Font(bold=True)
    head = PatternFill("solid", fgColor="DDEBF7")
    for cell in data[1]:
        cell.font = bold
        cell.fill = head
    data.freeze_panes = "B2"
    last = ENTRY_ROWS + 1

    data["A1"].comment = Comment(
        "Код на анкетата (без имена), различен за всеки ред. / Questionnaire code, one per row.",
        "codebook",
    )
    list_column = 0
    for index, question in enumerate(questions, start=2):
        letter = get_column_letter(index)
        text = question.label.get("bg", "") + " / " + question.label.get("en", "")
        data[f"{letter}1"].comment = Comment(text[:1000], "codebook")
        data.column_dimensions[letter].width = max(10, min(len(question.name) + 4, 24))
        area = f"{letter}2:{letter}{last}"
        if question.kind == "integer":
            check = DataValidation(
                type="whole",
                operator="between",
                formula1=str(low),
                formula2=str(high),
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="age",
                error=f"Възраст: цяло число от {low} до {high}. / Age: a whole number {low}-{high}.",
            )
        elif question.choices:
            list_column += 1
            list_letter = get_column_letter(list_column)
            lists.cell(row=1, column=list_column, value=question.name)
            for row, choice in enumerate(question.choices, start=2):
                code = int(choice.code) if choice.code.lstrip("-").isdigit() else choice.code
                lists.cell(row=row, column=list_column, value=code)
            end = len(question.choices) + 1
            check = DataValidation(
                type="list",
                formula1=f"=lists!${list_letter}$2:${list_letter}${end}",
                allow_blank=True,
                showErrorMessage=True,
                errorTitle=question.name,
                error="Изберете код от списъка (вижте листа codes). / Pick a code from the list.",
            )
        else:
            continue
        data.add_data_validation(check)
        check.add(area)
    lists.sheet_state = "hidden"

    codes.append(
        ["column", "question (bg)", "question (en)", "code", "meaning (bg)", "meaning (en)"]
    )
    for cell in codes[1]:
        cell.font = bold
        cell.fill = head
    codes.append(["respondent_id", "Код на анкетата, без имена", "Questionnaire code, no names"])
    for question in questions:
        codes.append([question.name, question.label.get("bg"), question.label.get("en")])
        if question.kind == "integer":
            codes.append(["", "", "", f"{low}–{high}", "години", "years"])
        if question.name == "wave" and wave:
            codes.append(["", "", "", wave, "вълната на това проучване", "this survey's wave"])
        for choice in question.choices:
            codes.append(["", "", "", choice.code, choice.label.get("bg"), choice.label.get("en")])
        if question.skip_code is not None:
            codes.append(
                [
                    "",
                    "",
                    "",
                    "",
                    "при „Не“ въпросите на домейна остават празни",
                    "if ‘No’, leave the domain's items empty",
                ]
            )
    labels = book.extra.get("missing_labels") or {}
    codes.append([])
    codes.append(["", "Кодове за липсващ отговор", "Missing codes"])
    for code in book.missing_codes:
        text = labels.get(code) or {}
        codes.append(["", "", "", code, text.get("bg"), text.get("en")])
    codes.append(["", "Празна клетка = няма отговор", "Empty cell = no answer"])
    for letter, width in zip("ABCDEF", (16, 60, 50, 8, 30, 30), strict=True):
        codes.column_dimensions[letter].width = width
    for row in codes.iter_rows(min_row=2):
        for cell in row[1:3]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
