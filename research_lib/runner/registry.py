"""The study registry: every study notebook the runner, the index page and the brief know.

A *study* is a parameterised notebook in ``notebooks/``; :data:`STUDIES` names
each one with its report title, the parameters that name input files, the
values its parameters accept and the headline figure the index page shows per
oblast. A new study is one entry here (a plain :class:`Study`), one folder under
``research_lib/studies/``, one notebook and its labels.

Examples
--------
>>> {"qol", "placements", "brief"} <= set(STUDIES)
True
>>> STUDIES["qol"].input_files
('responses', 'codebook')
>>> get_study("qol").run_headline({"codebook": "surveys/qol-child-v1.yaml"}).measure
'emotional'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from research_lib.errors import InputError
from research_lib.io.vocab import PLACEMENT_TYPES
from research_lib.paths import NOTEBOOKS_DIR, project_path

__all__ = ["Headline", "Study", "STUDIES", "get_study", "codebook_headline"]


@dataclass(frozen=True)
class Headline:
    """The figure the index page shows for each oblast: one row of ``published.csv``.

    ``label`` is the column heading in Bulgarian and English; ``scale`` multiplies
    the value (100 for a share shown as a percentage). ``group`` ``{scope}`` is
    the run's own oblast code; other ``{name}`` placeholders of ``measure`` and
    ``label`` are filled per run from the study's :attr:`Study.headline_values`.
    """

    table: str
    group: str
    measure: str
    label: Mapping[str, str] = field(default_factory=dict)
    scale: float = 1.0
    digits: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "group": self.group,
            "measure": self.measure,
            "label": dict(self.label),
            "scale": self.scale,
            "digits": self.digits,
        }

    def filled(self, values: Mapping[str, Any]) -> Headline:
        """The headline with ``{name}`` in its measure and labels replaced by ``values[name]``.

        A value may be a mapping by language (used in the label of that language).

        Examples
        --------
        >>> h = Headline("t", "cnst", "{domain}", label={"en": "{domain_label} (mean)"})
        >>> h.filled({"domain": "emotional", "domain_label": {"en": "Emotional well-being"}})
        ... # doctest: +NORMALIZE_WHITESPACE
        Headline(table='t', group='cnst', measure='emotional',
                 label={'en': 'Emotional well-being (mean)'}, scale=1.0, digits=1)
        """

        def fill(template: str, language: str | None) -> str:
            for name, value in values.items():
                if isinstance(value, Mapping):
                    value = value.get(language, next(iter(value.values()), ""))
                template = template.replace("{" + name + "}", str(value))
            return template

        return replace(
            self,
            measure=fill(self.measure, None),
            label={language: fill(words, language) for language, words in self.label.items()},
        )


@dataclass(frozen=True)
class Study:
    """A study notebook: how its reports are titled and which parameters name input files.

    Parameters
    ----------
    name : str
        The study's name on the command line and in ``reports/<name>/``.
    notebook : str
        A file in ``notebooks/`` (or an absolute path).
    title_key : str
        Label key (``labels.yaml``) of the report title.
    input_files : tuple of str
        Parameters that name input files (or folders): they must exist, and
        their contents are hashed into the provenance and the skip decision.
    headline : Headline, optional
        The figure shown per oblast on the index page.
    headline_values : callable, optional
        ``f(parameters) -> {name: value}``: the values of the headline's
        placeholders for a run, from its checked parameters (the QoL headline's
        domain is the one its codebook declares, :func:`codebook_headline`).
    choices : mapping, optional
        Parameters restricted to a list of values.
    optional_files : tuple of str
        Parameters that name input files that may be absent (the notebook copes,
        e.g. a brief without one of the studies); hashed when present.
    report : str
        File name of the exported HTML (``report.html``; the brief's is ``brief.html``).
    dates : tuple of str
        Parameters that must be a date written ``YYYY-MM-DD`` (between 1990 and 2100).
    counts : mapping, optional
        Parameters that must be a whole number within ``(low, high)``.
    column_values : mapping, optional
        ``{parameter: (file parameter, column, also accepted)}``: the parameter
        must be a value of that column of that input file (or one of the words
        also accepted). Checked before any kernel starts when the file is a
        text table (CSV/TSV) that is cheap to read; otherwise the notebook checks.

    A parameter value may contain ``{oblast}``: it is replaced by the run's oblast
    slug (``all`` for the country), so a brief for Plovdiv reads
    ``reports/qol/plovdiv/published.csv``.
    """

    name: str
    notebook: str
    title_key: str
    input_files: tuple[str, ...] = ()
    headline: Headline | None = None
    headline_values: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    optional_files: tuple[str, ...] = ()
    report: str = "report.html"
    dates: tuple[str, ...] = ()
    counts: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    column_values: Mapping[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def notebook_path(self) -> Path:
        path = Path(self.notebook)
        return path if path.is_absolute() else NOTEBOOKS_DIR / path

    def run_headline(self, parameters: Mapping[str, Any]) -> Headline | None:
        """The headline of a run with these (checked) parameters; None when it has none.

        A headline whose values cannot be read (an unreadable codebook: the
        notebook reports it in its own words) is None.
        """
        if self.headline is None or self.headline_values is None:
            return self.headline
        try:
            return self.headline.filled(self.headline_values(parameters))
        except Exception:
            return None


def codebook_headline(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The QoL headline's domain: the one the codebook marks ``headline: true``, else its first.

    Returns ``{"domain": id, "domain_label": {language: label}}``.
    """
    codebook = _codebook(str(project_path(parameters["codebook"])))
    domain = next((d for d in codebook.domains if d.extra.get("headline")), codebook.domains[0])
    return {"domain": domain.id, "domain_label": dict(domain.label)}


def _codebook(path: str) -> Any:
    from research_lib.io.codebook import load_codebook

    mtime = Path(path).stat().st_mtime_ns
    if _CODEBOOKS.get(path, (None,))[0] != mtime:
        _CODEBOOKS[path] = (mtime, load_codebook(path))
    return _CODEBOOKS[path][1]


#: Codebooks read for headlines, by path: ``(mtime, codebook)`` (a batch reads one once).
_CODEBOOKS: dict[str, tuple[int, Any]] = {}


STUDIES: dict[str, Study] = {
    "qol": Study(
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
    ),
    "placements": Study(
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
    ),
    # The placement study on published national figures from public sources (data/public/):
    # its own title and index row beside the synthetic report, no per-oblast headline.
    "placements_public": Study(
        "placements_public",
        "placements_study.ipynb",
        "placements.title_public",
        input_files=("episodes", "counts", "population"),
        choices={"frequency": ("MS", "QS")},
        dates=("reform_date",),
    ),
    "brief": Study(
        "brief",
        "policy_brief.ipynb",
        "brief.title",
        input_files=("codebook",),
        optional_files=("qol_published", "placements_published"),
        report="brief.html",
        choices={"reference_group": PLACEMENT_TYPES},
        dates=("reform_date",),
        counts={"max_recommendations": (1, 50)},
    ),
    # Two published series beside the national report, each its own report (data/public/):
    # the monthly "Приеми ме 2015" foster releases (a subset of foster care: municipal
    # providers) and the ДМСГД infant homes (Ministry of Health).
    "placements_priemi_me": Study(
        "placements_priemi_me",
        "placements_study.ipynb",
        "placements.title_priemi_me",
        input_files=("episodes", "counts", "population"),
        choices={"frequency": ("MS", "QS")},
        dates=("reform_date",),
    ),
    "placements_dmsgd": Study(
        "placements_dmsgd",
        "placements_study.ipynb",
        "placements.title_dmsgd",
        input_files=("episodes", "counts", "population"),
        choices={"frequency": ("MS", "QS")},
        dates=("reform_date",),
    ),
    # The brief of the published figures (placements_public): no survey, its own folder.
    "brief_public": Study(
        "brief_public",
        "policy_brief.ipynb",
        "brief.title_public",
        input_files=("codebook",),
        optional_files=("qol_published", "placements_published"),
        report="brief.html",
        choices={"reference_group": PLACEMENT_TYPES},
        dates=("reform_date",),
        counts={"max_recommendations": (1, 50)},
    ),
}


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
