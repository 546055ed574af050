"""Shared fixtures: the project's codebook, a tiny hand-checkable codebook, demo surveys."""

from __future__ import annotations

import pandas as pd
import pytest

from research_lib.demo.survey import make_survey
from research_lib.io.codebook import Codebook, load_codebook, parse_codebook
from research_lib.paths import SURVEYS_DIR

TOY = {
    "instrument": "toy-v1",
    "missing_codes": [-9, -8],
    "scales": {
        "freq5": {
            "min": 1,
            "max": 5,
            "labels": {"en": ["never", "rarely", "sometimes", "often", "always"]},
        },
        "agree4": {"min": 0, "max": 3},
    },
    "domains": [
        {"id": "home", "label": {"bg": "Дом", "en": "Home"}, "min_valid": 0.5, "low_threshold": 50},
        {"id": "say", "label": {"bg": "Глас", "en": "Voice"}, "min_valid": 1.0},
    ],
    "items": [
        {"id": "h1", "domain": "home", "scale": "freq5", "reverse": False, "text": {"en": "a"}},
        {"id": "h2", "domain": "home", "scale": "freq5", "reverse": True, "text": {"en": "b"}},
        {"id": "h3", "domain": "home", "scale": "agree4", "reverse": False, "text": {"en": "c"}},
        {"id": "v1", "domain": "say", "scale": "agree4", "reverse": False, "text": {"en": "d"}},
        {"id": "v2", "domain": "say", "scale": "agree4", "reverse": True, "text": {"en": "e"}},
    ],
}


@pytest.fixture(scope="session")
def toy_codebook() -> Codebook:
    return parse_codebook(TOY)


@pytest.fixture(scope="session")
def qol_codebook() -> Codebook:
    return load_codebook(SURVEYS_DIR / "qol-child-v1.yaml")


@pytest.fixture(scope="session")
def small_survey(qol_codebook: Codebook) -> pd.DataFrame:
    """A synthetic survey of about 400 children (30 services)."""
    return make_survey(qol_codebook, n_services=30, seed=7)


def toy_row(**overrides: object) -> dict[str, object]:
    """One valid row of the toy instrument; override any column."""
    row: dict[str, object] = {
        "respondent_id": "r1",
        "service_id": "s1",
        "placement_type": "cnst",
        "oblast": "BG421",
        "age": 12,
        "sex": "f",
        "wave": "2025",
        "h1": 5,
        "h2": 1,
        "h3": 3,
        "v1": 0,
        "v2": 3,
    }
    row.update(overrides)
    return row
