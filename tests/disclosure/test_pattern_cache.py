"""The on-disk cache of linked patterns: read back equal, keyed by content, never stale.

Reference: the pattern chosen afresh in the same test (a cached read must equal it
value for value and type for type).
"""

from __future__ import annotations

import pandas as pd
import pytest

from research_lib.disclosure import pattern_cache
from research_lib.disclosure.pattern_cache import CACHE_ENV, cached_pattern, pattern_key


def _pattern() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "scope": ["all", "BG331", "BG331"],
            "table": ["sample", "sample", "entries_by_year"],
            "group": ["all", "foster", "ЦНСТ"],
            "measure": ["children", "children", "2019"],
            "hidden": [False, True, True],
        }
    )


class Chooser:
    """Counts how often the pattern is chosen."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> pd.DataFrame:
        self.calls += 1
        return _pattern()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "patterns"))
    return tmp_path / "patterns"


def test_chosen_once_then_read_back_identical(cache) -> None:
    choose = Chooser()
    first = cached_pattern("s", "k" * 64, choose)
    second = cached_pattern("s", "k" * 64, choose)
    assert choose.calls == 1
    assert len(list(cache.glob("s-*.parquet"))) == 1
    pd.testing.assert_frame_equal(first, _pattern())
    pd.testing.assert_frame_equal(second, first)
    assert not list(cache.glob("*.part"))  # no temporary file left behind


def test_off_chooses_every_time_and_writes_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    assert pattern_cache.pattern_cache_dir() is None
    choose = Chooser()
    cached_pattern("s", "k", choose)
    cached_pattern("s", "k", choose)
    assert choose.calls == 2


def test_damaged_file_is_chosen_again_and_replaced(cache) -> None:
    choose = Chooser()
    cached_pattern("s", "k", choose)
    (cache / "s-k.parquet").write_bytes(b"not parquet")
    with pytest.warns(UserWarning, match="unreadable"):
        again = cached_pattern("s", "k", choose)
    assert choose.calls == 2
    pd.testing.assert_frame_equal(again, _pattern())
    pd.testing.assert_frame_equal(pd.read_parquet(cache / "s-k.parquet"), _pattern())


def test_unwritable_folder_leaves_the_run_uncached(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "patterns"))
    with pytest.warns(UserWarning, match="not written"):
        pattern = cached_pattern("s", "k", Chooser())
    pd.testing.assert_frame_equal(pattern, _pattern())


def test_key_follows_data_min_cell_and_code(monkeypatch) -> None:
    counts = pd.DataFrame({"scope": ["all", "BG331"], "n": [12, 3]})
    key = pattern_key(counts, 5)
    assert pattern_key(counts.copy(), 5) == key
    assert pattern_key(counts.assign(n=[12, 4]), 5) != key  # one count changed
    assert pattern_key(counts.iloc[::-1], 5) != key  # another order
    assert pattern_key(counts.astype({"n": "float64"}), 5) != key  # another type
    assert pattern_key(counts, 3) != key  # another min_cell
    monkeypatch.setattr(pattern_cache, "code_hash", lambda: "0" * 64)
    assert pattern_key(counts, 5) != key  # another library
