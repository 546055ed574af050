"""Where the project's folders are, so library code never hard-codes a machine path."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PROJECT_ROOT",
    "REFERENCE_DIR",
    "DEMO_DIR",
    "SURVEYS_DIR",
    "REPORTS_DIR",
    "REPORTS_ENV",
    "NOTEBOOKS_DIR",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
DEMO_DIR = PROJECT_ROOT / "data" / "demo"
SURVEYS_DIR = PROJECT_ROOT / "surveys"
#: The environment variable that may name the reports root once (default ``reports/``).
REPORTS_ENV = "DI_REPORTS_ROOT"
#: Every report is written under this folder (checked by :func:`research_lib.runner.outputs.check_reports_root`).
#: A relative value is relative to the project root; an empty one is refused when a run starts.
REPORTS_DIR = PROJECT_ROOT / Path(os.environ.get(REPORTS_ENV, "reports")).expanduser()
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def project_path(path: str | Path) -> Path:
    """A parameter path: absolute as given, relative to the project root otherwise.

    Notebook parameters use project-relative paths (``data/demo/survey.csv``) so
    a notebook runs the same from JupyterLab, Papermill or nbval, whatever the
    working directory.
    """
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def display_path(path: str | Path) -> str:
    """A path as reports may show it: relative to the project, never a machine path."""
    path = Path(path)
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return path.name


def is_demo_data(path: str | Path | None) -> bool:
    """Whether ``path`` lies in ``data/demo`` (synthetic data: the report then says so)."""
    if path is None:
        return False
    try:
        Path(path).resolve().relative_to(DEMO_DIR.resolve())
    except ValueError:
        return False
    return True
