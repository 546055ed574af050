"""The quality-of-life study: from a survey file to disclosure-controlled figures.

The notebook ``notebooks/qol_study.ipynb`` tells the story; this module is the
one it imports (``from research_lib.studies.qol import pipeline as qol``) and
holds every step it calls, so that every one is tested and none is
re-implemented in a notebook:

1. :func:`prepare` — load, validate and score; keep the oblast and wave asked for;
2. :func:`analyse` — reliability, descriptives, adjusted comparisons with the
   reference group (children nested in services), change between waves;
3. :func:`published_figures` — every figure the report shows, in the layout of
   ``published.csv``, passed through :mod:`research_lib.disclosure`;
4. :func:`key_findings` — plain-language sentences built only from published
   figures, so a finding can never rest on a suppressed number.

The steps live in the modules of this folder, by kind:

============== ================================================================
module         holds
============== ================================================================
``analysis``   :class:`QolData`, :class:`QolAnalysis`, :func:`prepare`,
               :func:`analyse`, :func:`linked_counts`
``figures``    the published tables, declared once as
               :class:`~research_lib.disclosure.figures.FigureSpec` (the list of
               tables is there), :func:`published_figures`, :func:`report_pattern`
``words``      findings, title, data-and-method paragraphs, the quality note
``tables``     the report tables built from ``published``
``explore``    exploration of the scored data (not for publication)
============== ================================================================
"""

from __future__ import annotations

# The study's one entry point: every public name of its modules, as ``pipeline.<name>``.
from research_lib.studies.qol import analysis, figures, tables, words
from research_lib.studies.qol.analysis import *  # noqa: F403
from research_lib.studies.qol.figures import *  # noqa: F403
from research_lib.studies.qol.tables import *  # noqa: F403
from research_lib.studies.qol.words import *  # noqa: F403

__all__ = [
    *analysis.__all__,
    *figures.__all__,
    *words.__all__,
    *tables.__all__,
]
