"""Every reader-facing label exists in Bulgarian and English with the same placeholders."""

from __future__ import annotations

import string

import pytest

from research_lib.errors import InputError
from research_lib.render.labels import _table, group_label, text


def leaves(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict) and "bg" in value:
            yield f"{prefix}{key}", value
        elif isinstance(value, dict):
            yield from leaves(value, f"{prefix}{key}.")


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize(("key", "entry"), list(leaves(_table())))
def test_label_has_both_languages_with_the_same_placeholders(key, entry):
    assert entry.get("bg") and entry.get("en"), key
    assert fields(entry["bg"]) == fields(entry["en"]), key


def test_lookups():
    assert text("placement_type.cnst") == "ЦНСТ"
    assert group_label("sex", "f", "en") == "Girls"
    assert group_label("oblast", "BG421") == "BG421"
    with pytest.raises(KeyError):
        text("no.such.label")
    with pytest.raises(InputError, match="unknown language"):
        text("placement_type.cnst", "de")
