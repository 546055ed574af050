"""Build ``reports/index.html`` from the run folders: their provenance and the study registry.

:func:`collect_runs` reads the ``provenance.json`` of every run folder
``<reports>/<study>/<oblast-slug>/`` and decides each run's state
(:func:`run_state`: a record still saying ``running`` whose process is gone is
interrupted); :func:`build_index` passes the records, with the registered
studies' titles and headlines, to :func:`research_lib.render.index_page.index_html`
and writes the page atomically.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from research_lib.paths import REPORTS_DIR
from research_lib.render.index_page import INDEX_FILE, index_html
from research_lib.runner.outputs import lock_is_held, write_text_atomic
from research_lib.runner.provenance import PROVENANCE_FILE, read_provenance
from research_lib.runner.registry import STUDIES

__all__ = ["collect_runs", "run_state", "build_index", "registered_headlines"]


def collect_runs(reports_dir: str | Path = REPORTS_DIR) -> list[dict[str, Any]]:
    """The provenance record of every run folder ``<reports_dir>/<study>/<slug>/``.

    Each record gets ``_folder`` (the folder's path relative to ``reports_dir``).
    """
    reports_dir = Path(reports_dir)
    runs = []
    for path in sorted(reports_dir.glob(f"*/*/{PROVENANCE_FILE}")):
        if any(part.startswith(".") for part in path.relative_to(reports_dir).parts[:2]):
            continue  # a run's temporary folder
        record = read_provenance(path.parent)
        if record is None:
            continue
        record["_folder"] = path.parent.relative_to(reports_dir).as_posix()
        record["_state"] = run_state(record, path.parent)
        runs.append(record)
    return runs


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    return True


def run_state(record: Mapping[str, Any], folder: str | Path) -> str:
    """``"ok"``, ``"failed"``, ``"running"`` or ``"interrupted"``.

    A record still saying ``running`` is interrupted when no process holds the
    folder's lock (a killed run releases it), or, without a lock file, when its
    pid is dead on this machine.
    """
    status = str(record.get("status", "running"))
    if status in {"ok", "failed", "interrupted"}:
        return status
    held = lock_is_held(Path(folder))
    if held is not None:
        return "running" if held else "interrupted"
    if record.get("host") in {None, socket.gethostname()} and record.get("pid") is not None:
        return "running" if _pid_alive(record["pid"]) else "interrupted"
    return "running"


def build_index(reports_dir: str | Path = REPORTS_DIR, *, language: str = "bg") -> Path:
    """Write ``<reports_dir>/index.html`` listing every run; returns its path."""
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    page = index_html(
        collect_runs(reports_dir),
        reports_dir,
        titles={name: spec.title_key for name, spec in STUDIES.items()},
        headlines=registered_headlines(),
        language=language,
    )
    return write_text_atomic(reports_dir / INDEX_FILE, page)


def registered_headlines() -> dict[str, dict[str, Any] | None]:
    """``{study: headline}`` of the registered studies, as the index page shows them.

    A headline filled per run (the QoL domain its codebook declares) is shown as
    filled for the notebook's default parameters; when those cannot be read, the
    study is left out and the page uses the headline its runs recorded.
    """
    from research_lib.runner.parameters import notebook_parameters

    headlines: dict[str, dict[str, Any] | None] = {}
    for name, spec in STUDIES.items():
        if spec.headline_values is None:
            headlines[name] = spec.headline.as_dict() if spec.headline else None
            continue
        try:
            headline = spec.run_headline(notebook_parameters(spec))
        except Exception:
            continue
        if headline is not None:
            headlines[name] = headline.as_dict()
    return headlines
