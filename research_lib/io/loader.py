"""What every loader returns, and the rejected lines it builds.

A loader (:func:`research_lib.io.surveys.load_responses`,
:func:`research_lib.io.placements.load_episodes`, ...) never drops a row silently:
each row of the input ends up either in ``LoadResult.valid`` or, with one line
per problem, in ``LoadResult.rejected`` (``row, column, value, problem``; ``row``
as a spreadsheet numbers it, header = 1). The helpers here build those lines,
so every loader words and numbers its problems the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.io.vocab import PLACEMENT_TYPES, as_text

__all__ = [
    "REJECTED_COLUMNS",
    "LoadResult",
    "empty_rejected",
    "rejected_lines",
    "with_row_index",
    "with_value_labels",
    "is_empty",
    "as_written",
    "placement_and_oblast_problems",
    "placement_type_problems",
    "oblast_problems",
    "unknown_oblast_hint",
]

#: Columns of ``LoadResult.rejected``.
REJECTED_COLUMNS: tuple[str, ...] = ("row", "column", "value", "problem")


@dataclass(frozen=True)
class LoadResult:
    """What a loader returns: valid rows with canonical codes and every problem found.

    Attributes
    ----------
    valid : DataFrame
        One row per valid record, indexed by the spreadsheet row number (``row``).
    rejected : DataFrame
        Columns ``row, column, value, problem``; one line per problem, so a row
        with two problems has two lines.
    n_rows : int
        Data rows in the input (header excluded).
    source : Path or None
        The file read, if any.
    format : str
        The format detected by the reader (``csv``, ``xlsx``, ``sav``, ``kobo-csv`` ...).
    metadata : DataFrame
        Columns kept aside (KoboToolbox / ODK metadata such as ``_uuid``), same index
        as the input.
    value_labels : dict
        SPSS value labels per column, when the input had them.
    """

    valid: pd.DataFrame
    rejected: pd.DataFrame
    n_rows: int
    source: Path | None = None
    format: str = "frame"
    metadata: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    value_labels: Mapping[str, Mapping] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        accounted = len(self.valid) + self.rejected["row"].nunique()
        if accounted != self.n_rows:  # a bug, never bad input
            raise AssertionError(f"rows lost: {self.n_rows} read, {accounted} accounted for")

    @property
    def n_valid(self) -> int:
        """Rows that passed every rule."""
        return len(self.valid)

    @property
    def n_rejected(self) -> int:
        """Rows with at least one problem."""
        return int(self.rejected["row"].nunique())

    def problem_counts(self) -> pd.DataFrame:
        """How many rows each kind of problem affected, most frequent first."""
        kinds = self.rejected.assign(
            kind=self.rejected["problem"].str.replace(r"\s*\(.*\)$", "", regex=True)
        )
        counts = kinds.groupby(["column", "kind"], sort=False)["row"].nunique()
        return (
            counts.rename("rows").reset_index().sort_values("rows", ascending=False, kind="stable")
        )

    def summary(self, first: int = 10) -> str:
        """A short plain-text account: rows read / valid / rejected and the first problems."""
        name = self.source.name if self.source is not None else "data"
        lines = [
            f"{name}: {self.n_rows} rows read, {self.n_valid} valid, {self.n_rejected} rejected "
            f"({len(self.rejected)} problems)."
        ]
        for rec in self.rejected.head(first).itertuples(index=False):
            value = "" if pd.isna(rec.value) else f" = {rec.value!r}"
            lines.append(f"  row {rec.row}, {rec.column}{value}: {rec.problem}")
        if len(self.rejected) > first:
            lines.append(f"  … and {len(self.rejected) - first} more problems.")
        return "\n".join(lines)


def empty_rejected() -> pd.DataFrame:
    """A rejected table with no lines (typed columns ``row, column, value, problem``)."""
    return pd.DataFrame(
        {c: np.empty(0, dtype=np.int64 if c == "row" else object) for c in REJECTED_COLUMNS}
    )


def with_row_index(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` indexed by spreadsheet row number (2, 3, ... under a header) unless it already is."""
    if data.index.name == "row":
        return data
    data = data.copy()
    data.index = pd.RangeIndex(2, len(data) + 2, name="row")
    return data


def with_value_labels(values: pd.Series, labels: Mapping | None) -> pd.Series:
    """Replace SPSS codes by their value labels where the column has them."""
    if not labels:
        return values
    mapping = {float(k): v for k, v in labels.items() if _is_number(k)}
    numeric = pd.to_numeric(values, errors="coerce")
    return numeric.map(mapping).where(numeric.map(mapping).notna(), values)


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def is_empty(values: pd.Series) -> pd.Series:
    """True where a cell is empty (missing, or only white space)."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.isna()
    return as_text(values).isna()


def as_written(value: object) -> object:
    """A cell as the user wrote it: ``30.0`` read from "30" shows as ``"30"``; missing as None."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def rejected_lines(
    mask: pd.Series, column: str, raw: pd.Series, problem: str | pd.Series
) -> pd.DataFrame:
    """Rejected lines for the rows where ``mask`` is true."""
    mask = mask.fillna(False).astype(bool)
    if not mask.any():
        return empty_rejected()
    rows = mask.index[mask.to_numpy()]
    values = raw.loc[rows]
    text = problem.loc[rows] if isinstance(problem, pd.Series) else problem
    return pd.DataFrame(
        {
            "row": rows.to_numpy(dtype="int64"),
            "column": column,
            "value": [as_written(v) for v in values],
            "problem": text if isinstance(text, str) else text.to_numpy(),
        }
    )


def placement_and_oblast_problems(
    data: pd.DataFrame,
    canon: pd.DataFrame,
    empty: Mapping[str, pd.Series],
    national: bool = False,
) -> Iterator[pd.DataFrame]:
    """Rejected lines for the two coded columns every loader shares: placement type and oblast.

    ``canon`` holds the canonical codes (``<NA>`` where a value matched nothing),
    ``empty`` the masks of empty cells, both indexed like ``data``. With
    ``national`` the oblast may also be ``all`` (a row about the whole country).
    """
    yield from placement_type_problems(data, canon, empty)
    yield from oblast_problems(data, canon["oblast"], empty["oblast"], national)


def placement_type_problems(
    data: pd.DataFrame, canon: pd.DataFrame, empty: Mapping[str, pd.Series]
) -> Iterator[pd.DataFrame]:
    """An empty or unknown ``placement_type`` (canonical codes in ``canon``)."""
    types = ", ".join(PLACEMENT_TYPES)
    labels = "ЦНСТ, приемна грижа, при близки и роднини, семейство, институция"
    yield rejected_lines(
        empty["placement_type"],
        "placement_type",
        data["placement_type"],
        f"placement_type is empty; use one of {types}",
    )
    yield rejected_lines(
        ~empty["placement_type"] & canon["placement_type"].isna(),
        "placement_type",
        data["placement_type"],
        f"unknown placement type; use one of {types} or a Bulgarian label ({labels})",
    )


def oblast_problems(
    data: pd.DataFrame, oblast: pd.Series, empty: pd.Series, national: bool = False
) -> Iterator[pd.DataFrame]:
    """An empty or unknown ``oblast`` (``oblast``: the matched codes, ``<NA>`` where none)."""
    country = ", or all for the country" if national else ""
    yield rejected_lines(
        empty,
        "oblast",
        data["oblast"],
        f"oblast is empty; name the oblast by NUTS-3 code or name{country}",
    )
    yield rejected_lines(
        ~empty & oblast.isna(),
        "oblast",
        data["oblast"],
        "unknown oblast; " + unknown_oblast_hint() + country,
    )


def unknown_oblast_hint() -> str:
    """How to name an oblast, with examples: the advice every "unknown oblast" line gives."""
    from research_lib.io.oblasts import load_oblasts

    names = ", ".join(load_oblasts().name_bg.head(3))
    return f"use a NUTS-3 code (BG311…BG425) or a name such as {names}"
