"""The quality-of-life study: from a survey file to disclosure-controlled figures.

The notebook ``notebooks/qol_study.ipynb`` tells the story; this module holds
its steps so that every one is tested and none is re-implemented in a notebook:

1. :func:`prepare` — load, validate and score; keep the oblast and wave asked for;
2. :func:`analyse` — reliability, descriptives, adjusted comparisons with the
   reference group (children nested in services), change between waves;
3. :func:`published_figures` — every figure the report shows, in the layout of
   ``published.csv``, passed through :mod:`research_lib.disclosure.suppression`;
4. :func:`key_findings` — plain-language sentences built only from published
   figures, so a finding can never rest on a suppressed number.

Published tables (``table`` column of ``published.csv``):

================================ =========================== ======================
table                            group                       measure
================================ =========================== ======================
``sample``                       ``all`` / placement type    ``children``
``reliability_alpha`` / ``_omega`` ``all``                   domain id
``means_by_<dimension>``         ``all`` / group value       domain id
``low_by_placement_type``        ``all`` / placement type    domain id (share 0-1)
``difference_vs_reference``      placement type              domain id (points)
``difference_p_adjusted``        placement type              domain id (p value)
``wave_change``                  placement type              domain id (points)
``icc``                          ``all``                     domain id
================================ =========================== ======================

``<dimension>`` is ``placement_type``, ``age_band`` or ``sex``. A difference's
``n`` is the smaller of the two groups compared, so it is suppressed whenever
either group is too small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.disclosure.suppression import (
    PUBLISHED_COLUMNS,
    apply_pattern,
    check_published,
    figure_rows,
    protect_linked,
    to_published,
)
from research_lib.errors import InputError
from research_lib.io.codebook import Codebook
from research_lib.io.oblasts import NATIONAL, oblast_name, resolve_scope
from research_lib.io.surveys import LoadResult, canonical_wave, load_responses, wave_order
from research_lib.render.labels import text
from research_lib.render.reporting import format_number
from research_lib.stats.compare import MIN_SERVICES, compare_domains, compare_waves
from research_lib.stats.descriptives import age_band, describe_scores
from research_lib.stats.psychometrics import item_statistics, reliability
from research_lib.stats.scoring import scored_table

__all__ = [
    "QolData",
    "QolAnalysis",
    "DIMENSIONS",
    "prepare",
    "analyse",
    "published_figures",
    "linked_counts",
    "report_pattern",
    "key_findings",
    "report_title",
    "data_and_method",
    "quality_note",
    "comparison_table",
    "reliability_table",
    "weak_items",
    "is_demo",
]

DIMENSIONS: tuple[str, ...] = ("placement_type", "age_band", "sex")
#: The order in which findings are reported: the study's question is ЦНСТ.
FINDINGS_ORDER: tuple[str, ...] = ("cnst", "institution", "kinship", "family", "foster")
#: Characteristics that shape both where a child is placed and how the child fares:
#: the comparisons adjust for each one the data hold (a column with at least two
#: distinct values), besides ``covariates``; the report names those it lacks.
ADJUST_IF_PRESENT: tuple[str, ...] = ("disability", "months_in_care", "age_at_entry")


@dataclass(frozen=True)
class QolData:
    """A loaded, scored survey restricted to one oblast (or the country) and wave."""

    load: LoadResult
    codebook: Codebook
    scored: pd.DataFrame  #: one row per child in scope, all waves
    scope: str  #: NUTS-3 code or ``"all"``
    wave: str  #: the wave analysed
    waves: tuple[str, ...]  #: every wave present in scope, sorted

    @property
    def current(self) -> pd.DataFrame:
        """The children of the wave analysed."""
        return self.scored[self.scored["wave"] == self.wave]

    @property
    def known_ids(self) -> frozenset[str]:
        """Every respondent and service id in the file: all oblasts and waves, rejected rows too.

        Pass it to :func:`research_lib.disclosure.voices.select_quotes` (``known_ids=``) so
        that an answer naming another child's id is masked whatever wave or
        oblast that child is in.
        """
        ids: set[str] = set()
        for column in ("respondent_id", "service_id"):
            if column in self.load.valid.columns:
                ids |= {str(v) for v in self.load.valid[column].dropna().unique()}
        rejected = self.load.rejected
        if {"column", "value"} <= set(rejected.columns):
            values = rejected.loc[rejected["column"].isin(["respondent_id", "service_id"]), "value"]
            ids |= {str(v) for v in values.dropna().unique()}
        return frozenset(ids)


@dataclass(frozen=True)
class QolAnalysis:
    """The analysis tables of one study run (unpublished: may hold small cells)."""

    reliability: pd.DataFrame
    descriptives: pd.DataFrame
    comparisons: pd.DataFrame
    waves: pd.DataFrame
    reference: str
    covariates: tuple[str, ...]
    sample: pd.DataFrame = field(repr=False)
    #: Why there are no comparisons ("" when there are): ``no_reference``, ``one_group`` ...
    comparison_note: str = ""
    #: Item statistics (item-rest correlation, floor, ceiling, missing) of the wave analysed.
    items: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    #: The scope analysed (NUTS-3 code or ``"all"``).
    scope: str = NATIONAL
    #: The counts every report of a batch publishes, for every scope, from the whole
    #: data set (:func:`linked_counts`): the batch-wide suppression pattern is chosen on them.
    linked: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


def prepare(
    responses: str | Path, codebook: Codebook, oblast: str = NATIONAL, wave: str = "latest"
) -> QolData:
    """Load, validate and score ``responses``; keep the children of ``oblast``.

    Parameters
    ----------
    oblast : str
        Any oblast name or code :func:`research_lib.io.oblasts.resolve_oblast`
        accepts, or ``"all"`` for the whole country.
    wave : str
        The wave to describe: a value of the ``wave`` column or ``"latest"``.
        Change between waves always uses the two latest waves present.
    """
    scope = resolve_scope(oblast)
    load = load_responses(responses, codebook)
    scored = scored_table(load.valid, codebook)
    scored["age_band"] = age_band(scored["age"])
    if scope != NATIONAL:
        scored = scored[scored["oblast"] == scope]
    waves = tuple(wave_order(scored["wave"].dropna().unique()))  # by time, not as text
    if not waves:
        raise InputError(f"{Path(responses).name}: no valid responses for oblast {oblast!r}.")
    chosen = waves[-1] if wave == "latest" else (canonical_wave(wave) or str(wave))
    if chosen not in waves:
        raise InputError(
            f"wave {wave!r} is not in the data; waves present: {', '.join(waves)} (or 'latest')."
        )
    return QolData(
        load=load, codebook=codebook, scored=scored, scope=scope, wave=chosen, waves=waves
    )


def analyse(
    data: QolData,
    reference: str = "foster",
    covariates: Sequence[str] = ("age", "sex"),
    cluster: str = "service_id",
    correction: str = "holm",
    n_boot: int = 500,
    seed: int = 20251124,
) -> QolAnalysis:
    """Reliability, descriptives, adjusted comparisons and change between waves.

    An optional ``weight`` column (survey weights) is honoured: weighted means and
    shares, and weighted least squares with cluster-robust errors for the
    comparisons (the mixed model takes no weights).

    Comparisons are of the wave analysed, by placement type against
    ``reference``, adjusted for ``covariates``, with children nested in
    ``cluster`` (random-intercept mixed model; see :func:`research_lib.stats.compare.compare_groups`).
    Besides ``covariates`` they adjust for each of :data:`ADJUST_IF_PRESENT` the
    data hold. Means and shares have confidence intervals clustered by
    ``cluster``, with the design effect (:func:`research_lib.stats.descriptives.describe_scores`).
    """
    book = data.codebook
    domains = book.domain_ids
    current = data.current
    covariates = _held_covariates(current, covariates)
    design = cluster if cluster in current.columns else None
    valid_now = data.load.valid[data.load.valid["respondent_id"].isin(current.index)]
    rel = reliability(valid_now, book, n_boot=n_boot, seed=seed)
    items = item_statistics(valid_now, book)
    weight = "weight" if "weight" in current.columns and current["weight"].notna().any() else None
    descriptives = pd.concat(
        [describe_scores(current, domains, by=None, weight=weight, cluster=design)]
        + [
            describe_scores(current, domains, by=d, overall=False, weight=weight, cluster=design)
            for d in DIMENSIONS
        ],
        ignore_index=True,
    )
    comparisons, why_not = _comparisons(
        current, domains, reference, covariates, cluster, correction, weight
    )
    waves = pd.DataFrame()
    if len(data.waves) >= 2:
        first, second = data.waves[-2], data.waves[-1]
        pair = data.scored[data.scored["wave"].isin([first, second])]
        waves = pd.concat(
            [
                compare_waves(
                    pair,
                    d,
                    by="placement_type",
                    first=first,
                    second=second,
                    covariates=[c for c in covariates if c != "wave"],
                    cluster=cluster,
                )
                for d in domains
            ],
            ignore_index=True,
        )
    sample = current.groupby("placement_type", observed=False).size().rename("n").reset_index()
    linked = linked_counts(data, weight=weight)
    return QolAnalysis(
        reliability=rel,
        descriptives=descriptives,
        comparisons=comparisons,
        waves=waves,
        reference=reference,
        covariates=tuple(covariates),
        sample=sample,
        comparison_note=why_not,
        items=items,
        scope=data.scope,
        linked=linked,
    )


def _held_covariates(current: pd.DataFrame, covariates: Sequence[str]) -> tuple[str, ...]:
    """``covariates`` and each column of :data:`ADJUST_IF_PRESENT` that varies in the data."""
    held = [
        c
        for c in ADJUST_IF_PRESENT
        if c in current.columns and c not in covariates and current[c].nunique(dropna=True) >= 2
    ]
    return (*covariates, *held)


def _comparisons(
    current: pd.DataFrame,
    domains: Sequence[str],
    reference: str,
    covariates: Sequence[str],
    cluster: str,
    correction: str,
    weight: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """Adjusted comparisons, or an empty table and the reason when none can be made.

    A small oblast may have no child in the reference group, or one group only:
    the report then says so instead of failing.
    """
    present = set(current["placement_type"].dropna().astype(str))
    if reference not in present:
        return pd.DataFrame(), "no_reference"
    if len(present) < 2:
        return pd.DataFrame(), "one_group"
    try:
        table = compare_domains(
            current,
            domains,
            by="placement_type",
            reference=reference,
            covariates=list(covariates),
            cluster=cluster,
            weights=weight,
            correction=correction,
        )
    except InputError as err:
        return pd.DataFrame(), f"error: {err}"
    table.attrs["covariates"] = tuple(covariates)  # published as ``adjusted_for``
    return table, ""


def published_figures(
    analysis: QolAnalysis, min_cell: int = 5, forbidden: Sequence[str] = ()
) -> pd.DataFrame:
    """Every figure of the report in the ``published.csv`` layout, disclosure-controlled.

    ``forbidden`` lists respondent ids that must not appear anywhere (checked).
    """
    parts = []
    sample = analysis.sample
    total = int(sample["n"].sum())
    parts.append(
        figure_rows(
            "sample",
            ["all", *sample["placement_type"].astype(str)],
            "children",
            [total, *sample["n"]],
            [total, *sample["n"]],
            by="placement_type",
        )
    )

    rel = analysis.reliability
    for stat in ("alpha", "omega"):
        parts.append(
            figure_rows(
                f"reliability_{stat}",
                "all",
                rel["domain"],
                rel["n"],
                rel[stat],
                rel[f"{stat}_ci_low"],
                rel[f"{stat}_ci_high"],
            )
        )
    parts.append(
        figure_rows("item_missing", "all", rel["domain"], rel["n_any"], rel["share_missing"])
    )
    parts.append(figure_rows("floor_share", "all", rel["domain"], rel["n_any"], rel["floor"]))
    parts.append(figure_rows("ceiling_share", "all", rel["domain"], rel["n_any"], rel["ceiling"]))
    items = analysis.items
    if len(items):
        parts.append(
            figure_rows(
                "item_rest", items["domain"], items["item"], items["n"], items["item_rest_r"]
            )
        )

    desc = analysis.descriptives
    for dimension in DIMENSIONS:
        rows = desc[desc["by"].isin([dimension, "all"])]
        parts.append(
            figure_rows(
                f"means_by_{dimension}",
                rows["group"].astype(str),
                rows["outcome"],
                rows["n"],
                rows["mean"],
                rows["ci_low"],
                rows["ci_high"],
                by=dimension,
            )
        )
    if "share_low" in desc:
        rows = desc[desc["by"].isin(["placement_type", "all"]) & desc["share_low"].notna()]
        parts.append(
            figure_rows(
                "low_by_placement_type",
                rows["group"].astype(str),
                rows["outcome"],
                rows["n"],
                rows["share_low"],
                rows["share_low_ci_low"],
                rows["share_low_ci_high"],
                by="placement_type",
            )
        )

    if not analysis.comparisons.empty:
        parts += _comparison_figures(analysis.comparisons)
    if len(analysis.waves):
        waves = analysis.waves
        parts.append(
            figure_rows(
                "wave_change",
                waves["group"].astype(str),
                waves["outcome"],
                np.minimum(waves["n_first"], waves["n_second"]),
                waves["estimate"],
                waves["ci_low"],
                waves["ci_high"],
            )
        )
    return _finish(parts, analysis, min_cell, forbidden)


def _comparison_figures(comp: pd.DataFrame) -> list[pd.DataFrame]:
    """Differences from the reference, adjusted p-values and ICCs as figures.

    ``adjusted_for`` lists what the differences are adjusted for (one row per
    covariate, value 1; measure ``none`` when unadjusted), so that every reader of
    the figures can name it.
    """
    n_pair = np.minimum(comp["n"], comp["n_reference"])
    group = comp["group"].astype(str)
    icc = comp.groupby("outcome", sort=False).agg(
        icc=("icc", "first"), n=("n", "sum"), n_ref=("n_reference", "first")
    )
    adjusted = list(comp.attrs.get("covariates", ())) or ["none"]
    n_all = int((icc["n"] + icc["n_ref"]).max())
    return [
        figure_rows("adjusted_for", "all", adjusted, n_all, 1.0),
        figure_rows(
            "difference_vs_reference",
            group,
            comp["outcome"],
            n_pair,
            comp["estimate"],
            comp["ci_low"],
            comp["ci_high"],
        ),
        figure_rows("difference_p_adjusted", group, comp["outcome"], n_pair, comp["p_adjusted"]),
        figure_rows("icc", "all", icc.index, icc["n"] + icc["n_ref"], icc["icc"]),
    ]


def _finish(
    parts: list[pd.DataFrame], analysis: QolAnalysis, min_cell: int, forbidden: Sequence[str]
) -> pd.DataFrame:
    figures = pd.concat(parts, ignore_index=True)
    for column in ("value", "ci_low", "ci_high"):  # 6 significant digits: stable across machines
        figures[column] = [float(f"{v:.6g}") if pd.notna(v) else np.nan for v in figures[column]]
    if analysis.linked.empty:  # an analysis built by hand: each table protected on its own
        published = to_published(figures, min_cell, forbidden=forbidden)
        published = _suppress_linked(published, analysis.reference)
        return to_published(published, min_cell, forbidden=forbidden)
    pattern = report_pattern(analysis, min_cell)
    governed = figures["table"].isin(_GOVERNED)
    out = pd.concat(
        [
            apply_pattern(figures[governed], pattern, min_cell),
            to_published(figures[~governed], min_cell, forbidden=forbidden),
        ]
    )
    out = out.loc[:, list(PUBLISHED_COLUMNS)].sort_index(kind="stable").reset_index(drop=True)
    check_published(out, min_cell, forbidden=forbidden)
    return out


#: Tables whose suppression follows the batch-wide pattern (:func:`report_pattern`).
_GOVERNED = (
    "sample",
    *(f"means_by_{d}" for d in DIMENSIONS),
    "low_by_placement_type",
    "difference_vs_reference",
    "difference_p_adjusted",
    "wave_change",
)


def linked_counts(data: QolData, weight: str | None = None) -> pd.DataFrame:
    """The counts the reports of a batch publish, for the country and every oblast.

    Built from the whole data set (``data.load.valid``), not from the scope of
    ``data``, so every run - alone or in a batch - chooses the same pattern.

    Returns
    -------
    DataFrame
        Columns ``study, scope, table, group, measure, n, parent``: the children
        of each placement type in the wave analysed (``sample``), the children
        with a score in each domain by placement type, age band and sex
        (``means_by_<dimension>``), and the children of each placement type in
        the wave before (study ``qol-previous``, for ``wave_change``).
        ``parent`` is the row of the group's ``sample`` count (or -1): a group
        whose count is hidden is hidden in every table.
    """
    book = data.codebook
    domains = book.domain_ids
    scored = scored_table(data.load.valid, book)
    scored["age_band"] = age_band(scored["age"])
    scored["placement_type"] = scored["placement_type"].astype("category")
    order = wave_order(scored["wave"].dropna().unique())
    rows: list[dict[str, object]] = []

    def add(study, scope, table, group, measure, n, parent=-1) -> int:
        rows.append(
            {
                "study": study,
                "scope": scope,
                "table": table,
                "group": str(group),
                "measure": measure,
                "n": int(n),
                "parent": parent,
            }
        )
        return len(rows) - 1

    from research_lib.io.oblasts import load_oblasts

    scopes = [NATIONAL, *load_oblasts().index]
    waves = [("qol", data.wave)]
    if data.wave in order and order.index(data.wave) > 0:
        waves.append(("qol-previous", order[order.index(data.wave) - 1]))
    types = list(scored["placement_type"].cat.categories)
    for study, wave in waves:
        in_wave = scored[scored["wave"] == wave]
        for scope in scopes:
            here = in_wave if scope == NATIONAL else in_wave[in_wave["oblast"] == scope]
            counts = here["placement_type"].value_counts()
            total = add(study, scope, "sample", "all", "children", len(here))
            parents = {
                g: add(study, scope, "sample", g, "children", counts.get(g, 0)) for g in types
            }
            if study != "qol":
                continue
            has = here[domains].notna()
            if weight is not None:
                has = has & here[[weight]].notna().to_numpy()
            for domain in domains:
                add(
                    study, scope, "means_by_placement_type", "all", domain, has[domain].sum(), total
                )
                for dimension in DIMENSIONS:
                    groups = has[domain].groupby(here[dimension], observed=True).sum()
                    if dimension != "placement_type":
                        add(
                            study,
                            scope,
                            f"means_by_{dimension}",
                            "all",
                            domain,
                            has[domain].sum(),
                            total,
                        )
                    for group, n in groups.items():
                        parent = parents.get(group, -1) if dimension == "placement_type" else total
                        add(study, scope, f"means_by_{dimension}", group, domain, n, parent)
    return pd.DataFrame(rows)


def report_pattern(analysis: QolAnalysis, min_cell: int = 5) -> pd.DataFrame:
    """Which governed figures of this report are hidden, from the batch-wide pattern.

    The counts of every scope (:attr:`QolAnalysis.linked`) are protected as one
    linked table (:func:`research_lib.disclosure.suppression.protect_linked`); this report
    takes its scope's part. One pattern per group: a group's shares follow its
    mean, a difference or p-value follows the means of both groups compared, a
    change between waves follows the group's mean now and its count in the wave
    before.

    Returns
    -------
    DataFrame
        Columns ``table, group, measure, hidden``.
    """
    linked = analysis.linked
    hidden = protect_linked(linked, min_cell, parent=linked["parent"].to_numpy())
    mine = linked.assign(hidden=hidden.to_numpy())
    mine = mine[mine["scope"] == analysis.scope]
    now = mine[mine["study"] == "qol"].loc[:, ["table", "group", "measure", "hidden"]]
    before = mine[(mine["study"] == "qol-previous")].set_index("group")["hidden"]
    means = now[now["table"] == "means_by_placement_type"].set_index(["group", "measure"])["hidden"]
    low = means.reset_index().assign(table="low_by_placement_type")
    pairs = []
    for (group, measure), flag in means.items():
        if group == "all":
            continue
        ref = bool(means.get((analysis.reference, measure), True))
        for table in ("difference_vs_reference", "difference_p_adjusted"):
            pairs.append((table, group, measure, bool(flag) or ref))
        pairs.append(("wave_change", group, measure, bool(flag) or bool(before.get(group, True))))
    derived = pd.DataFrame(pairs, columns=["table", "group", "measure", "hidden"])
    return pd.concat([now, low, derived], ignore_index=True)


#: Tables whose figures are built from the group means of ``means_by_placement_type``.
_LINKED_TABLES = (
    "difference_vs_reference",
    "difference_p_adjusted",
    "wave_change",
    "low_by_placement_type",
)


def _suppress_linked(published: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Hide a difference, share or change whose group's (or the reference's) mean is hidden.

    A group mean hidden as a complement (secondary suppression) could otherwise
    be recovered as the reference mean plus the published difference.
    """
    means = published[published["table"] == "means_by_placement_type"]
    hidden = set(
        zip(
            means.loc[means["suppressed"], "group"],
            means.loc[means["suppressed"], "measure"],
            strict=True,
        )
    )
    if not hidden:
        return published
    linked = published["table"].isin(_LINKED_TABLES)
    own = [(g, m) in hidden for g, m in zip(published["group"], published["measure"], strict=True)]
    via_reference = [
        (reference, m) in hidden and t != "low_by_placement_type"
        for t, m in zip(published["table"], published["measure"], strict=True)
    ]
    hide = linked & (
        pd.Series(own, index=published.index) | pd.Series(via_reference, index=published.index)
    )
    published = published.copy()
    published.loc[hide, "suppressed"] = True
    published.loc[hide, ["n", "value", "ci_low", "ci_high"]] = np.nan
    return published


def _shown(published: pd.DataFrame, table: str) -> pd.DataFrame:
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
    diffs = _shown(published, "difference_vs_reference")
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
    p_adj = _shown(published, "difference_p_adjusted").set_index(["group", "measure"])["value"]
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

    low = _shown(published, "low_by_placement_type")
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
    estimated = set(_shown(published, "difference_vs_reference")["group"])
    return [g for g in dict.fromkeys(rows["group"].astype(str)) if g not in estimated]


def _model_text(analysis: QolAnalysis, language: str) -> str:
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


def _not_estimated_text(analysis: QolAnalysis, language: str) -> str:
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


def _design_text(analysis: QolAnalysis, min_cell: int, language: str) -> str:
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
    design = _design_text(analysis, min_cell, language)
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
                method=_model_text(analysis, language),
                correction=text(f"qol.correction_{_correction_key(analysis)}", language),
            )
            + " "
            + _association_sentence(analysis.covariates, language)
        )
    declined = _not_estimated_text(analysis, language)
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


def is_demo(responses: str | Path) -> bool:
    """Whether ``responses`` is the synthetic demo data (the report then says so)."""
    from research_lib.paths import is_demo_data

    return is_demo_data(responses)


def comparison_table(
    published: pd.DataFrame, codebook: Codebook, language: str = "bg"
) -> pd.DataFrame:
    """Differences from the reference group per domain (rows) and group (columns).

    Cells read "−5,8 * (−9,7 – −1,9)" where ``*`` marks an adjusted p < 0.05;
    suppressed figures show "—".
    """
    from research_lib.render.reporting import published_table

    labels = {d: codebook.domain_label(d, language) for d in codebook.domain_ids}
    table = published_table(
        published,
        "difference_vs_reference",
        dimension="placement_type",
        measure_labels=labels,
        language=language,
        with_n=False,
    )
    p = _shown(published, "difference_p_adjusted")
    significant = {
        (labels.get(m, m), g)
        for m, g, v in zip(p["measure"], p["group"], p["value"], strict=True)
        if v < 0.05
    }
    groups = (
        published[published["table"] == "difference_vs_reference"]["group"]
        .drop_duplicates()
        .tolist()
    )
    columns = dict(zip(table.columns, groups, strict=False))
    for column, group in columns.items():
        table[column] = [
            cell.replace(" (", " * (", 1) if (measure, group) in significant else cell
            for measure, cell in zip(table.index, table[column], strict=True)
        ]
    return table


def reliability_table(
    published: pd.DataFrame, codebook: Codebook, language: str = "bg"
) -> pd.DataFrame:
    """Cronbach's alpha and McDonald's omega with CIs per domain, from published figures."""
    from research_lib.render.reporting import format_estimate

    rows = []
    for domain in codebook.domain_ids:
        row = {
            text("dimension.domain", language): codebook.domain_label(domain, language),
            text("qol.col_items", language): len(codebook.items_of(domain)),
        }
        for stat, column in (("alpha", "qol.col_alpha"), ("omega", "qol.col_omega")):
            fig = published[
                (published["table"] == f"reliability_{stat}") & (published["measure"] == domain)
            ]
            value = fig.iloc[0] if len(fig) else None
            row[text(column, language)] = (
                format_estimate(value["value"], value["ci_low"], value["ci_high"], language, 2)
                if value is not None
                else text("common.suppressed", language)
            )
            if stat == "alpha":
                flag = value is not None and pd.notna(value["value"]) and value["value"] < 0.7
                row[text("qol.col_flag", language)] = text(
                    "common.yes" if flag else "common.no", language
                )
        for table, column in (
            ("item_missing", "qol.col_missing"),
            ("floor_share", "qol.col_floor"),
            ("ceiling_share", "qol.col_ceiling"),
        ):
            fig = published[(published["table"] == table) & (published["measure"] == domain)]
            share = fig["value"].iloc[0] if len(fig) else np.nan
            row[text(column, language)] = format_number(
                100 * share if pd.notna(share) else share, language, 1
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index(text("dimension.domain", language))


def weak_items(
    published: pd.DataFrame, codebook: Codebook, language: str = "bg", threshold: float = 0.3
) -> tuple[str, pd.DataFrame]:
    """Items whose item-rest correlation is below ``threshold``: a sentence and a table."""
    rows = _shown(published, "item_rest")
    weak = rows[rows["value"] < threshold].sort_values("value")
    shown = format_number(threshold, language, 2)
    if weak.empty:
        return text("qol.weak_items_none", language, threshold=shown), pd.DataFrame()
    table = pd.DataFrame(
        {
            text("dimension.domain", language): [
                codebook.domain_label(d, language) for d in weak["group"]
            ],
            text("qol.col_item", language): [
                codebook.item_text(i, language) for i in weak["measure"]
            ],
            text("qol.col_item_rest", language): [
                format_number(v, language, 2) for v in weak["value"]
            ],
        }
    ).set_index(text("dimension.domain", language))
    return text("qol.weak_items_intro", language, threshold=shown), table
