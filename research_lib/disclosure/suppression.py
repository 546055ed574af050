"""Disclosure control: the only way figures about children leave a study.

Every figure a report shows is one row of ``published.csv``, with exactly the
columns :data:`PUBLISHED_COLUMNS`::

    table, group, measure, n, value, ci_low, ci_high, suppressed

A suppressed row keeps its labels (``table``, ``group``, ``measure``) and
``suppressed = True``; its ``n``, ``value``, ``ci_low`` and ``ci_high`` are empty
(NaN / ``<NA>`` in pandas, an empty field in the CSV). No other column ever
leaves: respondent ids, service ids and free text are dropped by
:func:`to_published`, and :func:`check_published` refuses a frame in which a
label contains a known respondent id.

The method follows statistical disclosure control (SDC) practice as in the
ESSnet / Eurostat *Handbook on Statistical Disclosure Control* and ONS guidance:

* **primary suppression** - a figure computed from fewer than ``min_cell``
  children (default 5) is not published, and neither is its ``n`` (a count of
  zero included). Some UK producers use a threshold of 10 for sensitive
  topics: ``min_cell`` is always a parameter;
* **secondary (complementary) suppression** - where a hidden figure could be
  recovered by subtraction from a published total and the other published
  figures of the same line, a second figure of that line is hidden too
  (:func:`suppress_mean_table` for group means with an overall row);
* **linked suppression across a batch** - counts published by oblast and
  nationally are protected as one linked table with its margins
  (:func:`research_lib.disclosure.linked.protect_linked`, checked by the intruder of
  :mod:`research_lib.disclosure.audit`); a report takes its part of that pattern
  (:func:`research_lib.disclosure.linked.apply_pattern`), so a report
  run alone hides what the batch hides. Zeros are hidden but never count as
  protection.

Examples
--------
>>> import pandas as pd
>>> figures = pd.DataFrame({
...     "table": "t1", "group": ["all", "cnst", "foster", "kinship"],
...     "measure": "mean_home", "n": [40, 3, 17, 20],
...     "value": [61.0, 40.0, 66.0, 62.0], "ci_low": [55.0, 20.0, 58.0, 55.0],
...     "ci_high": [67.0, 60.0, 74.0, 69.0]})
>>> to_published(figures)
  table    group    measure     n  value  ci_low  ci_high  suppressed
0    t1      all  mean_home    40   61.0    55.0     67.0       False
1    t1     cnst  mean_home  <NA>    NaN     NaN      NaN        True
2    t1   foster  mean_home  <NA>    NaN     NaN      NaN        True
3    t1  kinship  mean_home    20   62.0    55.0     69.0       False

``cnst`` (3 children) is hidden by primary suppression; ``foster`` is hidden as
its complement, because otherwise the ``cnst`` mean would follow from the
overall mean and the other groups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from research_lib.errors import InputError
from research_lib.io.csv_out import unescape_formulas, write_csv

if TYPE_CHECKING:
    pass

__all__ = [
    "PUBLISHED_COLUMNS",
    "DEFAULT_MIN_CELL",
    "TOTAL_GROUP",
    "DisclosureError",
    "suppress_mean_table",
    "figure_rows",
    "to_published",
    "write_published",
    "read_published",
    "check_published",
    "check_min_cell",
    "flag_small",
    "blank_suppressed",
]

#: The columns of ``published.csv``, in this order.
PUBLISHED_COLUMNS: tuple[str, ...] = (
    "table",
    "group",
    "measure",
    "n",
    "value",
    "ci_low",
    "ci_high",
    "suppressed",
)
#: Fewest children a published figure may come from.
DEFAULT_MIN_CELL = 5
#: ``group`` label of the row about all children (as in ``descriptives.OVERALL``).
TOTAL_GROUP = "all"

_LABELS = ("table", "group", "measure")
_NUMBERS = ("value", "ci_low", "ci_high")
_REQUIRED = PUBLISHED_COLUMNS[:-1]
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


class DisclosureError(ValueError):
    """Figures that would disclose something about fewer than ``min_cell`` children.

    The message lists every problem found (row numbers, never the disclosive
    values themselves).
    """


# --------------------------------------------------------------------------- figures


def suppress_mean_table(
    figures: pd.DataFrame,
    min_cell: int = DEFAULT_MIN_CELL,
    total_group: str | None = TOTAL_GROUP,
    partition: str | None = "by",
) -> pd.DataFrame:
    """Primary and complementary suppression of a table of group figures with a total row.

    Parameters
    ----------
    figures : DataFrame
        Columns ``table, group, measure, n, value, ci_low, ci_high`` and optionally
        ``suppressed`` (rows already ``True`` stay suppressed). Other columns are
        kept unchanged.
    min_cell : int, default 5
        Fewest children a shown figure may come from.
    total_group : str or None, default "all"
        ``group`` label of the row about all children. ``None``: primary
        suppression only.
    partition : str or None, default "by"
        Optional column of ``figures`` naming the grouping variable of each row
        (the ``by`` column of :func:`research_lib.stats.descriptives.describe_scores`).
        The groups of one variable add up to the total; each variable is protected
        on its own. Without this column, all non-total rows of a
        ``(table, measure)`` are treated as one set of groups.

    Returns
    -------
    DataFrame
        A copy with ``suppressed`` set where ``n < min_cell`` or ``n`` is missing
        (primary suppression: ``total_group=None`` does only this) and on the
        complementary rows; ``n``, ``value``, ``ci_low``, ``ci_high`` blanked on
        suppressed rows. ``n`` is blanked too: a count below ``min_cell`` is itself
        disclosive. A difference between two groups must carry the smaller
        group's ``n``, so that it is hidden whenever either group is.

    Notes
    -----
    Within each ``(table, measure[, partition])`` whose total row is shown: a mean
    (or share) of a hidden group can be recovered when the group's ``n`` and all
    other groups' ``n`` and values are known, since
    ``n_total * value_total = sum(n_g * value_g)``. So when exactly one group of
    the line is hidden, the shown group with the smallest ``n`` is hidden too
    (the total itself only if no other group is left).

    Limits: a shown difference between a hidden and a shown group undoes the
    protection - put differences in a separate ``table`` or ``measure``; groups
    of two crossed variables (``"cnst | 11-13"``) with published one-way totals
    need a linked pattern on their ``n``
    (:func:`research_lib.disclosure.linked.protect_linked`).

    Examples
    --------
    >>> import pandas as pd
    >>> figures = pd.DataFrame({"table": "t", "group": ["all", "a", "b", "c"],
    ...     "measure": "m", "n": [30, 4, 10, 16], "value": [5.0, 1.0, 4.0, 7.0],
    ...     "ci_low": None, "ci_high": None})
    >>> suppress_mean_table(figures)[["group", "n", "suppressed"]]
      group     n  suppressed
    0   all    30       False
    1     a  <NA>        True
    2     b  <NA>        True
    3     c    16       False
    """
    frame = flag_small(figures, min_cell)
    if total_group is None:
        return blank_suppressed(frame)
    keys = ["table", "measure"]
    if partition is not None and partition in frame.columns:
        keys.append(partition)
    n = pd.to_numeric(frame["n"], errors="coerce")
    is_total = (frame["group"] == total_group).to_numpy()
    totals = frame.loc[is_total].groupby(["table", "measure"], sort=False, dropna=False).groups
    for key, index in frame.loc[~is_total].groupby(keys, sort=False, dropna=False).groups.items():
        total = totals.get(tuple(key[:2]))
        hidden = frame.loc[index, "suppressed"]
        if total is None or frame.loc[total, "suppressed"].all() or int(hidden.sum()) != 1:
            continue
        candidates = n.loc[hidden.index[~hidden]].dropna()
        if len(candidates):
            frame.loc[candidates.idxmin(), "suppressed"] = True
        else:  # the hidden group is the only one: the total would equal it
            frame.loc[total, "suppressed"] = True
    return blank_suppressed(frame)


# --------------------------------------------------------------------------- count tables


# --------------------------------------------------------------------------- linked tables


# --------------------------------------------------------------------------- published.csv


def figure_rows(
    table: str,
    group: object,
    measure: object,
    n: object,
    value: object,
    low: object = np.nan,
    high: object = np.nan,
    by: str | None = None,
) -> pd.DataFrame:
    """Figures in the ``published.csv`` layout, before suppression (each argument a value or a column).

    ``by`` names the grouping variable the rows partition (used for complementary
    suppression against the ``all`` row); by default the table name.

    Examples
    --------
    >>> figure_rows("sample", ["all", "cnst"], "children", [40, 12], [40, 12])["group"].tolist()
    ['all', 'cnst']
    """
    frame = pd.DataFrame(
        {
            "table": table,
            "group": group,
            "measure": measure,
            "n": n,
            "value": value,
            "ci_low": low,
            "ci_high": high,
        }
    )
    frame["by"] = by if by is not None else table
    return frame


def to_published(
    figures: pd.DataFrame,
    min_cell: int = DEFAULT_MIN_CELL,
    *,
    total_group: str | None = TOTAL_GROUP,
    partition: str | None = "by",
    forbidden: Iterable[str] = (),
) -> pd.DataFrame:
    """The figures as they may leave the study: suppressed, checked, exactly 8 columns.

    Parameters
    ----------
    figures : DataFrame
        Columns ``table, group, measure, n, value, ci_low, ci_high`` and optionally
        ``suppressed``; any other column (respondent ids, ``by``, notes ...) is
        used at most for the suppression and then dropped.
    min_cell : int, default 5
        Fewest children a shown figure may come from.
    total_group, partition : optional
        Passed to :func:`suppress_mean_table` (complementary suppression).
    forbidden : iterable of str
        Respondent ids (or other codes) that must not appear in any label.

    Returns
    -------
    DataFrame
        Columns :data:`PUBLISHED_COLUMNS` in order, a fresh ``RangeIndex``; ``n``
        as nullable integer when all counts are whole, ``value`` / CIs as float.

    Raises
    ------
    DisclosureError
        If the result fails :func:`check_published` (e.g. a label holds an id).

    Notes
    -----
    The index of ``figures`` is discarded (it may hold respondent ids).
    """
    frame = suppress_mean_table(figures, min_cell, total_group, partition)
    out = frame.loc[:, list(PUBLISHED_COLUMNS)].reset_index(drop=True)
    check_published(out, min_cell, forbidden=forbidden)
    return out


def write_published(
    figures: pd.DataFrame,
    path: str | PathLike[str],
    min_cell: int = DEFAULT_MIN_CELL,
    *,
    total_group: str | None = TOTAL_GROUP,
    partition: str | None = "by",
    forbidden: Iterable[str] = (),
) -> Path:
    """Write ``published.csv``: UTF-8, exactly the 8 columns, suppressed fields empty.

    Applies :func:`to_published` (same parameters) and returns the path written.
    Figures already in the published layout (exactly :data:`PUBLISHED_COLUMNS`,
    as :func:`to_published` or a study's ``published_figures`` return them) are
    only checked (:func:`check_published`) and written as they are: their
    pattern may come from the whole batch
    (:func:`research_lib.disclosure.linked.protect_linked`) and adding
    suppression here would make a report differ from the batch.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> figures = pd.DataFrame({"table": "t", "group": ["a", "b"], "measure": "m",
    ...     "n": [4, 6], "value": [1.5, 2.5], "ci_low": None, "ci_high": None})
    >>> path = write_published(figures, pathlib.Path(tempfile.mkdtemp()) / "published.csv")
    >>> print(path.read_text(encoding="utf-8"), end="")
    table,group,measure,n,value,ci_low,ci_high,suppressed
    t,a,m,,,,,True
    t,b,m,6,2.5,,,False
    """
    if tuple(figures.columns) == PUBLISHED_COLUMNS:  # already published: keep its pattern
        out = figures.reset_index(drop=True)
        check_published(out, min_cell, forbidden=forbidden)
    else:
        out = to_published(
            figures, min_cell, total_group=total_group, partition=partition, forbidden=forbidden
        )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_csv(out, target, index=False, encoding="utf-8", lineterminator="\n")
    return target


def read_published(
    path: str | PathLike[str], min_cell: int = DEFAULT_MIN_CELL, forbidden: Iterable[str] = ()
) -> pd.DataFrame:
    """Read a ``published.csv`` back, with its types, and check it.

    Labels are read as text (``"NA"`` stays a label); empty numeric fields are NaN.
    The quote :func:`write_published` puts before a formula-like label (``'-1 to 0``,
    ``'=x``) is removed again (:func:`research_lib.io.csv_out.unescape_formulas`), so a
    label reads back as it was written.

    Raises
    ------
    DisclosureError
        If the file fails :func:`check_published`.
    """
    out = pd.read_csv(
        path,
        encoding="utf-8",
        dtype={label: str for label in _LABELS},
        keep_default_na=False,
        na_values={column: [""] for column in ("n", *_NUMBERS)},
    )
    for label in _LABELS:
        if label in out.columns:
            out[label] = unescape_formulas(out[label]).astype(object)
    if list(out.columns) == list(PUBLISHED_COLUMNS):
        out["n"] = _as_count(out["n"])
        out[list(_NUMBERS)] = out[list(_NUMBERS)].astype("float64")
        out["suppressed"] = _as_bool(out["suppressed"])
    check_published(out, min_cell, forbidden=forbidden)
    return out


def check_published(
    published: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL, forbidden: Iterable[str] = ()
) -> None:
    """Raise :class:`DisclosureError` unless ``published`` is safe to publish.

    Checks that

    * the columns are exactly :data:`PUBLISHED_COLUMNS`, in order;
    * ``suppressed`` is true/false on every row;
    * every shown row has a known ``n >= min_cell``;
    * every suppressed row has empty ``n``, ``value``, ``ci_low`` and ``ci_high``;
    * no text cell contains one of the ``forbidden`` ids (as a whole word).

    All problems are listed in one message, by row number (0-based), without
    repeating any disclosive value or id.

    Examples
    --------
    >>> import pandas as pd
    >>> bad = pd.DataFrame({"table": ["t"], "group": ["a"], "measure": ["m"], "n": [3],
    ...     "value": [1.0], "ci_low": [None], "ci_high": [None], "suppressed": [False]})
    >>> check_published(bad)
    Traceback (most recent call last):
    ...
    research_lib.disclosure.suppression.DisclosureError: published figures fail disclosure control:
    - rows [0]: shown although n is missing or below min_cell=5
    """
    check_min_cell(min_cell)
    if tuple(published.columns) != PUBLISHED_COLUMNS:
        raise DisclosureError(
            f"published figures must have exactly the columns {list(PUBLISHED_COLUMNS)} "
            f"in this order; got {list(map(str, published.columns))}"
        )
    flags = [_flag(value) for value in published["suppressed"]]
    invalid = np.array([flag is None for flag in flags], dtype=bool)
    suppressed = np.array([flag is True for flag in flags], dtype=bool)
    problems = [_rows(invalid, "'suppressed' must be True or False")]
    given = published["n"].notna().to_numpy()
    n = pd.to_numeric(published["n"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    problems.append(_rows(given & np.isnan(n), "'n' is not a number"))
    too_small = ~suppressed & ~invalid & (np.isnan(n) | (n < min_cell))
    problems.append(_rows(too_small, f"shown although n is missing or below min_cell={min_cell}"))
    numbers = published[list(_NUMBERS)].notna().any(axis=1).to_numpy()
    problems.append(_rows(suppressed & numbers, "suppressed but value or CI not empty"))
    problems.append(_rows(suppressed & given, "suppressed but n not empty"))
    problems.append(_rows(_id_cells(published, forbidden), "a label contains a respondent id"))
    problems = [p for p in problems if p]
    if problems:
        raise DisclosureError(
            "published figures fail disclosure control:\n" + "\n".join(f"- {p}" for p in problems)
        )


# --------------------------------------------------------------------------- helpers


def check_min_cell(min_cell: object) -> int:
    if isinstance(min_cell, bool) or not isinstance(min_cell, int | np.integer) or min_cell < 1:
        raise InputError(f"min_cell must be a whole number of children >= 1, got {min_cell!r}")
    return int(min_cell)


def flag_small(figures: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """A copy with a boolean ``suppressed`` = already suppressed or ``n`` below ``min_cell``."""
    min_cell = check_min_cell(min_cell)
    missing = [column for column in _REQUIRED if column not in figures.columns]
    if missing:
        raise InputError(
            f"figures lack the column(s) {missing}; they need {list(_REQUIRED)} "
            "(and optionally 'suppressed')"
        )
    frame = figures.reset_index(drop=True).copy()
    n = pd.to_numeric(frame["n"], errors="coerce")
    before = (
        _as_bool(frame["suppressed"])
        if "suppressed" in frame.columns
        else pd.Series(False, index=frame.index)
    )
    frame["suppressed"] = (before | n.isna() | (n < min_cell)).astype(bool)
    return frame


def blank_suppressed(frame: pd.DataFrame) -> pd.DataFrame:
    """Empty ``n``, ``value`` and the CI on suppressed rows; set the published dtypes."""
    out = frame.copy()
    hidden = out["suppressed"].to_numpy(dtype=bool)
    for column in _NUMBERS:
        values = pd.to_numeric(out[column], errors="coerce").astype("float64")
        out[column] = values.mask(hidden)
    n = pd.to_numeric(out["n"], errors="coerce").astype("float64").mask(hidden)
    out["n"] = _as_count(n)
    return out


def _as_count(n: pd.Series) -> pd.Series:
    """Nullable integers when every known ``n`` is whole, otherwise floats (weighted n)."""
    values = pd.to_numeric(n, errors="coerce").astype("float64")
    known = values.dropna()
    if (known == np.round(known)).all():
        return values.astype("Int64")
    return values


def _flag(value: object) -> bool | None:
    """True/False from a boolean, 0/1 or their text; missing is False; None if unreadable."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return False
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _as_bool(values: pd.Series) -> pd.Series:
    """A boolean ``suppressed`` column; raises :class:`InputError` on unreadable values."""
    flags = values.map(_flag)
    if flags.isna().any():
        raise InputError("column 'suppressed' must be True or False on every row")
    return flags.astype(bool)


def _rows(flags: np.ndarray | pd.Series, what: str) -> str:
    where = np.flatnonzero(np.asarray(flags, dtype=bool))
    if not len(where):
        return ""
    shown = ", ".join(map(str, where[:10])) + (" ..." if len(where) > 10 else "")
    return f"rows [{shown}]: {what}"


def _id_cells(published: pd.DataFrame, forbidden: Iterable[str]) -> np.ndarray:
    """Rows where a text cell contains a forbidden id as a whole word."""
    ids = sorted({str(i) for i in forbidden if i is not None and str(i).strip()}, key=len)
    flags = np.zeros(len(published), dtype=bool)
    if not ids:
        return flags
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, ids[::-1])) + r")(?!\w)")
    for column in published.columns:
        series = published[column]
        if column in _LABELS or series.dtype == object or pd.api.types.is_string_dtype(series):
            text = series.astype("string").fillna("")
            flags |= text.map(lambda cell: bool(pattern.search(cell))).to_numpy(dtype=bool)
    return flags
