"""Run a study notebook with Papermill and export its HTML report.

``run_study("qol", {"oblast": "plovdiv"})`` checks the parameters against the
notebook's ``parameters`` cell before any kernel starts, executes the notebook
into ``reports/<study>/<oblast-slug>/``, and exports ``report.html`` beside the
executed notebook and the ``published.csv`` the notebook wrote.

Examples
--------
>>> sorted(STUDIES)
['qol']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from research_lib.errors import InputError
from research_lib.labels import check_language, text
from research_lib.paths import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR, display_path, project_path
from research_lib.regions import oblast_slug, resolve_scope

__all__ = [
    "STUDIES",
    "KERNEL_NAME",
    "Study",
    "notebook_parameters",
    "check_parameters",
    "run_study",
]

#: The Jupyter kernel `make setup` registers for the project.
KERNEL_NAME = "research-lib"


@dataclass(frozen=True)
class Study:
    """A study notebook and how its reports are titled."""

    name: str
    notebook: str
    title_key: str


STUDIES: dict[str, Study] = {
    "qol": Study("qol", "qol_study.ipynb", "qol.title"),
}


def notebook_parameters(study: str) -> dict[str, Any]:
    """The parameters a study notebook declares, with their default values."""
    import papermill

    spec = _study(study)
    inferred = papermill.inspect_notebook(str(NOTEBOOKS_DIR / spec.notebook))
    defaults = {}
    for name, info in inferred.items():
        defaults[name] = _literal(info["default"])
    return defaults


def _literal(source: str) -> Any:
    import ast

    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return source


def _study(study: str) -> Study:
    if study not in STUDIES:
        raise InputError(f"unknown study {study!r}; studies: {', '.join(sorted(STUDIES))}.")
    return STUDIES[study]


def check_parameters(study: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``parameters`` into the notebook's defaults, checking names, types, oblast and files.

    Raises
    ------
    InputError
        For an unknown name (the message lists the accepted ones), a value of the
        wrong type, an unknown oblast or language, or an input file that does not exist.
    """
    defaults = notebook_parameters(study)
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        raise InputError(
            f"unknown parameter(s) for study {study!r}: {', '.join(unknown)}. "
            f"Accepted: {', '.join(f'{k} (default {v!r})' for k, v in defaults.items())}."
        )
    merged = dict(defaults)
    for name, value in parameters.items():
        merged[name] = _coerce(name, value, defaults[name])
    if "oblast" in merged:
        merged["oblast"] = str(merged["oblast"])
        resolve_scope(merged["oblast"])
    if "language" in merged:
        check_language(merged["language"])
    if "min_cell" in merged and merged["min_cell"] < 1:
        raise InputError(
            f"min_cell must be a whole number of at least 1, got {merged['min_cell']!r}."
        )
    for name in ("responses", "codebook", "episodes", "counts"):
        if name in merged and merged[name] and not project_path(merged[name]).is_file():
            raise InputError(
                f"parameter {name}: file not found: {merged[name]} (paths are relative to the project root)."
            )
    return merged


def _coerce(name: str, value: Any, default: Any) -> Any:
    """A value given as text on the command line, turned into the default's type."""
    if (
        default is None
        or isinstance(value, type(default))
        and not isinstance(value, bool) ^ isinstance(default, bool)
    ):
        return value
    if isinstance(default, bool):
        if str(value).lower() in {"true", "1", "yes"}:
            return True
        if str(value).lower() in {"false", "0", "no"}:
            return False
    elif isinstance(default, int):
        try:
            return int(str(value))
        except ValueError:
            pass
    elif isinstance(default, float):
        try:
            return float(str(value))
        except ValueError:
            pass
    elif isinstance(default, str):
        return str(value)
    raise InputError(
        f"parameter {name}: expected {type(default).__name__} like {default!r}, got {value!r}."
    )


def default_output_dir(study: str, oblast: str) -> Path:
    """``reports/<study>/<oblast-slug>/`` — the folder name is the identity of a run."""
    return REPORTS_DIR / study / oblast_slug(resolve_scope(oblast))


def run_study(
    study: str, parameters: Mapping[str, Any] | None = None, *, progress: bool = False
) -> Path:
    """Execute a study notebook for the given parameters and export ``report.html``.

    Returns the output folder. The executed notebook is saved there as
    ``<study>.ipynb``.
    """
    import papermill

    from research_lib.reporting import export_html

    spec = _study(study)
    params = check_parameters(study, parameters or {})
    if "output_dir" in params and "output_dir" not in (parameters or {}):
        params["output_dir"] = display_path(default_output_dir(study, params.get("oblast", "all")))
    out = project_path(params["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    executed = out / f"{study}.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS_DIR / spec.notebook),
        str(executed),
        parameters=params,
        kernel_name=KERNEL_NAME,
        cwd=str(PROJECT_ROOT),
        progress_bar=progress,
        report_mode=False,
    )
    language = params.get("language", "bg")
    export_html(
        executed, out / "report.html", title=text(spec.title_key, language), language=language
    )
    return out
