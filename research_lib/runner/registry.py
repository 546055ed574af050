"""The study registry: every study the runner, the index page and the command line know.

Each study package under ``research_lib/studies/`` declares its studies once, as a
tuple ``STUDIES`` of :class:`~research_lib.studies.study.Study` in its
``__init__.py``; :data:`STUDIES` collects them (ordered by their ``rank``). A new
study is one folder, one notebook and its labels: nothing to add here.

Examples
--------
>>> list(STUDIES)[:4]
['qol', 'placements', 'placements_public', 'brief']
>>> STUDIES["qol"].input_files
('responses', 'codebook')
>>> get_study("qol").run_headline({"codebook": "surveys/qol-child-v1.yaml"}).measure
'emotional'
"""

from __future__ import annotations

import importlib
import pkgutil

import research_lib.studies as studies_package
from research_lib.errors import InputError
from research_lib.studies.study import Headline, Study, codebook_headline

__all__ = ["Headline", "Study", "STUDIES", "discover_studies", "get_study", "codebook_headline"]


def discover_studies() -> dict[str, Study]:
    """Every study declared by a package of ``research_lib.studies``, by name, in rank order.

    Raises
    ------
    InputError
        When two packages declare a study of the same name.
    """
    found: dict[str, Study] = {}
    for info in pkgutil.iter_modules(studies_package.__path__):
        if not info.ispkg:
            continue
        package = importlib.import_module(f"{studies_package.__name__}.{info.name}")
        for spec in getattr(package, "STUDIES", ()):
            if spec.name in found:
                raise InputError(f"study {spec.name!r} is declared twice (in {info.name}).")
            found[spec.name] = spec
    return dict(sorted(found.items(), key=lambda item: (item[1].rank, item[0])))


STUDIES: dict[str, Study] = discover_studies()


def get_study(study: str | Study) -> Study:
    """The registered study of that name (a :class:`Study` is returned as it is).

    Raises
    ------
    InputError
        For an unknown name; the message lists the studies.
    """
    if isinstance(study, Study):
        return study
    if study not in STUDIES:
        raise InputError(f"unknown study {study!r}; studies: {', '.join(sorted(STUDIES))}.")
    return STUDIES[study]
