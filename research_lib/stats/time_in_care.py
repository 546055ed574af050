"""Time in care: how long placement episodes last, and how children leave them.

Works on placement episodes, one row per episode, in the canonical layout
``child_id, oblast, placement_type, start_date, end_date, age_at_start,
exit_reason`` (``end_date`` is ``NaT`` and ``exit_reason`` is missing while an
episode is ongoing). Only the columns a function needs are required.

* :func:`durations` - time from the start of each episode to its end, or to the
  ``as_of`` date for ongoing (right-censored) episodes, and the event flag.
* :func:`time_in_care` - Kaplan-Meier median and quartiles of time in a
  placement, with Brookmeyer-Crowley confidence intervals, per group.
* :func:`exit_pathways` - cumulative incidence of each exit reason (reunified,
  adopted, moved to foster care, ...) with the other reasons as competing
  events: the Aalen-Johansen estimator, e.g. "the share reunified within 12
  months".
* :func:`survival_curves` and :func:`plot_time_in_care` - tidy Kaplan-Meier
  curves with pointwise confidence bands, and a step plot of them. For
  researchers exploring episode records only: the curves show risk sets down to
  one child and are not disclosure-checked, so no report publishes them (the
  placement study publishes the medians of :func:`time_in_care`).

The unit of analysis is the *episode* (a stay in one placement): a move from an
institution to foster care ends the institutional episode with exit reason
``foster`` and starts a new one. :func:`join_spells` joins a child's
consecutive episodes of the *same* placement type (a transfer between two
foster families, two ЦНСТ) into one spell, so the unit becomes the child's
stay in that type of care.

Left truncation: a register extract that starts mid-history holds only the
episodes still open at its first date. :func:`left_truncate` marks them with
``observed_from`` (delayed entry): each episode counts in the risk set only
from that date, in the Kaplan-Meier (lifelines ``entry=``) and in the
Aalen-Johansen estimates, so long stays are not over-represented.

Examples
--------
>>> import pandas as pd
>>> episodes = pd.DataFrame({
...     "placement_type": ["foster"] * 4,
...     "start_date": pd.to_datetime(["2020-01-01"] * 4),
...     "end_date": pd.to_datetime(["2020-01-11", "2020-01-21", "2020-01-31", None]),
...     "exit_reason": ["reunified", "adopted", "reunified", None]})
>>> table = time_in_care(episodes, as_of="2020-12-31", unit="days")
>>> table[["placement_type", "n", "events", "censored", "median"]]
  placement_type  n  events  censored  median
0         foster  4       3         1    20.0
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import qth_survival_times
from scipy import stats

from research_lib.errors import InputError
from research_lib.io.vocab import EXIT_REASONS

__all__ = [
    "EXIT_REASONS",
    "UNKNOWN_REASON",
    "UNITS",
    "COHORT_COLUMN",
    "ENTRY_COLUMN",
    "durations",
    "left_truncate",
    "join_spells",
    "first_spells",
    "observation_start",
    "time_in_care",
    "exit_pathways",
    "survival_curves",
    "plot_time_in_care",
]

#: Exit reason given to an ended episode whose ``exit_reason`` is missing.
UNKNOWN_REASON = "unknown"
#: Days per unit of ``duration``: a month is 365.25 / 12 = 30.4375 days.
UNITS: dict[str, float] = {"days": 1.0, "months": 30.4375, "years": 365.25}
#: Name of the entry-cohort column added when ``cohort_freq`` is given.
COHORT_COLUMN = "entry_cohort"
#: Optional column: the date an episode came under observation (delayed entry).
ENTRY_COLUMN = "observed_from"

_DATE_COLUMNS = ("start_date", "end_date")
_CURVE_COLUMNS = ("time", "survival", "ci_low", "ci_high", "at_risk")
# Quantile name -> survival level: "q25" is the time by which 25% have left.
_QUANTILES = {"median": 0.5, "q25": 0.75, "q75": 0.25}
# Survival values are rounded before comparing with a level so that a curve
# reaching exactly 0.5 in exact arithmetic is not missed by floating-point noise.
_DECIMALS = 12
_COHORT_FREQ = re.compile(r"^\s*(\d*)\s*(YS|Y|YE|AS|A)(-[A-Z]{3})?\s*$", re.IGNORECASE)


# --------------------------------------------------------------------------- #
# Durations
# --------------------------------------------------------------------------- #
def durations(
    episodes: pd.DataFrame, as_of: str | pd.Timestamp, unit: str = "months"
) -> pd.DataFrame:
    """Duration of each episode up to ``as_of``, and whether it had ended.

    Parameters
    ----------
    episodes : pandas.DataFrame
        One row per episode with ``start_date`` and ``end_date`` (dates or
        strings pandas can parse; a missing ``end_date`` means ongoing).
    as_of : str or pandas.Timestamp
        The date the data describe (the extract date): follow-up stops here.
    unit : {"days", "months", "years"}
        Unit of ``duration``: days, months of 30.4375 days (365.25 / 12) or
        years of 365.25 days.

    Returns
    -------
    pandas.DataFrame
        A copy of ``episodes`` without the episodes that start after
        ``as_of``, with two columns added:

        ``duration``
            From ``start_date`` to ``end_date``, or to ``as_of`` when the
            episode is ongoing or ends after ``as_of``, in ``unit``.
        ``event``
            1 when the episode ended on or before ``as_of``, 0 when it is
            censored at ``as_of``.

        ``attrs`` records ``as_of``, ``unit``, ``n_excluded_after_as_of`` and
        ``excluded_after_as_of`` (the index labels of the excluded episodes,
        as a tuple), so that nothing is dropped without a trace.

    Raises
    ------
    InputError
        If ``episodes`` is empty, lacks ``start_date``/``end_date``, has a
        missing or unreadable date, an episode ending before it starts, an
        unknown ``unit`` or an unreadable ``as_of``.

    Notes
    -----
    Episodes starting after ``as_of`` were not yet in care on that date: they
    are left out, and counted in ``attrs``, rather than given a negative
    duration. An ``end_date`` after ``as_of`` is treated as unknown on
    ``as_of``: the episode is censored there, as an ongoing one is. An episode
    starting and ending on the same day has duration 0 and ``event`` 1.

    Examples
    --------
    >>> import pandas as pd
    >>> episodes = pd.DataFrame({
    ...     "start_date": pd.to_datetime(["2020-01-01", "2020-01-01", "2021-06-01"]),
    ...     "end_date": pd.to_datetime(["2020-01-31", None, None])})
    >>> out = durations(episodes, as_of="2020-03-01", unit="days")
    >>> out[["duration", "event"]]
       duration  event
    0      30.0      1
    1      60.0      0
    >>> out.attrs["n_excluded_after_as_of"]
    1
    """
    _check_frame(episodes, _DATE_COLUMNS)
    days_per_unit = _days_per_unit(unit)
    as_of = _as_timestamp(as_of)
    start = _dates(episodes["start_date"], "start_date", allow_missing=False)
    end = _dates(episodes["end_date"], "end_date", allow_missing=True)
    _check_order(episodes, start, end)

    late = (start > as_of).to_numpy()
    ended = (end.notna() & (end <= as_of)).to_numpy()
    stop = end.where(ended, as_of)
    days = ((stop - start) / pd.Timedelta(days=1)).to_numpy(float)
    out = episodes.loc[~late].copy()
    out["duration"] = days[~late] / days_per_unit
    out["event"] = ended[~late].astype(int)
    out["entry"] = 0.0
    if ENTRY_COLUMN in episodes.columns:
        seen = _dates(episodes[ENTRY_COLUMN], ENTRY_COLUMN, allow_missing=True)
        delay = ((seen - start) / pd.Timedelta(days=1)).clip(lower=0).fillna(0).to_numpy(float)
        if (delay > days).any():
            raise InputError(
                f"{int((delay > days).sum())} episode(s) end before {ENTRY_COLUMN}: an episode "
                "that ended before observation began is not in the data (use left_truncate)."
            )
        out["entry"] = delay[~late] / days_per_unit
    out.attrs = {
        "as_of": as_of,
        "unit": unit,
        "n_excluded_after_as_of": int(late.sum()),
        "excluded_after_as_of": tuple(episodes.index[late]),
    }
    return out


def left_truncate(episodes: pd.DataFrame, window_start: str | pd.Timestamp) -> pd.DataFrame:
    """Episodes as a register extract starting at ``window_start`` would hold them.

    Episodes that ended before ``window_start`` are dropped (such an extract
    never sees them); the others get ``observed_from = max(start_date,
    window_start)``, the delayed entry used by every estimate of this module.

    Examples
    --------
    >>> episodes = pd.DataFrame({
    ...     "start_date": pd.to_datetime(["2015-01-01", "2015-01-01", "2021-03-01"]),
    ...     "end_date": pd.to_datetime(["2016-01-01", "2022-01-01", None])})
    >>> left_truncate(episodes, "2020-01-01")["observed_from"].dt.year.tolist()
    [2020, 2021]
    """
    _check_frame(episodes, _DATE_COLUMNS)
    window = _as_timestamp(window_start)
    start = _dates(episodes["start_date"], "start_date", allow_missing=False)
    end = _dates(episodes["end_date"], "end_date", allow_missing=True)
    keep = (end.isna() | (end >= window)).to_numpy()
    out = episodes.loc[keep].copy()
    out[ENTRY_COLUMN] = start[keep].where(start[keep] > window, window)
    out.attrs = {
        **episodes.attrs,
        "window_start": window,
        "n_ended_before_window": int((~keep).sum()),
    }
    return out


def join_spells(episodes: pd.DataFrame, gap_days: int = 30) -> pd.DataFrame:
    """Join a child's consecutive episodes of the same placement type into one spell.

    A move between two services of the same type (one foster family to
    another, one ЦНСТ to another) is not a way out of that care: the next
    episode of the same child and type starting at most ``gap_days`` after the
    previous one ended continues the spell. The spell keeps the first start
    date and the last end date and exit reason; ``n_episodes`` counts the
    episodes joined.

    Examples
    --------
    >>> episodes = pd.DataFrame({"child_id": ["a", "a", "a"],
    ...     "placement_type": ["foster", "foster", "institution"],
    ...     "start_date": pd.to_datetime(["2020-01-01", "2020-06-10", "2021-01-01"]),
    ...     "end_date": pd.to_datetime(["2020-06-01", "2020-12-01", None]),
    ...     "exit_reason": ["foster", "cnst", None]})
    >>> join_spells(episodes)[["placement_type", "n_episodes"]].values.tolist()
    [['foster', 2], ['institution', 1]]
    """
    _check_frame(episodes, [*_DATE_COLUMNS, "child_id", "placement_type"])
    frame = episodes.assign(
        start_date=_dates(episodes["start_date"], "start_date", allow_missing=False),
        end_date=_dates(episodes["end_date"], "end_date", allow_missing=True),
    ).sort_values(["child_id", "start_date"], kind="stable")
    kind = frame["placement_type"].astype(str)
    same = frame["child_id"].eq(frame["child_id"].shift()) & kind.eq(kind.shift())
    gap = (frame["start_date"] - frame["end_date"].shift()).dt.days
    continues = (same & gap.between(0, gap_days)).fillna(False).to_numpy(dtype=bool)
    spell = np.cumsum(~continues)  # numpy: pyarrow-backed booleans have no cumsum
    groups = frame.groupby(spell, sort=False)
    out = groups.head(1).copy()
    last = groups.tail(1)
    for column in ("end_date", "exit_reason"):
        if column in frame:
            out[column] = last[column].to_numpy()
    out["n_episodes"] = groups.size().to_numpy()
    return out.reset_index(drop=True)


def first_spells(spells: pd.DataFrame, by: str | Sequence[str] = "placement_type") -> pd.DataFrame:
    """Each child's first spell in each group: the child becomes the unit of analysis.

    A child may have two spells in the same type of care (foster care, then a
    ЦНСТ, then foster care again); counting both weights children who move
    more. Keeping each child's first spell of each type makes ``n`` a number
    of children, so "half of the children in ЦНСТ stay more than X months"
    says what was estimated. ``attrs["n_later_spells"]`` counts the spells
    left out.

    Examples
    --------
    >>> spells = pd.DataFrame({"child_id": ["a", "a", "a", "b"],
    ...     "placement_type": ["foster", "cnst", "foster", "foster"],
    ...     "start_date": pd.to_datetime(["2020-01-01", "2020-06-01", "2021-01-01", "2020-02-01"])})
    >>> first = first_spells(spells)
    >>> first[["child_id", "placement_type"]].values.tolist(), first.attrs["n_later_spells"]
    ([['a', 'foster'], ['a', 'cnst'], ['b', 'foster']], 1)
    """
    groups = _group_columns(by)
    _check_frame(spells, ["child_id", "start_date", *groups])
    order = spells.assign(_start=_dates(spells["start_date"], "start_date", allow_missing=False))
    order = order.sort_values(["child_id", "_start"], kind="stable")
    keep = ~order.duplicated(["child_id", *groups])
    out = spells.loc[order.index[keep.to_numpy()]].sort_index()
    out.attrs = {**spells.attrs, "n_later_spells": int((~keep).sum())}
    return out


def observation_start(episodes: pd.DataFrame, min_lead_days: int = 365) -> pd.Timestamp | None:
    """The first day of a register extract that starts mid-history, or ``None``.

    An extract taken from a date ``W`` holds the episodes open at ``W`` (begun
    before it) and those begun after it; it holds no exit before ``W``. The
    first recorded end date estimates ``W``. When some episode began more than
    ``min_lead_days`` before that first exit, the history before it is
    incomplete (short stays that began then have already ended and are
    missing): the date is returned, for :func:`left_truncate`. Otherwise the
    records look complete from their first start and ``None`` is returned.
    Delayed entry at a date the episode is known to be open is valid in either
    case; the threshold only keeps complete histories as they are.

    Examples
    --------
    >>> episodes = pd.DataFrame({
    ...     "start_date": pd.to_datetime(["2012-05-01", "2015-02-01", "2015-03-01"]),
    ...     "end_date": pd.to_datetime([None, "2015-04-01", None])})
    >>> observation_start(episodes)
    Timestamp('2015-04-01 00:00:00')
    >>> observation_start(episodes.iloc[1:]) is None
    True
    """
    _check_frame(episodes, _DATE_COLUMNS)
    start = _dates(episodes["start_date"], "start_date", allow_missing=False)
    end = _dates(episodes["end_date"], "end_date", allow_missing=True).dropna()
    if end.empty or start.empty:
        return None
    first_exit = end.min()
    lead = (first_exit - start.min()).days
    return pd.Timestamp(first_exit) if lead > min_lead_days else None


# --------------------------------------------------------------------------- #
# Kaplan-Meier summaries
# --------------------------------------------------------------------------- #
def time_in_care(
    episodes: pd.DataFrame,
    by: str | Sequence[str] | None = "placement_type",
    as_of: str | pd.Timestamp | None = None,
    confidence: float = 0.95,
    cohort_freq: str | int | None = None,
    *,
    unit: str = "months",
) -> pd.DataFrame:
    """Median and quartiles of time in placement, by group (Kaplan-Meier).

    Parameters
    ----------
    episodes : pandas.DataFrame
        One row per episode with ``start_date``, ``end_date`` and the ``by``
        columns.
    by : str, sequence of str or None
        Grouping column(s); ``None`` or ``[]`` pools all episodes.
    as_of : str, pandas.Timestamp or None
        End of follow-up (see :func:`durations`). ``None`` takes the latest
        start or end date in the data, which assumes the extract is complete
        up to that day: pass the extract date when it is known.
    confidence : float
        Confidence level of the intervals, between 0 and 1.
    cohort_freq : str, int or None
        Also group by entry cohort, the year of ``start_date``: ``"YS"`` (or
        ``1``) for single years labelled ``"2015"``, ``"5YS"`` (or ``5``) for
        calendar-aligned 5-year bins labelled ``"2010-2014"``. Added as an
        ordered categorical column ``entry_cohort`` after the ``by`` columns.
    unit : {"days", "months", "years"}
        Unit of the times in the output (keyword only).

    Returns
    -------
    pandas.DataFrame
        One row per group, in group order: the group columns, then ``n``
        (episodes), ``events`` (ended by ``as_of``), ``censored``, ``median``,
        ``median_ci_low``, ``median_ci_high``, ``q25``, ``q25_ci_low``,
        ``q25_ci_high``, ``q75``, ``q75_ci_low``, ``q75_ci_high`` and
        ``method``. ``q25`` is the time by which 25% of episodes have ended
        (S(t) <= 0.75) and ``q75`` the time by which 75% have (S(t) <= 0.25).
        A quantile or limit the curve does not reach is NaN, never
        extrapolated. ``attrs`` records ``as_of``, ``unit``, ``confidence``
        and ``n_excluded_after_as_of``.

    Raises
    ------
    InputError
        For the reasons :func:`durations` gives, a ``by`` column missing, a
        ``confidence`` outside (0, 1) or an unknown ``cohort_freq``.

    Notes
    -----
    The survival function S(t), the probability that an episode is still
    ongoing t after it started, is estimated by Kaplan & Meier (1958):
    S(t) = prod over event times t_j <= t of (1 - d_j / n_j), with d_j episodes
    ending at t_j out of n_j still ongoing just before it. Its variance is
    Greenwood's, Var S(t) = S(t)^2 sum d_j / (n_j (n_j - d_j)), and pointwise
    intervals are computed for log(-log S(t)) and transformed back, so they
    stay within [0, 1] (lifelines' ``KaplanMeierFitter``).

    The p-quantile is the smallest observed time with S(t) <= 1 - p (the
    convention of lifelines; SAS and statsmodels require S(t) < 1 - p, R's
    ``survival`` averages two times when S(t) equals 1 - p on an interval).
    Its confidence interval is that of Brookmeyer & Crowley (1982), obtained
    by inverting the pointwise log-log intervals: the lower limit is the first
    time the lower band reaches 1 - p, the upper limit the first time the upper
    band does (``lifelines.utils.qth_survival_times`` on the band, made
    monotone). With heavy censoring the upper limit, and the median itself,
    may not be reached; they are then NaN ("not reached"). The tests check
    the result against statsmodels' ``SurvfuncRight.quantile_ci``.

    Time in care is censored for ongoing episodes, so the median of the
    observed durations would be biased downwards; the Kaplan-Meier median is
    not, provided censoring is independent of the time still to be spent in
    care.

    References
    ----------
    Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from
    incomplete observations. JASA, 53(282), 457-481.

    Brookmeyer, R., & Crowley, J. (1982). A confidence interval for the median
    survival time. Biometrics, 38(1), 29-41.

    Examples
    --------
    >>> import pandas as pd
    >>> episodes = pd.DataFrame({
    ...     "start_date": pd.to_datetime(["2019-03-01", "2019-05-01", "2020-02-01"]),
    ...     "end_date": pd.to_datetime(["2020-03-01", None, "2020-08-01"])})
    >>> table = time_in_care(episodes, by=None, as_of="2021-01-01", cohort_freq="YS")
    >>> table[["entry_cohort", "n", "events", "median"]].round(1)
      entry_cohort  n  events  median
    0         2019  2       1    12.0
    1         2020  1       1     6.0
    """
    _z(confidence)
    data, groups, info = _prepare(episodes, by, as_of, unit, cohort_freq)
    rows = []
    for key, part in _iter_groups(data, groups):
        kmf = _fit_km(part, confidence)
        rows.append({**key, **_counts(part), **_quantiles(kmf)})
    table = pd.DataFrame(rows)
    table["method"] = _km_method(info, confidence)
    return _finish(table, groups, info, confidence)


def survival_curves(
    episodes: pd.DataFrame,
    by: str | Sequence[str] | None = "placement_type",
    as_of: str | pd.Timestamp | None = None,
    confidence: float = 0.95,
    cohort_freq: str | int | None = None,
    *,
    unit: str = "months",
) -> pd.DataFrame:
    """Kaplan-Meier curves per group as a tidy table, for plotting.

    Parameters
    ----------
    episodes, by, as_of, confidence, cohort_freq, unit
        As in :func:`time_in_care`.

    Returns
    -------
    pandas.DataFrame
        One row per group and time (0 and every observed end or censoring
        time): the group columns, ``time``, ``survival`` (share of episodes
        still ongoing), ``ci_low``, ``ci_high`` (pointwise log-log Greenwood
        interval) and ``at_risk`` (episodes ongoing just before ``time``).
        ``attrs`` as in :func:`time_in_care`.

    Notes
    -----
    Each curve stops at the group's last observed time: beyond it nothing is
    known and nothing is drawn. See :func:`time_in_care` for the estimator.

    Examples
    --------
    >>> import pandas as pd
    >>> episodes = pd.DataFrame({
    ...     "placement_type": ["cnst", "cnst"],
    ...     "start_date": pd.to_datetime(["2020-01-01", "2020-01-01"]),
    ...     "end_date": pd.to_datetime(["2020-01-11", None])})
    >>> curves = survival_curves(episodes, as_of="2020-01-21", unit="days")
    >>> curves[["placement_type", "time", "survival", "at_risk"]]
      placement_type  time  survival  at_risk
    0           cnst   0.0       1.0        2
    1           cnst  10.0       0.5        2
    2           cnst  20.0       0.5        1
    """
    _z(confidence)
    data, groups, info = _prepare(episodes, by, as_of, unit, cohort_freq)
    frames = []
    for key, part in _iter_groups(data, groups):
        curve = _curve(_fit_km(part, confidence))
        for column, value in key.items():
            curve[column] = value
        frames.append(curve)
    table = pd.concat(frames, ignore_index=True)
    return _finish(table[[*groups, *_CURVE_COLUMNS]], groups, info, confidence)


# --------------------------------------------------------------------------- #
# Competing exits
# --------------------------------------------------------------------------- #
def exit_pathways(
    episodes: pd.DataFrame,
    by: str | Sequence[str] | None = "placement_type",
    as_of: str | pd.Timestamp | None = None,
    horizons: Sequence[float] = (6, 12, 24),
    reasons: Sequence[str] | None = None,
    confidence: float = 0.95,
    *,
    unit: str = "months",
    cohort_freq: str | int | None = None,
) -> pd.DataFrame:
    """Cumulative incidence of each exit reason, with the other exits competing.

    Parameters
    ----------
    episodes : pandas.DataFrame
        One row per episode with ``start_date``, ``end_date``, ``exit_reason``
        and the ``by`` columns.
    by, as_of, confidence, cohort_freq, unit
        As in :func:`time_in_care`.
    horizons : sequence of float
        Times since the start of the episode, in ``unit``, at which to report
        the cumulative incidence (e.g. 12 for "within 12 months").
    reasons : sequence of str or None
        Exit reasons to report. ``None`` reports every reason observed, in the
        order of :data:`EXIT_REASONS` and then alphabetically. Every exit
        counts as a competing event whether reported or not.

    Returns
    -------
    pandas.DataFrame
        One row per group x reason x horizon: the group columns, ``reason``,
        ``horizon``, ``n`` (episodes in the group), ``events`` (exits for this
        reason observed by the horizon), ``cumulative_incidence`` (the share
        of episodes that end for this reason within ``horizon``), ``ci_low``,
        ``ci_high`` and ``method``. The estimate is NaN at a horizon beyond the
        group's follow-up (nobody left under observation while the all-cause
        survival is still above 0).

    Raises
    ------
    InputError
        For the reasons :func:`time_in_care` gives, no ``exit_reason`` column,
        no horizons or a negative one, or a requested reason that is neither
        canonical nor in the data.

    Notes
    -----
    Every exit reason is an event of its own kind, including moves to another
    placement (``foster``, ``kinship``, ``cnst``): these end the episode, and
    the child can no longer be reunified *from this placement*. An episode
    that ended without a recorded reason counts as reason ``"unknown"``
    (reported like the others, so the reasons always add up); an
    ``exit_reason`` on an episode without ``end_date`` (or ending after
    ``as_of``) is ignored: the episode is censored.

    With competing exits, the Aalen-Johansen estimator (Aalen & Johansen
    1978) of the cumulative incidence of reason k is
    F_k(t) = sum over t_j <= t of S(t_j-) d_kj / n_j, where S is the
    all-cause Kaplan-Meier estimate, d_kj the exits for reason k at t_j and
    n_j the episodes ongoing just before t_j. The F_k add up to 1 - S(t).

    One minus the Kaplan-Meier estimate with the other reasons treated as
    censored overstates F_k (Putter, Fiocco & Geskus 2007): it estimates the
    share who would leave for reason k in a world where the other exits were
    impossible, counting the children adopted or moved to foster care as if
    they could still be reunified later.

    The variance is the delta-method (Greenwood-type) estimator of Marubini &
    Valsecchi (1995), as in SAS ``PROC LIFETEST`` and lifelines'
    ``AalenJohansenFitter``; without censoring it reduces to the binomial
    F(1 - F) / n. The interval is computed for log(-log F_k(t)) and
    transformed back. When F_k(t) = 0 the interval is [0, NaN] (the upper
    limit is not estimable), when F_k(t) = 1 it is [NaN, 1]. Tied times are
    handled exactly, without the random jitter lifelines uses.

    References
    ----------
    Aalen, O. O., & Johansen, S. (1978). An empirical transition matrix for
    non-homogeneous Markov chains based on censored observations.
    Scandinavian Journal of Statistics, 5(3), 141-150.

    Putter, H., Fiocco, M., & Geskus, R. B. (2007). Tutorial in biostatistics:
    competing risks and multi-state models. Statistics in Medicine, 26(11),
    2389-2430.

    Marubini, E., & Valsecchi, M. G. (1995). Analysing Survival Data from
    Clinical Trials and Observational Studies. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> episodes = pd.DataFrame({
    ...     "start_date": pd.to_datetime(["2020-01-01"] * 4),
    ...     "end_date": pd.to_datetime(["2020-01-11", "2020-01-21", "2020-01-31", None]),
    ...     "exit_reason": ["reunified", "adopted", "reunified", None]})
    >>> table = exit_pathways(episodes, by=None, as_of="2020-12-31", horizons=[15, 60],
    ...                       unit="days")
    >>> table[["reason", "horizon", "events", "cumulative_incidence"]]
          reason  horizon  events  cumulative_incidence
    0  reunified     15.0       1                  0.25
    1  reunified     60.0       2                  0.50
    2    adopted     15.0       0                  0.00
    3    adopted     60.0       1                  0.25
    """
    z = _z(confidence)
    horizons = _horizons(horizons)
    data, groups, info = _prepare(episodes, by, as_of, unit, cohort_freq, ("exit_reason",))
    data["_reason"] = _exit_reasons(data)
    reasons = _reasons(data["_reason"], reasons)
    rows = []
    for key, part in _iter_groups(data, groups):
        for row in _aalen_johansen(part, reasons, horizons, z):
            rows.append({**key, "n": len(part), **row})
    table = pd.DataFrame(rows)
    table["method"] = _aj_method(info, confidence)
    return _finish(table, groups, info, confidence)


# --------------------------------------------------------------------------- #
# Plot
# --------------------------------------------------------------------------- #
def plot_time_in_care(
    curves: pd.DataFrame,
    ax: Any = None,
    palette: dict[str, Any] | None = None,
    labels: dict[str, Any] | None = None,
) -> Any:
    """Step plot of Kaplan-Meier curves with confidence bands, one colour per group.

    Parameters
    ----------
    curves : pandas.DataFrame
        Output of :func:`survival_curves`; every column other than ``time``,
        ``survival``, ``ci_low``, ``ci_high``, ``at_risk`` is a group column.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    palette : dict, optional
        Colour per group label (the group values joined by ``" | "``, e.g.
        ``"foster"`` or ``"foster | 2015"``); other groups take the next
        colour of the matplotlib cycle.
    labels : dict, optional
        Text for the reader, e.g. in Bulgarian: ``"x"``, ``"y"``, ``"title"``,
        ``"legend"`` (legend title) and ``"groups"`` (a dict from group label
        to display name). Missing keys fall back to English.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> curves = pd.DataFrame({"placement_type": ["foster"] * 3, "time": [0.0, 5.0, 9.0],
    ...                        "survival": [1.0, 0.5, 0.5], "ci_low": [1.0, 0.1, 0.1],
    ...                        "ci_high": [1.0, 0.9, 0.9], "at_risk": [2, 2, 1]})
    >>> ax = plot_time_in_care(curves, labels={"y": "Все още в услугата"})
    >>> ax.get_ylabel()
    'Все още в услугата'
    """
    import matplotlib.pyplot as plt

    missing = [c for c in _CURVE_COLUMNS if c not in curves.columns]
    if missing:
        raise InputError(f"curves lacks column(s) {missing}; pass the output of survival_curves")
    palette = palette or {}
    labels = labels or {}
    names = labels.get("groups", {})
    groups = [c for c in curves.columns if c not in _CURVE_COLUMNS]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, (label, part) in enumerate(_curve_groups(curves, groups)):
        colour = palette.get(label, cycle[i % len(cycle)])
        time = part["time"].to_numpy(float)
        ax.step(time, part["survival"], where="post", color=colour, label=names.get(label, label))
        ax.fill_between(
            time, part["ci_low"], part["ci_high"], step="post", color=colour, alpha=0.2, lw=0
        )
    unit = curves.attrs.get("unit", "months")
    ax.set_xlabel(labels.get("x", f"Time since placement start ({unit})"))
    ax.set_ylabel(labels.get("y", "Share still in placement"))
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    if "title" in labels:
        ax.set_title(labels["title"])
    if groups:
        ax.legend(title=labels.get("legend", " | ".join(groups)), frameon=False)
    return ax


# --------------------------------------------------------------------------- #
# Input checks and preparation
# --------------------------------------------------------------------------- #
def _check_frame(episodes: Any, columns: Sequence[str]) -> None:
    if not isinstance(episodes, pd.DataFrame):
        raise InputError(f"episodes must be a pandas DataFrame, got {type(episodes).__name__}")
    if episodes.empty:
        raise InputError("episodes is empty; pass at least one placement episode")
    missing = [c for c in columns if c not in episodes.columns]
    if missing:
        raise InputError(
            f"episodes lacks column(s) {missing}; columns are {list(episodes.columns)}"
        )


def _days_per_unit(unit: str) -> float:
    if unit not in UNITS:
        raise InputError(f"unit must be one of {list(UNITS)}, got {unit!r}")
    return UNITS[unit]


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _as_timestamp(as_of: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(as_of)
    except (TypeError, ValueError) as error:
        raise InputError(f"as_of must be a date such as '2024-12-31', got {as_of!r}") from error
    if pd.isna(stamp):
        raise InputError(f"as_of must be a date such as '2024-12-31', got {as_of!r}")
    return stamp


def _dates(values: pd.Series, name: str, *, allow_missing: bool) -> pd.Series:
    try:
        dates = pd.to_datetime(values, errors="coerce")
    except (TypeError, ValueError) as error:
        raise InputError(f"column {name!r} cannot be read as dates: {error}") from error
    unreadable = dates.isna() & values.notna()
    if unreadable.any():
        examples = list(values[unreadable].astype(str).unique()[:3])
        raise InputError(
            f"{int(unreadable.sum())} value(s) of {name!r} are not dates, e.g. {examples}"
        )
    if not allow_missing and dates.isna().any():
        raise InputError(
            f"{int(dates.isna().sum())} episode(s) have no {name}; "
            "fix or drop them before estimating time in care"
        )
    return dates


def _check_order(episodes: pd.DataFrame, start: pd.Series, end: pd.Series) -> None:
    backwards = end.notna() & (end < start)
    if backwards.any():
        example = episodes.index[backwards][:3].tolist()
        raise InputError(
            f"{int(backwards.sum())} episode(s) end before they start (rows {example}); "
            "fix their dates before estimating time in care"
        )


def _group_columns(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _default_as_of(episodes: pd.DataFrame) -> pd.Timestamp:
    start = _dates(episodes["start_date"], "start_date", allow_missing=False)
    end = _dates(episodes["end_date"], "end_date", allow_missing=True)
    latest = max(start.max(), end.max() if end.notna().any() else start.max())
    return _as_timestamp(latest)


def _prepare(
    episodes: pd.DataFrame,
    by: str | Sequence[str] | None,
    as_of: str | pd.Timestamp | None,
    unit: str,
    cohort_freq: str | int | None,
    extra: Sequence[str] = (),
) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    """Validate, compute durations and the cohort column; return data, groups, attrs."""
    groups = _group_columns(by)
    _check_frame(episodes, [*_DATE_COLUMNS, *groups, *extra])
    if COHORT_COLUMN in groups and cohort_freq is not None:
        raise InputError(f"by already contains {COHORT_COLUMN!r}; drop it or cohort_freq")
    stamp = _default_as_of(episodes) if as_of is None else _as_timestamp(as_of)
    data = durations(episodes, stamp, unit)
    if data.empty:
        raise InputError(f"all {len(episodes)} episodes start after as_of {stamp:%Y-%m-%d}")
    if cohort_freq is not None:
        data[COHORT_COLUMN] = _entry_cohorts(data["start_date"], cohort_freq)
        groups = [*groups, COHORT_COLUMN]
    info = dict(data.attrs)
    info["dtypes"] = {
        c: data[c].dtype for c in groups if isinstance(data[c].dtype, pd.CategoricalDtype)
    }
    return data, groups, info


def _entry_cohorts(start: pd.Series, freq: str | int) -> pd.Categorical:
    years = _cohort_years(freq)
    year = pd.to_datetime(start).dt.year.to_numpy()
    first = year // years * years
    if years == 1:
        label = {y: str(y) for y in np.unique(first)}
    else:
        label = {y: f"{y}-{y + years - 1}" for y in np.unique(first)}
    order = [label[y] for y in sorted(label)]
    return pd.Categorical([label[y] for y in first], categories=order, ordered=True)


def _cohort_years(freq: str | int) -> int:
    if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool) and freq >= 1:
        return int(freq)
    match = _COHORT_FREQ.match(freq) if isinstance(freq, str) else None
    if match is None:
        raise InputError(
            f"cohort_freq must be a yearly frequency such as 'YS' or '5YS' (or a number "
            f"of years), got {freq!r}"
        )
    years = int(match.group(1) or 1)
    if years < 1:
        raise InputError(f"cohort_freq must span at least one year, got {freq!r}")
    return years


def _iter_groups(data: pd.DataFrame, groups: list[str]) -> Iterator[tuple[dict, pd.DataFrame]]:
    if not groups:
        yield {}, data
        return
    for key, part in data.groupby(groups, observed=True, sort=True, dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        yield dict(zip(groups, values, strict=True)), part


def _finish(
    table: pd.DataFrame, groups: list[str], info: dict[str, Any], confidence: float
) -> pd.DataFrame:
    """Keep categorical group columns categorical, and record attrs."""
    table = table.reset_index(drop=True)
    for column in groups:
        dtype = info.get("dtypes", {}).get(column)
        if dtype is not None:
            table[column] = table[column].astype(dtype)
    table.attrs = {
        "as_of": info["as_of"],
        "unit": info["unit"],
        "confidence": confidence,
        "n_excluded_after_as_of": info["n_excluded_after_as_of"],
    }
    return table


# --------------------------------------------------------------------------- #
# Kaplan-Meier helpers
# --------------------------------------------------------------------------- #
def _fit_km(part: pd.DataFrame, confidence: float) -> KaplanMeierFitter:
    entry = part["entry"].to_numpy(float) if "entry" in part else None
    return KaplanMeierFitter().fit(
        part["duration"].to_numpy(float),
        event_observed=part["event"].to_numpy(int),
        entry=entry if entry is not None and (entry > 0).any() else None,
        alpha=1 - confidence,
    )


def _counts(part: pd.DataFrame) -> dict[str, int]:
    events = int(part["event"].sum())
    return {"n": len(part), "events": events, "censored": len(part) - events}


def _quantiles(kmf: KaplanMeierFitter) -> dict[str, float]:
    """Quantiles and Brookmeyer-Crowley limits by inverting the log-log band."""
    curves = pd.concat([kmf.survival_function_, kmf.confidence_interval_], axis=1)
    curves.columns = ["estimate", "lower", "upper"]
    # A band need not be monotone; the first crossing is what is wanted, and
    # lifelines' search assumes a non-increasing curve.
    curves = curves.cummin().round(_DECIMALS)
    levels = list(_QUANTILES.values())
    times = qth_survival_times(levels, curves).replace(np.inf, np.nan)
    out = {}
    for name, level in _QUANTILES.items():
        out[name] = float(times.loc[level, "estimate"])
        out[f"{name}_ci_low"] = float(times.loc[level, "lower"])
        out[f"{name}_ci_high"] = float(times.loc[level, "upper"])
    return out


def _curve(kmf: KaplanMeierFitter) -> pd.DataFrame:
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    return pd.DataFrame(
        {
            "time": sf.index.to_numpy(float),
            "survival": sf.to_numpy(float),
            "ci_low": ci.iloc[:, 0].to_numpy(float),
            "ci_high": ci.iloc[:, 1].to_numpy(float),
            "at_risk": kmf.event_table["at_risk"].reindex(sf.index).to_numpy(int),
        }
    )


def _curve_groups(curves: pd.DataFrame, groups: list[str]) -> Iterator[tuple[str, pd.DataFrame]]:
    if not groups:
        yield "all", curves
        return
    for key, part in curves.groupby(groups, observed=True, sort=False, dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        yield " | ".join(str(v) for v in values), part.sort_values("time")


def _km_method(info: dict[str, Any], confidence: float) -> str:
    text = (
        f"Kaplan-Meier estimate of time in placement ({info['unit']} from the start of the "
        f"episode; episodes ongoing on {info['as_of']:%Y-%m-%d} censored); "
        f"{confidence:.0%} CI for quantiles by the Brookmeyer-Crowley method with log-log "
        "transformation; quantiles not reached are left empty"
    )
    return text + _excluded_note(info)


def _excluded_note(info: dict[str, Any]) -> str:
    n = info["n_excluded_after_as_of"]
    return f"; {n} episode(s) starting after that date excluded" if n else ""


# --------------------------------------------------------------------------- #
# Aalen-Johansen helpers
# --------------------------------------------------------------------------- #
def _horizons(horizons: Sequence[float]) -> np.ndarray:
    values = np.atleast_1d(np.asarray(horizons, dtype=float))
    if values.size == 0 or np.isnan(values).any() or (values < 0).any():
        raise InputError(f"horizons must be non-negative numbers, got {horizons!r}")
    return values


def _exit_reasons(data: pd.DataFrame) -> pd.Series:
    """Exit reason of each ended episode (``UNKNOWN_REASON`` if missing), NA if censored."""
    reason = data["exit_reason"].astype("string").str.strip()
    reason = reason.mask(reason == "", pd.NA).fillna(UNKNOWN_REASON)
    return reason.where(data["event"] == 1, pd.NA)


def _reasons(observed: pd.Series, reasons: Sequence[str] | None) -> list[str]:
    seen = set(observed.dropna().unique())
    if reasons is None:
        extra = sorted(seen - set(EXIT_REASONS) - {UNKNOWN_REASON})
        ordered = [r for r in EXIT_REASONS if r in seen] + extra
        return ordered + ([UNKNOWN_REASON] if UNKNOWN_REASON in seen else [])
    wanted = [reasons] if isinstance(reasons, str) else list(reasons)
    known = seen | set(EXIT_REASONS) | {UNKNOWN_REASON}
    unknown = [r for r in wanted if r not in known]
    if not wanted or unknown:
        raise InputError(
            f"reasons {unknown or wanted!r} name no exit reason; known reasons are {sorted(known)}"
        )
    return wanted


def _aalen_johansen(
    part: pd.DataFrame, reasons: list[str], horizons: np.ndarray, z: float
) -> list[dict[str, Any]]:
    """Aalen-Johansen cumulative incidence and delta-method CI at the horizons."""
    time = part["duration"].to_numpy(float)
    ended = part["event"].to_numpy(int) == 1
    event_times, d_all = np.unique(time[ended], return_counts=True)
    at_risk = len(time) - np.searchsorted(np.sort(time), event_times, side="left")
    if "entry" in part:  # delayed entry: at risk only after the entry time
        entry = part["entry"].to_numpy(float)
        late = np.sort(entry[entry > 0])
        at_risk = at_risk - (len(late) - np.searchsorted(late, event_times, side="left"))
    survival = np.cumprod(1 - d_all / at_risk)
    lagged = np.r_[1.0, survival[:-1]]
    rows = []
    for name in reasons:
        mine = ended & part["_reason"].eq(name).fillna(False).to_numpy(bool)
        d_k = np.zeros(len(event_times))
        if mine.any():
            t_k, c_k = np.unique(time[mine], return_counts=True)
            d_k[np.searchsorted(event_times, t_k)] = c_k
        cif = np.cumsum(lagged * d_k / at_risk)
        for horizon in horizons:
            m = int(np.searchsorted(event_times, horizon, side="right"))
            estimate, low, high = _cif_at(m, cif, d_k, d_all, at_risk, lagged, z)
            if (time >= horizon).sum() == 0 and (m == 0 or survival[m - 1] > 0):
                estimate = low = high = np.nan  # beyond follow-up: not extrapolated
            rows.append(
                {
                    "reason": name,
                    "horizon": float(horizon),
                    "events": int((mine & (time <= horizon)).sum()),
                    "cumulative_incidence": estimate,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    return rows


def _cif_at(
    m: int,
    cif: np.ndarray,
    d_k: np.ndarray,
    d_all: np.ndarray,
    at_risk: np.ndarray,
    lagged: np.ndarray,
    z: float,
) -> tuple[float, float, float]:
    """Estimate and log(-log) CI from the first ``m`` event times."""
    if m == 0:
        return 0.0, 0.0, np.nan
    f_t = float(cif[m - 1])
    variance = _cif_variance(
        f_t, cif[:m], d_k[:m], d_all[:m], at_risk[:m].astype(float), lagged[:m]
    )
    return (f_t, *_loglog_ci(f_t, variance, z))


def _cif_variance(
    f_t: float,
    cif: np.ndarray,
    d_k: np.ndarray,
    d_all: np.ndarray,
    n: np.ndarray,
    lagged: np.ndarray,
) -> float:
    """Delta-method variance of F_k(t) (Marubini & Valsecchi 1995)."""
    diff = f_t - cif
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.where(diff == 0, 0.0, d_all / (n * (n - d_all)))
    first = np.sum(diff**2 * greenwood)
    second = np.sum(lagged**2 * d_k * (n - d_k) / n**3)
    third = np.sum(diff * lagged * d_k / n**2)
    return float(max(first + second - 2 * third, 0.0))


def _loglog_ci(f_t: float, variance: float, z: float) -> tuple[float, float]:
    if f_t <= 0:
        return 0.0, np.nan
    if f_t >= 1:
        return np.nan, 1.0
    se = np.sqrt(variance) / (f_t * abs(np.log(f_t)))
    return float(f_t ** np.exp(z * se)), float(f_t ** np.exp(-z * se))


def _aj_method(info: dict[str, Any], confidence: float) -> str:
    text = (
        f"Aalen-Johansen cumulative incidence of each exit reason with the other exits as "
        f"competing events (horizons in {info['unit']} from the start of the episode; episodes "
        f"ongoing on {info['as_of']:%Y-%m-%d} censored); {confidence:.0%} CI from the "
        "delta-method variance with log-log transformation"
    )
    return text + _excluded_note(info)
