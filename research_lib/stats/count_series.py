"""Yearly figures from published counts: stocks at their reference date, flows over covered months.

* :func:`yearly_stocks` — the stock for a year is the figure at the reference date
  closest to the year end, labelled with its real date, never a sum of months;
* :func:`yearly_flows` — a flow for a year is shown only when its periods cover
  the year, otherwise labelled as partial with the months it covers;
* :func:`stock_totals` — totals across placement types only when every type is
  present for the same date and source;
* :func:`counts_as_read`, :func:`source_summary` — the figures as read, with their sources.

Counts come from :func:`research_lib.io.counts.load_counts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research_lib.io.counts import COUNT_SOURCE_COLUMNS, period_last_day
from research_lib.io.loader import (
    LoadResult,
)
from research_lib.io.oblasts import NATIONAL
from research_lib.io.vocab import (
    FLOW_COLUMNS,
    PERIOD_MONTHS,
    STOCK_COLUMNS,
)

__all__ = [
    "counts_frame",
    "yearly_stocks",
    "yearly_flows",
    "stock_totals",
    "count_oblasts",
    "stock_measures",
    "counts_as_read",
    "source_summary",
]


def counts_frame(counts: pd.DataFrame | LoadResult) -> pd.DataFrame:
    frame = counts.valid if isinstance(counts, LoadResult) else counts
    frame = frame.copy()
    if "reference_date" not in frame:  # a series from episodes_to_series: the period's last day
        kind = frame.get("period_kind", pd.Series(frame.attrs.get("freq", "YS"), index=frame.index))
        frame["period_kind"] = kind
        frame["period_end"] = period_last_day(pd.to_datetime(frame["period"]), kind)
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
    >>> from research_lib.io.counts import validate_counts
    >>> table = pd.DataFrame({"period": ["2019-07", "2019-08", "2019-09"], "oblast": "all",
    ...     "placement_type": "foster", "in_care_end": [1899, 1901, 1893]})
    >>> stocks = yearly_stocks(validate_counts(table))
    >>> stocks[["year", "in_care_end", "reference_date", "year_end"]].values.tolist()
    [[2019, 1893, Timestamp('2019-09-30 00:00:00'), False]]
    """
    frame = counts_frame(counts)
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
    >>> from research_lib.io.counts import validate_counts
    >>> table = pd.DataFrame({"period": ["2019-07", "2019-08"], "oblast": "all",
    ...     "placement_type": "foster", "entries": [81, 70]})
    >>> yearly_flows(validate_counts(table))[["year", "entries", "covered", "complete"]].values.tolist()
    [[2019, 151, '07-08', False]]
    """
    frame = counts_frame(counts)
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
    >>> from research_lib.io.counts import validate_counts
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
    frame = counts_frame(counts)
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
    >>> from research_lib.io.counts import validate_counts
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
