"""Parameters of a run, checked before any kernel starts (strict, as papermill users ask: #818, #869).

:func:`check_parameters` merges the values given (on the command line they
arrive as text) into the defaults the notebook declares in its ``parameters``
cell, and refuses an unknown name, a value of the wrong type, a value outside a
study's choices, an unknown oblast or language, a date, count or ``min_cell``
out of range, an input file that does not exist, or a value that an input
table's column does not hold; every message lists what is accepted.
:func:`expand_oblast` fills ``{oblast}`` in a value with the run's oblast slug.

Examples
--------
>>> expand_oblast({"qol_published": "reports/qol/{oblast}/published.csv", "n": 3}, "plovdiv")
{'qol_published': 'reports/qol/plovdiv/published.csv', 'n': 3}
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from research_lib.errors import InputError
from research_lib.io.oblasts import expand_oblast, resolve_scope  # expand_oblast: re-exported
from research_lib.paths import project_path
from research_lib.render.labels import check_language
from research_lib.runner.provenance import public_path
from research_lib.runner.registry import Study, get_study

__all__ = [
    "MIN_CELL_FLOOR",
    "notebook_parameters",
    "check_parameters",
    "expand_oblast",
    "missing_file_message",
]

#: The smallest ``min_cell`` accepted without an explicit override (``allow_small_min_cell``).
MIN_CELL_FLOOR = 3


@cache
def _inspect(notebook: str, mtime_ns: int) -> tuple[tuple[str, Any], ...]:
    import papermill

    try:
        inferred = papermill.inspect_notebook(notebook)
    except Exception as err:  # no kernelspec, not a notebook, ...
        raise InputError(
            f"notebook {public_path(notebook)}: its parameters cannot be read ({err})."
        ) from err
    return tuple((name, _literal(info["default"])) for name, info in inferred.items())


def notebook_parameters(study: str | Study) -> dict[str, Any]:
    """The parameters a study notebook declares, with their defaults (the study's own first)."""
    spec = get_study(study)
    path = spec.notebook_path
    if not path.is_file():
        raise InputError(f"study {spec.name!r}: notebook not found: {public_path(path)}.")
    declared = dict(_inspect(str(path), path.stat().st_mtime_ns))
    unknown = sorted(set(spec.defaults) - set(declared))
    if unknown:
        raise InputError(
            f"study {spec.name!r} sets default(s) for {', '.join(unknown)}, which its notebook "
            f"{path.name} does not declare."
        )
    return {**declared, **spec.defaults}


def _literal(source: str) -> Any:
    import ast

    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return source


def check_parameters(
    study: str | Study,
    parameters: Mapping[str, Any],
    *,
    allow_small_min_cell: bool = False,
) -> dict[str, Any]:
    """Merge ``parameters`` into the notebook's defaults, checking names, types, values and files.

    Nothing is executed: this runs before any kernel starts. ``min_cell`` below
    :data:`MIN_CELL_FLOOR` is refused unless ``allow_small_min_cell`` (the run
    then records and prints the override); dates, counts and values that must
    occur in an input file (the qol ``wave``) are checked too.

    Raises
    ------
    InputError
        For an unknown name (the message lists the accepted ones with their
        defaults), a value of the wrong type (the message says which type, with
        an example), a value outside a study's choices, an unknown oblast or
        language (the message lists the accepted ones), or an input file that
        does not exist (the message lists the files found in that folder).
    """
    spec = get_study(study)
    defaults = notebook_parameters(spec)
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        raise InputError(
            f"unknown parameter(s) for study {spec.name!r}: {', '.join(unknown)}. "
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
    if "min_cell" in merged:
        if merged["min_cell"] < 1:
            raise InputError(
                f"min_cell must be a whole number of at least 1, got {merged['min_cell']!r}."
            )
        if merged["min_cell"] < MIN_CELL_FLOOR and not allow_small_min_cell:
            raise InputError(
                f"min_cell={merged['min_cell']} is below {MIN_CELL_FLOOR}: figures resting on "
                f"so few children may identify a child. Use min_cell of at least {MIN_CELL_FLOOR} "
                "(5 by default), or, for a reviewed exception, add --allow-small-min-cell "
                "(the report then says so)."
            )
    for name in spec.dates:
        if name in merged:
            merged[name] = _check_date(name, merged[name])
    for name, (low, high) in spec.counts.items():
        if name in merged and not low <= merged[name] <= high:
            raise InputError(
                f"parameter {name}: expected a whole number from {low} to {high}, "
                f"got {merged[name]!r}."
            )
    for name, allowed in spec.choices.items():
        if name in merged and merged[name] not in allowed:
            raise InputError(
                f"parameter {name}: {merged[name]!r} is not accepted. Accepted: {', '.join(allowed)}."
            )
    for name in spec.input_files:
        value = merged.get(name)
        if value and "{oblast}" not in str(value) and not project_path(value).exists():
            raise InputError(missing_file_message(name, value))
    for name, (file_parameter, column, words) in spec.column_values.items():
        if name in merged and str(merged[name]) not in words:
            _check_column_value(name, merged[name], merged.get(file_parameter), column, words)
    return merged


def _check_date(name: str, value: Any) -> str:
    text = str(value).strip()
    try:
        day = _dt.date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or len(text) != 10 or not 1990 <= day.year <= 2100:
        raise InputError(
            f"parameter {name}: expected a date written YYYY-MM-DD between 1990 and 2100 "
            f"(e.g. 2016-01-01), got {value!r}."
        )
    return text


#: Text tables at most this large are read before a run to check a value in a column.
_CHEAP_TABLE_BYTES = 64 * 1024 * 1024


def _check_column_value(
    name: str, value: Any, file: Any, column: str, words: Sequence[str]
) -> None:
    """Refuse ``value`` when a cheap-to-read input table has no such value in ``column``."""
    from research_lib.io.readers import CSV_EXTENSIONS, read_table

    if not file or "{oblast}" in str(file):
        return
    path = project_path(file)
    try:
        if path.suffix.lower() not in CSV_EXTENSIONS or path.stat().st_size > _CHEAP_TABLE_BYTES:
            return
        table = read_table(path).data
    except (OSError, InputError):
        return  # the notebook reports an unreadable file in its own words
    if column not in table.columns:
        return
    present = sorted({str(v).strip() for v in table[column].dropna()} - {""})
    if str(value).strip() in present:
        return
    shown = [repr(v[:20]) for v in present[:20]] + (["…"] if len(present) > 20 else [])
    accepted = ", ".join([*shown, *(repr(w) for w in words)])
    raise InputError(
        f"parameter {name}: {str(value)[:40]!r} is not a value of the {column} column of "
        f"{public_path(path)}. Accepted: {accepted}."
    )


def missing_file_message(name: str, value: Any) -> str:
    path = project_path(value)
    folder = path.parent
    message = f"parameter {name}: file not found: {value} (paths are relative to the project root)."
    if folder.is_dir():
        found = sorted(
            p.name for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()
        )
        shown = ", ".join(found[:20]) + (" …" if len(found) > 20 else "")
        message += f" Files in {public_path(folder)}/: {shown or '(none)'}."
    else:
        message += f" The folder {public_path(folder)}/ does not exist."
    return message


def _coerce(name: str, value: Any, default: Any) -> Any:
    """A value given as text on the command line, turned into the default's type."""
    if default is None:
        return value
    if isinstance(value, bool) or isinstance(default, bool):
        if isinstance(value, bool) and isinstance(default, bool):
            return value
        if isinstance(default, bool) and isinstance(value, str):
            if value.lower() in {"true", "1", "yes"}:
                return True
            if value.lower() in {"false", "0", "no"}:
                return False
    elif isinstance(default, int | float) and isinstance(value, int | float):
        if isinstance(default, float) or isinstance(value, int):
            return type(default)(value)
    elif isinstance(value, type(default)):
        return value
    elif isinstance(value, str) and isinstance(default, int | float):
        try:
            return type(default)(value)
        except ValueError:
            pass
    raise InputError(
        f"parameter {name}: expected {type(default).__name__} like {default!r}, got {value!r}."
    )
