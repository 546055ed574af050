"""Score validated survey responses into 0-100 domain scores.

The rules, all read from the codebook:

* a missing code (e.g. -9 "don't know") is missing, like an empty answer;
* a reverse-keyed item maps an answer ``v`` to ``min + max - v``;
* every item is rescaled to 0-100 on its own scale, ``100 * (v - min) / (max - min)``;
* a domain score is the mean of its valid rescaled items, and is missing when
  fewer than ``ceil(min_valid * k)`` of the domain's ``k`` items are valid;
* ``low_<domain>`` is true when the score is below the domain's
  ``low_threshold`` (only for domains that define one; missing where the score is);
* an item the codebook asks only in some age versions (``asked_in``) is *not asked*
  of a child outside them: it counts neither as answered nor as missing, so ``k``
  is the number of the domain's items the child was asked (an answer written in
  it anyway is ignored). A domain none of whose items were asked is missing.

Examples
--------
>>> import pandas as pd
>>> from research_lib.io.codebook import parse_codebook
>>> book = parse_codebook({
...     "instrument": "toy", "missing_codes": [-9],
...     "scales": {"s": {"min": 1, "max": 5}},
...     "domains": [{"id": "d", "label": "D", "low_threshold": 50}],
...     "items": [{"id": "a", "domain": "d", "scale": "s", "reverse": False},
...               {"id": "b", "domain": "d", "scale": "s", "reverse": True}]})
>>> valid = pd.DataFrame({"respondent_id": ["r1", "r2"], "a": [5.0, 2.0], "b": [1.0, -9.0]})
>>> score_responses(valid, book)
                   d  low_d
respondent_id
r1             100.0  False
r2              25.0   True
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from research_lib.io.codebook import Codebook, Domain

__all__ = ["score_responses", "item_matrix", "scored_table"]


def _answered(values: np.ndarray, missing_codes: tuple[int, ...]) -> np.ndarray:
    """True where an answer is given: not empty and not a missing code."""
    missing = np.isnan(values)
    for code in missing_codes:
        missing |= values == code
    return ~missing


def _rescaled(
    values: np.ndarray, low: int, high: int, reverse: bool, missing_codes: tuple[int, ...]
) -> np.ndarray:
    """One item's answers on 0-100, reverse items turned, missing codes as NaN."""
    top = (high - values) if reverse else (values - low)
    return np.where(_answered(values, missing_codes), top * (100.0 / (high - low)), np.nan)


def _item_columns(valid: pd.DataFrame, codebook: Codebook) -> dict[str, np.ndarray]:
    columns = {}
    for item in codebook.items:
        scale = codebook.scales[item.scale]
        values = valid[item.id].to_numpy(dtype="float64", na_value=np.nan)
        columns[item.id] = _rescaled(
            values, scale.min, scale.max, item.reverse, codebook.missing_codes
        )
    return columns


def item_matrix(valid: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Item answers rescaled to 0-100, reverse items turned, missing codes as NaN.

    One row per row of ``valid`` (same index), one column per item. The basis
    of both the domain scores and the psychometric checks.
    """
    return pd.DataFrame(_item_columns(valid, codebook), index=valid.index)


def score_responses(valid: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Domain scores on 0-100 for each respondent.

    Parameters
    ----------
    valid : DataFrame
        ``LoadResult.valid``: a ``respondent_id`` column and one column per item.
    codebook : Codebook
        The instrument's codebook.

    Returns
    -------
    DataFrame
        Indexed by ``respondent_id``; one float column per domain id (0-100, NaN
        where too few items were answered) and a nullable boolean
        ``low_<domain>`` for each domain with a ``low_threshold``.

    Notes
    -----
    Items are processed one column at a time (contiguous arrays stay in the CPU
    cache), accumulating each domain's sum and count of valid answers; the
    domains are scored on two threads (numpy releases the GIL), each domain's
    items in codebook order, so the sums are the same as in one thread. ``valid``
    is validated data, so an answer is either on its scale, a missing code (the
    codebook keeps missing codes off every scale) or empty: "on the scale" is
    "answered".
    """
    n = len(valid)
    by_age = any(item.asked_in for item in codebook.items)
    ages = valid["age"].to_numpy(dtype="float64", na_value=np.nan) if by_age else None

    answers = {  # taken here: the threads only read them
        item.id: valid[item.id].to_numpy(dtype="float64", na_value=np.nan)
        for item in codebook.items
    }

    def domain_score(domain: Domain) -> np.ndarray:
        items = codebook.items_of(domain.id)
        total = np.zeros(n)
        count = np.int16 if len(items) < 2**15 else np.int64
        answered = np.zeros(n, dtype=count)
        n_asked = np.zeros(n, dtype=count)
        answer = np.empty(n, dtype=bool)
        top = np.empty(n)
        for item in items:
            scale = codebook.scales[item.scale]
            values = answers[item.id]
            with np.errstate(invalid="ignore"):  # on the scale: not empty, not a missing code
                np.greater_equal(values, scale.min, out=answer)
                answer &= values <= scale.max
            if item.asked_in:  # not asked at this age: neither answered nor missing
                asked = codebook.asked(item.id, ages)
                answer &= asked
                n_asked += asked
            if item.reverse:
                np.subtract(scale.max, values, out=top)
            else:
                np.subtract(values, scale.min, out=top)
            top *= 100.0 / (scale.max - scale.min)
            np.add(total, top, out=total, where=answer)
            answered += answer
        if any(item.asked_in for item in items):
            n_asked += len([item for item in items if not item.asked_in])
            needed = np.maximum(np.ceil(domain.min_valid * n_asked), 1)
            needed = np.where(n_asked > 0, needed, np.inf)  # nothing asked: no score
        else:
            needed = max(math.ceil(domain.min_valid * len(items)), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(answered >= needed, total / answered, np.nan)

    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy releases the GIL
        columns = dict(
            zip(codebook.domain_ids, pool.map(domain_score, codebook.domains), strict=True)
        )
    ids = valid["respondent_id"].to_numpy()
    index = pd.Index(ids, name="respondent_id", dtype=object if ids.dtype == object else None)
    flags = {
        f"low_{domain.id}": pd.arrays.BooleanArray(
            columns[domain.id] < domain.low_threshold, np.isnan(columns[domain.id])
        )
        for domain in codebook.domains
        if domain.low_threshold is not None
    }
    return pd.DataFrame(columns | flags, index=index, copy=False)


def scored_table(valid: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Background columns of ``valid`` with the domain scores beside them.

    One row per respondent, indexed by ``respondent_id``: the tidy table the
    analyses and the exploration notebook start from. Item columns are left out.
    """
    items = set(codebook.item_ids)
    background = valid[[c for c in valid.columns if c not in items]].set_index("respondent_id")
    return background.join(score_responses(valid, codebook))
