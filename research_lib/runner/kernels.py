"""Jupyter kernels for runs: the kernel's name and arguments, its memory cap, warm kernels.

A *cold* run (:func:`research_lib.runner.execute.run_one`) lets Papermill start a
kernel, execute the notebook and shut the kernel down. A batch keeps one
:class:`WarmKernel` per worker instead: the kernel is started once, and between
two reports its state is put back as a fresh kernel had it, so that start-up
and the imports are paid once per worker and a report does not depend on what
ran before it in the same kernel.

What a reset puts back (:data:`RESET_CODE`, run silently, not counted):

* the namespace, the output cache and the execution counter
  (``get_ipython().reset(new_session=True)``, the ``%reset -f`` of a new session,
  which also collects the garbage);
* open figures (``plt.close("all")``), matplotlib's ``rcParams`` (and so the
  seaborn theme) as they were after ``import matplotlib.pyplot`` in a fresh
  kernel, NumPy's error and print options;
* warning filters and the "already shown" registries (a warning shown by one
  report is shown again by the next, as in a cold kernel), the working folder,
  ``sys.path`` and the environment variables;
* the caches of ``research_lib`` (``functools.cache``/``lru_cache``): some return
  mutable tables, which a report could alter for the next one.

The kernel keeps its imported modules (that is the saving) and its memory cap.
A kernel that failed a run, died, or could not be reset is shut down, and the
next run starts a fresh one; after :data:`MAX_RUNS_PER_KERNEL` runs a kernel is
replaced too (memory a library never frees does not pile up). Notebooks
seed their random generators explicitly, so no random state is reset.

Notes
-----
Papermill executes on the kept kernel through an engine of its registry
(:data:`ENGINE_NAME`: papermill's nbclient engine, given the kernel manager and
a client connected once, so that nbclient neither starts nor stops the kernel,
nor connects and waits for it again at every report);
executing notebooks in the worker process itself, as ploomber-engine does, was
not chosen: a report would then be produced by another executor than a single
run's (display formatting, inline figures), a crash in a notebook would take
the worker down, and the kernel's own memory cap would be the worker's.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

__all__ = [
    "KERNEL_NAME",
    "KERNEL_ARGUMENTS",
    "MEMORY_ENV",
    "DEFAULT_MEMORY_LIMIT_MB",
    "MIN_MEMORY_LIMIT_MB",
    "MAX_RUNS_PER_KERNEL",
    "resolve_memory_limit",
    "set_memory_limit",
    "kernel_arguments",
    "WarmKernel",
    "ENGINE_NAME",
]

#: The Jupyter kernel `make setup` registers for the project.
KERNEL_NAME = "research-lib"

#: Quiet kernels: their start-up and shutdown log lines would break the progress bar.
#: A notebook's own errors are in its outputs and in the run's one-line error.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=CRITICAL",)

#: Environment variable: the memory cap of each kernel and batch worker, in MiB (0: no cap).
MEMORY_ENV = "DI_MEMORY_LIMIT_MB"

#: Default cap on the address space (``RLIMIT_AS``) of each kernel and batch worker, in MiB.
#: A kernel that has run the QoL study maps about 2.8 GB (of which 0.35 GB resident), so
#: 8 GiB leaves room for real data while a runaway allocation (a spreadsheet declaring a
#: billion cells) fails at once instead of exhausting the machine.
DEFAULT_MEMORY_LIMIT_MB = 8192

#: The smallest cap accepted: below it a kernel cannot even start its libraries.
MIN_MEMORY_LIMIT_MB = 1024

#: A warm kernel is replaced by a fresh one after this many runs.
MAX_RUNS_PER_KERNEL = 40

#: The papermill engine that executes on a warm kernel (``execute_notebook(engine_name=...)``).
ENGINE_NAME = "di-warm-kernel"

#: Seconds to wait for a kernel to start, or for a reset to finish.
START_TIMEOUT_S = 60.0

#: Name of the module (in the kernel's ``sys.modules``) that holds the fresh state and the reset.
STATE_MODULE = "_di_warm_kernel"

#: Run once in a fresh kernel: the libraries every report imports, then a record of the state
#: a fresh kernel has once they are imported (what :data:`RESET_CODE` puts back).
PRELUDE_SOURCE = """
import os, sys, warnings
import numpy
import matplotlib
import matplotlib.pyplot as plt

fresh = {
    "cwd": os.getcwd(),
    "path": list(sys.path),
    "environ": dict(os.environ),
    "filters": list(warnings.filters),
    "rc": matplotlib.rcParams.copy(),
    "np_err": numpy.geterr(),
    "np_print": numpy.get_printoptions(),
}


def reset():
    get_ipython().reset(new_session=True)
    plt.close("all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matplotlib.rcParams.update(fresh["rc"])
    numpy.seterr(**fresh["np_err"])
    numpy.set_printoptions(**fresh["np_print"])
    warnings.resetwarnings()  # also forgets which warnings were already shown
    warnings.filters[:] = fresh["filters"]
    os.chdir(fresh["cwd"])
    sys.path[:] = fresh["path"]
    for name in set(os.environ) - set(fresh["environ"]):
        del os.environ[name]
    for name, value in fresh["environ"].items():
        if os.environ.get(name) != value:
            os.environ[name] = value
    for name, module in list(sys.modules.items()):
        if name != "research_lib" and not name.startswith("research_lib."):
            continue
        for value in list(vars(module).values()):
            if getattr(value, "__module__", None) == name and callable(
                getattr(value, "cache_clear", None)
            ):
                value.cache_clear()
"""

#: Run (silently) in a fresh kernel before its first report.
PRELUDE_CODE = (
    "def _di_prelude():\n"
    "    import sys, types\n"
    f"    module = types.ModuleType({STATE_MODULE!r})\n"
    "    module.__dict__['get_ipython'] = get_ipython\n"
    f"    exec({PRELUDE_SOURCE!r}, module.__dict__)\n"
    f"    sys.modules[{STATE_MODULE!r}] = module\n"
    "_di_prelude()\n"
    "del _di_prelude\n"
)

#: Run (silently) in a warm kernel before each report but its first.
RESET_CODE = f"__import__('sys').modules[{STATE_MODULE!r}].reset()\n"


def resolve_memory_limit(value: int | str | None = None) -> int | None:
    """The memory cap of a run's kernel (and batch workers) in MiB; ``None`` for no cap.

    ``value`` when given, else the environment variable :data:`MEMORY_ENV`
    (``DI_MEMORY_LIMIT_MB``), else :data:`DEFAULT_MEMORY_LIMIT_MB` (8 GiB).
    ``0`` turns the cap off. The cap is an address-space limit
    (``RLIMIT_AS``), applied where the platform supports it (Linux; elsewhere
    it is recorded but has no effect).

    Raises
    ------
    InputError
        For a value that is not a whole number, or one below
        :data:`MIN_MEMORY_LIMIT_MB` (other than 0).

    Examples
    --------
    >>> resolve_memory_limit(4096), resolve_memory_limit("0")
    (4096, None)
    """
    from research_lib.errors import InputError

    source = "memory_limit_mb"
    if value is None:
        value = os.environ.get(MEMORY_ENV, "").strip() or DEFAULT_MEMORY_LIMIT_MB
        source = MEMORY_ENV
    try:
        number = int(str(value).strip())
    except ValueError:
        number = -1
    if number == 0:
        return None
    if number < MIN_MEMORY_LIMIT_MB:
        raise InputError(
            f"{source}: expected a whole number of MiB of at least {MIN_MEMORY_LIMIT_MB} "
            f"(default {DEFAULT_MEMORY_LIMIT_MB}), or 0 for no cap; got {str(value)[:40]!r}."
        )
    return number


def capped_bytes(limit_mb: int) -> int | None:
    """The cap in bytes, not above this process's hard limit; None when it cannot be set."""
    try:
        import resource
    except ImportError:  # not a Unix platform
        return None
    if not hasattr(resource, "RLIMIT_AS"):
        return None
    wanted = int(limit_mb) * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def set_memory_limit(limit_mb: int | None) -> bool:
    """Cap this process's address space at ``limit_mb`` MiB (soft and hard); False if not possible.

    Processes started afterwards (a worker's kernels) inherit the cap.
    """
    if limit_mb is None:
        return False
    capped = capped_bytes(limit_mb)
    if capped is None:
        return False
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_AS, (capped, capped))
    except (ValueError, OSError):
        return False
    return True


def kernel_arguments(limit_mb: int | None) -> list[str]:
    """Command-line arguments of a run's kernel: quiet logs, and its memory cap set at start-up.

    The cap is set by the kernel itself before the notebook's first cell
    (``IPKernelApp.exec_lines``), so it binds the kernel and whatever it starts,
    and cannot be raised by the notebook.
    """
    arguments = list(KERNEL_ARGUMENTS)
    capped = None if limit_mb is None else capped_bytes(limit_mb)
    if capped is not None:
        line = (
            "__import__('resource').setrlimit(__import__('resource').RLIMIT_AS, "
            f"({capped}, {capped}))"
        )
        arguments.append(f'--IPKernelApp.exec_lines=["{line}"]')
    return arguments


class KernelNotReady(RuntimeError):
    """A warm kernel that could not be started or reset (the run fails with this message)."""


class WarmKernel:
    """One Jupyter kernel kept for many runs; :meth:`acquire` gives it fresh, :meth:`release` after.

    Parameters
    ----------
    memory_limit_mb : int, optional
        The kernel's memory cap (:func:`kernel_arguments`); None: no cap.
    cwd : path
        The kernel's working folder (the project root, as for a cold run).
    kernel_name : str
        The kernelspec.
    max_runs : int
        Runs after which the kernel is replaced by a fresh one.

    Examples
    --------
    >>> kernel = WarmKernel(None, cwd=".")  # doctest: +SKIP
    >>> with kernel:  # doctest: +SKIP
    ...     kernel.acquire()
    ...     papermill.execute_notebook(source, output, **kernel.engine_arguments())
    ...     kernel.release(ok=True)
    """

    def __init__(
        self,
        memory_limit_mb: int | None,
        *,
        cwd: str | Path,
        kernel_name: str = KERNEL_NAME,
        max_runs: int = MAX_RUNS_PER_KERNEL,
    ) -> None:
        self.memory_limit_mb = memory_limit_mb
        self.cwd = str(cwd)
        self.kernel_name = kernel_name
        self.max_runs = max_runs
        self.manager: Any = None
        self.client: Any = None  # connected once per kernel, used by every run on it
        self.runs = 0  # reports run on the current kernel
        self.started = 0  # kernels started so far

    # -- life cycle

    def acquire(self) -> Any:
        """The kernel manager of a kernel in the fresh state: started, or reset after a run.

        Raises
        ------
        KernelNotReady
            When no kernel could be started.
        """
        from jupyter_core.utils import run_sync

        if self.manager is not None and (
            self.runs >= self.max_runs or not run_sync(self.manager.is_alive)()
        ):
            self.shutdown()
        if self.manager is not None and self.runs:
            try:
                self._run_silently(RESET_CODE)
            except Exception:  # a kernel that cannot be reset is replaced
                self.shutdown()
        if self.manager is None:
            self._start()
        return self.manager

    def engine_arguments(self) -> dict[str, Any]:
        """Arguments of ``papermill.execute_notebook`` that run on this (acquired) kernel."""
        _register_engine()
        return {"engine_name": ENGINE_NAME, "warm_kernel": self}

    def release(self, ok: bool) -> None:
        """After a run; a failed run's kernel is shut down (never reused)."""
        self.runs += 1
        if not ok:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop the kernel at once (nothing is lost between runs); the next run starts a new one."""
        from jupyter_core.utils import run_sync

        manager, client = self.manager, self.client
        self.manager, self.client, self.runs = None, None, 0
        if client is not None:
            with contextlib.suppress(Exception):
                client.stop_channels()
        if manager is not None:
            with contextlib.suppress(Exception):
                run_sync(manager.shutdown_kernel)(now=True)

    def __enter__(self) -> WarmKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- internals

    def _start(self) -> None:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        manager = AsyncKernelManager(kernel_name=self.kernel_name)
        arguments = [
            *kernel_arguments(self.memory_limit_mb),
            "--HistoryManager.hist_file=:memory:",  # as nbclient starts kernels
        ]

        async def connect() -> Any:
            client = manager.client()
            client.start_channels()
            await client.wait_for_ready(timeout=START_TIMEOUT_S)
            client.allow_stdin = False
            return client

        try:
            run_sync(manager.start_kernel)(extra_arguments=arguments, cwd=self.cwd)
            self.manager, self.runs = manager, 0
            self.client = run_sync(connect)()
        except Exception as err:
            self.shutdown()
            with contextlib.suppress(Exception):
                run_sync(manager.shutdown_kernel)(now=True)
            raise KernelNotReady(f"the kernel {self.kernel_name!r} did not start ({err})") from err
        self.started += 1
        try:
            self._run_silently(PRELUDE_CODE)
        except Exception as err:
            self.shutdown()
            raise KernelNotReady(f"the kernel could not be prepared ({err})") from err

    def _run_silently(self, code: str) -> None:
        """Execute ``code`` without output, history or a new execution count; raise on error."""
        from jupyter_core.utils import run_sync

        async def execute() -> dict[str, Any]:
            return await self.client.execute_interactive(
                code,
                silent=True,
                store_history=False,
                allow_stdin=False,
                timeout=START_TIMEOUT_S,
                output_hook=lambda message: None,
            )

        reply = run_sync(execute)()
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise KernelNotReady(f"{content.get('ename', 'error')}: {content.get('evalue', '')}")


def _register_engine() -> None:
    """Register :data:`ENGINE_NAME` with papermill (once): its nbclient engine on a warm kernel."""
    global _ENGINE_REGISTERED
    if _ENGINE_REGISTERED:
        return
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    class WarmKernelEngine(NBClientEngine):
        """papermill's nbclient engine, executing on the kept kernel with its connected client."""

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            **kwargs: Any,
        ) -> Any:
            kernel: WarmKernel = kwargs.pop("warm_kernel")
            for name in ("input_path", "timeout", "startup_timeout", "extra_arguments"):
                kwargs.pop(name, None)
            client = PapermillNotebookClient(
                nb_man,
                km=kernel.manager,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                **kwargs,
            )
            client.kc = kernel.client  # connected once: nbclient neither connects nor waits again
            return client.execute()

    papermill_engines.register(ENGINE_NAME, WarmKernelEngine)
    _ENGINE_REGISTERED = True


_ENGINE_REGISTERED = False
