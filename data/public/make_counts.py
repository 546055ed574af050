"""Build the counts files of data/public/ from national_care_figures.csv.

Every row of a counts file is one row of ``national_care_figures.csv`` (its line
number is kept in ``source_row``), copied as published: the value, the source
(publisher and title), the link and the quote. Nothing is added up, estimated or
re-dated. A reference date is written only where the source states the day (or
"end of <month/year>"); otherwise it is left empty and the report says the date
was not stated. Where sources disagree, every figure is kept as its own row.

Run from the project root after editing ``national_care_figures.csv``::

    .venv/bin/python data/public/make_counts.py

Files written (UTF-8, comma-separated, the layout of ``research_lib.io.counts.load_counts``):

* ``national_counts.csv`` - children in specialised institutions (all types, as each
  source states), in ЦНСТ, in foster care (all providers) and placed with relatives,
  national, 2007-2023; new placements in foster care and with relatives in 2014-2015.
* ``priemi_me_counts.csv`` - foster care under the АСП project „Приеми ме 2015“
  (municipal providers; a subset of all foster care, so never mixed with the file
  above): monthly stocks 2016-2023 and the monthly entries and ended placements
  that the АСП releases give.
* ``dmsgd_counts.csv`` - infant homes (ДМСГД, Ministry of Health; НСИ figures and
  others): children at year end, admissions and discharges.
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "national_care_figures.csv"

#: (line in national_care_figures.csv, period, reference_date ("" = not stated), type, column)
NATIONAL: tuple[tuple[int, str, str, str, str], ...] = (
    (42, "2007", "", "institution", "in_care_end"),
    (43, "2008", "", "institution", "in_care_end"),
    (44, "2009", "", "institution", "in_care_end"),
    (45, "2009", "", "institution", "in_care_end"),
    (46, "2009", "", "institution", "in_care_end"),
    (47, "2010", "", "institution", "in_care_end"),
    (48, "2010", "", "institution", "in_care_end"),
    (114, "2010", "", "institution", "in_care_end"),
    (50, "2011", "31.12.2011", "institution", "in_care_end"),
    (49, "2011", "", "institution", "in_care_end"),
    (115, "2011", "", "institution", "in_care_end"),
    (51, "2014-12", "", "institution", "in_care_end"),
    (53, "2017", "", "institution", "in_care_end"),
    (52, "2017", "", "institution", "in_care_end"),
    (54, "2018-10", "", "institution", "in_care_end"),
    (55, "2019-11", "", "institution", "in_care_end"),
    (56, "2023", "31.12.2023", "institution", "in_care_end"),
    (2, "2018", "", "cnst", "in_care_end"),
    (20, "2013", "31.12.2013", "foster", "in_care_end"),
    (21, "2014", "31.12.2014", "foster", "in_care_end"),
    (22, "2015-06", "30.06.2015", "foster", "in_care_end"),
    (23, "2023-10", "31.10.2023", "foster", "in_care_end"),
    (60, "2014", "31.12.2014", "kinship", "in_care_end"),
    (61, "2023-10", "31.10.2023", "kinship", "in_care_end"),
    (102, "2014", "", "foster", "entries"),
    (113, "2014", "", "foster", "entries"),
    (103, "2015", "", "foster", "entries"),
    (104, "2014", "", "kinship", "entries"),
    (105, "2015", "", "kinship", "entries"),
)

PRIEMI_ME: tuple[tuple[int, str, str, str, str], ...] = (
    (24, "2016-01", "01.01.2016", "foster", "in_care_end"),
    (25, "2016-01", "01.01.2016", "foster", "in_care_end"),
    (26, "2017-02", "28.02.2017", "foster", "in_care_end"),
    (27, "2019-07", "31.07.2019", "foster", "in_care_end"),
    (117, "2019-07", "", "foster", "entries"),
    (118, "2019-07", "", "foster", "exits"),
    (29, "2019-08", "31.08.2019", "foster", "in_care_end"),
    (30, "2019-09", "30.09.2019", "foster", "in_care_end"),
    (119, "2019-09", "", "foster", "entries"),
    (120, "2019-09", "", "foster", "exits"),
    (28, "2019-12", "31.12.2019", "foster", "in_care_end"),
    (31, "2020-07", "", "foster", "in_care_end"),
    (32, "2020-12", "31.12.2020", "foster", "in_care_end"),
    (33, "2022-06", "30.06.2022", "foster", "in_care_end"),
    (121, "2022-06", "", "foster", "entries"),
    (122, "2022-06", "", "foster", "exits"),
    (34, "2022-12", "31.12.2022", "foster", "in_care_end"),
    (35, "2023-01", "31.01.2023", "foster", "in_care_end"),
    (123, "2023-01", "", "foster", "entries"),
    (124, "2023-01", "", "foster", "exits"),
    (36, "2023-02", "28.02.2023", "foster", "in_care_end"),
    (125, "2023-02", "", "foster", "entries"),
    (126, "2023-02", "", "foster", "exits"),
)

DMSGD: tuple[tuple[int, str, str, str, str], ...] = (
    (12, "2008", "", "institution", "in_care_end"),
    (13, "2010", "31.12.2010", "institution", "in_care_end"),
    (81, "2010", "", "institution", "entries"),
    (116, "2010", "", "institution", "exits"),
    (14, "2012", "31.12.2012", "institution", "in_care_end"),
    (15, "2013", "31.12.2013", "institution", "in_care_end"),
    (17, "2014-01", "31.01.2014", "institution", "in_care_end"),
    (16, "2014", "31.12.2014", "institution", "in_care_end"),
    (18, "2018-10", "", "institution", "in_care_end"),
    (19, "2023", "31.12.2023", "institution", "in_care_end"),
    (82, "2024", "", "institution", "entries"),
    (83, "2025", "", "institution", "entries"),
)

COLUMNS = (
    "period",
    "reference_date",
    "oblast",
    "placement_type",
    "in_care_end",
    "entries",
    "exits",
    "indicator",
    "as_published",
    "source",
    "source_url",
    "quote",
    "source_row",
)


def read_figures(path: Path = FIGURES) -> dict[int, dict[str, str]]:
    """The rows of ``national_care_figures.csv`` by their line number (the header is line 1)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {number: row for number, row in enumerate(csv.DictReader(handle), start=2)}


def counts_rows(
    spec: tuple[tuple[int, str, str, str, str], ...], figures: dict[int, dict[str, str]]
) -> list[dict[str, str]]:
    """One counts row per entry of ``spec``, with the figure, source and quote as published."""
    rows = []
    for line, period, reference_date, placement_type, column in spec:
        figure = figures[line]
        row = dict.fromkeys(COLUMNS, "")
        row.update(
            period=period,
            reference_date=reference_date,
            oblast="all",
            placement_type=placement_type,
            indicator=figure["indicator"],
            as_published=figure["reference_date"],
            source=f"{figure['publisher']}: {figure['source_title']}",
            source_url=figure["source_url"],
            quote=figure["note"],
            source_row=f"national_care_figures.csv:{line}",
        )
        row[column] = figure["value"]
        rows.append(row)
    return rows


def write_counts(path: Path, rows: list[dict[str, str]]) -> None:
    """Write the rows, dropping count columns that no row uses."""
    used = [c for c in COLUMNS if c not in ("entries", "exits") or any(r[c] for r in rows)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=used, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    figures = read_figures()
    for name, spec in (
        ("national_counts.csv", NATIONAL),
        ("priemi_me_counts.csv", PRIEMI_ME),
        ("dmsgd_counts.csv", DMSGD),
    ):
        write_counts(HERE / name, counts_rows(spec, figures))


if __name__ == "__main__":
    main()
