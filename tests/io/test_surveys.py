"""Validation rules: every reason a row is rejected, and that no row is ever lost."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from research_lib.errors import InputError
from research_lib.io.oblasts import load_oblasts, resolve_oblast
from research_lib.io.surveys import (
    AGE_RANGE,
    REQUIRED_COLUMNS,
    canonical_wave,
    latest_wave,
    load_responses,
    valid_schema,
    validate_responses,
    wave_order,
)
from research_lib.io.vocab import PLACEMENT_ALIASES, SEX_ALIASES
from research_lib.stats.scoring import score_responses
from tests.conftest import toy_row


def check(rows, book):
    return validate_responses(pd.DataFrame(rows), book)


def problems(result) -> list[tuple[int, str]]:
    return list(result.rejected[["row", "column"]].itertuples(index=False, name=None))


def test_clean_rows_are_all_valid_with_canonical_codes(toy_codebook):
    rows = [
        toy_row(),
        toy_row(respondent_id="r2", placement_type="ЦНСТ", oblast="област Пловдив", sex="ж"),
        toy_row(respondent_id="r3", placement_type="приемна грижа", oblast="Sofia City", sex="М"),
        toy_row(respondent_id="r4", placement_type="При близки и роднини", oblast="varna", sex=""),
        toy_row(respondent_id="r5", placement_type="семейство", h1=-9, h2=None),
        toy_row(respondent_id="r6", placement_type="Институция"),
    ]
    result = check(rows, toy_codebook)
    assert result.n_rows == 6 and result.n_valid == 6 and result.rejected.empty
    valid = result.valid
    assert list(valid.index) == [2, 3, 4, 5, 6, 7]
    assert valid["placement_type"].tolist() == [
        "cnst",
        "cnst",
        "foster",
        "kinship",
        "family",
        "institution",
    ]
    assert valid["oblast"].tolist()[:4] == ["BG421", "BG421", "BG411", "BG331"]
    assert valid["sex"].tolist()[:3] == ["f", "f", "m"] and pd.isna(valid["sex"].iloc[3])
    assert (
        valid.loc[6, "h1"] == -9
    )  # missing codes are kept as codes; scoring treats them as missing
    valid_schema(toy_codebook).validate(valid)


@pytest.mark.parametrize(
    ("override", "column", "words"),
    [
        ({"placement_type": "сиропиталище"}, "placement_type", "unknown placement type"),
        ({"placement_type": ""}, "placement_type", "placement_type is empty"),
        ({"oblast": "Атлантида"}, "oblast", "unknown oblast"),
        ({"oblast": None}, "oblast", "oblast is empty"),
        ({"age": 30}, "age", "outside 5-25"),
        ({"age": 4}, "age", "outside 5-25"),
        ({"age": "дванайсет"}, "age", "not a number"),
        ({"age": None}, "age", "age is empty"),
        ({"sex": "x"}, "sex", "unknown sex code"),
        ({"respondent_id": ""}, "respondent_id", "respondent_id is empty"),
        ({"service_id": None}, "service_id", "service_id is empty"),
        ({"wave": " "}, "wave", "wave is empty"),
        ({"wave": "2025b"}, "wave", "not a wave; write the wave as a year (2024)"),
        ({"wave": '<img src=x onerror="alert(1)">'}, "wave", "not a wave"),
        ({"wave": "2024-0"}, "wave", "not a wave"),
        ({"wave": "1850"}, "wave", "years 1990-2099"),
        ({"wave": "24"}, "wave", "not a wave"),
        ({"wave": 2024.5}, "wave", "not a wave"),
        ({"h1": 7}, "h1", "outside the scale 1…5"),
        ({"h1": 0}, "h1", "outside the scale 1…5"),
        ({"h1": 2.5}, "h1", "outside the scale 1…5"),
        ({"h3": 4}, "h3", "outside the scale 0…3"),
        ({"h1": "три"}, "h1", "text in an item column"),
        ({"h1": "n/a"}, "h1", "text in an item column"),
    ],
)
def test_each_rule_rejects_the_row_with_its_reason(toy_codebook, override, column, words):
    rows = [toy_row(), toy_row(**{"respondent_id": "bad", **override}), toy_row(respondent_id="r3")]
    if any(isinstance(v, str) for v in override.values()) and column in toy_codebook.item_ids:
        rows = [{k: str(v) for k, v in r.items()} for r in rows]  # text arrives as text
    result = check(rows, toy_codebook)
    assert problems(result) == [(3, column)]
    assert words in result.rejected.loc[0, "problem"]
    assert list(result.valid.index) == [2, 4]
    assert result.n_valid + result.n_rejected == 3


def test_value_is_reported_as_written(toy_codebook):
    rows = [{k: str(v) for k, v in toy_row(oblast="Атлантида", h1="три").items()}]
    rejected = check(rows, toy_codebook).rejected.set_index("column")
    assert rejected.loc["oblast", "value"] == "Атлантида" and rejected.loc["h1", "value"] == "три"


def test_second_row_with_same_id_is_rejected_and_first_kept(toy_codebook):
    rows = [toy_row(), toy_row(respondent_id="r2"), toy_row(), toy_row()]
    result = check(rows, toy_codebook)
    assert problems(result) == [(4, "respondent_id"), (5, "respondent_id")]
    assert "first in row 2" in result.rejected.loc[0, "problem"]
    assert list(result.valid.index) == [2, 3]


def test_a_row_with_several_problems_has_one_line_each_and_counts_once(toy_codebook):
    rows = [toy_row(), toy_row(respondent_id="b", age=99, sex="?", h1=9, v2=8)]
    result = check(rows, toy_codebook)
    assert sorted(c for _, c in problems(result)) == ["age", "h1", "sex", "v2"]
    assert result.n_rejected == 1 and result.n_valid == 1


def test_missing_codes_and_empty_answers_are_valid(toy_codebook):
    rows = [toy_row(h1=-9, h2=-8, h3=None, v1=None, v2=-9)]
    assert check(rows, toy_codebook).n_valid == 1


def test_weight_must_be_positive(toy_codebook):
    rows = [
        toy_row(weight=1.5),
        toy_row(respondent_id="b", weight=0),
        toy_row(respondent_id="c", weight=""),
    ]
    result = check(rows, toy_codebook)
    assert problems(result) == [(3, "weight")]
    assert result.valid["weight"].iloc[0] == 1.5


def test_spss_value_labels_map_background_codes(toy_codebook):
    rows = [toy_row(placement_type=4, sex=1), toy_row(respondent_id="b", placement_type=9, sex=2)]
    labels = {"placement_type": {1: "семейство", 4: "ЦНСТ"}, "sex": {1.0: "момиче", 2.0: "момче"}}
    result = validate_responses(pd.DataFrame(rows), toy_codebook, value_labels=labels)
    assert result.valid["placement_type"].tolist() == ["cnst"]
    assert result.valid["sex"].tolist() == ["f"]
    assert problems(result) == [(3, "placement_type")]


def test_missing_required_column_is_an_input_error(toy_codebook):
    frame = pd.DataFrame([toy_row()]).drop(columns=["oblast", "wave"])
    with pytest.raises(InputError, match="required column.*oblast, wave"):
        validate_responses(frame, toy_codebook)


def test_missing_item_column_is_an_input_error(toy_codebook):
    frame = pd.DataFrame([toy_row()]).drop(columns=["v2"])
    with pytest.raises(InputError, match="item column.*v2"):
        validate_responses(frame, toy_codebook)


def test_extra_columns_are_kept(toy_codebook):
    result = check([toy_row(voice="Искам собствена стая.", note="x")], toy_codebook)
    assert result.valid["voice"].iloc[0] == "Искам собствена стая."


def test_rows_are_conserved_on_the_synthetic_survey(qol_codebook, small_survey):
    """Planted problems: break a known set of rows, all of them and only them are rejected."""
    data = small_survey.astype("string")
    item = qol_codebook.item_ids[5]
    broken_at = {3: ("age", "40"), 10: ("oblast", "Nowhere"), 20: (item, "много"), 30: (item, "17")}
    for position, (column, value) in broken_at.items():
        data.iloc[position, data.columns.get_loc(column)] = value
    result = validate_responses(data, qol_codebook)
    assert result.n_valid + result.rejected["row"].nunique() == len(data)
    assert sorted(result.rejected["row"].unique()) == sorted(p + 2 for p in broken_at)
    assert set(REQUIRED_COLUMNS) <= set(result.valid.columns)
    valid_schema(qol_codebook).validate(result.valid)


def test_summary_and_problem_counts(toy_codebook):
    rows = [toy_row(), toy_row(respondent_id="b", age=99), toy_row(respondent_id="c", age=98)]
    result = check(rows, toy_codebook)
    assert result.summary().startswith("data: 3 rows read, 1 valid, 2 rejected")
    counts = result.problem_counts()
    assert counts.iloc[0].tolist() == ["age", "age is outside 5-25", 2]


# ----------------------------------------------------------------------------- waves and clashes


def test_waves_are_canonical_and_ordered_by_time_not_text(toy_codebook):
    """Planted: as text, "2024-10" < "2024-2" and "2025b" > "2025"; by time they are not."""
    rows = [
        toy_row(respondent_id="a", wave="2024-2"),
        toy_row(respondent_id="b", wave="2024-10"),
        toy_row(respondent_id="c", wave=" 2024-01 "),
        toy_row(respondent_id="d", wave=2025),
        toy_row(respondent_id="e", wave="2025b"),
        toy_row(respondent_id="f", wave="<img src=x onerror=alert(1)>"),
    ]
    result = check(rows, toy_codebook)
    assert result.valid["wave"].tolist() == ["2024-2", "2024-10", "2024-1", "2025"]
    assert problems(result) == [(6, "wave"), (7, "wave")]
    assert result.rejected["value"].tolist()[1] == "<img src=x onerror=alert(1)>"
    assert wave_order(result.valid["wave"]) == ["2024-1", "2024-2", "2024-10", "2025"]
    assert latest_wave(result.valid["wave"]) == "2025"
    assert sorted(["2025b", "2025"])[-1] == "2025b"  # what text order used to pick


def test_numeric_wave_from_a_spreadsheet_or_spss_reads_as_a_year(toy_codebook):
    frame = pd.DataFrame([toy_row(), toy_row(respondent_id="r2")])
    frame["wave"] = [2024.0, 2025.0]
    result = validate_responses(frame, toy_codebook)
    assert result.rejected.empty and result.valid["wave"].tolist() == ["2024", "2025"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024", "2024"),
        ("2024-02", "2024-2"),
        (2024, "2024"),
        ("2024-12", "2024-12"),
        ("2025b", None),
        ("2024/1", None),
        ("", None),
        (None, None),
        (True, None),
        ("2100", None),
    ],
)
def test_canonical_wave(value, expected):
    assert canonical_wave(value) == expected


def test_wave_order_refuses_a_value_that_is_not_a_wave():
    with pytest.raises(InputError, match="'2025b' is not a wave"):
        wave_order(["2024", "2025b"])


@pytest.mark.parametrize(
    ("column", "words"),
    [
        ("home", "column 'home' has the name of domain 'home'"),
        ("low_home", "column 'low_home' has the name of the low-score flag of domain 'home'"),
        ("say", "column 'say' has the name of domain 'say'"),
    ],
)
def test_a_data_column_named_like_a_score_is_refused_naming_both(toy_codebook, column, words):
    """Issue 15: ``score`` used to end in a pandas traceback (columns overlap) here."""
    with pytest.raises(InputError) as err:
        check([toy_row(**{column: "x"})], toy_codebook)
    assert words in str(err.value) and "toy-v1" in str(err.value)


def test_cli_score_with_a_clashing_column_exits_2_without_traceback(tmp_path, capsys):
    import yaml

    from research_lib.runner.cli import main
    from tests.conftest import TOY

    book = tmp_path / "toy.yaml"
    book.write_text(yaml.safe_dump(TOY, allow_unicode=True), encoding="utf-8")
    survey = tmp_path / "survey.csv"
    pd.DataFrame([toy_row(home="x"), toy_row(respondent_id="r2", home="y")]).to_csv(
        survey, index=False
    )
    assert main(["score", str(survey), "--codebook", str(book)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: survey.csv: column 'home'") and "Traceback" not in err


# ----------------------------------------------------------------- mixed spellings vs reference


def _reference_row(row: dict, book) -> tuple[dict, list[tuple[str, str]]]:
    """One row validated the straightforward way: each cell stripped and looked up alone.

    Independent of the vectorised code (no factorising, no distinct values): the
    rules of the module docstring applied cell by cell with the same vocabularies.
    Returns the canonical background values and the (column, problem start) pairs.
    """

    def text(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        value = str(value).strip()
        return value or None

    canon, problems = {}, []
    for column in ("respondent_id", "service_id"):
        canon[column] = text(row[column])
        if canon[column] is None:
            problems.append((column, f"{column} is empty"))
    wave = text(row["wave"])
    canon["wave"] = canonical_wave(wave) if wave is not None else None
    if wave is None:
        problems.append(("wave", "wave is empty"))
    elif canon["wave"] is None:
        problems.append(("wave", "not a wave"))
    placement = text(row["placement_type"])
    canon["placement_type"] = (
        None if placement is None else PLACEMENT_ALIASES.get(placement.lower())
    )
    if placement is None:
        problems.append(("placement_type", "placement_type is empty"))
    elif canon["placement_type"] is None:
        problems.append(("placement_type", "unknown placement type"))
    oblast = text(row["oblast"])
    try:
        canon["oblast"] = None if oblast is None else resolve_oblast(oblast)
    except InputError:
        canon["oblast"] = None
    if oblast is None:
        problems.append(("oblast", "oblast is empty"))
    elif canon["oblast"] is None:
        problems.append(("oblast", "unknown oblast"))
    age = text(row["age"])
    try:
        canon["age"] = None if age is None else float(age)
    except ValueError:
        canon["age"] = None
    if age is None:
        problems.append(("age", "age is empty"))
    elif canon["age"] is None:
        problems.append(("age", "age is not a number"))
    elif not AGE_RANGE[0] <= canon["age"] <= AGE_RANGE[1]:
        problems.append(("age", "age is outside"))
    sex = text(row["sex"])
    canon["sex"] = None if sex is None else SEX_ALIASES.get(sex.lower())
    if sex is not None and canon["sex"] is None:
        problems.append(("sex", "unknown sex code"))
    for item in book.items:
        scale = book.scales[item.scale]
        answer = text(row[item.id])
        if answer is None:
            continue
        try:
            number = float(answer)
        except ValueError:
            problems.append((item.id, "text in an item column"))
            continue
        on_scale = number.is_integer() and scale.min <= number <= scale.max
        if not on_scale and number not in book.missing_codes:
            problems.append((item.id, "answer outside the scale"))
    return canon, problems


def _mixed_rows(book, n: int, seed: int) -> list[dict]:
    """Rows with every accepted spelling, shuffled ids, and a sprinkling of bad values."""
    rng = np.random.default_rng(seed)
    oblasts = load_oblasts()
    names = [*oblasts.index, *oblasts.name_bg, *oblasts.name_en, *oblasts.slug]
    names += [f"област {name}" for name in oblasts.name_bg]

    def spellings(words):
        return [v for w in words for v in (w, w.upper(), w.title(), f" {w}", f"{w}  ")]

    good = {
        "placement_type": spellings(list(PLACEMENT_ALIASES)),
        "oblast": spellings(names),
        "sex": spellings(list(SEX_ALIASES)) + ["", " "],
        "wave": ["2025", "2025-1", " 2025-01", "2024-2 "],
        "age": ["12", " 9", "17 ", "12.5"],
    }
    bad = {
        "placement_type": ["сиропиталище", "", "  "],
        "oblast": ["Атлантида", "BG999", " ", ""],
        "sex": ["x", "X"],
        "wave": ["2025b", "1850", "", "2024-0"],
        "age": ["30", "4", "дванайсет", ""],
    }

    def pick(choices: list[str], errors: list[str], p: float) -> str:
        return str(rng.choice(errors if rng.random() < p else choices))

    ids = [f"r{i:05d}" for i in rng.permutation(n)]
    rows = []
    for i in range(n):
        row = {"respondent_id": ids[i], "service_id": f"s{i % 37}"}
        row |= {column: pick(good[column], bad[column], 0.02) for column in good}
        for item in book.items:
            row[item.id] = pick(["1", "2", "3", "-9", "-8", ""], ["0", "7", "2.5", "a"], 0.01)
        rows.append(row)
    rows[5]["respondent_id"] = rows[3]["respondent_id"]  # a repeat, ids not in order
    rows[8]["service_id"] = " "
    return rows


def test_mixed_spellings_match_a_cell_by_cell_reference(toy_codebook, tmp_path):
    """Every accepted spelling read from a CSV gives what a cell-by-cell reading gives.

    Reference: :func:`_reference_row`, the rules applied one cell at a time with
    the vocabularies (``PLACEMENT_ALIASES``, ``SEX_ALIASES``, ``resolve_oblast``,
    ``canonical_wave``); the vectorised loader maps distinct spellings once.
    Scores are checked against a plain per-row mean of the rescaled items.
    """
    rows = _mixed_rows(toy_codebook, 3000, seed=11)
    path = tmp_path / "mixed.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    result = load_responses(path, toy_codebook)

    expected_valid, expected_problems, seen = {}, {}, set()
    for number, row in enumerate(rows, start=2):
        canon, found = _reference_row(row, toy_codebook)
        rid = canon["respondent_id"]
        if rid is not None and rid in seen:
            found.append(("respondent_id", "a second row with this respondent_id"))
        seen.add(rid)
        expected_problems |= {(number, column): words for column, words in found}
        if not found:
            expected_valid[number] = canon
    lines = result.rejected
    got = dict(zip(zip(lines["row"], lines["column"], strict=True), lines["problem"], strict=True))
    assert len(got) == len(lines) and got.keys() == expected_problems.keys()
    assert all(got[key].startswith(words) for key, words in expected_problems.items())
    assert list(result.valid.index) == sorted(expected_valid)
    assert result.n_rows == len(rows) and 0 < result.n_valid < len(rows)
    for column in ("placement_type", "oblast", "sex", "wave", "respondent_id", "service_id"):
        want = [expected_valid[r][column] for r in result.valid.index]
        have = [None if pd.isna(v) else v for v in result.valid[column]]
        assert have == want, column
    assert result.valid["age"].tolist() == [expected_valid[r]["age"] for r in result.valid.index]
    valid_schema(toy_codebook).validate(result.valid)

    scores = score_responses(result.valid, toy_codebook)
    for domain in toy_codebook.domains:
        items = toy_codebook.items_of(domain.id)
        for rid, answers in zip(
            result.valid["respondent_id"],
            result.valid[[i.id for i in items]].to_numpy(),
            strict=True,
        ):
            points = []
            for item, value in zip(items, answers, strict=True):
                scale = toy_codebook.scales[item.scale]
                if scale.min <= value <= scale.max:
                    top = scale.max - value if item.reverse else value - scale.min
                    points.append(top * (100.0 / (scale.max - scale.min)))
            enough = len(points) >= max(math.ceil(domain.min_valid * len(items)), 1)
            expected = sum(points) / len(points) if enough else None
            got_score = scores.at[rid, domain.id]
            assert (pd.isna(got_score) and expected is None) or got_score == expected
