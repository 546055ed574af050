"""Regional comparisons and ITS under planted truths: false-flag rates and coverage.

Run: ``.venv/bin/python benchmarks/bench_regional.py [n_sims]``. Prints:

* funnel plots of 28 oblasts whose true rates vary (gamma, CV 0.1/0.25/0.4), with
  and without two planted outliers (2x the typical rate): share of ordinary
  oblasts flagged at 95% by plain Poisson limits and by the random-effects
  limits, and the share of planted outliers found;
* foster growth when growth falls with the starting level and no oblast lags:
  false "lagging" flags of the old rule (CI below national growth) and of the
  model against the starting level;
* ITS with AR(1) noise: coverage of the 95% CI of the level change with
  model-based and with Newey-West errors;
* oblast ITS, partially pooled: 28 oblasts of very different sizes whose true
  level changes vary (log-normal around 0.6, SD 0.15): coverage and median width
  of each oblast's own 95% CI and of the partially pooled one, for all oblasts
  and for the 7 smallest.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from research_lib.io.oblasts import load_oblasts
from research_lib.stats.funnels import foster_growth, funnel_table
from research_lib.stats.its import fit_its, pool_its

SIZES = np.linspace(20_000, 130_000, 28)
CODES = load_oblasts().index


def funnels(n_sims: int, rng: np.random.Generator) -> None:
    print("funnel: CV outliers | plain-95 false | RE-95 false | RE-95 found")
    for cv in (0.10, 0.25, 0.40):
        for outliers in (0, 2):
            k = 1 / cv**2
            plain = widened = found = 0
            for _ in range(n_sims):
                rate = 250.0 * rng.gamma(k, 1 / k, size=28)
                rate[:outliers] *= 2.0
                counts = rng.poisson(rate * SIZES / 1e5)
                table = funnel_table(
                    pd.DataFrame({"oblast": CODES, "count": counts, "population": SIZES})
                )
                flagged = (table["outside_95"] != "within").to_numpy()
                plain += (table["plain_outside_95"] != "within").to_numpy()[outliers:].sum()
                widened += flagged[outliers:].sum()
                found += flagged[:outliers].sum()
            ordinary = n_sims * (28 - outliers)
            hit = f"{found / (n_sims * outliers):.3f}" if outliers else "  -  "
            print(
                f"        {cv:.2f} {outliers}        | {plain / ordinary:.3f}          "
                f"| {widened / ordinary:.3f}       | {hit}"
            )


def growth(n_sims: int, rng: np.random.Generator) -> None:
    naive = model = 0
    for _ in range(n_sims):
        start = rng.integers(10, 150, size=28)
        ratio = 3.0 * (start / 40.0) ** -0.5 * rng.gamma(20.0, 1 / 20.0, size=28)
        end = rng.poisson(start * ratio)
        series = pd.DataFrame(
            {
                "period": pd.to_datetime(["2015-01-01"] * 28 + ["2025-01-01"] * 28),
                "oblast": [*CODES, *CODES],
                "placement_type": "foster",
                "in_care_end": [*start, *end],
            }
        )
        table = foster_growth(series, 2015, 2025)
        naive += (table["ci_high"] < table["national_growth"]).sum()
        model += table["lagging"].sum()
    total = 28 * n_sims
    print(
        f"growth, no oblast lags: old rule false flags {naive / total:.3f}, model {model / total:.3f}"
    )


def its(n_sims: int, rng: np.random.Generator) -> None:
    hits = {"none": 0, "auto": 0}
    n = 96
    t = np.arange(1, n + 1)
    post = (t > n // 2).astype(int)
    for _ in range(n_sims):
        noise = np.zeros(n)
        for i in range(1, n):
            noise[i] = 0.7 * noise[i - 1] + rng.normal(0, 0.08)
        y = rng.poisson(200 * np.exp(-0.002 * t + np.log(0.8) * post + noise))
        df = pd.DataFrame({"y": y, "t": t, "post": post})
        for mode in hits:
            row = fit_its(df, "y", "t", "post", autocorrelation=mode).table.loc["level_change"]
            hits[mode] += row["ci_low"] < 0.8 < row["ci_high"]
    print(
        f"ITS AR(1) rho 0.7, level-change 95% CI coverage: model-based {hits['none'] / n_sims:.3f}, "
        f"auto (Newey-West when Ljung-Box p < 0.05) {hits['auto'] / n_sims:.3f}"
    )


def pooled(n_sims: int, rng: np.random.Generator) -> None:
    n = 96
    t = np.arange(1, n + 1)
    post = (t > n // 2).astype(int)
    sizes = np.geomspace(2, 120, 28)  # monthly entries before the reform, smallest first
    stats = {"own": [0, 0, []], "pooled": [0, 0, []]}
    for _ in range(n_sims):
        truth = np.exp(rng.normal(np.log(0.6), 0.15, 28))
        results = {}
        for i, size in enumerate(sizes):
            y = rng.poisson(size * np.exp(-0.002 * t) * truth[i] ** post)
            frame = pd.DataFrame({"y": y, "t": t, "post": post})
            results[i] = fit_its(frame, "y", "t", "post", family="quasipoisson")
        table = pool_its(results)
        for key, (low, high) in {
            "own": ("rr_low", "rr_high"),
            "pooled": ("pooled_rr_low", "pooled_rr_high"),
        }.items():
            inside = ((table[low] < truth) & (truth < table[high])).to_numpy()
            stats[key][0] += inside.sum()
            stats[key][1] += inside[:7].sum()
            stats[key][2].extend(np.log(table[high] / table[low]).to_numpy())
    for key, (hits, small, widths) in stats.items():
        print(
            f"oblast ITS level change, {key:6s}: coverage {hits / (28 * n_sims):.3f}, "
            f"7 smallest {small / (7 * n_sims):.3f}, median width of log CI {np.median(widths):.2f}"
        )


if __name__ == "__main__":
    sims = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    generator = np.random.default_rng(20251202)
    funnels(sims, generator)
    growth(max(sims // 5, 20), generator)
    its(sims, generator)
    pooled(max(sims // 10, 10), generator)
