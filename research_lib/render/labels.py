"""Reader-facing text in Bulgarian and English.

Every label a report shows comes from ``labels.yaml`` beside this module, never
from a code identifier. Bulgarian is the default language, English the second.
The words of the brief's grading (grades, actors, designs, reasons, names of
tables and measures) are in ``grading.yaml`` beside it, read by the same
:func:`text` under the key ``grading`` (``text("grading.grade.low")``): one text
system, one file format.

Examples
--------
>>> text("placement_type.cnst")
'ЦНСТ'
>>> text("placement_type.cnst", "en")
'Family-type centre (ЦНСТ)'
>>> text("common.difference_axis", "en", reference="foster care")
'Difference from foster care (points, 0–100)'
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from research_lib.errors import InputError

__all__ = ["LANGUAGES", "check_language", "text", "has_text", "group_label"]

LANGUAGES = ("bg", "en")
_FILE = Path(__file__).with_name("labels.yaml")
#: Further text files, mounted under a top-level key of the one table.
_MOUNTED = {"grading": Path(__file__).with_name("grading.yaml")}


@cache
def _table() -> dict[str, Any]:
    table = yaml.safe_load(_FILE.read_text(encoding="utf-8"))
    for key, path in _MOUNTED.items():
        if key in table:
            raise InputError(f"{_FILE.name} has a top-level key {key!r} that {path.name} uses")
        table[key] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return table


def check_language(language: str) -> str:
    """Return ``language`` if it is supported, else raise an :class:`InputError`."""
    if language not in LANGUAGES:
        raise InputError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}.")
    return language


def _entry(key: str) -> dict[str, str] | None:
    node: Any = _table()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) and "bg" in node else None


def has_text(key: str) -> bool:
    """Whether ``key`` names a label."""
    return _entry(key) is not None


def text(key: str, language: str = "bg", **values: object) -> str:
    """The label ``key`` (dotted, e.g. ``"qol.title"``) in ``language``, formatted with ``values``.

    Raises
    ------
    KeyError
        When the key is not in the table (a bug: every reader-facing label must exist).
    """
    entry = _entry(key)
    if entry is None:
        raise KeyError(f"no label {key!r} in {_FILE.name} or {', '.join(_MOUNTED)}.yaml")
    template = entry.get(check_language(language)) or entry["bg"]
    return template.format(**values) if values else template


def group_label(dimension: str, value: object, language: str = "bg") -> str:
    """A group's label: a placement type, sex or age band in words; other values as they are."""
    key = f"{dimension}.{value}"
    return text(key, language) if has_text(key) else str(value)
