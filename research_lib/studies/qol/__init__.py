"""The quality-of-life study (notebook ``notebooks/qol_study.ipynb``): see :mod:`.pipeline`.

Declared here once (:data:`STUDIES`): the runner, the index page and the command
line read this declaration through :mod:`research_lib.runner.registry`.
"""

from research_lib.io.vocab import PLACEMENT_TYPES
from research_lib.studies.study import Headline, Study, codebook_headline

__all__ = ["STUDIES"]

STUDIES: tuple[Study, ...] = (
    Study(
        "qol",
        "qol_study.ipynb",
        "qol.title",
        input_files=("responses", "codebook"),
        headline=Headline(
            "means_by_placement_type",
            "cnst",
            "{domain}",
            label={
                "bg": "{domain_label} на децата в ЦНСТ (средна оценка 0–100)",
                "en": "{domain_label} of children in ЦНСТ (mean score 0–100)",
            },
        ),
        headline_values=codebook_headline,
        choices={"reference_group": PLACEMENT_TYPES},
        column_values={"wave": ("responses", "wave", ("latest",))},
        rank=10,
    ),
)
