"""Interval functions against textbook values and chi-squared by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from research_lib.stats.intervals import poisson_rate_ci


def test_garwood_interval_matches_the_textbook_value():
    rate, low, high = poisson_rate_ci(10, 100_000)
    assert float(rate) == pytest.approx(10.0)
    assert float(low) == pytest.approx(4.795, abs=5e-4)
    assert float(high) == pytest.approx(18.39, abs=5e-3)


def test_garwood_interval_matches_chi2_by_hand_and_is_vectorised():
    counts = np.array([0, 1, 5, 37, 250])
    population = np.array([12_000, 12_000, 80_000, 150_000, 1_100_000])
    rate, low, high = poisson_rate_ci(counts, population, per=100_000, confidence=0.9)
    hand_low = np.where(counts > 0, stats.chi2.ppf(0.05, 2 * counts) / 2, 0) / population * 1e5
    hand_high = stats.chi2.ppf(0.95, 2 * counts + 2) / 2 / population * 1e5
    np.testing.assert_allclose(rate, counts / population * 1e5)
    np.testing.assert_allclose(low, hand_low)
    np.testing.assert_allclose(high, hand_high)
    assert low[0] == 0 and high[0] == pytest.approx(-np.log(0.05) / 12_000 * 1e5, rel=1e-9)


def test_no_denominator_gives_nan():
    rate, low, high = poisson_rate_ci([3, 3], [np.nan, 0])
    assert np.isnan(rate).all() and np.isnan(low).all() and np.isnan(high).all()
