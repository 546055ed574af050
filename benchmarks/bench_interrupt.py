"""Benchmark: how fast an interrupted run or batch stops (issue 15, item 4).

A toy study whose notebook sleeps for two minutes runs

* **batch, Ctrl-C** — ``batch`` with 2 jobs; once both kernels run, SIGINT goes to
  the batch's process group (what Ctrl-C at a terminal sends). Measured: signal to
  the one-line message, to the exit of the batch, and to the end of every worker
  and kernel.
* **run, Ctrl-C** — the same for a single ``run`` (its kernel runs in the main process).
* **batch, parent killed** — SIGKILL to the batch process only: signal to the end
  of every worker and kernel (they notice their parent is gone).

Goal: each under 5 s (before issue 15 a Ctrl-C took 72 s and killing the parent
left the workers running). Prints medians of ``--repeats``; the start-up of the
kernels is not counted. Run with ``python benchmarks/bench_interrupt.py --repeats 3``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

from research_lib.runner.runs import KERNEL_NAME

GOAL_S = 5.0

PARAMETERS = (
    'oblast = "all"\ndata = "data/demo/survey.csv"\nlabel = "toy"\n'
    'min_cell = 5\nlanguage = "bg"\noutput_dir = "reports/toy/all"\n'
)
SLOW_CELL = """\
import os, time
from research_lib.paths import project_path
(project_path(data).parent / f"kernel-{oblast}.pid").write_text(str(os.getpid()))
time.sleep(120)
"""
DRIVER = """\
import sys
from research_lib.runner.runs import STUDIES, Study
from research_lib.runner.cli import main

if __name__ == "__main__":
    STUDIES["toy"] = Study("toy", sys.argv[1], "qol.title", input_files=("data",))
    extra = ["--over", "oblast", "--jobs", "2"] if sys.argv[3] == "batch" else []
    sys.exit(main([sys.argv[3], "toy", *extra, "-p", "data=" + sys.argv[2]]))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[-1].split()[1]) == pid:
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def trial(command: str, how: str) -> dict[str, float]:
    """One run or batch, stopped once its kernels run; the times from the signal, in seconds."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        nb = nbformat.v4.new_notebook()
        parameters = nbformat.v4.new_code_cell(PARAMETERS)
        parameters.metadata["tags"] = ["parameters"]
        nb.cells = [parameters, nbformat.v4.new_code_cell(SLOW_CELL)]
        nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "x", "language": "python"}
        nbformat.write(nb, str(tmp / "slow.ipynb"))
        (tmp / "input.txt").write_text("hello", encoding="utf-8")
        (tmp / "driver.py").write_text(DRIVER, encoding="utf-8")
        process = subprocess.Popen(
            [
                sys.executable,
                str(tmp / "driver.py"),
                str(tmp / "slow.ipynb"),
                str(tmp / "input.txt"),
                command,
            ],
            env={**os.environ, "DI_REPORTS_ROOT": str(tmp / "reports")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        kernels_expected = 2 if command == "batch" else 1
        if not _wait(lambda: len(list(tmp.glob("kernel-*.pid"))) == kernels_expected, 300):
            process.kill()
            raise RuntimeError("the kernels did not start: " + process.communicate()[1][-500:])
        kernels = [int(p.read_text()) for p in tmp.glob("kernel-*.pid")]
        workers = _children(process.pid) if command == "batch" else []
        start = time.monotonic()
        times: dict[str, float] = {}
        if how == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)
            for line in process.stderr:
                if line.startswith("interrupted:"):
                    times["message"] = time.monotonic() - start
                    break
        else:
            os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=120)
        times["exit"] = time.monotonic() - start
        _wait(lambda: not any(_alive(p) for p in kernels + workers), 120)
        times["all stopped"] = time.monotonic() - start
        return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    worst = 0.0
    for command, how in (("batch", "ctrl-c"), ("run", "ctrl-c"), ("batch", "kill parent")):
        trials = [trial(command, how) for _ in range(args.repeats)]
        medians = {k: statistics.median(t[k] for t in trials) for k in trials[0]}
        worst = max(worst, medians["all stopped"])
        shown = ", ".join(f"{k} {v:.2f} s" for k, v in medians.items())
        print(f"{command}, {how}: {shown} (median of {args.repeats})")
    print(
        f"goal: every process gone within {GOAL_S:.0f} s: {'met' if worst <= GOAL_S else 'NOT met'}"
    )
    return 0 if worst <= GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
