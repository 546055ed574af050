"""Run study notebooks with Papermill: one run, a batch over oblasts, provenance, skipping.

A *study* is a parameterised notebook in ``notebooks/`` (registered in
:data:`STUDIES`). A *run* executes it for one set of parameters into
``reports/<study>/<oblast-slug>/``, which then holds

* the executed notebook ``<study>.ipynb`` (machine paths scrubbed),
* ``report.html`` — the report without code (:func:`research_lib.reporting.export_html`),
* what the notebook itself writes (``published.csv``, ...),
* ``provenance.json`` — parameters, input and code hashes, versions, git
  commit, times and status (:mod:`research_lib.provenance`).

The API (the command line ``python -m research_lib run|batch`` is a thin shell over it):

* :func:`check_parameters` — names, types, allowed values, oblast, language and
  input files are checked before any kernel starts; every message lists what
  is accepted.
* :func:`run_one` / :func:`run_study` — one run; :func:`run_batch` — the study for
  the whole country and each of the 28 oblasts, in parallel processes. One
  failed run never stops the others; its error is reduced to one line.
* A run whose parameters, input file contents, notebook and library code are
  unchanged since its last *successful* run is skipped (``force=True`` reruns).
* ``reports/index.html`` is rebuilt after every run and batch
  (:func:`research_lib.index_page.build_index`).

Notes
-----
Each run starts its own Jupyter kernel, so the cost of a batch is dominated by
kernel start-up and imports plus the notebook's own analysis; ``jobs`` kernels
run at a time (default: the number of cores). Workers are separate processes
(not threads) so that executing notebooks and exporting HTML run in parallel.

Examples
--------
>>> sorted(STUDIES)
['brief', 'placements', 'qol']
>>> STUDIES["qol"].input_files
('responses', 'codebook')
>>> one_line_error("ValueError", "no children\\n in  foster care", 7)
'ValueError: no children in foster care [cell 7]'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from research_lib.errors import InputError
from research_lib.labels import check_language, text
from research_lib.paths import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR, project_path
from research_lib.provenance import (
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
from research_lib.regions import NATIONAL, load_oblasts, oblast_slug, resolve_scope
from research_lib.vocab import PLACEMENT_TYPES

__all__ = [
    "STUDIES",
    "KERNEL_NAME",
    "Headline",
    "Study",
    "RunResult",
    "BatchResult",
    "RunFailed",
    "notebook_parameters",
    "check_parameters",
    "expand_oblast",
    "batch_scopes",
    "one_line_error",
    "run_one",
    "run_study",
    "run_batch",
]

#: The Jupyter kernel `make setup` registers for the project.
KERNEL_NAME = "research-lib"

#: Quiet kernels: their start-up and shutdown log lines would break the progress bar.
#: A notebook's own errors are in its outputs and in the run's one-line error.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=CRITICAL",)

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


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
    ),
    "brief": Study(
        "brief",
        "policy_brief.ipynb",
        "brief.title",
        input_files=("codebook",),
        optional_files=("qol_published", "placements_published"),
        report="brief.html",
        choices={"reference_group": PLACEMENT_TYPES},
    ),
}


class RunFailed(RuntimeError):
    """A notebook run that raised; the message is the one-line error."""


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


def check_parameters(study: str | Study, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``parameters`` into the notebook's defaults, checking names, types, values and files.

    Nothing is executed: this runs before any kernel starts.

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
    if "min_cell" in merged and merged["min_cell"] < 1:
        raise InputError(
            f"min_cell must be a whole number of at least 1, got {merged['min_cell']!r}."
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
    return merged


def expand_oblast(params: Mapping[str, Any], slug: str) -> dict[str, Any]:
    """Parameter values with ``{oblast}`` replaced by the run's oblast slug."""
    return {
        name: value.replace("{oblast}", slug) if isinstance(value, str) else value
        for name, value in params.items()
    }


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

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[RunResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def exit_code(self) -> int:
        """0 when every run succeeded or was skipped, 1 when any failed."""
        return 1 if self.failed else 0

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
) -> _Plan:
    """Check the parameters, choose the output folder and hash everything the run depends on."""
    params = checked if checked is not None else check_parameters(spec, parameters)
    params = dict(params)
    scope = resolve_scope(str(params.get("oblast", NATIONAL)))
    slug = oblast_slug(scope)
    if "oblast" in params:
        params["oblast"] = slug  # one spelling per place: "Видин", "BG311", "vidin" are one run
    params = expand_oblast(params, slug)
    for name in spec.input_files:
        if params.get(name) and not project_path(params[name]).exists():
            raise InputError(_missing_file_message(name, params[name]))
    bases = (reports_dir.resolve().parent,)
    if "output_dir" in params and "output_dir" in parameters:
        folder = project_path(params["output_dir"]).resolve()
    else:
        folder = (reports_dir / spec.name / slug).resolve()
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
    )


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


def _unchanged(plan: _Plan) -> bool:
    """Whether the folder holds a successful run with the same hash and all its outputs."""
    record = read_provenance(plan.folder)
    if not record or record.get("status") != "ok" or record.get("run_hash") != plan.run_hash:
        return False
    return all((plan.folder / name).is_file() for name in record.get("outputs", ["report.html"]))


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
        "inputs": plan.inputs,
        "data_sha256": run_hash({}, {k: v["sha256"] for k, v in plan.inputs.items()}, "", ""),
        "notebook": {
            "path": public_path(plan.spec.notebook_path, plan.bases),
            "sha256": plan.notebook_sha256,
        },
        "code_sha256": plan.code_sha256,
        "run_hash": plan.run_hash,
        "kernel": KERNEL_NAME,
        "versions": plan.versions,
        "git": plan.git,
        "headline": plan.spec.headline.as_dict() if plan.spec.headline else None,
        "start_time": start.isoformat(timespec="seconds"),
        **extra,
    }


def _execute(plan: _Plan) -> RunResult:
    """Execute one planned run (in a worker process or inline); never raises for a notebook error."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from research_lib.reporting import export_html

    start, clock = _now(), time.perf_counter()
    folder = plan.folder
    folder.mkdir(parents=True, exist_ok=True)
    executed = folder / _executed_name(plan.spec)
    for stale in (executed, folder / plan.spec.report, folder / "published.csv"):
        stale.unlink(missing_ok=True)
    write_provenance(folder, _record(plan, "running", start))
    error: dict[str, Any] | None = None
    try:
        papermill.execute_notebook(
            str(plan.spec.notebook_path),
            str(executed),
            parameters=plan.parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(PROJECT_ROOT),
            progress_bar=False,
            log_output=False,
            report_mode=False,
            extra_arguments=list(KERNEL_ARGUMENTS),
            # Write the output notebook at the end (and on failure, and every 30 s of a
            # long cell), not after each of the notebook's cells.
            request_save_on_cell_execute=False,
        )
    except PapermillExecutionError as err:
        error = {"ename": err.ename, "evalue": err.evalue, "cell": err.exec_count}
    except Exception as err:  # a kernel that died or never started: still one line
        error = {"ename": type(err).__name__, "evalue": str(err), "cell": None}
    if executed.is_file():
        scrub_notebook(
            executed,
            plan.replacements,
            input_path=public_path(plan.spec.notebook_path, plan.bases),
            output_path=public_path(executed, plan.bases),
        )
    if error is None:
        try:
            language = plan.parameters.get("language", "bg")
            export_html(
                executed,
                folder / plan.spec.report,
                title=text(plan.spec.title_key, language),
                language=language,
            )
        except Exception as err:
            error = {"ename": type(err).__name__, "evalue": str(err), "cell": None}
    if error is not None:
        error["evalue"] = scrub_text(str(error["evalue"]), plan.replacements)
    end = _now()
    duration = round(time.perf_counter() - clock, 3)
    outputs = [
        name
        for name in (executed.name, plan.spec.report, "published.csv")
        if (folder / name).is_file()
    ]
    status = "ok" if error is None else "failed"
    write_provenance(
        folder,
        _record(
            plan,
            status,
            start,
            error=error,
            end_time=end.isoformat(timespec="seconds"),
            duration_s=duration,
            outputs=outputs,
        ),
    )
    return RunResult(
        study=plan.spec.name,
        scope=plan.scope,
        slug=plan.slug,
        folder=folder,
        status=DONE if error is None else FAILED,
        error=None if error is None else one_line_error(**error),
        duration=duration,
    )


def _skipped(plan: _Plan) -> RunResult:
    return RunResult(plan.spec.name, plan.scope, plan.slug, plan.folder, SKIPPED)


def _context() -> tuple[str, dict[str, str | None], dict[str, Any] | None]:
    return code_hash(), package_versions(), git_state()


def run_one(
    study: str | Study,
    parameters: Mapping[str, Any] | None = None,
    *,
    force: bool = False,
    reports_dir: Path = REPORTS_DIR,
    index: bool = True,
) -> RunResult:
    """Run a study once (or skip it when unchanged) and rebuild the index page.

    Parameters are checked before any kernel starts (:class:`InputError`). A
    failing notebook does not raise: the result's ``status`` is ``"failed"``
    and ``error`` holds its error in one line.
    """
    spec = _study(study)
    parameters = dict(parameters or {})
    code, versions, git = _context()
    plan = _plan(
        spec, parameters, reports_dir=Path(reports_dir), code=code, versions=versions, git=git
    )
    result = _skipped(plan) if not force and _unchanged(plan) else _execute(plan)
    if index:
        from research_lib.index_page import build_index

        build_index(reports_dir)
    return result


def run_study(
    study: str | Study,
    parameters: Mapping[str, Any] | None = None,
    *,
    force: bool = False,
    reports_dir: Path = REPORTS_DIR,
    index: bool = True,
) -> Path:
    """Execute a study notebook for the given parameters and export ``report.html``.

    Returns the output folder; the executed notebook is saved there as
    ``<study>.ipynb``. Raises :class:`RunFailed` (one-line message) when the
    notebook fails.
    """
    result = run_one(study, parameters, force=force, reports_dir=reports_dir, index=index)
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
) -> BatchResult:
    """Run a study for the country and every oblast (or ``oblasts``), ``jobs`` at a time.

    All parameters are checked before any kernel starts; a bad one raises
    :class:`InputError`. A run whose inputs, parameters and code are unchanged
    since its last successful run is skipped unless ``force``. A failed run
    never stops the others. ``reports/index.html`` is rebuilt at the end.

    Parameters
    ----------
    parameters : mapping, optional
        Notebook parameters shared by every run (not ``oblast``, not ``output_dir``).
    over : {"oblast"}
        The parameter the batch varies.
    jobs : int, optional
        Runs at a time; default the number of cores.
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
    checked = check_parameters(spec, parameters)
    if "oblast" not in checked:
        raise InputError(f"study {spec.name!r} has no oblast parameter; it cannot run per oblast.")
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    code, versions, git = _context()
    plans = [
        _plan(
            spec,
            parameters,
            reports_dir=reports_dir,
            code=code,
            versions=versions,
            git=git,
            checked={**checked, "oblast": oblast_slug(scope)},
        )
        for scope in batch_scopes(oblasts)
    ]
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

    try:
        if workers == 1:
            for i in todo:
                finished(i, _execute(plans[i]))
        else:
            _run_parallel(plans, todo, workers, finished)
    finally:
        bar.close()
    batch = BatchResult(
        spec.name,
        [results[i] for i in range(len(plans))],
        seconds=time.perf_counter() - start,
        jobs=jobs,
    )
    if index:
        from research_lib.index_page import build_index

        batch.index = build_index(reports_dir)
    return batch


def _run_parallel(
    plans: Sequence[_Plan],
    todo: Sequence[int],
    workers: int,
    finished: Callable[[int, RunResult], None],
) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # Separate processes (spawned: no fork of a process that holds threads) so that
    # papermill's bookkeeping and the HTML export of one run overlap with the others.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_execute, plans[i]): i for i in todo}
        for future in as_completed(futures):
            i = futures[future]
            try:
                result = future.result()
            except Exception as err:  # the worker process itself died
                plan = plans[i]
                result = RunResult(
                    plan.spec.name,
                    plan.scope,
                    plan.slug,
                    plan.folder,
                    FAILED,
                    one_line_error(type(err).__name__, str(err)),
                )
            finished(i, result)


def _progress_bar(total: int, study: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=study, unit="run", disable=not enabled, dynamic_ncols=True)
