"""Issue 15, item 9: no row-level data in committed notebooks or in ``reports/``.

The study notebooks are committed with their outputs because nbval compares
them, and those outputs are the report: published figures only. A notebook that
shows children's rows (``explore_survey``) is committed without outputs (nbval
still runs it). The check uses the demo data as the independent reference: no
respondent or service id of the demo survey appears in any committed output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Notebooks that show row-level data: committed without outputs.
ROW_LEVEL = {"explore_survey.ipynb"}


def _outputs_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(
        nbformat.writes(nbformat.from_dict({"outputs": cell.get("outputs", [])}))
        for cell in nb.cells
        if cell.cell_type == "code"
    )


@pytest.mark.parametrize(
    "path", [p for p in NOTEBOOKS if p.name in ROW_LEVEL], ids=lambda p: p.name
)
def test_row_level_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("outputs")]
    assert not with_outputs, (
        f"{path.name}: cells {with_outputs} have outputs; clear them before committing "
        "(JupyterLab: Edit > Clear Outputs of All Cells)"
    )
    untagged = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "nbval-ignore-output" not in c.metadata.get("tags", [])
    ]
    assert not untagged, f"{path.name}: cells {untagged} need the tag nbval-ignore-output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_machine_path_in_committed_outputs(path):
    """An absolute path differs per machine (nbval fails in CI) and names the user's folders."""
    outputs = _outputs_text(path)
    assert str(ROOT) not in outputs, f"{path.name}: an output shows the project's absolute path"
    assert str(Path.home()) + "/" not in outputs, f"{path.name}: an output shows the home folder"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_respondent_or_service_id_in_committed_outputs(path):
    survey = ROOT / "data/demo/survey.csv"
    if not survey.exists():
        pytest.skip("no demo survey: run `make demo-data`")
    ids = pd.read_csv(survey, usecols=["respondent_id", "service_id"], dtype=str)
    outputs = _outputs_text(path)
    leaked = [v for v in pd.unique(ids.to_numpy().ravel()) if isinstance(v, str) and v in outputs]
    assert not leaked, f"{path.name}: outputs show ids {leaked[:5]} ({len(leaked)} in all)"


def test_only_the_readme_of_reports_is_tracked():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "reports"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == ["reports/README.md"]


def test_make_writes_no_row_level_file_under_reports():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--out reports/" not in makefile, "row-level outputs (scores) belong under data/"


@pytest.mark.parametrize("command", ["score", "validate"])
def test_cli_refuses_row_level_output_under_reports(command, tmp_path):
    import sys

    option = "--out" if command == "score" else "--rejected-out"
    done = subprocess.run(
        [sys.executable, "-m", "research_lib", command, "data/demo/survey_broken.csv",
         "--codebook", "surveys/qol-child-v1.yaml", option, "reports/rows.csv"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "published outputs only" in done.stderr and "Traceback" not in done.stderr
    assert not (ROOT / "reports/rows.csv").exists()
