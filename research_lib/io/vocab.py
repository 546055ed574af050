"""Canonical codes and the spellings accepted for them on input.

One table per coded background variable. Input matching ignores case and
surrounding space; anything not listed is rejected, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = [
    "PLACEMENT_TYPES",
    "PLACEMENT_ALIASES",
    "SEX_ALIASES",
    "as_text",
    "map_distinct",
    "canonical_codes",
]

#: Canonical placement types, in the order tables and plots show them.
PLACEMENT_TYPES: tuple[str, ...] = ("family", "kinship", "foster", "cnst", "institution")

PLACEMENT_ALIASES: dict[str, str] = {
    **{code: code for code in PLACEMENT_TYPES},
    "семейство": "family",
    "в семейството": "family",
    "собствено семейство": "family",
    "биологично семейство": "family",
    "own family": "family",
    "birth family": "family",
    "kinship care": "kinship",
    "при близки и роднини": "kinship",
    "близки и роднини": "kinship",
    "роднини": "kinship",
    "роднинска грижа": "kinship",
    "foster care": "foster",
    "приемна грижа": "foster",
    "приемно семейство": "foster",
    "цнст": "cnst",
    "център за настаняване от семеен тип": "cnst",
    "family-type placement centre": "cnst",
    "family-type placement center": "cnst",
    "институция": "institution",
    "специализирана институция": "institution",
    "institutional care": "institution",
    "residential institution": "institution",
}

SEX_ALIASES: dict[str, str] = {
    "f": "f",
    "m": "m",
    "ж": "f",
    "м": "m",
    "female": "f",
    "male": "m",
    "girl": "f",
    "boy": "m",
    "жена": "f",
    "мъж": "m",
    "женски": "f",
    "мъжки": "m",
    "момиче": "f",
    "момче": "m",
}


def as_text(values: pd.Series) -> pd.Series:
    """A column as Arrow-backed text, stripped, with empty strings as missing.

    Arrow-backed strings keep the string operations vectorised (100x faster
    than Python-object strings on 100,000 rows).
    """
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        values = values.astype(pd.StringDtype("pyarrow"))
    text = values.str.strip()
    return text.mask(text == "")


def map_distinct(values: pd.Series, lookup: Callable[[str], str | None]) -> pd.Series:
    """Map each distinct text value through ``lookup``; missing or unmatched become ``<NA>``.

    Values are stripped of surrounding space before the look-up; an empty value
    is missing. Only the distinct values are cleaned and looked up (a
    placement-type column of 100,000 rows has a handful), then the result is
    spread back by position.
    """
    codes, uniques = pd.factorize(values)
    cleaned = (str(u).strip() for u in uniques)
    mapped = np.array([lookup(c) if c else None for c in cleaned] + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype="string")


def canonical_codes(values: pd.Series, aliases: dict[str, str]) -> pd.Series:
    """Map a column through an alias table (case-insensitive); unmatched or empty become ``<NA>``."""
    return map_distinct(values, lambda v: aliases.get(v.lower()))
