"""Benchmark: load + validate + score 100,000 respondents x 60 items from CSV.

The floor is ``pyarrow.csv.read_csv`` of the same file, measured in the same run
(so machine speed cancels out). Goal: at most 3x the floor. Prints the median of
several repeats of each and the ratio. Run with ``make bench``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv

from research_lib.codebook import parse_codebook
from research_lib.scoring import score_responses
from research_lib.validation import load_responses

N_ITEMS = 60
DOMAINS = 10
GOAL = 3.0


def bench_codebook():
    """A 60-item, 10-domain instrument on a 1-5 scale, every sixth item reversed."""
    return parse_codebook(
        {
            "instrument": "bench-60",
            "missing_codes": [-9, -8, -7],
            "scales": {"freq5": {"min": 1, "max": 5}},
            "domains": [
                {"id": f"d{d}", "label": f"D{d}", "low_threshold": 50} for d in range(DOMAINS)
            ],
            "items": [
                {
                    "id": f"q{i:02d}",
                    "domain": f"d{i % DOMAINS}",
                    "scale": "freq5",
                    "reverse": i % 6 == 0,
                }
                for i in range(N_ITEMS)
            ],
        }
    )


def write_file(path: Path, n: int, seed: int = 1) -> None:
    """A realistic file: text background columns, answers with 3% missing codes and empties."""
    rng = np.random.default_rng(seed)
    answers = rng.integers(1, 6, size=(n, N_ITEMS)).astype(object)
    answers[rng.random((n, N_ITEMS)) < 0.02] = -9
    answers[rng.random((n, N_ITEMS)) < 0.01] = ""
    frame = pd.DataFrame(
        {
            "respondent_id": [f"R{i:06d}" for i in range(n)],
            "service_id": [f"S{i % 4000:04d}" for i in range(n)],
            "placement_type": rng.choice(["cnst", "foster", "ЦНСТ", "приемна грижа", "kinship"], n),
            "oblast": rng.choice(["Пловдив", "BG331", "София (столица)", "Видин"], n),
            "age": rng.integers(8, 18, n),
            "sex": rng.choice(["f", "m", "ж", ""], n),
            "wave": "2025",
        }
    )
    frame = pd.concat(
        [frame, pd.DataFrame(answers, columns=[f"q{i:02d}" for i in range(N_ITEMS)])], axis=1
    )
    frame.to_csv(path, index=False)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    book = bench_codebook()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        write_file(path, args.rows)
        size_mb = path.stat().st_size / 1e6

        def full() -> None:
            result = load_responses(path, book)
            assert result.n_valid == args.rows, result.summary()
            score_responses(result.valid, book)

        full()  # warm-up: imports, caches
        floor = median_time(lambda: pyarrow.csv.read_csv(path), args.repeats)
        ours = median_time(full, args.repeats)
    ratio = ours / floor
    print(
        f"load+validate+score: {args.rows:,} rows x {N_ITEMS} items ({size_mb:.1f} MB CSV), median of {args.repeats}"
    )
    print(f"  floor (pyarrow.csv.read_csv): {floor:.3f} s")
    print(f"  research_lib:                 {ours:.3f} s")
    print(f"  ratio: {ratio:.2f}x (goal <= {GOAL:g}x) -> {'OK' if ratio <= GOAL else 'OVER GOAL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
