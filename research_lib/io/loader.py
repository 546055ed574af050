"""What every loader returns, and the rejected lines it builds.

A loader (:func:`research_lib.io.surveys.load_responses`,
:func:`research_lib.io.episodes.load_episodes`, ...) never drops a row silently:
each row of the input ends up either in ``LoadResult.valid`` or, with one line
per problem, in ``LoadResult.rejected`` (``row, column, value, problem``; ``row``
as a spreadsheet numbers it, header = 1). The helpers here build those lines,
so every loader words and numbers its problems the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.errors import InputError
from research_lib.io.oblasts import load_oblasts, resolve_scope
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
    "WHOLE_ROW",
    "parse_dates",
    "as_numbers",
    "as_of_date",
    "require_columns",
    "match_scope",
    "whole_numbers",
    "first_row_of",
    "assemble_load_result",
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

    names = ", ".join(load_oblasts().name_bg.head(3))
    return f"use a NUTS-3 code (BG311…BG425) or a name such as {names}"


_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


_EXCEL_SERIALS = (18_264, 73_050)  # Excel day numbers accepted: 1950-01-01 … 2099-12-31


_ISO_DATE = (
    r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)


_BG_DATE = r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})(?:\s*г\.?)?$"


_SERIAL_DATE = r"^\d{5}(?:\.0+)?$"


_SLASH_DATE = r"^\d{1,2}/\d{1,2}/\d{2,4}$"


_DATE_ADVICE = "write it as 2019-03-01 (ISO) or 01.03.2019"


WHOLE_ROW = "*"


def parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse a column of dates written in the accepted ways.

    Parameters
    ----------
    values : Series
        Text (or, from SPSS, numbers). Empty cells are missing, not errors.

    Returns
    -------
    dates : Series
        ``datetime64[ns]``, NaT where the cell is empty or not a date.
    problems : Series
        The reason in words where a non-empty cell is not a date, else ``<NA>``.

    Notes
    -----
    Accepted: ISO ``2019-03-01`` (a time after it, as Excel and SPSS exports write
    date cells, is dropped), Bulgarian ``01.03.2019`` (optionally followed by "г."),
    and Excel day numbers 18264-73050 (1950-2099; the 1900 date system). Slashes are
    rejected as ambiguous. Parsing runs once per distinct value.

    Examples
    --------
    >>> dates, problems = parse_dates(pd.Series(["2019-03-01", "01.03.2019 г.", "43525", "31.02.2019", ""]))
    >>> dates.dt.strftime("%Y-%m-%d").tolist()[:3]
    ['2019-03-01', '2019-03-01', '2019-03-01']
    >>> problems.iloc[3]
    'no such date (day 31 of month 2); check the day and the month'
    """
    if pd.api.types.is_numeric_dtype(values.dtype):
        values = pd.Series([as_written(v) for v in values], index=values.index, dtype=object)
    text = as_text(values)
    distinct = pd.Series(text.dropna().unique(), dtype=text.dtype)
    parsed, problem = _parse_distinct_dates(distinct)
    position = pd.Index(distinct.astype(object)).get_indexer(text.astype(object))
    found = position >= 0
    dates = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    dates[found] = parsed.to_numpy()[position[found]]
    problems = np.full(len(text), None, dtype=object)
    problems[found] = problem.to_numpy(dtype=object)[position[found]]
    return (
        pd.Series(dates, index=values.index),
        pd.Series(problems, index=values.index, dtype="string"),
    )


def _parse_distinct_dates(distinct: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates and problems for distinct, non-empty texts."""
    iso = distinct.str.extract(_ISO_DATE)
    bg = distinct.str.extract(_BG_DATE)
    parts = {key: as_numbers(iso[key].fillna(bg[key])) for key in ("y", "m", "d")}
    shaped = parts["y"].notna().to_numpy()
    calendar = pd.to_datetime(
        pd.DataFrame({"year": parts["y"], "month": parts["m"], "day": parts["d"]}),
        errors="coerce",
    )
    serial = distinct.str.fullmatch(_SERIAL_DATE).fillna(False).to_numpy(dtype=bool)
    days = as_numbers(distinct.where(serial))
    in_range = days.between(*_EXCEL_SERIALS).to_numpy()
    from_serial = _EXCEL_EPOCH + pd.to_timedelta(days.where(in_range), unit="D")
    old = (parts["y"] < 1900).to_numpy()
    dates = calendar.where(shaped & ~old, from_serial.where(serial & in_range))

    slash = distinct.str.fullmatch(_SLASH_DATE).fillna(False).to_numpy(dtype=bool)
    year_only = distinct.str.fullmatch(r"\d{4}").fillna(False).to_numpy(dtype=bool)
    no_such_day = (
        "no such date (day "
        + parts["d"].astype("Int64").astype(str)
        + " of month "
        + parts["m"].astype("Int64").astype(str)
        + "); check the day and the month"
    )
    problem = np.select(
        [
            dates.notna().to_numpy(),
            shaped & old,
            shaped,
            serial,
            slash,
            year_only,
        ],
        [
            None,
            "implausible year (before 1900); check the date",
            no_such_day.to_numpy(dtype=object),
            "a number outside the Excel dates of 1950-2099; " + _DATE_ADVICE,
            "ambiguous date with slashes (day/month or month/day?); " + _DATE_ADVICE,
            "a year, not a date; give day, month and year, " + _DATE_ADVICE,
        ],
        default="not a date; " + _DATE_ADVICE,
    )
    return dates.astype("datetime64[ns]"), pd.Series(problem, dtype=object)


def as_numbers(values: pd.Series) -> pd.Series:
    """Numbers of a text column as float64; what is not a number is NaN."""
    numbers = pd.to_numeric(values, errors="coerce")
    return pd.Series(numbers.to_numpy(dtype="float64", na_value=np.nan), index=values.index)


def as_of_date(as_of: object) -> pd.Timestamp:
    """The cut-off date after which a date is 'in the future' (default: today)."""
    if as_of is None:
        return pd.Timestamp(dt.date.today())
    try:
        return pd.Timestamp(as_of).normalize()
    except (TypeError, ValueError) as exc:
        raise InputError(f"as_of={as_of!r} is not a date; give it as '2025-12-31'.") from exc


def require_columns(data: pd.DataFrame, required: Sequence[str], name: str, what: str) -> None:
    missing = [c for c in required if c not in data.columns]
    if missing:
        have = ", ".join(map(str, data.columns[:20])) + (" …" if len(data.columns) > 20 else "")
        raise InputError(
            f"{name}: required column(s) missing: {', '.join(missing)}. The file has: {have}. "
            f"Add or rename them; every {what} needs {', '.join(required)}."
        )


def match_scope(values: pd.Series) -> pd.Series:
    """Oblast names to NUTS-3 codes, or ``"all"`` for the whole country; unknown -> <NA>."""
    text = as_text(values)
    mapping: dict[str, str | None] = {}
    for value in text.dropna().unique():
        try:
            mapping[value] = resolve_scope(value)
        except InputError:
            mapping[value] = None
    return text.map(mapping).astype("string")


def whole_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(numbers as float, given mask, is-not-a-whole-number mask) of a column."""
    given = ~is_empty(values)
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.astype("float64")
    else:
        numbers = as_numbers(as_text(values))
    not_whole = given & ~(numbers.notna() & (numbers == np.round(numbers)))
    return numbers, given, not_whole


def first_row_of(key: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(repeated mask, row of the first occurrence) for the rows of ``key``."""
    repeated = key.duplicated(keep="first")
    if not repeated.any():
        return repeated, pd.Series(index=key.index, dtype="int64")
    group = key.groupby(list(key.columns), dropna=False, sort=False, observed=True).ngroup()
    rows = pd.Series(key.index, index=key.index)
    return repeated, rows.groupby(group).transform("min")


def assemble_load_result(
    data: pd.DataFrame,
    canon: pd.DataFrame,
    problems: Iterable[pd.DataFrame],
    *,
    malformed: pd.DataFrame | None,
    source: Path | None,
    format: str,
    metadata: pd.DataFrame | None,
    value_labels: Mapping[str, Mapping] | None,
) -> LoadResult:
    """The LoadResult: canonical columns + columns kept as they are, bad rows moved out."""
    malformed = malformed if malformed is not None else empty_rejected()
    pieces = [p for p in (malformed, *problems) if len(p)]
    rejected = pd.concat(pieces, ignore_index=True) if pieces else empty_rejected()
    rejected = (
        rejected.astype({"row": "int64"}).sort_values("row", kind="stable").reset_index(drop=True)
    )
    rest = data[[c for c in data.columns if c not in canon.columns]]
    valid = pd.concat([canon, rest], axis=1, copy=False)
    bad = rejected["row"].unique()
    if len(bad):
        valid = valid.loc[~valid.index.isin(bad)]
    n_rows = len(data) + (int(malformed["row"].nunique()) if len(malformed) else 0)
    return LoadResult(
        valid=valid,
        rejected=rejected[list(REJECTED_COLUMNS)],
        n_rows=n_rows,
        source=source,
        format=format,
        metadata=metadata if metadata is not None else pd.DataFrame(index=data.index),
        value_labels=dict(value_labels or {}),
    )
