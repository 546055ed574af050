"""The placement study (notebook ``notebooks/placements_study.ipynb``): see :mod:`.pipeline`.

Declared here once (:data:`STUDIES`): the study on placement episodes (or any
counts file given with ``-p counts=``), and three reports on published figures
from public sources (``data/public/``), each with its own title and folder: the
national series, the monthly "Приеми ме 2015" foster releases (a subset of
foster care: municipal providers) and the ДМСГД infant homes (Ministry of Health).
"""

from research_lib.studies.study import Headline, Study

__all__ = ["STUDIES"]

_POPULATION = "data/reference/child_population_nsi.csv"


def _published_counts(name: str, counts: str, rank: int) -> Study:
    """The placement study on a published counts file: no episodes, no per-oblast headline."""
    return Study(
        name,
        "placements_study.ipynb",
        f"placements.title_{name.removeprefix('placements_')}",
        input_files=("episodes", "counts", "population"),
        choices={"frequency": ("MS", "QS")},
        dates=("reform_date",),
        defaults={"episodes": "", "counts": f"data/public/{counts}", "population": _POPULATION},
        rank=rank,
    )


STUDIES: tuple[Study, ...] = (
    Study(
        "placements",
        "placements_study.ipynb",
        "placements.title",
        input_files=("episodes", "counts", "population"),
        headline=Headline(
            "family_based_share",
            "{scope}",
            "share",
            label={
                "bg": "Дял на децата във формална грижа, които са в семейна среда (%)",
                "en": "Share of children in formal care who are in family-based care (%)",
            },
            scale=100.0,
            digits=0,
        ),
        choices={"frequency": ("MS", "QS")},
        dates=("reform_date",),
        rank=20,
    ),
    _published_counts("placements_public", "national_counts.csv", 30),
    _published_counts("placements_priemi_me", "priemi_me_counts.csv", 50),
    _published_counts("placements_dmsgd", "dmsgd_counts.csv", 60),
)
