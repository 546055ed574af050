"""A batch: one study for the country and each of the 28 oblasts, ``jobs`` runs at a time.

:func:`run_batch` checks every run's parameters and output folder before any
kernel starts, skips unchanged runs, and executes the others in worker
processes (spawned, each in its own process group), each keeping one warm
kernel for its runs (:class:`~research_lib.runner.kernels.WarmKernel`). A failed
run never stops the others. Ctrl-C, SIGTERM or SIGHUP stop the workers and
their kernels within seconds (:class:`BatchInterrupted`); a worker whose parent
dies, even by SIGKILL, stops itself.

Examples
--------
>>> len(batch_scopes()), batch_scopes(["Пловдив", "BG421", "plovdiv"])
(29, ['BG421'])
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from research_lib.errors import InputError
from research_lib.io.oblasts import (
    NATIONAL,
    load_oblasts,
    oblast_slug,
    resolve_scope,
)
from research_lib.paths import PROJECT_ROOT, REPORTS_DIR
from research_lib.runner import execute
from research_lib.runner.execute import (
    DONE,
    EXIT_RUN_FAILED,
    FAILED,
    SKIPPED,
    Interrupted,
    RunPlan,
    RunResult,
    one_line_error,
)
from research_lib.runner.kernels import (
    WarmKernel,
    resolve_memory_limit,
    set_memory_limit,
)
from research_lib.runner.outputs import (
    OutputError,
)
from research_lib.runner.parameters import check_parameters
from research_lib.runner.registry import Study, get_study

__all__ = [
    "BatchResult",
    "BatchInterrupted",
    "STOP_GRACE_S",
    "batch_scopes",
    "run_batch",
    "stop_on_signals",
]


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
    spec = get_study(study)
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
    code, versions, git = execute.run_context()
    plans, refused = [], []
    for scope in batch_scopes(oblasts):
        try:
            plans.append(
                execute.plan_run(
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
        if not force and execute.unchanged(plan):
            results[i] = execute.skipped_result(plan)
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
        with stop_on_signals():
            if workers == 1:
                with _kernel_for_batch(warm, limit) as kernel:
                    for i in todo:
                        running.add(i)
                        finished(i, execute.execute_plan(plans[i], force=force, kernel=kernel))
                        running.discard(i)
            else:
                _run_parallel(plans, todo, workers, force, finished, running, limit, warm)
    except (KeyboardInterrupt, Interrupted):
        bar.close()
        batch = collect()
        if index:
            batch.index, batch.index_error = execute.rebuild_index(reports_dir)
        stopped = len(running - set(results))
        raise BatchInterrupted(
            batch, stopped, len(todo) - len(set(todo) & set(results)) - stopped
        ) from None
    finally:
        bar.close()
    batch = collect()
    if index:
        batch.index, batch.index_error = execute.rebuild_index(reports_dir)
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
def stop_on_signals() -> Iterator[None]:
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
            result = execute.execute_plan(plan, force=force, kernel=kernel)
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
    plans: Sequence[RunPlan],
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
