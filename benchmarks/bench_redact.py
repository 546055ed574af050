"""Benchmark: redaction of one very long answer, in adversarial shapes.

Every pattern of :func:`research_lib.disclosure.voices.redact` must run in time linear in
the length of the answer. This script redacts one answer of each of ``--sizes``
characters (default 100,000 and 1,000,000) in each shape below, ``--repeat``
times, and prints the median seconds per shape (wall clock and the process's
CPU time) and the rate in MB/s. A
quadratic pattern shows up as a shape whose time grows 100-fold from 100 KB to
1 MB, or takes minutes (before issue 15 the e-mail pattern took 29-47 s for
100,000 characters without spaces). The target is well under 1 s for 1 MB.
The machine's load average is printed: on a shared machine the wall-clock
times are longer by about the load divided by the number of cores, while the
CPU time stays close to what an idle machine gives.

Run with ``python benchmarks/bench_redact.py`` (``--sizes 200000``, ``--only urls``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from research_lib.disclosure.voices import redact


def _fill(unit: str) -> Callable[[int], str]:
    return lambda size: (unit * (size // len(unit) + 1))[:size]


#: name -> function of the size giving one answer of that many characters.
SHAPES: dict[str, Callable[[int], str]] = {
    "letters, no spaces": _fill("a"),
    "cyrillic, no spaces": _fill("иванпетров"),
    "many @": _fill("@"),
    "a@ repeated": _fill("a@"),
    "a@b. repeated": _fill("a@b."),
    "many dots": _fill("."),
    "a. repeated": _fill("a."),
    "digits": _fill("7"),
    "digits and spaces": _fill("12 "),
    "word_2011 handles": _fill("ivan_2011"),
    "urls": _fill("http://x"),
    "url then dots": lambda size: "http://x" + "." * (size - 8),
    "(at) and dots": _fill("ivan(at)gmail"),
    "capitalised surnames": _fill("Петров "),
    "all-caps names": _fill("ГЕОРГИ ИВАНОВ "),
    "address keywords": _fill("ул бл вх ап "),
    "services": _fill("ЦНСТ КСУ "),
    "services with names": _fill("ЦНСТ Слънце КСУ „Звънче“ гр Пловдив "),
    "digit groups": _fill("987 65 43 "),
    "vocatives and caps": _fill("Иване, ГЕОРГИ ИВАНОВ, Марийо! "),
    "children's sentences": _fill(
        "Искам да виждам брат си по-често. Да има ключ за моето шкафче. "
        "Казвам се Иван Петров, телефон 0888 123 456. "
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="characters per answer"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per shape (median)")
    parser.add_argument("--only", default="", help="run only shapes containing this text")
    args = parser.parse_args()
    redact("Казвам се Иван.")  # compile the patterns and read the name lists once
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for size in args.sizes:
        print(f"redact(): one answer of {size:,} characters, median of {args.repeat} runs")
        worst = worst_cpu = 0.0
        for name, make in SHAPES.items():
            if args.only and args.only not in name:
                continue
            text = make(size)
            times, cpu = [], []
            for _ in range(args.repeat):
                start, start_cpu = time.perf_counter(), time.process_time()
                redact(text)
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            median, median_cpu = statistics.median(times), statistics.median(cpu)
            worst = max(worst, median)
            worst_cpu = max(worst_cpu, median_cpu)
            print(
                f"  {name:<24} {median:8.3f} s  (CPU {median_cpu:6.3f} s)"
                f"  {size / median / 1e6:7.2f} MB/s",
                flush=True,
            )
        print(
            f"slowest shape at {size:,} characters: {worst:.3f} s, CPU {worst_cpu:.3f} s"
            f" (load {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
