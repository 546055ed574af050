"""Sentences about where published figures come from (shared by a study and the brief).

The placement study on published counts publishes a ``count_sources`` table (how
many sources, at how many dates they disagree); the study's findings and the
brief's key messages say the same sentence about it, built here once.
"""

from __future__ import annotations

import pandas as pd

from research_lib.render.labels import text

__all__ = ["disagreement_clause", "mixed_sources_sentence"]


def disagreement_clause(dates: int, language: str = "bg") -> str:
    """ "; at N dates two sources give different figures" (singular for one; nothing for none).

    Examples
    --------
    >>> disagreement_clause(1), disagreement_clause(4, "en"), disagreement_clause(0)
    ('; при 1 дата два източника дават различни стойности', '; at 4 dates two sources give different figures', '')
    """
    if dates <= 0:
        return ""
    if dates == 1:
        return text("placements.mixed_disagree_one", language)
    return text("placements.mixed_disagree_many", language, n=dates)


def mixed_sources_sentence(published: pd.DataFrame, language: str = "bg") -> str | None:
    """The sentence on figures from several published sources, or ``None`` (one source, or none).

    Read from the ``count_sources`` rows of a placement study's ``published.csv``.

    Examples
    --------
    >>> rows = pd.DataFrame({"table": "count_sources", "measure": ["sources", "disagreements"],
    ...                      "value": [3, 1], "suppressed": False})
    >>> mixed_sources_sentence(rows, "en")[:40]
    'The figures come from 3 different source'
    """
    rows = published[
        (published["table"] == "count_sources") & ~published["suppressed"].astype(bool)
    ]
    sources = rows.set_index("measure")["value"]
    if not sources.get("sources", 0) > 1:
        return None
    return text(
        "placements.finding_mixed_sources",
        language,
        sources=int(sources["sources"]),
        disagree=disagreement_clause(int(sources.get("disagreements", 0)), language),
    )
