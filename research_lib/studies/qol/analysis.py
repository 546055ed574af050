"""The quality-of-life study's data and analyses: a survey file to the analysis of one scope.

:func:`prepare` loads, validates and scores the responses and keeps the oblast
and wave asked for; :func:`analyse` computes reliability, descriptives, adjusted
comparisons with the reference group (children nested in services) and change
between waves, and the counts of every scope the batch-wide suppression pattern
is chosen on (:func:`linked_counts`). Nothing here is published:
:mod:`research_lib.studies.qol.figures` declares what is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from research_lib.errors import InputError
from research_lib.io.codebook import Codebook
from research_lib.io.oblasts import NATIONAL, load_oblasts, resolve_scope
from research_lib.io.surveys import (
    LoadResult,
    canonical_wave,
    latest_wave,
    load_responses,
    wave_order,
)
from research_lib.paths import is_demo_data
from research_lib.stats.compare import compare_domains, compare_waves
from research_lib.stats.descriptives import age_band, describe_by_dimensions
from research_lib.stats.psychometrics import item_statistics, reliability
from research_lib.stats.scoring import scored_table

__all__ = [
    "DIMENSIONS",
    "FINDINGS_ORDER",
    "ADJUST_IF_PRESENT",
    "QolData",
    "QolAnalysis",
    "prepare",
    "analyse",
    "held_covariates",
    "linked_counts",
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
    chosen = latest_wave(waves) if wave == "latest" else (canonical_wave(wave) or str(wave))
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
    covariates = held_covariates(current, covariates)
    design = cluster if cluster in current.columns else None
    valid_now = data.load.valid[data.load.valid["respondent_id"].isin(current.index)]
    rel = reliability(valid_now, book, n_boot=n_boot, seed=seed)
    items = item_statistics(valid_now, book)
    weight = "weight" if "weight" in current.columns and current["weight"].notna().any() else None
    descriptives = describe_by_dimensions(
        current, domains, DIMENSIONS, weight=weight, cluster=design
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


def held_covariates(current: pd.DataFrame, covariates: Sequence[str]) -> tuple[str, ...]:
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


def is_demo(responses: str | Path) -> bool:
    """Whether ``responses`` is the synthetic demo data (the report then says so)."""
    return is_demo_data(responses)
