"""Placement layer: episodes and published counts of children in formal care, as time series and rates.

Two kinds of input, one output layout:

* **Episodes** (:func:`load_episodes`): one row per placement episode of a child —
  ``child_id, oblast, placement_type, start_date, end_date, exit_reason`` and
  ``birth_date`` or ``age_at_start``. :func:`episodes_to_series` counts them per
  period (``entries``, ``exits``, ``in_care_end``).
* **Published counts** (:func:`load_counts`): a table of counts per ``period``,
  ``oblast`` (or ``all`` for the whole country) and ``placement_type``, as many
  users have them instead of episodes.

Both give a tidy table with ``period`` (the period's first day), the grouping
columns and the count columns, so later analyses accept either. :func:`add_rates`
adds rates per 100,000 children (the TransMonEE convention) with exact Poisson
(Garwood) confidence intervals, from a child-population table the caller gives
(:func:`load_population`); the library ships no population figures and never
estimates a missing denominator.

The loaders follow the survey layer (:mod:`research_lib.io.surveys`): every row
ends up in ``LoadResult.valid`` (canonical codes) or in ``LoadResult.rejected``
(spreadsheet row number, column, value as written, problem in words), and
``len(valid) + rejected.row.nunique() == n_rows``. A file that cannot be used as
a whole raises :class:`~research_lib.errors.InputError`.

Episode rules
-------------
* ``child_id``, ``oblast``, ``placement_type`` and ``start_date`` must not be empty;
  placement types are ``family, kinship, foster, cnst, institution`` or their
  Bulgarian labels; oblasts any name :func:`research_lib.io.oblasts.resolve_oblast` accepts.
* Dates are ISO (``2019-03-01``), Bulgarian ``01.03.2019`` (a trailing "г." is
  fine) or Excel dates (date cells, or day numbers such as ``43525``).
  Dates with slashes are rejected as ambiguous (day/month or month/day?).
* ``end_date`` empty means the placement is ongoing. An end before the start is
  rejected; an end on the start day is a same-day placement.
* ``birth_date`` or ``age_at_start`` (whole years, 0-20) must be given; with a
  birth date the age at start is computed from it (completed years) and a given
  ``age_at_start`` that differs from it by more than one year is rejected.
* ``exit_reason`` is one of ``reunified, adopted, foster, kinship, cnst, aged_out,
  other`` (Bulgarian labels accepted: "реинтеграция", "осиновяване",
  "навършване на пълнолетие", ...). An exit reason without an end date is
  rejected (a contradiction). An end date without an exit reason is **accepted**
  with the reason missing: rejecting it would drop a real episode from every
  count, while a missing reason only matters to analyses of exit reasons.
* Dates after ``as_of`` (default: today) are rejected — a start or end in the future.
* A row identical to an earlier one (after canonical coding) is a duplicate.
* Episodes of one child must not overlap. An episode is the half-open interval
  ``[start_date, end_date)``, so a transfer that ends one placement and starts the
  next on the same day is not an overlap. A later-starting episode that begins
  before an earlier episode of the same child has ended is rejected, naming the
  row it overlaps (ties on the start date: the later row is rejected).

Examples
--------
>>> import pandas as pd
>>> episodes = pd.DataFrame({
...     "child_id": ["a", "b"], "oblast": ["Пловдив", "BG411"],
...     "placement_type": ["приемна грижа", "institution"],
...     "start_date": ["01.03.2019", "2018-11-01"], "end_date": ["", "2019-02-01"],
...     "exit_reason": ["", "осиновяване"], "age_at_start": [4, 1]})
>>> result = validate_episodes(episodes, as_of="2025-12-31")
>>> result.n_valid
2
>>> series = episodes_to_series(result.valid, freq="YS", by=("placement_type",))
>>> print(series.to_string(index=False))
    period placement_type  entries  exits  in_care_end
2018-01-01         foster        0      0            0
2019-01-01         foster        1      0            1
2018-01-01    institution        1      0            1
2019-01-01    institution        0      1            0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from research_lib.errors import InputError
from research_lib.io.loader import (
    REJECTED_COLUMNS,
    LoadResult,
    as_written,
    empty_rejected,
    is_empty,
    oblast_problems,
    placement_and_oblast_problems,
    rejected_lines,
    with_row_index,
    with_value_labels,
)
from research_lib.io.oblasts import NATIONAL, load_oblasts, match_oblasts, resolve_scope
from research_lib.io.readers import read_table
from research_lib.io.vocab import PLACEMENT_ALIASES, PLACEMENT_TYPES, as_text, canonical_codes

__all__ = [
    "EPISODE_COLUMNS",
    "AGE_COLUMNS",
    "EXIT_REASONS",
    "EXIT_ALIASES",
    "AGE_BANDS",
    "CHILD_AGE_BAND",
    "POPULATION_AGE_BANDS",
    "COUNT_COLUMNS",
    "FREQUENCIES",
    "AGE_AT_START_RANGE",
    "parse_dates",
    "load_episodes",
    "validate_episodes",
    "entry_age_band",
    "episodes_to_series",
    "poisson_rate_ci",
    "load_population",
    "validate_population",
    "add_rates",
    "population_child_bands",
    "load_counts",
    "validate_counts",
    "PERIOD_MONTHS",
    "COUNT_SOURCE_COLUMNS",
    "STOCK_COLUMNS",
    "FLOW_COLUMNS",
    "yearly_stocks",
    "yearly_flows",
    "stock_totals",
    "count_oblasts",
]

#: Columns every episode file must have (``end_date`` and ``exit_reason`` may be empty).
EPISODE_COLUMNS: tuple[str, ...] = (
    "child_id",
    "oblast",
    "placement_type",
    "start_date",
    "end_date",
    "exit_reason",
)
#: An episode file needs at least one of these; each row needs a value in one of them.
AGE_COLUMNS: tuple[str, ...] = ("birth_date", "age_at_start")
#: Accepted ages at the start of a placement (whole years, inclusive).
AGE_AT_START_RANGE: tuple[int, int] = (0, 20)

#: Canonical exit reasons; ``foster``, ``kinship`` and ``cnst`` are transfers to that care.
EXIT_REASONS: tuple[str, ...] = (
    "reunified",
    "adopted",
    "foster",
    "kinship",
    "cnst",
    "aged_out",
    "other",
)
EXIT_ALIASES: dict[str, str] = {
    **{code: code for code in EXIT_REASONS},
    "reunification": "reunified",
    "reintegration": "reunified",
    "reintegrated": "reunified",
    "returned home": "reunified",
    "returned to family": "reunified",
    "реинтеграция": "reunified",
    "реинтегрирано": "reunified",
    "реинтегриран": "reunified",
    "реинтегрирана": "reunified",
    "върнато в семейството": "reunified",
    "върнат в семейството": "reunified",
    "върната в семейството": "reunified",
    "връщане в семейството": "reunified",
    "adoption": "adopted",
    "осиновяване": "adopted",
    "осиновено": "adopted",
    "осиновен": "adopted",
    "осиновена": "adopted",
    "foster care": "foster",
    "приемна грижа": "foster",
    "приемно семейство": "foster",
    "настаняване в приемно семейство": "foster",
    "kinship care": "kinship",
    "при близки и роднини": "kinship",
    "близки и роднини": "kinship",
    "роднини": "kinship",
    "настаняване при близки и роднини": "kinship",
    "цнст": "cnst",
    "център за настаняване от семеен тип": "cnst",
    "настаняване в цнст": "cnst",
    "aged out": "aged_out",
    "aged-out": "aged_out",
    "ageing out": "aged_out",
    "навършване на пълнолетие": "aged_out",
    "навършено пълнолетие": "aged_out",
    "пълнолетие": "aged_out",
    "друго": "other",
    "друга причина": "other",
    "other reason": "other",
}

#: Age bands at entry (completed years at ``start_date``); "18+" only occurs for
#: young people placed at 18-20 (e.g. in a ЦНСТ for young people).
AGE_BANDS: tuple[str, ...] = ("0-3", "4-6", "7-17", "18+")
_BAND_EDGES = (0, 4, 7, 18)
#: The band of all children (0-17), the denominator of rates without an age band.
CHILD_AGE_BAND = "0-17"
#: Age bands a population table may have: the three child bands and their total.
POPULATION_AGE_BANDS: tuple[str, ...] = ("0-3", "4-6", "7-17", CHILD_AGE_BAND)
#: Count columns of the series layout.
COUNT_COLUMNS: tuple[str, ...] = ("entries", "exits", "in_care_end")

#: Period frequencies: pandas start-anchored aliases and the pandas period code behind each.
FREQUENCIES: dict[str, str] = {"MS": "M", "QS": "Q", "YS": "Y"}
_FREQ_ALIASES = {
    "ms": "MS",
    "m": "MS",
    "month": "MS",
    "monthly": "MS",
    "qs": "QS",
    "qs-jan": "QS",
    "q": "QS",
    "quarter": "QS",
    "quarterly": "QS",
    "ys": "YS",
    "ys-jan": "YS",
    "as": "YS",
    "y": "YS",
    "a": "YS",
    "year": "YS",
    "yearly": "YS",
    "annual": "YS",
}

_DAY_NS = 86_400 * 10**9
_ONGOING = np.int64(10**9)  # "day number" of an episode with no end (far beyond any date)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EXCEL_SERIALS = (18_264, 73_050)  # Excel day numbers accepted: 1950-01-01 … 2099-12-31
_ISO_DATE = (
    r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_BG_DATE = r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})(?:\s*г\.?)?$"
_SERIAL_DATE = r"^\d{5}(?:\.0+)?$"
_SLASH_DATE = r"^\d{1,2}/\d{1,2}/\d{2,4}$"
_DATE_ADVICE = "write it as 2019-03-01 (ISO) or 01.03.2019"
_WHOLE_ROW = "*"


# ----------------------------------------------------------------------------- dates


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
    parts = {key: _numbers(iso[key].fillna(bg[key])) for key in ("y", "m", "d")}
    shaped = parts["y"].notna().to_numpy()
    calendar = pd.to_datetime(
        pd.DataFrame({"year": parts["y"], "month": parts["m"], "day": parts["d"]}),
        errors="coerce",
    )
    serial = distinct.str.fullmatch(_SERIAL_DATE).fillna(False).to_numpy(dtype=bool)
    days = _numbers(distinct.where(serial))
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


def _numbers(values: pd.Series) -> pd.Series:
    """Numbers of a text column as float64; what is not a number is NaN."""
    numbers = pd.to_numeric(values, errors="coerce")
    return pd.Series(numbers.to_numpy(dtype="float64", na_value=np.nan), index=values.index)


def _as_of(as_of: object) -> pd.Timestamp:
    """The cut-off date after which a date is 'in the future' (default: today)."""
    if as_of is None:
        return pd.Timestamp(dt.date.today())
    try:
        return pd.Timestamp(as_of).normalize()
    except (TypeError, ValueError) as exc:
        raise InputError(f"as_of={as_of!r} is not a date; give it as '2025-12-31'.") from exc


# ----------------------------------------------------------------------------- shared helpers


def _require_columns(data: pd.DataFrame, required: Sequence[str], name: str, what: str) -> None:
    missing = [c for c in required if c not in data.columns]
    if missing:
        have = ", ".join(map(str, data.columns[:20])) + (" …" if len(data.columns) > 20 else "")
        raise InputError(
            f"{name}: required column(s) missing: {', '.join(missing)}. The file has: {have}. "
            f"Add or rename them; every {what} needs {', '.join(required)}."
        )


def _match_scope(values: pd.Series) -> pd.Series:
    """Oblast names to NUTS-3 codes, or ``"all"`` for the whole country; unknown -> <NA>."""
    text = as_text(values)
    mapping: dict[str, str | None] = {}
    for value in text.dropna().unique():
        try:
            mapping[value] = resolve_scope(value)
        except InputError:
            mapping[value] = None
    return text.map(mapping).astype("string")


def _whole_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(numbers as float, given mask, is-not-a-whole-number mask) of a column."""
    given = ~is_empty(values)
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.astype("float64")
    else:
        numbers = _numbers(as_text(values))
    not_whole = given & ~(numbers.notna() & (numbers == np.round(numbers)))
    return numbers, given, not_whole


def _first_row_of(key: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(repeated mask, row of the first occurrence) for the rows of ``key``."""
    repeated = key.duplicated(keep="first")
    if not repeated.any():
        return repeated, pd.Series(index=key.index, dtype="int64")
    group = key.groupby(list(key.columns), dropna=False, sort=False, observed=True).ngroup()
    rows = pd.Series(key.index, index=key.index)
    return repeated, rows.groupby(group).transform("min")


def _assemble(
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


# ----------------------------------------------------------------------------- episodes


def load_episodes(path: str | Path, *, as_of: object = None) -> LoadResult:
    """Read an episode file and validate it (one row per placement episode).

    Parameters
    ----------
    path : str or Path
        CSV (UTF-8 or Windows-1251; comma, semicolon or tab), XLSX, SPSS ``.sav``
        or a KoboToolbox / ODK export, with the columns :data:`EPISODE_COLUMNS`
        and ``birth_date`` and/or ``age_at_start``.
    as_of : date-like, optional
        Dates after this day are "in the future" and rejected; default today.

    Returns
    -------
    LoadResult
        ``valid`` has ``child_id, oblast`` (NUTS-3), ``placement_type``
        (categorical, :data:`~research_lib.io.vocab.PLACEMENT_TYPES` order),
        ``start_date, end_date, birth_date`` (``datetime64``; NaT = ongoing / not
        given), ``age_at_start`` (completed years), ``exit_reason`` (categorical,
        :data:`EXIT_REASONS` order) and any other column as read.

    Raises
    ------
    InputError
        The file cannot be read or lacks a required column.

    Notes
    -----
    The rules are listed in the module docstring. Everything is vectorised; the
    30,000 demo episodes load in well under a second.

    Examples
    --------
    >>> from research_lib.paths import DEMO_DIR
    >>> result = load_episodes(DEMO_DIR / "episodes.csv")  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """
    raw = read_table(path, numeric_columns=("age_at_start",))
    return validate_episodes(
        raw.data,
        as_of=as_of,
        **raw.context,
    )


def validate_episodes(
    data: pd.DataFrame,
    *,
    as_of: object = None,
    malformed: pd.DataFrame | None = None,
    source: Path | None = None,
    format: str = "frame",
    metadata: pd.DataFrame | None = None,
    value_labels: Mapping[str, Mapping] | None = None,
) -> LoadResult:
    """Check a table of episodes already read into a DataFrame.

    ``data`` is indexed by spreadsheet row number (a plain RangeIndex is read as
    rows 2, 3, ... under a header). See :func:`load_episodes`.

    Examples
    --------
    >>> rows = pd.DataFrame({"child_id": ["a"], "oblast": ["Варна"], "placement_type": ["ЦНСТ"],
    ...     "start_date": ["2020-01-01"], "end_date": ["2019-01-01"], "exit_reason": ["other"],
    ...     "age_at_start": [12]})
    >>> validate_episodes(rows).rejected.problem.tolist()
    ['end_date is before start_date (2020-01-01)']
    """
    name = source.name if source is not None else "data"
    data = with_row_index(data)
    _require_columns(data, EPISODE_COLUMNS, name, "episode file")
    if not any(c in data.columns for c in AGE_COLUMNS):
        raise InputError(
            f"{name}: neither birth_date nor age_at_start is a column. Add one of them "
            "(birth_date as 2012-05-31 or 31.05.2012, or age_at_start in whole years)."
        )
    labels = dict(value_labels or {})
    canon, problems = _episode_checks(data, labels, _as_of(as_of))
    return _assemble(
        data,
        canon,
        problems,
        malformed=malformed,
        source=source,
        format=format,
        metadata=metadata,
        value_labels=labels,
    )


def _episode_checks(
    data: pd.DataFrame, labels: Mapping[str, Mapping], as_of: pd.Timestamp
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Canonical episode columns and every problem found."""
    canon, parse_problems = _canonical_episodes(data, labels)
    problems = [*_coded_problems(data, canon), *parse_problems]
    problems += list(_age_problems(data, canon))
    problems += list(_consistency_problems(data, canon, as_of))
    duplicate, dup_problem = _duplicate_episodes(data, canon)
    problems.append(dup_problem)
    problems.append(_overlap_problems(data, canon, duplicate))
    return canon, problems


def _canonical_episodes(
    data: pd.DataFrame, labels: Mapping[str, Mapping]
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Canonical columns; date cells that are not dates give problems here."""
    index = data.index
    placement = canonical_codes(
        with_value_labels(data["placement_type"], labels.get("placement_type")), PLACEMENT_ALIASES
    )
    exit_reason = canonical_codes(
        with_value_labels(data["exit_reason"], labels.get("exit_reason")), EXIT_ALIASES
    )
    dates, problems = _episode_dates(data)
    canon = pd.DataFrame(
        {
            "child_id": as_text(data["child_id"]),
            "oblast": match_oblasts(
                as_text(with_value_labels(data["oblast"], labels.get("oblast")))
            ),
            "placement_type": pd.Categorical(placement, categories=PLACEMENT_TYPES),
            "start_date": dates["start_date"],
            "end_date": dates["end_date"],
            "birth_date": dates["birth_date"],
            "age_at_start": _age_at_start(data, dates["start_date"], dates["birth_date"]),
            "exit_reason": pd.Categorical(exit_reason, categories=EXIT_REASONS),
        },
        index=index,
    )
    return canon, problems


def _episode_dates(data: pd.DataFrame) -> tuple[dict[str, pd.Series], list[pd.DataFrame]]:
    """start_date, end_date, birth_date parsed in one pass (they share many values)."""
    columns = [c for c in ("start_date", "end_date", "birth_date") if c in data.columns]
    stacked = pd.concat([_date_text(data[c]) for c in columns], ignore_index=True)
    parsed, problem = parse_dates(stacked)
    dates: dict[str, pd.Series] = {}
    problems = []
    for i, column in enumerate(columns):
        part = slice(i * len(data), (i + 1) * len(data))
        dates[column] = pd.Series(parsed.to_numpy()[part], index=data.index)
        why = pd.Series(problem.to_numpy()[part], index=data.index, dtype="string")
        problems.append(rejected_lines(why.notna(), column, data[column], why))
    for column in ("start_date", "end_date", "birth_date"):
        dates.setdefault(column, pd.Series(pd.NaT, index=data.index, dtype="datetime64[ns]"))
    return dates, problems


def _date_text(values: pd.Series) -> pd.Series:
    """A date column as text (SPSS numbers written as a person would)."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return as_text(pd.Series([as_written(v) for v in values], index=values.index, dtype=object))
    return as_text(values)


def _completed_years(birth: pd.Series, on: pd.Series) -> pd.Series:
    """Age in completed years on a date (birthday not yet reached -> one year less)."""
    before = (on.dt.month < birth.dt.month) | (
        (on.dt.month == birth.dt.month) & (on.dt.day < birth.dt.day)
    )
    return (on.dt.year - birth.dt.year - before.astype("float64")).astype("float64")


def _given_age(data: pd.DataFrame) -> pd.Series:
    if "age_at_start" not in data.columns:
        return pd.Series(np.nan, index=data.index)
    return _whole_numbers(data["age_at_start"])[0]


def _age_at_start(data: pd.DataFrame, start: pd.Series, birth: pd.Series) -> pd.Series:
    """Completed years at the start: from the birth date when given, else as written."""
    return _completed_years(birth, start).where(birth.notna(), _given_age(data))


def _coded_problems(data: pd.DataFrame, canon: pd.DataFrame) -> Iterable[pd.DataFrame]:
    """Empty and unknown codes: child_id, placement_type, oblast, exit_reason, start_date."""
    empty = {c: is_empty(data[c]) for c in EPISODE_COLUMNS}
    yield rejected_lines(
        empty["child_id"],
        "child_id",
        data["child_id"],
        "child_id is empty; every episode needs the child's id",
    )
    yield from placement_and_oblast_problems(data, canon, empty)
    yield rejected_lines(
        ~empty["exit_reason"] & canon["exit_reason"].isna(),
        "exit_reason",
        data["exit_reason"],
        f"unknown exit reason; use one of {', '.join(EXIT_REASONS)} or a Bulgarian label "
        "(реинтеграция, осиновяване, навършване на пълнолетие, приемна грижа, ЦНСТ, друго)",
    )
    yield rejected_lines(
        empty["start_date"],
        "start_date",
        data["start_date"],
        "start_date is empty; every episode needs the day it started",
    )


def _age_problems(data: pd.DataFrame, canon: pd.DataFrame) -> Iterable[pd.DataFrame]:
    """birth_date / age_at_start: one given, plausible, and consistent with each other."""
    low, high = AGE_AT_START_RANGE
    has_birth = "birth_date" in data.columns
    has_age = "age_at_start" in data.columns
    birth_given = ~is_empty(data["birth_date"]) if has_birth else pd.Series(False, index=data.index)
    age_given = ~is_empty(data["age_at_start"]) if has_age else pd.Series(False, index=data.index)
    column = "birth_date" if has_birth else "age_at_start"
    yield rejected_lines(
        ~birth_given & ~age_given,
        column,
        data[column],
        "neither birth_date nor age_at_start is given; give one of them",
    )
    if has_age:
        raw = data["age_at_start"]
        numbers, _, not_whole = _whole_numbers(raw)
        yield rejected_lines(
            not_whole,
            "age_at_start",
            raw,
            "age_at_start is not a whole number; write the age in completed years",
        )
        yield rejected_lines(
            ~not_whole & numbers.notna() & ~numbers.between(low, high),
            "age_at_start",
            raw,
            f"age_at_start is outside {low}-{high}",
        )
    if not has_birth:
        return
    birth, start = canon["birth_date"], canon["start_date"]
    computed = _completed_years(birth, start)
    yield rejected_lines(
        birth > start,
        "birth_date",
        data["birth_date"],
        "birth_date is after start_date; check both dates",
    )
    yield rejected_lines(
        (birth <= start) & (computed > high),
        "birth_date",
        data["birth_date"],
        "the child was "
        + computed.astype("Int64").astype(str)
        + f" at start_date, older than {high}; check the dates",
    )
    if has_age:
        given = _given_age(data)
        differs = birth.notna() & start.notna() & given.notna() & ((given - computed).abs() > 1)
        yield rejected_lines(
            differs,
            "age_at_start",
            data["age_at_start"],
            "age_at_start disagrees with birth_date (age "
            + computed.astype("Int64").astype(str)
            + " at start_date); correct one of them or leave age_at_start empty",
        )


def _consistency_problems(
    data: pd.DataFrame, canon: pd.DataFrame, as_of: pd.Timestamp
) -> Iterable[pd.DataFrame]:
    """Exit reason without an end; end before start; dates in the future."""
    start, end = canon["start_date"], canon["end_date"]
    end_empty = is_empty(data["end_date"])
    yield rejected_lines(
        ~is_empty(data["exit_reason"]) & end_empty,
        "exit_reason",
        data["exit_reason"],
        "exit_reason is given but end_date is empty; give the day the placement ended, "
        "or leave exit_reason empty while it goes on",
    )
    start_text = start.dt.strftime("%Y-%m-%d")
    yield rejected_lines(
        end < start,
        "end_date",
        data["end_date"],
        "end_date is before start_date (" + start_text + ")",
    )
    day = as_of.strftime("%Y-%m-%d")
    yield rejected_lines(
        start > as_of,
        "start_date",
        data["start_date"],
        f"start_date is in the future (after {day})",
    )
    yield rejected_lines(
        end > as_of,
        "end_date",
        data["end_date"],
        f"end_date is in the future (after {day}); leave it empty while the placement goes on",
    )


def _duplicate_episodes(data: pd.DataFrame, canon: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Rows identical to an earlier row once coded (the first is kept)."""
    key = canon.assign(
        placement_type=canon["placement_type"].astype("string"),
        exit_reason=canon["exit_reason"].astype("string"),
        age_written=_given_age(data),
    )
    repeated, first = _first_row_of(key)
    problem = (
        "the same episode as row "
        + first.astype("Int64").astype(str)
        + " (a duplicate row); delete one of them"
    )
    return repeated, rejected_lines(repeated, _WHOLE_ROW, data["child_id"], problem)


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 as int64; NaT (ongoing) -> a day far in the future."""
    ns = dates.to_numpy(dtype="datetime64[ns]").view("int64")
    days = ns // _DAY_NS
    return np.where(dates.isna().to_numpy(), _ONGOING, days)


def _overlap_problems(
    data: pd.DataFrame, canon: pd.DataFrame, duplicate: pd.Series
) -> pd.DataFrame:
    """Episodes that start before an earlier-starting episode of the same child has ended.

    Compared with every earlier-starting episode of the child whose dates are usable
    (parsed, end not before start, not a duplicate row), whatever its other problems.
    """
    start, end = canon["start_date"], canon["end_date"]
    usable = (
        canon["child_id"].notna()
        & start.notna()
        & ~(end < start)
        & ~duplicate
        & ~(end.isna() & ~is_empty(data["end_date"]))  # an end that is not a date
    )
    if usable.sum() < 2:
        return empty_rejected()
    rows = canon.index[usable.to_numpy()]
    child_codes = pd.factorize(canon.loc[rows, "child_id"])[0]
    frame = pd.DataFrame(
        {
            "child": child_codes,
            "start": _day_numbers(start.loc[rows]),
            "end": _day_numbers(end.loc[rows]),
            "row": rows.to_numpy(),
        }
    ).sort_values(["child", "start", "row"], kind="stable")
    by_child = frame.groupby("child", sort=False)
    reach = by_child["end"].cummax()
    holder = frame["row"].where(frame["end"].eq(reach)).groupby(frame["child"]).ffill()
    previous_reach = reach.groupby(frame["child"]).shift()
    previous_holder = holder.groupby(frame["child"]).shift()
    overlaps = (frame["start"] < previous_reach).to_numpy()
    if not overlaps.any():
        return empty_rejected()
    hit = pd.Series(False, index=canon.index)
    other = pd.Series(pd.NA, index=canon.index, dtype="Int64")
    hit.loc[frame["row"].to_numpy()[overlaps]] = True
    other.loc[frame["row"].to_numpy()[overlaps]] = previous_holder.to_numpy()[overlaps].astype(
        "int64"
    )
    problem = (
        "overlaps the episode in row "
        + other.astype(str)
        + " of the same child; episodes of one child must not overlap (the later-starting one is rejected)"
    )
    return rejected_lines(hit, "start_date", data["start_date"], problem)


# ----------------------------------------------------------------------------- series


def entry_age_band(episodes: pd.DataFrame) -> pd.Series:
    """Age band at entry (``0-3, 4-6, 7-17, 18+``) from ``age_at_start``.

    Parameters
    ----------
    episodes : DataFrame
        Valid episodes with ``age_at_start`` in completed years.

    Returns
    -------
    Series
        Categorical with categories :data:`AGE_BANDS`, named ``age_band_at_entry``.

    Notes
    -----
    Bands are in completed years at ``start_date``: 0-3 (up to the day before the
    fourth birthday), 4-6, 7-17; ``18+`` (placements of young people aged 18-20)
    is a category that only appears in output when such episodes exist.

    Examples
    --------
    >>> entry_age_band(pd.DataFrame({"age_at_start": [0, 3, 4, 7, 17, 18]})).tolist()
    ['0-3', '0-3', '4-6', '7-17', '7-17', '18+']
    """
    if "age_at_start" not in episodes.columns:
        raise InputError(
            "episodes have no age_at_start column; load them with load_episodes, which "
            "computes it from birth_date."
        )
    age = pd.to_numeric(episodes["age_at_start"], errors="coerce").to_numpy(dtype="float64")
    codes = np.searchsorted(np.asarray(_BAND_EDGES[1:], dtype="float64"), age, side="right")
    codes = np.where(np.isnan(age) | (age < 0), -1, codes)
    band = pd.Categorical.from_codes(codes, categories=list(AGE_BANDS))
    return pd.Series(band, index=episodes.index, name="age_band_at_entry")


def _freq_code(freq: str) -> tuple[str, str]:
    """(canonical alias, pandas period code) of a frequency such as ``"MS"``."""
    alias = _FREQ_ALIASES.get(str(freq).strip().lower())
    if alias is None:
        raise InputError(
            f"freq={freq!r} is not supported; use 'MS' (months), 'QS' (quarters) or 'YS' (years)."
        )
    return alias, FREQUENCIES[alias]


def _ordinals(dates: pd.Series, code: str) -> np.ndarray:
    """Period ordinals of dates (NaT -> pandas' NaT ordinal, the smallest int64)."""
    return dates.dt.to_period(code).array.asi8


def _frame_of(episodes: pd.DataFrame | LoadResult) -> pd.DataFrame:
    frame = episodes.valid if isinstance(episodes, LoadResult) else episodes
    missing = [c for c in ("start_date", "end_date") if c not in frame.columns]
    if missing:
        raise InputError(
            f"episodes lack {', '.join(missing)}; pass LoadResult.valid of load_episodes."
        )
    return frame


def _by_columns(frame: pd.DataFrame, by: Sequence[str] | str | None) -> tuple[str, ...]:
    by = (by,) if isinstance(by, str) else tuple(by or ())
    available = [*frame.columns, "age_band_at_entry"]
    for column in by:
        if column not in available:
            raise InputError(
                f"by={column!r} is not a column of the episodes; use oblast, placement_type, "
                f"age_band_at_entry or another column ({', '.join(map(str, frame.columns))})."
            )
    if len(set(by)) != len(by):
        raise InputError(f"by={by!r} names a column twice.")
    return by


def _levels(values: pd.Series) -> tuple[list, np.ndarray]:
    """Levels present in a by-column (category order for categoricals) and each row's code."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        levels = [c for c in values.cat.categories if c in present]
    else:
        levels = sorted(values.dropna().unique())
    codes = pd.Categorical(values, categories=levels).codes.astype("int64")
    return levels, codes


def episodes_to_series(
    episodes: pd.DataFrame | LoadResult,
    freq: str = "YS",
    by: Sequence[str] | str | None = ("oblast", "placement_type"),
    start: object = None,
    end: object = None,
) -> pd.DataFrame:
    """Count entries, exits and children in care at the end of each period.

    Parameters
    ----------
    episodes : DataFrame or LoadResult
        Valid episodes (``LoadResult.valid`` of :func:`load_episodes`).
    freq : {"MS", "QS", "YS"}, default "YS"
        Months, quarters or calendar years; a period is labelled by its first day.
    by : sequence of str, default ("oblast", "placement_type")
        Grouping columns: any episode column without missing values, and
        ``age_band_at_entry`` (see :func:`entry_age_band`). ``()`` gives national totals.
    start, end : date-like, optional
        First and last period (the periods containing these days). By default
        from the first start date to the last start or end date in the data.

    Returns
    -------
    DataFrame
        Columns ``period``, the ``by`` columns, ``entries`` (episodes starting in
        the period), ``exits`` (episodes ending in the period) and ``in_care_end``
        (episodes started on or before the period's last day and not ended by
        then: no end date, or an end date after the period's last day). One row
        per period and combination of the levels present in each ``by`` column,
        zeros filled; sorted by the ``by`` columns, then period.

    Raises
    ------
    InputError
        Unknown ``freq`` or ``by`` column, or a ``by`` column with missing values.

    Notes
    -----
    An episode ending on a period's last day is an exit of that period and not
    in care at its end (episodes are ``[start, end)``). Episodes that started
    before ``start`` count in ``in_care_end`` while they last; entries and exits
    outside the window are not counted. The grid is the product of the levels
    present in each ``by`` column, so a placement type absent from an oblast gets
    zero rows: episode data are a register, and zero is what it says.
    ``in_care_end`` = cumulative entries - cumulative exits, so the identity
    ``in_care_end[t] = in_care_end[t-1] + entries[t] - exits[t]`` holds exactly.

    Examples
    --------
    >>> episodes = pd.DataFrame({
    ...     "start_date": pd.to_datetime(["2019-03-10", "2019-12-31"]),
    ...     "end_date": pd.to_datetime(["2020-06-30", None]),
    ...     "placement_type": ["foster", "cnst"]})
    >>> episodes_to_series(episodes, by=()).to_dict("list")["in_care_end"]
    [2, 1]
    """
    frame = _frame_of(episodes)
    if frame["start_date"].isna().any():
        raise InputError(
            "some episodes have no start_date; pass LoadResult.valid of load_episodes."
        )
    by = _by_columns(frame, by)
    alias, code = _freq_code(freq)
    if "age_band_at_entry" in by and "age_band_at_entry" not in frame.columns:
        frame = frame.assign(age_band_at_entry=entry_age_band(frame))
    for column in by:
        if frame[column].isna().any():
            raise InputError(
                f"by column {column!r} has {int(frame[column].isna().sum())} missing values; "
                "group by a column that every episode has (or fill it first)."
            )
    start_ord = _ordinals(frame["start_date"], code)
    end_ord = _ordinals(frame["end_date"], code)
    ended = frame["end_date"].notna().to_numpy()
    lo, hi = _window(start_ord, end_ord, ended, start, end, code)
    if lo is None:
        return _empty_series(by, alias)
    first = min(lo, int(start_ord.min())) if len(start_ord) else lo
    n_periods = hi - first + 1

    levels, codes = zip(*(_levels(frame[c]) for c in by), strict=True) if by else ((), ())
    sizes = tuple(len(level) for level in levels)
    group = np.ravel_multi_index(codes, sizes) if by else np.zeros(len(frame), dtype="int64")
    n_groups = int(np.prod(sizes)) if by else 1

    def tally(ordinal: np.ndarray, mask: np.ndarray) -> np.ndarray:
        keep = mask & (ordinal <= hi)
        cells = group[keep] * n_periods + (ordinal[keep] - first)
        return np.bincount(cells, minlength=n_groups * n_periods).reshape(n_groups, n_periods)

    entries = tally(start_ord, np.ones(len(frame), dtype=bool))
    exits = tally(end_ord, ended)
    in_care = np.cumsum(entries - exits, axis=1)
    window = slice(lo - first, n_periods)
    periods = pd.period_range(pd.Period(ordinal=lo, freq=code), periods=hi - lo + 1)
    return _series_frame(
        periods.to_timestamp(how="start"),
        by,
        levels,
        frame,
        {
            "entries": entries[:, window],
            "exits": exits[:, window],
            "in_care_end": in_care[:, window],
        },
        alias,
    )


def _window(
    start_ord: np.ndarray,
    end_ord: np.ndarray,
    ended: np.ndarray,
    start: object,
    end: object,
    code: str,
) -> tuple[int | None, int]:
    """First and last period ordinal of the output."""
    if start is not None:
        lo = int(pd.Period(pd.Timestamp(start), freq=code).ordinal)
    else:
        lo = int(start_ord.min()) if len(start_ord) else None
    if end is not None:
        hi = int(pd.Period(pd.Timestamp(end), freq=code).ordinal)
    else:
        last = [int(start_ord.max())] if len(start_ord) else []
        last += [int(end_ord[ended].max())] if ended.any() else []
        hi = max(last) if last else None
    if lo is None or hi is None:
        return None, 0
    if hi < lo:
        raise InputError(f"end ({end}) is before start ({start}); give end on or after start.")
    return lo, hi


def _empty_series(by: tuple[str, ...], alias: str) -> pd.DataFrame:
    columns = {"period": pd.Series(dtype="datetime64[ns]")}
    columns.update({c: pd.Series(dtype=object) for c in by})
    columns.update({c: pd.Series(dtype="int64") for c in COUNT_COLUMNS})
    series = pd.DataFrame(columns)
    series.attrs["freq"] = alias
    return series


def _series_frame(
    periods: pd.DatetimeIndex,
    by: tuple[str, ...],
    levels: Sequence[list],
    frame: pd.DataFrame,
    counts: Mapping[str, np.ndarray],
    alias: str,
) -> pd.DataFrame:
    """Tidy frame: every combination of levels x every period."""
    n_periods = len(periods)
    shape = (*(len(level) for level in levels), n_periods)
    grid = np.unravel_index(np.arange(int(np.prod(shape))), shape)  # by-levels, then period
    columns: dict[str, object] = {}
    if by:
        columns["period"] = periods[grid[-1]]
        for i, column in enumerate(by):
            dtype = frame[column].dtype
            if isinstance(dtype, pd.CategoricalDtype):  # the levels present, in category order
                columns[column] = pd.Categorical.from_codes(grid[i], categories=levels[i])
            else:
                values = np.asarray(levels[i], dtype=object)[grid[i]]
                columns[column] = pd.array(values, dtype=dtype)
    else:
        columns["period"] = periods
    for name, matrix in counts.items():
        columns[name] = matrix.reshape(-1).astype("int64")
    series = pd.DataFrame(columns)
    series.attrs["freq"] = alias
    return series


# ----------------------------------------------------------------------------- rates


def poisson_rate_ci(
    count: object, population: object, per: float = 100_000, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate per ``per`` population with an exact Poisson (Garwood) confidence interval.

    Parameters
    ----------
    count : array-like
        Event counts (non-negative; NaN gives NaN).
    population : array-like
        Denominators (positive; NaN or <= 0 gives NaN: no rate without a denominator).
    per : float, default 100_000
        Rates per this many children.
    confidence : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    rate, low, high : ndarray
        Broadcast to a common shape; 0-d arrays for scalar inputs.

    Notes
    -----
    Garwood (1936): for ``k`` events the limits of the Poisson mean are
    ``chi2.ppf(a/2, 2k) / 2`` (0 when ``k = 0``) and ``chi2.ppf(1 - a/2, 2k + 2) / 2``
    with ``a = 1 - confidence``; the rate limits are these divided by the
    population, times ``per``. The population is treated as known exactly.

    Examples
    --------
    >>> rate, low, high = poisson_rate_ci(10, 100_000)
    >>> round(float(rate), 1), round(float(low), 3), round(float(high), 2)
    (10.0, 4.795, 18.39)
    """
    if not 0 < confidence < 1:
        raise InputError(f"confidence={confidence!r} must be between 0 and 1, e.g. 0.95.")
    k, n = np.broadcast_arrays(
        np.asarray(count, dtype="float64"), np.asarray(population, dtype="float64")
    )
    n = np.where(n > 0, n, np.nan)
    k = np.where(k >= 0, k, np.nan)
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
        high = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    low = np.where(np.isnan(k), np.nan, low)
    scale = per / n
    return k * scale, low * scale, high * scale


def load_population(path: str | Path) -> LoadResult:
    """Read a child-population table (denominators) and validate it.

    Parameters
    ----------
    path : str or Path
        CSV or XLSX with ``oblast`` (code or name, or ``all`` / "България" for the
        country), ``year``, optional ``age_band`` (one of
        :data:`POPULATION_AGE_BANDS`; without the column every row is 0-17) and
        ``population`` (children, a positive whole number). Other columns (e.g.
        ``source_title, source_url``) are kept.

    Returns
    -------
    LoadResult
        ``valid`` has ``oblast, year, age_band, population`` and the other columns.

    Notes
    -----
    The library ships no population figures: give the National Statistical
    Institute's figures (population by oblast and single year of age, summed to
    the bands) for the years you need. ``year`` is the year a denominator applies
    to; which reference date that is (31 December, 1 January, mid-year) is your
    choice — say it in the table's source columns.

    Examples
    --------
    >>> result = load_population("data/raw/child_population.csv")  # doctest: +SKIP
    """
    raw = read_table(path, numeric_columns=("year", "population"))
    return validate_population(
        raw.data,
        **raw.context,
    )


def validate_population(
    data: pd.DataFrame,
    *,
    malformed: pd.DataFrame | None = None,
    source: Path | None = None,
    format: str = "frame",
    metadata: pd.DataFrame | None = None,
    value_labels: Mapping[str, Mapping] | None = None,
) -> LoadResult:
    """Check a population table already read into a DataFrame (see :func:`load_population`).

    With ``value_labels`` (an SPSS file), oblast codes are read through their labels.

    Examples
    --------
    >>> table = pd.DataFrame({"oblast": ["Видин", "Видин"], "year": [2020, 2020],
    ...                       "population": [12000, 12000]})
    >>> validate_population(table).rejected.problem.tolist()
    ['a second row for this oblast, year and age band (first in row 2); keep one']
    """
    name = source.name if source is not None else "data"
    data = with_row_index(data)
    _require_columns(data, ("oblast", "year", "population"), name, "population table")
    oblast = _match_scope(with_value_labels(data["oblast"], (value_labels or {}).get("oblast")))
    year, _, year_bad = _whole_numbers(data["year"])
    population, _, population_bad = _whole_numbers(data["population"])
    if "age_band" in data.columns:
        band = as_text(data["age_band"]).str.replace(r"\s+", "", regex=True)
        band = band.str.replace("–", "-", regex=False)
    else:
        band = pd.Series(CHILD_AGE_BAND, index=data.index, dtype="string")
    known_band = band.isin(POPULATION_AGE_BANDS) | band.map(_nsi_band_start).notna()
    canon = pd.DataFrame(
        {
            "oblast": oblast,
            "year": year.astype("Int64"),
            "age_band": band,
            "population": population.astype("Int64"),
        },
        index=data.index,
    )
    empty = {c: is_empty(data[c]) for c in ("oblast", "year", "population")}
    problems = [
        *oblast_problems(data, oblast, empty["oblast"], national=True),
        rejected_lines(empty["year"], "year", data["year"], "year is empty"),
        rejected_lines(year_bad, "year", data["year"], "year is not a whole number such as 2020"),
        rejected_lines(
            ~year_bad & ~year.between(1900, 2100) & year.notna(),
            "year",
            data["year"],
            "year is outside 1900-2100",
        ),
        rejected_lines(
            empty["population"], "population", data["population"], "population is empty"
        ),
        rejected_lines(
            population_bad | (~population_bad & (population <= 0)),
            "population",
            data["population"],
            "population must be a positive whole number (children)",
        ),
    ]
    if "age_band" in data.columns:
        problems.append(
            rejected_lines(
                ~known_band,
                "age_band",
                data["age_band"],
                f"unknown age band; use one of {', '.join(POPULATION_AGE_BANDS)} or the НСИ "
                "groups 0, 1-4, 5-9, 10-14, 15-19, 20-24, ...",
            )
        )
    repeated, first = _first_row_of(canon[["oblast", "year", "age_band"]])
    problems.append(
        rejected_lines(
            repeated & oblast.notna() & year.notna(),
            "oblast",
            data["oblast"],
            "a second row for this oblast, year and age band (first in row "
            + first.astype("Int64").astype(str)
            + "); keep one",
        )
    )
    result = _assemble(
        data,
        canon,
        problems,
        malformed=malformed,
        source=source,
        format=format,
        metadata=metadata,
        value_labels=value_labels,
    )
    valid = result.valid.astype({"year": "int64", "population": "int64"})
    return LoadResult(
        valid=valid,
        rejected=result.rejected,
        n_rows=result.n_rows,
        source=result.source,
        format=result.format,
        metadata=result.metadata,
    )


#: Child bands derived from НСИ five-year groups, as single-year age ranges (inclusive).
_CHILD_BAND_AGES: dict[str, tuple[int, int]] = {
    "0-3": (0, 3),
    "4-6": (4, 6),
    "7-17": (7, 17),
    CHILD_AGE_BAND: (0, 17),
}


def _nsi_band_start(band: object) -> float:
    """First age of an НСИ band (0, 1-4, 0-4, 5-9, ...); NaN for anything else."""
    if not isinstance(band, str):
        return np.nan
    if band == "0":
        return 0.0
    parts = band.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return np.nan
    low, high = int(parts[0]), int(parts[1])
    if (low, high) == (1, 4) or (low % 5 == 0 and high == low + 4):
        return float(low)
    return np.nan


def population_child_bands(population: pd.DataFrame | LoadResult) -> pd.DataFrame:
    """Child bands 0-3, 4-6, 7-17 and 0-17 from НСИ age groups, split by Sprague interpolation.

    Parameters
    ----------
    population : DataFrame or LoadResult
        :func:`load_population` output: rows in the child bands are kept as
        given; rows in the НСИ groups (``0``, ``1-4``, ``5-9``, ``10-14``,
        ``15-19``, ``20-24``, ... or ``0-4``) are split into single years.

    Returns
    -------
    DataFrame
        ``oblast, year, age_band, population, method`` (``given`` or
        ``sprague``) and the other columns of the given rows; child bands only.

    Notes
    -----
    For each oblast and year with consecutive groups from 0-4 (or 0 and 1-4) up
    to at least 20-24, :func:`research_lib.stats.demography.sprague_split` gives single
    years. Where ``0`` and ``1-4`` are published separately, age 0 is kept as
    published and ages 1-4 are scaled to the published 1-4 total. Each band is
    the sum of its single years, rounded to whole children: an interpolation,
    labelled ``sprague``, not a published figure. A band given directly wins
    over a derived one; where the groups are incomplete nothing is derived.

    Examples
    --------
    >>> groups = {"0": 50, "1-4": 210, "5-9": 270, "10-14": 260, "15-19": 250, "20-24": 240}
    >>> table = pd.DataFrame({"oblast": "all", "year": 2023, "age_band": list(groups),
    ...                       "population": list(groups.values())})
    >>> bands = population_child_bands(table).set_index("age_band")["population"]
    >>> int(bands["0-3"]), int(bands["0-17"])
    (206, 941)
    """
    from research_lib.stats.demography import sprague_split

    frame = population.valid if isinstance(population, LoadResult) else population
    frame = frame.copy()
    frame["age_band"] = frame["age_band"].astype(str)
    given = frame[frame["age_band"].isin(POPULATION_AGE_BANDS)].assign(method="given")
    nsi = frame[frame["age_band"].map(_nsi_band_start).notna()]
    derived = []
    for (oblast, year), sub in nsi.groupby(["oblast", "year"], sort=True):
        counts = dict(zip(sub["age_band"], sub["population"].astype(float), strict=True))
        split_infant = "0" in counts and "1-4" in counts
        first = counts["0"] + counts["1-4"] if split_infant else counts.get("0-4")
        if first is None:
            continue
        groups = [first]
        while f"{5 * len(groups)}-{5 * len(groups) + 4}" in counts:
            groups.append(counts[f"{5 * len(groups)}-{5 * len(groups) + 4}"])
        if len(groups) < 5:
            continue
        single = sprague_split(groups)
        if split_infant:
            single[0] = counts["0"]
            single[1:5] *= counts["1-4"] / single[1:5].sum()
        for band, (low, high) in _CHILD_BAND_AGES.items():
            derived.append(
                {
                    "oblast": oblast,
                    "year": int(year),
                    "age_band": band,
                    "population": int(round(single[low : high + 1].sum())),
                    "method": "sprague",
                }
            )
    out = pd.concat([given, pd.DataFrame(derived)], ignore_index=True)
    if out.empty:
        return out.assign(method=pd.Series(dtype=str))
    out = out.drop_duplicates(["oblast", "year", "age_band"], keep="first")
    return out.astype({"year": "int64", "population": "int64"}).reset_index(drop=True)


def _population_table(population: pd.DataFrame | LoadResult | None) -> pd.DataFrame:
    """Denominators by (oblast, year, age_band), with national and 0-17 totals added.

    Totals are sums of complete sets only: the country is the sum of all 28
    oblasts (when no ``all`` row is given), 0-17 the sum of 0-3, 4-6 and 7-17
    (when no 0-17 row is given). Anything else stays missing.
    """
    if population is None:
        raise InputError(
            "rates need a child-population table: pass population= (oblast, year, [age_band], "
            "population), e.g. LoadResult.valid of load_population. The library ships no "
            "population figures and never estimates them."
        )
    if isinstance(population, LoadResult):
        population = population.valid
    checked = validate_population(population.reset_index(drop=True))
    if len(checked.rejected):
        raise InputError(
            "the population table has problems:\n"
            + checked.summary()
            + "\nCorrect them (or load the table with load_population and pass .valid)."
        )
    table = population_child_bands(checked.valid)[
        ["oblast", "year", "age_band", "population"]
    ].astype({"oblast": str, "age_band": str})
    table = _add_total(
        table,
        by=["oblast", "year"],
        part="age_band",
        members=POPULATION_AGE_BANDS[:3],
        total=CHILD_AGE_BAND,
    )
    oblasts = tuple(load_oblasts().index)
    table = _add_total(
        table, by=["age_band", "year"], part="oblast", members=oblasts, total=NATIONAL
    )
    return table.set_index(["oblast", "year", "age_band"])["population"]


def _add_total(
    table: pd.DataFrame, by: list[str], part: str, members: Sequence[str], total: str
) -> pd.DataFrame:
    """Append ``part = total`` rows summing complete sets of ``members`` where none is given."""
    parts = table[table[part].isin(members)]
    if parts.empty:
        return table
    sums = parts.groupby(by)[["population"]].agg(["sum", "count"])
    sums.columns = ["population", "n"]
    complete = sums[sums["n"] == len(set(members))].drop(columns="n").reset_index()
    complete[part] = total
    given = table.loc[table[part] == total, by]
    merged = complete.merge(given, on=by, how="left", indicator=True)
    new = merged.loc[merged["_merge"] == "left_only", [*by, part, "population"]]
    return pd.concat([table, new[table.columns]], ignore_index=True)


def add_rates(
    series: pd.DataFrame,
    population: pd.DataFrame | LoadResult | None,
    per: float = 100_000,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Add rates per ``per`` children with exact Poisson confidence intervals.

    Parameters
    ----------
    series : DataFrame
        Output of :func:`episodes_to_series` or ``LoadResult.valid`` of :func:`load_counts`.
    population : DataFrame or LoadResult
        ``oblast, year, [age_band], population`` (see :func:`load_population`).
    per : float, default 100_000
        The TransMonEE convention: rates per 100,000 children aged 0-17.
    confidence : float, default 0.95
        Level of the Garwood interval (:func:`poisson_rate_ci`).

    Returns
    -------
    DataFrame
        ``series`` with ``population`` and, for each count column present,
        ``<count>_rate``, ``<count>_rate_low``, ``<count>_rate_high``.

    Raises
    ------
    InputError
        ``population`` is None or has invalid rows.

    Notes
    -----
    The denominator of a row is the population of its oblast (``all`` or no
    ``oblast`` column: the country), of the period's calendar year and of its age
    band (no band column: 0-17). Where the table has no such figure — a year or
    oblast not given, the band 18+ — the rate is NaN, never estimated. National
    and 0-17 figures are sums of complete sets of given figures only.

    With ``age_band_at_entry`` (episodes) only ``entries`` get age-specific
    rates: children in care at a period's end or leaving care are no longer of
    the age they entered at, so there is no matching denominator and those rates
    are NaN. With ``age_band`` (published counts, the age as published) every
    count column gets a rate. A monthly series gives rates per month.

    Examples
    --------
    >>> series = pd.DataFrame({"period": pd.to_datetime(["2020-01-01"]), "oblast": ["BG311"],
    ...                        "entries": [10]})
    >>> population = pd.DataFrame({"oblast": ["BG311"], "year": [2020], "population": [100_000]})
    >>> add_rates(series, population)[["entries_rate", "entries_rate_low"]].round(3).values.tolist()
    [[10.0, 4.795]]
    """
    table = _population_table(population)
    if "period" not in series.columns:
        raise InputError(
            "series has no period column; pass the output of episodes_to_series or load_counts."
        )
    band_column = next((c for c in ("age_band", "age_band_at_entry") if c in series.columns), None)
    oblast = series["oblast"].astype(str) if "oblast" in series.columns else NATIONAL
    band = series[band_column].astype(str) if band_column else CHILD_AGE_BAND
    keys = pd.DataFrame(
        {"oblast": oblast, "year": pd.to_datetime(series["period"]).dt.year, "age_band": band},
        index=series.index,
    )
    denominator = table.reindex(pd.MultiIndex.from_frame(keys)).to_numpy(dtype="float64")
    out = series.copy()
    out["population"] = denominator
    for column in COUNT_COLUMNS:
        if column not in series.columns:
            continue
        base = denominator
        if band_column == "age_band_at_entry" and column != "entries":
            base = np.full(len(series), np.nan)
        counts = pd.to_numeric(series[column], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
        rate, low, high = poisson_rate_ci(counts, base, per=per, confidence=confidence)
        out[f"{column}_rate"] = rate
        out[f"{column}_rate_low"] = low
        out[f"{column}_rate_high"] = high
    return out


# ----------------------------------------------------------------------------- published counts


_YEAR = r"^(?P<y>\d{4})$"
_YEAR_MONTH = r"^(?P<y>\d{4})-(?P<m>\d{1,2})$"
_MONTH_YEAR = r"^(?P<m>\d{1,2})[./](?P<y>\d{4})$"
_YEAR_QUARTER = r"^(?P<y>\d{4})\s*-?\s*[QqКк](?P<q>[1-4])$"
_QUARTER_YEAR = r"^[QqКк](?P<q>[1-4])\s*[-./]?\s*(?P<y>\d{4})$"
#: Months a period of each kind covers.
PERIOD_MONTHS: dict[str, int] = {"YS": 12, "QS": 3, "MS": 1}
#: Optional text columns of a counts file, kept as written (where each figure was read).
COUNT_SOURCE_COLUMNS: tuple[str, ...] = ("source", "source_url", "quote")


def _parse_periods(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(period start, "YS"/"QS"/"MS", problem) per row of a ``period`` column."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        values = pd.Series([as_written(v) for v in values], index=values.index, dtype=object)
    text = as_text(values)
    year = text.str.extract(_YEAR)["y"]
    ym = text.str.extract(_YEAR_MONTH)
    my = text.str.extract(_MONTH_YEAR)
    yq = text.str.extract(_YEAR_QUARTER)
    qy = text.str.extract(_QUARTER_YEAR)
    quarter = _numbers(yq["q"].fillna(qy["q"]))
    shaped = year.notna() | ym["y"].notna() | my["y"].notna() | quarter.notna()
    full, _ = parse_dates(text.where(~shaped))
    first_day = full.notna() & (full.dt.day == 1)
    y = _numbers(year.fillna(ym["y"]).fillna(my["y"]).fillna(yq["y"]).fillna(qy["y"]))
    m = _numbers(ym["m"].fillna(my["m"]))
    m = m.fillna(3 * quarter - 2)
    y = y.fillna(full.dt.year.where(first_day))
    m = m.fillna(full.dt.month.where(first_day))
    monthly = m.notna() & quarter.isna()
    valid_month = ~monthly | m.between(1, 12)
    start = pd.to_datetime(
        pd.DataFrame({"year": y, "month": m.fillna(1).where(valid_month), "day": 1}),
        errors="coerce",
    )
    start = start.where(y.between(1900, 2100))
    kinds = np.select([quarter.notna().to_numpy(), monthly.to_numpy()], ["QS", "MS"], "YS")
    kind = pd.Series(kinds, index=text.index).where(start.notna())
    problem = pd.Series(pd.NA, index=text.index, dtype="string")
    given = text.notna()
    problem = problem.mask(
        given & start.isna(),
        "not a period; write a year (2019), a quarter (2019-Q1) or a month (2019-03 or 03.2019)",
    )
    problem = problem.mask(
        given & full.notna() & ~first_day,
        "a date that is not the first of a month; write the month as 2019-03 or 03.2019 "
        "(the day a figure refers to goes in reference_date)",
    )
    return start, kind, problem


def _period_end(start: pd.Series, kind: pd.Series) -> pd.Series:
    """The last day of each period (NaT where the period is not known)."""
    months = kind.map(PERIOD_MONTHS)
    end = pd.Series(pd.NaT, index=start.index, dtype="datetime64[ns]")
    for n in (1, 3, 12):
        rows = (months == n) & start.notna()
        if rows.any():
            end[rows] = start[rows] + pd.DateOffset(months=n) - pd.Timedelta(days=1)
    return end


def load_counts(path: str | Path) -> LoadResult:
    """Read a table of published placement counts and validate it.

    Parameters
    ----------
    path : str or Path
        CSV or XLSX with ``period`` (a year such as 2019, a quarter: 2019-Q1, or
        a month: 2019-03, 03.2019, or a date on the first of the month),
        ``oblast`` (code or name, or ``all`` / "България" for the whole
        country), ``placement_type``, at least one of ``entries, exits,
        in_care_end`` and optionally ``age_band``, ``reference_date`` (the day a
        stock refers to, e.g. 31.10.2023) and ``source``, ``source_url``,
        ``quote`` (where the figure was read, kept as written).

    Returns
    -------
    LoadResult
        ``valid`` in the layout of :func:`episodes_to_series`: ``period``
        (first day), ``period_kind`` (``YS``, ``QS`` or ``MS``), ``period_end``
        (last day), ``reference_date`` (the day of the stock: as given, else the
        period's last day), ``date_stated`` (whether the row gave that day), ``oblast``, ``placement_type`` (categorical),
        ``age_band`` when given, the count columns present (nullable integers; an
        empty cell is a count not published, kept missing) and the source
        columns. ``valid.attrs["freq"]`` is the most common period kind.

    Raises
    ------
    InputError
        The file cannot be read, lacks ``period``, ``oblast`` or
        ``placement_type``, or has none of the count columns.

    Notes
    -----
    Rejected rows: an empty or unknown period, oblast, placement type or age band
    (:data:`AGE_BANDS` or 0-17); a reference date that is not a date or lies
    outside its period; a count that is not a non-negative whole number; a row
    with no count at all; a second row for the same period, reference date,
    oblast, placement type, age band and source (two sources for one figure are
    both kept: a disagreement is shown, never merged).

    Years, quarters and months may be mixed: the yearly views
    (:func:`yearly_stocks`, :func:`yearly_flows`) never add stocks, and add
    flows of shorter periods only when no yearly figure of the same source is
    given. National (``all``) and oblast rows may both be present; nothing checks
    that oblasts add up to the national figure.

    Examples
    --------
    >>> result = load_counts("data/public/national_counts.csv")  # doctest: +SKIP
    """
    raw = read_table(path, numeric_columns=COUNT_COLUMNS)
    return validate_counts(
        raw.data,
        **raw.context,
    )


def validate_counts(
    data: pd.DataFrame,
    *,
    malformed: pd.DataFrame | None = None,
    source: Path | None = None,
    format: str = "frame",
    metadata: pd.DataFrame | None = None,
    value_labels: Mapping[str, Mapping] | None = None,
) -> LoadResult:
    """Check a table of published counts already read into a DataFrame (see :func:`load_counts`).

    Examples
    --------
    >>> table = pd.DataFrame({"period": ["2019", "2019"], "oblast": ["България", "Видин"],
    ...     "placement_type": ["институция", "institution"], "entries": [812, 30]})
    >>> validate_counts(table).valid[["oblast", "entries"]].values.tolist()
    [['all', 812], ['BG311', 30]]
    """
    name = source.name if source is not None else "data"
    data = with_row_index(data)
    _require_columns(data, ("period", "oblast", "placement_type"), name, "table of counts")
    present = [c for c in COUNT_COLUMNS if c in data.columns]
    if not present:
        raise InputError(
            f"{name}: none of the count columns {', '.join(COUNT_COLUMNS)} is present. "
            "Name the columns with counts entries (children entering care), exits (leaving) "
            "or in_care_end (in care at the end of the period, or on reference_date)."
        )
    labels = dict(value_labels or {})
    period, kind, period_problem = _parse_periods(data["period"])
    freq = kind.mode().iloc[0] if kind.notna().any() else "YS"
    period_end = _period_end(period, kind)
    placement = canonical_codes(
        with_value_labels(data["placement_type"], labels.get("placement_type")), PLACEMENT_ALIASES
    )
    canon = pd.DataFrame(
        {
            "period": period,
            "period_kind": kind.astype("string"),
            "period_end": period_end,
            "reference_date": period_end,
            "oblast": _match_scope(with_value_labels(data["oblast"], labels.get("oblast"))),
            "placement_type": pd.Categorical(placement, categories=PLACEMENT_TYPES),
        },
        index=data.index,
    )
    problems = list(_count_key_problems(data, canon, period_problem))
    canon["date_stated"] = False
    if "reference_date" in data.columns:
        given = ~is_empty(data["reference_date"])
        dates, date_problem = parse_dates(data["reference_date"])
        problems.append(
            rejected_lines(
                given & date_problem.notna(),
                "reference_date",
                data["reference_date"],
                "reference_date: " + date_problem.fillna(""),
            )
        )
        outside = dates.notna() & period.notna() & ((dates < period) | (dates > period_end))
        problems.append(
            rejected_lines(
                outside,
                "reference_date",
                data["reference_date"],
                "the reference date lies outside the row's period; check the period or the date",
            )
        )
        canon["reference_date"] = dates.where(dates.notna(), period_end)
        canon["date_stated"] = dates.notna()
    if "age_band" in data.columns:
        band = as_text(data["age_band"]).str.replace(r"\s+", "", regex=True).str.replace("–", "-")
        accepted = (*AGE_BANDS, CHILD_AGE_BAND)
        canon["age_band"] = pd.Categorical(
            band.where(band.isin(accepted)), categories=list(accepted)
        )
        problems.append(
            rejected_lines(
                ~band.isin(accepted),
                "age_band",
                data["age_band"],
                f"unknown or empty age band; use one of {', '.join(accepted)}",
            )
        )
    for column in COUNT_SOURCE_COLUMNS:
        if column in data.columns:
            canon[column] = as_text(data[column]).astype("string")
    numbers = {}
    for column in present:
        numbers[column], count_problem = _count_column(data[column], column)
        problems.append(count_problem)
    none_given = np.logical_and.reduce([is_empty(data[c]).to_numpy() for c in present])
    problems.append(
        rejected_lines(
            pd.Series(none_given, index=data.index),
            present[0],
            data[present[0]],
            f"no count given; fill at least one of {', '.join(present)}",
        )
    )
    key_columns = ["period", "period_kind", "reference_date", "oblast", "placement_type"]
    key_columns += [c for c in ("age_band", "source") if c in canon]
    key = canon[key_columns].astype({"placement_type": "string"})
    complete_key = key.drop(columns=["source"], errors="ignore").notna().all(axis=1)
    repeated = pd.Series(False, index=data.index)
    first = pd.Series(np.nan, index=data.index)
    for column in present:  # a stock and a flow of one period may share a row or not
        given = numbers[column].notna() & complete_key
        again, first_row = _first_row_of(key[given])
        repeated[again.index[again.to_numpy()]] = True
        first = first.fillna(first_row.where(again).reindex(data.index))
    problems.append(
        rejected_lines(
            repeated,
            _WHOLE_ROW,
            data["period"],
            "a second figure for the same period, reference date, oblast, placement type, "
            "age band and source (first in row "
            + first.astype("Int64").astype(str)
            + "); keep one",
        )
    )
    for column in present:
        canon[column] = numbers[column].astype("Int64")
    first = ["period", "oblast", "placement_type", *[c for c in ("age_band",) if c in canon]]
    canon = canon[[*first, *present, *[c for c in canon.columns if c not in (*first, *present)]]]
    result = _assemble(
        data,
        canon,
        problems,
        malformed=malformed,
        source=source,
        format=format,
        metadata=metadata,
        value_labels=labels,
    )
    result.valid.attrs["freq"] = freq
    return result


def _count_key_problems(
    data: pd.DataFrame, canon: pd.DataFrame, period_problem: pd.Series
) -> Iterable[pd.DataFrame]:
    empty = {c: is_empty(data[c]) for c in ("period", "oblast", "placement_type")}
    yield rejected_lines(
        empty["period"],
        "period",
        data["period"],
        "period is empty; write a year (2019), a quarter (2019-Q1) or a month (2019-03)",
    )
    yield rejected_lines(period_problem.notna(), "period", data["period"], period_problem)
    yield from placement_and_oblast_problems(data, canon, empty, national=True)


def _count_column(values: pd.Series, column: str) -> tuple[pd.Series, pd.DataFrame]:
    """A count column as float (NaN = not published) and its problems."""
    numbers, given, not_whole = _whole_numbers(values)
    bad = not_whole | (given & (numbers < 0))
    problem = rejected_lines(
        bad, column, values, f"{column} must be a whole number of children, 0 or more (or empty)"
    )
    return numbers.where(~bad), problem


# ----------------------------------------------------------------------------- counts by year


#: Stocks and flows of the series layout.
STOCK_COLUMNS: tuple[str, ...] = ("in_care_end",)
FLOW_COLUMNS: tuple[str, ...] = ("entries", "exits")


def _counts_frame(counts: pd.DataFrame | LoadResult) -> pd.DataFrame:
    frame = counts.valid if isinstance(counts, LoadResult) else counts
    frame = frame.copy()
    if "reference_date" not in frame:  # a series from episodes_to_series: the period's last day
        kind = frame.get("period_kind", pd.Series(frame.attrs.get("freq", "YS"), index=frame.index))
        frame["period_kind"] = kind
        frame["period_end"] = _period_end(pd.to_datetime(frame["period"]), kind)
        frame["reference_date"] = frame["period_end"]
    for column in ("oblast", "placement_type"):
        if column in frame:
            frame[column] = frame[column].astype(str)
    if "source" not in frame:
        frame["source"] = pd.NA
    if "date_stated" not in frame:  # a series or a table with its own dates: the dates are real
        frame["date_stated"] = True
    if "period_kind" not in frame:
        frame["period_kind"] = frame.attrs.get("freq", "YS")
    return frame


def _series_keys(frame: pd.DataFrame) -> list[str]:
    return [c for c in ("oblast", "placement_type", "age_band") if c in frame.columns]


def yearly_stocks(counts: pd.DataFrame | LoadResult, column: str = "in_care_end") -> pd.DataFrame:
    """Each year's stock: the figure at the reference date closest to the year's end.

    Parameters
    ----------
    counts : DataFrame or LoadResult
        :func:`load_counts` output (or its ``valid``).
    column : str, default "in_care_end"
        The stock column.

    Returns
    -------
    DataFrame
        One row per year and series (``oblast``, ``placement_type``, ``age_band``
        when given): ``year``, the keys, ``column`` (the figure exactly as
        published), ``reference_date`` (its real date), ``year_end`` (whether
        that date is 31 December), ``date_stated`` (the source gives the day;
        otherwise the date is the end of the published period and the report
        says the date was not stated), ``period`` and ``period_kind`` of the
        row, ``source``, ``source_url``, ``quote`` when the file has them, and
        ``other_sources`` (how many further figures of other sources carry the
        same date: a disagreement to show, never merged).

    Notes
    -----
    A figure belongs to the calendar year of its reference date. Among the
    figures of a year the latest date wins; at equal dates a figure whose
    source states the date, then the first row of the file. Stocks are never
    added up across months, quarters, sources or placement types.

    Examples
    --------
    >>> table = pd.DataFrame({"period": ["2019-07", "2019-08", "2019-09"], "oblast": "all",
    ...     "placement_type": "foster", "in_care_end": [1899, 1901, 1893]})
    >>> stocks = yearly_stocks(validate_counts(table))
    >>> stocks[["year", "in_care_end", "reference_date", "year_end"]].values.tolist()
    [[2019, 1893, Timestamp('2019-09-30 00:00:00'), False]]
    """
    frame = _counts_frame(counts)
    keys = _series_keys(frame)
    extra = [c for c in COUNT_SOURCE_COLUMNS if c in frame.columns and c != "source"]
    dated = ["date_stated", "period", "period_kind"]
    columns = ["year", *keys, column, "reference_date", "year_end", *dated, "source", *extra]
    columns.append("other_sources")
    if column not in frame:
        return pd.DataFrame(columns=columns)
    rows = frame.loc[frame[column].notna()].copy()
    rows["year"] = pd.to_datetime(rows["reference_date"]).dt.year
    rows["_order"] = np.arange(len(rows))
    rows["_stated"] = rows["date_stated"].astype(bool)
    rows = rows.sort_values(
        ["reference_date", "_stated", "_order"], ascending=[False, False, True], kind="stable"
    )
    group = ["year", *keys]
    chosen = rows.groupby(group, sort=False, observed=True).head(1)
    same_date = rows.merge(
        chosen[[*group, "reference_date"]], on=[*group, "reference_date"], how="inner"
    )
    others = same_date.groupby(group, observed=True).size() - 1
    out = chosen.set_index(group)
    out["other_sources"] = others.reindex(out.index).fillna(0).astype(int)
    out = out.reset_index().sort_values(group, kind="stable")
    out["year_end"] = (out["reference_date"].dt.month == 12) & (out["reference_date"].dt.day == 31)
    return out[columns].reset_index(drop=True)


def _months_text(months: Sequence[int]) -> str:
    """Months covered as ranges: (1, 2, 3, 7) -> "01-03, 07"."""
    months = sorted(set(months))
    runs: list[list[int]] = []
    for m in months:
        if runs and m == runs[-1][-1] + 1:
            runs[-1].append(m)
        else:
            runs.append([m])
    return ", ".join(f"{r[0]:02d}" if len(r) == 1 else f"{r[0]:02d}-{r[-1]:02d}" for r in runs)


def yearly_flows(counts: pd.DataFrame | LoadResult, column: str = "entries") -> pd.DataFrame:
    """Each year's flow (entries or exits), complete only when the periods cover the year.

    Parameters
    ----------
    counts : DataFrame or LoadResult
        :func:`load_counts` output (or its ``valid``).
    column : str, default "entries"

    Returns
    -------
    DataFrame
        One row per year and series: ``year``, the keys, ``column``, ``months``
        (number of months the figure covers), ``covered`` (the months, e.g.
        ``"07-09"``; ``"01-12"`` for a whole year), ``complete`` (the periods
        cover the year), ``source`` (and ``source_url``, ``quote`` of a yearly
        row when the file has them).

    Notes
    -----
    A yearly figure is used as published. Without one, the months and quarters
    of one source are added up (flows over disjoint periods add); the result is
    the year's flow only when they cover all 12 months, otherwise it is a
    partial figure labelled with the months it covers. When several sources
    give a year, a yearly figure comes first, then the figure covering most
    months, then the first in the file. Months given by different sources (the
    monthly releases of one agency quoted by different pages) are added when
    each month comes once; a month two sources give is taken from the first, never
    added twice; the ``source`` is then the list of sources used.

    Examples
    --------
    >>> table = pd.DataFrame({"period": ["2019-07", "2019-08"], "oblast": "all",
    ...     "placement_type": "foster", "entries": [81, 70]})
    >>> yearly_flows(validate_counts(table))[["year", "entries", "covered", "complete"]].values.tolist()
    [[2019, 151, '07-08', False]]
    """
    frame = _counts_frame(counts)
    keys = _series_keys(frame)
    extra = [c for c in COUNT_SOURCE_COLUMNS if c in frame.columns and c != "source"]
    columns = ["year", *keys, column, "months", "covered", "complete", "source", *extra]
    if column not in frame:
        return pd.DataFrame(columns=columns)
    rows = frame.loc[frame[column].notna()].copy()
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows["year"] = pd.to_datetime(rows["period"]).dt.year
    rows["_order"] = np.arange(len(rows))
    rows["_source"] = rows["source"].astype("string").fillna("")
    out = []
    for _, sub in rows.groupby(["year", *keys, "_source"], sort=False, observed=True):
        first = sub.iloc[0]
        yearly = sub[sub["period_kind"] == "YS"]
        record = {c: first[c] for c in ("year", *keys)}
        record.update({c: first[c] for c in ("source", *extra)})
        if len(yearly):
            row = yearly.iloc[0]
            record.update({column: int(row[column]), "months": 12, "covered": "01-12"})
            record.update({c: row[c] for c in ("source", *extra)})
            record.update({"complete": True, "_rank": (0, 0, int(row["_order"]))})
        else:
            months: list[int] = []
            for start, kind in zip(sub["period"], sub["period_kind"], strict=True):
                months += list(range(start.month, start.month + PERIOD_MONTHS[kind]))
            distinct = sorted(set(months))
            record.update(
                {
                    column: int(sub[column].sum()),
                    "months": len(distinct),
                    "covered": _months_text(distinct),
                    "complete": len(distinct) == 12 and len(months) == 12,
                    "_rank": (1, -len(distinct), int(sub["_order"].min())),
                }
            )
            if len(months) != len(distinct):  # overlapping periods of one source: not added
                record.update({column: np.nan, "complete": False})
        out.append(record)
    for _, sub in rows.groupby(["year", *keys], sort=False, observed=True):
        record = _months_across_sources(sub, column, keys, extra)
        if record is not None:
            out.append(record)
    result = pd.DataFrame(out).sort_values("_rank", kind="stable")
    result = result.groupby(["year", *keys], sort=False, observed=True).head(1)
    result = result.sort_values(["year", *keys], kind="stable").drop(columns="_rank")
    result = result.dropna(subset=[column])
    result[column] = result[column].astype("int64")
    return result[columns].reset_index(drop=True)


def _months_across_sources(
    sub: pd.DataFrame, column: str, keys: Sequence[str], extra: Sequence[str]
) -> dict | None:
    """Months and quarters of a year from several sources, each month taken once (first in the file).

    None when one source (or a yearly figure) already covers as much: the
    single-source figure is then kept. Months are disjoint periods, so they add;
    two sources for the same month are never added (the first is used).
    """
    periods = sub[sub["period_kind"] != "YS"].sort_values("_order", kind="stable")
    if periods["_source"].nunique() < 2 or (sub["period_kind"] == "YS").any():
        return None
    covered: set[int] = set()
    total, used = 0, []
    for row in periods.to_dict("records"):
        start = pd.Timestamp(row["period"])
        months = set(range(start.month, start.month + PERIOD_MONTHS[row["period_kind"]]))
        if months & covered:
            continue
        covered |= months
        total += int(row[column])
        used.append(row)
    if len({r["_source"] for r in used}) < 2:
        return None
    first = used[0]
    record = {c: first[c] for c in ("year", *keys)}
    record.update({c: pd.NA for c in extra})
    record.update(
        {
            column: total,
            "months": len(covered),
            "covered": _months_text(sorted(covered)),
            "complete": len(covered) == 12,
            "source": "; ".join(
                dict.fromkeys(str(r["source"]) for r in used if pd.notna(r["source"]))
            ),
            "_rank": (1, -len(covered), int(min(r["_order"] for r in used))),
        }
    )
    return record


def stock_totals(
    stocks: pd.DataFrame,
    column: str = "in_care_end",
    types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Totals across placement types, only where every type has a figure of the same date and source.

    Parameters
    ----------
    stocks : DataFrame
        :func:`yearly_stocks` output.
    column : str, default "in_care_end"
    types : sequence of str, optional
        The placement types a total needs; default every type the table has.

    Returns
    -------
    DataFrame
        ``year``, the other keys, ``placement_type = "all"``, ``column``,
        ``reference_date``, ``source`` - one row per year where the total is
        complete; none where a type is missing or the figures differ in date or
        source (a total of those would mix what cannot be added).

    Examples
    --------
    >>> stocks = pd.DataFrame({"year": [2014, 2014, 2015], "oblast": "all",
    ...     "placement_type": ["foster", "kinship", "foster"], "in_care_end": [2275, 6751, 2300],
    ...     "reference_date": pd.to_datetime(["2014-12-31"] * 3), "source": "АСП"})
    >>> stock_totals(stocks)[["year", "in_care_end"]].values.tolist()
    [[2014, 9026]]
    """
    keys = [c for c in ("oblast", "age_band") if c in stocks.columns]
    types = sorted(set(stocks["placement_type"].astype(str))) if types is None else list(types)
    dated = [c for c in ("date_stated", "period", "period_kind") if c in stocks.columns]
    columns = ["year", *keys, "placement_type", column, "reference_date", *dated, "source"]
    if stocks.empty or not types:
        return pd.DataFrame(columns=columns)
    frame = stocks.assign(
        placement_type=stocks["placement_type"].astype(str),
        _source=stocks["source"].astype("string").fillna(""),
    )
    frame = frame[frame["placement_type"].isin(types)]
    out = []
    for group, sub in frame.groupby(["year", *keys], sort=True, observed=True):
        complete = (
            set(sub["placement_type"]) == set(types)
            and sub["reference_date"].nunique() == 1
            and sub["_source"].nunique() == 1
        )
        if complete:
            values = dict(zip(["year", *keys], group, strict=True))
            values.update(
                {
                    "placement_type": "all",
                    column: int(sub[column].sum()),
                    "reference_date": sub["reference_date"].iloc[0],
                    "source": sub["source"].iloc[0],
                }
            )
            if "date_stated" in sub:
                values["date_stated"] = bool(sub["date_stated"].astype(bool).all())
            for name in ("period", "period_kind"):
                if name in sub:
                    values[name] = sub[name].iloc[0]
            out.append(values)
    return pd.DataFrame(out, columns=columns)


def count_oblasts(counts: pd.DataFrame | LoadResult) -> list[str]:
    """The scopes a counts table has figures for: ``all`` and/or NUTS-3 codes, sorted."""
    frame = counts.valid if isinstance(counts, LoadResult) else counts
    return sorted(set(frame["oblast"].astype(str)), key=lambda s: (s != NATIONAL, s))


def stock_measures(frame: pd.DataFrame) -> pd.Series:
    """Each stock's label: its ISO date where the source states the day, else the period as published.

    ``"2023-10-31"``; ``"2017"``, ``"2014-12"`` or ``"2019-Q3"`` when the source gives
    only the year, month or quarter (a report then says the date was not stated,
    instead of calling it 31 December).

    Examples
    --------
    >>> table = pd.DataFrame({"period": ["2017", "2023-10"], "oblast": "all",
    ...     "placement_type": "institution", "in_care_end": [900, 202],
    ...     "reference_date": ["", "31.10.2023"]})
    >>> stock_measures(yearly_stocks(validate_counts(table))).tolist()
    ['2017', '2023-10-31']
    """
    dates = pd.to_datetime(frame["reference_date"])
    iso = dates.dt.strftime("%Y-%m-%d")
    if "date_stated" not in frame or "period" not in frame:
        return iso
    stated = frame["date_stated"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    words = _period_words(frame)
    return pd.Series(np.where(stated, iso.to_numpy(), words.to_numpy()), index=frame.index)


def _period_words(frame: pd.DataFrame) -> pd.Series:
    """The published period of each row as text: ``2017``, ``2014-12`` or ``2019-Q3``."""
    period = pd.to_datetime(frame["period"])
    kind = frame.get("period_kind", pd.Series("YS", index=frame.index)).astype(str).to_numpy()
    words = np.select(
        [kind == "MS", kind == "QS"],
        [
            period.dt.strftime("%Y-%m").to_numpy(),
            (period.dt.year.astype(str) + "-Q" + period.dt.quarter.astype(str)).to_numpy(),
        ],
        period.dt.year.astype(str).to_numpy(),
    )
    return pd.Series(words, index=frame.index)


def counts_as_read(counts: pd.DataFrame | LoadResult) -> pd.DataFrame:
    """Every figure of a counts table, one row per figure in file order, as it was published.

    Returns
    -------
    DataFrame
        ``kind`` (``in_care_end``, ``entries`` or ``exits``), ``oblast``,
        ``placement_type``, ``measure`` (a stock's :func:`stock_measures` label, a
        flow's period), ``reference_date``, ``value``, ``source`` and, when the
        file has them, ``source_url`` and ``quote``. Nothing is added or dropped:
        two sources for one date are two rows.
    """
    frame = _counts_frame(counts)
    columns = ["kind", "oblast", "placement_type", "measure", "reference_date", "value", "source"]
    pieces = []
    for column in (*STOCK_COLUMNS, *FLOW_COLUMNS):
        if column not in frame:
            continue
        sub = frame[frame[column].notna()]
        if sub.empty:
            continue
        measure = stock_measures(sub) if column in STOCK_COLUMNS else _period_words(sub)
        extra = {c: sub[c] for c in ("source_url", "quote") if c in sub}
        pieces.append(
            pd.DataFrame(
                {
                    "kind": column,
                    "oblast": sub["oblast"].astype(str),
                    "placement_type": sub["placement_type"].astype(str),
                    "measure": measure,
                    "reference_date": pd.to_datetime(sub["reference_date"]),
                    "value": sub[column].astype("int64"),
                    "source": sub["source"].astype("string"),
                    **extra,
                }
            )
        )
    if not pieces:
        return pd.DataFrame(columns=columns)
    return pd.concat(pieces).sort_index(kind="stable").reset_index(drop=True)


def source_summary(counts: pd.DataFrame | LoadResult) -> dict[str, int]:
    """How many figures and sources a counts table has, and at how many dates sources disagree.

    ``disagreements`` counts (kind, oblast, placement type, reference date) with
    two or more different values from different sources; a figure whose source
    gives only the year or the month counts at the end of that period.

    Examples
    --------
    >>> table = pd.DataFrame({"period": ["2017", "2017"], "oblast": "all",
    ...     "placement_type": "institution", "in_care_end": [900, 979],
    ...     "source": ["UNICEF", "Opening Doors"]})
    >>> source_summary(validate_counts(table))
    {'figures': 2, 'sources': 2, 'disagreements': 1}
    """
    read = counts_as_read(counts)
    named = read.dropna(subset=["source"])
    values = named.groupby(["kind", "oblast", "placement_type", "reference_date"])["value"]
    return {
        "figures": len(read),
        "sources": int(named["source"].nunique()),
        "disagreements": int((values.nunique() > 1).sum()) if len(named) else 0,
    }
