"""Published figures declared once: a study lists :class:`FigureSpec`, one function publishes them.

A study says *what* it publishes as a tuple of specifications - which table, which
frame of its analysis the rows come from, which column is the group, the
measure, ``n``, the value and its confidence interval, and whether the table's
suppression follows the batch-wide linked pattern. :func:`build_figures` turns
the specifications into figures in the :func:`~research_lib.disclosure.suppression.figure_rows`
layout (rounded to 6 significant digits, so that ``published.csv`` is the same
on every machine) and :func:`published_rows` passes them through disclosure
control: the rows of ``published.csv``.

A field of a specification is read from the frame as

* a ``str``: the column of that name (``group`` and ``measure`` as text);
* :class:`Fixed`: the same value for every row (``Fixed("all")``);
* a callable: ``f(frame)`` gives the column (``lambda f: f["flag"].astype(float)``).

Examples
--------
>>> import pandas as pd
>>> from types import SimpleNamespace
>>> analysis = SimpleNamespace(sample=pd.DataFrame(
...     {"placement_type": ["cnst", "foster"], "n": [12, 40]}))
>>> spec = FigureSpec("sample", "sample", group="placement_type",
...                   measure=Fixed("children"), n="n", value="n")
>>> build_figures([spec], analysis)[["table", "group", "measure", "n", "value"]]
    table   group   measure   n  value
0  sample    cnst  children  12   12.0
1  sample  foster  children  40   40.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from research_lib.disclosure.linked import apply_pattern
from research_lib.disclosure.suppression import (
    DEFAULT_MIN_CELL,
    PUBLISHED_COLUMNS,
    check_published,
    figure_rows,
    to_published,
)

__all__ = [
    "adjusted_for",
    "Fixed",
    "FigureSpec",
    "build_figures",
    "linked_tables",
    "published_rows",
    "round_figures",
]


@dataclass(frozen=True)
class Fixed:
    """A value the same for every row of a figure (a group label, a measure name, a count)."""

    value: object


#: How a field is read from a spec's frame: a column name, a :class:`Fixed` value or ``f(frame)``.
Reader = str | Fixed | Callable[[pd.DataFrame], object]
#: Where a spec's rows come from: an attribute (or key) of the source, or ``f(source)``.
FrameSource = str | Callable[[object], "pd.DataFrame | None"]


@dataclass(frozen=True)
class FigureSpec:
    """One published table (or one measure of it): where its rows come from and how each field is read.

    Parameters
    ----------
    table : str
        The ``table`` column of ``published.csv``.
    frame : str or callable
        The rows: an attribute (or, for a mapping, a key) of the source the
        figures are built from, or ``f(source)``. ``None`` or an empty frame
        publishes nothing.
    group, measure, n, value : Reader
        The ``group`` / ``measure`` labels (text), ``n`` (the children a figure
        rests on: what suppression checks) and the figure itself.
    ci_low, ci_high : Reader, optional
        The confidence interval (empty when not given).
    by : str, optional
        The grouping variable the rows partition (complementary suppression
        against the ``all`` row); by default the table name.
    where : callable, optional
        ``f(frame)`` keeps the rows to publish (applied to a non-empty frame only).
    linked : bool, default False
        Whether the table's suppression follows the batch-wide linked pattern
        (:func:`~research_lib.disclosure.linked.apply_pattern`) rather than
        being decided on this report's figures alone.
    """

    table: str
    frame: FrameSource
    group: Reader
    measure: Reader
    n: Reader
    value: Reader
    ci_low: Reader | None = None
    ci_high: Reader | None = None
    by: str | None = None
    where: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    linked: bool = False

    def rows(self, source: object) -> pd.DataFrame:
        """The figures of this specification, before suppression (empty when there is nothing)."""
        frame = _frame_of(self.frame, source)
        if frame is None or not len(frame):
            return pd.DataFrame()
        if self.where is not None:
            frame = self.where(frame)
            if not len(frame):
                return pd.DataFrame()
        return figure_rows(
            self.table,
            _read(frame, self.group, text=True),
            _read(frame, self.measure, text=True),
            _read(frame, self.n),
            _read(frame, self.value),
            np.nan if self.ci_low is None else _read(frame, self.ci_low),
            np.nan if self.ci_high is None else _read(frame, self.ci_high),
            by=self.by,
        )


def build_figures(specs: Iterable[FigureSpec], source: object) -> pd.DataFrame:
    """The figures of every specification, in order, before suppression.

    Parameters
    ----------
    specs : iterable of FigureSpec
    source : object
        What the specifications read their frames from (a study's analysis).

    Returns
    -------
    DataFrame
        The :func:`~research_lib.disclosure.suppression.figure_rows` layout with a
        fresh index; value and CIs rounded by :func:`round_figures`. Empty (no
        columns) when no specification has rows.
    """
    parts = [part for part in (spec.rows(source) for spec in specs) if len(part)]
    if not parts:
        return pd.DataFrame()
    return round_figures(pd.concat(parts, ignore_index=True))


def round_figures(figures: pd.DataFrame, digits: int = 6) -> pd.DataFrame:
    """``value``, ``ci_low`` and ``ci_high`` to ``digits`` significant digits: stable across machines."""
    for column in ("value", "ci_low", "ci_high"):
        figures[column] = [
            float(f"{v:.{digits}g}") if pd.notna(v) else np.nan for v in figures[column]
        ]
    return figures


def linked_tables(specs: Iterable[FigureSpec]) -> tuple[str, ...]:
    """The tables whose suppression follows the batch-wide pattern (``linked=True``), in order."""
    return tuple(dict.fromkeys(spec.table for spec in specs if spec.linked))


def published_rows(
    specs: Sequence[FigureSpec] | pd.DataFrame,
    source: object = None,
    min_cell: int = DEFAULT_MIN_CELL,
    *,
    pattern: pd.DataFrame | None = None,
    linked: Iterable[str] | None = None,
    forbidden: Iterable[str] = (),
) -> pd.DataFrame:
    """The rows of ``published.csv``: the specified figures, disclosure-controlled.

    Parameters
    ----------
    specs : sequence of FigureSpec, or DataFrame
        The study's declared figures (built from ``source`` with
        :func:`build_figures`), or figures already built.
    source : object
        What the specifications read their frames from.
    min_cell : int, default 5
        Fewest children a shown figure may come from.
    pattern : DataFrame, optional
        The batch-wide pattern of this report's scope (columns ``table, group,
        measure, hidden``, as from
        :func:`~research_lib.disclosure.linked.protect_linked`). Without it
        every table is protected on its own
        (:func:`~research_lib.disclosure.suppression.to_published`).
    linked : iterable of str, optional
        The tables the pattern governs; by default those of the specifications
        with ``linked=True`` (:func:`linked_tables`).
    forbidden : iterable of str
        Respondent ids (or other codes) that must not appear in any label.

    Returns
    -------
    DataFrame
        Columns :data:`~research_lib.disclosure.suppression.PUBLISHED_COLUMNS`,
        rows in the order the specifications give them, checked.
    """
    if isinstance(specs, pd.DataFrame):
        figures = specs
    else:
        figures = build_figures(specs, source)
        if linked is None:
            linked = linked_tables(specs)
    forbidden = list(forbidden)
    if pattern is None:
        return to_published(figures, min_cell, forbidden=forbidden)
    governed = figures["table"].isin(tuple(linked or ()))
    out = pd.concat(
        [
            apply_pattern(figures[governed], pattern, min_cell),
            to_published(figures[~governed], min_cell, forbidden=forbidden),
        ]
    )
    out = out.loc[:, list(PUBLISHED_COLUMNS)].sort_index(kind="stable").reset_index(drop=True)
    check_published(out, min_cell, forbidden=forbidden)
    return out


def _frame_of(frame: FrameSource, source: object) -> pd.DataFrame | None:
    if callable(frame):
        return frame(source)
    if isinstance(source, Mapping):
        return source.get(frame)
    return getattr(source, frame, None)


def _read(frame: pd.DataFrame, reader: Reader, text: bool = False) -> object:
    if isinstance(reader, Fixed):
        return reader.value
    if callable(reader):
        return reader(frame)
    column = frame[reader]
    return column.astype(str) if text else column


def adjusted_for(published: pd.DataFrame | None) -> tuple[str, ...] | None:
    """What a study's group differences are adjusted for, read from its published figures.

    The QoL study publishes one ``adjusted_for`` row per covariate (measure
    ``none`` when the differences are unadjusted; see
    :func:`research_lib.studies.qol.pipeline.published_figures`).

    Returns
    -------
    tuple of str or None
        The covariates; ``()`` when unadjusted; ``None`` when the study
        publishes no ``adjusted_for`` rows (what was adjusted for is unknown here).

    Examples
    --------
    >>> rows = pd.DataFrame({"table": ["adjusted_for"] * 2, "measure": ["age", "sex"]})
    >>> adjusted_for(rows)
    ('age', 'sex')
    >>> adjusted_for(pd.DataFrame({"table": ["sample"], "measure": ["children"]})) is None
    True
    """
    if published is None or "table" not in published.columns:
        return None
    rows = published[published["table"] == "adjusted_for"]
    if rows.empty:
        return None
    return tuple(m for m in dict.fromkeys(rows["measure"].astype(str)) if m != "none")
