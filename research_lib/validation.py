"""Validate children's survey responses against a codebook without losing a row.

:func:`load_responses` reads a file in any supported format
(:mod:`research_lib.readers`) and :func:`validate_responses` checks it. Every row of
the file ends up either in ``LoadResult.valid`` (canonical codes) or in
``LoadResult.rejected`` (one line per problem, with the spreadsheet row number,
the column, the value as written and the problem in words)::

    len(result.valid) + result.rejected.row.nunique() == rows in the file

Nothing is silently dropped or coerced. The rules:

* ``respondent_id``, ``service_id``, ``wave``, ``age``, ``placement_type`` and
  ``oblast`` must not be empty; a second row with the same ``respondent_id`` is
  rejected (the first is kept);
* ``wave`` is a year (``2024``) or a year and a round within it (``2024-1``,
  ``2024-2``; ``2024-01`` is read as ``2024-1``), years 1990-2099; anything
  else is rejected. Waves are ordered by time with :func:`wave_order`, never as
  text, so a stray ``2025b`` can never become the "latest" wave;
* no column other than the items may be named like a domain or a
  ``low_<domain>`` flag of the codebook (the scores would collide with it): the
  file is refused, naming both;
* ``placement_type`` is one of ``family, kinship, foster, cnst, institution`` or a
  Bulgarian label ("ЦНСТ", "приемна грижа", ...); ``oblast`` is any name
  :func:`research_lib.regions.resolve_oblast` accepts;
* ``age`` is a number from 5 to 25; ``sex`` is f / m / empty (ж / м accepted);
* an item answer is a whole number on its scale, a missing code, or empty; text in
  an item column is rejected, never read as missing;
* an optional ``weight`` column must hold positive numbers;
* a line with the wrong number of fields is rejected by the reader.

The checks are vectorised (one pass per column, one numpy pass over all items),
so 100,000 children x 60 items validate in well under a second.

Examples
--------
>>> from research_lib import load_codebook, load_responses
>>> from research_lib.paths import DEMO_DIR, SURVEYS_DIR
>>> book = load_codebook(SURVEYS_DIR / "qol-child-v1.yaml")
>>> result = load_responses(DEMO_DIR / "survey.csv", book)  # doctest: +SKIP
>>> print(result.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.codebook import Codebook
from research_lib.errors import InputError
from research_lib.readers import read_table
from research_lib.regions import load_oblasts, match_oblasts
from research_lib.rejections import (
    REJECTED_COLUMNS,
    LoadResult,
    as_written,
    empty_rejected,
    is_empty,
    placement_and_oblast_problems,
    rejected_lines,
    with_row_index,
    with_value_labels,
)
from research_lib.vocab import (
    PLACEMENT_ALIASES,
    PLACEMENT_TYPES,
    SEX_ALIASES,
    as_text,
    canonical_codes,
)

__all__ = [
    "REQUIRED_COLUMNS",
    "AGE_RANGE",
    "LoadResult",
    "load_responses",
    "validate_responses",
    "valid_schema",
    "REJECTED_COLUMNS",
    "WAVE_YEARS",
    "canonical_wave",
    "wave_key",
    "wave_order",
    "latest_wave",
]

#: Background columns every survey file must have.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "respondent_id",
    "service_id",
    "placement_type",
    "oblast",
    "age",
    "sex",
    "wave",
)
#: Accepted ages (inclusive): children 8-17 answer, but care leavers and younger
#: children read to by an adult are within reach of a survey.
AGE_RANGE: tuple[int, int] = (5, 25)
#: Accepted wave years (inclusive).
WAVE_YEARS: tuple[int, int] = (1990, 2099)
_WAVE = re.compile(r"(\d{4})(?:-(\d{1,2}))?")
_WAVE_HELP = "write the wave as a year (2024) or a year and the round within it (2024-1, 2024-2)"


def canonical_wave(value: object) -> str | None:
    """The wave in its canonical spelling, or None when ``value`` is not a wave.

    A wave is a year (``"2024"``) or a year and a round within it (``"2024-1"``);
    a round's leading zero is dropped (``"2024-02"`` -> ``"2024-2"``). Whole
    numbers (``2024``, ``2024.0`` from a spreadsheet or SPSS) are years.

    >>> canonical_wave(" 2024-02"), canonical_wave(2025.0), canonical_wave("2025b")
    ('2024-2', '2025', None)
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        if not np.isfinite(value) or float(value) != int(value):
            return None
        value = str(int(value))
    match = _WAVE.fullmatch(str(value).strip())
    if match is None:
        return None
    year, part = int(match[1]), match[2]
    if not WAVE_YEARS[0] <= year <= WAVE_YEARS[1] or (part is not None and int(part) < 1):
        return None
    return f"{year}" if part is None else f"{year}-{int(part)}"


def wave_key(wave: object) -> tuple[int, int]:
    """Sort key of a wave: ``(year, round)``, a plain year before its rounds.

    Raises
    ------
    InputError
        When ``wave`` is not a wave (see :func:`canonical_wave`).
    """
    canonical = canonical_wave(wave)
    if canonical is None:
        raise InputError(f"wave {str(wave)[:40]!r} is not a wave; {_WAVE_HELP}.")
    year, _, part = canonical.partition("-")
    return int(year), int(part or 0)


def wave_order(waves: Iterable[object]) -> list[str]:
    """The distinct waves in canonical spelling, earliest first (by time, not as text).

    >>> wave_order(["2025", "2024-2", "2024-10", "2024-1", "2025"])
    ['2024-1', '2024-2', '2024-10', '2025']

    Raises
    ------
    InputError
        When a value is not a wave; validated data (``LoadResult.valid``) has only waves.
    """
    distinct = {canonical_wave(w) or str(w) for w in waves if not pd.isna(w)}
    return sorted(distinct, key=wave_key)


def latest_wave(waves: Iterable[object]) -> str:
    """The latest of ``waves`` (see :func:`wave_order`).

    Raises
    ------
    InputError
        When there is no wave, or a value is not a wave.
    """
    ordered = wave_order(waves)
    if not ordered:
        raise InputError("there is no wave to choose from; the data have no valid rows.")
    return ordered[-1]


def load_responses(path: str | Path, codebook: Codebook) -> LoadResult:
    """Read a survey file and validate it against ``codebook``.

    Parameters
    ----------
    path : str or Path
        CSV (UTF-8, UTF-8 with BOM or Windows-1251; comma, semicolon or tab),
        XLSX, SPSS ``.sav`` or a KoboToolbox / ODK export ("XML values" or
        "labels", see :func:`research_lib.fielding.kobo.normalise_export`).
    codebook : Codebook
        The instrument the file was collected with.

    Returns
    -------
    LoadResult

    Raises
    ------
    InputError
        When the file cannot be read as a whole or lacks a required or item
        column; the message names the file and says how to fix it.
    """
    numeric = [*codebook.item_ids, "age", "weight"]
    raw = read_table(path, numeric_columns=numeric)
    from research_lib.fielding.kobo import normalise_export  # Kobo labels, declined assent

    raw = normalise_export(raw, codebook)
    return validate_responses(
        raw.data,
        codebook,
        **raw.context,
    )


def validate_responses(
    data: pd.DataFrame,
    codebook: Codebook,
    *,
    malformed: pd.DataFrame | None = None,
    source: Path | None = None,
    format: str = "frame",
    metadata: pd.DataFrame | None = None,
    value_labels: Mapping[str, Mapping] | None = None,
) -> LoadResult:
    """Check a table of responses already read into a DataFrame.

    ``data`` is indexed by spreadsheet row number (a plain RangeIndex is read as
    rows 2, 3, ... under a header). Item columns may be numbers or text;
    background columns may be text or, with ``value_labels``, SPSS codes.
    """
    name = source.name if source is not None else "data"
    data = with_row_index(data)
    _check_columns(data, codebook, name)
    value_labels = dict(value_labels or {})
    malformed = malformed if malformed is not None else empty_rejected()

    texts = _background_text(data, value_labels)
    background = _canonical_background(data, texts)
    problems = [malformed, *_background_problems(data, texts, background)]
    converted, item_problems = _check_items(data, codebook)
    problems.append(item_problems)
    weight, weight_problems = _check_weight(data)
    problems.append(weight_problems)

    rejected = pd.concat([p for p in problems if len(p)] or [empty_rejected()], ignore_index=True)
    rejected = (
        rejected.astype({"row": "int64"}).sort_values(["row"], kind="stable").reset_index(drop=True)
    )
    bad_rows = set(rejected["row"].unique())

    with pd.option_context("mode.copy_on_write", True):  # select and join without copying
        rest = data.drop(columns=[*background.columns, *(["weight"] if weight is not None else [])])
        for column, values in converted.items():
            rest[column] = values
        parts = (
            [background, rest] if weight is None else [background, weight.rename("weight"), rest]
        )
        valid = pd.concat(parts, axis=1)
        if bad_rows:
            valid = valid.loc[~valid.index.isin(bad_rows)]
    n_rows = len(data) + int(malformed["row"].nunique()) if len(malformed) else len(data)
    return LoadResult(
        valid=valid,
        rejected=rejected[list(REJECTED_COLUMNS)],
        n_rows=n_rows,
        source=source,
        format=format,
        metadata=metadata if metadata is not None else pd.DataFrame(index=data.index),
        value_labels=value_labels,
    )


# ----------------------------------------------------------------------------- helpers


def _check_columns(data: pd.DataFrame, codebook: Codebook, name: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in data.columns]
    if missing:
        raise InputError(
            f"{name}: required column(s) missing: {', '.join(missing)}. The file has: "
            f"{', '.join(map(str, data.columns[:20]))}{' …' if len(data.columns) > 20 else ''}. "
            f"Add or rename them; every survey file needs {', '.join(REQUIRED_COLUMNS)}."
        )
    scores = {d: f"domain {d!r}" for d in codebook.domain_ids}
    scores |= {f"low_{d}": f"the low-score flag of domain {d!r}" for d in codebook.domain_ids}
    items = set(codebook.item_ids)
    clashes = [
        f"column {c!r} has the name of {scores[c]}"
        for c in data.columns
        if c in scores and c not in items
    ]
    if clashes:
        raise InputError(
            f"{name}: {'; '.join(clashes)} in codebook {codebook.instrument!r}; the scores "
            "would collide with it. Rename or remove the column in the file."
        )
    absent = [c for c in codebook.item_ids if c not in data.columns]
    if absent:
        raise InputError(
            f"{name}: {len(absent)} item column(s) of codebook {codebook.instrument!r} are missing: "
            f"{', '.join(absent[:10])}{' …' if len(absent) > 10 else ''}. "
            "Check that the file and the codebook belong to the same instrument, or rename the columns."
        )


_TEXT_COLUMNS = ("respondent_id", "service_id", "placement_type", "oblast", "sex", "wave")


def _background_text(
    data: pd.DataFrame, value_labels: Mapping[str, Mapping]
) -> dict[str, pd.Series]:
    """The coded background columns as stripped text (SPSS codes replaced by labels), once."""
    texts = {}
    for c in _TEXT_COLUMNS:
        values = with_value_labels(data[c], value_labels.get(c))
        if c == "wave" and pd.api.types.is_numeric_dtype(values.dtype):
            # a year stored as a number (SPSS, a spreadsheet cell): 2024.0 reads "2024"
            values = values.map(as_written)
        texts[c] = as_text(values)
    return texts


def _canonical_waves(texts: pd.Series) -> pd.Series:
    """Waves in canonical spelling (``<NA>`` for what is not a wave), distinct values once."""
    codes, uniques = pd.factorize(texts)
    mapped = np.array([canonical_wave(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=texts.index, dtype=texts.dtype)


def _canonical_background(data: pd.DataFrame, texts: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Background columns in canonical codes; what cannot be mapped is ``<NA>``."""
    placement = canonical_codes(texts["placement_type"], PLACEMENT_ALIASES)
    return pd.DataFrame(
        {
            "respondent_id": texts["respondent_id"],
            "service_id": texts["service_id"],
            "placement_type": _as_categorical(placement, PLACEMENT_TYPES),
            "oblast": match_oblasts(texts["oblast"]),
            "age": pd.to_numeric(data["age"], errors="coerce").astype("float64"),
            "sex": canonical_codes(texts["sex"], SEX_ALIASES),
            "wave": _canonical_waves(texts["wave"]),
        },
        index=data.index,
    )


def _as_categorical(codes: pd.Series, categories: tuple[str, ...]) -> pd.Categorical:
    """Canonical text codes as a categorical in a fixed order (``<NA>`` stays missing)."""
    position = {c: i for i, c in enumerate(categories)}
    index, uniques = pd.factorize(codes)
    lookup = np.array([position[u] for u in uniques] + [-1], dtype=np.int64)
    return pd.Categorical.from_codes(lookup[index], categories=list(categories))


def _background_problems(
    data: pd.DataFrame, texts: Mapping[str, pd.Series], canon: pd.DataFrame
) -> Iterable[pd.DataFrame]:
    empty = {c: texts[c].isna() for c in _TEXT_COLUMNS}
    empty["age"] = is_empty(data["age"])
    for column in ("respondent_id", "service_id", "wave"):
        yield rejected_lines(
            empty[column], column, data[column], f"{column} is empty; every row needs one"
        )

    yield rejected_lines(
        ~empty["wave"] & canon["wave"].isna(),
        "wave",
        data["wave"],
        f"not a wave; {_WAVE_HELP}, years {WAVE_YEARS[0]}-{WAVE_YEARS[1]}",
    )

    ids = canon["respondent_id"]
    # the common case, every id distinct, is checked at half the cost of finding the repeats
    repeated = (
        pd.Series(False, index=ids.index)
        if ids.dropna().is_unique
        else ids.notna() & ids.duplicated(keep="first")
    )
    if repeated.any():
        first_row = pd.Series(ids.index, index=ids.index).groupby(ids).transform("min")
        problem = (
            "a second row with this respondent_id; keep one row per child (first in row "
            + first_row.astype(str)
            + ")"
        )
        yield rejected_lines(repeated, "respondent_id", data["respondent_id"], problem)

    yield from placement_and_oblast_problems(data, canon, empty)

    age_text = ~empty["age"] & canon["age"].isna()
    low, high = AGE_RANGE
    yield rejected_lines(empty["age"], "age", data["age"], "age is empty")
    yield rejected_lines(
        age_text, "age", data["age"], "age is not a number; write the age in whole years"
    )
    yield rejected_lines(
        ~canon["age"].between(low, high) & canon["age"].notna(),
        "age",
        data["age"],
        f"age is outside {low}-{high}",
    )

    sex_given = ~empty["sex"]
    yield rejected_lines(
        sex_given & canon["sex"].isna(),
        "sex",
        data["sex"],
        "unknown sex code; use f or m (ж or м) or leave it empty",
    )


def _check_items(
    data: pd.DataFrame, codebook: Codebook
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Problems in the item answers, and the text item columns converted to numbers.

    One pass per item column on its contiguous array: faster than one pass over
    a stacked matrix, which does not fit in the CPU cache.
    """
    codes = ", ".join(map(str, codebook.missing_codes)) or "none"
    rows = data.index.to_numpy()
    converted: dict[str, np.ndarray] = {}
    pieces = []
    for item in codebook.items:
        scale = codebook.scales[item.scale]
        raw = data[item.id]
        if pd.api.types.is_numeric_dtype(raw.dtype):
            values = raw.to_numpy(dtype="float64", na_value=np.nan)
            is_text = None
            if raw.dtype != np.float64:  # integers or nullable numbers: answers are float codes
                converted[item.id] = values
        else:
            text = as_text(raw)
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            is_text = text.notna().to_numpy() & np.isnan(values)
            converted[item.id] = values
        off_scale = ~_answer_allowed(values, scale.min, scale.max, codebook.missing_codes)
        if is_text is not None:
            off_scale &= ~is_text
        for mask, problem in (
            (
                is_text,
                f"text in an item column; answers are whole numbers {scale.min}…{scale.max} "
                f"or a missing code ({codes})",
            ),
            (
                off_scale,
                f"answer outside the scale {scale.min}…{scale.max} and not a missing code ({codes})",
            ),
        ):
            if mask is not None and mask.any():
                where = np.flatnonzero(mask)
                pieces.append(
                    pd.DataFrame(
                        {
                            "row": rows[where],
                            "column": item.id,
                            "value": [as_written(v) for v in raw.iloc[where]],
                            "problem": problem,
                        }
                    )
                )
    problems = pd.concat(pieces, ignore_index=True) if pieces else empty_rejected()
    return converted, problems


def _answer_allowed(
    values: np.ndarray, low: int, high: int, missing_codes: Iterable[int]
) -> np.ndarray:
    """True where an answer is empty, a whole number on the scale, or a missing code."""
    with np.errstate(invalid="ignore"):
        allowed = (values >= low) & (values <= high) & (values == np.floor(values))
    allowed |= np.isnan(values)
    for code in missing_codes:
        allowed |= values == code
    return allowed


def _check_weight(data: pd.DataFrame) -> tuple[pd.Series | None, pd.DataFrame]:
    if "weight" not in data.columns:
        return None, empty_rejected()
    weight = pd.to_numeric(data["weight"], errors="coerce")
    given = ~is_empty(data["weight"])
    bad = given & ~(weight > 0)
    return weight, rejected_lines(
        bad, "weight", data["weight"], "weight must be a positive number (or empty)"
    )


def valid_schema(codebook: Codebook):  # noqa: ANN201 - pandera type is optional at import time
    """The contract of ``LoadResult.valid`` as a pandera schema.

    Useful to check a table built elsewhere (a merge, a subset) still satisfies
    what the analyses assume: canonical placement types and oblasts, ages in
    range, one row per respondent, answers on their scale or missing codes.
    """
    import pandera.pandas as pa

    allowed = {
        name: [float(v) for v in range(s.min, s.max + 1)]
        + [float(c) for c in codebook.missing_codes]
        for name, s in codebook.scales.items()
    }
    columns = {
        "respondent_id": pa.Column(str, nullable=False, unique=True),
        "service_id": pa.Column(str, nullable=False),
        "placement_type": pa.Column(checks=pa.Check.isin(PLACEMENT_TYPES), nullable=False),
        "oblast": pa.Column(checks=pa.Check.isin(list(load_oblasts().index)), nullable=False),
        "age": pa.Column(float, pa.Check.in_range(*AGE_RANGE), nullable=False),
        "sex": pa.Column(checks=pa.Check.isin(["f", "m"]), nullable=True),
        "wave": pa.Column(str, nullable=False),
    }
    for item in codebook.items:
        columns[item.id] = pa.Column(float, pa.Check.isin(allowed[item.scale]), nullable=True)
    return pa.DataFrameSchema(columns, strict=False, coerce=False)
