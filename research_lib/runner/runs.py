"""The runner's API in one place: run study notebooks with Papermill, one run or a batch.

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
  (:func:`research_lib.runner.index.build_index`).

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
One module per responsibility (as papermill's ``parameterize``, ``execute``,
``engines``); this module re-exports their public names, and the command line
calls them through it:

* :mod:`~research_lib.runner.registry` — :data:`STUDIES`, :class:`Study`, :class:`Headline`;
* :mod:`~research_lib.runner.parameters` — :func:`check_parameters`, :func:`expand_oblast`;
* :mod:`~research_lib.runner.execute` — one run: plan, lock, execute, record
  (:func:`run_one`, :func:`run_study`);
* :mod:`~research_lib.runner.batch` — :func:`run_batch`, workers and signals;
* :mod:`~research_lib.runner.kernels` — the kernel, its memory cap, warm kernels
  (a batch keeps one per worker, reset to the fresh state between reports);
* :mod:`~research_lib.runner.index` — ``reports/index.html``;
* :mod:`~research_lib.runner.outputs`, :mod:`~research_lib.runner.provenance`.

Examples
--------
>>> {"qol", "placements", "brief"} <= set(STUDIES)
True
>>> STUDIES["qol"].input_files
('responses', 'codebook')
>>> one_line_error("ValueError", "no children\\n in  foster care", 7)
'ValueError: no children in foster care [cell 7]'
"""

from __future__ import annotations

from research_lib.io.oblasts import expand_oblast
from research_lib.runner.batch import (
    BatchInterrupted,
    BatchResult,
    batch_scopes,
    run_batch,
    stop_on_signals,
)
from research_lib.runner.execute import (
    DONE,
    EXIT_RUN_FAILED,
    FAILED,
    SKIPPED,
    Interrupted,
    RunFailed,
    RunResult,
    one_line_error,
    run_one,
    run_study,
)
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
from research_lib.runner.parameters import MIN_CELL_FLOOR, check_parameters, notebook_parameters
from research_lib.runner.registry import STUDIES, Headline, Study, get_study

__all__ = [
    "STUDIES",
    "Headline",
    "Study",
    "get_study",
    "KERNEL_NAME",
    "KERNEL_ARGUMENTS",
    "WarmKernel",
    "RunResult",
    "BatchResult",
    "RunFailed",
    "Interrupted",
    "BatchInterrupted",
    "DONE",
    "SKIPPED",
    "FAILED",
    "EXIT_RUN_FAILED",
    "MIN_CELL_FLOOR",
    "MEMORY_ENV",
    "DEFAULT_MEMORY_LIMIT_MB",
    "MIN_MEMORY_LIMIT_MB",
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
    "stop_on_signals",
]
