"""How a study is declared: its notebook, report title, input files, parameters, headline.

Each study package declares its studies once, in its ``__init__.py`` as a tuple
``STUDIES`` of :class:`Study`; :mod:`research_lib.runner.registry` collects them
for the runner, the index page and the command line. A new study is one folder
under ``research_lib/studies/``, one notebook in ``notebooks/`` and its labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from research_lib.io.codebook import load_codebook
from research_lib.paths import NOTEBOOKS_DIR, project_path

__all__ = ["Headline", "Study", "codebook_headline"]


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

    defaults : mapping, optional
        Values that replace the notebook's own defaults for this study (several
        studies may share one notebook: the placement study on published counts
        is the placement notebook with ``counts`` set).
    rank : int
        Position on the index page and in listings (smaller first).

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
    defaults: Mapping[str, Any] = field(default_factory=dict)
    rank: int = 100

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
    mtime = Path(path).stat().st_mtime_ns
    if _CODEBOOKS.get(path, (None,))[0] != mtime:
        _CODEBOOKS[path] = (mtime, load_codebook(path))
    return _CODEBOOKS[path][1]


#: Codebooks read for headlines, by path: ``(mtime, codebook)`` (a batch reads one once).
_CODEBOOKS: dict[str, tuple[int, Any]] = {}
