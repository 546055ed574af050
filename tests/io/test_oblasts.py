"""Oblast reference and name matching."""

from __future__ import annotations

import pandas as pd
import pytest

from research_lib.errors import InputError
from research_lib.io.oblasts import (
    load_oblasts,
    match_oblasts,
    oblast_name,
    oblast_slug,
    resolve_oblast,
    resolve_scope,
)


def test_reference_has_28_oblasts_with_unique_codes_and_slugs():
    table = load_oblasts()
    assert len(table) == 28
    assert table.index.is_unique and table["slug"].is_unique and table["name_bg"].is_unique
    assert table.index.str.fullmatch(r"BG3[1-4]\d|BG4[12]\d").all()
    assert table.loc["BG411", "name_bg"] == "София (столица)"
    assert table.loc["BG412", "name_bg"] == "София"
    assert table.loc["BG411", "slug"] == "sofia-city"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("BG421", "BG421"),
        ("bg421", "BG421"),
        ("plovdiv", "BG421"),
        ("Пловдив", "BG421"),
        ("област Пловдив", "BG421"),
        ("Пловдив област", "BG421"),
        ("Plovdiv oblast", "BG421"),
        ("София (столица)", "BG411"),
        ("София-град", "BG411"),
        ("sofia-city", "BG411"),
        ("Sofia City", "BG411"),
        ("София", "BG412"),
        ("Софийска област", "BG412"),
        ("Велико Търново", "BG321"),
        ("veliko-tarnovo", "BG321"),
        ("  Кърджали ", "BG425"),
    ],
)
def test_resolve_oblast_accepts_codes_slugs_and_names(name, code):
    assert resolve_oblast(name) == code


def test_unknown_oblast_lists_accepted_names():
    with pytest.raises(InputError) as err:
        resolve_oblast("Атлантида")
    message = str(err.value)
    assert "Атлантида" in message and "BG421 (Пловдив / plovdiv)" in message


def test_every_reference_name_round_trips():
    for code, row in load_oblasts().iterrows():
        for name in (code, row.slug, row.name_bg, row.name_en):
            assert resolve_oblast(name) == code


def test_scope_and_labels():
    assert resolve_scope("all") == "all" and resolve_scope("Варна") == "BG331"
    assert oblast_slug("all") == "all" and oblast_slug("Sofia City") == "sofia-city"
    assert oblast_name("BG331", "en") == "Varna" and oblast_name("all", "bg") == "България"


def test_match_oblasts_marks_unknown_as_missing():
    matched = match_oblasts(pd.Series(["Варна", "nowhere", None, "BG311"]))
    assert matched.tolist()[0] == "BG331" and matched.tolist()[3] == "BG311"
    assert matched.isna().tolist() == [False, True, True, False]
