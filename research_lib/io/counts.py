"""Published counts of children in formal care, read as published.

Many users hold published figures (АСП, НСИ, ДАЗД) rather than episodes: counts per
``period`` (a year, quarter or month, with the figure's reference date),
``oblast`` (or ``all`` for the country) and ``placement_type``, with any subset of
``entries``, ``exits`` and ``in_care_end`` and optional ``source``, ``source_url``
and ``quote`` per row. :func:`load_counts` reads a file, :func:`validate_counts`
checks a frame, with the loader contract of :mod:`research_lib.io.loader`. The
yearly figures built from them (a stock at its reference date, never a sum of
months; a flow only over the months it covers) are in :mod:`research_lib.stats.count_series`.
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
    as_numbers,
    as_written,
    assemble_load_result,
    first_row_of,
    is_empty,
    match_scope,
    parse_dates,
    placement_and_oblast_problems,
    rejected_lines,
    require_columns,
    whole_numbers,
    with_row_index,
    with_value_labels,
)
from research_lib.io.readers import read_table
from research_lib.io.vocab import (
    AGE_BANDS,
    CHILD_AGE_BAND,
    COUNT_COLUMNS,
    PERIOD_MONTHS,
    PLACEMENT_ALIASES,
    PLACEMENT_TYPES,
    as_text,
    canonical_codes,
)

__all__ = ["COUNT_SOURCE_COLUMNS", "period_last_day", "load_counts", "validate_counts"]


_YEAR = r"^(?P<y>\d{4})$"


_YEAR_MONTH = r"^(?P<y>\d{4})-(?P<m>\d{1,2})$"


_MONTH_YEAR = r"^(?P<m>\d{1,2})[./](?P<y>\d{4})$"


_YEAR_QUARTER = r"^(?P<y>\d{4})\s*-?\s*[QqКк](?P<q>[1-4])$"


_QUARTER_YEAR = r"^[QqКк](?P<q>[1-4])\s*[-./]?\s*(?P<y>\d{4})$"


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
    quarter = as_numbers(yq["q"].fillna(qy["q"]))
    shaped = year.notna() | ym["y"].notna() | my["y"].notna() | quarter.notna()
    full, _ = parse_dates(text.where(~shaped))
    first_day = full.notna() & (full.dt.day == 1)
    y = as_numbers(year.fillna(ym["y"]).fillna(my["y"]).fillna(yq["y"]).fillna(qy["y"]))
    m = as_numbers(ym["m"].fillna(my["m"]))
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


def period_last_day(start: pd.Series, kind: pd.Series) -> pd.Series:
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
    require_columns(data, ("period", "oblast", "placement_type"), name, "table of counts")
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
    period_end = period_last_day(period, kind)
    placement = canonical_codes(
        with_value_labels(data["placement_type"], labels.get("placement_type")), PLACEMENT_ALIASES
    )
    canon = pd.DataFrame(
        {
            "period": period,
            "period_kind": kind.astype("string"),
            "period_end": period_end,
            "reference_date": period_end,
            "oblast": match_scope(with_value_labels(data["oblast"], labels.get("oblast"))),
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
        again, first_row = first_row_of(key[given])
        repeated[again.index[again.to_numpy()]] = True
        first = first.fillna(first_row.where(again).reindex(data.index))
    problems.append(
        rejected_lines(
            repeated,
            WHOLE_ROW,
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
    result = assemble_load_result(
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
    numbers, given, not_whole = whole_numbers(values)
    bad = not_whole | (given & (numbers < 0))
    problem = rejected_lines(
        bad, column, values, f"{column} must be a whole number of children, 0 or more (or empty)"
    )
    return numbers.where(~bad), problem
