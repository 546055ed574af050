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
  (:func:`suppress_mean_table` for group means with an overall row,
  :func:`protect_counts` for two-way count tables with margins);
* **linked suppression across a batch** - counts published by oblast and
  nationally are protected as one linked table with its margins
  (:func:`protect_linked`, checked by the intruder of :mod:`research_lib.disclosure.audit`);
  a report takes its part of that pattern (:func:`apply_pattern`), so a report
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
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from research_lib.errors import InputError
from research_lib.io.csv_out import write_csv

if TYPE_CHECKING:
    from research_lib.disclosure.audit import LinkRules

__all__ = [
    "PUBLISHED_COLUMNS",
    "DEFAULT_MIN_CELL",
    "TOTAL_GROUP",
    "DisclosureError",
    "suppress_small",
    "suppress_mean_table",
    "add_margins",
    "primary_mask",
    "secondary_suppression",
    "recoverable_cells",
    "protect_counts",
    "protect_linked",
    "apply_pattern",
    "count_figures",
    "figure_rows",
    "to_published",
    "write_published",
    "read_published",
    "check_published",
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


def suppress_small(figures: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Primary suppression: hide every figure computed from fewer than ``min_cell`` children.

    Parameters
    ----------
    figures : DataFrame
        Columns ``table, group, measure, n, value, ci_low, ci_high`` and optionally
        ``suppressed`` (rows already ``True`` stay suppressed). Other columns are
        kept unchanged.
    min_cell : int, default 5
        Fewest children a shown figure may come from.

    Returns
    -------
    DataFrame
        A copy with ``suppressed`` set where ``n < min_cell`` or ``n`` is missing,
        and ``n``, ``value``, ``ci_low``, ``ci_high`` blanked on suppressed rows.

    Notes
    -----
    * ``n`` is blanked as well: a count of fewer than ``min_cell`` children is
      itself disclosive, and the ``n`` of a complementary-suppressed row would
      undo its protection.
    * A row with unknown ``n`` is suppressed (it cannot be shown to be safe).
    * A difference between two groups must carry the **smaller** of the two
      groups' ``n`` (the caller passes it), so it is hidden whenever either group
      is too small.
    * This is primary suppression only; a table with a total row also needs
      :func:`suppress_mean_table`, which :func:`to_published` applies.

    Examples
    --------
    >>> import pandas as pd
    >>> figures = pd.DataFrame({"table": "t", "group": ["a", "b"], "measure": "m",
    ...     "n": [4, 5], "value": [1.0, 2.0], "ci_low": [0.5, 1.5], "ci_high": [1.5, 2.5]})
    >>> suppress_small(figures)[["group", "n", "value", "suppressed"]]
      group     n  value  suppressed
    0     a  <NA>    NaN        True
    1     b     5    2.0       False
    """
    return _blank(_flag_small(figures, min_cell))


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
        As for :func:`suppress_small`.
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
        As :func:`suppress_small`, with complementary rows suppressed too.

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
    need a two-way pattern, e.g. from :func:`protect_counts` on their ``n``.

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
    frame = _flag_small(figures, min_cell)
    if total_group is None:
        return _blank(frame)
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
    return _blank(frame)


# --------------------------------------------------------------------------- count tables


def add_margins(table: pd.DataFrame, margins_name: str = TOTAL_GROUP) -> pd.DataFrame:
    """A count table with its row and column totals (``margins_name``) as last row/column.

    If ``table`` already has a ``margins_name`` row and column (as from
    ``pd.crosstab(..., margins=True, margins_name=...)``) they are checked to add
    up and kept.

    Examples
    --------
    >>> import pandas as pd
    >>> add_margins(pd.DataFrame({"a": [1, 2], "b": [3, 4]}, index=["x", "y"]))
         a  b  all
    x    1  3    4
    y    2  4    6
    all  3  7   10
    """
    counts = table.apply(pd.to_numeric, errors="coerce")
    if counts.isna().any().any() or (counts < 0).any().any():
        raise InputError("a count table must hold non-negative numbers only (no empty cells)")
    has_row, has_col = margins_name in counts.index, margins_name in counts.columns
    if has_row != has_col:
        raise InputError(
            f"the count table has a {margins_name!r} row or column but not both; "
            "pass the table without margins or with both"
        )
    if has_row:
        inner = counts.drop(index=margins_name, columns=margins_name)
        expected = _margined(inner, margins_name).loc[counts.index, counts.columns]
        if not np.allclose(expected.to_numpy(), counts.to_numpy()):
            raise InputError(f"the {margins_name!r} row/column of the count table do not add up")
        return counts
    return _margined(counts, margins_name)


def primary_mask(table: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Cells of a count table below ``min_cell`` (zeros included), as a boolean frame.

    Examples
    --------
    >>> import pandas as pd
    >>> primary_mask(pd.DataFrame({"a": [0, 5], "b": [4, 12]}))
           a      b
    0   True   True
    1  False  False
    """
    _check_min_cell(min_cell)
    return table.apply(pd.to_numeric, errors="coerce").lt(min_cell)


def recoverable_cells(
    table: pd.DataFrame, hidden: pd.DataFrame, margins_name: str = TOTAL_GROUP
) -> pd.DataFrame:
    """Hidden cells whose exact value follows from the shown cells and totals.

    Parameters
    ----------
    table : DataFrame
        Counts **with** margins (see :func:`add_margins`).
    hidden : DataFrame of bool
        Same labels as ``table``; ``True`` where a cell is not published.
    margins_name : str, default "all"
        Label of the total row and column.

    Returns
    -------
    DataFrame of bool
        ``True`` for each hidden cell an attacker can compute exactly.

    Notes
    -----
    Each row and column of the table is a linear equation (cells add up to the
    total). A hidden cell is determined exactly when its unit vector lies in the
    row space of these equations restricted to the hidden cells, i.e. when every
    null-space vector is zero at that cell (checked by SVD). This finds more than
    "the only hidden cell of a line": e.g. a cell linking two otherwise closed
    rectangles of hidden cells is recoverable although each of its lines holds
    three hidden cells. Bounds (a hidden cell known to lie in a narrow interval
    because the cells are non-negative) are not checked.
    """
    _, mask, row_margin, col_margin = _grid(table, hidden, margins_name)
    return pd.DataFrame(
        _recoverable(mask, row_margin, col_margin), index=table.index, columns=table.columns
    )


def secondary_suppression(
    table: pd.DataFrame, hidden: pd.DataFrame, margins_name: str = TOTAL_GROUP
) -> pd.DataFrame:
    """Extend a suppression pattern until no hidden cell can be recovered by subtraction.

    Parameters
    ----------
    table : DataFrame
        Counts **with** margins (see :func:`add_margins`).
    hidden : DataFrame of bool
        The primary pattern (same labels as ``table``).
    margins_name : str, default "all"
        Label of the total row and column.

    Returns
    -------
    DataFrame of bool
        The extended pattern; a superset of ``hidden``.

    Notes
    -----
    Iterates until stable:

    1. every row and column (margin cell included) holding exactly one hidden
       cell gets a second one: its smallest shown cell (inner cells before
       totals, then the first in table order);
    2. if a hidden cell is still recoverable (:func:`recoverable_cells`), the
       smallest shown cell of its row or column is hidden, and step 1 repeats.

    This is the classic heuristic, not an optimal (least information loss)
    pattern; for large or hierarchical tables use tau-ARGUS.
    """
    values, mask, row_margin, col_margin = _grid(table, hidden, margins_name)
    mask = mask.copy()
    while True:
        if _complete_lines(values, mask, row_margin, col_margin):
            continue
        recoverable = _recoverable(mask, row_margin, col_margin)
        if not recoverable.any():
            break
        i, j = np.argwhere(recoverable)[0]
        line = [(i, k) for k in range(mask.shape[1])] + [(k, j) for k in range(mask.shape[0])]
        cell = _smallest_shown(values, mask, line, row_margin, col_margin)
        if cell is None:
            cell = _smallest_shown(
                values, mask, list(np.ndindex(mask.shape)), row_margin, col_margin
            )
        if cell is None:
            break
        mask[cell] = True
    return pd.DataFrame(mask, index=table.index, columns=table.columns)


def protect_counts(
    table: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL, margins_name: str = TOTAL_GROUP
) -> pd.DataFrame:
    """Primary and secondary suppression pattern for a two-way table of counts of children.

    Parameters
    ----------
    table : DataFrame
        Counts (rows x columns), with or without a ``margins_name`` total row and
        column. The totals are always assumed to be published.
    min_cell : int, default 5
        Cells below ``min_cell`` (zeros included) are hidden.
    margins_name : str, default "all"
        Label of the total row and column.

    Returns
    -------
    DataFrame of bool
        The pattern on the table **with** margins: ``True`` = do not publish.

    Notes
    -----
    Primary suppression (:func:`primary_mask`, on inner cells and totals) then
    secondary suppression (:func:`secondary_suppression`), so that no hidden
    cell can be computed from the published cells and totals.

    Examples
    --------
    >>> import pandas as pd
    >>> counts = pd.DataFrame({"a": [12, 15, 30], "b": [3, 9, 25], "c": [20, 11, 8]},
    ...                       index=["x", "y", "z"])
    >>> protect_counts(counts)
             a      b      c    all
    x     True   True  False  False
    y     True   True  False  False
    z    False  False  False  False
    all  False  False  False  False
    """
    full = add_margins(table, margins_name)
    return secondary_suppression(full, primary_mask(full, min_cell), margins_name)


def count_figures(
    table: pd.DataFrame,
    hidden: pd.DataFrame,
    table_name: str,
    measure: str = "count",
    separator: str = " | ",
) -> pd.DataFrame:
    """A protected count table as published figures (one row per cell).

    ``group`` is ``"<row> | <column>"``; ``n`` and ``value`` are the count; hidden
    cells are suppressed. Pass ``table`` and ``hidden`` with margins, as from
    :func:`add_margins` and :func:`protect_counts`.

    Examples
    --------
    >>> import pandas as pd
    >>> counts = add_margins(pd.DataFrame({"a": [6, 2], "b": [7, 9]}, index=["x", "y"]))
    >>> figures = count_figures(counts, protect_counts(counts), "t")
    >>> figures[["group", "n", "value", "suppressed"]]
           group     n  value  suppressed
    0      x | a  <NA>    NaN        True
    1      x | b  <NA>    NaN        True
    2    x | all    13   13.0       False
    3      y | a  <NA>    NaN        True
    4      y | b  <NA>    NaN        True
    5    y | all    11   11.0       False
    6    all | a     8    8.0       False
    7    all | b    16   16.0       False
    8  all | all    24   24.0       False

    In a 2 x 2 table one small cell hides all four inner cells: any fewer could
    be recovered from the totals.
    """
    if not hidden.index.equals(table.index) or not hidden.columns.equals(table.columns):
        raise InputError("the suppression pattern must have the same rows and columns as the table")
    cells = table.stack(future_stack=True)
    flags = hidden.stack(future_stack=True).astype(bool)
    groups = [f"{row}{separator}{col}" for row, col in cells.index]
    figures = pd.DataFrame(
        {
            "table": table_name,
            "group": groups,
            "measure": measure,
            "n": cells.to_numpy(),
            "value": cells.to_numpy(dtype="float64"),
            "ci_low": np.nan,
            "ci_high": np.nan,
            "suppressed": flags.to_numpy(),
        }
    )
    return _blank(figures)


# --------------------------------------------------------------------------- linked tables


#: Columns of a linked-cell frame (as :func:`research_lib.disclosure.audit.read_batch` returns).
CELL_KEYS: tuple[str, ...] = ("study", "scope", "table", "group", "measure")


def protect_linked(
    cells: pd.DataFrame,
    min_cell: int = DEFAULT_MIN_CELL,
    *,
    rules: LinkRules | None = None,
    parent: Sequence[int] | None = None,
    max_rounds: int = 200,
) -> pd.Series:
    """Suppression pattern for counts published in linked tables (a whole batch of reports).

    Parameters
    ----------
    cells : DataFrame
        Every count the batch would publish: columns ``study, scope, table,
        group, measure, n`` (the true counts) and optionally ``hidden`` (cells
        that must be hidden whatever their count). ``scope`` is ``all`` for the
        country or an oblast code; the tables are linked as the intruder of
        :mod:`research_lib.disclosure.audit` links them (``rules``, default
        :data:`research_lib.disclosure.audit.RULES`): groups add up to the ``all`` row,
        national cells to the sum of the oblasts, a group's figures rest on at
        most its count.
    min_cell : int, default 5
        Counts from 1 to ``min_cell`` - 1 are hidden (primary suppression).
    parent : sequence of int, optional
        For each row of ``cells``, the position of the cell it follows (or -1):
        when the parent is hidden, so is the cell (one pattern per group: a
        group whose count is hidden has no figure shown anywhere in its report).
    max_rounds : int, default 200
        Rounds of complementary suppression before giving up (an error).

    Returns
    -------
    Series of bool
        ``True`` = do not publish, aligned with ``cells``.

    Notes
    -----
    1. Primary suppression: every count below ``min_cell``, **zeros included**
       (a zero is shown as "—" like any small count).
    2. A true zero is no protection: while checking the pattern the zeros are
       treated as **known** to the intruder.
    3. Complementary suppression: while a hidden count is recovered exactly
       (:func:`research_lib.disclosure.audit.exact_cells`, linear algebra) or a small one is
       shown to lie between 1 and ``min_cell`` - 1 (the intruder's linear
       programmes, :func:`research_lib.disclosure.audit.cell_bounds`), the smallest shown non-zero count of its lines (its
       report's table line and its national margin line; inner cells before
       totals, oblasts before the country) is hidden too, and its followers
       with it.

    The pattern depends only on the counts, so a report computed on its own
    gets the same pattern as in the batch, as long as both build ``cells``
    from the whole data set. This is a greedy heuristic (as the hypercube
    method of tau-ARGUS), not the pattern of least information loss.

    Examples
    --------
    Two oblasts and the country; the small cell of ``x`` also hides a cell of
    ``y`` (its national margin line) and the second group of each oblast:

    >>> import dataclasses, pandas as pd
    >>> from research_lib.disclosure.audit import RULES
    >>> n = {"x": [9, 3, 6], "y": [20, 12, 8], "all": [29, 15, 14]}
    >>> cells = pd.DataFrame([{"study": "s", "scope": s, "table": "sample", "group": g,
    ...     "measure": "children", "n": v} for s, vs in n.items()
    ...     for g, v in zip(["all", "a", "b"], vs)])
    >>> rules = dataclasses.replace(RULES, scopes=frozenset({"x", "y"}))
    >>> hidden = protect_linked(cells, rules=rules)
    >>> cells.assign(hidden=hidden)[["scope", "group", "n", "hidden"]]
      scope group   n  hidden
    0     x   all   9   False
    1     x     a   3    True
    2     x     b   6    True
    3     y   all  20   False
    4     y     a  12    True
    5     y     b   8    True
    6   all   all  29   False
    7   all     a  15   False
    8   all     b  14   False
    """
    from research_lib.disclosure.audit import (
        RULES,
        _build,
        cell_bounds,
        disclosed_bounds,
        exact_cells,
    )

    _check_min_cell(min_cell)
    rules = RULES if rules is None else rules
    missing = [c for c in (*CELL_KEYS, "n") if c not in cells.columns]
    if missing:
        raise InputError(f"linked cells lack the column(s) {missing}")
    frame = cells.reset_index(drop=True).loc[:, [*CELL_KEYS, "n"]].copy()
    n = pd.to_numeric(frame["n"], errors="coerce").to_numpy(dtype="float64")
    forced = (
        cells["hidden"].to_numpy(dtype=bool)
        if "hidden" in cells.columns
        else np.zeros(len(frame), dtype=bool)
    )
    hidden = forced | np.isnan(n) | (n < min_cell)
    zero = n == 0
    parents = np.full(len(frame), -1) if parent is None else np.asarray(parent, dtype=int)
    if len(parents) != len(frame):
        raise InputError("parent must give one position (or -1) per linked cell")

    def follow(mask: np.ndarray) -> np.ndarray:
        mask = mask.copy()
        while True:
            has = parents >= 0
            spread = has & ~mask & mask[np.where(has, parents, 0)]
            if not spread.any():
                return mask
            mask |= spread

    line_keys = {
        "report": frame.groupby(["study", "scope", "table", "measure"], sort=False).ngroup(),
        "margin": frame.groupby(["study", "table", "group", "measure"], sort=False).ngroup(),
    }
    # a line that links nothing (no ``all`` row, no national margin) is no complement
    report_line = line_keys["report"]
    has_total = (
        frame.assign(total=frame["group"] == TOTAL_GROUP)
        .groupby(report_line.to_numpy())["total"]
        .transform("any")
    )
    line_keys["report"] = report_line.where(
        has_total.to_numpy() & ~frame["table"].isin(list(rules.not_partitions)).to_numpy(), -1
    )
    margined = frame["table"].isin(list(rules.additive | rules.subadditive)).to_numpy()
    line_keys["margin"] = line_keys["margin"].where(margined, -1)
    family = rules.families()  # tables linked within a report: a group's line across them
    in_family = frame["table"].isin(list(family)).to_numpy()
    line_keys["family"] = (
        frame.assign(family=frame["table"].map(family).fillna(""))
        .groupby(["study", "scope", "family", "group"], sort=False)
        .ngroup()
        .where(in_family, -1)
    )
    line_codes = {kind: keys.to_numpy() for kind, keys in line_keys.items()}
    is_total = (frame["group"] == TOTAL_GROUP).to_numpy()
    from research_lib.io.oblasts import NATIONAL

    is_national = (frame["scope"] == NATIONAL).to_numpy()
    hidden = follow(hidden)
    model = _build(frame.assign(hidden=hidden), rules)  # the links: built once
    for _ in range(max_rounds):
        check = frame.assign(hidden=hidden & ~zero)
        check.loc[zero, "n"] = 0.0
        found = exact_cells(check, rules, model)  # linear algebra first: fast
        if not len(found):  # then the programmes, for the small counts only
            small = hidden & ~zero & (n < min_cell)
            bounds = cell_bounds(check, rules, only=small, model=model, stop_at_zero=True)
            bounds = disclosed_bounds(bounds, min_cell)
            found = bounds.index[bounds.index < len(frame)].to_numpy()
        if not len(found):
            return pd.Series(hidden, index=cells.index, name="hidden")
        # what to break: each line where a disclosed count is the only hidden one;
        # otherwise every line of each disclosed count
        protecting = hidden & ~zero
        singles = {
            (kind, line_codes[kind][cell])
            for cell in found
            for kind in line_codes
            if line_codes[kind][cell] >= 0
            and protecting[line_codes[kind] == line_codes[kind][cell]].sum() == 1
        }
        targets: dict[object, set[tuple[str, int]]] = (
            {line: {line} for line in singles}
            if singles
            else {
                int(cell): {
                    (kind, line_codes[kind][cell])
                    for kind in line_codes
                    if line_codes[kind][cell] >= 0
                }
                for cell in found
            }
        )
        # greedy cover: inner oblast counts first, then the one breaking the most targets
        covers: dict[int, set[object]] = {}
        for target, lines in targets.items():
            for kind, key in lines:
                for m in np.flatnonzero(line_codes[kind] == key):
                    if not hidden[m] and not zero[m]:
                        covers.setdefault(int(m), set()).add(target)
        open_cells = set(targets)
        added = False
        while open_cells and covers:
            best = min(
                covers,
                key=lambda m: (
                    is_total[m],
                    is_national[m],
                    -len(covers[m] & open_cells),
                    n[m],
                    m,
                ),
            )
            if not covers[best] & open_cells:
                break
            hidden[best] = True
            added = True
            open_cells -= covers.pop(best)
        if not added:  # nothing left to hide in any line: hide the smallest shown count
            shown = np.flatnonzero(~hidden & ~zero)
            if not len(shown):
                break
            hidden[shown[np.argmin(n[shown])]] = True
        hidden = follow(hidden)
    raise DisclosureError(
        f"complementary suppression did not converge in {max_rounds} rounds; "
        "publish fewer linked tables or raise max_rounds"
    )


def apply_pattern(
    figures: pd.DataFrame, pattern: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL
) -> pd.DataFrame:
    """Hide the figures a batch-wide pattern hides (and the small ones); nothing else.

    Parameters
    ----------
    figures : DataFrame
        Figures of one report (columns of :func:`figure_rows`).
    pattern : DataFrame
        Columns ``table, group, measure, hidden`` for this report's scope, as
        from :func:`protect_linked`; figures not listed are left to the usual
        suppression.
    min_cell : int
        Primary suppression of the figures themselves (a difference on a small
        ``n`` stays hidden).

    Returns
    -------
    DataFrame
        ``figures`` with ``suppressed`` set and suppressed fields blanked.
    """
    frame = _flag_small(figures, min_cell)
    if len(pattern):
        keys = pattern.set_index(["table", "group", "measure"])["hidden"].astype(bool)
        index = pd.MultiIndex.from_arrays(
            [frame["table"].astype(str), frame["group"].astype(str), frame["measure"].astype(str)]
        )
        flags = keys.reindex(index).eq(True).to_numpy(dtype=bool)
        frame["suppressed"] = frame["suppressed"].to_numpy(dtype=bool) | flags
    return _blank(frame)


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
    pattern may come from the whole batch (:func:`protect_linked`) and adding
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
    _check_min_cell(min_cell)
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


def _check_min_cell(min_cell: object) -> int:
    if isinstance(min_cell, bool) or not isinstance(min_cell, int | np.integer) or min_cell < 1:
        raise InputError(f"min_cell must be a whole number of children >= 1, got {min_cell!r}")
    return int(min_cell)


def _flag_small(figures: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """A copy with a boolean ``suppressed`` = already suppressed or ``n`` below ``min_cell``."""
    min_cell = _check_min_cell(min_cell)
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


def _blank(frame: pd.DataFrame) -> pd.DataFrame:
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


def _margined(counts: pd.DataFrame, margins_name: str) -> pd.DataFrame:
    out = counts.copy()
    out[margins_name] = counts.sum(axis=1)
    out.loc[margins_name] = out.sum(axis=0)
    return out


def _grid(
    table: pd.DataFrame, hidden: pd.DataFrame, margins_name: str
) -> tuple[np.ndarray, np.ndarray, int, int]:
    if margins_name not in table.index or margins_name not in table.columns:
        raise InputError(
            f"the count table needs a {margins_name!r} total row and column; use add_margins()"
        )
    if not hidden.index.equals(table.index) or not hidden.columns.equals(table.columns):
        raise InputError("the suppression pattern must have the same rows and columns as the table")
    values = table.to_numpy(dtype="float64")
    mask = hidden.to_numpy(dtype=bool)
    return values, mask, table.index.get_loc(margins_name), table.columns.get_loc(margins_name)


def _lines(shape: tuple[int, int]) -> list[list[tuple[int, int]]]:
    """Every row and every column of the table (each is one equation: cells = total)."""
    rows, cols = shape
    return [[(i, j) for j in range(cols)] for i in range(rows)] + [
        [(i, j) for i in range(rows)] for j in range(cols)
    ]


def _smallest_shown(
    values: np.ndarray,
    mask: np.ndarray,
    cells: list[tuple[int, int]],
    row_margin: int,
    col_margin: int,
) -> tuple[int, int] | None:
    shown = [cell for cell in cells if not mask[cell]]
    if not shown:
        return None
    return min(
        shown,
        key=lambda c: (c[0] == row_margin or c[1] == col_margin, values[c], c),
    )


def _complete_lines(values: np.ndarray, mask: np.ndarray, row_margin: int, col_margin: int) -> bool:
    """Give every line with exactly one hidden cell a second one; True if anything changed."""
    for line in _lines(mask.shape):
        if sum(mask[cell] for cell in line) == 1:
            cell = _smallest_shown(values, mask, line, row_margin, col_margin)
            if cell is not None:
                mask[cell] = True
                return True
    return False


def _recoverable(mask: np.ndarray, row_margin: int, col_margin: int) -> np.ndarray:
    rows, cols = mask.shape
    hidden = np.argwhere(mask)
    out = np.zeros_like(mask)
    if not len(hidden):
        return out
    equations = np.zeros((rows + cols, rows * cols))
    for i in range(rows):
        for j in range(cols):
            equations[i, i * cols + j] = -1.0 if j == col_margin else 1.0
            equations[rows + j, i * cols + j] = -1.0 if i == row_margin else 1.0
    reduced = equations[:, [i * cols + j for i, j in hidden]]
    _, singular, vt = np.linalg.svd(reduced)
    rank = int((singular > 1e-9 * max(1.0, singular.max(initial=0.0))).sum())
    null = vt[rank:]
    determined = np.all(np.abs(null) < 1e-9, axis=0) if len(null) else np.ones(len(hidden), bool)
    for (i, j), flag in zip(hidden, determined, strict=True):
        out[i, j] = flag
    return out
