"""Exploring a survey in JupyterLab: one call per view, the same library steps as the study.

For researchers with access to the data — these views are NOT disclosure-controlled
and are not for publication; reports go through :mod:`research_lib.studies.qol.pipeline`.

Examples
--------
>>> from research_lib.paths import DEMO_DIR, SURVEYS_DIR
>>> data = load_survey(DEMO_DIR / "survey.csv", SURVEYS_DIR / "qol-child-v1.yaml")  # doctest: +SKIP
>>> plot_domain(data, "participation", by="placement_type")  # doctest: +SKIP
>>> domains_overview(data)  # every domain by placement type, age band and sex  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from research_lib.io.codebook import load_codebook
from research_lib.io.oblasts import oblast_name
from research_lib.io.vocab import PLACEMENT_TYPES
from research_lib.render.labels import group_label, text
from research_lib.render.reporting import placement_palette
from research_lib.stats.descriptives import describe_by_dimensions, describe_scores
from research_lib.studies.qol.analysis import QolData, prepare

__all__ = ["load_survey", "plot_domain", "domain_summary", "domains_overview", "BY_CHOICES"]

#: What a domain can be drawn by.
BY_CHOICES = ("placement_type", "age_band", "sex", "oblast", "wave")


def load_survey(responses: str | Path, codebook: str | Path, oblast: str = "all") -> QolData:
    """Load, validate and score a survey with its codebook (all waves kept)."""
    return prepare(responses, load_codebook(codebook), oblast=oblast, wave="latest")


def _labels(values: pd.Series, by: str, language: str) -> pd.Series:
    if by == "oblast":
        return values.map(lambda code: oblast_name(code, language))
    return values.astype(str).map(lambda v: group_label(by, v, language))


def domain_summary(data: QolData, domain: str, by: str = "placement_type") -> pd.DataFrame:
    """n, mean, SD and a 95% interval of one domain score per group (all waves in scope).

    Children of one service are alike, so the interval treats services as clusters
    (``cluster="service_id"``: design effect and number of services in the table).
    """
    cluster = "service_id" if "service_id" in data.scored.columns else None
    return describe_scores(data.scored, [domain], by=by, overall=True, cluster=cluster)


def domains_overview(
    data: QolData,
    domains: Sequence[str] | None = None,
    dimensions: Sequence[str] = ("placement_type", "age_band", "sex"),
) -> pd.DataFrame:
    """n, mean, SD and a 95% interval of every domain, overall and by each dimension, in one table.

    The table of :func:`research_lib.stats.descriptives.describe_by_dimensions`
    (all waves in scope; services as clusters, as in :func:`domain_summary`): the
    overall rows first (``by == "all"``), then one block per dimension, each
    described on its own (not crossed).

    Parameters
    ----------
    data : QolData
        From :func:`load_survey`.
    domains : sequence of str, optional
        Domain ids; default every domain of the codebook.
    dimensions : sequence of str
        Any of :data:`BY_CHOICES`.
    """
    unknown = [d for d in dimensions if d not in BY_CHOICES]
    if unknown:
        raise ValueError(f"dimensions must be among {', '.join(BY_CHOICES)}, got {unknown}")
    outcomes = list(data.codebook.domain_ids if domains is None else domains)
    cluster = "service_id" if "service_id" in data.scored.columns else None
    return describe_by_dimensions(data.scored, outcomes, dimensions=dimensions, cluster=cluster)


def plot_domain(
    data: QolData, domain: str, by: str = "placement_type", language: str = "bg", ax=None
):
    """Mean of a domain score with its 95% CI by placement type, age band, sex, oblast or wave.

    One colour per placement type as in the reports; oblasts sorted by their mean.
    Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if by not in BY_CHOICES:
        raise ValueError(f"by must be one of {', '.join(BY_CHOICES)}, got {by!r}")
    frame = data.scored[[by, domain]].dropna()
    frame = frame.assign(label=_labels(frame[by], by, language))
    if by == "placement_type":
        order = [
            group_label(by, p, language) for p in PLACEMENT_TYPES if p in set(frame[by].astype(str))
        ]
        palette = placement_palette(language)
    elif by == "oblast":
        order = frame.groupby("label")[domain].mean().sort_values().index.tolist()
        palette = None
    else:
        order = sorted(frame["label"].unique())
        palette = None
    if ax is None:
        _, ax = plt.subplots(figsize=(8, max(3.0, 0.32 * len(order) + 1.2)))
    sns.pointplot(
        data=frame,
        y="label",
        x=domain,
        order=order,
        hue="label" if palette else None,
        palette=palette,
        errorbar=("ci", 95),
        seed=20251124,
        linestyle="none",
        ax=ax,
        legend=False,
        color=None if palette else "#0072B2",
    )
    ax.set_ylabel(text(f"dimension.{by}", language))
    ax.set_xlabel(
        f"{data.codebook.domain_label(domain, language)} — {text('common.score_axis', language)}"
    )
    ax.figure.tight_layout()
    return ax
