"""Run study notebooks with Papermill: one run, a batch over oblasts, provenance, skipping.

A *study* is a parameterised notebook in ``notebooks/`` (registered in
:data:`STUDIES`). A *run* executes it for one set of parameters into
``reports/<study>/<oblast-slug>/``, which then holds

* the executed notebook ``<study>.ipynb`` (machine paths scrubbed),
* ``report.html`` — the report without code (:func:`research_lib.render.reporting.export_html`),
* what the notebook itself writes (``published.csv``, ...),
* ``provenance.json`` — parameters, input and code hashes, versions, git
  commit, times and status (:mod:`research_lib.runner.provenance`).

The API (the command line ``python -m research_lib run|batch`` is a thin shell over it):

* :func:`check_parameters` — names, types, allowed values, oblast, language and
  input files are checked before any kernel starts; every message lists what
  is accepted.
* :func:`run_one` / :func:`run_study` — one run; :func:`run_batch` — the study for
  the whole country and each of the 28 oblasts, in parallel processes. One
  failed run never stops the others; its error is reduced to one line.
* A run whose parameters, input file contents, notebook and library code are
  unchanged since its last *successful* run is skipped (``force=True`` reruns);
  a report file that is missing, empty or altered since is never "unchanged".
* ``reports/index.html`` is rebuilt after every run and batch
  (:func:`research_lib.render.index_page.build_index`).

Safety of the outputs (:mod:`research_lib.runner.outputs`):

* **Confined**: a report is written only to ``<root>/<study>/<name>`` where the
  root is ``reports/`` (or the folder named once in ``DI_REPORTS_ROOT``); any
  other ``output_dir`` (``/etc``, ``~``, empty, ``../x``, a symbolic link
  leading out) is refused before a kernel starts. A folder belongs to one study
  and oblast (its ``provenance.json``); a run for another cannot write into it.
* **Atomic**: a run executes into a uniquely named hidden folder beside its
  target and replaces the previous report in one rename, only on success. A
  failed or interrupted run keeps the last good report; its ``provenance.json``
  says so (``status`` ``"failed"``/``"interrupted"``, and ``previous``: the
  record of the report still shown), and the failed notebook is kept as
  ``<study>.failed.ipynb``.
* **Serialised**: a per-folder lock (``fcntl.flock``) makes concurrent runs of
  one report wait for each other; the second then skips if nothing changed.
* **Interruptible**: batch workers run in their own process groups; Ctrl-C or a
  SIGTERM to the batch stops them within seconds (:class:`Interrupted`), and a
  worker whose parent dies (even by SIGKILL) stops itself. A run that was
  killed is shown as interrupted, never as ready.
* **Memory-capped**: each kernel (and each batch worker) may map at most
  8 GiB (``RLIMIT_AS``, on Linux); ``DI_MEMORY_LIMIT_MB`` or the
  ``memory_limit_mb`` argument changes the cap (0: none). A kernel that exceeds
  it fails its run with ``MemoryError`` (or as a kernel that died), and the
  previous report is kept.

Notes
-----
A single run starts its own Jupyter kernel. A batch keeps one warm kernel per
worker (:class:`~research_lib.runner.kernels.WarmKernel`), reset to the state of
a fresh kernel between reports, so kernel start-up and imports are paid once per
worker (``warm=False``: a kernel per report, as a single run; the reports are
the same). ``jobs`` workers run at a time (default: the number of cores).
Workers are separate processes (not threads) so that executing notebooks and
exporting HTML run in parallel.

Examples
--------
>>> sorted(STUDIES)
['brief', 'brief_public', 'placements', 'placements_dmsgd', 'placements_priemi_me', 'placements_public', 'qol']
>>> STUDIES["qol"].input_files
('responses', 'codebook')
>>> one_line_error("ValueError", "no children\\n in  foster care", 7)
'ValueError: no children in foster care [cell 7]'
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from research_lib.errors import InputError
from research_lib.io.oblasts import (  # expand_oblast: re-exported
    NATIONAL,
    expand_oblast,
    load_oblasts,
    oblast_slug,
    resolve_scope,
)
from research_lib.io.vocab import PLACEMENT_TYPES
from research_lib.paths import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR, project_path
from research_lib.render.labels import check_language, text
from research_lib.runner.kernels import (
    DEFAULT_MEMORY_LIMIT_MB,
    KERNEL_ARGUMENTS,
    KERNEL_NAME,
    MEMORY_ENV,
    MIN_MEMORY_LIMIT_MB,
    WarmKernel,
    kernel_arguments,
    resolve_memory_limit,
    set_memory_limit,
)
from research_lib.runner.outputs import (
    OutputError,
    check_owner,
    check_reports_root,
    check_writable,
    confine_output,
    folder_lock,
    make_temp_folder,
    remove_stale_temp,
    replace_folder,
)
from research_lib.runner.provenance import (
    PROVENANCE_FILE,
    code_hash,
    git_state,
    package_versions,
    path_replacements,
    public_path,
    read_provenance,
    run_hash,
    scrub_notebook,
    scrub_text,
    sha256_file,
    tree_hash,
    write_provenance,
)

__all__ = [
    "STUDIES",
    "KERNEL_NAME",
    "KERNEL_ARGUMENTS",
    "MIN_MEMORY_LIMIT_MB",
    "WarmKernel",
    "Headline",
    "Study",
    "RunResult",
    "BatchResult",
    "RunFailed",
    "Interrupted",
    "BatchInterrupted",
    "MIN_CELL_FLOOR",
    "MEMORY_ENV",
    "DEFAULT_MEMORY_LIMIT_MB",
    "resolve_memory_limit",
    "set_memory_limit",
    "kernel_arguments",
    "notebook_parameters",
    "check_parameters",
    "expand_oblast",
    "batch_scopes",
    "one_line_error",
    "run_one",
    "run_study",
    "run_batch",
]

DONE, SKIPPED, FAILED = "done", "skipped", "failed"

#: Exit code of ``run``/``batch`` when a notebook failed (2 is a refused parameter or output).
EXIT_RUN_FAILED = 3

#: The smallest ``min_cell`` accepted without an explicit override (``allow_small_min_cell``).
MIN_CELL_FLOOR = 3


@dataclass(frozen=True)
class Headline:
    """The figure the index page shows for each oblast: one row of ``published.csv``.

    ``label`` is the column heading in Bulgarian and English; ``scale`` multiplies
    the value (100 for a share shown as a percentage).
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


STUDIES: dict[str, Study] = {
    "qol": Study(
        "qol",
        "qol_study.ipynb",
        "qol.title",
        input_files=("responses", "codebook"),
        headline=Headline(
            "means_by_placement_type",
            "cnst",
            "emotional",
            label={
                "bg": "Емоционално благополучие на децата в ЦНСТ (средна оценка 0–100)",
                "en": "Emotional well-being of children in ЦНСТ (mean score 0–100)",
            },
        ),
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


class RunFailed(RuntimeError):
    """A notebook run that raised; the message is the one-line error."""


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error of the run
    """A run or batch stopped by a signal (SIGTERM, SIGHUP, or its parent process dying)."""


class BatchInterrupted(Exception):  # noqa: N818
    """A batch stopped by Ctrl-C or a signal; ``batch`` holds the runs that ended.

    The runs that were executing are marked ``"interrupted"`` in their
    ``provenance.json`` (their previous reports are kept) and the index was rebuilt.
    """

    def __init__(self, batch: BatchResult, stopped: int, not_started: int) -> None:
        self.batch, self.stopped, self.not_started = batch, stopped, not_started
        super().__init__(self.message())

    def message(self) -> str:
        return (
            f"interrupted: {self.batch.study} batch stopped — "
            f"{self.batch.count(DONE) + self.batch.count(SKIPPED)} runs finished, "
            f"{self.batch.count(FAILED)} failed, {self.stopped} stopped (previous reports kept, "
            f"marked interrupted in the index), {self.not_started} not started."
        )


# --------------------------------------------------------------------------- parameters


def _study(study: str | Study) -> Study:
    if isinstance(study, Study):
        return study
    if study not in STUDIES:
        raise InputError(f"unknown study {study!r}; studies: {', '.join(sorted(STUDIES))}.")
    return STUDIES[study]


@cache
def _inspect(notebook: str, mtime_ns: int) -> tuple[tuple[str, Any], ...]:
    import papermill

    try:
        inferred = papermill.inspect_notebook(notebook)
    except Exception as err:  # no kernelspec, not a notebook, ...
        raise InputError(
            f"notebook {public_path(notebook)}: its parameters cannot be read ({err})."
        ) from err
    return tuple((name, _literal(info["default"])) for name, info in inferred.items())


def notebook_parameters(study: str | Study) -> dict[str, Any]:
    """The parameters a study notebook declares, with their default values."""
    spec = _study(study)
    path = spec.notebook_path
    if not path.is_file():
        raise InputError(f"study {spec.name!r}: notebook not found: {public_path(path)}.")
    return dict(_inspect(str(path), path.stat().st_mtime_ns))


def _literal(source: str) -> Any:
    import ast

    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return source


def check_parameters(
    study: str | Study,
    parameters: Mapping[str, Any],
    *,
    allow_small_min_cell: bool = False,
) -> dict[str, Any]:
    """Merge ``parameters`` into the notebook's defaults, checking names, types, values and files.

    Nothing is executed: this runs before any kernel starts. ``min_cell`` below
    :data:`MIN_CELL_FLOOR` is refused unless ``allow_small_min_cell`` (the run
    then records and prints the override); dates, counts and values that must
    occur in an input file (the qol ``wave``) are checked too.

    Raises
    ------
    InputError
        For an unknown name (the message lists the accepted ones with their
        defaults), a value of the wrong type (the message says which type, with
        an example), a value outside a study's choices, an unknown oblast or
        language (the message lists the accepted ones), or an input file that
        does not exist (the message lists the files found in that folder).
    """
    spec = _study(study)
    defaults = notebook_parameters(spec)
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        raise InputError(
            f"unknown parameter(s) for study {spec.name!r}: {', '.join(unknown)}. "
            f"Accepted: {', '.join(f'{k} (default {v!r})' for k, v in defaults.items())}."
        )
    merged = dict(defaults)
    for name, value in parameters.items():
        merged[name] = _coerce(name, value, defaults[name])
    if "oblast" in merged:
        merged["oblast"] = str(merged["oblast"])
        resolve_scope(merged["oblast"])
    if "language" in merged:
        check_language(merged["language"])
    if "min_cell" in merged:
        if merged["min_cell"] < 1:
            raise InputError(
                f"min_cell must be a whole number of at least 1, got {merged['min_cell']!r}."
            )
        if merged["min_cell"] < MIN_CELL_FLOOR and not allow_small_min_cell:
            raise InputError(
                f"min_cell={merged['min_cell']} is below {MIN_CELL_FLOOR}: figures resting on "
                f"so few children may identify a child. Use min_cell of at least {MIN_CELL_FLOOR} "
                "(5 by default), or, for a reviewed exception, add --allow-small-min-cell "
                "(the report then says so)."
            )
    for name in spec.dates:
        if name in merged:
            merged[name] = _check_date(name, merged[name])
    for name, (low, high) in spec.counts.items():
        if name in merged and not low <= merged[name] <= high:
            raise InputError(
                f"parameter {name}: expected a whole number from {low} to {high}, "
                f"got {merged[name]!r}."
            )
    for name, allowed in spec.choices.items():
        if name in merged and merged[name] not in allowed:
            raise InputError(
                f"parameter {name}: {merged[name]!r} is not accepted. Accepted: {', '.join(allowed)}."
            )
    for name in spec.input_files:
        value = merged.get(name)
        if value and "{oblast}" not in str(value) and not project_path(value).exists():
            raise InputError(_missing_file_message(name, value))
    for name, (file_parameter, column, words) in spec.column_values.items():
        if name in merged and str(merged[name]) not in words:
            _check_column_value(name, merged[name], merged.get(file_parameter), column, words)
    return merged


def _check_date(name: str, value: Any) -> str:
    text = str(value).strip()
    try:
        day = _dt.date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or len(text) != 10 or not 1990 <= day.year <= 2100:
        raise InputError(
            f"parameter {name}: expected a date written YYYY-MM-DD between 1990 and 2100 "
            f"(e.g. 2016-01-01), got {value!r}."
        )
    return text


#: Text tables at most this large are read before a run to check a value in a column.
_CHEAP_TABLE_BYTES = 64 * 1024 * 1024


def _check_column_value(
    name: str, value: Any, file: Any, column: str, words: Sequence[str]
) -> None:
    """Refuse ``value`` when a cheap-to-read input table has no such value in ``column``."""
    from research_lib.io.readers import CSV_EXTENSIONS, read_table

    if not file or "{oblast}" in str(file):
        return
    path = project_path(file)
    try:
        if path.suffix.lower() not in CSV_EXTENSIONS or path.stat().st_size > _CHEAP_TABLE_BYTES:
            return
        table = read_table(path).data
    except (OSError, InputError):
        return  # the notebook reports an unreadable file in its own words
    if column not in table.columns:
        return
    present = sorted({str(v).strip() for v in table[column].dropna()} - {""})
    if str(value).strip() in present:
        return
    shown = [repr(v[:20]) for v in present[:20]] + (["…"] if len(present) > 20 else [])
    accepted = ", ".join([*shown, *(repr(w) for w in words)])
    raise InputError(
        f"parameter {name}: {str(value)[:40]!r} is not a value of the {column} column of "
        f"{public_path(path)}. Accepted: {accepted}."
    )


def _missing_file_message(name: str, value: Any) -> str:
    path = project_path(value)
    folder = path.parent
    message = f"parameter {name}: file not found: {value} (paths are relative to the project root)."
    if folder.is_dir():
        found = sorted(
            p.name for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()
        )
        shown = ", ".join(found[:20]) + (" …" if len(found) > 20 else "")
        message += f" Files in {public_path(folder)}/: {shown or '(none)'}."
    else:
        message += f" The folder {public_path(folder)}/ does not exist."
    return message


def _coerce(name: str, value: Any, default: Any) -> Any:
    """A value given as text on the command line, turned into the default's type."""
    if default is None:
        return value
    if isinstance(value, bool) or isinstance(default, bool):
        if isinstance(value, bool) and isinstance(default, bool):
            return value
        if isinstance(default, bool) and isinstance(value, str):
            if value.lower() in {"true", "1", "yes"}:
                return True
            if value.lower() in {"false", "0", "no"}:
                return False
    elif isinstance(default, int | float) and isinstance(value, int | float):
        if isinstance(default, float) or isinstance(value, int):
            return type(default)(value)
    elif isinstance(value, type(default)):
        return value
    elif isinstance(value, str) and isinstance(default, int | float):
        try:
            return type(default)(value)
        except ValueError:
            pass
    raise InputError(
        f"parameter {name}: expected {type(default).__name__} like {default!r}, got {value!r}."
    )


# --------------------------------------------------------------------------- memory cap


def _memory_hint(error: dict[str, Any], limit_mb: int | None) -> None:
    """Add the memory cap to an out-of-memory error or a kernel that died, when a cap was set."""
    name = str(error.get("ename", ""))
    if limit_mb is None or not ("MemoryError" in name or name == "DeadKernelError"):
        return
    message = " ".join(str(error.get("evalue", "")).split())
    if len(message) > 200:
        message = message[:199] + "…"
    error["evalue"] = (
        f"{message} (each kernel may use at most {limit_mb} MiB of memory; "
        f"set {MEMORY_ENV} to change the cap)"
    )


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Plan:
    """Everything one run needs, picklable so a worker process can execute it."""

    spec: Study
    scope: str
    slug: str
    folder: Path
    parameters: dict[str, Any]  # injected into the notebook
    public_parameters: dict[str, Any]  # as published (project-relative paths)
    inputs: dict[str, dict[str, Any]]
    notebook_sha256: str
    code_sha256: str
    run_hash: str
    replacements: tuple[tuple[str, str], ...]
    bases: tuple[Path, ...]
    versions: dict[str, str | None]
    git: dict[str, Any] | None
    root: Path = REPORTS_DIR
    overrides: tuple[dict[str, Any], ...] = ()
    memory_limit_mb: int | None = DEFAULT_MEMORY_LIMIT_MB


@dataclass(frozen=True)
class RunResult:
    """How one run ended: ``status`` is ``"done"``, ``"skipped"`` or ``"failed"``."""

    study: str
    scope: str
    slug: str
    folder: Path
    status: str
    error: str | None = None
    duration: float = 0.0
    #: When the index page could not be rebuilt after the run: why, in one line.
    index_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != FAILED


@dataclass
class BatchResult:
    """The runs of a batch, in the order they were planned, and the wall time."""

    study: str
    results: list[RunResult]
    seconds: float = 0.0
    jobs: int = 1
    index: Path | None = None
    #: When the index page could not be rebuilt: why, in one line.
    index_error: str | None = None

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[RunResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def exit_code(self) -> int:
        """0 when every run succeeded or was skipped, 3 (:data:`EXIT_RUN_FAILED`) when any failed."""
        return EXIT_RUN_FAILED if self.failed or self.index_error else 0

    def summary(self) -> str:
        """The final summary: counts, then one line per failed run."""
        lines = [
            f"{self.study}: {len(self.results)} runs — {self.count(DONE)} done, "
            f"{self.count(SKIPPED)} skipped, {self.count(FAILED)} failed "
            f"({self.seconds:.1f} s, {self.jobs} parallel jobs)"
        ]
        for r in self.failed:
            where = r.slug if r.scope == r.slug else f"{r.slug} ({r.scope})"
            lines.append(f"  FAILED {where}: {r.error}")
        if self.index_error:
            lines.append(f"  index not rebuilt: {self.index_error}")
        return "\n".join(lines)


def one_line_error(ename: str, evalue: str, cell: int | None = None, limit: int = 300) -> str:
    """``"ValueError: message [cell 7]"`` on one line, at most ``limit`` characters of message."""
    message = " ".join(str(evalue).split())
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    line = f"{ename}: {message}" if message else str(ename)
    return f"{line} [cell {cell}]" if cell is not None else line


def _hash_input(path: Path) -> str:
    return tree_hash(path) if path.is_dir() else sha256_file(path)


def _plan(
    spec: Study,
    parameters: Mapping[str, Any],
    *,
    reports_dir: Path,
    code: str,
    versions: dict[str, str | None],
    git: dict[str, Any] | None,
    checked: dict[str, Any] | None = None,
    allow_small_min_cell: bool = False,
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT_MB,
) -> _Plan:
    """Check the parameters and the output folder, and hash everything the run depends on.

    The output folder must be ``<root>/<study>/<name>`` (confined), belong to
    this study and scope or to nobody yet, and be writable.
    """
    params = (
        checked
        if checked is not None
        else check_parameters(spec, parameters, allow_small_min_cell=allow_small_min_cell)
    )
    params = dict(params)
    scope = resolve_scope(str(params.get("oblast", NATIONAL)))
    slug = oblast_slug(scope)
    if "oblast" in params:
        params["oblast"] = slug  # one spelling per place: "Видин", "BG311", "vidin" are one run
    params = expand_oblast(params, slug)
    for name in spec.input_files:
        if params.get(name) and not project_path(params[name]).exists():
            raise InputError(_missing_file_message(name, params[name]))
    root = check_reports_root(reports_dir)
    bases = (root.parent,)
    if "output_dir" in params and "output_dir" in parameters:
        folder = confine_output(params["output_dir"], root, spec.name)
    else:
        folder = confine_output(root / spec.name / slug, root, spec.name)
    check_owner(folder, spec.name, scope, describe=_describe_scope)
    check_writable(folder, root)
    overrides: tuple[dict[str, Any], ...] = ()
    if "min_cell" in params and params["min_cell"] < MIN_CELL_FLOOR:
        overrides = (
            {
                "parameter": "min_cell",
                "value": params["min_cell"],
                "floor": MIN_CELL_FLOOR,
                "allowed_by": "--allow-small-min-cell",
            },
        )
    if "output_dir" in params:
        params["output_dir"] = _kernel_path(folder)
    public = dict(params)
    inputs: dict[str, dict[str, Any]] = {}
    extra: list[tuple[Path, str]] = [(bases[0], "")]
    for name in (*spec.input_files, *spec.optional_files):
        if name in params and params[name] and project_path(params[name]).exists():
            path = project_path(params[name]).resolve()
            params[name] = _kernel_path(path)
            public[name] = public_path(path, bases)
            inputs[name] = {
                "path": public[name],
                "sha256": _hash_input(path),
                "bytes": path.stat().st_size if path.is_file() else None,
            }
            if not _inside(path, PROJECT_ROOT):
                extra.append((path.parent, ""))
    if "output_dir" in params:
        public["output_dir"] = public_path(folder, bases)
    notebook_sha = sha256_file(spec.notebook_path)
    identity = run_hash(
        {"study": spec.name, **public},
        {k: v["sha256"] for k, v in inputs.items()},
        notebook_sha,
        code,
    )
    return _Plan(
        spec=spec,
        scope=scope,
        slug=slug,
        folder=folder,
        parameters=params,
        public_parameters=public,
        inputs=inputs,
        notebook_sha256=notebook_sha,
        code_sha256=code,
        run_hash=identity,
        replacements=tuple(path_replacements(extra)),
        bases=bases,
        versions=versions,
        git=git,
        root=root,
        overrides=overrides,
        memory_limit_mb=memory_limit,
    )


def _describe_scope(scope: str) -> str:
    from research_lib.io.oblasts import oblast_name

    try:
        return f"{oblast_name(scope, 'en')} ({scope})"
    except Exception:
        return scope


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _kernel_path(path: Path) -> str:
    """Project-relative for a path inside the project (the kernel's cwd), absolute otherwise."""
    return path.relative_to(PROJECT_ROOT).as_posix() if _inside(path, PROJECT_ROOT) else str(path)


def _executed_name(spec: Study) -> str:
    return f"{spec.name}.ipynb"


def _failed_name(spec: Study) -> str:
    return f"{spec.name}.failed.ipynb"


def _folder_files(folder: Path) -> dict[str, str]:
    """``{name: sha256}`` of the files a run wrote (not its provenance)."""
    return {
        p.name: sha256_file(p)
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != PROVENANCE_FILE and not p.name.startswith(".")
    }


def _unchanged(plan: _Plan) -> bool:
    """Whether the folder holds a successful run with the same hash and all its outputs intact.

    Every output must exist; with the recorded ``files`` hashes (runs since
    issue 15) each must still have its recorded contents, and the report must not
    be empty — a truncated or emptied report is rerun.
    """
    record = read_provenance(plan.folder)
    if not record or record.get("status") != "ok" or record.get("run_hash") != plan.run_hash:
        return False
    names = record.get("outputs", [plan.spec.report])
    report = plan.folder / plan.spec.report
    if plan.spec.report in names and (not report.is_file() or report.stat().st_size == 0):
        return False
    if not all((plan.folder / name).is_file() for name in names):
        return False
    files = record.get("files")
    if isinstance(files, dict):
        for name, digest in files.items():
            path = plan.folder / name
            if not path.is_file() or sha256_file(path) != digest:
                return False
    return True


# --------------------------------------------------------------------------- execution


def _now() -> datetime:
    return datetime.now(UTC)


def _record(plan: _Plan, status: str, start: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "study": plan.spec.name,
        "title_key": plan.spec.title_key,
        "oblast": plan.scope,
        "oblast_slug": plan.slug,
        "status": status,
        "error": None,
        "parameters": plan.public_parameters,
        "overrides": list(plan.overrides),
        "inputs": plan.inputs,
        "data_sha256": run_hash({}, {k: v["sha256"] for k, v in plan.inputs.items()}, "", ""),
        "notebook": {
            "path": public_path(plan.spec.notebook_path, plan.bases),
            "sha256": plan.notebook_sha256,
        },
        "code_sha256": plan.code_sha256,
        "run_hash": plan.run_hash,
        "kernel": KERNEL_NAME,
        "memory_limit_mb": plan.memory_limit_mb,
        "versions": plan.versions,
        "git": plan.git,
        "headline": plan.spec.headline.as_dict() if plan.spec.headline else None,
        "start_time": start.isoformat(timespec="seconds"),
        **extra,
    }


def _shown_report(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The record of the last good report a folder holds (itself, or its ``previous``)."""
    if not record:
        return None
    if record.get("status") == "ok":
        return {k: v for k, v in record.items() if k != "previous"}
    previous = record.get("previous")
    return dict(previous) if isinstance(previous, Mapping) else None


#: Shown at the top of a report whose parameters were allowed by an explicit override.
OVERRIDE_NOTICE = {
    "bg": (
        "Внимание: прагът за защита на малките числа е намален до min_cell = {value} "
        "(под долната граница {floor}) с изрично разрешение при изготвянето на доклада. "
        "Числа, основани на толкова малко деца, може да позволят да се разпознае дете; "
        "докладът не бива да се публикува, преди да бъде прегледан."
    ),
    "en": (
        "Warning: the small-number threshold was lowered to min_cell = {value} (below the "
        "floor of {floor}) by an explicit override when this report was made. Figures resting "
        "on so few children may allow a child to be recognised; do not publish the report "
        "before it has been reviewed."
    ),
}


def _add_override_notice(
    report: Path, overrides: Sequence[Mapping[str, Any]], language: str
) -> None:
    import html

    notices = [
        OVERRIDE_NOTICE.get(language, OVERRIDE_NOTICE["en"]).format(
            value=int(o["value"]), floor=int(o["floor"])
        )
        for o in overrides
        if o.get("parameter") == "min_cell"
    ]
    if not notices:
        return
    block = "".join(
        f'<p class="override-notice" role="alert" style="border:2px solid #B00020;'
        f'padding:0.6em;color:#B00020;font-weight:bold">{html.escape(n)}</p>\n'
        for n in notices
    )
    page = report.read_text(encoding="utf-8")
    anchor = "<main>\n" if "<main>\n" in page else "<body>\n"
    report.write_text(page.replace(anchor, anchor + block, 1), encoding="utf-8")


@contextlib.contextmanager
def _silenced(name: str) -> Iterator[None]:
    """Silence a logger while the block runs (its level is restored afterwards)."""
    import logging

    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def _run_notebook(
    plan: _Plan, work: Path, kernel: WarmKernel | None = None
) -> dict[str, Any] | None:
    """Execute the notebook into ``work`` and export its report; the error, or None.

    With ``kernel`` the notebook runs on that warm kernel (reset to the fresh
    state first; shut down after a failure); without, on a kernel of its own.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from research_lib.render.reporting import export_html

    executed = work / _executed_name(plan.spec)
    parameters = dict(plan.parameters)
    if "output_dir" in parameters:
        parameters["output_dir"] = _kernel_path(work)
    error: dict[str, Any] | None = None
    warm: dict[str, Any] = {}
    try:
        if kernel is not None:
            warm["km"] = kernel.acquire()
        with _silenced("papermill"):  # "Kernel died while …": the run's one-line error says it
            papermill.execute_notebook(
                str(plan.spec.notebook_path),
                str(executed),
                parameters=parameters,
                kernel_name=KERNEL_NAME,
                cwd=str(PROJECT_ROOT),
                progress_bar=False,
                log_output=False,
                report_mode=False,
                extra_arguments=kernel_arguments(plan.memory_limit_mb),
                # Write the output notebook at the end (and on failure, and every 30 s of a
                # long cell), not after each of the notebook's cells.
                request_save_on_cell_execute=False,
                # Stop the kernel at once when the run ends or is interrupted: nothing is
                # lost (every output has arrived), and Ctrl-C then takes a second, not ten.
                shutdown_kernel="immediate",
                **warm,
            )
    except PapermillExecutionError as err:
        error = {"ename": err.ename, "evalue": err.evalue, "cell": err.exec_count}
    except Exception as err:  # a kernel that died or never started: still one line
        error = {"ename": type(err).__name__, "evalue": str(err), "cell": None}
    # Stopped (Ctrl-C, a signal): the exception goes on; the batch discards the kernel.
    if warm:  # a kernel that failed a run is never reused
        kernel.release(ok=error is None)
    # The temporary folder's name never reaches a published file: it reads as the target.
    replacements = (
        (str(work), public_path(plan.folder, plan.bases)),
        (_kernel_path(work), _kernel_path(plan.folder)),
        *plan.replacements,
        (work.name, plan.folder.name),  # a notebook that prints its folder's name
    )
    if executed.is_file():
        scrub_notebook(
            executed,
            replacements,
            input_path=public_path(plan.spec.notebook_path, plan.bases),
            output_path=public_path(plan.folder / executed.name, plan.bases),
        )
    if error is None:
        try:
            language = plan.parameters.get("language", "bg")
            export_html(
                executed,
                work / plan.spec.report,
                title=text(plan.spec.title_key, language),
                language=language,
            )
        except Exception as err:
            error = {"ename": type(err).__name__, "evalue": str(err), "cell": None}
    if error is not None:
        error["evalue"] = scrub_text(str(error["evalue"]), replacements)
        _memory_hint(error, plan.memory_limit_mb)
    return error


def _execute(
    plan: _Plan,
    force: bool = True,
    on_wait: Callable[[], None] | None = None,
    kernel: WarmKernel | None = None,
) -> RunResult:
    """Execute one planned run (in a worker process or inline); never raises for a run's error.

    Holds the folder's lock throughout. With ``force`` false, a run made
    unchanged by a concurrent run while this one waited for the lock is skipped.
    Raises only when interrupted (KeyboardInterrupt, :class:`Interrupted`), after
    marking the folder's provenance ``"interrupted"`` and removing the temporary folder.
    """
    start, clock = _now(), time.perf_counter()
    try:
        with folder_lock(plan.folder, on_wait):
            return _execute_locked(plan, force, start, clock, kernel)
    except Exception as err:  # the output folder cannot be written (any more), ...
        return RunResult(
            plan.spec.name,
            plan.scope,
            plan.slug,
            plan.folder,
            FAILED,
            one_line_error(type(err).__name__, scrub_text(str(err), plan.replacements)),
            round(time.perf_counter() - clock, 3),
        )


def _execute_locked(
    plan: _Plan, force: bool, start: datetime, clock: float, kernel: WarmKernel | None = None
) -> RunResult:
    target = plan.folder
    remove_stale_temp(target)
    check_owner(target, plan.spec.name, plan.scope, describe=_describe_scope)
    if not force and _unchanged(plan):
        return _skipped(plan)
    previous = _shown_report(read_provenance(target))
    mark = {"pid": os.getpid(), "host": socket.gethostname(), "previous": previous}
    target.mkdir(parents=True, exist_ok=True)
    write_provenance(target, _record(plan, "running", start, **mark))
    work = make_temp_folder(target)
    try:
        error = _run_notebook(plan, work, kernel)
        end = _now()
        duration = round(time.perf_counter() - clock, 3)
        timing = {"end_time": end.isoformat(timespec="seconds"), "duration_s": duration}
        if error is None and plan.overrides and (work / plan.spec.report).is_file():
            language = str(plan.parameters.get("language", "bg"))
            _add_override_notice(work / plan.spec.report, plan.overrides, language)
        if error is None:
            outputs = [
                name
                for name in (_executed_name(plan.spec), plan.spec.report, "published.csv")
                if (work / name).is_file()
            ]
            record = _record(
                plan, "ok", start, outputs=outputs, files=_folder_files(work), **timing
            )
            write_provenance(work, record)
            replace_folder(work, target)
        else:
            failed = work / _executed_name(plan.spec)
            kept = target / _failed_name(plan.spec)
            if failed.is_file():
                os.replace(failed, kept)
            else:
                kept.unlink(missing_ok=True)
            record = _record(
                plan,
                "failed",
                start,
                error=error,
                outputs=[],
                failed_notebook=kept.name if kept.is_file() else None,
                **timing,
                **mark,
            )
            write_provenance(target, record)
            shutil.rmtree(work, ignore_errors=True)
    except BaseException as err:
        shutil.rmtree(work, ignore_errors=True)
        stopped = isinstance(err, KeyboardInterrupt | Interrupted | SystemExit)
        error = {
            "ename": type(err).__name__,
            "evalue": "the run was stopped" if stopped else scrub_text(str(err), plan.replacements),
            "cell": None,
        }
        with contextlib.suppress(Exception):
            write_provenance(
                target,
                _record(
                    plan,
                    "interrupted" if stopped else "failed",
                    start,
                    error=error,
                    outputs=[],
                    end_time=_now().isoformat(timespec="seconds"),
                    **mark,
                ),
            )
        raise
    return RunResult(
        study=plan.spec.name,
        scope=plan.scope,
        slug=plan.slug,
        folder=target,
        status=DONE if error is None else FAILED,
        error=None if error is None else one_line_error(**error),
        duration=timing["duration_s"],
    )


def _skipped(plan: _Plan) -> RunResult:
    return RunResult(plan.spec.name, plan.scope, plan.slug, plan.folder, SKIPPED)


def _context() -> tuple[str, dict[str, str | None], dict[str, Any] | None]:
    return code_hash(), package_versions(), git_state()


def _build_index(reports_dir: Path) -> tuple[Path | None, str | None]:
    """Rebuild the index page; ``(path, None)``, or ``(None, one-line reason)`` when it cannot be written."""
    from research_lib.render.index_page import build_index

    try:
        return build_index(reports_dir), None
    except OSError as err:
        return None, one_line_error(type(err).__name__, f"{err.strerror or err} ({err.filename})")


def run_one(
    study: str | Study,
    parameters: Mapping[str, Any] | None = None,
    *,
    force: bool = False,
    reports_dir: Path = REPORTS_DIR,
    index: bool = True,
    allow_small_min_cell: bool = False,
    on_wait: Callable[[], None] | None = None,
    memory_limit_mb: int | str | None = None,
) -> RunResult:
    """Run a study once (or skip it when unchanged) and rebuild the index page.

    Parameters and the output folder are checked before any kernel starts
    (:class:`InputError`; :class:`~research_lib.runner.outputs.OutputError` for an
    output folder outside the reports root, owned by another study or oblast,
    or not writable). A failing notebook does not raise: the result's
    ``status`` is ``"failed"``, ``error`` holds its error in one line, and the
    previous report is kept. ``on_wait`` is called when another run holds the
    folder's lock (this run then waits for it). Ctrl-C raises KeyboardInterrupt
    after marking the run interrupted.

    ``memory_limit_mb`` caps the kernel's memory (address space, in MiB; 0: no
    cap); by default the environment variable ``DI_MEMORY_LIMIT_MB``, else 8192
    (:func:`resolve_memory_limit`). A kernel that exceeds it fails the run
    (``MemoryError``, or a kernel that died) and the previous report is kept.
    """
    spec = _study(study)
    parameters = dict(parameters or {})
    reports_dir = Path(reports_dir)
    limit = resolve_memory_limit(memory_limit_mb)
    code, versions, git = _context()
    plan = _plan(
        spec,
        parameters,
        reports_dir=reports_dir,
        code=code,
        versions=versions,
        git=git,
        allow_small_min_cell=allow_small_min_cell,
        memory_limit=limit,
    )
    if not force and _unchanged(plan):
        result = _skipped(plan)
    else:
        try:
            result = _execute(plan, force=force, on_wait=on_wait)
        except BaseException:
            if index:
                _build_index(reports_dir)
            raise
    if index:
        _, problem = _build_index(reports_dir)
        result = replace(result, index_error=problem)
    return result


def run_study(
    study: str | Study,
    parameters: Mapping[str, Any] | None = None,
    *,
    force: bool = False,
    reports_dir: Path = REPORTS_DIR,
    index: bool = True,
    allow_small_min_cell: bool = False,
    memory_limit_mb: int | str | None = None,
) -> Path:
    """Execute a study notebook for the given parameters and export ``report.html``.

    Returns the output folder; the executed notebook is saved there as
    ``<study>.ipynb``. Raises :class:`RunFailed` (one-line message) when the
    notebook fails (the previous report, if any, is kept).
    """
    result = run_one(
        study,
        parameters,
        force=force,
        reports_dir=reports_dir,
        index=index,
        allow_small_min_cell=allow_small_min_cell,
        memory_limit_mb=memory_limit_mb,
    )
    if result.status == FAILED:
        raise RunFailed(result.error)
    return result.folder


def batch_scopes(oblasts: Iterable[str] | None = None) -> list[str]:
    """The scopes of a batch: the country (``"all"``) and the 28 oblast codes, or those named."""
    if oblasts is None:
        return [NATIONAL, *load_oblasts().index.tolist()]
    scopes = [resolve_scope(str(name)) for name in oblasts]
    return list(dict.fromkeys(scopes))


def run_batch(
    study: str | Study,
    parameters: Mapping[str, Any] | None = None,
    *,
    over: str = "oblast",
    oblasts: Iterable[str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    reports_dir: Path = REPORTS_DIR,
    progress: bool = True,
    index: bool = True,
    on_result: Callable[[RunResult], None] | None = None,
    allow_small_min_cell: bool = False,
    memory_limit_mb: int | str | None = None,
    warm: bool = True,
) -> BatchResult:
    """Run a study for the country and every oblast (or ``oblasts``), ``jobs`` at a time.

    All parameters and every output folder are checked before any kernel
    starts; a bad one raises :class:`InputError` (a read-only folder or one
    owned by another study: :class:`~research_lib.runner.outputs.OutputError`, naming
    every such folder). A run whose inputs, parameters and code are unchanged
    since its last successful run is skipped unless ``force``. A failed run
    never stops the others and keeps its previous report. ``reports/index.html``
    is rebuilt at the end (when it cannot be written, ``index_error`` says why).

    Ctrl-C, SIGTERM or SIGHUP stop the workers within seconds: the runs they
    were executing are marked interrupted, the index is rebuilt, and
    :class:`BatchInterrupted` is raised.

    Parameters
    ----------
    parameters : mapping, optional
        Notebook parameters shared by every run (not ``oblast``, not ``output_dir``).
    over : {"oblast"}
        The parameter the batch varies.
    jobs : int, optional
        Runs at a time; default the number of cores.
    memory_limit_mb : int, optional
        Memory cap of each worker process and each kernel (address space, MiB;
        0: no cap). Default: ``DI_MEMORY_LIMIT_MB``, else 8192.
    warm : bool
        Keep one kernel per worker for all its runs, reset to the fresh state
        between reports (:class:`~research_lib.runner.kernels.WarmKernel`); the
        reports are the same as with a kernel per run (``warm=False``), only sooner.
    """
    spec = _study(study)
    parameters = dict(parameters or {})
    reports_dir = Path(reports_dir)
    if over != "oblast":
        raise InputError(f"--over {over!r}: a batch can run over: oblast.")
    for fixed in ("oblast", "output_dir"):
        if fixed in parameters:
            raise InputError(
                f"parameter {fixed} is set by the batch (one run per oblast into "
                f"reports/{spec.name}/<oblast>/); leave it out."
            )
    checked = check_parameters(spec, parameters, allow_small_min_cell=allow_small_min_cell)
    limit = resolve_memory_limit(memory_limit_mb)
    if "oblast" not in checked:
        raise InputError(f"study {spec.name!r} has no oblast parameter; it cannot run per oblast.")
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    code, versions, git = _context()
    plans, refused = [], []
    for scope in batch_scopes(oblasts):
        try:
            plans.append(
                _plan(
                    spec,
                    parameters,
                    reports_dir=reports_dir,
                    code=code,
                    versions=versions,
                    git=git,
                    checked={**checked, "oblast": oblast_slug(scope)},
                    memory_limit=limit,
                )
            )
        except OutputError as err:
            refused.append(str(err))
    if refused:
        distinct = list(dict.fromkeys(refused))
        raise OutputError(
            f"{len(refused)} of {len(refused) + len(plans)} report folders refused, nothing was "
            f"run: {distinct[0]}"
            + (
                f" (and {len(distinct) - 1} more: {'; '.join(distinct[1:4])})"
                if len(distinct) > 1
                else ""
            )
        )
    start = time.perf_counter()
    results: dict[int, RunResult] = {}
    todo = []
    for i, plan in enumerate(plans):
        if not force and _unchanged(plan):
            results[i] = _skipped(plan)
        else:
            todo.append(i)
    workers = min(jobs, len(todo)) or 1
    bar = _progress_bar(len(plans), spec.name, progress)
    bar.update(len(results))

    def finished(i: int, result: RunResult) -> None:
        results[i] = result
        bar.update(1)
        if result.status == FAILED:
            bar.set_postfix(failed=sum(r.status == FAILED for r in results.values()))
        if on_result is not None:
            on_result(result)

    def collect() -> BatchResult:
        return BatchResult(
            spec.name,
            [results[i] for i in range(len(plans)) if i in results],
            seconds=time.perf_counter() - start,
            jobs=jobs,
        )

    running: set[int] = set()
    try:
        with _stop_on_signals():
            if workers == 1:
                with _kernel_for_batch(warm, limit) as kernel:
                    for i in todo:
                        running.add(i)
                        finished(i, _execute(plans[i], force=force, kernel=kernel))
                        running.discard(i)
            else:
                _run_parallel(plans, todo, workers, force, finished, running, limit, warm)
    except (KeyboardInterrupt, Interrupted):
        bar.close()
        batch = collect()
        if index:
            batch.index, batch.index_error = _build_index(reports_dir)
        stopped = len(running - set(results))
        raise BatchInterrupted(
            batch, stopped, len(todo) - len(set(todo) & set(results)) - stopped
        ) from None
    finally:
        bar.close()
    batch = collect()
    if index:
        batch.index, batch.index_error = _build_index(reports_dir)
    return batch


@contextlib.contextmanager
def _kernel_for_batch(warm: bool, memory_limit: int | None) -> Iterator[WarmKernel | None]:
    """A warm kernel for the runs of one process (shut down at the end), or None: cold runs."""
    if not warm:
        yield None
        return
    with WarmKernel(memory_limit, cwd=PROJECT_ROOT) as kernel:
        yield kernel


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted` while a batch runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------- workers

#: Seconds a stopped worker gets to mark its run interrupted before it is killed.
STOP_GRACE_S = 5.0


def _set_parent_death_signal(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies (``PR_SET_PDEATHSIG``)."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.prctl(1, sig, 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, interval: float = 1.0) -> None:
    """Send SIGTERM to this process as soon as its parent is gone (a portable fallback)."""
    while True:
        time.sleep(interval)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)
            return


def _quiet() -> None:
    """Silence a stopping worker: no log lines or tracebacks of its dying kernel reach the terminal.

    When a worker is stopped, nbclient and asyncio log the kernel's death ("Kernel
    died", "Task exception was never retrieved" with a traceback); the batch
    prints its own one-line message instead.
    """
    import logging

    logging.disable(logging.CRITICAL)
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)


def _child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux ``/proc``; empty elsewhere)."""
    children = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[-1].split()
            except OSError:
                continue
            if len(fields) > 1 and int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def _kill_kernels() -> None:
    """SIGKILL this worker's kernels and their process groups: a stopped run's kernel is discarded.

    Kernels run in sessions of their own (Jupyter starts them so), out of reach of
    the signal that stops the worker; killing them at once, instead of asking
    them to shut down, is what makes stopping a batch take seconds.
    """
    for child in _child_pids(os.getpid()):
        with contextlib.suppress(OSError):
            if os.getpgid(child) == child:
                os.killpg(child, signal.SIGKILL)
            else:
                os.kill(child, signal.SIGKILL)


def _worker_setup(parent_pid: int, memory_limit_mb: int | None = None) -> None:
    """A batch worker: its own process group, stopped with its parent, SIGTERM -> Interrupted.

    The worker's address space is capped at ``memory_limit_mb`` (its kernels
    inherit the cap, and set it again themselves).
    """
    os.setpgrp()  # Ctrl-C at the terminal reaches the parent only; the parent stops us
    set_memory_limit(memory_limit_mb)

    def stop(signum: int, frame: Any) -> None:
        _quiet()
        _kill_kernels()
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before we could ask
        raise SystemExit(0)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _worker(
    tasks: Any,
    results: Any,
    parent_pid: int,
    memory_limit: int | None = None,
    warm: bool = True,
) -> None:
    """Take ``(index, plan, force)`` tasks until ``None``; report ``start`` and ``done``.

    With ``warm``, the worker's runs share one kernel (started at its first run).
    """
    try:
        _worker_setup(parent_pid, memory_limit)
        kernel = WarmKernel(memory_limit, cwd=PROJECT_ROOT) if warm else None
        _work(tasks, results, kernel)
        if kernel is not None:  # when stopped, its kernel was killed with the others
            kernel.shutdown()
    except (Interrupted, KeyboardInterrupt):
        # The run was marked interrupted. Exit at once and quietly: a normal interpreter
        # exit can hang for seconds closing the sockets of the killed kernel (ZeroMQ).
        import sys

        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(0)


def _work(tasks: Any, results: Any, kernel: WarmKernel | None) -> None:
    """A worker's loop: execute tasks until ``None``."""
    while (task := tasks.get()) is not None:
        i, plan, force = task
        results.put(("start", i, os.getpid()))
        try:
            result = _execute(plan, force=force, kernel=kernel)
        except Exception as err:  # never lose a task's result to an unexpected error
            result = RunResult(
                plan.spec.name,
                plan.scope,
                plan.slug,
                plan.folder,
                FAILED,
                one_line_error(type(err).__name__, str(err)),
            )
        results.put(("done", i, result))


def _stop_workers(processes: Sequence[Any]) -> None:
    """SIGTERM each worker's process group, wait up to :data:`STOP_GRACE_S`, then SIGKILL."""
    for process in processes:
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.join(1.0)


def _run_parallel(
    plans: Sequence[_Plan],
    todo: Sequence[int],
    workers: int,
    force: bool,
    finished: Callable[[int, RunResult], None],
    running: set[int],
    memory_limit: int | None = None,
    warm: bool = True,
) -> None:
    """Execute ``todo`` in ``workers`` spawned processes; ``running`` holds the runs under way.

    Separate processes (spawned: no fork of a process that holds threads) so that
    papermill's bookkeeping and the HTML export of one run overlap with the others.
    Each worker sits in its own process group and dies with the parent; on an
    exception here (Ctrl-C, :class:`Interrupted`) the workers are stopped first.
    """
    import multiprocessing
    import queue

    context = multiprocessing.get_context("spawn")
    tasks, results = context.Queue(), context.Queue()
    processes = [
        context.Process(
            target=_worker, args=(tasks, results, os.getpid(), memory_limit, warm), daemon=True
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for i in todo:
        tasks.put((i, plans[i], force))
    for _ in processes:
        tasks.put(None)
    pending, where = set(todo), {}
    try:
        while pending:
            try:
                kind, i, payload = results.get(timeout=0.5)
            except queue.Empty:
                dead = {p.pid: p.exitcode for p in processes if not p.is_alive()}
                for j in [j for j, pid in where.items() if pid in dead and j in pending]:
                    plan = plans[j]
                    pending.discard(j)
                    running.discard(j)
                    finished(
                        j,
                        RunResult(
                            plan.spec.name,
                            plan.scope,
                            plan.slug,
                            plan.folder,
                            FAILED,
                            f"the worker process died (exit code {dead[where[j]]})",
                        ),
                    )
                if len(dead) == len(processes):
                    for j in sorted(pending):
                        plan = plans[j]
                        finished(
                            j,
                            RunResult(
                                plan.spec.name,
                                plan.scope,
                                plan.slug,
                                plan.folder,
                                FAILED,
                                "not run: every worker process died",
                            ),
                        )
                    pending.clear()
                continue
            if kind == "start":
                where[i] = payload
                running.add(i)
            elif i in pending:
                pending.discard(i)
                running.discard(i)
                finished(i, payload)
    except BaseException:
        _stop_workers(processes)
        raise
    finally:
        for process in processes:
            process.join(STOP_GRACE_S)
        # Tasks nobody will read (a stopped batch) may still sit in the queue's feeder
        # thread, blocked on a full pipe: without this, interpreter exit waits for it forever.
        tasks.cancel_join_thread()
        results.cancel_join_thread()
        tasks.close()
        results.close()


def _progress_bar(total: int, study: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=study, unit="run", disable=not enabled, dynamic_ncols=True)
