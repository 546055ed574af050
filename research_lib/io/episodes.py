"""Placement episodes: one row per placement of a child, validated without losing a row.

:func:`load_episodes` reads a file of any supported format; :func:`validate_episodes`
checks a frame. Columns: ``child_id, oblast, placement_type, start_date, end_date,
exit_reason`` and ``birth_date`` or ``age_at_start``. Every row ends up in
``LoadResult.valid`` (canonical codes) or in ``LoadResult.rejected`` (spreadsheet
row number, column, value as written, problem in words), and
``len(valid) + rejected.row.nunique() == n_rows``. A file that cannot be used as
a whole raises :class:`~research_lib.errors.InputError`. The shared checks (dates,
whole numbers, assembling the result) live in :mod:`research_lib.io.loader`.

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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.errors import InputError
from research_lib.io.loader import (
    WHOLE_ROW,
    LoadResult,
    as_of_date,
    as_written,
    assemble_load_result,
    empty_rejected,
    first_row_of,
    is_empty,
    parse_dates,
    placement_and_oblast_problems,
    rejected_lines,
    require_columns,
    whole_numbers,
    with_row_index,
    with_value_labels,
)
from research_lib.io.oblasts import match_oblasts
from research_lib.io.readers import read_table
from research_lib.io.vocab import (
    AGE_BAND_EDGES,
    AGE_BANDS,
    EXIT_ALIASES,
    EXIT_REASONS,
    PLACEMENT_ALIASES,
    PLACEMENT_TYPES,
    as_text,
    canonical_codes,
)

__all__ = [
    "EPISODE_COLUMNS",
    "AGE_COLUMNS",
    "AGE_AT_START_RANGE",
    "load_episodes",
    "validate_episodes",
    "entry_age_band",
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


_DAY_NS = 86_400 * 10**9


_ONGOING = np.int64(10**9)  # "day number" of an episode with no end (far beyond any date)


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
    require_columns(data, EPISODE_COLUMNS, name, "episode file")
    if not any(c in data.columns for c in AGE_COLUMNS):
        raise InputError(
            f"{name}: neither birth_date nor age_at_start is a column. Add one of them "
            "(birth_date as 2012-05-31 or 31.05.2012, or age_at_start in whole years)."
        )
    labels = dict(value_labels or {})
    canon, problems = _episode_checks(data, labels, as_of_date(as_of))
    return assemble_load_result(
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
    return whole_numbers(data["age_at_start"])[0]


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
        numbers, _, not_whole = whole_numbers(raw)
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
    repeated, first = first_row_of(key)
    problem = (
        "the same episode as row "
        + first.astype("Int64").astype(str)
        + " (a duplicate row); delete one of them"
    )
    return repeated, rejected_lines(repeated, WHOLE_ROW, data["child_id"], problem)


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
    codes = np.searchsorted(np.asarray(AGE_BAND_EDGES[1:], dtype="float64"), age, side="right")
    codes = np.where(np.isnan(age) | (age < 0), -1, codes)
    band = pd.Categorical.from_codes(codes, categories=list(AGE_BANDS))
    return pd.Series(band, index=episodes.index, name="age_band_at_entry")
