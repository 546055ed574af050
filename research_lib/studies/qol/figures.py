"""The quality-of-life study's published figures, declared once.

Each table of ``published.csv`` is one or more :class:`~research_lib.disclosure.figures.FigureSpec`:
the frame of :class:`~research_lib.studies.qol.analysis.QolAnalysis` its rows
come from and how ``group``, ``measure``, ``n``, the value and its CI are read.
:func:`published_figures` hands them to :func:`research_lib.disclosure.figures.published_rows`.

================================ =========================== ======================
table                            group                       measure
================================ =========================== ======================
``sample``                       ``all`` / placement type    ``children``
``reliability_alpha`` / ``_omega`` ``all``                   domain id
``item_missing``, ``floor_share``, ``all``                   domain id (share 0-1)
``ceiling_share``
``item_rest``                    domain id                   item id
``means_by_<dimension>``         ``all`` / group value       domain id
``low_by_placement_type``        ``all`` / placement type    domain id (share 0-1)
``adjusted_for``                 ``all``                     covariate (or ``none``)
``difference_vs_reference``      placement type              domain id (points)
``difference_p_adjusted``        placement type              domain id (p value)
``icc``                          ``all``                     domain id
``wave_change``                  placement type              domain id (points)
================================ =========================== ======================

``<dimension>`` is ``placement_type``, ``age_band`` or ``sex``. A difference's
``n`` is the smaller of the two groups compared, so it is suppressed whenever
either group is too small. The tables declared ``linked=True`` take this scope's
part of the batch-wide pattern (:func:`report_pattern`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research_lib.disclosure.figures import FigureSpec, Fixed, linked_tables, published_rows
from research_lib.disclosure.linked import protect_linked
from research_lib.disclosure.pattern_cache import cached_pattern, pattern_key
from research_lib.disclosure.suppression import to_published
from research_lib.studies.qol.analysis import DIMENSIONS, QolAnalysis

__all__ = [
    "FIGURES",
    "GOVERNED",
    "published_figures",
    "report_pattern",
    "suppress_linked",
]


def _sample_rows(analysis: QolAnalysis) -> pd.DataFrame:
    """All children, then the children of each placement type."""
    sample = analysis.sample
    total = int(sample["n"].sum())
    return pd.DataFrame(
        {"group": ["all", *sample["placement_type"].astype(str)], "n": [total, *sample["n"]]}
    )


def _of_dimension(dimension: str):
    def rows(desc: pd.DataFrame) -> pd.DataFrame:
        return desc[desc["by"].isin([dimension, "all"])]

    return rows


def _low_rows(analysis: QolAnalysis) -> pd.DataFrame | None:
    desc = analysis.descriptives
    if "share_low" not in desc:
        return None
    return desc[desc["by"].isin(["placement_type", "all"]) & desc["share_low"].notna()]


def _adjusted_rows(analysis: QolAnalysis) -> pd.DataFrame | None:
    """What the differences are adjusted for: one row per covariate (``none`` when unadjusted)."""
    comp = analysis.comparisons
    if comp.empty:
        return None
    icc = _icc_rows(analysis)
    return pd.DataFrame(
        {
            "measure": list(comp.attrs.get("covariates", ())) or ["none"],
            "n": int(icc["n"].max()),
        }
    )


def _icc_rows(analysis: QolAnalysis) -> pd.DataFrame | None:
    """Each domain's intraclass correlation, with the children of both groups compared."""
    comp = analysis.comparisons
    if comp.empty:
        return None
    icc = comp.groupby("outcome", sort=False).agg(
        icc=("icc", "first"), n=("n", "sum"), n_ref=("n_reference", "first")
    )
    return pd.DataFrame({"outcome": icc.index, "n": icc["n"] + icc["n_ref"], "icc": icc["icc"]})


def _pair_n(frame: pd.DataFrame) -> pd.Series:
    """A difference rests on both groups: its ``n`` is the smaller."""
    return np.minimum(frame["n"], frame["n_reference"])


#: Every figure of the report, in the order of ``published.csv``.
FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "sample",
        _sample_rows,
        group="group",
        measure=Fixed("children"),
        n="n",
        value="n",
        by="placement_type",
        linked=True,
    ),
    *(
        FigureSpec(
            f"reliability_{stat}",
            "reliability",
            group=Fixed("all"),
            measure="domain",
            n="n",
            value=stat,
            ci_low=f"{stat}_ci_low",
            ci_high=f"{stat}_ci_high",
        )
        for stat in ("alpha", "omega")
    ),
    *(
        FigureSpec(
            table, "reliability", group=Fixed("all"), measure="domain", n="n_any", value=value
        )
        for table, value in (
            ("item_missing", "share_missing"),
            ("floor_share", "floor"),
            ("ceiling_share", "ceiling"),
        )
    ),
    FigureSpec("item_rest", "items", group="domain", measure="item", n="n", value="item_rest_r"),
    *(
        FigureSpec(
            f"means_by_{dimension}",
            "descriptives",
            where=_of_dimension(dimension),
            group="group",
            measure="outcome",
            n="n",
            value="mean",
            ci_low="ci_low",
            ci_high="ci_high",
            by=dimension,
            linked=True,
        )
        for dimension in DIMENSIONS
    ),
    FigureSpec(
        "low_by_placement_type",
        _low_rows,
        group="group",
        measure="outcome",
        n="n",
        value="share_low",
        ci_low="share_low_ci_low",
        ci_high="share_low_ci_high",
        by="placement_type",
        linked=True,
    ),
    FigureSpec(
        "adjusted_for",
        _adjusted_rows,
        group=Fixed("all"),
        measure="measure",
        n="n",
        value=Fixed(1.0),
    ),
    FigureSpec(
        "difference_vs_reference",
        "comparisons",
        group="group",
        measure="outcome",
        n=_pair_n,
        value="estimate",
        ci_low="ci_low",
        ci_high="ci_high",
        linked=True,
    ),
    FigureSpec(
        "difference_p_adjusted",
        "comparisons",
        group="group",
        measure="outcome",
        n=_pair_n,
        value="p_adjusted",
        linked=True,
    ),
    FigureSpec("icc", _icc_rows, group=Fixed("all"), measure="outcome", n="n", value="icc"),
    FigureSpec(
        "wave_change",
        "waves",
        group="group",
        measure="outcome",
        n=lambda f: np.minimum(f["n_first"], f["n_second"]),
        value="estimate",
        ci_low="ci_low",
        ci_high="ci_high",
        linked=True,
    ),
)

#: Tables whose suppression follows the batch-wide pattern (:func:`report_pattern`).
GOVERNED: tuple[str, ...] = linked_tables(FIGURES)


def published_figures(
    analysis: QolAnalysis, min_cell: int = 5, forbidden: Sequence[str] = ()
) -> pd.DataFrame:
    """Every figure of the report in the ``published.csv`` layout, disclosure-controlled.

    ``forbidden`` lists respondent ids that must not appear anywhere (checked).
    """
    if analysis.linked.empty:  # an analysis built by hand: each table protected on its own
        published = published_rows(FIGURES, analysis, min_cell, forbidden=forbidden)
        published = suppress_linked(published, analysis.reference)
        return to_published(published, min_cell, forbidden=forbidden)
    pattern = report_pattern(analysis, min_cell)
    return published_rows(FIGURES, analysis, min_cell, pattern=pattern, forbidden=forbidden)


def report_pattern(analysis: QolAnalysis, min_cell: int = 5) -> pd.DataFrame:
    """Which governed figures of this report are hidden, from the batch-wide pattern.

    The counts of every scope (:attr:`QolAnalysis.linked`) are protected as one
    linked table (:func:`research_lib.disclosure.linked.protect_linked`); this report
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

    def choose() -> pd.DataFrame:
        hidden = protect_linked(linked, min_cell, parent=linked["parent"].to_numpy())
        return pd.DataFrame({"hidden": hidden.to_numpy(dtype=bool)})

    # chosen by the batch's first report, read by the others (the counts are the key)
    hidden = cached_pattern("qol", pattern_key(linked, int(min_cell)), choose)["hidden"]
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


def suppress_linked(published: pd.DataFrame, reference: str) -> pd.DataFrame:
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
