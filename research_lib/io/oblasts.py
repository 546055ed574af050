"""The 28 oblasts of Bulgaria: reference table and name matching.

Every oblast is identified by its NUTS-3 code (``BG311`` … ``BG425``). Input may
name an oblast by code, ASCII slug, English or Bulgarian name, in any case, with
or without the word "област" / "oblast" / "province", or by a listed alias
("София-град"). :func:`resolve_oblast` turns one name into a code and raises an
:class:`~research_lib.errors.InputError` listing the accepted names otherwise;
:func:`match_oblasts` does the same for a whole column without raising.

Examples
--------
>>> resolve_oblast("област Пловдив")
'BG421'
>>> resolve_oblast("sofia-city")
'BG411'
>>> oblast_slug("BG411")
'sofia-city'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import pandas as pd

from research_lib.errors import InputError
from research_lib.io.vocab import map_distinct
from research_lib.paths import REFERENCE_DIR

__all__ = [
    "NATIONAL",
    "load_oblasts",
    "resolve_oblast",
    "match_oblasts",
    "oblast_slug",
    "oblast_name",
    "resolve_scope",
    "expand_oblast",
]

#: The value that means "the whole country" where a parameter takes an oblast.
NATIONAL = "all"

_FILLER = re.compile(r"\b(област|обл\.|oblast|province|region)\b", re.IGNORECASE)


def _key(text: str) -> str:
    """Normalise a name for matching: case, the word 'oblast', punctuation, spaces."""
    text = _FILLER.sub(" ", str(text).strip().lower())
    text = text.replace("ё", "е")
    text = re.sub(r"[\s_\-–.,]+", " ", text)
    return text.strip()


@cache
def load_oblasts() -> pd.DataFrame:
    """The oblast reference table, indexed by NUTS-3 code.

    Returns
    -------
    pandas.DataFrame
        Columns ``name_bg, name_en, slug, nuts2, aliases``; 28 rows.
    """
    table = pd.read_csv(REFERENCE_DIR / "oblasts.csv", dtype=str, keep_default_na=False)
    return table.set_index("nuts3")


@cache
def _lookup() -> dict[str, str]:
    table = load_oblasts()
    lookup: dict[str, str] = {}
    for code, row in table.iterrows():
        names = [code, row["slug"], row["name_bg"], row["name_en"]]
        names += [a for a in row["aliases"].split("|") if a]
        for name in names:
            lookup[_key(name)] = str(code)
    return lookup


def _accepted() -> str:
    table = load_oblasts()
    return ", ".join(f"{code} ({row.name_bg} / {row.slug})" for code, row in table.iterrows())


def resolve_oblast(name: str) -> str:
    """Return the NUTS-3 code of the oblast ``name`` names.

    Parameters
    ----------
    name : str
        A NUTS-3 code, slug, English or Bulgarian name, with or without "област".

    Raises
    ------
    InputError
        When the name matches no oblast; the message lists the accepted names.
    """
    code = _lookup().get(_key(name))
    if code is None:
        raise InputError(f"unknown oblast {name!r}. Accepted: {_accepted()}.")
    return code


def resolve_scope(name: str) -> str:
    """Like :func:`resolve_oblast`, but also accepts ``"all"`` (the whole country)."""
    if _key(name) in {"all", "national", "bulgaria", "всички", "страната", "българия"}:
        return NATIONAL
    return resolve_oblast(name)


def match_oblasts(values: pd.Series) -> pd.Series:
    """Map a column of oblast names to NUTS-3 codes; unknown names become ``<NA>``.

    Vectorised over the distinct values, so a 100,000-row column costs 28 look-ups.
    """
    lookup = _lookup()
    return map_distinct(values, lambda v: lookup.get(_key(v)))


def oblast_slug(code: str) -> str:
    """The ASCII slug of an oblast code, or ``"all"`` for the national scope."""
    if code == NATIONAL:
        return NATIONAL
    return str(load_oblasts().loc[resolve_oblast(code), "slug"])


def oblast_name(code: str, language: str = "bg") -> str:
    """The oblast's name in ``language`` (``bg`` or ``en``); the national scope reads 'България'."""
    if code == NATIONAL:
        return "България" if language == "bg" else "Bulgaria"
    column = "name_bg" if language == "bg" else "name_en"
    return str(load_oblasts().loc[resolve_oblast(code), column])


def expand_oblast(params: Mapping[str, Any], slug: str) -> dict[str, Any]:
    """Parameter values with ``{oblast}`` replaced by the run's oblast slug.

    Only text values change; others are kept as they are. The runner uses it on
    a study's parameters, the brief on the paths of the studies it reads.

    Examples
    --------
    >>> expand_oblast({"qol": "reports/qol/{oblast}/published.csv", "most": 6}, "varna")
    {'qol': 'reports/qol/varna/published.csv', 'most': 6}
    """
    return {
        name: value.replace("{oblast}", slug) if isinstance(value, str) else value
        for name, value in params.items()
    }
