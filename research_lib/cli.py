"""Command line: ``python -m research_lib <command>``.

A thin shell over the library. Bad input never prints a traceback: it prints
what is wrong and how to fix it, and the exit code says what happened.

Commands
--------
validate RESPONSES --codebook CODEBOOK [--rejected-out FILE.csv]
    Rows read / valid / rejected and the first problems in words. Exit 0 when
    every row is valid, 1 when some were rejected, 2 when the file cannot be read.
score RESPONSES --codebook CODEBOOK [--out FILE.csv]
    Validate, score and print mean domain scores by placement type.
run STUDY [-p NAME=VALUE ...]
    Run a study notebook through Papermill and export ``reports/<study>/<oblast>/report.html``.
demo-data [--out DIR] [--seed N]
    Write the synthetic demo survey (and its README) to ``data/demo``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from research_lib.codebook import load_codebook
from research_lib.errors import InputError
from research_lib.paths import DEMO_DIR, SURVEYS_DIR
from research_lib.scoring import scored_table
from research_lib.validation import LoadResult, load_responses

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_REJECTED, EXIT_UNREADABLE = 0, 1, 2
DEFAULT_CODEBOOK = SURVEYS_DIR / "qol-child-v1.yaml"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m research_lib``."""
    parser = argparse.ArgumentParser(
        prog="python -m research_lib",
        description="DI evidence workbench: load, validate and score children's survey data.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a survey file against its codebook")
    validate.add_argument(
        "responses", type=Path, help="CSV, XLSX, SPSS .sav or KoboToolbox/ODK export"
    )
    validate.add_argument("--codebook", type=Path, default=DEFAULT_CODEBOOK, help="codebook YAML")
    validate.add_argument("--rejected-out", type=Path, help="write the rejected lines to this CSV")
    validate.add_argument(
        "--show", type=int, default=10, help="how many problems to print (default 10)"
    )

    score = commands.add_parser("score", help="validate and score a survey; print domain means")
    score.add_argument("responses", type=Path)
    score.add_argument("--codebook", type=Path, default=DEFAULT_CODEBOOK)
    score.add_argument(
        "--out", type=Path, help="write the scored table (one row per child) to this CSV"
    )

    run = commands.add_parser("run", help="run a study notebook and export its HTML report")
    run.add_argument("study", help="the study: qol")
    run.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a notebook parameter, e.g. -p oblast=plovdiv -p language=en (repeatable)",
    )

    demo = commands.add_parser("demo-data", help="write the synthetic demo data")
    demo.add_argument(
        "--out", type=Path, default=DEMO_DIR, help=f"folder (default {DEMO_DIR.name})"
    )
    demo.add_argument("--codebook", type=Path, default=DEFAULT_CODEBOOK)
    demo.add_argument(
        "--seed", type=int, default=None, help="random seed (default: the documented demo seed)"
    )
    return parser


def _validate(args: argparse.Namespace) -> int:
    result = _load(args.responses, args.codebook)
    print(result.summary(first=args.show))
    if len(result.rejected):
        print("\nProblems by column:")
        print(result.problem_counts().to_string(index=False))
    if args.rejected_out is not None:
        args.rejected_out.parent.mkdir(parents=True, exist_ok=True)
        result.rejected.to_csv(args.rejected_out, index=False, encoding="utf-8")
        print(f"\nRejected lines written to {args.rejected_out}")
    return EXIT_REJECTED if result.n_rejected else EXIT_OK


def _load(responses: Path, codebook_path: Path) -> LoadResult:
    codebook = load_codebook(codebook_path)
    return load_responses(responses, codebook)


def _score(args: argparse.Namespace) -> int:
    codebook = load_codebook(args.codebook)
    result = load_responses(args.responses, codebook)
    print(result.summary(first=5))
    table = scored_table(result.valid, codebook)
    domains = codebook.domain_ids
    means = table.groupby("placement_type", observed=True)[domains].mean().round(1).T
    counts = table.groupby("placement_type", observed=True).size()
    means.columns = [f"{p} (n={counts[p]})" for p in means.columns]
    means.index.name = "domain (mean 0-100)"
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print("\nMean domain scores by placement type (unadjusted, no CIs: see the QoL study):")
        print(means.to_string())
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, encoding="utf-8")
        print(f"\nScored table written to {args.out}")
    return EXIT_REJECTED if result.n_rejected else EXIT_OK


def _parse_parameters(pairs: Sequence[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"parameter {pair!r} is not NAME=VALUE (e.g. -p oblast=plovdiv).")
        parameters[name.strip()] = value.strip()
    return parameters


def _run(args: argparse.Namespace) -> int:
    from research_lib.paths import display_path
    from research_lib.runs import run_study

    out = run_study(args.study, _parse_parameters(args.parameter))
    print(f"report: {display_path(out / 'report.html')}")
    print(f"published figures: {display_path(out / 'published.csv')}")
    return EXIT_OK


def _demo_data(args: argparse.Namespace) -> int:
    from research_lib.synthetic import DEFAULT_SEED, write_demo_data

    codebook = load_codebook(args.codebook)
    paths = write_demo_data(
        args.out, codebook, seed=DEFAULT_SEED if args.seed is None else args.seed
    )
    for name, path in paths.items():
        print(f"{name}: {path}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    handlers = {"validate": _validate, "score": _score, "run": _run, "demo-data": _demo_data}
    try:
        return handlers[args.command](args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_UNREADABLE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
