"""The demo's national published.csv files are unchanged by refactoring (issue 13).

Reference: ``tests/golden/*.csv``, written by the code before the library was
restructured into layers (see ``tests/golden/README.md``). ``make test`` runs
``make studies`` first, which writes ``reports/<study>/all/published.csv`` with
the current code; any difference in a row (table, group, measure, n, value,
CI, suppressed) fails here with the rows that differ.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from research_lib.paths import REPORTS_DIR

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def differing_rows(golden: Path, current: Path) -> pd.DataFrame:
    """Rows in one file and not the other (``_merge`` says which); empty when identical."""
    before = pd.read_csv(golden, dtype=str, keep_default_na=False)
    after = pd.read_csv(current, dtype=str, keep_default_na=False)
    both = before.merge(after, how="outer", indicator=True)
    return both[both["_merge"] != "both"]


@pytest.mark.parametrize("study", ["qol", "placements"])
def test_national_published_csv_is_byte_identical_to_golden(study: str) -> None:
    current = REPORTS_DIR / study / "all" / "published.csv"
    if not current.is_file():
        pytest.fail(f"{current} is missing: run `make studies` (make test does) before the tests")
    golden = GOLDEN / f"{study}_all_published.csv"
    if current.read_bytes() != golden.read_bytes():
        changed = differing_rows(golden, current)
        pytest.fail(
            f"{study}: published.csv differs from tests/golden/{golden.name}; "
            f"{len(changed)} differing rows, the first:\n" + changed.head(20).to_string(index=False)
        )


def test_comparison_finds_a_planted_one_digit_change(tmp_path: Path) -> None:
    golden = GOLDEN / "qol_all_published.csv"
    text = golden.read_text(encoding="utf-8")
    planted = tmp_path / "published.csv"
    planted.write_text(text.replace("0.886486", "0.886487", 1), encoding="utf-8")  # one digit
    changed = differing_rows(golden, planted)
    assert sorted(changed["_merge"]) == ["left_only", "right_only"]
    assert differing_rows(golden, golden).empty
