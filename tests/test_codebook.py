"""Codebook loading: the shipped instrument loads; every kind of mistake names its key."""

from __future__ import annotations

import copy

import pytest
import yaml

from research_lib.codebook import load_codebook, parse_codebook
from research_lib.errors import CodebookError, InputError
from tests.conftest import TOY


def test_shipped_instrument_loads_with_required_coverage(qol_codebook):
    book = qol_codebook
    assert book.instrument == "qol-child-v1"
    assert 40 <= len(book.items) <= 60
    required = {
        "relationships",
        "family_contact",
        "participation",
        "independent_living",
        "school",
        "safety",
        "health",
        "emotional",
        "homeliness",
        "future",
    }
    assert required <= set(book.domain_ids)
    assert any(item.reverse for item in book.items)
    for item in book.items:
        assert item.text["bg"] and item.text["en"], item.id
    for domain in book.domains:
        assert domain.label["bg"] and domain.label["en"]


def test_toy_codebook_accessors(toy_codebook):
    assert toy_codebook.item_ids == ["h1", "h2", "h3", "v1", "v2"]
    assert [i.id for i in toy_codebook.items_of("say")] == ["v1", "v2"]
    assert toy_codebook.scale_of("h3").max == 3
    assert toy_codebook.domain_label("home", "bg") == "Дом"
    assert toy_codebook.domain("home").low_threshold == 50


def broken(mutate) -> dict:
    raw = copy.deepcopy(TOY)
    mutate(raw)
    return raw


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda r: r["items"][0].update(domain="nowhere"), "items.h1"),
        (lambda r: r["items"][1].update(scale="nine"), "'scale'"),
        (lambda r: r["scales"]["freq5"].update(min=5), "scales.freq5"),
        (lambda r: r["items"].append(dict(r["items"][0])), "duplicate item id(s): h1"),
        (lambda r: r["domains"].append(dict(r["domains"][0])), "duplicate domain id(s): home"),
        (lambda r: r.pop("instrument"), "'instrument' is missing"),
        (lambda r: r.pop("items"), "'items' is missing"),
        (lambda r: r["scales"]["freq5"]["labels"].update(en=["a", "b"]), "labels.en"),
        (lambda r: r["domains"][0].update(min_valid=1.5), "min_valid"),
        (lambda r: r["domains"][0].update(low_threshold=150), "low_threshold"),
        (lambda r: r["items"][0].update(reverse="yes"), "reverse"),
        (lambda r: r.update(missing_codes=[3]), "overlaps missing_codes"),
        (lambda r: r.update(missing_codes="-9"), "missing_codes"),
    ],
)
def test_mistakes_name_the_wrong_key(mutate, named):
    with pytest.raises(CodebookError, match=named.replace("(", r"\(").replace(")", r"\)")):
        parse_codebook(broken(mutate))


def test_unknown_domain_message_lists_known_domains():
    with pytest.raises(CodebookError) as err:
        parse_codebook(broken(lambda r: r["items"][0].update(domain="nowhere")))
    assert "'nowhere'" in str(err.value) and "home, say" in str(err.value)


def test_load_codebook_file_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_codebook(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("instrument: [unclosed", encoding="utf-8")
    with pytest.raises(CodebookError, match="bad.yaml"):
        load_codebook(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        yaml.safe_dump(broken(lambda r: r["items"][0].update(scale="x"))), encoding="utf-8"
    )
    with pytest.raises(CodebookError, match=r"wrong.yaml: items.h1: key 'scale'"):
        load_codebook(wrong)
