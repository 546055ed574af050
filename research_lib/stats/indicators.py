"""Core formal-care indicators per oblast and year (UNICEF / TransMonEE conventions).

From placement episodes (``LoadResult.valid`` of
:func:`research_lib.io.episodes.load_episodes`, or the demo's
:func:`research_lib.demo.episodes.make_episodes`) :func:`care_indicators`
computes, per calendar year and per oblast (and nationally, ``oblast = "all"``),
optionally by age band and sex:

* ``entries_per_100k`` - children entering formal care for the first time in
  the year per 100,000 children (exact Poisson CI); re-entries and transfers
  are counted apart (``attrs["other_starts"]``);
* ``in_care_per_100k`` - children in formal care at 31 December per 100,000
  children (exact Poisson CI);
* ``residential_to_family_ratio`` - children in residential care / children in
  family-based care at 31 December (exact conditional CI);
* ``exits_residential_to_family`` - exits from residential care in the year to a
  family setting, as a count (``numerator``) and as a share of the exits from
  residential care (Wilson CI).

Definitions
-----------
* **Formal care** = family-based care (``foster``, ``kinship``) and residential
  care (``cnst`` - ЦНСТ, family-type placement centres - and ``institution``).
* **Own family** (``placement_type = "family"``) episodes are *not* formal care:
  they are excluded from every indicator (they neither count as entries, nor as
  children in care, nor as a previous placement from which a child is transferred).
* **Children** are aged 0-17: entries at 18 or over (young people placed in a
  ЦНСТ at 18-20) and stays past the 18th birthday are left out, matching the
  0-17 population denominators.
* **Age bands** 0-3, 4-6, 7-17 (completed years): age at entry for entries, age
  at 31 December for the stocks (in care, ratio), age on the last day in care for
  exits (so a child leaving on the 18th birthday counts as 17).
* An **entry** into formal care is a *first entry*: the child's earliest
  formal-care episode, when the child comes into care away from the family
  (issue 10, item 5; the ``first_entry`` of :func:`entry_kinds`). A placement
  starting on the day another one ended, or up to ``transfer_days`` days after
  an episode that ended with a move to foster, kinship or ЦНСТ care, is a
  *transfer* within care; a later episode that continues none is a *re-entry*
  (back in care, e.g. after going home). Neither is an entry; both are counted
  apart, in ``attrs["other_starts"]`` of :func:`care_indicators`. The child's
  history is that of the episodes given: pass the whole register, not one
  oblast's part, or a move from another oblast looks like a first entry.

Examples
--------
>>> import pandas as pd
>>> episodes = pd.DataFrame({
...     "child_id": ["a", "b", "c"], "oblast": ["BG311"] * 3,
...     "placement_type": ["institution", "foster", "family"],
...     "start_date": pd.to_datetime(["2020-02-01", "2020-05-01", "2020-03-01"]),
...     "end_date": pd.to_datetime([None, None, None]), "exit_reason": [None] * 3,
...     "age_at_start": [2, 5, 9]})
>>> table = care_indicators(episodes, None, years=[2020], by=())
>>> table[["indicator", "numerator", "denominator", "value"]]
                     indicator  numerator  denominator  value
0             entries_per_100k          2          NaN    NaN
1             in_care_per_100k          2          NaN    NaN
2  residential_to_family_ratio          1          1.0    1.0
3  exits_residential_to_family          0          0.0    NaN
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from research_lib.errors import InputError
from research_lib.io.loader import LoadResult
from research_lib.io.oblasts import NATIONAL
from research_lib.io.vocab import (
    CHILD_AGE_BAND,
    CHILD_AGE_BANDS,
    FAMILY_BASED,
    FORMAL_CARE,
    RESIDENTIAL,
)
from research_lib.stats.intervals import poisson_rate_ci
from research_lib.stats.series import population_denominators

__all__ = [
    "INDICATORS",
    "FORMAL_CARE",
    "FAMILY_BASED",
    "RESIDENTIAL",
    "EXITS_TO_FAMILY",
    "EXITS_WITHIN_RESIDENTIAL",
    "CHILD_BANDS",
    "BY_COLUMNS",
    "TOTALS",
    "INDICATOR_COLUMNS",
    "ENTRY_KINDS",
    "entry_kinds",
    "care_indicators",
    "child_population",
    "wilson_ci",
    "clopper_pearson_ci",
    "poisson_ratio_ci",
]

#: Exit reasons that take a child from residential care to a family setting.
EXITS_TO_FAMILY: tuple[str, ...] = ("reunified", "adopted", "foster", "kinship")
#: Exit reasons that are moves within residential care (not exits from it).
EXITS_WITHIN_RESIDENTIAL: tuple[str, ...] = ("cnst",)
#: Exit reasons that move a child to another placement (possible transfers).
_TRANSFER_REASONS: tuple[str, ...] = ("foster", "kinship", "cnst")
#: Child age bands (completed years) and their edges.
CHILD_BANDS: tuple[str, ...] = CHILD_AGE_BANDS
_BAND_EDGES = np.array([4.0, 7.0])
_ADULT = 18
#: Columns ``by`` may name, and the label of their total rows.
BY_COLUMNS: tuple[str, ...] = ("oblast", "age_band", "sex")
TOTALS: dict[str, str] = {"oblast": NATIONAL, "age_band": CHILD_AGE_BAND, "sex": "all"}
#: The indicators, in output order (the per-100k names follow ``per``).
INDICATORS: tuple[str, ...] = (
    "entries_per_100k",
    "in_care_per_100k",
    "residential_to_family_ratio",
    "exits_residential_to_family",
)
#: Columns of the output after ``year`` and the ``by`` columns.
INDICATOR_COLUMNS: tuple[str, ...] = (
    "indicator",
    "numerator",
    "denominator",
    "value",
    "ci_low",
    "ci_high",
    "method",
)
_COUNTS = (
    "entries",
    "residential",
    "family_based",
    "exits_family",
    "exits_counted",
    "exits_unknown",
)


# ----------------------------------------------------------------------------- intervals


def _check_confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise InputError(f"confidence={confidence!r} must be between 0 and 1, e.g. 0.95.")
    return float(confidence)


def _as_float(*values: object) -> list[np.ndarray]:
    return list(np.broadcast_arrays(*(np.asarray(v, dtype="float64") for v in values)))


def wilson_ci(
    count: object, total: object, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proportion ``count / total`` with the Wilson score interval.

    Parameters
    ----------
    count, total : array-like
        Successes and trials (``total <= 0`` or NaN gives NaN).
    confidence : float, default 0.95
        Two-sided level.

    Returns
    -------
    share, low, high : ndarray

    Notes
    -----
    Wilson (1927): with ``z`` the normal quantile, ``p = k / n``, the limits are
    ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``; they stay inside
    [0, 1] and behave well for small ``n`` and shares near 0 or 1.

    References
    ----------
    Wilson EB. Probable inference, the law of succession, and statistical
    inference. J Am Stat Assoc. 1927;22(158):209-212.

    Examples
    --------
    >>> share, low, high = wilson_ci(3, 10)
    >>> round(float(low), 4), round(float(high), 4)
    (0.1078, 0.6032)
    """
    z = stats.norm.ppf(0.5 + _check_confidence(confidence) / 2)
    k, n = _as_float(count, total)
    n = np.where(n > 0, n, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return p, np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def clopper_pearson_ci(
    count: object, total: object, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proportion ``count / total`` with the exact (Clopper-Pearson) interval.

    Notes
    -----
    The limits are beta quantiles: ``Beta(a/2; k, n-k+1)`` (0 when ``k = 0``) and
    ``Beta(1-a/2; k+1, n-k)`` (1 when ``k = n``), ``a = 1 - confidence``.

    References
    ----------
    Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated
    in the case of the binomial. Biometrika. 1934;26(4):404-413.

    Examples
    --------
    >>> share, low, high = clopper_pearson_ci(3, 10)
    >>> round(float(low), 4), round(float(high), 4)
    (0.0667, 0.6525)
    """
    alpha = 1 - _check_confidence(confidence)
    k, n = _as_float(count, total)
    n = np.where(n > 0, n, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        low = np.where(k > 0, stats.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    bad = np.isnan(p)
    return p, np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def poisson_ratio_ci(
    numerator: object, denominator: object, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio of two Poisson counts ``a / b`` with the exact conditional interval.

    Parameters
    ----------
    numerator, denominator : array-like
        The counts ``a`` and ``b``.
    confidence : float, default 0.95
        Two-sided level.

    Returns
    -------
    ratio, low, high : ndarray
        ``ratio`` is NaN when ``b = 0``; ``high`` is ``inf`` then (and ``low`` is
        0 when ``a = 0``); everything is NaN when ``a = b = 0``.

    Notes
    -----
    Given ``a + b``, ``a`` is binomial with ``p = λa / (λa + λb)``: the
    Clopper-Pearson interval for ``p`` transformed by ``p / (1 - p)`` is an exact
    (conservative) interval for the ratio of the Poisson means (the conditional
    binomial method; Clopper & Pearson 1934). To compare rates, multiply the
    ratio and its limits by the ratio of the denominators.

    Examples
    --------
    >>> ratio, low, high = poisson_ratio_ci(30, 10)
    >>> round(float(ratio), 1), round(float(low), 3), round(float(high), 3)
    (3.0, 1.427, 6.879)
    """
    a, b = _as_float(numerator, denominator)
    _, p_low, p_high = clopper_pearson_ci(a, a + b, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)
        low = p_low / (1 - p_low)
        high = np.where(p_high < 1, p_high / (1 - np.where(p_high < 1, p_high, 0)), np.inf)
    bad = (a + b) <= 0
    return (
        np.where(bad, np.nan, ratio),
        np.where(bad, np.nan, low),
        np.where(bad, np.nan, high),
    )


# ----------------------------------------------------------------------------- episodes


def _frame(episodes: pd.DataFrame | LoadResult) -> pd.DataFrame:
    frame = episodes.valid if isinstance(episodes, LoadResult) else episodes
    if not isinstance(frame, pd.DataFrame):
        raise InputError("episodes must be a DataFrame (LoadResult.valid of load_episodes).")
    needed = ["child_id", "oblast", "placement_type", "start_date", "end_date", "exit_reason"]
    missing = [c for c in needed if c not in frame.columns]
    if not ("birth_date" in frame.columns or "age_at_start" in frame.columns):
        missing.append("birth_date or age_at_start")
    if missing:
        raise InputError(
            f"episodes lack column(s) {', '.join(missing)}; pass LoadResult.valid of "
            "load_episodes (or make_episodes of the demo)."
        )
    return frame


def _completed_years(birth: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Completed years between two datetime64[D] arrays (birthday not reached: one less)."""
    b = pd.DatetimeIndex(birth)
    d = pd.DatetimeIndex(on)
    before = (d.month < b.month) | ((d.month == b.month) & (d.day < b.day))
    return (d.year - b.year - before.astype("float64")).to_numpy(dtype="float64")


def _age_on(prepared: pd.DataFrame, on: pd.Series | np.ndarray) -> np.ndarray:
    """Age in completed years on the given dates.

    From ``birth_date`` where known; otherwise ``age_at_start`` plus the completed
    years since the start (which may be one year short of the true age).
    """
    on = pd.to_datetime(pd.Series(np.asarray(on), index=prepared.index))
    birth = prepared["birth_date"]
    age = np.full(len(prepared), np.nan)
    known = birth.notna().to_numpy() & on.notna().to_numpy()
    if known.any():
        age[known] = _completed_years(birth.to_numpy()[known], on.to_numpy()[known])
    rest = ~known & on.notna().to_numpy()
    if rest.any():
        elapsed = _completed_years(prepared["start_date"].to_numpy()[rest], on.to_numpy()[rest])
        age[rest] = prepared["age_at_start"].to_numpy(dtype="float64")[rest] + elapsed
    return age


def _band(age: np.ndarray) -> np.ndarray:
    codes = np.searchsorted(_BAND_EDGES, age, side="right")
    return np.asarray(CHILD_BANDS, dtype=object)[np.clip(codes, 0, len(CHILD_BANDS) - 1)]


def _prepare(
    episodes: pd.DataFrame | LoadResult, by: Sequence[str], transfer_days: int
) -> pd.DataFrame:
    """Formal-care episodes of children (0-17 at entry) with entry flags and ages."""
    frame = _frame(episodes)
    kind = frame["placement_type"].astype("string")
    keep = kind.isin(FORMAL_CARE).fillna(False).to_numpy()
    birth = (
        pd.to_datetime(frame["birth_date"])
        if "birth_date" in frame.columns
        else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    )
    given_age = (
        pd.to_numeric(frame["age_at_start"], errors="coerce")
        if "age_at_start" in frame.columns
        else pd.Series(np.nan, index=frame.index)
    )
    prepared = pd.DataFrame(
        {
            "child_id": frame["child_id"].astype("string"),
            "oblast": frame["oblast"].astype("string"),
            "placement_type": kind,
            "start_date": pd.to_datetime(frame["start_date"]),
            "end_date": pd.to_datetime(frame["end_date"]),
            "birth_date": birth,
            "age_at_start": given_age.astype("float64"),
            "exit_reason": frame["exit_reason"].astype("string"),
        },
        index=frame.index,
    )
    if "sex" in by:
        prepared["sex"] = frame["sex"].astype("string")
    prepared = prepared.loc[keep].reset_index(drop=True)
    if prepared["start_date"].isna().any():
        raise InputError("some formal-care episodes have no start_date; pass validated episodes.")
    prepared["age_at_start"] = _age_on(prepared, prepared["start_date"])
    if prepared["age_at_start"].isna().any():
        raise InputError(
            "some formal-care episodes have neither birth_date nor age_at_start; "
            "pass validated episodes (load_episodes)."
        )
    for column in [c for c in by if c in ("oblast", "sex")]:
        if prepared[column].isna().any():
            raise InputError(
                f"by column {column!r} has missing values among formal-care episodes; "
                "fill or drop them first."
            )
    prepared = prepared.loc[prepared["age_at_start"] < _ADULT].reset_index(drop=True)
    prepared["residential"] = prepared["placement_type"].isin(RESIDENTIAL).to_numpy(dtype=bool)
    prepared["entry_kind"] = _kinds(prepared, transfer_days)
    prepared["is_entry"] = (prepared["entry_kind"] == "first_entry").to_numpy(dtype=bool)
    return prepared


def _kinds(part: pd.DataFrame, transfer_days: int) -> np.ndarray:
    """``first_entry``, ``re_entry`` or ``transfer`` for formal-care episodes (0..n-1 index).

    A transfer continues an earlier formal-care episode of the same child
    (:func:`_transfers`); of the others, the child's earliest formal-care episode
    is the first entry and any later one a re-entry.
    """
    transfer = _transfers(part, transfer_days)
    order = part.sort_values(["child_id", "start_date"], kind="stable").index
    before = np.zeros(len(part), dtype=bool)
    before[part.index.get_indexer(order)] = part.loc[order, "child_id"].duplicated().to_numpy()
    return np.where(transfer, "transfer", np.where(before, "re_entry", "first_entry"))


def _transfers(prepared: pd.DataFrame, transfer_days: int) -> np.ndarray:
    """Episodes continuing an earlier formal-care episode of the same child."""
    order = prepared.sort_values(["child_id", "start_date"], kind="stable").index
    sorted_ = prepared.loc[order]
    same_child = sorted_["child_id"].eq(sorted_["child_id"].shift()).to_numpy()
    previous_end = sorted_["end_date"].shift()
    previous_reason = sorted_["exit_reason"].shift()
    gap = (sorted_["start_date"] - previous_end).dt.days.to_numpy(dtype="float64", na_value=np.nan)
    moved = previous_reason.isin(_TRANSFER_REASONS).fillna(False).to_numpy(dtype=bool)
    transfer = same_child & ((gap == 0) | (moved & (gap >= 0) & (gap <= transfer_days)))
    out = np.zeros(len(prepared), dtype=bool)
    out[prepared.index.get_indexer(order)] = transfer
    return out


#: What starting an episode means for the child (:func:`entry_kinds`).
ENTRY_KINDS: tuple[str, ...] = ("first_entry", "re_entry", "transfer", "own_family")


def entry_kinds(episodes: pd.DataFrame | LoadResult, transfer_days: int = 30) -> pd.Series:
    """What each episode's start is: a child entering care, a transfer within care, or neither.

    Parameters
    ----------
    episodes : DataFrame or LoadResult
        Episodes with ``child_id, placement_type, start_date, end_date`` and
        (for transfers after a gap) ``exit_reason``.
    transfer_days : int, default 30
        Longest gap between an episode that ended with a move to foster,
        kinship or ЦНСТ care and the child's next one for the next to count as
        a transfer (a start on the day the previous episode ended always does).

    Returns
    -------
    Series
        Aligned with ``episodes`` (same index), categorical with the values of
        :data:`ENTRY_KINDS`:

        ``first_entry``
            the child's first episode of formal care (foster, kinship, ЦНСТ,
            institution): the child enters care away from the family;
        ``re_entry``
            a formal-care episode that continues no earlier one, after the
            child had been in formal care before (back in care after going
            home, for example);
        ``transfer``
            a move between two placements within formal care (see the module
            Definitions): not an entry into care;
        ``own_family``
            an own-family (``family``) episode: not care away from the family.

    Notes
    -----
    Episode starts over-count children entering care: in the demo data 2,758
    episodes start in 2025 while 2,076 children enter care away from their
    family for the first time (the other starts are transfers within care and
    own-family placements). "Entries" in the reports are first entries;
    transfers are reported separately. A register extract that starts
    mid-history cannot tell a first entry from a re-entry or a transfer for the
    episodes open when it starts; count entries only from the extract's start.
    Unlike :func:`care_indicators` no age limit is applied.

    Examples
    --------
    >>> episodes = pd.DataFrame({"child_id": ["a", "a", "b", "c"],
    ...     "placement_type": ["institution", "foster", "family", "cnst"],
    ...     "start_date": pd.to_datetime(["2020-01-01", "2020-06-01", "2020-02-01", "2020-03-01"]),
    ...     "end_date": pd.to_datetime(["2020-06-01", None, None, None]),
    ...     "exit_reason": ["foster", None, None, None]})
    >>> entry_kinds(episodes).tolist()
    ['first_entry', 'transfer', 'own_family', 'first_entry']
    """
    frame = episodes.valid if isinstance(episodes, LoadResult) else episodes
    if not isinstance(frame, pd.DataFrame):
        raise InputError("episodes must be a DataFrame (LoadResult.valid of load_episodes).")
    missing = [
        c for c in ("child_id", "placement_type", "start_date", "end_date") if c not in frame
    ]
    if missing:
        raise InputError(f"episodes lack column(s) {', '.join(missing)}; pass validated episodes.")
    formal = frame["placement_type"].astype("string").isin(FORMAL_CARE).fillna(False).to_numpy()
    part = pd.DataFrame(
        {
            "child_id": frame["child_id"].astype("string"),
            "start_date": pd.to_datetime(frame["start_date"]),
            "end_date": pd.to_datetime(frame["end_date"]),
            "exit_reason": (
                frame["exit_reason"].astype("string")
                if "exit_reason" in frame
                else pd.Series(pd.NA, index=frame.index, dtype="string")
            ),
        },
        index=frame.index,
    ).loc[formal]
    kind = _kinds(part.reset_index(drop=True), transfer_days)
    out = np.full(len(frame), "own_family", dtype=object)
    out[formal] = kind
    return pd.Series(
        pd.Categorical(out, categories=list(ENTRY_KINDS)), index=frame.index, name="entry_kind"
    )


# ----------------------------------------------------------------------------- counting


def _default_years(prepared: pd.DataFrame) -> list[int]:
    if prepared.empty:
        raise InputError("no formal-care episodes of children; nothing to count.")
    first = int(prepared["start_date"].dt.year.min())
    last = int(max(prepared["start_date"].max(), prepared["end_date"].max()).year)
    return list(range(first, last + 1))


def _events(prepared: pd.DataFrame, years: Sequence[int], by: Sequence[str]) -> pd.DataFrame:
    """One row per counted child-event: entries, the 31 December stocks and exits."""
    keys = [c for c in by if c != "age_band"]
    pieces = []
    start_year = prepared["start_date"].dt.year.to_numpy()
    entering = prepared["is_entry"].to_numpy() & np.isin(start_year, list(years))
    entries = prepared.loc[entering, keys].assign(
        year=start_year[entering],
        age_band=_band(prepared.loc[entering, "age_at_start"].to_numpy()),
        entries=1,
    )
    pieces.append(entries)
    for year in years:
        day = pd.Timestamp(year=int(year), month=12, day=31)
        ends = prepared["end_date"]
        inside = ((prepared["start_date"] <= day) & (ends.isna() | (ends > day))).to_numpy()
        part = prepared.loc[inside]
        age = _age_on(part, np.full(len(part), day.to_datetime64()))
        child = age < _ADULT
        part = part.loc[child]
        pieces.append(
            part[keys].assign(
                year=int(year),
                age_band=_band(age[child]),
                residential=part["residential"].astype("int64").to_numpy(),
                family_based=(~part["residential"]).astype("int64").to_numpy(),
            )
        )
    ended = prepared["residential"].to_numpy() & prepared["end_date"].notna().to_numpy()
    exits = prepared.loc[ended]
    exits = exits.loc[exits["end_date"].dt.year.isin(list(years))]
    last_day = np.maximum(exits["start_date"], exits["end_date"] - pd.Timedelta(days=1))
    reason = exits["exit_reason"]
    unknown = reason.isna().to_numpy()
    within = reason.isin(EXITS_WITHIN_RESIDENTIAL).fillna(False).to_numpy(dtype=bool)
    pieces.append(
        exits[keys].assign(
            year=exits["end_date"].dt.year.to_numpy(),
            age_band=_band(np.minimum(_age_on(exits, last_day), _ADULT - 1)),
            exits_family=reason.isin(EXITS_TO_FAMILY).fillna(False).to_numpy(dtype="int64"),
            exits_counted=(~unknown & ~within).astype("int64"),
            exits_unknown=unknown.astype("int64"),
        )
    )
    events = pd.concat(pieces, ignore_index=True)
    for column in _COUNTS:
        events[column] = events[column].fillna(0).astype("int64")
    return events


def _levels(prepared: pd.DataFrame, by: Sequence[str]) -> dict[str, list[str]]:
    levels = {}
    for column in by:
        if column == "age_band":
            levels[column] = list(CHILD_BANDS)
        else:
            levels[column] = sorted(prepared[column].dropna().unique().tolist())
    return levels


def _cube(
    events: pd.DataFrame, years: Sequence[int], by: Sequence[str], levels: dict[str, list[str]]
) -> pd.DataFrame:
    """Counts per year and every combination of by-levels, with total rows; zeros filled."""
    pieces = []
    for keep in itertools.product((True, False), repeat=len(by)):
        kept = [c for c, k in zip(by, keep, strict=True) if k]
        sums = events.groupby(["year", *kept], observed=True)[list(_COUNTS)].sum().reset_index()
        for column, k in zip(by, keep, strict=True):
            if not k:
                sums[column] = TOTALS[column]
        pieces.append(sums)
    table = pd.concat(pieces, ignore_index=True)
    if by:
        grid = pd.MultiIndex.from_product(
            [*(levels[c] + [TOTALS[c]] for c in by), list(years)], names=[*by, "year"]
        )
    else:
        grid = pd.Index(list(years), name="year")
    table = table.astype({c: object for c in by}).set_index([*by, "year"])[list(_COUNTS)]
    return table.reindex(grid, fill_value=0).reset_index()


# ----------------------------------------------------------------------------- denominators


def _denominators(
    population: pd.DataFrame | LoadResult | None, cube: pd.DataFrame, by: Sequence[str]
) -> tuple[np.ndarray, str | None]:
    """Population of each cube row (NaN where not given) and why there is none, if so."""
    nan = np.full(len(cube), np.nan)
    if population is None:
        return nan, "no denominator: no population table was given"
    frame = population.valid if isinstance(population, LoadResult) else population
    oblast = cube["oblast"] if "oblast" in by else pd.Series(NATIONAL, index=cube.index)
    band = cube["age_band"] if "age_band" in by else pd.Series(CHILD_AGE_BAND, index=cube.index)
    keys = pd.MultiIndex.from_arrays(
        [oblast.astype(str), cube["year"].astype("int64"), band.astype(str)]
    )
    if "sex" not in by:
        if "sex" in frame.columns:
            frame = frame.groupby(["oblast", "year", "age_band"], as_index=False)[
                "population"
            ].sum()
        table = population_denominators(frame)
        return table.reindex(keys).to_numpy(dtype="float64"), None
    if "sex" not in frame.columns:
        return nan, "no denominator: the population table is not by sex"
    values = nan.copy()
    sex = cube["sex"].astype(str).to_numpy()
    for level in np.unique(sex):
        part = (
            frame.groupby(["oblast", "year", "age_band"], as_index=False)["population"].sum()
            if level == TOTALS["sex"]
            else frame.loc[frame["sex"].astype(str) == level].drop(columns="sex")
        )
        if part.empty:
            continue
        rows = sex == level
        values[rows] = population_denominators(part).reindex(keys[rows]).to_numpy(dtype="float64")
    return values, None


def child_population(
    population: pd.DataFrame | LoadResult,
    years: Sequence[int],
    oblast: str = NATIONAL,
    band: str = CHILD_AGE_BAND,
) -> pd.Series:
    """Children of one age band in one oblast (or the country), for each year asked for.

    Parameters
    ----------
    population : DataFrame or LoadResult
        ``oblast, year, age_band, population`` (:func:`research_lib.io.population.load_population`),
        optionally by ``sex`` (summed here).
    years : sequence of int
        The years wanted.
    oblast : str, default "all"
        NUTS-3 code, or ``"all"`` for the country.
    band : str, default "0-17"
        ``"0-17"``, ``"0-3"``, ``"4-6"`` or ``"7-17"``.

    Returns
    -------
    Series
        Indexed by year, named ``population``; NaN where the table has no figure.

    Notes
    -----
    Totals are sums of complete sets of given figures only (never estimated):
    ``0-17`` is the given 0-17 figure, else ``0-3 + 4-6 + 7-17`` when all three
    are given; the country is the given ``all`` figure, else the sum of all 28
    oblasts (:func:`research_lib.stats.series.population_denominators`).

    Examples
    --------
    >>> pop = pd.DataFrame({"oblast": "BG311", "year": 2020, "age_band": ["0-3", "4-6", "7-17"],
    ...                     "population": [400, 300, 1100]})
    >>> child_population(pop, [2020, 2021], "BG311").tolist()
    [1800.0, nan]
    >>> child_population(pop, [2020], "BG311", band="0-3").tolist()
    [400.0]
    """
    frame = population.valid if isinstance(population, LoadResult) else population
    if "sex" in frame.columns:
        frame = frame.groupby(["oblast", "year", "age_band"], as_index=False)["population"].sum()
    table = population_denominators(frame)
    years = [int(y) for y in years]
    keys = pd.MultiIndex.from_arrays([[str(oblast)] * len(years), years, [str(band)] * len(years)])
    values = table.reindex(keys).to_numpy(dtype="float64")
    return pd.Series(values, index=pd.Index(years, name="year"), name="population")


# ----------------------------------------------------------------------------- indicators


def _per_label(per: int) -> str:
    if per >= 1000 and per % 1000 == 0:
        return f"per_{per // 1000}k"
    return f"per_{per}"


def _check_by(by: Sequence[str] | str, frame: pd.DataFrame) -> tuple[str, ...]:
    by = (by,) if isinstance(by, str) else tuple(by or ())
    unknown = [c for c in by if c not in BY_COLUMNS]
    if unknown or len(set(by)) != len(by):
        raise InputError(
            f"by={by!r}: use distinct columns among {', '.join(BY_COLUMNS)} (or () for national)."
        )
    if "sex" in by and "sex" not in frame.columns:
        raise InputError("by includes 'sex' but the episodes have no sex column.")
    return by


def care_indicators(
    episodes: pd.DataFrame | LoadResult,
    population: pd.DataFrame | LoadResult | None,
    years: Sequence[int] | None = None,
    by: Sequence[str] = ("oblast",),
    per: int = 100_000,
    confidence: float = 0.95,
    *,
    transfer_days: int = 31,
) -> pd.DataFrame:
    """Formal-care indicators per year and group, in a tidy long table.

    Parameters
    ----------
    episodes : DataFrame or LoadResult
        Placement episodes: ``child_id, oblast, placement_type, start_date,
        end_date, exit_reason`` and ``birth_date`` and/or ``age_at_start``
        (``sex`` too when ``by`` has it).
    population : DataFrame or LoadResult or None
        Child population ``oblast, year, [age_band], [sex], population`` (see
        :func:`research_lib.io.population.load_population`). ``None``: the per-100k
        indicators are NaN with method "no denominator" - never estimated.
    years : sequence of int, optional
        Calendar years; default from the first start year to the last year with
        a start or end date.
    by : sequence of str, default ("oblast",)
        Any of ``oblast``, ``age_band``, ``sex``; ``()`` gives national rows only.
        Every group also gets its total: ``oblast = "all"`` (national),
        ``age_band = "0-17"``, ``sex = "all"``.
    per : int, default 100_000
        Rates per this many children (TransMonEE: 100,000 aged 0-17); the
        indicator names follow it (``entries_per_100k``, ``entries_per_1k``).
    confidence : float, default 0.95
        Level of every interval.
    transfer_days : int, default 31
        A placement starting up to this many days after a formal-care episode of
        the same child that ended with a move to foster, kinship or ЦНСТ care is a
        transfer, not an entry (one starting on the day another ended always is).

    Returns
    -------
    DataFrame
        ``year, <by columns>, indicator, numerator, denominator, value, ci_low,
        ci_high, method``, ordered by indicator, groups, year:

        ===============================  ==================  =====================  ==========
        indicator                        numerator           denominator            value
        ===============================  ==================  =====================  ==========
        ``entries_per_100k``             entries in year     child population       rate
        ``in_care_per_100k``             in care at 31 Dec   child population       rate
        ``residential_to_family_ratio``  residential 31 Dec  family-based 31 Dec    ratio
        ``exits_residential_to_family``  exits to family     exits from resid.      share
        ===============================  ==================  =====================  ==========

        ``attrs["exits_unknown_reason"]``: residential exits left out of the
        exit shares because their reason is missing (all years, whole country).
        ``attrs["other_starts"]``: per year (whole country, 0-17 at the start),
        the formal-care episodes that are not entries: ``re_entries`` and
        ``transfers`` (see the module Definitions).

    Raises
    ------
    InputError
        Missing columns, an unknown ``by``, ``sex`` without a sex column, or no
        formal-care episodes.

    Notes
    -----
    *Counting.* Episodes are half-open ``[start_date, end_date)``: a child is in
    care at the end of 31 December when the episode started on or before that day
    and has no end date or ends after it (as
    :func:`research_lib.stats.series.episodes_to_series`). Validated episodes of a
    child never overlap, so episodes counted are children counted. Own-family
    (``family``) episodes and young people aged 18+ are excluded (see the module
    docstring). Groups are those present in the episodes; a year without events
    gives zero counts (the register says zero).

    *Rates.* Entries and children in care per ``per`` children of the oblast,
    year and age band (age at entry for entries, at 31 December for the stock;
    0-17 for all ages) with the exact Poisson (Garwood) interval of
    :func:`research_lib.stats.intervals.poisson_rate_ci`; the population is taken as
    known exactly. National and 0-17 denominators are sums of complete sets only.

    *Ratio.* Residential (ЦНСТ + institution) / family-based (foster + kinship)
    at 31 December. CI by the conditional binomial method: treating the two
    counts as Poisson, ``r | r + f`` is binomial; the Clopper-Pearson interval of
    ``p = r / (r + f)`` gives ``p / (1 - p)`` (:func:`poisson_ratio_ci`). With no
    child in family-based care the value is NaN and the upper limit infinite.

    *Exits.* Residential episodes ending in the year: ``numerator`` = exits to a
    family setting (reunified, adopted, foster, kinship), ``denominator`` = exits
    from residential care with a known destination - moves to another ЦНСТ are
    not exits from residential care, and exits with no recorded reason are left
    out (the row's method says how many). Value = share, Wilson interval. Age band
    = age on the last day in care.

    The older years of a register that starts in a given year under-count the
    stocks (children placed before it are missing); a year the data only partly
    cover under-counts the flows.

    References
    ----------
    * UNICEF (2021/2023). Data on children in alternative care: guidance on
      definitions and indicators / TransMonEE database conventions (rates per
      100,000 children aged 0-17; formal care = family-based + residential).
    * Garwood F. Fiducial limits for the Poisson distribution. Biometrika.
      1936;28:437-442.
    * Clopper CJ, Pearson ES. Biometrika. 1934;26(4):404-413.
    * Wilson EB. J Am Stat Assoc. 1927;22(158):209-212.

    Examples
    --------
    >>> from research_lib.demo.episodes import make_episodes, make_population
    >>> table = care_indicators(make_episodes(seed=1, n_children=2000), make_population(seed=1),
    ...                         years=[2024, 2025], by=())
    >>> table["indicator"].unique().tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['entries_per_100k', 'in_care_per_100k', 'residential_to_family_ratio',
     'exits_residential_to_family']
    """
    confidence = _check_confidence(confidence)
    if per <= 0:
        raise InputError(f"per={per!r} must be positive, e.g. 100_000.")
    frame = _frame(episodes)
    by = _check_by(by, frame)
    prepared = _prepare(frame, by, int(transfer_days))
    years = [int(y) for y in years] if years is not None else _default_years(prepared)
    cube = _cube(_events(prepared, years, by), years, by, _levels(prepared, by))
    population_values, why_none = _denominators(population, cube, by)
    head = cube[["year", *by]].reset_index(drop=True)
    label = _per_label(int(per))
    level = f"{confidence:.0%}"
    parts = [
        _rate_rows(
            head,
            cube["entries"],
            population_values,
            f"entries_{label}",
            "Children entering formal care (foster, kinship, ЦНСТ, institution) for the "
            "first time in the calendar year (first entries; re-entries and transfers "
            "between placements not counted), age at entry",
            per,
            confidence,
            level,
            why_none,
        ),
        _rate_rows(
            head,
            cube["residential"] + cube["family_based"],
            population_values,
            f"in_care_{label}",
            "Children in formal care (foster, kinship, ЦНСТ, institution) at 31 December, "
            "age at 31 December",
            per,
            confidence,
            level,
            why_none,
        ),
        _ratio_rows(head, cube, confidence, level),
        _exit_rows(head, cube, confidence, level),
    ]
    table = pd.concat(parts, ignore_index=True)
    table = table[["year", *by, *INDICATOR_COLUMNS]]
    table.attrs["exits_unknown_reason"] = int(
        cube.loc[(cube[list(by)] == pd.Series(TOTALS)[list(by)]).all(axis=1), "exits_unknown"].sum()
    )
    table.attrs["other_starts"] = _other_starts(prepared, years)
    return table


def _other_starts(prepared: pd.DataFrame, years: Sequence[int]) -> pd.DataFrame:
    """Re-entries and transfers per year (whole country): starts that are not entries."""
    year = prepared["start_date"].dt.year
    kind = prepared["entry_kind"]
    return pd.DataFrame(
        {
            "year": list(years),
            "re_entries": [int(((year == y) & (kind == "re_entry")).sum()) for y in years],
            "transfers": [int(((year == y) & (kind == "transfer")).sum()) for y in years],
        }
    )


def _rate_rows(
    head: pd.DataFrame,
    counts: pd.Series,
    population: np.ndarray,
    name: str,
    what: str,
    per: int,
    confidence: float,
    level: str,
    why_none: str | None,
) -> pd.DataFrame:
    numerator = counts.to_numpy(dtype="int64")
    value, low, high = poisson_rate_ci(numerator, population, per=per, confidence=confidence)
    method = np.where(
        np.isnan(population),
        why_none or "no denominator: the population table has no figure for this row",
        f"{what}, per {per:,} children of the same oblast, year and age band; "
        f"exact Poisson (Garwood) {level} CI",
    )
    return head.assign(
        indicator=name,
        numerator=numerator,
        denominator=population,
        value=value,
        ci_low=low,
        ci_high=high,
        method=method,
    )


def _ratio_rows(
    head: pd.DataFrame, cube: pd.DataFrame, confidence: float, level: str
) -> pd.DataFrame:
    r = cube["residential"].to_numpy(dtype="int64")
    f = cube["family_based"].to_numpy(dtype="int64")
    value, low, high = poisson_ratio_ci(r, f, confidence)
    return head.assign(
        indicator="residential_to_family_ratio",
        numerator=r,
        denominator=f.astype("float64"),
        value=value,
        ci_low=low,
        ci_high=high,
        method="Children in residential care (ЦНСТ, institution) / children in family-based "
        "care (foster, kinship) at 31 December; exact conditional "
        f"{level} CI (Clopper-Pearson on r/(r+f), transformed to p/(1-p))",
    )


def _exit_rows(
    head: pd.DataFrame, cube: pd.DataFrame, confidence: float, level: str
) -> pd.DataFrame:
    k = cube["exits_family"].to_numpy(dtype="int64")
    n = cube["exits_counted"].to_numpy(dtype="int64")
    unknown = cube["exits_unknown"].to_numpy(dtype="int64")
    value, low, high = wilson_ci(k, n, confidence)
    base = (
        "Exits from residential care in the year to a family setting (reunified, adopted, "
        "foster, kinship; numerator = count) as a share of exits from residential care "
        f"(moves to another ЦНСТ not counted); Wilson {level} CI"
    )
    note = pd.Series(unknown).map(
        lambda u: f"; {u} exit(s) with no recorded reason left out" if u else ""
    )
    return head.assign(
        indicator="exits_residential_to_family",
        numerator=k,
        denominator=n.astype("float64"),
        value=value,
        ci_low=low,
        ci_high=high,
        method=(base + note).to_numpy(dtype=object),
    )
