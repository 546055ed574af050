"""One run: plan it, lock its folder, execute the notebook, record its provenance.

:func:`run_one` checks the parameters and the output folder (nothing starts
before), hashes everything the run depends on (:func:`plan_run`), skips a run
whose parameters, inputs, notebook and library code are unchanged since its
last successful run, and otherwise executes the notebook with Papermill into a
temporary folder beside the report (:func:`execute_plan`), exports
``report.html``, scrubs machine paths, and replaces the report in one rename
only on success; ``provenance.json`` records the run either way. The index page
is rebuilt afterwards (:func:`rebuild_index`).

A run executes on a kernel of its own, or on a warm kernel it is given
(:class:`~research_lib.runner.kernels.WarmKernel`, as batch workers do).

Examples
--------
>>> one_line_error("ValueError", "no children\\n in  foster care", 7)
'ValueError: no children in foster care [cell 7]'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from research_lib.errors import InputError
from research_lib.io.oblasts import (
    NATIONAL,
    expand_oblast,
    oblast_slug,
    resolve_scope,
)
from research_lib.paths import PROJECT_ROOT, REPORTS_DIR, project_path
from research_lib.render.labels import text
from research_lib.runner.kernels import (
    DEFAULT_MEMORY_LIMIT_MB,
    KERNEL_NAME,
    MEMORY_ENV,
    WarmKernel,
    kernel_arguments,
    resolve_memory_limit,
)
from research_lib.runner.outputs import (
    check_owner,
    check_reports_root,
    check_writable,
    confine_output,
    folder_lock,
    make_temp_folder,
    remove_stale_temp,
    replace_folder,
)
from research_lib.runner.parameters import (
    MIN_CELL_FLOOR,
    check_parameters,
    missing_file_message,
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
from research_lib.runner.registry import Study, get_study

__all__ = [
    "DONE",
    "SKIPPED",
    "FAILED",
    "EXIT_RUN_FAILED",
    "RunFailed",
    "Interrupted",
    "RunPlan",
    "RunResult",
    "one_line_error",
    "plan_run",
    "unchanged",
    "skipped_result",
    "execute_plan",
    "run_context",
    "rebuild_index",
    "run_one",
    "run_study",
]

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


#: Exit code of ``run``/``batch`` when a notebook failed (2 is a refused parameter or output).
EXIT_RUN_FAILED = 3


class RunFailed(RuntimeError):
    """A notebook run that raised; the message is the one-line error."""


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error of the run
    """A run or batch stopped by a signal (SIGTERM, SIGHUP, or its parent process dying)."""


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


@dataclass(frozen=True)
class RunPlan:
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
    headline: dict[str, Any] | None = None  # the study's headline, filled for this run


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


def one_line_error(ename: str, evalue: str, cell: int | None = None, limit: int = 300) -> str:
    """``"ValueError: message [cell 7]"`` on one line, at most ``limit`` characters of message."""
    message = " ".join(str(evalue).split())
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    line = f"{ename}: {message}" if message else str(ename)
    return f"{line} [cell {cell}]" if cell is not None else line


def _hash_input(path: Path) -> str:
    return tree_hash(path) if path.is_dir() else sha256_file(path)


def plan_run(
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
) -> RunPlan:
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
    headline = spec.run_headline(params)
    for name in spec.input_files:
        if params.get(name) and not project_path(params[name]).exists():
            raise InputError(missing_file_message(name, params[name]))
    root = check_reports_root(reports_dir)
    bases = (root.parent,)
    if "output_dir" in params and "output_dir" in parameters:
        folder = confine_output(params["output_dir"], root, spec.name)
    else:
        folder = confine_output(root / spec.name / slug, root, spec.name)
    check_owner(folder, spec.name, scope, describe=_describe_scope, read_provenance=read_provenance)
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
    return RunPlan(
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
        headline=headline.as_dict() if headline else None,
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


def unchanged(plan: RunPlan) -> bool:
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


def _now() -> datetime:
    return datetime.now(UTC)


def _record(plan: RunPlan, status: str, start: datetime, **extra: Any) -> dict[str, Any]:
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
        "headline": plan.headline,
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
    plan: RunPlan, work: Path, kernel: WarmKernel | None = None
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
            kernel.acquire()
            warm = kernel.engine_arguments()
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


def execute_plan(
    plan: RunPlan,
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
    plan: RunPlan, force: bool, start: datetime, clock: float, kernel: WarmKernel | None = None
) -> RunResult:
    target = plan.folder
    remove_stale_temp(target)
    check_owner(
        target,
        plan.spec.name,
        plan.scope,
        describe=_describe_scope,
        read_provenance=read_provenance,
    )
    if not force and unchanged(plan):
        return skipped_result(plan)
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


def skipped_result(plan: RunPlan) -> RunResult:
    return RunResult(plan.spec.name, plan.scope, plan.slug, plan.folder, SKIPPED)


def run_context() -> tuple[str, dict[str, str | None], dict[str, Any] | None]:
    return code_hash(), package_versions(), git_state()


def rebuild_index(reports_dir: Path) -> tuple[Path | None, str | None]:
    """Rebuild the index page; ``(path, None)``, or ``(None, one-line reason)`` when it cannot be written."""
    from research_lib.runner.index import build_index

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
    spec = get_study(study)
    parameters = dict(parameters or {})
    reports_dir = Path(reports_dir)
    limit = resolve_memory_limit(memory_limit_mb)
    code, versions, git = run_context()
    plan = plan_run(
        spec,
        parameters,
        reports_dir=reports_dir,
        code=code,
        versions=versions,
        git=git,
        allow_small_min_cell=allow_small_min_cell,
        memory_limit=limit,
    )
    if not force and unchanged(plan):
        result = skipped_result(plan)
    else:
        try:
            result = execute_plan(plan, force=force, on_wait=on_wait)
        except BaseException:
            if index:
                rebuild_index(reports_dir)
            raise
    if index:
        _, problem = rebuild_index(reports_dir)
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
