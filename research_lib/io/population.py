"""Child-population tables (the denominators of rates): ``oblast, year, age_band, population``.

:func:`load_population` reads a file, :func:`validate_population` checks a frame,
with the loader contract of :mod:`research_lib.io.loader` (every row valid or
rejected with its reason). Age bands are the child bands ``0-3, 4-6, 7-17, 0-17``
or the age groups НСИ publishes (``0, 1-4, 5-9, 10-14, 15-19``), which
:func:`research_lib.stats.demography.population_child_bands` turns into child bands.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.io.loader import (
    LoadResult,
    assemble_load_result,
    first_row_of,
    is_empty,
    match_scope,
    oblast_problems,
    rejected_lines,
    require_columns,
    whole_numbers,
    with_row_index,
    with_value_labels,
)
from research_lib.io.readers import read_table
from research_lib.io.vocab import (
    CHILD_AGE_BAND,
    POPULATION_AGE_BANDS,
    as_text,
)

__all__ = ["POPULATION_AGE_BANDS", "load_population", "validate_population", "nsi_band_start"]


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
    require_columns(data, ("oblast", "year", "population"), name, "population table")
    oblast = match_scope(with_value_labels(data["oblast"], (value_labels or {}).get("oblast")))
    year, _, year_bad = whole_numbers(data["year"])
    population, _, population_bad = whole_numbers(data["population"])
    if "age_band" in data.columns:
        band = as_text(data["age_band"]).str.replace(r"\s+", "", regex=True)
        band = band.str.replace("–", "-", regex=False)
    else:
        band = pd.Series(CHILD_AGE_BAND, index=data.index, dtype="string")
    known_band = band.isin(POPULATION_AGE_BANDS) | band.map(nsi_band_start).notna()
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
    repeated, first = first_row_of(canon[["oblast", "year", "age_band"]])
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
    result = assemble_load_result(
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


def nsi_band_start(band: object) -> float:
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
