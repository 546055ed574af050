"""Yearly figures from published counts, checked against the rows of small tables written by hand.

A stock is the figure at its real reference date, never a sum; a flow is complete only
when its months cover the year; a total across types needs every type at the same date
and source; counts_as_read and source_summary keep every figure as published.
"""

from __future__ import annotations

import pandas as pd

from research_lib.io.counts import validate_counts
from research_lib.stats.count_series import (
    count_oblasts,
    counts_as_read,
    source_summary,
    stock_totals,
    yearly_flows,
    yearly_stocks,
)


def counts(**columns: object) -> pd.DataFrame:
    table = validate_counts(pd.DataFrame(columns))
    assert table.rejected.empty
    return table.valid


def test_stock_is_the_latest_figure_of_the_year_never_a_sum_of_months():
    table = counts(
        period=["2019-07", "2019-08", "2019-09", "2020"],
        oblast="all",
        placement_type="foster",
        in_care_end=[1899, 1901, 1893, 1850],
    )
    stocks = yearly_stocks(table).set_index("year")
    assert stocks.loc[2019, "in_care_end"] == 1893  # September, as published
    assert stocks.loc[2019, "reference_date"] == pd.Timestamp("2019-09-30")
    assert not stocks.loc[2019, "year_end"]
    assert stocks.loc[2020, "in_care_end"] == 1850 and stocks.loc[2020, "year_end"]


def test_two_sources_at_one_date_are_counted_not_merged():
    table = counts(
        period=["2017", "2017"],
        oblast="all",
        placement_type="institution",
        in_care_end=[900, 979],
        source=["UNICEF", "Opening Doors"],
    )
    stocks = yearly_stocks(table)
    assert len(stocks) == 1 and stocks["other_sources"].iloc[0] == 1
    assert stocks["in_care_end"].iloc[0] in (900, 979)
    read = counts_as_read(table)
    assert sorted(read["value"]) == [900, 979] and set(read["source"]) == {
        "UNICEF",
        "Opening Doors",
    }
    assert source_summary(table) == {"figures": 2, "sources": 2, "disagreements": 1}


def test_flows_are_complete_only_when_the_months_cover_the_year():
    months = [f"2019-{m:02d}" for m in range(1, 13)] + ["2020-01", "2020-02"]
    table = counts(period=months, oblast="all", placement_type="institution", entries=[10] * 14)
    flows = yearly_flows(table).set_index("year")
    assert flows.loc[2019, "entries"] == 120 and flows.loc[2019, "complete"]
    assert flows.loc[2019, "covered"] == "01-12"
    assert flows.loc[2020, "entries"] == 20 and not flows.loc[2020, "complete"]
    assert flows.loc[2020, "covered"] == "01-02"


def test_totals_need_every_type_at_the_same_date():
    table = counts(
        period=["2020", "2020", "2021", "2021-10"],
        oblast="all",
        placement_type=["foster", "institution", "foster", "institution"],
        in_care_end=[2000, 300, 1900, 250],
    )
    totals = stock_totals(yearly_stocks(table)).set_index("year")
    assert totals.loc[2020, "in_care_end"] == 2300
    assert 2021 not in totals.index  # 31 December and 31 October do not add up


def test_count_oblasts_lists_the_scopes_with_figures_national_first():
    table = counts(
        period=["2020", "2020", "2020"],
        oblast=["all", "Варна", "BG311"],
        placement_type="foster",
        in_care_end=[2000, 131, 40],
    )
    assert count_oblasts(table) == ["all", "BG311", "BG331"]
