"""The placement study: did entries into institutions fall, where does foster care lag?

The notebook ``notebooks/placements_study.ipynb`` tells the story; this module
is the one it imports (``from research_lib.studies.placements import pipeline as ps``)
and holds every step it calls, so that each is tested and none is re-implemented
in a notebook:

1. :func:`prepare` — load episodes (or published counts) and the child population;
2. :func:`analyse` — yearly series, interrupted time series at the reform date,
   the UNICEF formal-care indicators per oblast, the regional comparison, time
   in care and exits, and the projection toward "no child aged 0-3 in
   residential care";
3. :func:`published_figures` — every figure the report shows, in the
   ``published.csv`` layout, passed through :mod:`research_lib.disclosure`;
4. the words (:func:`key_findings`, :func:`data_and_method`, :func:`report_title`),
   the report tables (:func:`series_tables`, :func:`its_table`, ...) and the plots.

The steps live in the modules of this folder, by kind:

==================== ================================================================
module               holds
==================== ================================================================
``analysis``         :class:`PlacementData`, :class:`PlacementAnalysis`, :func:`prepare`,
                     :func:`analyse` and the series they build
``figures``          the published tables, declared once as
                     :class:`~research_lib.disclosure.figures.FigureSpec` (the list of
                     tables is there), :func:`published_figures`, :func:`linked_year_counts`
``words``            findings, title, data-and-method paragraphs
``tables``           the report tables built from ``published``
``plots``            the plots (shown figures only)
==================== ================================================================

Residential care is ``cnst`` and ``institution``; family-based care is ``foster``
and ``kinship``. Counts below ``min_cell`` are suppressed, with complementary
suppression against the ``all`` total of each year.
"""

from __future__ import annotations

# The study's one entry point: every public name of its modules, as ``pipeline.<name>``.
from research_lib.studies.placements import analysis, figures, plots, tables, words
from research_lib.studies.placements.analysis import *  # noqa: F403
from research_lib.studies.placements.figures import *  # noqa: F403
from research_lib.studies.placements.plots import *  # noqa: F403
from research_lib.studies.placements.tables import *  # noqa: F403
from research_lib.studies.placements.words import *  # noqa: F403

__all__ = [
    *analysis.__all__,
    *figures.__all__,
    *words.__all__,
    *tables.__all__,
    *plots.__all__,
]
