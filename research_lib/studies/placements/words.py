"""The placement study in words: findings, the report title, the data-and-method paragraphs.

Every sentence is built from published figures (or from what was fitted), never
from a suppressed number; the wording lives in :mod:`research_lib.render.labels`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.io.oblasts import oblast_name
from research_lib.paths import project_path
from research_lib.render.labels import group_label, has_text, text
from research_lib.render.reporting import format_number
from research_lib.render.sources import mixed_sources_sentence
from research_lib.stats.funnels import expected_false_flags, funnel_dispersion
from research_lib.stats.indicators import FORMAL_CARE, RESIDENTIAL
from research_lib.stats.its import change_direction
from research_lib.studies.placements.analysis import (
    PlacementAnalysis,
    PlacementData,
    series_start,
)

__all__ = [
    "key_findings",
    "report_title",
    "data_and_method",
    "change_finding",
    "its_method_words",
    "measure_date",
    "finding_date",
]


def _shown(published: pd.DataFrame, table: str) -> pd.DataFrame:
    rows = published[(published["table"] == table) & ~published["suppressed"].astype(bool)]
    return rows.dropna(subset=["value"]).set_index(["group", "measure"])


def _pct_fall(rate_ratio: float) -> float:
    return 100.0 * (1.0 - rate_ratio)


def key_findings(
    published: pd.DataFrame, reform_date: pd.Timestamp, language: str = "bg", horizon: int = 2040
) -> list[str]:
    """Plain-language findings from published figures only (never a suppressed one)."""
    reform = pd.Timestamp(reform_date).strftime("%d.%m.%Y" if language == "bg" else "%Y-%m-%d")
    out: list[str] = []
    its = _shown(published, "its_institution_entries")
    if ("institution", "level_change") in its.index:
        row = its.loc[("institution", "level_change")]
        out.append(change_finding("placements.finding_level", row, language, reform=reform))
    if ("institution", "level_change_pooled") in its.index:
        row = its.loc[("institution", "level_change_pooled")]
        out.append(change_finding("placements.finding_pooled", row, language))
    if ("institution", "change_at_end") in its.index:
        row = its.loc[("institution", "change_at_end")]
        out.append(change_finding("placements.finding_end", row, language))
    if ("institution", "slope_change_per_year") in its.index:
        row = its.loc[("institution", "slope_change_per_year")]
        if row["ci_high"] < 1:
            out.append(
                text(
                    "placements.finding_slope",
                    language,
                    pct=format_number(_pct_fall(row["value"]), language, 0),
                    low=format_number(_pct_fall(row["ci_high"]), language, 0),
                    high=format_number(_pct_fall(row["ci_low"]), language, 0),
                )
            )
    young = _shown(published, "its_residential_entries_0_3")
    if ("residential_0_3", "level_change") in young.index:
        row = young.loc[("residential_0_3", "level_change")]
        out.append(change_finding("placements.finding_young", row, language))
    growth = _shown(published, "foster_growth")
    if len(growth):
        lagging = [g for (g, m), r in growth.iterrows() if m == "lagging" and r["value"] == 1]
        strict = [g for (g, m), r in growth.iterrows() if m == "lagging_998" and r["value"] == 1]
        if lagging:
            names = ", ".join(oblast_name(code, language) for code in sorted(lagging))
            out.append(
                text("placements.finding_lagging", language, count=len(lagging), names=names)
            )
            if strict:
                names = ", ".join(oblast_name(code, language) for code in sorted(strict))
                out[-1] += " " + text("placements.finding_lagging_strict", language, names=names)
            elif any(m == "lagging_998" for _, m in growth.index):
                out[-1] += " " + text("placements.finding_lagging_strict_none", language)
        else:
            out.append(text("placements.finding_no_lagging", language))
    exits = _shown(published, "exits_within_12m")
    for group in RESIDENTIAL:
        if (group, "reunified") in exits.index:
            row = exits.loc[(group, "reunified")]
            out.append(
                text(
                    "placements.finding_reunified",
                    language,
                    group=text(f"placement_phrase.{group}", language)
                    .replace("децата в ", "")
                    .replace("children in ", ""),
                    share=format_number(100 * row["value"], language, 1),
                    low=format_number(100 * row["ci_low"], language, 1),
                    high=format_number(100 * row["ci_high"], language, 1),
                )
            )
    out += _stock_findings(published, language)
    projection = published[published["table"] == "projection_0_3_residential"]
    if len(projection):
        row = projection.iloc[0]
        if row["suppressed"]:
            pass
        elif pd.isna(row["value"]):
            out.append(text("placements.finding_projection_none", language, horizon=horizon))
        else:
            out.append(
                text(
                    "placements.finding_projection",
                    language,
                    year=int(row["value"]),
                    low=int(row["ci_low"]) if pd.notna(row["ci_low"]) else "?",
                    high=int(row["ci_high"]) if pd.notna(row["ci_high"]) else "?",
                )
            )
    return out


def _stock_findings(published: pd.DataFrame, language: str) -> list[str]:
    """Published counts: per placement type, the first and the latest stock with their dates.

    When the figures come from more than one source, a sentence saying so comes first
    (a brief that quotes the first findings quotes it too).
    """
    rows = published[
        (published["table"] == "in_care_at_date") & ~published["suppressed"].astype(bool)
    ].dropna(subset=["value"])
    out = []
    for group in (*FORMAL_CARE, "all"):
        sub = rows[rows["group"] == group].sort_values("measure")
        if len(sub) < 2:
            continue
        first, last = sub.iloc[0], sub.iloc[-1]
        name = (
            text("dimension.all", language)
            if group == "all"
            else group_label("placement_type", group, language)
        )
        out.append(
            text(
                "placements.finding_stock",
                language,
                group=name,
                first=format_number(first["value"], language, 0),
                first_date=finding_date(first["measure"], language),
                last=format_number(last["value"], language, 0),
                last_date=finding_date(last["measure"], language),
            )
        )
    sentence = mixed_sources_sentence(published, language)
    if sentence is not None:  # first: it qualifies every figure after it
        out.insert(0, sentence)
    return out


def report_title(data: PlacementData, language: str = "bg") -> str:
    """The report title: published figures from public sources get their own title."""
    source = data.load.source
    public = project_path("data/public").resolve()
    if data.kind == "counts" and source is not None and public in Path(source).resolve().parents:
        series = f"placements.title_{Path(source).stem.removesuffix('_counts')}"
        if has_text(series):  # a series of its own (Приеми ме, ДМСГД): its own title
            return text(series, language)
        dates = pd.to_datetime(data.scoped["reference_date"]).dropna()
        if len(dates):
            first, last = int(dates.dt.year.min()), int(dates.dt.year.max())
            return text("placements.title_public_years", language, first=first, last=last)
        return text("placements.title_public", language)
    return text("placements.title", language)


def change_finding(key: str, row: pd.Series, language: str, **values: object) -> str:
    """A rate ratio in words: a fall or a rise when the CI excludes 1, else what it is compatible with.

    Keys: ``key`` (fall), ``key + "_up"`` (rise), ``key + "_compatible"`` (CI holds 1:
    "compatible with anything from a fall of X% to a rise of Y%", never "did not fall").
    """
    direction = change_direction(row["ci_low"], row["ci_high"])
    suffix = {"decrease": "", "increase": "_up", "compatible": "_compatible"}[direction]
    pct = abs(100.0 * (row["value"] - 1.0))
    return text(
        key + suffix,
        language,
        pct=format_number(pct, language, 0),
        rr=format_number(row["value"], language, 2),
        low=format_number(row["ci_low"], language, 2),
        high=format_number(row["ci_high"], language, 2),
        fall=format_number(_pct_fall(row["ci_low"]), language, 0),
        rise=format_number(-_pct_fall(row["ci_high"]), language, 0),
        **values,
    )


_ITS_BANDS = {"institution": "0-17", "residential_0_3": "0-3"}


def its_method_words(
    data: PlacementData, analysis: PlacementAnalysis, language: str
) -> tuple[str, str]:
    """What was fitted, in words: the denominator and the autocorrelation check of each series."""
    offsets, checks = [], []
    for key, band in _ITS_BANDS.items():
        result = analysis.its.get(key)
        if result is None:
            continue
        series = text(f"placements.series_{key}", language)
        if result.log_offset is not None:
            offsets.append(
                text("placements.offset_rate", language, series=series, band=band.replace("-", "–"))
            )
        else:
            why = "none" if data.population is None else "years"
            reason = text(f"placements.offset_why_{why}", language)
            offsets.append(text("placements.offset_count", language, series=series, why=reason))
        check = result.autocorrelation
        if check.get("lags"):
            p = f"= {check['lb_pvalue']:.2g}" if check["lb_pvalue"] >= 0.001 else "< 0.001"
            if language == "bg":
                p = p.replace(".", ",")
            if check["handled"] == "newey_west":
                checks.append(
                    text(
                        "placements.autocorr_handled",
                        language,
                        series=series,
                        p=p,
                        lags=check["hac_lags"],
                    )
                )
            else:
                checks.append(text("placements.autocorr_none", language, series=series, p=p))
    return " ".join(offsets), " ".join(checks)


_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _by_chance(units: int, language: str) -> str:
    """How many of ``units`` fall outside 95% limits by chance, in words ("one or two fall").

    The expected number (:func:`research_lib.stats.funnels.expected_false_flags`) as the
    whole numbers either side of it, with the verb: 28 oblasts give "1–2 попадат" /
    "one or two fall".
    """
    expected = expected_false_flags(units, 0.95)
    low, high = int(np.floor(expected + 1e-9)), int(np.ceil(expected - 1e-9))
    if language == "bg":
        count = str(low) if low == high else f"{low}–{high}"
        return count + (" попада" if high == 1 else " попадат")
    words = [_NUMBER_WORDS[k] if k < len(_NUMBER_WORDS) else str(k) for k in (low, high)]
    count = words[0] if low == high else f"{words[0]} or {words[1]}"
    return count + (" falls" if high == 1 else " fall")


def _regional_method_words(analysis: PlacementAnalysis, language: str) -> list[str]:
    """The dispersion of the entry-rate funnel and the foster-growth model, in words."""
    out = []
    funnel = analysis.regional.get("rate_funnel")
    if funnel is not None and len(funnel) and "tau" in funnel:
        d = funnel_dispersion(funnel)
        p = "< 0,001" if language == "bg" else "< 0.001"
        if d.p_value >= 0.001:
            p = "= " + format_number(d.p_value, language, 3)
        key = "placements.method_funnel" if d.widened else "placements.method_funnel_plain"
        out.append(
            text(
                key,
                language,
                chi2=format_number(d.chi2, language, 0),
                df=d.df,
                ratio=format_number(d.ratio, language, 1),
                p=p,
                units=d.units,
                by_chance=_by_chance(d.units, language),
            )
        )
    growth = analysis.regional.get("growth")
    if growth is not None and len(growth) and np.isfinite(growth["baseline_slope"].iloc[0]):
        doubling = np.log(2.0)
        row = growth.iloc[0]
        out.append(
            text(
                "placements.method_growth",
                language,
                factor=format_number(row["baseline_slope"] ** doubling, language, 2),
                low=format_number(row["baseline_slope_low"] ** doubling, language, 2),
                high=format_number(row["baseline_slope_high"] ** doubling, language, 2),
            )
        )
    return out


def data_and_method(
    data: PlacementData, analysis: PlacementAnalysis, min_cell: int, language: str = "bg"
) -> list[str]:
    """Paragraphs of the "Data and method" section."""
    scope = oblast_name(data.scope, language)
    reform = analysis.reform_date.strftime("%d.%m.%Y" if language == "bg" else "%Y-%m-%d")
    if data.kind == "episodes":
        scoped = data.scoped
        paragraphs = [
            text(
                "placements.data_summary",
                language,
                n_rows=format_number(len(scoped), language, 0),
                n_children=format_number(scoped["child_id"].nunique(), language, 0),
                scope=scope,
                n_rejected=format_number(data.load.n_rejected, language, 0),
            )
        ]
    else:
        paragraphs = [
            text(
                "placements.counts_summary",
                language,
                n_rows=format_number(data.load.n_rows, language, 0),
            ),
            text("placements.counts_method", language),
        ]
    if data.kind == "episodes":
        paragraphs.append(text("placements.method_entries", language))
    if data.kind == "episodes" or analysis.its:
        offset, autocorrelation = its_method_words(data, analysis, language)
        paragraphs.append(
            text(
                "placements.method_its",
                language,
                reform=reform,
                offset=offset,
                autocorrelation=autocorrelation,
            )
        )
        pooled = analysis.regional.get("its_pooled")
        if pooled is not None:
            paragraphs.append(
                text("placements.method_pooled", language, oblasts=int(pooled["units"].iloc[0]))
            )
    else:
        paragraphs.append(text("placements.counts_no_its", language))
    if data.population is None:
        paragraphs.append(text("placements.no_population", language))
    elif data.kind == "episodes":
        paragraphs.append(text("placements.method_rates", language))
        paragraphs += _regional_method_words(analysis, language)
    else:
        paragraphs.append(text("placements.method_rates_counts", language))
    if (
        data.population is not None
        and (data.population.get("method", pd.Series(dtype=str)) == "sprague").any()
    ):
        paragraphs.append(text("placements.method_sprague", language))
    if data.kind == "episodes":
        paragraphs.append(text("placements.method_time", language))
        if "observed_from" in analysis.notes:
            date = pd.Timestamp(analysis.notes["observed_from"])
            shown = date.strftime("%d.%m.%Y" if language == "bg" else "%Y-%m-%d")
            first = series_start(date, "YS").year
            paragraphs.append(
                text("placements.method_truncation", language, date=shown, first=first)
            )
    paragraphs.append(text("qol.method_disclosure", language, min_cell=min_cell))
    return paragraphs


def measure_date(measure: object, language: str) -> tuple[int, str]:
    """(year, words) of a stock's measure: "" for 31 December, else the date, month or "date not stated"."""
    m = str(measure)
    year = int(m[:4])
    if len(m) == 10:
        day = pd.Timestamp(m)
        if (day.month, day.day) == (12, 31):
            return year, ""
        return year, day.strftime("%d.%m.%Y" if language == "bg" else "%Y-%m-%d")
    if len(m) == 7 and m[4] == "-" and m[5:].isdigit():
        return year, f"{m[5:]}.{m[:4]}" if language == "bg" else m
    if "-Q" in m:
        return year, m
    return year, text("placements.date_not_stated", language)


def finding_date(measure: object, language: str) -> str:
    """A stock's date in a sentence: the day, the month, or the year with "date not stated"."""
    m = str(measure)
    if len(m) == 10:
        return pd.Timestamp(m).strftime("%d.%m.%Y" if language == "bg" else "%d %b %Y")
    year, words = measure_date(m, language)
    return words if len(m) == 7 or "-Q" in m else f"{year}, {words}"
