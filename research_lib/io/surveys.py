"""Validate children's survey responses against a codebook without losing a row.

:func:`load_responses` reads a file in any supported format
(:mod:`research_lib.io.readers`) and :func:`validate_responses` checks it. Every row of
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
  :func:`research_lib.io.oblasts.resolve_oblast` accepts;
* ``age`` is a number from 5 to 25; ``sex`` is f / m / empty (ж / м accepted);
* an item answer is a whole number on its scale, a missing code, or empty; text in
  an item column is rejected, never read as missing;
* an optional ``weight`` column must hold positive numbers;
* a line with the wrong number of fields is rejected by the reader.

The checks are vectorised: a coded column (placement type, oblast, sex, wave) is
factorised once and each of its distinct spellings cleaned and looked up once,
ids are checked for repeats in one pass when they are in order, and the item
columns are checked with numpy on two threads. 100,000 children x 60 items
validate in a small fraction of the time it takes to read the file
(``benchmarks/bench_load.py``).

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from research_lib.errors import InputError
from research_lib.io.codebook import Codebook, Item
from research_lib.io.loader import (
    REJECTED_COLUMNS,
    LoadResult,
    as_written,
    assemble_load_result,
    empty_rejected,
    is_empty,
    placement_and_oblast_problems,
    rejected_lines,
    with_row_index,
    with_value_labels,
)
from research_lib.io.oblasts import load_oblasts, match_oblasts
from research_lib.io.readers import read_table
from research_lib.io.vocab import (
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
        "labels", see :func:`research_lib.io.kobo.normalise_export`).
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
    from research_lib.io.kobo import normalise_export  # Kobo labels, declined assent

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

    texts = _background_text(data, value_labels)
    background, unmatched = _canonical_background(data, texts)
    problems = list(_background_problems(data, texts, background, unmatched))
    converted, item_problems = _check_items(data, codebook)
    problems.append(item_problems)
    weight, weight_problems = _check_weight(data)
    problems.append(weight_problems)

    with pd.option_context("mode.copy_on_write", True):  # select and join without copying
        rest = data.drop(columns=[*background.columns, *(["weight"] if weight is not None else [])])
        for column, values in converted.items():
            rest[column] = values
        canon = (
            background
            if weight is None
            else pd.concat([background, weight.rename("weight")], axis=1)
        )
        return assemble_load_result(
            rest,
            canon,
            problems,
            malformed=malformed,
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
_ID_COLUMNS = ("respondent_id", "service_id")  # kept as text, nearly every value distinct
_CODED_COLUMNS = ("placement_type", "oblast", "sex", "wave")  # a handful of distinct spellings


@dataclass(frozen=True)
class _Distinct:
    """A text column as positions into its distinct values, each cleaned once.

    ``uniques`` are the distinct values stripped of surrounding space (Arrow-backed
    text, as :func:`research_lib.io.vocab.as_text` gives them); ``codes`` say which one
    each row holds, ``-1`` where the cell is empty or only white space.
    """

    codes: np.ndarray
    uniques: pd.Series
    dtype: pd.api.extensions.ExtensionDtype

    @property
    def empty(self) -> np.ndarray:
        return self.codes < 0

    def spread(
        self, mapped: pd.Series | pd.api.extensions.ExtensionArray
    ) -> pd.api.extensions.ExtensionArray:
        """Per-unique results (``mapped[i]`` for ``uniques[i]``) spread back over the rows."""
        return pd.array(mapped).take(self.codes, allow_fill=True)

    def unmatched(self, mapped: pd.Series | pd.api.extensions.ExtensionArray) -> np.ndarray:
        """True where a row holds a value whose result in ``mapped`` is missing."""
        return np.append(np.asarray(pd.isna(mapped), dtype=bool), False)[self.codes]


def _distinct_text(values: pd.Series) -> _Distinct:
    """Distinct cleaned values of a column and each row's position among them.

    The same as ``as_text(values)`` followed by a factorisation, but an Arrow text
    column (what :func:`research_lib.io.readers.read_table` returns) is factorised
    first, so only its few distinct spellings are stripped.
    """
    arrow = isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"
    if not arrow:
        values = as_text(values)
    codes, uniques = pd.factorize(values)
    cleaned = as_text(pd.Series(uniques, dtype=values.dtype))
    if arrow:  # two spellings may differ only by surrounding space: merge them
        keep = cleaned.notna().to_numpy()
        recoded, cleaned_uniques = pd.factorize(cleaned)
        lookup = np.append(np.where(keep, recoded, -1), -1)
        codes = lookup[codes]
        cleaned = pd.Series(cleaned_uniques, dtype=cleaned.dtype)
    return _Distinct(
        codes=np.asarray(codes, dtype=np.intp),
        uniques=cleaned.reset_index(drop=True),
        dtype=cleaned.dtype,
    )


def _background_text(
    data: pd.DataFrame, value_labels: Mapping[str, Mapping]
) -> dict[str, pd.Series | _Distinct]:
    """The coded background columns cleaned once (SPSS codes replaced by labels).

    The id columns come back as stripped text (``<NA>`` where empty); the coded
    columns as :class:`_Distinct`, whose distinct values are mapped once each.
    """

    columns = {c: data[c] for c in _TEXT_COLUMNS}  # taken here: the threads only read them

    def clean(c: str) -> pd.Series | _Distinct:
        values = with_value_labels(columns[c], value_labels.get(c))
        if c == "wave" and pd.api.types.is_numeric_dtype(values.dtype):
            # a year stored as a number (SPSS, a spreadsheet cell): 2024.0 reads "2024"
            values = values.map(as_written)
        return as_text(values) if c in _ID_COLUMNS else _distinct_text(values)

    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow's kernels release the GIL
        return dict(zip(_TEXT_COLUMNS, pool.map(clean, _TEXT_COLUMNS), strict=True))


def _canonical_background(
    data: pd.DataFrame, texts: Mapping[str, pd.Series | _Distinct]
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Background columns in canonical codes; what cannot be mapped is ``<NA>``.

    Also returns, per coded column, where a value is given but matches nothing.
    Each distinct spelling is mapped once.
    """
    placement, oblast, sex, wave = (texts[c] for c in _CODED_COLUMNS)
    mapped = {
        "placement_type": canonical_codes(placement.uniques, PLACEMENT_ALIASES),
        "oblast": match_oblasts(oblast.uniques),
        "sex": canonical_codes(sex.uniques, SEX_ALIASES),
        "wave": pd.array([canonical_wave(u) for u in wave.uniques], dtype=wave.dtype),
    }
    frame = pd.DataFrame(
        {
            "respondent_id": texts["respondent_id"],
            "service_id": texts["service_id"],
            "placement_type": _as_categorical(placement, mapped["placement_type"], PLACEMENT_TYPES),
            "oblast": oblast.spread(mapped["oblast"]),
            "age": pd.to_numeric(data["age"], errors="coerce").astype("float64"),
            "sex": sex.spread(mapped["sex"]),
            "wave": wave.spread(mapped["wave"]),
        },
        index=data.index,
    )
    return frame, {c: texts[c].unmatched(mapped[c]) for c in _CODED_COLUMNS}


def _as_categorical(
    texts: _Distinct, codes: pd.Series, categories: tuple[str, ...]
) -> pd.Categorical:
    """Canonical text codes (one per distinct value) as a categorical in a fixed order."""
    position = {c: i for i, c in enumerate(categories)}
    lookup = np.array([-1 if pd.isna(u) else position[u] for u in codes] + [-1], dtype=np.int64)
    return pd.Categorical.from_codes(lookup[texts.codes], categories=list(categories))


def _all_distinct(ids: pd.Series) -> bool:
    """True when no non-empty id repeats: a sorted column is checked in one pass."""
    values = pc.drop_null(pa.array(ids.array))
    if len(values) < 2:
        return True
    head, tail = values.slice(0, len(values) - 1), values.slice(1)
    if pc.all(pc.less(head, tail)).as_py():  # ids in increasing order: all distinct
        return True
    ordered = values.take(pc.sort_indices(values))
    head, tail = ordered.slice(0, len(ordered) - 1), ordered.slice(1)
    return not pc.any(pc.equal(head, tail)).as_py()


def _lines(
    mask: np.ndarray, index: pd.Index, column: str, raw: pd.Series, problem: str
) -> Iterable[pd.DataFrame]:
    """:func:`rejected_lines` for a numpy mask, nothing at all when no row is hit."""
    if mask.any():
        yield rejected_lines(pd.Series(mask, index=index), column, raw, problem)


def _background_problems(
    data: pd.DataFrame,
    texts: Mapping[str, pd.Series | _Distinct],
    canon: pd.DataFrame,
    unmatched: Mapping[str, np.ndarray],
) -> Iterable[pd.DataFrame]:
    index = data.index
    empty = {c: texts[c].isna().to_numpy() for c in _ID_COLUMNS}
    empty |= {c: texts[c].empty for c in _CODED_COLUMNS}
    empty["age"] = is_empty(data["age"]).to_numpy()
    for column in ("respondent_id", "service_id", "wave"):
        yield from _lines(
            empty[column], index, column, data[column], f"{column} is empty; every row needs one"
        )

    yield from _lines(
        unmatched["wave"],
        index,
        "wave",
        data["wave"],
        f"not a wave; {_WAVE_HELP}, years {WAVE_YEARS[0]}-{WAVE_YEARS[1]}",
    )

    ids = canon["respondent_id"]
    # the common case, every id distinct, is checked without finding the repeats
    if not _all_distinct(ids):
        repeated = ids.notna() & ids.duplicated(keep="first")
        first_row = pd.Series(ids.index, index=ids.index).groupby(ids).transform("min")
        problem = (
            "a second row with this respondent_id; keep one row per child (first in row "
            + first_row.astype(str)
            + ")"
        )
        yield rejected_lines(repeated, "respondent_id", data["respondent_id"], problem)

    if any(m.any() for c in ("placement_type", "oblast") for m in (empty[c], unmatched[c])):
        masks = {c: pd.Series(empty[c], index=index) for c in ("placement_type", "oblast")}
        yield from placement_and_oblast_problems(data, canon, masks)

    age = canon["age"].to_numpy()
    low, high = AGE_RANGE
    yield from _lines(empty["age"], index, "age", data["age"], "age is empty")
    yield from _lines(
        ~empty["age"] & np.isnan(age),
        index,
        "age",
        data["age"],
        "age is not a number; write the age in whole years",
    )
    with np.errstate(invalid="ignore"):
        outside = ~((age >= low) & (age <= high)) & ~np.isnan(age)
    yield from _lines(outside, index, "age", data["age"], f"age is outside {low}-{high}")

    yield from _lines(
        unmatched["sex"],
        index,
        "sex",
        data["sex"],
        "unknown sex code; use f or m (ж or м) or leave it empty",
    )


def _check_items(
    data: pd.DataFrame, codebook: Codebook
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Problems in the item answers, and the text item columns converted to numbers.

    One pass per item column on its contiguous array: faster than one pass over
    a stacked matrix, which does not fit in the CPU cache. The columns are
    checked on two threads (numpy releases the GIL); the problems come back in
    item order.
    """
    codes = ", ".join(map(str, codebook.missing_codes)) or "none"
    rows = data.index.to_numpy()

    columns = {item.id: data[item.id] for item in codebook.items}  # the threads only read them

    def check(item: Item) -> tuple[np.ndarray | None, list[pd.DataFrame]]:
        scale = codebook.scales[item.scale]
        raw = columns[item.id]
        converted = None
        if pd.api.types.is_numeric_dtype(raw.dtype):
            values = raw.to_numpy(dtype="float64", na_value=np.nan)
            is_text = None
            if raw.dtype != np.float64:  # integers or nullable numbers: answers are float codes
                converted = values
        else:
            text = as_text(raw)
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            is_text = text.notna().to_numpy() & np.isnan(values)
            converted = values
        off_scale = ~_answer_allowed(values, scale.min, scale.max, codebook.missing_codes)
        if is_text is not None:
            off_scale &= ~is_text
        pieces = []
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
        return converted, pieces

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(check, codebook.items))
    converted = {
        item.id: values
        for item, (values, _) in zip(codebook.items, results, strict=True)
        if values is not None
    }
    pieces = [piece for _, found in results for piece in found]
    problems = pd.concat(pieces, ignore_index=True) if pieces else empty_rejected()
    return converted, problems


def _answer_allowed(
    values: np.ndarray, low: int, high: int, missing_codes: Iterable[int]
) -> np.ndarray:
    """True where an answer is empty, a whole number on the scale, or a missing code.

    Most answers are on the scale: the values off it (a few per cent: empty or
    missing codes) are looked at one by one only among themselves.
    """
    with np.errstate(invalid="ignore"):
        allowed = values >= low
        allowed &= values <= high
    allowed &= values == np.floor(values)
    off = np.flatnonzero(~allowed)
    if len(off):
        rest = values[off]
        fine = np.isnan(rest)
        for code in missing_codes:
            fine |= rest == code
        allowed[off] = fine
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

    This is the published contract of the survey loader: every table
    :func:`load_responses` returns as ``valid`` satisfies it (the tests check
    that on the demo and toy data). The loader does not run it itself, for
    speed; it is for researchers, to check that a table built elsewhere (a
    merge, a subset) still satisfies what the analyses assume: canonical
    placement types and oblasts, ages in range, one row per respondent,
    answers on their scale or missing codes.

    Examples
    --------
    >>> valid_schema(codebook).validate(load_responses(path, codebook).valid)  # doctest: +SKIP
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
