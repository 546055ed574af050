"""Read KoboToolbox / ODK exports of the generated form back into codebook columns.

The reader (:mod:`research_lib.io.readers`) already recognises a Kobo export, strips
the group prefixes (``relationships/rel_01`` -> ``rel_01``) and sets the
metadata columns (``_uuid``, ``_submission_time``, ``start``, ``end``, ``_index``
...) aside. :func:`normalise_export` does the rest, from the same form model
the XLSForm was generated from (:func:`~research_lib.io.form.build_form`):

* **"labels" exports** — headers are the questions' labels and answers are the
  choices' labels, in Bulgarian or English: headers are renamed to the column
  names and labels mapped back to the codebook's codes (``"Никога"`` -> ``1``,
  ``"Не знам"`` -> ``-8``, ``"Пловдив"`` -> ``BG421``). A value that matches no
  label is left as written, so validation rejects it with its row and column.
* **"XML values" exports** need no mapping: the choice names are the codes.
* **Children who did not assent** (``assent`` = ``no``): their rows are set
  aside as rejected lines ("the child did not agree to take part"), never
  read as answers; rows in = valid + rejected still holds.

A file that is not a Kobo export and has no ``assent`` column is returned as is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import pandas as pd

from research_lib.io.codebook import Codebook
from research_lib.io.form import (
    ASSENT,
    ASSENT_NO,
    Question,
    build_form,
    data_questions,
)
from research_lib.io.readers import RawTable

__all__ = ["normalise_export", "DECLINED_PROBLEM"]

DECLINED_PROBLEM = (
    "the child did not agree to take part (assent = no); the row is not used as answers"
)


def _key(text: object) -> str:
    return " ".join(str(text).split()).casefold()


def _questions(book: Codebook) -> list[Question]:
    """Every data question of the form, the easy-read wording included as a second form."""
    plain = data_questions(build_form(book))
    easy = data_questions(build_form(book, easy_read=True))
    return plain + [q for q in easy if q.item is not None and q.item.easy_read]


def _header_map(questions: Iterable[Question], columns: Iterable[str]) -> dict[str, str]:
    """``{header: column name}`` for headers that are a question's label in bg or en."""
    by_label: dict[str, set[str]] = {}
    for question in questions:
        for text in question.label.values():
            for variant in {_key(text), _key(str(text).rsplit("/", 1)[-1])}:
                by_label.setdefault(variant, set()).add(question.name)
    names = {q.name for q in questions}
    renames = {}
    for column in columns:
        if column in names:
            continue
        target = by_label.get(_key(column), set())
        if len(target) == 1:
            renames[column] = next(iter(target))
    return renames


def _choice_map(question: Question) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for choice in question.choices:
        mapping[_key(choice.code)] = choice.code
        for text in choice.label.values():
            mapping.setdefault(_key(text), choice.code)
    return mapping


def _map_values(values: pd.Series, mapping: Mapping[str, str]) -> pd.Series:
    """Labels replaced by codes; what matches no label stays as written."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values
    distinct = values.dropna().unique()
    lookup = {v: mapping.get(_key(v), v) for v in distinct}
    if all(k == v for k, v in lookup.items()):
        return values
    return values.map(lookup).astype(values.dtype)


def normalise_export(raw: RawTable, book: Codebook) -> RawTable:
    """A Kobo/ODK export of the form for ``book`` in the codebook's columns and codes.

    Parameters
    ----------
    raw : RawTable
        What :func:`research_lib.io.readers.read_table` read.
    book : Codebook
        The codebook the form was generated from.

    Returns
    -------
    RawTable
        ``raw`` itself when there is nothing to do; otherwise a copy with
        renamed columns, codes instead of labels and the rows of children who
        did not assent moved to ``malformed``.
    """
    data = raw.data
    missing_items = [c for c in book.item_ids if c not in data.columns]
    is_kobo = raw.format.startswith("kobo")
    if not is_kobo and not missing_items and ASSENT not in data.columns:
        return raw
    questions = _questions(book)
    renames = _header_map(questions, data.columns) if missing_items else {}
    if renames:
        clashes = [new for new in renames.values() if new in data.columns]
        renames = {old: new for old, new in renames.items() if new not in clashes}
        data = data.rename(columns=renames)
    if not renames and not is_kobo and ASSENT not in data.columns:
        return raw
    by_name: dict[str, Question] = {}
    for question in questions:
        by_name.setdefault(question.name, question)
    columns = {}
    for name, question in by_name.items():
        if question.choices and name in data.columns:
            original = data[name]
            mapped = _map_values(original, _choice_map(question))
            if mapped is not original:
                columns[name] = mapped
    if columns:
        data = data.assign(**columns)
    malformed = raw.malformed
    if ASSENT in data.columns:
        declined = data[ASSENT].map(lambda v: _key(v) == ASSENT_NO if pd.notna(v) else False)
        declined = declined.astype(bool)
        if declined.any():
            lines = pd.DataFrame(
                {
                    "row": data.index[declined].astype("int64"),
                    "column": ASSENT,
                    "value": data.loc[declined, ASSENT].astype(str).to_numpy(),
                    "problem": DECLINED_PROBLEM,
                }
            )
            lines = lines.astype(malformed.dtypes.to_dict()) if len(malformed.columns) else lines
            malformed = (
                pd.concat([malformed, lines], ignore_index=True) if len(malformed) else lines
            )
            data = data.loc[~declined]
    return dataclasses.replace(raw, data=data, malformed=malformed)
