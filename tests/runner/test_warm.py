"""Warm kernels: a batch's runs share one kernel per worker, and no report depends on it.

The toy notebook below leaves every kind of state behind (a variable, figures,
rcParams, a warning filter, the working folder, ``sys.path``, an environment
variable) and checks at its start that none of it is there; it prints its
kernel's process id, so a test can see which runs shared a kernel. The QoL test
(slow) runs three oblasts warm in two orders and cold and compares their
``published.csv`` and report text.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from research_lib.runner import execute, runs
from research_lib.runner.kernels import WarmKernel
from research_lib.runner.runs import STUDIES, Study, run_batch

LEAKY_CODE = """\
import os, sys, warnings
import matplotlib
import matplotlib.pyplot as plt
from research_lib.io.oblasts import load_oblasts
from research_lib.paths import project_path

assert "leak" not in globals(), "a variable of the previous report"
assert plt.get_fignums() == [], "figures of the previous report"
assert matplotlib.rcParams["lines.linewidth"] == 1.5, "rcParams of the previous report"
assert "DI_LEAK" not in os.environ, "environment of the previous report"
assert "/leak" not in sys.path, "sys.path of the previous report"
assert os.getcwd() == str(project_path(".")), "working folder of the previous report"
assert not any(f[1] and f[1].pattern == "di-leak" for f in warnings.filters), "warnings"
assert "leak" not in load_oblasts().columns, "a cached table altered by the previous report"
if oblast == die_for:
    os.kill(os.getpid(), 9)

leak = 1
plt.figure()
matplotlib.rcParams["lines.linewidth"] = 9
os.environ["DI_LEAK"] = "1"
sys.path.append("/leak")
warnings.filterwarnings("error", message="di-leak")
load_oblasts()["leak"] = 1
out = project_path(output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "published.csv").write_text(
    "table,group,measure,n,value,ci_low,ci_high,suppressed\\n"
    f"pid,all,pid,10,{os.getpid()},,,False\\n",
    encoding="utf-8",
)
os.chdir("/")
"""


def leaky_study(folder: Path) -> Study:
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell(
        'oblast = "all"\ndata = "data/demo/survey.csv"\ndie_for = ""\n'
        'language = "bg"\noutput_dir = "reports/leaky/all"\n'
    )
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, nbformat.v4.new_code_cell(LEAKY_CODE)]
    nb.metadata["kernelspec"] = {
        "name": runs.KERNEL_NAME,
        "display_name": "x",
        "language": "python",
    }
    path = folder / "leaky.ipynb"
    nbformat.write(nb, str(path))
    return Study("leaky", str(path), "qol.title", input_files=("data",))


@pytest.fixture
def leaky(tmp_path, monkeypatch):
    spec = leaky_study(tmp_path)
    monkeypatch.setitem(STUDIES, "leaky", spec)
    monkeypatch.setattr(execute, "code_hash", lambda *a, **k: "c" * 64)
    data = tmp_path / "input.txt"
    data.write_text("hello", encoding="utf-8")
    return spec, data, tmp_path / "reports"


def _pid(folder: Path) -> str:
    return (folder / "published.csv").read_text(encoding="utf-8").splitlines()[1].split(",")[4]


def test_a_warm_kernel_is_reset_between_reports_and_replaced_when_it_dies(leaky):
    spec, data, reports = leaky
    scopes = ["BG311", "BG312", "BG313", "BG314"]
    batch = run_batch(
        "leaky",
        {"data": str(data), "die_for": "montana"},  # BG312
        oblasts=scopes,
        jobs=1,
        reports_dir=reports,
        progress=False,
        index=False,
    )
    status = {r.slug: r.status for r in batch.results}
    assert status == {"vidin": "done", "montana": "failed", "vratsa": "done", "pleven": "done"}
    failed = next(r for r in batch.results if r.slug == "montana")
    assert "DeadKernelError" in failed.error or "died" in failed.error
    for r in batch.results:
        if r.status == "done":  # counted from 1 in each report, as in a fresh kernel
            executed = nbformat.read(str(r.folder / "leaky.ipynb"), as_version=4)
            assert [c.execution_count for c in executed.cells] == [1, 2, 3]
    pids = [_pid(r.folder) for r in batch.results if r.status == "done"]
    assert pids[1] == pids[2], "the runs after the restart share one kernel"
    assert pids[0] != pids[1], "the kernel that died was replaced"


def test_a_cold_batch_starts_a_kernel_per_report(leaky):
    spec, data, reports = leaky
    batch = run_batch(
        "leaky",
        {"data": str(data)},
        oblasts=["BG311", "BG312"],
        jobs=1,
        reports_dir=reports,
        progress=False,
        index=False,
        warm=False,
    )
    assert [r.status for r in batch.results] == ["done", "done"]
    assert len({_pid(r.folder) for r in batch.results}) == 2


def test_warm_kernels_in_parallel_workers(leaky):
    spec, data, reports = leaky
    batch = run_batch(
        "leaky",
        {"data": str(data)},
        oblasts=["BG311", "BG312", "BG313", "BG314", "BG315"],
        jobs=2,
        reports_dir=reports,
        progress=False,
        index=False,
    )
    assert batch.count("done") == 5, batch.summary()
    assert len({_pid(r.folder) for r in batch.results}) <= 2


def test_a_warm_kernel_that_cannot_start_fails_the_run_in_one_line(leaky, monkeypatch):
    spec, data, reports = leaky
    monkeypatch.setattr(WarmKernel, "_start", lambda self: (_ for _ in ()).throw(OSError("nope")))
    batch = run_batch(
        "leaky",
        {"data": str(data)},
        oblasts=["BG311"],
        jobs=1,
        reports_dir=reports,
        progress=False,
        index=False,
    )
    assert batch.results[0].status == "failed"
    assert batch.results[0].error == "OSError: nope"


# --------------------------------------------------------------------------- QoL: same reports

#: Parts of a report that differ between two runs of the same inputs.
VOLATILE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[^\"<\s]*")


def _outputs(reports: Path, slugs: list[str]) -> dict[str, tuple[str, str]]:
    return {
        slug: (
            (reports / "qol" / slug / "published.csv").read_text(encoding="utf-8"),
            VOLATILE.sub("<time>", (reports / "qol" / slug / "report.html").read_text("utf-8")),
        )
        for slug in slugs
    }


@pytest.mark.slow
def test_qol_reports_do_not_depend_on_order_or_warmth(tmp_path):
    """Three oblasts warm in two orders (one kernel each time) and cold: the same outputs."""
    scopes = ["BG311", "BG421", "BG341"]
    slugs = ["vidin", "plovdiv", "burgas"]
    outputs = []
    for name, order, warm in (
        ("warm", scopes, True),
        ("reversed", scopes[::-1], True),
        ("cold", scopes, False),
    ):
        reports = tmp_path / name
        batch = run_batch(
            "qol",
            oblasts=order,
            jobs=1,
            reports_dir=reports,
            progress=False,
            index=False,
            warm=warm,
            force=True,
        )
        assert batch.count("done") == 3, batch.summary()
        outputs.append(_outputs(reports, slugs))
    warm, reversed_, cold = outputs
    for slug in slugs:
        assert warm[slug][0] == cold[slug][0], f"{slug}: published.csv warm != cold"
        assert reversed_[slug][0] == cold[slug][0], f"{slug}: published.csv order"
        assert warm[slug][1] == cold[slug][1], f"{slug}: report.html warm != cold"
        assert reversed_[slug][1] == cold[slug][1], f"{slug}: report.html order"
