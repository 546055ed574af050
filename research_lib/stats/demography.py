"""Splitting five-year age groups into single years: Sprague osculatory interpolation.

The National Statistical Institute (НСИ) publishes the population by oblast in
the age groups 0, 1-4, 5-9, 10-14, 15-19, 20-24, ... Rates for children need the
bands 0-3 and 0-17, which cut through the groups 1-4 and 15-19. :func:`sprague_split`
splits five-year groups into single years with the Sprague fifth-difference
osculatory formula, the standard demographic method (Shryock & Siegel, *The
Methods and Materials of Demography*, 1976, table of Sprague multipliers); the
single years of a group add up exactly to the group.

References
----------
Sprague, T. B. (1880). Explanation of a new formula for interpolation.
*Journal of the Institute of Actuaries* 22, 270-285.
Shryock, H. S. & Siegel, J. S. (1976). *The Methods and Materials of Demography*,
condensed edition, Academic Press, pp. 877-880 (Sprague multipliers).

Examples
--------
>>> import numpy as np
>>> ages = np.arange(25)
>>> groups = [(100 - 2 * ages[i : i + 5]).sum() for i in range(0, 25, 5)]  # linear: kept
>>> sprague_split(groups)[:5].round(6).tolist()
[100.0, 98.0, 96.0, 94.0, 92.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research_lib.errors import InputError
from research_lib.io.loader import (
    LoadResult,
)
from research_lib.io.population import POPULATION_AGE_BANDS, nsi_band_start
from research_lib.io.vocab import CHILD_AGE_BAND

__all__ = [
    "SPRAGUE_FIRST",
    "SPRAGUE_SECOND",
    "SPRAGUE_MIDDLE",
    "sprague_split",
    "population_child_bands",
]

#: Multipliers for the first five-year group (rows: ages 0-4; columns: groups 1-5).
SPRAGUE_FIRST = np.array(
    [
        [0.3616, -0.2768, 0.1488, -0.0336, 0.0000],
        [0.2640, -0.0960, 0.0400, -0.0080, 0.0000],
        [0.1840, 0.0400, -0.0320, 0.0080, 0.0000],
        [0.1200, 0.1360, -0.0720, 0.0160, 0.0000],
        [0.0704, 0.1968, -0.0848, 0.0176, 0.0000],
    ]
)
#: Multipliers for the second group (rows: its five ages; columns: groups 1-5).
SPRAGUE_SECOND = np.array(
    [
        [0.0336, 0.2272, -0.0752, 0.0144, 0.0000],
        [0.0080, 0.2320, -0.0480, 0.0080, 0.0000],
        [-0.0080, 0.2160, -0.0080, 0.0000, 0.0000],
        [-0.0160, 0.1840, 0.0400, -0.0080, 0.0000],
        [-0.0176, 0.1408, 0.0912, -0.0144, 0.0000],
    ]
)
#: Multipliers for a middle group (columns: the two groups before, the group, the two after).
SPRAGUE_MIDDLE = np.array(
    [
        [-0.0128, 0.0848, 0.1504, -0.0240, 0.0016],
        [-0.0016, 0.0144, 0.2224, -0.0416, 0.0064],
        [0.0064, -0.0336, 0.2544, -0.0336, 0.0064],
        [0.0064, -0.0416, 0.2224, 0.0144, -0.0016],
        [0.0016, -0.0240, 0.1504, 0.0848, -0.0128],
    ]
)
_NEXT_TO_LAST = SPRAGUE_SECOND[::-1, ::-1]
_LAST = SPRAGUE_FIRST[::-1, ::-1]


def sprague_split(groups: Sequence[float]) -> np.ndarray:
    """Single-year counts from consecutive five-year age groups (Sprague multipliers).

    Parameters
    ----------
    groups : sequence of float
        Counts of the groups 0-4, 5-9, 10-14, ... (at least five groups, closed:
        no open-ended last group such as 85+).

    Returns
    -------
    ndarray
        ``5 * len(groups)`` single-year counts (ages 0, 1, 2, ...), not rounded.
        Each group's five ages add up to the group.

    Raises
    ------
    InputError
        Fewer than five groups, or a missing or negative count.

    Notes
    -----
    The first two groups use the first and second panels of Sprague multipliers
    on groups 1-5; a middle group the middle panel on the two groups either side;
    the last two groups the mirrored panels on the last five groups. The formula
    reproduces exactly single-year counts that follow a polynomial of degree 3 or
    less in age (a cumulative count of degree 4 or less); for very small
    populations a single year may come out slightly negative.
    """
    values = np.asarray(groups, dtype="float64")
    if values.ndim != 1 or len(values) < 5:
        raise InputError(
            "Sprague interpolation needs at least five consecutive five-year age groups "
            "(0-4 to 20-24); give the НСИ age groups up to 20-24."
        )
    if np.isnan(values).any() or (values < 0).any():
        raise InputError("age groups must be non-negative counts with none missing.")
    n = len(values)
    out = np.empty(5 * n)
    for i in range(n):
        if i == 0:
            panel, window = SPRAGUE_FIRST, values[0:5]
        elif i == 1:
            panel, window = SPRAGUE_SECOND, values[0:5]
        elif i == n - 2:
            panel, window = _NEXT_TO_LAST, values[n - 5 : n]
        elif i == n - 1:
            panel, window = _LAST, values[n - 5 : n]
        else:
            panel, window = SPRAGUE_MIDDLE, values[i - 2 : i + 3]
        out[5 * i : 5 * i + 5] = panel @ window
    return out


#: Child bands derived from НСИ five-year groups, as single-year age ranges (inclusive).
_CHILD_BAND_AGES: dict[str, tuple[int, int]] = {
    "0-3": (0, 3),
    "4-6": (4, 6),
    "7-17": (7, 17),
    CHILD_AGE_BAND: (0, 17),
}


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
    nsi = frame[frame["age_band"].map(nsi_band_start).notna()]
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
