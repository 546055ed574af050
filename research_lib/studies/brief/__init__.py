"""Evidence-graded policy recommendations from published figures.

* ``catalogue.yaml`` - the rules (data): a condition on published figures, a
  recommendation in Bulgarian and English, the actor, the design and the
  difference that matters;
* :mod:`.engine` - reads the catalogue, applies it to ``published.csv`` frames,
  lists what cannot be judged because a figure is suppressed or missing, and
  writes ``recommendations.csv``;
* :mod:`.grading` - the certainty of each recommendation (high, moderate, low,
  very low) with its reasons in words, in the spirit of GRADE.

Examples
--------
>>> from research_lib.studies.brief import load_catalogue, evaluate_all
>>> catalogue = load_catalogue()
>>> result = evaluate_all(catalogue, {})   # no study published: nothing can be judged
>>> len(result.triggered), len(result.not_evaluable) == len(catalogue)
(0, True)
"""

from research_lib.io.vocab import PLACEMENT_TYPES
from research_lib.studies.brief.engine import (
    ACTORS,
    CATALOGUE_PATH,
    RECOMMENDATION_COLUMNS,
    Catalogue,
    CatalogueError,
    Evaluation,
    Rule,
    evaluate,
    evaluate_all,
    load_catalogue,
    parse_catalogue,
    recommendations_csv,
)
from research_lib.studies.brief.grading import (
    DESIGNS,
    LEVELS,
    START_LEVEL,
    Figure,
    Grade,
    GradingContext,
    Importance,
    grade,
)
from research_lib.studies.study import Study


def _brief(name: str, title_key: str, rank: int, **defaults: str) -> Study:
    """A brief: reads the studies' ``published.csv`` files named by its parameters."""
    return Study(
        name,
        "policy_brief.ipynb",
        title_key,
        input_files=("codebook",),
        optional_files=("qol_published", "placements_published"),
        report="brief.html",
        choices={"reference_group": PLACEMENT_TYPES},
        dates=("reform_date",),
        counts={"max_recommendations": (1, 50)},
        defaults=defaults,
        rank=rank,
    )


#: The briefs, declared once: the brief of the QoL and placement studies (the country
#: and each oblast), and the brief of the published figures (placements_public).
STUDIES: tuple[Study, ...] = (
    _brief("brief", "brief.title", 40),
    _brief(
        "brief_public",
        "brief.title_public",
        70,
        qol_published="",
        placements_published="reports/placements_public/all/published.csv",
    ),
)

__all__ = [
    "STUDIES",
    "ACTORS",
    "CATALOGUE_PATH",
    "DESIGNS",
    "LEVELS",
    "RECOMMENDATION_COLUMNS",
    "START_LEVEL",
    "Catalogue",
    "CatalogueError",
    "Evaluation",
    "Figure",
    "Grade",
    "GradingContext",
    "Importance",
    "Rule",
    "evaluate",
    "evaluate_all",
    "grade",
    "load_catalogue",
    "parse_catalogue",
    "recommendations_csv",
]
