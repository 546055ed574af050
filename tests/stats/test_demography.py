"""Demography: the Sprague split of five-year age groups."""

from __future__ import annotations

import numpy as np


def test_sprague_split_is_exact_for_cubics_and_keeps_group_totals():
    """Reference: the analytic polynomial (Sprague reproduces single-year counts of degree <= 3)."""
    from numpy.polynomial import polynomial as poly

    from research_lib.stats.demography import (
        SPRAGUE_FIRST,
        SPRAGUE_MIDDLE,
        SPRAGUE_SECOND,
        sprague_split,
    )

    ages = np.arange(35.0)
    single = poly.polyval(ages, [12000.0, -150.0, 6.0, -0.09])
    split = sprague_split(single.reshape(7, 5).sum(axis=1))
    assert np.allclose(split, single, atol=1e-8)
    # each panel hands a group's count to its own five ages only
    assert np.allclose(SPRAGUE_FIRST.sum(axis=0), [1, 0, 0, 0, 0])
    assert np.allclose(SPRAGUE_SECOND.sum(axis=0), [0, 1, 0, 0, 0])
    assert np.allclose(SPRAGUE_MIDDLE.sum(axis=0), [0, 0, 1, 0, 0])
    groups = [61_000, 60_500, 64_200, 66_900, 62_300, 58_800]  # НСИ-shaped 0-4 ... 25-29
    assert np.allclose(sprague_split(groups).reshape(6, 5).sum(axis=1), groups)
