"""The command line as a user meets it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from research_lib.demo.survey import write_demo_data
from research_lib.runner.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory, qol_codebook):
    return write_demo_data(tmp_path_factory.mktemp("demo"), qol_codebook, seed=11)


def test_validate_clean_file_exits_0(demo, capsys):
    assert main(["validate", str(demo["survey"])]) == 0
    out = capsys.readouterr().out
    assert "rows read" in out and "0 rejected" in out


def test_validate_broken_file_exits_1_and_lists_problems(demo, tmp_path, capsys):
    out_csv = tmp_path / "rejected.csv"
    assert main(["validate", str(demo["broken"]), "--rejected-out", str(out_csv)]) == 1
    out = capsys.readouterr().out
    assert "20 rows read, 11 valid, 9 rejected" in out
    assert "row 3, placement_type" in out and "unknown placement type" in out
    rejected = pd.read_csv(out_csv)
    assert list(rejected.columns) == ["row", "column", "value", "problem"]
    assert sorted(rejected["row"].unique()) == [3, 5, 7, 9, 11, 13, 15, 17, 19]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "csv"),
        (b"just one line of prose\n", "csv"),
    ],
)
def test_unreadable_file_exits_2_without_traceback(tmp_path, capsys, content, words):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bad.csv" in err and "Traceback" not in err


def test_missing_required_column_exits_2_naming_it(tmp_path, capsys):
    path = tmp_path / "no_oblast.csv"
    path.write_text("respondent_id,service_id,placement_type,age,sex,wave\nr1,s1,cnst,12,f,2025\n")
    assert main(["validate", str(path)]) == 2
    assert "oblast" in capsys.readouterr().err


def test_missing_file_and_bad_codebook_exit_2(tmp_path, demo, capsys):
    assert main(["validate", str(tmp_path / "absent.csv")]) == 2
    bad = tmp_path / "book.yaml"
    bad.write_text("instrument: x\n")
    assert main(["validate", str(demo["survey"]), "--codebook", str(bad)]) == 2
    assert "book.yaml" in capsys.readouterr().err


def test_score_writes_one_row_per_child(demo, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["score", str(demo["survey"]), "--out", str(out)]) == 0
    scores = pd.read_csv(out)
    survey = pd.read_csv(demo["survey"])
    assert len(scores) == len(survey) and scores["respondent_id"].is_unique
    assert "Mean domain scores by placement type" in capsys.readouterr().out


def test_module_entry_point_runs(demo):
    """`python -m research_lib` is what the README and Makefile call."""
    done = subprocess.run(
        [sys.executable, "-m", "research_lib", "validate", str(demo["broken"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
