"""Figures declared as specifications (research_lib.disclosure.figures)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from research_lib.disclosure.figures import (
    FigureSpec,
    Fixed,
    build_figures,
    linked_tables,
    published_rows,
    round_figures,
)
from research_lib.disclosure.suppression import PUBLISHED_COLUMNS, figure_rows, to_published


@pytest.fixture
def source():
    means = pd.DataFrame(
        {
            "group": ["all", "cnst", "foster", "kinship"],
            "domain": "home",
            "n": [40, 3, 17, 20],
            "mean": [61.0, 40.0, 66.0, 62.0],
            "low": [55.0, 20.0, 58.0, 55.0],
            "high": [67.0, 60.0, 74.0, 69.0],
        }
    )
    return SimpleNamespace(means=means, nothing=pd.DataFrame(), missing=None)


MEANS = FigureSpec(
    "means",
    "means",
    group="group",
    measure="domain",
    n="n",
    value="mean",
    ci_low="low",
    ci_high="high",
    linked=True,
)


def test_a_spec_gives_what_figure_rows_gives(source) -> None:
    """Columns, a fixed value and a computed column read as the hand-made call reads them."""
    m = source.means
    by_hand = figure_rows("means", m["group"], m["domain"], m["n"], m["mean"], m["low"], m["high"])
    pd.testing.assert_frame_equal(MEANS.rows(source), by_hand)
    spec = FigureSpec(
        "flag",
        lambda s: s.means,
        group=Fixed("all"),
        measure="group",
        n="n",
        value=lambda f: (f["mean"] > 60).astype(float),
        by="group",
    )
    rows = spec.rows(source)
    assert rows["group"].tolist() == ["all"] * 4
    assert rows["value"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert rows["ci_low"].isna().all()
    assert set(rows["by"]) == {"group"}


def test_empty_or_missing_frames_and_filters_publish_nothing(source) -> None:
    specs = [
        FigureSpec("a", "nothing", group="g", measure="m", n="n", value="v"),
        FigureSpec("b", "missing", group="g", measure="m", n="n", value="v"),
        FigureSpec("c", "absent_attribute", group="g", measure="m", n="n", value="v"),
        FigureSpec(
            "d",
            "means",
            where=lambda f: f[f["n"] > 100],
            group="group",
            measure="domain",
            n="n",
            value="mean",
        ),
    ]
    assert build_figures(specs, source).empty
    assert len(build_figures([*specs, MEANS], source)) == 4
    assert build_figures(specs, {"means": source.means}).empty  # a mapping is read by key


def test_build_keeps_order_and_rounds(source) -> None:
    source.means.loc[0, "mean"] = 61.123456789
    figures = build_figures(
        [MEANS, FigureSpec("t2", "means", Fixed("all"), "group", "n", "n")], source
    )
    assert figures["table"].tolist() == ["means"] * 4 + ["t2"] * 4
    assert figures["value"].iloc[0] == 61.1235
    assert figures.index.tolist() == list(range(8))
    assert round_figures(pd.DataFrame({"value": [np.nan], "ci_low": [1 / 3], "ci_high": [2.0]}))[
        "ci_low"
    ].iloc[0] == pytest.approx(0.333333, abs=0)


def test_linked_tables_are_those_declared_linked() -> None:
    other = FigureSpec("other", "x", Fixed("all"), Fixed("m"), "n", "v")
    assert linked_tables([MEANS, other, MEANS]) == ("means",)


def test_published_rows_without_pattern_is_to_published(source) -> None:
    out = published_rows([MEANS], source, 5)
    assert list(out.columns) == list(PUBLISHED_COLUMNS)
    pd.testing.assert_frame_equal(out, to_published(build_figures([MEANS], source), 5))
    assert out["suppressed"].tolist() == [False, True, True, False]  # small cnst and its complement


def test_published_rows_follow_the_pattern_for_linked_tables_only(source) -> None:
    other = FigureSpec("other", "means", group="group", measure="domain", n="n", value="mean")
    pattern = pd.DataFrame(
        {
            "table": "means",
            "group": ["all", "cnst", "foster", "kinship"],
            "measure": "home",
            "hidden": [False, True, False, True],  # the batch hides kinship, not foster
        }
    )
    out = published_rows([MEANS, other], source, 5, pattern=pattern)
    assert out.loc[out["table"] == "means", "suppressed"].tolist() == [False, True, False, True]
    # the table not linked is protected on its own, as before
    assert out.loc[out["table"] == "other", "suppressed"].tolist() == [False, True, True, False]
    assert out.index.tolist() == list(range(8))


def test_published_rows_refuse_a_forbidden_label(source) -> None:
    from research_lib.disclosure.suppression import DisclosureError

    with pytest.raises(DisclosureError):
        published_rows([MEANS], source, 5, forbidden=["foster"])
