"""Placement episodes worked by hand, shared by the tests of io/episodes, io/population and
stats/series (moved from tests/io/test_placements.py)."""

from __future__ import annotations

import pandas as pd

from research_lib.io.episodes import validate_episodes
from research_lib.io.oblasts import load_oblasts

AS_OF = "2025-12-31"


def episode(**overrides: object) -> dict[str, object]:
    """One valid episode row; override any column."""
    row: dict[str, object] = {
        "child_id": "c1",
        "oblast": "BG421",
        "placement_type": "foster",
        "start_date": "2019-03-10",
        "end_date": "2020-06-30",
        "exit_reason": "reunified",
        "birth_date": "2014-01-01",
        "age_at_start": None,
    }
    row.update(overrides)
    return row


def check(rows: list[dict[str, object]]):
    return validate_episodes(pd.DataFrame(rows), as_of=AS_OF)


def invariant(result) -> None:
    assert len(result.valid) + result.rejected["row"].nunique() == result.n_rows


# Five children, worked by hand (see the expected tables in tests/stats/test_series.py).
HAND = [
    episode(
        child_id="A",
        placement_type="foster",
        start_date="2019-03-10",
        end_date="2020-06-30",
        exit_reason="reunified",
    ),
    episode(
        child_id="B",
        placement_type="institution",
        start_date="2018-11-01",
        end_date="2019-02-01",
        exit_reason="foster",
        birth_date="2017-05-01",
    ),
    episode(
        child_id="B",
        placement_type="foster",
        start_date="2019-02-01",
        end_date="",
        exit_reason="",
        birth_date="2017-05-01",
    ),
    episode(
        child_id="C",
        oblast="BG411",
        placement_type="cnst",
        start_date="2020-01-15",
        end_date="",
        exit_reason="",
        birth_date="2008-02-02",
    ),
    episode(
        child_id="D",
        oblast="BG411",
        placement_type="kinship",
        start_date="2019-12-31",
        end_date="2020-12-31",
        exit_reason="aged_out",
        birth_date="2002-12-31",
    ),
    episode(
        child_id="E",
        oblast="BG411",
        placement_type="institution",
        start_date="2017-05-05",
        end_date="2019-12-31",
        exit_reason="reunified",
        birth_date="2010-01-01",
    ),
]


def hand_episodes() -> pd.DataFrame:
    """The valid rows of :data:`HAND` (six episodes, none rejected)."""
    result = check(HAND)
    assert result.n_valid == 6 and result.rejected.empty
    return result.valid


def population_table(**extra) -> pd.DataFrame:
    oblasts = load_oblasts().index
    frame = pd.DataFrame(
        {
            "oblast": list(oblasts) * 2,
            "year": [2019] * 28 + [2020] * 28,
            "population": [10_000] * 56,
        }
    )
    return frame.assign(**extra)
