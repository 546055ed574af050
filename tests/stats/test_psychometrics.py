"""Reliability and item statistics against independent references.

Each test names its reference: another implementation (pingouin, statsmodels),
a hand calculation with numpy / scipy, or a population value planted in
simulated data.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats
from statsmodels.multivariate.factor import Factor

from research_lib.demo.survey import ITEM_SD_BY_DOMAIN, make_survey
from research_lib.io.codebook import Codebook, parse_codebook
from research_lib.io.surveys import validate_responses
from research_lib.stats.psychometrics import (
    ITEM_COLUMNS,
    RELIABILITY_COLUMNS,
    _bootstrap_covariances,
    fit_one_factor,
    item_statistics,
    reliability,
)


def continuous_codebook(domains: dict[str, int]) -> Codebook:
    """A codebook whose items sit on a 0-100 scale, so rescaling is the identity."""
    return parse_codebook(
        {
            "instrument": "sim",
            "missing_codes": [-9],
            "scales": {"pct": {"min": 0, "max": 100}},
            "domains": [{"id": d, "label": d} for d in domains],
            "items": [
                {"id": f"{d}{j}", "domain": d, "scale": "pct", "reverse": False}
                for d, k in domains.items()
                for j in range(1, k + 1)
            ],
        }
    )


def as_valid(values: np.ndarray, book: Codebook) -> pd.DataFrame:
    frame = pd.DataFrame(values, columns=book.item_ids)
    frame.insert(0, "respondent_id", [f"r{i}" for i in range(len(frame))])
    return frame


def congeneric(n: int, loadings: np.ndarray, uniquenesses: np.ndarray, seed: int) -> np.ndarray:
    """x_j = 50 + lambda_j * F + e_j, F ~ N(0, 1), e_j ~ N(0, psi_j)."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(n, 1))
    noise = rng.normal(size=(n, len(loadings))) * np.sqrt(uniquenesses)
    return 50.0 + factor * loadings + noise


def population_omega(loadings: np.ndarray, uniquenesses: np.ndarray) -> float:
    return loadings.sum() ** 2 / (loadings.sum() ** 2 + uniquenesses.sum())


def population_alpha(loadings: np.ndarray, uniquenesses: np.ndarray) -> float:
    cov = np.outer(loadings, loadings) + np.diag(uniquenesses)
    k = len(loadings)
    return k / (k - 1) * (1 - np.trace(cov) / cov.sum())


@pytest.fixture(scope="module")
def small_matrix() -> tuple[Codebook, pd.DataFrame]:
    """14 children x 4 items on 0-100, two with a missing answer (dropped listwise)."""
    rng = np.random.default_rng(11)
    values = np.clip(np.rint(50 + rng.normal(0, 20, (14, 1)) + rng.normal(0, 12, (14, 4))), 0, 100)
    values[3, 1] = np.nan
    values[9, 2] = np.nan
    book = continuous_codebook({"d": 4})
    return book, as_valid(values, book)


def test_alpha_matches_pingouin_and_hand_formula(small_matrix):
    """References: pingouin.cronbach_alpha on the listwise-complete rows (another
    implementation; its CI is rounded to 3 decimals) and k/(k-1)(1 - sum var_i / var_total)
    by hand with numpy.

    pingouin is given the complete rows itself because its ``nan_policy="listwise"``
    keeps the pre-deletion n in Feldt's degrees of freedom.
    """
    book, valid = small_matrix
    row = reliability(valid, book, n_boot=50).iloc[0]
    complete = valid[book.item_ids].dropna()
    assert row["n"] == len(complete) == 12
    assert row["n_any"] == 14

    ref_alpha, ref_ci = pingouin.cronbach_alpha(complete)
    assert row["alpha"] == pytest.approx(ref_alpha, abs=1e-12)
    assert row["alpha_ci_low"] == pytest.approx(ref_ci[0], abs=5e-4)
    assert row["alpha_ci_high"] == pytest.approx(ref_ci[1], abs=5e-4)

    x = complete.to_numpy()
    k = x.shape[1]
    hand = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
    assert row["alpha"] == pytest.approx(hand, abs=1e-12)


@pytest.mark.parametrize("confidence", [0.95, 0.90])
def test_alpha_ci_is_feldt(small_matrix, confidence):
    """Reference: Feldt, Woodruff & Salih (1987) by hand with scipy.stats.f.ppf:
    lower = 1 - (1 - a) F^-1(1 - t), upper = 1 - (1 - a) F^-1(t), t = (1 - c)/2,
    F with (n - 1, (n - 1)(k - 1)) degrees of freedom."""
    book, valid = small_matrix
    row = reliability(valid, book, confidence=confidence, n_boot=0).iloc[0]
    n, k, a = row["n"], row["k"], row["alpha"]
    tail = (1 - confidence) / 2
    df1, df2 = n - 1, (n - 1) * (k - 1)
    assert row["alpha_ci_low"] == pytest.approx(1 - (1 - a) * stats.f.ppf(1 - tail, df1, df2))
    assert row["alpha_ci_high"] == pytest.approx(1 - (1 - a) * stats.f.ppf(tail, df1, df2))
    assert row["alpha_ci_low"] < a < row["alpha_ci_high"]


def test_omega_recovers_planted_congeneric_model():
    """Reference: the population omega of a planted congeneric one-factor model,
    (sum lambda)^2 / ((sum lambda)^2 + sum psi), computed exactly from the known
    loadings and uniquenesses; n = 20,000, so the estimate must be within 0.01 and the
    bootstrap CI must cover it. Alpha (a lower bound under congenerity) must sit at
    its own exact population value, below omega."""
    loadings = np.array([18.0, 15.0, 12.0, 9.0, 6.0])
    uniquenesses = np.array([100.0, 150.0, 200.0, 150.0, 250.0])
    book = continuous_codebook({"d": 5})
    valid = as_valid(congeneric(20_000, loadings, uniquenesses, seed=5), book)
    row = reliability(valid, book, n_boot=200, seed=1).iloc[0]

    omega_pop = population_omega(loadings, uniquenesses)
    alpha_pop = population_alpha(loadings, uniquenesses)
    assert omega_pop - alpha_pop > 0.02  # the planted model is far from tau-equivalent
    assert row["omega"] == pytest.approx(omega_pop, abs=0.01)
    assert row["omega_ci_low"] <= omega_pop <= row["omega_ci_high"]
    assert row["omega_ci_high"] - row["omega_ci_low"] < 0.03
    assert row["alpha"] == pytest.approx(alpha_pop, abs=0.01)
    assert row["alpha"] < row["omega"]


def test_omega_equals_alpha_for_tau_equivalent_items():
    """Reference: theory — with equal loadings (tau-equivalence) omega and alpha have
    the same population value (planted: 0.8 here, computed exactly), so both
    estimates agree with each other and with it."""
    loadings = np.full(4, 12.0)
    uniquenesses = np.array([100.0, 144.0, 196.0, 136.0])
    assert population_alpha(loadings, uniquenesses) == pytest.approx(
        population_omega(loadings, uniquenesses)
    )
    book = continuous_codebook({"d": 4})
    valid = as_valid(congeneric(20_000, loadings, uniquenesses, seed=8), book)
    row = reliability(valid, book, n_boot=0).iloc[0]
    assert row["omega"] == pytest.approx(row["alpha"], abs=0.003)
    assert row["omega"] == pytest.approx(population_omega(loadings, uniquenesses), abs=0.01)


def test_factor_fit_matches_statsmodels_ml():
    """Reference: statsmodels' Factor(method="ml") (another implementation: direct
    likelihood optimisation instead of EM) on the same simulated data."""
    loadings = np.array([0.8, 0.7, 0.6, 0.5, 0.4])
    x = congeneric(600, loadings, 1 - loadings**2, seed=2)
    lam, psi, converged = fit_one_factor(np.corrcoef(x, rowvar=False))
    ref = Factor(x, n_factor=1, method="ml").fit()
    ref_lam = ref.loadings.ravel() * np.sign(ref.loadings.sum())
    assert converged
    np.testing.assert_allclose(lam, ref_lam, atol=1e-4)
    np.testing.assert_allclose(psi, ref.uniqueness, atol=1e-4)


def test_bootstrap_covariances_equal_explicit_resampling():
    """Reference: np.cov of the rows picked by the same random indices (the count-matrix
    shortcut must equal resampling the rows themselves)."""
    block = np.random.default_rng(0).normal(size=(40, 3))
    fast = _bootstrap_covariances(block, 25, np.random.default_rng(9))
    rows = np.random.default_rng(9).integers(0, 40, size=(25, 40))
    slow = np.stack([np.cov(block[r], rowvar=False) for r in rows])
    np.testing.assert_allclose(fast, slow, atol=1e-12)


def test_item_rest_r_matches_hand_calculation():
    """Reference: numpy.corrcoef of the item against the mean of the other items
    (pandas row mean, skipping NaN), over rows where both exist."""
    rng = np.random.default_rng(4)
    values = np.rint(50 + rng.normal(0, 15, (30, 1)) + rng.normal(0, 15, (30, 4)))
    values[rng.random((30, 4)) < 0.15] = np.nan
    values[5, 1:] = np.nan  # item 0 answered, no rest: excluded
    book = continuous_codebook({"d": 4})
    table = item_statistics(as_valid(values, book), book).set_index("item")
    frame = pd.DataFrame(values, columns=book.item_ids)
    for item in book.item_ids:
        rest = frame.drop(columns=item).mean(axis=1)
        both = frame[item].notna() & rest.notna()
        hand = np.corrcoef(frame.loc[both, item], rest[both])[0, 1]
        assert table.loc[item, "item_rest_r"] == pytest.approx(hand, abs=1e-12)
        answered = frame[item].dropna()
        assert table.loc[item, "n"] == len(answered)
        assert table.loc[item, "mean"] == pytest.approx(answered.mean())
        assert table.loc[item, "sd"] == pytest.approx(answered.std(ddof=1))


@pytest.fixture(scope="module")
def tiny_toy() -> pd.DataFrame:
    """Four children on the toy instrument (see the hand calculation below)."""
    rows = [
        ["r1", 5, 1, 3, 0, 3],
        ["r2", 1, 5, 0, 3, 0],
        ["r3", 3, -9, np.nan, -8, 1],
        ["r4", 4, 2, 2, 2, 2],
    ]
    columns = ["respondent_id", "h1", "h2", "h3", "v1", "v2"]
    return pd.DataFrame(rows, columns=columns).astype({c: float for c in columns[1:]})


def test_floor_ceiling_missing_by_hand(toy_codebook, tiny_toy):
    """Hand calculation. home = h1 (freq5), h2 (freq5, reversed), h3 (agree4); min_valid 0.5.
    say = v1, v2 (agree4, v2 reversed); min_valid 1.0.

    r1: home 100,100,100 -> 100 (ceiling); say 0, 0 -> 0 (floor)
    r2: home 0,0,0 -> 0 (floor);          say 100, 100 -> 100 (ceiling)
    r3: home 50, -9, NaN -> 1 of 3 valid -> NaN; say -8, 66.7 -> NaN (min_valid 1.0)
    r4: home 75, 75, 66.7 -> 72.2;        say 66.7, 33.3 -> 50
    home: floor 1/3, ceiling 1/3 of the 3 scored; 2 of 12 answers missing; n 3, n_any 4.
    say: floor 1/3, ceiling 1/3; 1 of 8 answers missing; n 3, n_any 4.
    n = 3 < 10, so alpha and omega are NaN with a note, not an exception.
    """
    table = reliability(tiny_toy, toy_codebook, n_boot=20).set_index("domain")
    assert table.loc["home", "floor"] == pytest.approx(1 / 3)
    assert table.loc["home", "ceiling"] == pytest.approx(1 / 3)
    assert table.loc["home", "share_missing"] == pytest.approx(2 / 12)
    assert table.loc["say", "floor"] == pytest.approx(1 / 3)
    assert table.loc["say", "ceiling"] == pytest.approx(1 / 3)
    assert table.loc["say", "share_missing"] == pytest.approx(1 / 8)
    assert table["n"].tolist() == [3, 3]
    assert table["n_any"].tolist() == [4, 4]
    assert table[["alpha", "omega", "omega_ci_low"]].isna().all().all()
    assert not table["low_alpha"].any()
    assert table["method"].str.startswith("Not computed: only 3 children").all()


def test_item_floor_ceiling_missing_by_hand(toy_codebook, tiny_toy):
    """Hand calculation (0-100, reverse turned): h1 = 100, 0, 50, 75; h2 = 100, 0, -, 75;
    v2 = 0, 100, 66.7, 33.3."""
    table = item_statistics(tiny_toy, toy_codebook).set_index("item")
    assert list(table.index) == toy_codebook.item_ids
    assert table.loc["h1", ["n", "floor", "ceiling", "share_missing"]].tolist() == [
        4,
        0.25,
        0.25,
        0.0,
    ]
    assert table.loc["h1", "mean"] == pytest.approx(56.25)
    assert table.loc["h2", "n"] == 3
    assert table.loc["h2", "floor"] == pytest.approx(1 / 3)
    assert table.loc["h2", "ceiling"] == pytest.approx(1 / 3)
    assert table.loc["h2", "share_missing"] == pytest.approx(0.25)
    assert table.loc["v2", "mean"] == pytest.approx(50.0)
    assert table["reverse"].tolist() == [False, True, False, False, True]
    assert table["domain"].tolist() == ["home"] * 3 + ["say"] * 2


def test_reverse_items_are_turned_before_computing(qol_codebook):
    """Reference: the synthetic survey's generating model (every item loads positively
    on its domain once reverse items are turned). With the codebook's keying every
    reverse item has a clearly positive item-rest r; with the keying switched off the
    same items come out negative, so the check is not vacuous."""
    valid = validate_responses(make_survey(qol_codebook, n_services=60, seed=3), qol_codebook).valid
    table = item_statistics(valid, qol_codebook).set_index("item")
    reverse = [item.id for item in qol_codebook.items if item.reverse]
    assert len(reverse) >= 10
    assert (table.loc[reverse, "item_rest_r"] > 0.2).all()

    unkeyed = dataclasses.replace(
        qol_codebook,
        items=tuple(dataclasses.replace(it, reverse=False) for it in qol_codebook.items),
    )
    raw = item_statistics(valid, unkeyed).set_index("item")
    assert (raw.loc[reverse, "item_rest_r"] < 0).all()

    rel = reliability(valid, qol_codebook, n_boot=100)
    assert list(rel.columns) == list(RELIABILITY_COLUMNS)
    assert rel["domain"].tolist() == qol_codebook.domain_ids
    # planted: the demo's noisier domains fall below 0.7, the others stay above
    weak = rel["domain"].isin(list(ITEM_SD_BY_DOMAIN))
    assert (rel.loc[~weak, "alpha"] > 0.7).all()
    assert (rel.loc[weak, "alpha"] < 0.7).all()
    assert (rel["omega_ci_low"] <= rel["omega"]).all()
    assert (rel["omega"] <= rel["omega_ci_high"]).all()


def test_degenerate_domains_give_nan_not_an_exception():
    """Reference: definitions — alpha needs 2+ items, a one-factor model 3+ items,
    and at least 10 complete cases are required; an empty table gives NaN too."""
    book = continuous_codebook({"one": 1, "two": 2, "three": 3})
    rng = np.random.default_rng(3)
    values = 50 + rng.normal(0, 10, (40, 1)) + rng.normal(0, 10, (40, 6))
    values[:35, 3] = np.nan  # domain "three": only 5 complete cases
    table = reliability(as_valid(values, book), book, n_boot=30).set_index("domain")

    assert math.isnan(table.loc["one", "alpha"]) and math.isnan(table.loc["one", "omega"])
    assert "at least 2 items" in table.loc["one", "method"]
    assert table.loc["two", "alpha"] > 0
    assert math.isnan(table.loc["two", "omega"])
    assert "3+ items" in table.loc["two", "method"]
    assert table.loc["three", "n"] == 5 and table.loc["three", "n_any"] == 40
    assert math.isnan(table.loc["three", "alpha"])
    assert "only 5 children" in table.loc["three", "method"]

    empty = reliability(as_valid(values[:0], book), book, n_boot=30)
    assert empty["n"].tolist() == [0, 0, 0]
    assert empty[["alpha", "omega", "floor", "share_missing"]].isna().all().all()
    items = item_statistics(as_valid(values[:0], book), book)
    assert list(items.columns) == list(ITEM_COLUMNS)
    assert items["item_rest_r"].isna().all()


def test_same_seed_same_table(small_survey, qol_codebook):
    """Determinism: the same seed gives an identical table; another seed moves only the
    bootstrap interval of omega (alpha and its Feldt CI are analytic)."""
    valid = validate_responses(small_survey, qol_codebook).valid
    first = reliability(valid, qol_codebook, n_boot=100, seed=42)
    again = reliability(valid, qol_codebook, n_boot=100, seed=42)
    pd.testing.assert_frame_equal(first, again)
    other = reliability(valid, qol_codebook, n_boot=100, seed=43)
    analytic = ["alpha", "alpha_ci_low", "alpha_ci_high", "omega"]
    pd.testing.assert_frame_equal(first[analytic], other[analytic])
    assert not np.allclose(first["omega_ci_low"], other["omega_ci_low"])


def test_low_alpha_flag_and_parameter_checks(small_matrix):
    """Reference: the definition low_alpha = alpha < alpha_threshold; bad parameters raise."""
    book, valid = small_matrix
    alpha = reliability(valid, book, n_boot=0).loc[0, "alpha"]
    assert bool(
        reliability(valid, book, n_boot=0, alpha_threshold=alpha + 1e-6).loc[0, "low_alpha"]
    )
    assert not reliability(valid, book, n_boot=0, alpha_threshold=alpha).loc[0, "low_alpha"]
    with pytest.raises(ValueError, match="confidence"):
        reliability(valid, book, confidence=95)
    with pytest.raises(ValueError, match="n_boot"):
        reliability(valid, book, n_boot=-1)


def test_factor_fit_converges_in_a_heywood_case():
    """Reference: statsmodels' Factor(method="ml"). One item loads 0.99 and the rest
    weakly, so the ML solution sits on the boundary (uniqueness ~ 0, a Heywood case),
    where plain EM crawls. The accelerated fit must converge, stop at the 0.005 floor
    and give the same omega as statsmodels to 0.002."""
    loadings = np.array([0.99, 0.3, 0.2, 0.1, 0.25])
    x = congeneric(300, loadings, 1 - loadings**2, seed=2)
    lam, psi, converged = fit_one_factor(np.corrcoef(x, rowvar=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns at the boundary
        ref = Factor(x, n_factor=1, method="ml").fit(maxiter=500)
    assert converged
    assert psi[0] == pytest.approx(0.005)
    ref_omega = ref.loadings.sum() ** 2 / (ref.loadings.sum() ** 2 + ref.uniqueness.sum())
    assert lam.sum() ** 2 / (lam.sum() ** 2 + psi.sum()) == pytest.approx(ref_omega, abs=0.002)
