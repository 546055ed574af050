"""The quality-of-life study in words: findings, the title, data and method, the quality note.

Every sentence is built from published figures only, so a finding can never
rest on a suppressed number; the wording lives in :mod:`research_lib.render.labels`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research_lib.io.codebook import Codebook
from research_lib.io.oblasts import oblast_name
from research_lib.render.labels import text
from research_lib.render.reporting import format_number
from research_lib.stats.compare import MIN_SERVICES
from research_lib.studies.qol.analysis import (
    ADJUST_IF_PRESENT,
    FINDINGS_ORDER,
    QolAnalysis,
    QolData,
)

__all__ = [
    "shown_rows",
    "key_findings",
    "report_title",
    "data_and_method",
    "quality_note",
    "model_text",
    "not_estimated_text",
    "design_text",
]


def shown_rows(published: pd.DataFrame, table: str) -> pd.DataFrame:
    """The rows of ``table`` that are shown: not suppressed, with a value."""
    rows = published[(published["table"] == table) & ~published["suppressed"].astype(bool)]
    return rows.dropna(subset=["value"])


def key_findings(
    published: pd.DataFrame,
    codebook: Codebook,
    reference: str,
    language: str = "bg",
    most: int = 8,
    per_group: int = 2,
    covariates: Sequence[str] | None = None,
) -> list[str]:
    """Plain-language findings from published figures only.

    At most ``per_group`` findings per placement type (the strongest), ЦНСТ
    first: the study's question is how children in ЦНСТ fare.

    A difference is reported when its 95% CI excludes zero and its Holm/BH
    adjusted p-value is below 0.05; every sentence carries the estimate, its CI
    and the number of children, and names what it is adjusted for
    (``covariates``, by default the published ``adjusted_for`` rows). The
    differences are described as differences between groups at one time, with a
    closing sentence that they are not effects of the kind of care and naming
    the characteristics of :data:`ADJUST_IF_PRESENT` that were not adjusted
    for. Groups whose difference was not estimated (too few services) are named.
    """
    ref_label = text(f"placement_phrase.{reference}", language)
    if not (published["table"] == "difference_vs_reference").any():
        return [text("qol.no_comparison", language, reference=ref_label)]
    diffs = shown_rows(published, "difference_vs_reference")
    if covariates is None:
        adjusted_rows = published[published["table"] == "adjusted_for"]
        covariates = (
            [m for m in adjusted_rows["measure"].astype(str) if m != "none"]
            if len(adjusted_rows)
            else None
        )
    adjusted = (
        text("qol.adjusted_generic", language)
        if covariates is None
        else text("qol.adjusted_for", language, covariates=_covariates_text(covariates, language))
        if covariates
        else text("qol.adjusted_none", language)
    )
    p_adj = shown_rows(published, "difference_p_adjusted").set_index(["group", "measure"])["value"]
    keyed = diffs.set_index(["group", "measure"]).join(p_adj.rename("p"), how="left")
    clear = keyed[
        ((keyed["ci_low"] > 0) | (keyed["ci_high"] < 0)) & (keyed["p"] < 0.05)
    ].reset_index()
    clear["size"] = clear["value"].abs()
    order = {g: i for i, g in enumerate(FINDINGS_ORDER)}
    clear = (
        clear.sort_values("size", ascending=False)
        .groupby("group", sort=False)
        .head(per_group)
        .assign(rank=lambda f: f["group"].map(order).fillna(len(order)))
        .sort_values(["rank", "size"], ascending=[True, False])
    )
    sentences = []
    for _, row in clear.head(most).iterrows():
        group, measure = row["group"], row["measure"]
        lower = row["value"] < 0
        bounds = sorted(abs(row[c]) for c in ("ci_low", "ci_high"))
        sentence = text(
            "qol.finding_lower" if lower else "qol.finding_higher",
            language,
            group=text(f"placement_subject.{group}", language),
            domain=codebook.domain_label(measure, language),
            reference=ref_label,
            diff=format_number(abs(row["value"]), language),
            low=format_number(bounds[0], language),
            high=format_number(bounds[1], language),
            n=int(row["n"]),
            adjusted=adjusted,
        )
        sentences.append(sentence[0].upper() + sentence[1:])
    if sentences:
        sentences.append(_association_sentence(covariates, language))
    declined = _not_estimated_groups(published)
    if not sentences and (len(diffs) or not declined):
        sentences.append(text("qol.finding_none", language, reference=ref_label))
    if declined:
        sentences.append(
            text(
                "qol.finding_not_estimated",
                language,
                reference=ref_label,
                groups=_join([text(f"placement_phrase.{g}", language) for g in declined], language),
            )
        )

    low = shown_rows(published, "low_by_placement_type")
    low = low[(low["group"] != "all") & low["ci_low"].notna() & low["ci_high"].notna()]
    if len(low):
        top = low.loc[low["value"].idxmax()]
        sentences.append(
            text(
                "qol.finding_low",
                language,
                domain=codebook.domain_label(top["measure"], language),
                group=text(f"placement_phrase.{top['group']}", language),
                share=format_number(100 * top["value"], language, 0),
                low=format_number(100 * top["ci_low"], language, 0),
                high=format_number(100 * top["ci_high"], language, 0),
            )
        )
    return sentences


def report_title(scope: str, wave: str, language: str = "bg") -> tuple[str, str]:
    """The report's title and subtitle (place and wave) in ``language``."""
    place = oblast_name(scope, language)
    return text("qol.title", language), text("qol.subtitle", language, place=place, wave=wave)


def _join(items: Sequence[str], language: str) -> str:
    items = list(items)
    if len(items) < 2:
        return "".join(items)
    conjunction = " и " if language == "bg" else " and "
    return ", ".join(items[:-1]) + conjunction + items[-1]


#: Covariates with a label of their own (``qol.covariate_<name>``); others are named as they are.
_COVARIATE_LABELS = ("age", "sex", "wave", *ADJUST_IF_PRESENT)


def _covariates_text(covariates: Sequence[str], language: str) -> str:
    return _join(
        [
            text(f"qol.covariate_{c}", language) if c in _COVARIATE_LABELS else str(c)
            for c in covariates
        ],
        language,
    )


def _association_sentence(covariates: Sequence[str] | None, language: str) -> str:
    """Differences, not effects; and what the data did not allow to adjust for."""
    sentence = text("qol.association", language)
    if covariates is None:
        return sentence
    missing = [c for c in ADJUST_IF_PRESENT if c not in covariates]
    if missing:
        sentence += " " + text(
            "qol.not_adjusted", language, missing=_covariates_text(missing, language)
        )
    return sentence


def _not_estimated_groups(published: pd.DataFrame) -> list[str]:
    """Groups with no difference estimated (too few services): shown rows without a value."""
    rows = published[
        (published["table"] == "difference_vs_reference")
        & ~published["suppressed"].astype(bool)
        & published["value"].isna()
    ]
    estimated = set(shown_rows(published, "difference_vs_reference")["group"])
    return [g for g in dict.fromkeys(rows["group"].astype(str)) if g not in estimated]


def model_text(analysis: QolAnalysis, language: str) -> str:
    """The comparison model in words: what it is adjusted for, how children are nested."""
    covariates = _covariates_text(analysis.covariates, language)
    comparisons = analysis.comparisons
    done = (
        comparisons["estimated"].astype(bool)
        if "estimated" in comparisons
        else pd.Series(True, index=comparisons.index)
    )
    methods = comparisons.loc[done, "method"].astype(str)
    mixed = methods.str.startswith("linear mixed model")
    key = (
        "qol.model_mixed"
        if mixed.any()
        else ("qol.model_cluster" if methods.str.contains("cluster").any() else "qol.model_ols")
    )
    return text(key, language, covariates=covariates)


def not_estimated_text(analysis: QolAnalysis, language: str) -> str:
    """Which groups were not compared with the reference, and why, in words ('' if none)."""
    comparisons = analysis.comparisons
    if comparisons.empty or "estimated" not in comparisons:
        return ""
    declined = comparisons[~comparisons["estimated"].astype(bool)].drop_duplicates("group")
    if declined.empty:
        return ""

    def services(n: object) -> str:
        return text("qol.n_services_one" if n == 1 else "qol.n_services", language, n=n)

    reference = text(f"placement_phrase.{analysis.reference}", language)
    if (declined["not_estimated"] == "too_few_services_reference").any():
        n_ref = declined["n_services_reference"].iloc[0]
        return text(
            "qol.not_estimated_reference",
            language,
            reference=reference,
            services=services(n_ref),
            minimum=MIN_SERVICES,
        )
    groups = _join(
        [
            f"{text(f'placement_phrase.{g}', language)} ({services(n)})"
            for g, n in zip(declined["group"], declined["n_services"], strict=True)
        ],
        language,
    )
    return text(
        "qol.not_estimated", language, groups=groups, reference=reference, minimum=MIN_SERVICES
    )


def design_text(analysis: QolAnalysis, min_cell: int, language: str) -> str:
    """The design effect of the clustering for the means of all children ('' without it)."""
    desc = analysis.descriptives
    if "deff" not in desc:
        return ""
    overall = desc[(desc["by"] == "all") & (desc["n"] >= min_cell)]["deff"].dropna()
    if overall.empty:
        return ""
    n_services = int(desc.loc[overall.index, "n_clusters"].max())
    return text(
        "qol.design_text",
        language,
        low=format_number(overall.min(), language, 1),
        high=format_number(overall.max(), language, 1),
        n_services=n_services,
    ) + (" " + text("qol.design_imprecise", language) if n_services < 20 else "")


def data_and_method(
    data: QolData,
    analysis: QolAnalysis,
    published: pd.DataFrame,
    min_cell: int,
    language: str = "bg",
) -> list[str]:
    """Paragraphs of the "Data and method" section; child counts come from published figures."""
    book = data.codebook
    sample = published[(published["table"] == "sample") & (published["group"] == "all")]
    n_children = sample["value"].iloc[0] if len(sample) else np.nan
    title = book.extra.get("title", {})
    scope = oblast_name(data.scope, language)
    current = data.current
    paragraphs = [
        text(
            "qol.data_summary",
            language,
            n_valid=format_number(n_children, language, 0),
            n_services=current["service_id"].nunique(),
            places=text(
                "qol.data_places_one"
                if current["oblast"].nunique() == 1
                else "qol.data_places_many",
                language,
                n_oblasts=current["oblast"].nunique(),
                scope=scope,
            ),
            n_rows=format_number(data.load.n_rows, language, 0),
            n_rejected=format_number(data.load.n_rejected, language, 0),
            instrument=title.get(language, book.instrument)
            if isinstance(title, dict)
            else book.instrument,
            n_items=len(book.items),
            n_domains=len(book.domains),
        ),
        text("qol.method_scores", language),
    ]
    design = design_text(analysis, min_cell, language)
    if design:
        paragraphs.append(design)
    comparisons = analysis.comparisons
    if not comparisons.empty and (
        "estimated" not in comparisons or comparisons["estimated"].astype(bool).any()
    ):
        paragraphs.append(
            text(
                "qol.method_compare",
                language,
                reference=text(f"placement_phrase.{analysis.reference}", language),
                method=model_text(analysis, language),
                correction=text(f"qol.correction_{_correction_key(analysis)}", language),
            )
            + " "
            + _association_sentence(analysis.covariates, language)
        )
    declined = not_estimated_text(analysis, language)
    if declined:
        paragraphs.append(declined)
    icc = published[(published["table"] == "icc") & ~published["suppressed"].astype(bool)][
        "value"
    ].dropna()
    if len(icc):
        paragraphs.append(
            text(
                "qol.icc_text",
                language,
                low=format_number(icc.min(), language, 2),
                high=format_number(icc.max(), language, 2),
            )
        )
    paragraphs.append(text("qol.method_disclosure", language, min_cell=min_cell))
    return paragraphs


def _correction_key(analysis: QolAnalysis) -> str:
    label = (
        str(analysis.comparisons["correction"].iloc[0])
        if "correction" in analysis.comparisons
        else "Holm"
    )
    return "holm" if label.lower().startswith("holm") else "fdr_bh"


def quality_note(
    published: pd.DataFrame, codebook: Codebook, language: str = "bg", threshold: float = 0.7
) -> str:
    """Which domains have Cronbach's alpha below ``threshold`` (from published figures)."""
    alpha = published[
        (published["table"] == "reliability_alpha") & ~published["suppressed"].astype(bool)
    ]
    low = alpha[alpha["value"] < threshold]["measure"]
    if low.empty:
        return text("qol.quality_ok", language)
    return text(
        "qol.quality_flagged",
        language,
        domains=_join([f"„{codebook.domain_label(d, language)}“" for d in low], language),
    )
