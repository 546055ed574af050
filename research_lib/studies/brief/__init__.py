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

__all__ = [
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
