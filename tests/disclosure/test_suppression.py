"""Disclosure control: primary and secondary suppression, the published.csv contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from research_lib.disclosure.suppression import (
    PUBLISHED_COLUMNS,
    DisclosureError,
    check_published,
    read_published,
    suppress_mean_table,
    to_published,
    write_published,
)
from research_lib.errors import InputError


def suppress_small(frame: pd.DataFrame, min_cell: int = 5) -> pd.DataFrame:
    """Primary suppression only: a mean table without a total row."""
    return suppress_mean_table(frame, min_cell, total_group=None)


def figures(n, values=None, groups=None, table="t", measure="mean_home", **extra):
    """Figures with the 7 required columns; value = 50 + i, CI = value -/+ 5."""
    values = [50.0 + i for i in range(len(n))] if values is None else values
    groups = [f"g{i}" for i in range(len(n))] if groups is None else groups
    frame = pd.DataFrame(
        {
            "table": table,
            "group": groups,
            "measure": measure,
            "n": n,
            "value": values,
            "ci_low": [v - 5 for v in values],
            "ci_high": [v + 5 for v in values],
        }
    )
    return frame.assign(**extra)


# --------------------------------------------------------------------------- primary


@pytest.mark.parametrize(
    ("min_cell", "n", "hidden"),
    [(5, 4, True), (5, 5, False), (5, 0, True), (10, 9, True), (10, 10, False), (10, 5, True)],
)
def test_primary_suppression_at_the_boundary(min_cell, n, hidden):
    out = suppress_small(figures([n]), min_cell=min_cell)
    assert bool(out.loc[0, "suppressed"]) is hidden
    blank = out.loc[0, ["n", "value", "ci_low", "ci_high"]].isna()
    assert blank.all() if hidden else not blank.any()


def test_unknown_n_is_suppressed_and_shown_values_are_kept():
    out = suppress_small(figures([np.nan, 12], values=[10.0, 20.0]))
    assert out["suppressed"].tolist() == [True, False]
    assert out.loc[1, ["n", "value", "ci_low", "ci_high"]].tolist() == [12, 20.0, 15.0, 25.0]


def test_a_row_already_suppressed_stays_suppressed():
    out = suppress_small(figures([50, 60], suppressed=[True, False]))
    assert out["suppressed"].tolist() == [True, False]
    assert out.loc[0, ["n", "value"]].isna().all()


def test_a_difference_follows_the_smaller_group():
    """A difference row carries min(n_a, n_b): hidden when either group is too small."""
    n_a, n_b = 40, 4
    diff = figures([min(n_a, n_b)], values=[7.5], groups=["cnst - foster"], measure="diff")
    assert suppress_small(diff)["suppressed"].item()


def test_input_is_not_modified_and_bad_min_cell_is_refused():
    data = figures([3, 8])
    before = data.copy()
    suppress_small(data)
    pd.testing.assert_frame_equal(data, before)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InputError, match="min_cell"):
            suppress_small(data, min_cell=bad)
    with pytest.raises(InputError, match="ci_low"):
        suppress_small(data.drop(columns="ci_low"))


# --------------------------------------------------------------------------- mean tables


def test_one_hidden_group_gets_a_complement_when_the_total_is_shown():
    """Hand-worked: total 30 children, mean 5.0; a=4 (hidden), b=10, c=16.

    Without a complement: value_a = (30*5.0 - 10*4.0 - 16*7.0) / (30 - 10 - 16).
    The complement is the shown group with the smallest n: b.
    """
    data = figures([30, 4, 10, 16], values=[5.0, 1.0, 4.0, 7.0], groups=["all", "a", "b", "c"])
    out = suppress_mean_table(data)
    assert out["suppressed"].tolist() == [False, True, True, False]
    assert out.loc[[1, 2], ["n", "value"]].isna().all().all()


def test_no_complement_without_a_total_or_with_two_hidden_groups():
    no_total = figures([4, 10, 16], groups=["a", "b", "c"])
    assert suppress_mean_table(no_total)["suppressed"].tolist() == [True, False, False]
    two_hidden = figures([30, 4, 3, 23], groups=["all", "a", "b", "c"])
    assert suppress_mean_table(two_hidden)["suppressed"].tolist() == [False, True, True, False]


def test_the_only_group_hides_the_total():
    data = figures([6, 4], groups=["all", "a"], by=["all", "sex"])
    assert suppress_mean_table(data)["suppressed"].tolist() == [True, True]


def test_each_grouping_variable_is_protected_on_its_own():
    """One small placement type and one small age band: two hidden rows in the table,
    but each variable's groups add up to the total, so each needs its own complement."""
    data = figures(
        [40, 3, 12, 25, 4, 14, 22],
        groups=["all", "cnst", "foster", "kinship", "8-10", "11-13", "14-17"],
        by=["all", "placement_type", "placement_type", "placement_type", "age", "age", "age"],
    )
    out = suppress_mean_table(data)
    assert out["suppressed"].tolist() == [False, True, True, False, True, True, False]


def test_to_published_applies_complementary_suppression_and_drops_other_columns():
    data = figures(
        [30, 4, 10, 16],
        groups=["all", "a", "b", "c"],
        respondent_id=["R1", "R2", "R3", "R4"],
        by=["all", "x", "x", "x"],
    )
    data.index = ["R1", "R2", "R3", "R4"]
    out = to_published(data)
    assert tuple(out.columns) == PUBLISHED_COLUMNS
    assert list(out.index) == [0, 1, 2, 3]
    assert out["suppressed"].tolist() == [False, True, True, False]


# --------------------------------------------------------------------------- published.csv


def test_written_csv_has_exactly_the_columns_and_empty_suppressed_fields(tmp_path):
    data = figures([4, 5, 120], values=[10.25, 20.5, 30.0], groups=["ЦНСТ", "приемна", "all"])
    data["respondent_id"] = ["R2024-00001", "R2024-00002", "R2024-00003"]
    path = write_published(data, tmp_path / "out" / "published.csv", total_group=None)
    assert path == tmp_path / "out" / "published.csv"

    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(PUBLISHED_COLUMNS)
    assert lines[1] == "t,ЦНСТ,mean_home,,,,,True"
    assert lines[2] == "t,приемна,mean_home,5,20.5,15.5,25.5,False"
    assert lines[3] == "t,all,mean_home,120,30.0,25.0,35.0,False"
    assert "R2024" not in path.read_text(encoding="utf-8")

    back = pd.read_csv(path, encoding="utf-8")
    assert tuple(back.columns) == PUBLISHED_COLUMNS
    assert back.loc[0, ["n", "value", "ci_low", "ci_high"]].isna().all()
    assert back.loc[1:, ["n", "value", "ci_low", "ci_high"]].notna().all().all()
    assert back["suppressed"].tolist() == [True, False, False]


def test_read_published_round_trip(tmp_path):
    data = figures([4, 5], groups=["NA", "b"])
    path = write_published(data, tmp_path / "published.csv")
    back = read_published(path)
    assert back["group"].tolist() == ["NA", "b"]
    pd.testing.assert_frame_equal(back, to_published(data))


def test_read_published_undoes_the_formula_escape_of_labels(tmp_path):
    """write_csv quotes a label beginning with = + - @; read_published takes the quote off."""
    data = figures([6, 7, 8], groups=["-1 to 0", "=x", "@home"], table="+t", measure="-m")
    path = write_published(data, tmp_path / "published.csv")
    assert "'-1 to 0" in path.read_text(encoding="utf-8")
    back = read_published(path)
    assert back["group"].tolist() == ["-1 to 0", "=x", "@home"]
    assert set(back["table"]) == {"+t"} and set(back["measure"]) == {"-m"}
    pd.testing.assert_frame_equal(back, to_published(data))


# --------------------------------------------------------------------------- check_published


def published(changes=None):
    """A valid published frame: one shown row, one suppressed row; then apply changes."""
    frame = to_published(figures([20, 3], groups=["a", "b"]), total_group=None)
    frame = frame.astype({"n": "float64"})
    for (row, column), value in (changes or {}).items():
        frame.loc[row, column] = value
    return frame


def test_a_valid_frame_passes():
    check_published(published())
    check_published(published(), forbidden=["R2024-00001"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({(0, "n"): 4.0}, "below min_cell"),
        ({(0, "n"): np.nan}, "below min_cell"),
        ({(1, "value"): 50.0}, "value or CI not empty"),
        ({(1, "ci_low"): 45.0}, "value or CI not empty"),
        ({(1, "ci_high"): 55.0}, "value or CI not empty"),
        ({(1, "n"): 3.0}, "n not empty"),
        ({(0, "group"): "R2024-00017"}, "respondent id"),
        ({(0, "measure"): "voice of R2024-00017"}, "respondent id"),
    ],
)
def test_check_published_catches_each_violation(changes, message):
    with pytest.raises(DisclosureError, match=message) as caught:
        check_published(published(changes), forbidden=["R2024-00017", "R2024-00018"])
    assert "R2024-00017" not in str(caught.value)


def test_check_published_uses_min_cell():
    frame = published()  # shown row has n = 20
    check_published(frame, min_cell=20)
    with pytest.raises(DisclosureError, match="min_cell=21"):
        check_published(frame, min_cell=21)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda f: f.assign(respondent_id="R1"),
        lambda f: f.drop(columns="ci_high"),
        lambda f: f[list(PUBLISHED_COLUMNS[::-1])],
    ],
    ids=["extra column", "missing column", "wrong order"],
)
def test_check_published_wants_exactly_the_columns(mangle):
    with pytest.raises(DisclosureError, match="exactly the columns"):
        check_published(mangle(published()))


def test_check_published_lists_all_problems_and_is_a_value_error():
    frame = published({(0, "n"): 2.0, (1, "value"): 1.0}).astype({"suppressed": object})
    frame.loc[1, "suppressed"] = "maybe"
    with pytest.raises(ValueError) as caught:
        check_published(frame)
    assert isinstance(caught.value, DisclosureError)
    text = str(caught.value)
    assert "rows [0]: shown although n is missing or below min_cell" in text
    assert "rows [1]: 'suppressed' must be True or False" in text


def test_to_published_refuses_a_label_holding_a_respondent_id():
    data = figures([20, 30], groups=["R2024-00001", "b"])
    with pytest.raises(DisclosureError, match="respondent id"):
        to_published(data, forbidden=["R2024-00001"])


# --------------------------------------------------------------------------- linked pattern


def test_write_published_keeps_the_pattern_of_published_figures(tmp_path):
    """A frame already in the published layout (its pattern possibly chosen for the whole
    batch) is checked and written as it is: no complementary suppression is added."""
    from research_lib.disclosure.linked import apply_pattern

    data = figures([30, 0, 10, 20], groups=["all", "a", "b", "c"])
    pattern = pd.DataFrame({"table": "t", "group": ["a"], "measure": "mean_home", "hidden": [True]})
    published = apply_pattern(data, pattern).loc[:, list(PUBLISHED_COLUMNS)]
    assert published["suppressed"].tolist() == [False, True, False, False]
    back = read_published(write_published(published, tmp_path / "published.csv"))
    assert back["suppressed"].tolist() == [False, True, False, False]
    # the same figures not yet published get the per-table complement
    assert to_published(data)["suppressed"].sum() == 2
