"""Child-population denominators: every rejection reason, 0-17 by default."""

from __future__ import annotations

import pandas as pd

from research_lib.io.population import load_population, validate_population
from tests.io.episode_rows import (
    invariant,
)


def test_load_population_validates_rows(tmp_path):
    path = tmp_path / "child_population.csv"
    pd.DataFrame(
        {
            "oblast": ["Видин", "България", "Атлантида", "Видин", "BG312", "BG313"],
            "year": [2020, 2020, 2020, 2020, "двайсет", 2020],
            "age_band": ["0-17", "0-17", "0-17", "0-17", "0-17", "0-5"],
            "population": [12_000, 1_100_000, 5, 12_000, 9_000, 700],
            "source_title": "test",
        }
    ).to_csv(path, index=False)
    result = load_population(path)
    invariant(result)
    assert list(result.valid.index) == [2, 3]
    assert result.valid["oblast"].tolist() == ["BG311", "all"]
    assert result.valid["population"].dtype == "int64" and "source_title" in result.valid
    problems = dict(zip(result.rejected["row"], result.rejected["problem"], strict=True))
    assert "unknown oblast" in problems[4]
    assert "a second row for this oblast, year and age band (first in row 2)" in problems[5]
    assert "year is not a whole number" in problems[6]
    assert "unknown age band" in problems[7]


def test_population_without_age_band_is_0_17():
    result = validate_population(
        pd.DataFrame({"oblast": ["BG311"], "year": [2020], "population": [5]})
    )
    assert result.valid["age_band"].tolist() == ["0-17"]
