"""Write CSV files that are safe to open in a spreadsheet program.

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read by Excel, LibreOffice and Google Sheets as a formula
(``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``, ``@SUM(...)``): a child's answer, a
respondent id or a codebook label could then run code or leak data on the
machine of whoever opens the file. Every CSV the workbench writes goes through
:func:`write_csv`, which prefixes such cells with a single quote (the OWASP
"CSV injection" advice), so the spreadsheet shows them as text.

What is escaped and what is not:

* text cells, column names and index values that begin with one of
  ``= + - @ \\t \\r`` (or their full-width forms ``＝ ＋ － ＠``, which some
  Excel locales also read as formula starts);
* **not** numbers: numeric columns are written as they are (``-3.5`` stays a
  number), and a text cell that is a plain number (``-3``, ``+5``, ``-1.5e3``)
  is left alone too, because a spreadsheet reads it as that number and
  nothing else;
* **not** cells in which the character comes later (``a=b``), and not cells that
  begin with a space (no spreadsheet program evaluates ``" =1+1"``).

The quote is visible to anyone reading the file as text; a reader that wants
the original value back removes one leading ``'`` where the rest would be escaped
(:func:`unescape_formulas`).

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"answer": ["=HYPERLINK(\\"http://x\\")", "-3", "добре"],
...                       "value": [-1.5, 2.0, 3.0]})
>>> escape_formulas(frame)["answer"].tolist()
['\\'=HYPERLINK("http://x")', '-3', 'добре']
"""

from __future__ import annotations

import os
import re
import tempfile
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FORMULA_STARTS", "escape_cell", "escape_formulas", "unescape_formulas", "write_csv"]

#: First characters that make a spreadsheet program read a cell as a formula.
FORMULA_STARTS: str = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"
# Literal characters in the class ("-" last) so that Python's re and pyarrow's RE2 read it alike.
_CLASS = "[" + FORMULA_STARTS.replace("-", "") + "-]"
_NUMBER_TEXT = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?"
_STARTS = re.compile(_CLASS)
_NUMBER = re.compile(_NUMBER_TEXT)
_PATTERN_STARTS = "^" + _CLASS
_PATTERN_NUMBER = "^" + _NUMBER_TEXT + "$"


def _needs_escape(text: str) -> bool:
    return bool(text) and _STARTS.match(text) is not None and _NUMBER.fullmatch(text) is None


def escape_cell(value: Any) -> Any:
    """One cell made safe: a formula-like text gets a leading ``'``; anything else is returned as is.

    >>> escape_cell("@SUM(A1:A9)"), escape_cell("-2"), escape_cell(-2.0)
    ("'@SUM(A1:A9)", '-2', -2.0)
    """
    if isinstance(value, str) and _needs_escape(value):
        return "'" + value
    return value


def _escape_series(values: pd.Series) -> pd.Series:
    """Escape the text cells of one column; numeric and boolean columns come back unchanged."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        if pd.api.types.is_numeric_dtype(categories.dtype):
            return values
        return values.cat.rename_categories([escape_cell(c) for c in categories])
    if pd.api.types.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        if dtype == np.dtype(object):
            if not values.map(lambda v: isinstance(v, str) and _needs_escape(v)).any():
                return values
            return values.map(escape_cell)
        text = values
        flagged = text.str.contains(_PATTERN_STARTS, regex=True, na=False) & ~text.str.contains(
            _PATTERN_NUMBER, regex=True, na=False
        )
        if not flagged.any():
            return values
        return text.where(~flagged, "'" + text)
    return values


def _escape_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.set_levels(
            [_escape_index(level) for level in index.levels], verify_integrity=False
        ).set_names([escape_cell(n) for n in index.names])
    if pd.api.types.is_numeric_dtype(index.dtype) or pd.api.types.is_bool_dtype(index.dtype):
        return index.set_names(escape_cell(index.name))
    escaped = pd.Index([escape_cell(v) for v in index], dtype=object, name=escape_cell(index.name))
    return escaped if not escaped.equals(index) or escaped.name != index.name else index


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose formula-like text cells, column names and index values are escaped.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table about to be written for people to open.

    Returns
    -------
    pandas.DataFrame
        Same shape and index order; numeric, boolean and date columns unchanged;
        text cells beginning with one of :data:`FORMULA_STARTS` (and not a plain
        number) prefixed with ``'``.
    """
    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        escaped = _escape_series(column)
        if escaped is not column:
            out.isetitem(position, escaped)
    out.columns = _escape_index(out.columns)
    out.index = _escape_index(out.index)
    return out


def unescape_formulas(values: pd.Series) -> pd.Series:
    """Undo :func:`escape_formulas` on one text column read back from a written CSV."""
    text = values.astype("string")
    quoted = text.str.startswith("'", na=False) & text.str.slice(1).map(
        lambda v: isinstance(v, str) and _needs_escape(v)
    ).astype(bool)
    return text.where(~quoted, text.str.slice(1))


def write_csv(frame: pd.DataFrame, target: str | PathLike[str], **kwargs: Any) -> Path:
    """Write ``frame`` as CSV with formula-like cells escaped; the file appears complete or not at all.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table. It is not modified.
    target : str or os.PathLike
        The file to write; its folder is created when missing.
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv` (``index``, ``lineterminator``
        ...). ``encoding`` defaults to ``"utf-8"``.

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    The CSV is written to a uniquely named temporary file beside ``target`` and
    renamed over it, so a reader never sees half a file and two writers never
    share a temporary name.
    """
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("encoding", "utf-8")
    safe = escape_formulas(frame)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a published file is for reading
        safe.to_csv(temporary, **kwargs)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
