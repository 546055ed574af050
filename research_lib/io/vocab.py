"""Canonical codes and the spellings accepted for them on input.

One table per coded background variable. Input matching ignores case and
surrounding space; anything not listed is rejected, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from research_lib.errors import InputError

__all__ = [
    "PLACEMENT_TYPES",
    "PLACEMENT_ALIASES",
    "SEX_ALIASES",
    "as_text",
    "map_distinct",
    "canonical_codes",
    "EXIT_REASONS",
    "EXIT_ALIASES",
    "AGE_BANDS",
    "AGE_BAND_EDGES",
    "CHILD_AGE_BAND",
    "COUNT_COLUMNS",
    "FREQUENCIES",
    "frequency_code",
    "PERIOD_MONTHS",
    "STOCK_COLUMNS",
    "FLOW_COLUMNS",
    "CHILD_AGE_BANDS",
    "POPULATION_AGE_BANDS",
    "FAMILY_BASED",
    "RESIDENTIAL",
    "FORMAL_CARE",
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


#: Canonical exit reasons; ``foster``, ``kinship`` and ``cnst`` are transfers to that care.
EXIT_REASONS: tuple[str, ...] = (
    "reunified",
    "adopted",
    "foster",
    "kinship",
    "cnst",
    "aged_out",
    "other",
)


EXIT_ALIASES: dict[str, str] = {
    **{code: code for code in EXIT_REASONS},
    "reunification": "reunified",
    "reintegration": "reunified",
    "reintegrated": "reunified",
    "returned home": "reunified",
    "returned to family": "reunified",
    "реинтеграция": "reunified",
    "реинтегрирано": "reunified",
    "реинтегриран": "reunified",
    "реинтегрирана": "reunified",
    "върнато в семейството": "reunified",
    "върнат в семейството": "reunified",
    "върната в семейството": "reunified",
    "връщане в семейството": "reunified",
    "adoption": "adopted",
    "осиновяване": "adopted",
    "осиновено": "adopted",
    "осиновен": "adopted",
    "осиновена": "adopted",
    "foster care": "foster",
    "приемна грижа": "foster",
    "приемно семейство": "foster",
    "настаняване в приемно семейство": "foster",
    "kinship care": "kinship",
    "при близки и роднини": "kinship",
    "близки и роднини": "kinship",
    "роднини": "kinship",
    "настаняване при близки и роднини": "kinship",
    "цнст": "cnst",
    "център за настаняване от семеен тип": "cnst",
    "настаняване в цнст": "cnst",
    "aged out": "aged_out",
    "aged-out": "aged_out",
    "ageing out": "aged_out",
    "навършване на пълнолетие": "aged_out",
    "навършено пълнолетие": "aged_out",
    "пълнолетие": "aged_out",
    "друго": "other",
    "друга причина": "other",
    "other reason": "other",
}


#: Age bands at entry (completed years at ``start_date``); "18+" only occurs for
#: young people placed at 18-20 (e.g. in a ЦНСТ for young people).
#: Child age bands (completed years): the bands of entries and of population tables.
CHILD_AGE_BANDS: tuple[str, ...] = ("0-3", "4-6", "7-17")
AGE_BANDS: tuple[str, ...] = (*CHILD_AGE_BANDS, "18+")


AGE_BAND_EDGES = (0, 4, 7, 18)


#: The band of all children (0-17), the denominator of rates without an age band.
CHILD_AGE_BAND = "0-17"
#: Age bands a population table may have: the three child bands and their total.
POPULATION_AGE_BANDS: tuple[str, ...] = (*CHILD_AGE_BANDS, CHILD_AGE_BAND)

#: Family-based care and residential care; together, formal care.
FAMILY_BASED: tuple[str, ...] = ("foster", "kinship")
RESIDENTIAL: tuple[str, ...] = ("cnst", "institution")
FORMAL_CARE: tuple[str, ...] = FAMILY_BASED + RESIDENTIAL


#: Count columns of the series layout.
COUNT_COLUMNS: tuple[str, ...] = ("entries", "exits", "in_care_end")


#: Period frequencies: pandas start-anchored aliases and the pandas period code behind each.
FREQUENCIES: dict[str, str] = {"MS": "M", "QS": "Q", "YS": "Y"}


_FREQ_ALIASES = {
    "ms": "MS",
    "m": "MS",
    "month": "MS",
    "monthly": "MS",
    "qs": "QS",
    "qs-jan": "QS",
    "q": "QS",
    "quarter": "QS",
    "quarterly": "QS",
    "ys": "YS",
    "ys-jan": "YS",
    "as": "YS",
    "y": "YS",
    "a": "YS",
    "year": "YS",
    "yearly": "YS",
    "annual": "YS",
}


def frequency_code(freq: str) -> tuple[str, str]:
    """(canonical alias, pandas period code) of a frequency such as ``"MS"``."""
    alias = _FREQ_ALIASES.get(str(freq).strip().lower())
    if alias is None:
        raise InputError(
            f"freq={freq!r} is not supported; use 'MS' (months), 'QS' (quarters) or 'YS' (years)."
        )
    return alias, FREQUENCIES[alias]


#: Months a period of each kind covers.
PERIOD_MONTHS: dict[str, int] = {"YS": 12, "QS": 3, "MS": 1}


#: Stocks and flows of the series layout.
STOCK_COLUMNS: tuple[str, ...] = ("in_care_end",)


FLOW_COLUMNS: tuple[str, ...] = ("entries", "exits")
