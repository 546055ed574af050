"""Certainty of the evidence behind a recommendation, in the spirit of GRADE.

Every triggered recommendation gets one of four grades - ``high``,
``moderate``, ``low``, ``very low`` - and the reasons for it in words, in
Bulgarian and English, so a reader sees *why* a recommendation is firm or
tentative. The grade rests only on published figures (``published.csv``): the
figures that triggered the rule, the quality figures of the same study
(``item_missing``, ``reliability_alpha``) and, when given, the same figures in
other oblasts or waves.

The criteria are stated in the Notes of :func:`grade`; the reader-facing
sentences live in ``research_lib/render/grading.yaml`` (with the labels of
tables, groups and measures, which :func:`figure_label` uses).

Examples
--------
>>> from types import SimpleNamespace
>>> rule = SimpleNamespace(design="cross_sectional", indirect=False)
>>> figure = Figure("qol", "difference_vs_reference", "cnst", "homeliness", n=300,
...     value=-8.0, ci_low=-11.0, ci_high=-6.0, importance=Importance("points", mid=5))
>>> grade(rule, [figure]).level
'low'
>>> wide = Figure("qol", "difference_vs_reference", "cnst", "homeliness", n=300,
...     value=-8.0, ci_low=-16.0, ci_high=0.5, importance=Importance("points", mid=5))
>>> grade(rule, [wide]).level
'very low'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

import pandas as pd

from research_lib.disclosure.figures import adjusted_for
from research_lib.errors import InputError
from research_lib.io.oblasts import load_oblasts, oblast_name
from research_lib.render.labels import check_language, has_text, text
from research_lib.render.reporting import format_number

__all__ = [
    "LEVELS",
    "START_LEVEL",
    "DESIGNS",
    "SCALES",
    "QUALITY_TABLES",
    "Importance",
    "Figure",
    "GradingContext",
    "Grade",
    "grade",
    "phrase",
    "format_value",
    "estimate_digits",
    "figure_label",
    "table_text",
    "group_text",
    "measure_text",
    "date_words",
    "find_figure",
    "adjusted_phrase",
    "covariates_words",
]

#: Grades from lowest to highest certainty.
LEVELS: tuple[str, ...] = ("very low", "low", "moderate", "high")
#: Where the grade starts, by study design (see the Notes of :func:`grade`).
START_LEVEL: dict[str, str] = {
    "interrupted_time_series": "moderate",
    "administrative_trend": "moderate",
    "cross_sectional": "low",
    "projection": "very low",
    "published_counts": "low",
}
#: The study designs a rule may name.
DESIGNS: tuple[str, ...] = tuple(START_LEVEL)
#: Scales a figure is measured on (how it is formatted and compared with its MID).
SCALES: tuple[str, ...] = (
    "points",
    "share",
    "ratio",
    "months",
    "years",
    "count",
    "coefficient",
    "flag",
)
#: Tables describing the instrument itself: the risk-of-bias checks on a domain
#: (missing answers, reliability) do not apply to figures from these tables.
QUALITY_TABLES: frozenset[str] = frozenset(
    {"sample", "reliability_alpha", "reliability_omega", "item_missing", "icc"}
)

_DIGITS = {"points": 1, "ratio": 2, "coefficient": 2, "months": 0, "count": 0, "flag": 0}
_UNGRADED_SCALES = ("count", "flag")

Values = Mapping[str, object]
Reason = tuple[str, str]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Importance:
    """The difference that matters for a figure.

    Attributes
    ----------
    scale : str
        One of :data:`SCALES`. ``ratio`` figures are compared on the log scale.
    mid : float or None
        Minimal important difference: points for ``points``, a proportion for
        ``share`` (0.05 = 5 percentage points), a *relative* change for ``ratio``
        (0.10 = a rate ratio of 1.10 or 1/1.10), months, years. ``None``: the
        figure is not graded for precision (flags, complete counts, quality
        figures without an agreed MID).
    baseline : float or None
        The value meaning "no difference": 0 by default, 1 for ``ratio``; for a
        share or a duration compared with a benchmark, the benchmark.
    """

    scale: str = "points"
    mid: float | None = None
    baseline: float | None = None

    @property
    def graded(self) -> bool:
        """Whether precision, consistency and effect size are judged on this figure."""
        return self.mid is not None and self.scale not in _UNGRADED_SCALES

    @property
    def no_effect(self) -> float:
        """The baseline on the figure's own scale."""
        if self.baseline is not None:
            return float(self.baseline)
        return 1.0 if self.scale == "ratio" else 0.0

    def transform(self, value: float) -> float:
        """The value on the comparison scale (log for ratios, as is otherwise)."""
        if self.scale != "ratio":
            return float(value)
        return math.log(value) if value > 0 else math.nan

    def thresholds(self) -> tuple[float, float, float]:
        """``(lower, baseline, upper)`` importance thresholds on the comparison scale."""
        centre = self.transform(self.no_effect)
        step = math.log1p(self.mid) if self.scale == "ratio" else float(self.mid or 0.0)
        return centre - step, centre, centre + step

    def back(self, value: float) -> float:
        """Inverse of :meth:`transform`."""
        return math.exp(value) if self.scale == "ratio" else value


@dataclass(frozen=True)
class Figure:
    """One published figure used by a recommendation (or derived from two).

    ``derived_from`` names the published figures of a derived figure (a ratio
    of two counts); a derived figure is graded but never looked up elsewhere.
    """

    study: str
    table: str
    group: str
    measure: str
    n: float | None = None
    value: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    importance: Importance = field(default_factory=Importance)
    derived_from: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``study:table:group:measure`` - how evidence cites the figure."""
        return f"{self.study}:{self.table}:{self.group}:{self.measure}"

    @property
    def evidence(self) -> tuple[str, ...]:
        """The published figures this figure stands for."""
        return self.derived_from or (self.key,)

    @property
    def has_value(self) -> bool:
        return _finite(self.value)

    @property
    def has_interval(self) -> bool:
        return _finite(self.ci_low) and _finite(self.ci_high)


@dataclass(frozen=True)
class GradingContext:
    """What the grading may look at besides the figures of the rule.

    Attributes
    ----------
    published : mapping of str to DataFrame
        Study -> ``published.csv`` frame of the run being graded; its
        ``item_missing`` and ``reliability_alpha`` rows feed the risk-of-bias
        checks.
    replications : mapping of str to mapping of str to DataFrame
        Label (an oblast, a wave) -> study -> published frame of the *same*
        study elsewhere or at another time; used for consistency.
    min_n, max_item_missing, min_alpha, material_inconsistency
        The thresholds of the criteria (see :func:`grade`).
    """

    published: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    replications: Mapping[str, Mapping[str, pd.DataFrame]] = field(default_factory=dict)
    min_n: int = 30
    max_item_missing: float = 0.20
    min_alpha: float = 0.70
    material_inconsistency: float = 0.25


@dataclass(frozen=True)
class Grade:
    """A grade and the reasons for it, each a ``(bg, en)`` sentence."""

    level: str
    reasons: tuple[Reason, ...]
    start: str
    moves: tuple[tuple[str, int], ...] = ()

    @property
    def rank(self) -> int:
        """0 (very low) ... 3 (high)."""
        return LEVELS.index(self.level)

    def label(self, language: str = "bg") -> str:
        """The grade in words."""
        return phrase(f"grade.{self.level}", language)

    def text(self, language: str = "bg") -> str:
        """The reasons as one paragraph in ``language``."""
        index = 0 if check_language(language) == "bg" else 1
        return " ".join(reason[index] for reason in self.reasons)


class GradedRule(Protocol):
    """What :func:`grade` needs of a rule."""

    design: str
    indirect: bool


@dataclass(frozen=True)
class _Step:
    name: str
    delta: int = 0
    reasons: tuple[Reason, ...] = ()
    consistent: bool = False


# --------------------------------------------------------------------------- grading


def grade(
    rule: GradedRule, figures: Sequence[Figure], context: GradingContext | None = None
) -> Grade:
    """Grade the certainty of the evidence behind one triggered recommendation.

    Parameters
    ----------
    rule : Rule
        The catalogue rule (its ``design`` and ``indirect`` are used).
    figures : sequence of Figure
        The published figures that triggered the rule, in the order of the
        condition; the first graded one is the rule's *primary* figure.
    context : GradingContext, optional
        Quality figures of the study, replications in other oblasts or waves,
        and the thresholds.

    Returns
    -------
    Grade
        ``level`` and ``reasons`` (one ``(bg, en)`` sentence per criterion that
        was judged, ending with the final grade).

    Notes
    -----
    The grade follows the logic of GRADE (Guyatt et al., BMJ 2008;336:924):
    start from the study design, then move down for limitations and up for a
    large, consistent difference (GRADE's "large effect"; a cross-sectional
    difference is reported as a difference, never as an effect of the care). Grades never go below "very low" or above "high".

    **1. Starting level, by design.** GRADE starts randomised trials at high and
    observational studies at low; none of our designs is randomised, so:

    * ``interrupted_time_series`` - **moderate**: the trend before the reform is
      an explicit counterfactual, the strongest quasi-experimental design we
      have, but other changes at the same time (co-interventions, falling child
      population) cannot be ruled out;
    * ``administrative_trend`` - **moderate**: complete administrative records on
      every child in care (no sampling error, no non-response), but they
      describe what happens, not why;
    * ``cross_sectional`` - **low**: a comparison of groups of surveyed children
      at one time (or repeated cross-sections); children are not placed at
      random, so differences may reflect who is placed where (selection), even
      after adjustment;
    * ``projection`` - **very low**: an extrapolation assumes the past trend
      continues; it is never raised;
    * ``published_counts`` - **low**: counts copied as published (press
      releases, annual reports, news items quoting them), not the records
      behind them: observational, and each publisher counts with its own
      definitions and reference dates.

    **2. Imprecision** (figures with a minimal important difference, MID; the
    importance thresholds are ``baseline - MID`` and ``baseline + MID``, on the
    log scale for rate ratios):

    * the 95% CI contains one threshold - compatible with both an important and
      an unimportant difference - **-1**;
    * the 95% CI contains both thresholds - important differences in both
      directions - **-2**;
    * no CI is published for a graded figure - **-1**.

    A wide CI lying wholly beyond a threshold is *not* downgraded: every value
    in it leads to the same decision. Of several figures the worst counts.
    Complete counts and figures without an MID are not graded for precision
    (this is said in the reasons). A **flag** (``lagging``, outside a funnel
    limit) is a decision about an estimate: a rule that cites a flag must also
    cite the flagged estimate with its CI and an MID, which is then graded as
    above; a flag cited alone - **-1** (its precision cannot be judged).

    **3. Inconsistency** (only when the same figures are published for other
    oblasts or waves, ``context.replications``): the direction of each graded
    figure (above or below its baseline) is compared with the same figure
    elsewhere; if it differs in more than ``material_inconsistency`` (25%) of
    the comparisons - **-1**. Suppressed figures elsewhere are not counted.
    Each graded figure in each other oblast or wave is one comparison.

    **4. Risk of bias** - each kind of problem found, counted once:

    * a figure rests on fewer than ``min_n`` (30) children or episodes (complete
      counts excepted);
    * more than ``max_item_missing`` (20%) of the answers in the figure's
      survey domain are missing (``item_missing``);
    * the domain's reliability is below ``min_alpha`` (Cronbach's α < 0.70,
      ``reliability_alpha``);
    * the figures of the study come from more than one published source (its
      ``count_sources`` row ``sources`` > 1): a comparison across dates may
      compare different definitions; the sources and the figures on which
      they disagree are counted in the reason.

    One kind - **-1**; two or more - **-2**.

    **5. Indirectness**: a rule tagged ``indirect: true`` - its figures do not
    measure the recommended action itself, e.g. relationship scores as a sign
    of staff turnover, or a ratio of entry counts behind "expand prevention
    services" (it says entries are not falling, nothing about the services) -
    **-1**.

    **6. Large difference** (GRADE's "large effect" upgrade): the primary figure lies more than
    2 x MID from its baseline and its whole CI lies beyond the MID, the same
    direction holds in every comparison with other oblasts or waves (at least
    one), and
    nothing was downgraded for imprecision, inconsistency or risk of bias -
    **+1**. A large difference that was not replicated is reported but not
    upgraded; a projection is never upgraded; nor is a cross-sectional
    comparison of groups, because GRADE raises a grade for a large effect only
    when plausible confounding would not explain it, and a survey adjusted for
    age and sex (at best disability, time in care, age at entry) leaves
    selection into care types unmeasured.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> its = SimpleNamespace(design="interrupted_time_series", indirect=False)
    >>> rr = Figure("placements", "its_institution_entries", "institution", "level_change",
    ...     n=900, value=0.98, ci_low=0.95, ci_high=1.02, importance=Importance("ratio", 0.10))
    >>> result = grade(its, [rr])
    >>> result.level
    'moderate'
    >>> print(result.text("en"))  # doctest: +ELLIPSIS
    Starting certainty ‘moderate’: interrupted time series ... Final grade: moderate.
    """
    context = context or GradingContext()
    if rule.design not in START_LEVEL:
        raise InputError(f"unknown design {rule.design!r}; use one of {', '.join(DESIGNS)}")
    figures = list(figures)
    start = START_LEVEL[rule.design]
    precision = _imprecision(figures)
    consistency = _consistency(figures, context)
    bias = _risk_of_bias(figures, context)
    indirect = (
        _Step("indirectness", -1, (_reason("indirect"),))
        if rule.indirect
        else _Step("indirectness")
    )
    downgraded = min(precision.delta, consistency.delta, bias.delta) < 0
    upgrade = _large_effect(figures, rule.design, consistency, downgraded)
    steps = (precision, consistency, bias, indirect, upgrade)
    index = LEVELS.index(start) + sum(step.delta for step in steps)
    level = LEVELS[min(max(index, 0), len(LEVELS) - 1)]
    reasons = [_reason(f"start_{rule.design}", level=_level_word(start))]
    reasons += [reason for step in steps for reason in step.reasons]
    reasons.append(_reason("final", level=_level_word(level)))
    moves = tuple((step.name, step.delta) for step in steps if step.delta)
    return Grade(level=level, reasons=tuple(reasons), start=start, moves=moves)


def _imprecision(figures: Sequence[Figure]) -> _Step:
    graded = [f for f in figures if f.importance.graded and f.has_value]
    flags = [f for f in figures if f.importance.scale == "flag"]
    if flags and not graded:
        # a flag is a decision about an estimate: without that estimate's interval
        # and an importance threshold, its precision cannot be judged
        return _Step(
            "imprecision", -1, (_reason("flag_unchecked", figure=_figure_words(flags[0])),)
        )
    if not graded:
        return _Step("imprecision", 0, (_reason("precision_not_graded"),))
    worst: tuple[int, Figure, str] = (0, graded[0], "precise")
    for figure in graded:
        delta, kind = _precision_of(figure)
        if delta < worst[0]:
            worst = (delta, figure, kind)
    delta, figure, kind = worst
    values: dict[str, object] = {
        "figure": _figure_words(figure),
        "thresholds": _threshold_words(figure.importance),
    }
    if kind != "no_interval":
        values["ci"] = _ci_words(figure)
    return _Step("imprecision", delta, (_reason(kind, **values),))


def _precision_of(figure: Figure) -> tuple[int, str]:
    if not figure.has_interval:
        return -1, "no_interval"
    imp = figure.importance
    low, high = imp.transform(figure.ci_low), imp.transform(figure.ci_high)
    lower, _, upper = imp.thresholds()
    crossed = [low < lower < high, low < upper < high]
    if all(crossed):
        return -2, "imprecise_both"
    if any(crossed):
        return -1, "imprecise"
    return 0, "precise"


def _direction(figure: Figure, value: float) -> int:
    imp = figure.importance
    difference = imp.transform(value) - imp.transform(imp.no_effect)
    return 0 if not _finite(difference) or difference == 0 else (1 if difference > 0 else -1)


def _consistency(figures: Sequence[Figure], context: GradingContext) -> _Step:
    checked = differ = 0
    for figure in figures:
        if not (figure.importance.graded and figure.has_value) or figure.derived_from:
            continue
        direction = _direction(figure, figure.value)
        if direction == 0:
            continue
        for frames in context.replications.values():
            row = find_figure(frames.get(figure.study), figure.table, figure.group, figure.measure)
            if row is None or not _finite(row["value"]):
                continue
            checked += 1
            differ += _direction(figure, float(row["value"])) != direction
    if not checked:
        return _Step("inconsistency")
    if differ / checked > context.material_inconsistency:
        return _Step("inconsistency", -1, (_reason("inconsistent", j=differ, k=checked),))
    return _Step(
        "inconsistency",
        0,
        (_reason("consistent", agree=checked - differ, k=checked),),
        consistent=differ == 0,
    )


def _risk_of_bias(figures: Sequence[Figure], context: GradingContext) -> _Step:
    details: dict[tuple[str, str], Callable[[str], str]] = {}
    for figure in figures:
        n = figure.n
        if figure.importance.scale != "count" and _finite(n) and float(n) < context.min_n:
            details.setdefault(
                ("small_n", ""),
                _piece("small_n", figure=_figure_words(figure), n=int(n), min_n=context.min_n),
            )
        if figure.table in QUALITY_TABLES or figure.derived_from:
            continue
        frame = context.published.get(figure.study)
        missing = _quality_value(frame, "item_missing", figure.measure)
        if missing is not None and missing > context.max_item_missing:
            details.setdefault(
                ("high_missing", figure.measure),
                _piece(
                    "high_missing",
                    measure=_measure_words(figure.measure),
                    share=_share_words(missing),
                    limit=_share_words(context.max_item_missing),
                ),
            )
        alpha = _quality_value(frame, "reliability_alpha", figure.measure)
        if alpha is not None and alpha < context.min_alpha:
            details.setdefault(
                ("low_alpha", figure.measure),
                _piece(
                    "low_alpha",
                    measure=_measure_words(figure.measure),
                    alpha=_number_words(alpha, 2),
                    limit=_number_words(context.min_alpha, 2),
                ),
            )
    for study in dict.fromkeys(f.study for f in figures):
        sources = find_figure(context.published.get(study), "count_sources", "all", "sources")
        if sources is not None and _finite(sources["value"]) and float(sources["value"]) > 1:
            against = find_figure(
                context.published.get(study), "count_sources", "all", "disagreements"
            )
            disagree = (
                int(float(against["value"]))
                if against is not None and _finite(against["value"])
                else 0
            )
            details.setdefault(
                ("mixed_sources", study),
                _piece(
                    "mixed_sources" if disagree else "mixed_sources_agree",
                    sources=int(float(sources["value"])),
                    disagreements=disagree,
                ),
            )
    if not details:
        return _Step("risk_of_bias")
    kinds = {kind for kind, _ in details}
    delta = -1 if len(kinds) == 1 else -2
    pieces = list(details.values())

    def joined(language: str) -> str:
        return "; ".join(piece(language) for piece in pieces)

    key = "bias_one" if delta == -1 else "bias_two"
    return _Step("risk_of_bias", delta, (_reason(key, details=joined),))


def _large_effect(
    figures: Sequence[Figure], design: str, consistency: _Step, downgraded: bool
) -> _Step:
    primary = next(
        (f for f in figures if f.importance.graded and f.has_value and f.has_interval), None
    )
    if primary is None or design == "projection" or downgraded:
        return _Step("large_effect")
    imp = primary.importance
    lower, centre, upper = imp.thresholds()
    effect = imp.transform(primary.value) - centre
    low, high = imp.transform(primary.ci_low), imp.transform(primary.ci_high)
    step = upper - centre
    beyond = low > upper if effect > 0 else high < lower
    if not (abs(effect) > 2 * step and beyond):
        return _Step("large_effect")
    if not consistency.consistent:
        return _Step("large_effect", 0, (_reason("large_effect_unreplicated"),))
    if design == "cross_sectional":  # GRADE upgrades only when no plausible confounding remains
        return _Step("large_effect", 0, (_reason("large_effect_confounded"),))
    return _Step("large_effect", 1, (_reason("large_effect", figure=_figure_words(primary)),))


# --------------------------------------------------------------------------- text


def _entry(key: str) -> bool:
    """Whether the grading text ``key`` exists."""
    return has_text(f"grading.{key}")


def phrase(key: str, language: str = "bg", **values: object) -> str:
    """A sentence or label of the grading (``render/grading.yaml``, dotted ``key``) in ``language``.

    The same text system as every label: :func:`research_lib.render.labels.text`
    with the key ``grading.<key>``.

    Examples
    --------
    >>> phrase("grade.very low", "bg")
    'много ниска'
    >>> phrase("piece.ci_range", "en", low="1.0", high="2.0")
    '1.0 to 2.0'
    """
    return text(f"grading.{key}", language, **values)


def _resolve(values: Values, language: str) -> dict[str, object]:
    return {k: (v(language) if callable(v) else v) for k, v in values.items()}


def _reason(key: str, **values: object) -> Reason:
    """A ``(bg, en)`` sentence; a callable value is called with the language."""
    return tuple(  # type: ignore[return-value]
        phrase(f"reason.{key}", language, **_resolve(values, language)) for language in ("bg", "en")
    )


def _piece(key: str, **values: object) -> Callable[[str], str]:
    return lambda language: phrase(f"reason.{key}", language, **_resolve(values, language))


def _level_word(level: str) -> Callable[[str], str]:
    return lambda language: phrase(f"grade.{level}", language)


def _figure_words(figure: Figure) -> Callable[[str], str]:
    return lambda language: figure_label(figure, language)


def _measure_words(measure: str) -> Callable[[str], str]:
    return lambda language: measure_text(measure, language)


def _share_words(value: float) -> Callable[[str], str]:
    return lambda language: format_value(value, "share", language)


def _number_words(value: float, digits: int) -> Callable[[str], str]:
    return lambda language: format_number(value, language, digits)


def _ci_words(figure: Figure) -> Callable[[str], str]:
    scale = figure.importance.scale
    digits = estimate_digits(figure.value, figure.ci_low, figure.ci_high, scale)
    return lambda language: phrase(
        "piece.ci_range",
        language,
        low=format_value(figure.ci_low, scale, language, digits),
        high=format_value(figure.ci_high, scale, language, digits),
    )


def _threshold_words(importance: Importance) -> Callable[[str], str]:
    lower, _, upper = importance.thresholds()

    def words(language: str) -> str:
        low = format_value(importance.back(lower), importance.scale, language)
        high = format_value(importance.back(upper), importance.scale, language)
        return f"{low} {phrase('piece.and', language)} {high}"

    return words


def format_value(
    value: object, scale: str = "points", language: str = "bg", digits: int | None = None
) -> str:
    """A figure for readers, by its scale: shares as %, years without separators.

    ``digits`` overrides the scale's default number of decimals (of the
    percentage for shares); :func:`estimate_digits` chooses it so that an
    interval is not printed as "4% (4% to 4%)".

    Examples
    --------
    >>> format_value(-5.234, "points", "bg"), format_value(0.256, "share", "en")
    ('−5,2', '26%')
    >>> format_value(2031.0, "years"), format_value(float("nan"), "ratio")
    ('2031', '—')
    >>> format_value(0.0412, "share", "en", digits=1)
    '4.1%'
    """
    if value is None or not _finite(value):
        return text("common.suppressed", language)
    number = float(value)  # type: ignore[arg-type]
    if scale == "share":
        return f"{format_number(100 * number, language, _default_digits(scale, digits))}%"
    if scale == "years":
        return str(round(number))
    return format_number(number, language, _default_digits(scale, digits))


def _default_digits(scale: str, digits: int | None) -> int:
    if digits is not None:
        return int(digits)
    return 0 if scale in ("share", "years") else _DIGITS.get(scale, 1)


#: At most this many decimals more than a scale's default to show an interval.
MAX_EXTRA_DIGITS = 2


def estimate_digits(value: object, low: object, high: object, scale: str = "points") -> int:
    """Decimals needed to print an estimate and its interval as three distinct numbers.

    Starts from the scale's default (0 for a percentage, 1 for points, 2 for
    ratios) and adds decimals, at most :data:`MAX_EXTRA_DIGITS`, until the
    lower limit, the estimate and the upper limit no longer print alike (an
    estimate equal to a limit, e.g. a share of 0, may print like it). Without a
    finite interval, or for ``years``, ``count`` and ``flag``: the default.

    Examples
    --------
    >>> estimate_digits(0.0412, 0.0381, 0.0445, "share")  # 4% (4% to 4%) -> 4.1% (3.8% to 4.5%)
    1
    >>> estimate_digits(0.256, 0.20, 0.31, "share"), estimate_digits(0.981, 0.9794, 0.9826, "ratio")
    (0, 3)
    """
    base = _default_digits(scale, None)
    if scale in ("years", "count", "flag") or not all(_finite(v) for v in (value, low, high)):
        return base
    factor = 100.0 if scale == "share" else 1.0
    numbers = [factor * float(v) for v in (low, value, high)]  # type: ignore[arg-type]
    for digits in range(base, base + MAX_EXTRA_DIGITS + 1):
        printed = [round(v, digits) for v in numbers]
        distinct = all(
            printed[i] != printed[j] or numbers[i] == numbers[j]
            for i, j in ((0, 1), (1, 2), (0, 2))
        )
        if distinct:
            return digits
    return base + MAX_EXTRA_DIGITS


@cache
def _oblast_codes() -> frozenset[str]:
    return frozenset(load_oblasts().index)


def group_text(group: str, language: str = "bg") -> str:
    """A group's name: placement type, oblast, age band, sex or a named group.

    Examples
    --------
    >>> group_text("cnst"), group_text("BG421", "en"), group_text("residential_0_3", "en")
    ('ЦНСТ', 'Plovdiv', 'children aged 0-3 in residential care')
    """
    if _entry(f"group.{group}"):
        return phrase(f"group.{group}", language)
    if group in _oblast_codes():
        return oblast_name(group, language)
    for dimension in ("placement_type", "age_band", "sex"):
        if has_text(f"{dimension}.{group}"):
            return text(f"{dimension}.{group}", language)
    return str(group)


def measure_text(measure: str, language: str = "bg") -> str:
    """A measure's name (a survey domain, an indicator, an exit reason); years as they are.

    A reference date of a published stock (``2023-12-31``, ``2014-12``) is
    written as a date (:func:`date_words`).
    """
    if _entry(f"measure.{measure}"):
        return phrase(f"measure.{measure}", language)
    if "-" in str(measure) and _DATE_LABEL.match(str(measure)):
        return date_words(measure, language)
    selector = _SELECTOR_WORDS.match(str(measure))
    if selector:  # a selector that found no figure: "the latest year", "5 years before ..."
        which, k = selector.groups()
        if k:
            return phrase("piece.selector_latest_k", language, k=k)
        return phrase(f"piece.selector_{which}", language)
    return str(measure)


_SELECTOR_WORDS = re.compile(r"^@(first|latest)(?:-(\d+))?$")


_DATE_LABEL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def date_words(label: str, language: str = "bg") -> str:
    """A published figure's reference date in words: the day, the month or the year alone.

    A year alone says that the source stated no date (a stock "in 2017" may be
    from any time of that year).

    Examples
    --------
    >>> date_words("2023-12-31"), date_words("2014-12"), date_words("2017")
    ('31.12.2023 г.', 'декември 2014 г.', '2017 г. (без посочена дата)')
    >>> date_words("2023-10-31", "en"), date_words("2017", "en")
    ('31 October 2023', '2017 (date not stated)')
    """
    found = _DATE_LABEL.match(str(label))
    if not found:
        return str(label)
    year, month, day = found.groups()
    if day:
        if language == "bg":
            return phrase("piece.date_day", language, day=day, month=month, year=year)
        name = phrase("piece.months", language).split()[int(month) - 1]
        return phrase("piece.date_day", language, day=int(day), month=name, year=year)
    if month:
        name = phrase("piece.months", language).split()[int(month) - 1]
        return phrase("piece.date_month", language, month=name, year=year)
    return phrase("piece.date_year", language, year=year)


def figure_label(figure: Figure, language: str = "bg") -> str:
    """``table – group, measure`` in words.

    Examples
    --------
    >>> figure_label(Figure("qol", "wave_change", "cnst", "safety"), "en")
    'change between survey waves – Family-type centre (ЦНСТ), Safety'
    """
    table = table_text(figure.table, language)
    group = group_text(figure.group, language)
    if figure.table in DATED_TABLES:  # a published stock: its date, or that none was stated
        versus = f" {phrase('piece.versus', language)} "
        dates = versus.join(
            date_words(m, language) if _DATE_LABEL.match(m) else measure_text(m, language)
            for m in figure.measure.split("/")
        )
        return f"{table} – {group}, {dates}"
    return f"{table} – {group}, {measure_text(figure.measure, language)}"


#: Tables whose measure is the reference date of a published count.
DATED_TABLES: frozenset[str] = frozenset({"in_care_at_date", "in_care_per_100k"})


def table_text(table: str, language: str = "bg") -> str:
    """A published table's name in words (its identifier if it has none)."""
    return phrase(f"table.{table}", language) if _entry(f"table.{table}") else table


# --------------------------------------------------------------------------- lookup


def find_figure(
    frame: pd.DataFrame | None, table: str, group: str, measure: str
) -> pd.Series | None:
    """The shown (not suppressed) row of a published frame, or ``None``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"table": ["t"], "group": ["a"], "measure": ["m"], "n": [10],
    ...     "value": [1.5], "ci_low": [1.0], "ci_high": [2.0], "suppressed": [False]})
    >>> float(find_figure(frame, "t", "a", "m")["value"]), find_figure(frame, "t", "b", "m")
    (1.5, None)
    """
    if frame is None or frame.empty:
        return None
    match = frame[
        (frame["table"].astype(str) == table)
        & (frame["group"].astype(str) == group)
        & (frame["measure"].astype(str) == measure)
    ]
    if match.empty:
        return None
    row = match.iloc[0]
    if _is_true(row.get("suppressed", False)):
        return None
    return row


def _quality_value(frame: pd.DataFrame | None, table: str, measure: str) -> float | None:
    row = find_figure(frame, table, "all", measure)
    if row is None or not _finite(row["value"]):
        return None
    return float(row["value"])


def _is_true(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value) if not pd.isna(value) else False  # type: ignore[arg-type]


def _finite(value: object) -> bool:
    try:
        return value is not None and value is not pd.NA and math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- adjustment


def covariates_words(covariates: Sequence[str], language: str = "bg") -> str:
    """Covariates in words, joined with "и"/"and" (labels ``qol.covariate_<name>``)."""
    words = [
        text(f"qol.covariate_{c}", language) if has_text(f"qol.covariate_{c}") else str(c)
        for c in covariates
    ]
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {phrase('piece.and', language)} " + words[-1]


def adjusted_phrase(published: pd.DataFrame | None, language: str = "bg") -> str:
    """ "при корекция за възраст и пол" / "adjusted for age and sex", from the published rows.

    Without ``adjusted_for`` rows the phrase points to the method instead of
    guessing; with measure ``none`` it says the differences are unadjusted.

    Examples
    --------
    >>> rows = pd.DataFrame({"table": ["adjusted_for"] * 2, "measure": ["age", "sex"]})
    >>> adjusted_phrase(rows, "en")
    'adjusted for age and sex'
    >>> adjusted_phrase(rows, "bg")
    'при корекция за възраст и пол'
    """
    covariates = adjusted_for(published)
    if covariates is None:
        return text("qol.adjusted_generic", language)
    if not covariates:
        return text("qol.adjusted_none", language)
    return text("qol.adjusted_for", language, covariates=covariates_words(covariates, language))
