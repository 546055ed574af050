"""Codebook loading: the shipped instrument loads; every kind of mistake names its key."""

from __future__ import annotations

import copy

import pytest
import yaml

from research_lib.errors import CodebookError, InputError
from research_lib.io.codebook import load_codebook, parse_codebook
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


# ----------------------------------------------------------------------------- hostile codebooks

BILLION_LAUGHS = """\
instrument: bomb
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
domains: [{id: home, label: *i}]
"""


def test_billion_laughs_is_refused_before_it_expands(tmp_path):
    """9^9 (387 million) strings once expanded; measured on the node graph, not built.

    Without the bound, ``str()`` of the label (what parse_codebook does) takes
    over 2 GB; here the error comes from the size check itself.
    """
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(CodebookError, match=r"bomb\.yaml: .*expand to more than 200,000"):
        load_codebook(path)


def test_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("instrument: x\nscales: &s {again: *s}\n", encoding="utf-8")
    with pytest.raises(CodebookError, match="recursive alias"):
        load_codebook(path)


def test_ordinary_anchors_still_work(tmp_path):
    """A shared label list through an alias is fine: the bound is on the expanded size."""
    raw = copy.deepcopy(TOY)
    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    text = text.replace("  freq5:\n", "  freq5: &freq\n", 1) + "spare: *freq\n"
    path = tmp_path / "anchors.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_codebook(path).extra["spare"]["max"] == 5


def test_oversized_codebook_file_is_refused(tmp_path, monkeypatch):
    from research_lib.io import codebook

    monkeypatch.setattr(codebook, "MAX_CODEBOOK_BYTES", 100)
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(TOY), encoding="utf-8")
    with pytest.raises(CodebookError, match="big.yaml: the file has .* bytes"):
        load_codebook(path)


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        # issue 14 item 6 / issue 15: ids equal to background columns, named with both
        (
            lambda r: r["domains"][1].update(id="voice"),
            "domains.voice: key 'id' the domain id 'voice'",
        ),
        (lambda r: r["domains"][0].update(id="age"), "background column 'age'"),
        (
            lambda r: r["domains"][0].update(id="placement_type"),
            "background column 'placement_type'",
        ),
        (lambda r: r["domains"][0].update(id="wave"), "background column 'wave'"),
        (lambda r: r["items"][0].update(id="respondent_id"), "item id 'respondent_id'"),
        (lambda r: r["items"][0].update(id="oblast"), "background column 'oblast'"),
        (lambda r: r["items"][0].update(id="weight"), "background column 'weight'"),
        # an item column named like a score column or a low_ flag
        (
            lambda r: r["items"][0].update(id="home"),
            "item id 'home' is also the score column of domain 'home'",
        ),
        (
            lambda r: r["items"][0].update(id="low_home"),
            "'low_home' is also the low-score flag of domain 'home'",
        ),
        (
            lambda r: r["domains"].append({"id": "low_home", "label": "x"}),
            "'low_home' is also the low-score flag of domain 'home'",
        ),
        # ids that are not words: formula starts and markup
        (lambda r: r["domains"][0].update(id="=HYPERLINK(1)"), "must be a word"),
        (lambda r: r["items"][0].update(id="<img src=x onerror=alert(1)>"), "must be a word"),
        (lambda r: r["items"][0].update(id="h 1"), "must be a word"),
    ],
)
def test_id_clashes_and_bad_ids_are_refused_naming_both(mutate, words):
    raw = broken(mutate)
    for item in raw["items"]:  # keep items pointing at a renamed domain
        if item["domain"] not in {d["id"] for d in raw["domains"]}:
            item["domain"] = raw["domains"][0]["id"]
    with pytest.raises(CodebookError) as err:
        parse_codebook(raw)
    assert words in str(err.value)


def test_columns_the_codebook_declares_are_reserved_too():
    raw = broken(lambda r: r.update(background={"school_type": {}}, voice={"id": "comment"}))
    raw["domains"][1]["id"] = "comment"
    for item in raw["items"][3:]:
        item["domain"] = "comment"
    with pytest.raises(CodebookError, match="background column 'comment'"):
        parse_codebook(raw)
    raw["domains"][1]["id"] = "school_type"
    for item in raw["items"][3:]:
        item["domain"] = "school_type"
    with pytest.raises(CodebookError, match="background column 'school_type'"):
        parse_codebook(raw)


def test_reserved_names_cover_every_required_column():
    from research_lib.io.codebook import RESERVED_COLUMNS
    from research_lib.io.surveys import REQUIRED_COLUMNS

    assert set(REQUIRED_COLUMNS) | {"voice", "weight"} <= RESERVED_COLUMNS


def test_shipped_codebook_declares_only_reserved_or_known_columns(qol_codebook):
    """The shipped instrument passes its own clash checks (its background keys are reserved)."""
    assert not set(qol_codebook.item_ids) & set(qol_codebook.extra["background"])
