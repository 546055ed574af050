"""Benchmark: load + validate + score 100,000 respondents x 60 items from CSV.

Two files: the benchmark's own (a few spellings per coded column) and a
mixed-spelling one (every spelling validation accepts: placement types in
Bulgarian and English, oblasts as NUTS-3 codes, slugs, Bulgarian and English
names with or without "област", sex in Latin and Cyrillic, waves written
``2025-01``; each in lower, upper and title case, some with surrounding space).
The floor is ``pyarrow.csv.read_csv`` of the same file, measured in the same run
and interleaved with ours (so machine speed and load cancel out as far as they
can). Goal: at most 3x the floor on both. Prints the median of several repeats
of each and the ratio. Run with ``make bench``.
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

from research_lib.io.codebook import parse_codebook
from research_lib.io.oblasts import load_oblasts
from research_lib.io.surveys import load_responses
from research_lib.io.vocab import PLACEMENT_ALIASES, SEX_ALIASES
from research_lib.stats.scoring import score_responses

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
    _with_answers(frame, answers).to_csv(path, index=False)


def _with_answers(frame: pd.DataFrame, answers: np.ndarray) -> pd.DataFrame:
    items = pd.DataFrame(answers, columns=[f"q{i:02d}" for i in range(N_ITEMS)])
    return pd.concat([frame, items], axis=1)


def spellings(names: list[str]) -> list[str]:
    """Each name in lower, upper and title case, and with a space before or after."""
    return [
        variant
        for name in names
        for variant in (name, name.upper(), name.title(), f" {name}", f"{name} ")
    ]


def write_mixed_file(path: Path, n: int, seed: int = 2) -> None:
    """Like :func:`write_file`, with every spelling validation accepts (about 900 in all)."""
    rng = np.random.default_rng(seed)
    oblasts = load_oblasts()
    names = [*oblasts.index, *oblasts.name_bg, *oblasts.name_en, *oblasts.slug]
    names += [f"област {name}" for name in oblasts.name_bg]
    names += [f"{name} oblast" for name in oblasts.name_en]
    answers = rng.integers(1, 6, size=(n, N_ITEMS)).astype(object)
    answers[rng.random((n, N_ITEMS)) < 0.02] = -9
    answers[rng.random((n, N_ITEMS)) < 0.01] = ""
    frame = pd.DataFrame(
        {
            "respondent_id": [f"R{i:06d}" for i in range(n)],
            "service_id": [f"S{i % 4000:04d}" for i in range(n)],
            "placement_type": rng.choice(spellings(list(PLACEMENT_ALIASES)), n),
            "oblast": rng.choice(spellings(names), n),
            "age": rng.integers(8, 18, n),
            "sex": rng.choice([*spellings(list(SEX_ALIASES)), *[""] * 10], n),
            "wave": rng.choice(["2025", "2025-1", "2025-01", " 2024-2"], n),
        }
    )
    _with_answers(frame, answers).to_csv(path, index=False)


def median_times(fns: dict[str, object], repeats: int) -> dict[str, float]:
    """Median wall time of each function, the functions run in turn in each repeat."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_one(label: str, path: Path, rows: int, repeats: int) -> float:
    """Print the floor, our time and their ratio for one file; return the ratio."""
    book = bench_codebook()

    def full() -> None:
        result = load_responses(path, book)
        assert result.n_valid == rows, result.summary()
        score_responses(result.valid, book)

    full()  # warm-up: imports, caches
    medians = median_times({"floor": lambda: pyarrow.csv.read_csv(path), "ours": full}, repeats)
    floor, ours = medians["floor"], medians["ours"]
    ratio = ours / floor
    size_mb = path.stat().st_size / 1e6
    print(
        f"load+validate+score, {label}: {rows:,} rows x {N_ITEMS} items "
        f"({size_mb:.1f} MB CSV), median of {repeats}"
    )
    print(f"  floor (pyarrow.csv.read_csv): {floor:.3f} s")
    print(f"  research_lib:                 {ours:.3f} s")
    print(f"  ratio: {ratio:.2f}x (goal <= {GOAL:g}x) -> {'OK' if ratio <= GOAL else 'OVER GOAL'}")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        plain, mixed = Path(tmp) / "bench.csv", Path(tmp) / "mixed.csv"
        write_file(plain, args.rows)
        write_mixed_file(mixed, args.rows)
        bench_one("benchmark file", plain, args.rows, args.repeats)
        bench_one("mixed spellings", mixed, args.rows, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
