"""Linked suppression: one pattern of hidden counts for a whole batch of reports.

Counts published by oblast and nationally (and a report's tables that add up
to each other) form one linked table. :func:`protect_linked` chooses which
cells to hide so that the intruder of :mod:`research_lib.disclosure.audit`
cannot recover any count below ``min_cell`` from all reports together;
:func:`apply_pattern` gives a report its part of that pattern, so a report run
alone hides what the batch hides. Primary suppression and the published.csv
contract are in :mod:`research_lib.disclosure.suppression`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research_lib.disclosure.audit import (
    RULES,
    LinkRules,
    build_model,
    cell_bounds,
    disclosed_bounds,
    exact_cells,
)
from research_lib.disclosure.suppression import (
    DEFAULT_MIN_CELL,
    TOTAL_GROUP,
    DisclosureError,
    blank_suppressed,
    check_min_cell,
    flag_small,
)
from research_lib.errors import InputError

__all__ = ["CELL_KEYS", "protect_linked", "apply_pattern"]


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

    check_min_cell(min_cell)
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
    model = build_model(frame.assign(hidden=hidden), rules)  # the links: built once
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
    frame = flag_small(figures, min_cell)
    if len(pattern):
        keys = pattern.set_index(["table", "group", "measure"])["hidden"].astype(bool)
        index = pd.MultiIndex.from_arrays(
            [frame["table"].astype(str), frame["group"].astype(str), frame["measure"].astype(str)]
        )
        flags = keys.reindex(index).eq(True).to_numpy(dtype=bool)
        frame["suppressed"] = frame["suppressed"].to_numpy(dtype=bool) | flags
    return blank_suppressed(frame)
