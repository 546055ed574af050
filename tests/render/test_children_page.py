"""The children's page: short, from shown figures only, no numbers from small groups."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from research_lib.render.children_page import children_page_html, children_summary


def published(rows):
    frame = pd.DataFrame(
        rows, columns=["table", "group", "measure", "n", "value", "ci_low", "ci_high", "suppressed"]
    )
    return frame


BASE = [
    ("sample", "all", "children", 400, 400, np.nan, np.nan, False),
    ("means_by_placement_type", "all", "homeliness", 400, 60.0, 58, 62, False),
    ("means_by_placement_type", "all", "friends_leisure", 400, 72.0, 70, 74, False),
    ("means_by_placement_type", "all", "participation", 400, 55.0, 53, 57, False),
    ("difference_vs_reference", "cnst", "participation", 120, -9.0, -13, -5, False),
    ("difference_vs_reference", "cnst", "homeliness", 120, -2.0, -6, 2, False),
    ("difference_vs_reference", "institution", "homeliness", np.nan, np.nan, np.nan, np.nan, True),
]


def test_shortfalls_come_only_from_clear_shown_differences(qol_codebook):
    summary = children_summary(published(BASE), qol_codebook, "bg")
    assert summary.better == [
        "Децата, които живеят в ЦНСТ, по-рядко казват, че възрастните ги питат какво мислят."
    ]
    assert summary.asks[0].startswith("Да питат децата какво мислят")
    assert "приятели" in summary.good[0]  # highest mean first
    # the suppressed institution difference and the unclear ЦНСТ one are not mentioned
    assert not any("институция" in s for s in summary.better)
    assert len(summary.better) == 1


def test_without_clear_differences_the_lowest_domains_are_named(qol_codebook):
    rows = [r for r in BASE if r[0] != "difference_vs_reference"]
    summary = children_summary(published(rows), qol_codebook, "en")
    assert summary.better[0].startswith("Some children are not happy")


def test_page_has_no_numbers_but_the_protected_total(qol_codebook):
    page = children_page_html(children_summary(published(BASE), qol_codebook, "bg"))
    visible = re.sub(r"<[^>]+>", " ", page.split("<body>")[1])
    numbers = set(re.findall(r"\d[\d\u00a0 ]*", visible))
    assert {n.strip() for n in numbers} <= {"400", "18", "116 111"}
    assert 'lang="bg"' in page and "116 111" in page


def test_suppressed_total_is_not_shown(qol_codebook):
    rows = [("sample", "all", "children", np.nan, np.nan, np.nan, np.nan, True), *BASE[1:]]
    summary = children_summary(published(rows), qol_codebook, "bg")
    assert summary.n_children is None
    assert "Отговориха" not in children_page_html(summary)


# ----------------------------------------------------------------------------- association, not effect

#: Words that would read a cross-sectional difference as what a placement does to a child.
CAUSAL = re.compile(r"ефект|причин|предизвик|\bводи до|\beffect|\bcaus|\bleads? to", re.IGNORECASE)
ADJUSTED = [
    ("adjusted_for", "all", "age", 400, 1.0, np.nan, np.nan, False),
    ("adjusted_for", "all", "sex", 400, 1.0, np.nan, np.nan, False),
]


def page_text(rows, qol_codebook, language):
    page = children_page_html(children_summary(published(rows), qol_codebook, language))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.split("<body>")[1]))


def test_page_names_what_the_comparison_took_into_account(qol_codebook):
    """Issue 10 item 7: read from the published adjusted_for rows (age and sex here)."""
    bg = page_text(BASE + ADJUSTED, qol_codebook, "bg")
    assert "взехме предвид колко са големи и дали са момичета или момчета" in bg
    assert "Не знаем дали тези разлики са заради самото място" in bg
    en = page_text(BASE + ADJUSTED, qol_codebook, "en")
    assert "took into account how old they are and whether they are girls or boys" in en
    # without adjusted_for rows nothing is claimed about the adjustment, the caveat stays
    plain = children_summary(published(BASE), qol_codebook, "bg").compared
    assert plain and "взехме предвид" not in plain and "самото място" in plain
    # no group comparison behind the shortfalls: no comparison caveat either
    rows = [r for r in BASE + ADJUSTED if r[0] != "difference_vs_reference"]
    assert children_summary(published(rows), qol_codebook, "bg").compared is None


@pytest.mark.parametrize("language", ["bg", "en"])
def test_page_never_says_a_placement_causes_anything(qol_codebook, language):
    """Every sentence a child could read, for every domain and group, is free of causal words."""
    labels = Path(__file__).parents[2] / "research_lib" / "render" / "labels.yaml"
    children = yaml.safe_load(labels.read_text(encoding="utf-8"))["children"]
    for key, entry in children.items():
        assert not CAUSAL.search(entry[language]), (key, entry[language])
    assert not CAUSAL.search(page_text(BASE + ADJUSTED, qol_codebook, language))
