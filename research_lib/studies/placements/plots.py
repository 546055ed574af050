"""The placement study's plots: shown figures only, small counts left out of observed points.

Matplotlib is imported when a plot is drawn, not with the module.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from research_lib.render.labels import group_label, text
from research_lib.render.reporting import PLACEMENT_COLOURS
from research_lib.stats.funnels import plot_funnel
from research_lib.stats.its import ITSResult, plot_its
from research_lib.stats.projection import plot_projection
from research_lib.studies.placements.analysis import PlacementAnalysis
from research_lib.studies.placements.tables import COUNT_TABLES

__all__ = [
    "plot_counts",
    "plot_its_safe",
    "plot_share_funnel",
    "plot_projection_safe",
    "plot_rate_funnel",
]


def plot_counts(published: pd.DataFrame, table: str, language: str = "bg", ax=None):
    """Counts by year, one line per placement type in its report colour (shown figures only)."""
    import matplotlib.pyplot as plt  # heavy: only when a plot is drawn
    from matplotlib.ticker import MaxNLocator

    rows = published[
        (published["table"] == table)
        & ~published["suppressed"].astype(bool)
        & (published["group"] != "all")
    ]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    for group, colour in PLACEMENT_COLOURS.items():
        sub = rows[rows["group"] == group]
        if len(sub):
            ax.plot(
                sub["measure"].astype(str).str[:4].astype(int),
                sub["value"],
                marker="o",
                ms=3,
                color=colour,
                label=group_label("placement_type", group, language),
            )
    heading = dict(COUNT_TABLES).get(table)
    if heading:
        ax.set_title(text(heading, language), fontsize=11, loc="left")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # years, never 2014.2
    ax.set_xlabel(text("placements.col_year", language))
    ax.set_ylabel(text("common.n", language))
    ax.legend(frameon=False, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.figure.tight_layout()
    return ax


def plot_its_safe(result: ITSResult, min_cell: int, language: str = "bg", ax=None):
    """The ITS plot with months of fewer than ``min_cell`` entries left out of the observed points.

    The fitted and counterfactual lines are model estimates and are always drawn.
    """
    observed = result.observed.where(result.observed >= min_cell)
    safe = dataclasses.replace(result, observed=observed)
    labels = {
        "observed": text("placements.its_observed", language),
        "fitted": text("placements.its_fitted", language),
        "counterfactual": text("placements.its_counterfactual", language),
        "intervention": text("placements.its_intervention", language),
        "y": text("placements.its_y", language),
        "x": text("placements.its_x", language),
    }
    return plot_its(safe, ax=ax, labels=labels)


def plot_share_funnel(
    analysis: PlacementAnalysis, published: pd.DataFrame, language: str = "bg", ax=None
):
    """Funnel plot of the family-based share per oblast; lagging oblasts highlighted.

    Only oblasts whose share is published (not suppressed) are drawn.
    """
    shown = published[
        (published["table"] == "family_based_share") & ~published["suppressed"].astype(bool)
    ]
    funnel = analysis.regional["funnel"]
    funnel = funnel[funnel["oblast"].isin(set(shown["group"]))]
    growth = published[
        (published["table"] == "foster_growth") & (published["measure"] == "lagging")
    ]
    lagging = growth.loc[growth["value"] == 1, "group"].tolist()
    labels = {
        "x": text("placements.funnel_x", language),
        "y": text("placements.funnel_y", language),
        "national": text("placements.funnel_national", language),
        "limit": text("placements.funnel_limit", language, level="{level}"),
    }
    return plot_funnel(funnel, ax=ax, labels=labels, highlight=lagging, language=language)


def plot_projection_safe(
    result, published: pd.DataFrame, min_cell: int, language: str = "bg", ax=None
):
    """The 0-3 projection plot, observed counts below ``min_cell`` left out (the trend lines stay)."""
    table = result.table.copy()
    table["observed"] = table["observed"].where(table["observed"] >= min_cell)
    safe = dataclasses.replace(result, table=table)
    labels = {
        "y": text("placements.projection_y", language),
        "x": text("placements.col_year", language),
        "observed": text("placements.projection_observed", language),
        "fitted": text("placements.projection_fitted", language),
        "projection": text("placements.projection_line", language),
        "interval": text("placements.projection_interval", language, level="{level}"),
        "target": text("placements.projection_target", language),
    }
    return plot_projection(safe, ax=ax, labels=labels)


def plot_rate_funnel(
    analysis: PlacementAnalysis, published: pd.DataFrame, language: str = "bg", ax=None
):
    """Funnel plot of entries per 100,000 children by oblast against the national rate.

    Oblasts whose flag is suppressed in ``published`` are left out.
    """
    shown = published[
        (published["table"] == "entry_rate_funnel") & ~published["suppressed"].astype(bool)
    ]
    table = analysis.regional["rate_funnel"]
    table = table[table["oblast"].isin(set(shown["group"]))]
    outside = shown[(shown["measure"] == "outside_998") & (shown["value"] != 0)]["group"].tolist()
    labels = {
        "x": text("placements.rate_funnel_x", language),
        "y": text("placements.rate_funnel_y", language),
        "national": text("placements.funnel_national_rate", language),
        "limit": text("placements.funnel_limit", language, level="{level}"),
    }
    return plot_funnel(table, ax=ax, labels=labels, highlight=outside, language=language)
