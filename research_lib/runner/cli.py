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
run STUDY [-p NAME=VALUE ...] [--force] [--allow-small-min-cell]
    Run a study notebook through Papermill and export ``reports/<study>/<oblast>/report.html``
    (skipped when nothing changed since its last successful run). The report is
    replaced only when the run succeeds. Exit 0 when the report is written or
    unchanged, 3 when the notebook failed (the previous report is kept), 2 for a
    refused parameter or output folder (checked before any kernel starts), 130
    when interrupted.
batch STUDY --over oblast [--jobs N] [--force] [-p NAME=VALUE ...]
    Run a study for the country and all 28 oblasts in parallel, then print a summary
    (done / skipped / failed, each failure's error in one line) and rebuild
    ``reports/index.html``. Exit 0 when all succeeded or were skipped, 3 when some
    failed, 2 for a refused parameter or output folder (checked before any kernel
    starts), 130 when interrupted (Ctrl-C stops every worker). At the end the
    intruder audit of ``reports/<study>/`` runs (see ``audit``); a disclosed count
    fails the batch (exit 1, with the list) unless a run already failed (exit 3).
audit FOLDER [--min-cell N]
    The built-in intruder: read every ``published.csv`` under FOLDER, bound each
    suppressed count by linear programming over all linked tables and margins,
    and list each count recovered exactly (non-zero) or shown to be between 1 and
    min_cell - 1. Exit 0 when nothing is disclosed, 1 with the list otherwise, 2
    when FOLDER holds no readable ``published.csv``.
demo-data [--out DIR] [--seed N]
    Write the synthetic demo survey (and its README) to ``data/demo``.
form CODEBOOK --to xlsform|paper|entry OUT [--version AGES] [--easy-read] [--wave W]
    Generate from the codebook a KoboToolbox/ODK form (XLSForm ``.xlsx``), a printable
    A4 paper questionnaire (``.html``) or a data-entry template (``.xlsx``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from research_lib.disclosure.suppression import DEFAULT_MIN_CELL
from research_lib.errors import InputError
from research_lib.io.codebook import load_codebook
from research_lib.io.csv_out import write_csv
from research_lib.io.surveys import LoadResult, load_responses
from research_lib.paths import DEMO_DIR, REPORTS_DIR, SURVEYS_DIR, display_path, project_path
from research_lib.stats.scoring import scored_table

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_REJECTED, EXIT_UNREADABLE = 0, 1, 2
#: ``audit`` (and ``batch`` after its runs): a suppressed count can be recovered.
EXIT_DISCLOSED = 1
#: ``run``/``batch``: a notebook failed (its previous report kept); stopped by Ctrl-C or a signal.
EXIT_RUN_FAILED, EXIT_INTERRUPTED = 3, 130
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
    run.add_argument("study", help="the study: " + ", ".join(_study_names()))
    _add_run_options(run)

    batch = commands.add_parser(
        "batch", help="run a study for the country and every oblast, in parallel"
    )
    batch.add_argument("study", help="the study: " + ", ".join(_study_names()))
    batch.add_argument(
        "--over",
        choices=["oblast"],
        required=True,
        help="the parameter to vary: oblast (the country and the 28 oblasts)",
    )
    batch.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        help="runs at a time (default: the number of cores)",
    )
    batch.add_argument(
        "--cold",
        action="store_true",
        help="a fresh kernel for every report (default: one warm kernel per job, reset "
        "between reports; the reports are the same)",
    )
    _add_run_options(batch)

    audit = commands.add_parser(
        "audit", help="try to recover suppressed counts from every published.csv of a folder"
    )
    audit.add_argument("folder", type=Path, help="a folder of reports, e.g. reports/")
    audit.add_argument(
        "--min-cell",
        type=int,
        default=None,
        help="fewest children a figure may rest on (default 5, as the studies)",
    )

    demo = commands.add_parser("demo-data", help="write the synthetic demo data")
    demo.add_argument(
        "--out", type=Path, default=DEMO_DIR, help=f"folder (default {DEMO_DIR.name})"
    )
    demo.add_argument("--codebook", type=Path, default=DEFAULT_CODEBOOK)
    demo.add_argument(
        "--seed", type=int, default=None, help="random seed (default: the documented demo seed)"
    )

    form = commands.add_parser(
        "form", help="generate a Kobo/ODK form, a paper questionnaire or a data-entry template"
    )
    form.add_argument("codebook", type=Path, help="codebook YAML (e.g. surveys/qol-child-v1.yaml)")
    form.add_argument("--to", choices=["xlsform", "paper", "entry"], required=True)
    form.add_argument("out", type=Path, help="file to write (.xlsx, or .html for paper)")
    form.add_argument("--version", help="age version of the codebook, e.g. 8-11 (faces on paper)")
    form.add_argument("--easy-read", action="store_true", help="use the easy-read item wording")
    form.add_argument("--wave", help="the survey wave, e.g. 2026 (default answer in the form)")
    return parser


def _refuse_row_level_in_reports(path: Path | None) -> None:
    """Children's rows (scores, rejected lines) never go under the reports root."""
    if path is None:
        return
    target, root = project_path(path).resolve(), REPORTS_DIR.resolve()
    if target == root or root in target.parents:
        raise InputError(
            f"{path}: rows of children's data cannot be written under {display_path(root)}, "
            "which holds published outputs only; write them under data/raw/ (git-ignored)."
        )


def _validate(args: argparse.Namespace) -> int:
    _refuse_row_level_in_reports(args.rejected_out)
    result = _load(args.responses, args.codebook)
    print(result.summary(first=args.show))
    if len(result.rejected):
        print("\nProblems by column:")
        print(result.problem_counts().to_string(index=False))
    if args.rejected_out is not None:
        write_csv(result.rejected, args.rejected_out, index=False, encoding="utf-8")
        print(f"\nRejected lines written to {args.rejected_out}")
    return EXIT_REJECTED if result.n_rejected else EXIT_OK


def _load(responses: Path, codebook_path: Path) -> LoadResult:
    codebook = load_codebook(codebook_path)
    return load_responses(responses, codebook)


def _score(args: argparse.Namespace) -> int:
    _refuse_row_level_in_reports(args.out)
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
        write_csv(table, args.out, encoding="utf-8")
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


def _study_names() -> list[str]:
    from research_lib.runner.runs import STUDIES

    return sorted(STUDIES)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a notebook parameter, e.g. -p oblast=plovdiv -p language=en (repeatable)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rerun even when inputs, parameters and code are unchanged",
    )
    parser.add_argument(
        "--allow-small-min-cell",
        action="store_true",
        help="accept min_cell below 3 (a reviewed exception: the report and provenance say so)",
    )


def _run(args: argparse.Namespace) -> int:
    from research_lib.paths import REPORTS_DIR, display_path
    from research_lib.runner.runs import FAILED, SKIPPED, STUDIES, run_one, stop_on_signals

    def waiting() -> None:
        print("another run is writing this report; waiting for it to finish…", file=sys.stderr)

    with stop_on_signals():
        result = run_one(
            args.study,
            _parse_parameters(args.parameter),
            force=args.force,
            allow_small_min_cell=args.allow_small_min_cell,
            on_wait=waiting,
        )
    report = result.folder / STUDIES[args.study].report
    if result.status == FAILED:
        print(f"failed: {result.error}", file=sys.stderr)
        failed = result.folder / f"{result.study}.failed.ipynb"
        if failed.is_file():
            print(f"executed notebook: {display_path(failed)}")
        if report.is_file():
            print(f"the previous report is kept: {display_path(report)}")
    else:
        if result.status == SKIPPED:
            print("unchanged since the last successful run: skipped (--force reruns)")
        print(f"report: {display_path(report)}")
        if (result.folder / "published.csv").is_file():
            print(f"published figures: {display_path(result.folder / 'published.csv')}")
    if result.index_error:
        print(f"index not rebuilt: {result.index_error}", file=sys.stderr)
    else:
        print(f"index: {display_path(REPORTS_DIR / 'index.html')}")
    return EXIT_RUN_FAILED if result.status == FAILED or result.index_error else EXIT_OK


def _batch(args: argparse.Namespace) -> int:
    from research_lib.paths import display_path
    from research_lib.runner.runs import BatchInterrupted, run_batch

    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}.")
    try:
        batch = run_batch(
            args.study,
            _parse_parameters(args.parameter),
            over=args.over,
            jobs=args.jobs,
            force=args.force,
            allow_small_min_cell=args.allow_small_min_cell,
            warm=not args.cold,
        )
    except BatchInterrupted as stop:
        print(stop.message(), file=sys.stderr)
        return EXIT_INTERRUPTED
    print(batch.summary())
    if batch.index is not None:
        print(f"index: {display_path(batch.index)}")
    exit_code = batch.exit_code
    # after the batch: the intruder audit of the whole batch (every report of the study)
    folder = (batch.index.parent if batch.index is not None else REPORTS_DIR) / args.study
    parameters = _parse_parameters(args.parameter)
    min_cell = int(parameters.get("min_cell", DEFAULT_MIN_CELL))
    if folder.is_dir():
        result = _audit_result(folder, min_cell)
        print(result.summary())
        if not result.clean:
            print(f"batch failed: the audit of {display_path(folder)} found disclosed counts.")
            exit_code = exit_code or EXIT_DISCLOSED
    return exit_code


def _audit_result(folder: Path, min_cell: int):
    from research_lib.disclosure.audit import audit_folder

    return audit_folder(folder, min_cell)


def _audit(args: argparse.Namespace) -> int:
    from research_lib.disclosure.suppression import DisclosureError

    if not args.folder.is_dir():
        raise InputError(f"{args.folder} is not a folder; give a folder of reports, e.g. reports/.")
    min_cell = DEFAULT_MIN_CELL if args.min_cell is None else args.min_cell
    if min_cell < 1:
        raise InputError(f"--min-cell must be at least 1, got {min_cell}.")
    try:
        result = _audit_result(args.folder, min_cell)
    except DisclosureError as err:  # a published.csv that breaks the contract itself
        print(f"error: {err}", file=sys.stderr)
        return EXIT_DISCLOSED
    if result.files == 0:
        raise InputError(f"no published.csv under {display_path(args.folder)}.")
    print(result.summary())
    return EXIT_OK if result.clean else EXIT_DISCLOSED


def _demo_data(args: argparse.Namespace) -> int:
    from research_lib.demo.survey import DEFAULT_SEED, write_demo_data

    codebook = load_codebook(args.codebook)
    paths = write_demo_data(
        args.out, codebook, seed=DEFAULT_SEED if args.seed is None else args.seed
    )
    for name, path in paths.items():
        print(f"{name}: {display_path(path)}")
    return EXIT_OK


def _form(args: argparse.Namespace) -> int:
    from research_lib.fielding.entry import write_entry_template
    from research_lib.fielding.paper import write_paper
    from research_lib.fielding.xlsform import write_xlsform

    codebook = load_codebook(args.codebook)
    if args.to == "xlsform":
        path = write_xlsform(
            codebook, args.out, version=args.version, easy_read=args.easy_read, wave=args.wave
        )
    elif args.to == "paper":
        path = write_paper(codebook, args.out, version=args.version, easy_read=args.easy_read)
    else:
        path = write_entry_template(codebook, args.out, version=args.version, wave=args.wave)
    print(f"{args.to}: {display_path(path)}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    handlers = {
        "validate": _validate,
        "score": _score,
        "run": _run,
        "batch": _batch,
        "audit": _audit,
        "demo-data": _demo_data,
        "form": _form,
    }
    try:
        return handlers[args.command](args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    except OSError as err:  # an output that cannot be written: one line, no traceback
        where = f" {display_path(err.filename)}" if err.filename else ""
        print(f"error: cannot write{where}: {err.strerror or err}.", file=sys.stderr)
        return EXIT_UNREADABLE
    except (KeyboardInterrupt, _interrupted()):
        print("interrupted: stopped before the end; no report was replaced.", file=sys.stderr)
        return EXIT_INTERRUPTED


def _interrupted() -> type[BaseException]:
    from research_lib.runner.runs import Interrupted

    return Interrupted


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
