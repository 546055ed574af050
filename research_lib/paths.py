"""Where the project's folders are, so library code never hard-codes a machine path."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "PROJECT_ROOT",
    "REFERENCE_DIR",
    "DEMO_DIR",
    "SURVEYS_DIR",
    "REPORTS_DIR",
    "NOTEBOOKS_DIR",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
DEMO_DIR = PROJECT_ROOT / "data" / "demo"
SURVEYS_DIR = PROJECT_ROOT / "surveys"
REPORTS_DIR = PROJECT_ROOT / "reports"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
