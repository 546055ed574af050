"""The one vocabulary: aliases land on canonical codes, look-ups are case-blind, frequencies are checked."""

from __future__ import annotations

import pandas as pd
import pytest

from research_lib.errors import InputError
from research_lib.io.vocab import (
    AGE_BAND_EDGES,
    CHILD_AGE_BANDS,
    EXIT_ALIASES,
    EXIT_REASONS,
    FORMAL_CARE,
    FREQUENCIES,
    PERIOD_MONTHS,
    PLACEMENT_ALIASES,
    PLACEMENT_TYPES,
    SEX_ALIASES,
    as_text,
    canonical_codes,
    frequency_code,
)


def test_every_alias_lands_on_a_canonical_code():
    assert set(PLACEMENT_ALIASES.values()) <= set(PLACEMENT_TYPES)
    assert set(EXIT_ALIASES.values()) <= set(EXIT_REASONS)
    assert set(SEX_ALIASES.values()) <= {"f", "m"}
    assert set(FORMAL_CARE) <= set(PLACEMENT_TYPES)
    assert len(AGE_BAND_EDGES) == len(CHILD_AGE_BANDS) + 1
    assert set(FREQUENCIES) == set(PERIOD_MONTHS)


def test_canonical_codes_are_case_blind_and_strip_space():
    values = pd.Series(["Foster", " foster ", "", None, "no such type"])
    assert canonical_codes(values, PLACEMENT_ALIASES).tolist()[:2] == ["foster", "foster"]
    assert canonical_codes(values, PLACEMENT_ALIASES).iloc[2:].isna().all()


def test_as_text_is_stripped_with_empty_as_missing():
    out = as_text(pd.Series([" a ", "", None]))
    assert out.iloc[0] == "a" and out.iloc[1:].isna().all()


@pytest.mark.parametrize(("freq", "code"), [("MS", "M"), ("monthly", "M"), ("q", "Q"), ("A", "Y")])
def test_frequency_spellings(freq, code):
    assert frequency_code(freq)[1] == code


def test_unknown_frequency_says_what_is_accepted():
    with pytest.raises(InputError, match="'MS'"):
        frequency_code("W")
