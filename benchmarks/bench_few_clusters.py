"""Simulation: false findings and coverage of ``compare_groups`` with few services.

Children are nested in services; every child of a service shares its placement
type; scores are ``60 + effect·[group] + u_service + e_child`` with
``u ~ N(0, ICC·20²)``, ``e ~ N(0, (1 − ICC)·20²)``, ICC 0.10 (the demo's), seven
children per service. Scenarios (issue 10, item 1):

* **oblast** — six services: one ``family``, one ``foster`` (reference), four
  ``cnst``; no true difference (the Ruse case).
* **two** — two ``foster`` and six ``cnst`` services, no difference, with the
  minimum lowered to 2 to show what CR2 does where CR1 collapses.
* **few** — 3 + 3, 4 + 4 and 5 + 5 services (6 to 10 in all; the first two
  with ``min_services`` lowered to 3 and 4 so that they are estimated), then
  6, 8 and 10 per group; no difference.
* **many** — 60 services (30 per group), planted difference −8: coverage.

For each: the share of 95% intervals that exclude zero (the false-finding rate
when there is no difference; should be 5%), the coverage of the truth (should be
95%) and the share of contrasts declined.

**Before** is the method the library used until issue 10, reimplemented here
(:func:`before_table`) as the reference: a random-intercept ``MixedLM`` (REML)
with model-based SE on between-within df when there are at least 10 services
and the fit is regular; otherwise — fewer than 10 services, a singular fit
(ICC < 1e-4), a non-converged fit — OLS with CR1 cluster-robust SE on G − 1 df.
**After** is :func:`research_lib.stats.compare.compare_groups` (REML kept at the
boundary, CR2 with Bell-McCaffrey df, contrasts with fewer than
``min_services`` services per group declined). Both see the same samples.

Run: ``python benchmarks/bench_few_clusters.py [--reps 1000] [--before-reps 300]``
(``--before-reps 0`` skips the old method; ``--only few`` runs the scenarios whose
label contains "few"). Seeds are explicit (``--seed``). Takes about 20 minutes
on a shared two-core machine (the old MixedLM fits are the slow part).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from research_lib.stats import compare

ICC = 0.10
SD = 20.0
CHILDREN = 7
#: the old thresholds
OLD_MIN_CLUSTERS_MIXED = 10
OLD_SINGULAR_ICC = 1e-4


def simulate(
    types: list[str], seed: int, effect: dict[str, float] | None = None, icc: float = ICC
) -> pd.DataFrame:
    """One sample: one entry of ``types`` per service, ``CHILDREN`` children each."""
    rng = np.random.default_rng(seed)
    n_services = len(types)
    service = np.repeat(np.arange(n_services), CHILDREN)
    placement = np.asarray(types)[service]
    shift = np.array([(effect or {}).get(t, 0.0) for t in placement])
    y = (
        60.0
        + shift
        + rng.normal(0.0, SD * math.sqrt(icc), n_services)[service]
        + rng.normal(0.0, SD * math.sqrt(1 - icc), len(service))
    )
    return pd.DataFrame(
        {"service_id": [f"S{s:02d}" for s in service], "placement_type": placement, "score": y}
    )


def before_table(data: pd.DataFrame, reference: str = "foster") -> pd.DataFrame:
    """The pre-issue-10 comparison: MixedLM (REML) or the OLS + CR1 (G − 1 df) fallback.

    One model for all groups (intercept + a dummy per non-reference group), as the
    old ``compare_groups`` fitted it; returns ``group, ci_low, ci_high``.
    """
    groups = [reference, *sorted(set(data["placement_type"]) - {reference})]
    y = data["score"].to_numpy()
    X = np.column_stack(
        [np.ones(len(y))] + [(data["placement_type"] == g).to_numpy(float) for g in groups[1:]]
    )
    codes = pd.factorize(data["service_id"])[0]
    n_clusters = int(codes.max() + 1)
    params = bse = None
    if n_clusters >= OLD_MIN_CLUSTERS_MIXED:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = sm.MixedLM(y, X, groups=codes).fit(
                    reml=True, method=["powell", "nm", "bfgs"]
                )
                tau2 = float(np.asarray(result.cov_re)[0, 0])
                icc = tau2 / (tau2 + float(result.scale))
                regular = (
                    result.converged
                    and math.isfinite(icc)
                    and icc >= OLD_SINGULAR_ICC
                    and np.all(np.isfinite(result.bse_fe))
                    and not any(
                        "singular" in str(w.message).lower() or "Hessian" in str(w.message)
                        for w in caught
                    )
                )
            except Exception:  # noqa: BLE001 - the old code fell back on any failure
                regular = False
        if regular:
            params, bse = np.asarray(result.fe_params), np.asarray(result.bse_fe)
            df = n_clusters - X.shape[1]  # between-within: all columns are service-level
    if params is None:
        result = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": codes})
        params, bse = np.asarray(result.params), np.asarray(result.bse)
        df = n_clusters - 1
    q = stats.t.ppf(0.975, df)
    return pd.DataFrame(
        {
            "group": groups[1:],
            "ci_low": params[1:] - q * bse[1:],
            "ci_high": params[1:] + q * bse[1:],
        }
    )


def after_table(data: pd.DataFrame, min_services: int) -> pd.DataFrame:
    """The library now."""
    return compare.compare_groups(
        data, "score", "placement_type", "foster", cluster="service_id", min_services=min_services
    )


def run(method, types: list[str], reps: int, seed: int, effect: dict[str, float] | None):
    """One row per (sample, contrast): estimated?, interval excludes 0?, covers the truth?"""
    rows = []
    for r in range(reps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the old CR1 fit warns where its SE collapses
            table = method(simulate(types, seed + r, effect))
        for _, row in table.iterrows():
            truth = (effect or {}).get(row["group"], 0.0)
            estimated = bool(row.get("estimated", True)) and math.isfinite(row["ci_low"])
            rows.append(
                {
                    "group": row["group"],
                    "estimated": estimated,
                    "excludes_zero": estimated and (row["ci_low"] > 0 or row["ci_high"] < 0),
                    "covers": estimated and row["ci_low"] <= truth <= row["ci_high"],
                }
            )
    return pd.DataFrame(rows)


def summary(result: pd.DataFrame) -> str:
    done = result[result["estimated"]]
    declined = 1 - result["estimated"].mean()
    if done.empty:
        return f"declined {declined:.0%} (no interval)"
    return (  # with a planted difference, "excl. 0" is the power
        f"excl. 0 {done['excludes_zero'].mean():6.1%}  cover {done['covers'].mean():6.1%}  "
        f"declined {declined:.0%}  (n={len(done)})"
    )


#: (label, service types, planted effects, min_services of the library)
SCENARIOS: list[tuple[str, list[str], dict[str, float] | None, int]] = [
    (
        "oblast: 1 family, 1 foster, 4 cnst; no difference",
        ["family", "foster"] + ["cnst"] * 4,
        None,
        compare.MIN_SERVICES,
    ),
    (
        "two: 2 foster, 6 cnst; no difference (CR2 alone, minimum lowered to 2)",
        ["foster"] * 2 + ["cnst"] * 6,
        None,
        2,
    ),
    *[
        (f"few: {k} + {k} services; no difference", ["foster", "cnst"] * k, None, min(k, 5))
        for k in (3, 4, 5, 6, 8, 10)
    ],
    ("many: 30 + 30 services; planted -8", ["foster", "cnst"] * 30, {"cnst": -8.0}, 5),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--before-reps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--only", default="", help="run the scenarios whose label contains this")
    args = parser.parse_args(argv)
    print(f"ICC {ICC}, {CHILDREN} children per service, 95% intervals, seed {args.seed}")
    for label, types, effect, minimum in SCENARIOS:
        if args.only not in label:
            continue
        print(f"\n{label}")
        if args.before_reps > 0:
            start = time.perf_counter()
            result = run(before_table, types, args.before_reps, args.seed, effect)
            elapsed = time.perf_counter() - start
            print(f"  before (OLS + CR1, G - 1 df / MixedLM): {summary(result)}  {elapsed:.0f} s")
            if label.startswith("oblast"):
                for group, part in result.groupby("group"):
                    print(f"    {group:>7}: {summary(part)}")
        start = time.perf_counter()
        result = run(lambda d, m=minimum: after_table(d, m), types, args.reps, args.seed, effect)
        elapsed = time.perf_counter() - start
        print(f"  after (min_services={minimum}):{'':15}{summary(result)}  {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
