"""Benchmark: the QoL batch (the country + 28 oblasts = 29 reports) against its floor.

* **full** — ``run_batch("qol", force=True)`` into a temporary reports folder:
  29 Papermill runs, HTML export, provenance, the index page.
* **floor** — measured in the same run, so machine speed cancels out: 29
  Papermill runs, with the same number of parallel jobs and the same kind of
  worker processes, of a notebook (generated in a temporary folder) that only
  imports the libraries the QoL notebook imports. What is left above the floor
  is the notebook's own work (load, score, bootstrap, mixed models, plots), the
  HTML export and the bookkeeping.
* **unchanged rerun** — the same batch again in a fresh interpreter (as
  ``python -m research_lib batch`` would run it): every run is skipped by
  content hash.

* **cold** — the same batch with a kernel per report (``run_batch(warm=False)``,
  as before issue 13); the full batch keeps one warm kernel per worker. Goal:
  warm <= half of cold (issue 13, item 5).

Goals: full <= 1.5x floor; warm <= 0.5x cold; unchanged rerun <= 5% of a full run. Prints medians
of ``--repeats`` and the ratios, and where the time of a run goes (from the
runs' provenance and the executed notebooks' per-cell timings).
Run with ``make bench`` (or ``python benchmarks/bench_batch.py --repeats 3``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

from research_lib.paths import PROJECT_ROOT
from research_lib.runner.runs import KERNEL_ARGUMENTS, KERNEL_NAME, batch_scopes, run_batch

GOAL_FULL = 1.5
GOAL_RERUN = 0.05
GOAL_WARM = 0.5

#: What the QoL notebook imports (its import cell), plus the libraries those pull in lazily.
FLOOR_IMPORTS = """\
from IPython.display import HTML, Markdown, display
import matplotlib.pyplot as plt

import research_lib
from research_lib import load_codebook
from research_lib.studies.qol import pipeline as qol
from research_lib.disclosure.suppression import write_published
from research_lib.render.labels import check_language, text
from research_lib.paths import display_path, project_path
from research_lib.render.reporting import (
    plot_differences, plot_group_means, published_table, set_theme, table_html,
)
from research_lib.disclosure.voices import select_quotes
import numpy, pandas, scipy.stats, seaborn, pingouin
import statsmodels.api, statsmodels.formula.api
"""


def floor_notebook(path: Path) -> Path:
    """A notebook with an ``oblast`` parameter that only imports the QoL notebook's libraries."""
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('oblast = "all"')
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, nbformat.v4.new_code_cell(FLOOR_IMPORTS)]
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "x", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def _floor_run(notebook: str, output: str, oblast: str) -> None:
    import papermill

    papermill.execute_notebook(
        notebook,
        output,
        parameters={"oblast": oblast},
        kernel_name=KERNEL_NAME,
        cwd=str(PROJECT_ROOT),
        progress_bar=False,
        extra_arguments=list(KERNEL_ARGUMENTS),
    )


def floor(folder: Path, jobs: int) -> float:
    """Wall time of 29 papermill runs of the import-only notebook, ``jobs`` at a time."""
    notebook = floor_notebook(folder / "floor.ipynb")
    scopes = batch_scopes()
    start = time.perf_counter()
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            pool.submit(_floor_run, str(notebook), str(folder / f"floor_{i}.ipynb"), scope)
            for i, scope in enumerate(scopes)
        ]
        for future in futures:
            future.result()
    return time.perf_counter() - start


def full(reports: Path, jobs: int, warm: bool = True) -> float:
    """Wall time of the 29-report QoL batch (warm kernels, or a kernel per report)."""
    start = time.perf_counter()
    batch = run_batch("qol", jobs=jobs, force=True, reports_dir=reports, progress=False, warm=warm)
    seconds = time.perf_counter() - start
    if batch.failed:
        print(batch.summary())
    return seconds


def rerun(reports: Path, jobs: int) -> tuple[float, str]:
    """The unchanged batch in a fresh interpreter (imports included), as the CLI runs it."""
    code = (
        "from pathlib import Path\nfrom research_lib.runner.runs import run_batch\n"
        f"b = run_batch('qol', jobs={jobs}, reports_dir=Path({str(reports)!r}), progress=False)\n"
        "print(b.count('skipped'), len(b.results))\n"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    return time.perf_counter() - start, done.stdout.strip()


def breakdown(reports: Path) -> None:
    """Where a run's time goes: kernel + imports, the analysis cell, the rest (render, export)."""
    records = [json.loads(p.read_text()) for p in sorted(reports.glob("qol/*/provenance.json"))]
    durations = {r["oblast_slug"]: r["duration_s"] for r in records if r.get("duration_s")}
    cells, kernel = [], []
    for record in records:
        nb = nbformat.read(str(reports / "qol" / record["oblast_slug"] / "qol.ipynb"), as_version=4)
        in_kernel = [c.metadata.get("papermill", {}).get("duration") or 0 for c in nb.cells]
        cells.append(max(in_kernel))
        kernel.append(record["duration_s"] - sum(in_kernel))
    print(
        f"  per run (median of {len(durations)}): {statistics.median(durations.values()):.2f} s; "
        f"national: {durations.get('all', float('nan')):.2f} s; slowest oblast: "
        f"{max(v for k, v in durations.items() if k != 'all'):.2f} s"
    )
    print(
        f"    of which outside the notebook's cells (kernel start, papermill, HTML export): "
        f"{statistics.median(kernel):.2f} s; the imports+load+analysis cell: {statistics.median(cells):.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=1, help="repeats of each (default 1)")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor (saves time)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold batch")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reports = folder / "reports"
        floors, fulls, colds, reruns = [], [], [], []
        for repeat in range(args.repeats):
            if not args.no_floor:
                floors.append(floor(folder, args.jobs))
            # alternate which goes first, so that a machine getting busier favours neither
            if not args.no_cold and repeat % 2 == 0:
                colds.append(full(folder / "cold", args.jobs, warm=False))
            fulls.append(full(reports, args.jobs))
            if not args.no_cold and repeat % 2 == 1:
                colds.append(full(folder / "cold", args.jobs, warm=False))
            for _attempt in range(3):
                seconds, skipped = rerun(reports, args.jobs)
                if skipped == "29 29":
                    break
                # the library's sources changed while the batch ran (someone is editing):
                # that rerun was rightly a full one; measure the unchanged rerun again
                print(f"  (code changed during the batch: rerun skipped {skipped}; again)")
            reruns.append(seconds)
        breakdown(reports)
    t_full, t_rerun = statistics.median(fulls), statistics.median(reruns)
    rerun_ratio = t_rerun / t_full
    print(
        f"QoL batch: 29 reports, {args.jobs} parallel jobs, median of {args.repeats} "
        f"(rerun skipped {skipped})"
    )
    if floors:
        t_floor = statistics.median(floors)
        print(f"  floor (29 papermill runs of an import-only notebook): {t_floor:.1f} s")
    print(f"  full batch (warm kernels):                             {t_full:.1f} s")
    if colds:
        t_cold = statistics.median(colds)
        print(f"  full batch, cold (a kernel per report):                {t_cold:.1f} s")
    print(f"  unchanged rerun (fresh interpreter):                   {t_rerun:.2f} s")
    if floors:
        ratio = t_full / t_floor
        print(
            f"  full / floor: {ratio:.2f}x (goal <= {GOAL_FULL:g}x) -> "
            f"{'OK' if ratio <= GOAL_FULL else 'OVER GOAL'}"
        )
    if colds:
        warm_ratio = t_full / t_cold
        print(
            f"  warm / cold: {warm_ratio:.2f}x (goal <= {GOAL_WARM:g}x) -> "
            f"{'OK' if warm_ratio <= GOAL_WARM else 'OVER GOAL'}"
        )
    print(
        f"  rerun / full: {100 * rerun_ratio:.1f}% (goal <= {100 * GOAL_RERUN:g}%) -> "
        f"{'OK' if rerun_ratio <= GOAL_RERUN else 'OVER GOAL'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
