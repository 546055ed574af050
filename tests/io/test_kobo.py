"""Round trip: XLSForm -> (simulated) KoboToolbox exports -> survey loader -> scores.

The exports are built here from the generated XLSForm *file* (its survey and
choices sheets, read back with openpyxl), the way KoboToolbox builds them: group
prefixes in the headers, choice names ("XML values and headers") or question and
choice labels ("labels"), and Kobo's metadata columns. The reference is the
same answers written as a plain CSV in codebook codes: both must load with zero
rejected rows and give identical scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from research_lib.fielding.xlsform import LANGUAGES, write_xlsform
from research_lib.io.codebook import load_codebook
from research_lib.io.kobo import DECLINED_PROBLEM
from research_lib.io.surveys import load_responses
from research_lib.paths import SURVEYS_DIR
from research_lib.stats.scoring import score_responses

BOOK = load_codebook(SURVEYS_DIR / "qol-child-v1.yaml")
KOBO_METADATA = [
    "_id",
    "_uuid",
    "_submission_time",
    "_validation_status",
    "_notes",
    "_status",
    "_submitted_by",
    "__version__",
    "_tags",
    "_index",
]


def plain_answers(n: int = 40, seed: int = 14) -> pd.DataFrame:
    """Answers in codebook codes, as a plain CSV would hold them (planted, seeded)."""
    rng = np.random.default_rng(seed)
    oblasts = ["BG411", "BG421", "BG311", "BG425", "BG331"]
    data = {
        "respondent_id": [f"r{i:03d}" for i in range(n)],
        "service_id": rng.choice(["S-01", "S-02", "ЦНСТ-3"], n),
        "placement_type": rng.choice(["family", "kinship", "foster", "cnst", "institution"], n),
        "oblast": rng.choice(oblasts, n),
        "age": rng.integers(8, 18, n),
        "sex": rng.choice(["f", "m", None], n, p=[0.45, 0.45, 0.1]),
        "wave": "2026",
        "assent": "yes",
        "fam_filter": rng.choice([0, 1], n, p=[0.2, 0.8]),
        "sch_filter": rng.choice([0, 1], n, p=[0.1, 0.9]),
    }
    frame = pd.DataFrame(data)
    for item in BOOK.items:
        scale = BOOK.scales[item.scale]
        values = rng.integers(scale.min, scale.max + 1, n).astype(float)
        special = rng.random(n)
        values[special < 0.04] = -8
        values[(special >= 0.04) & (special < 0.07)] = -7
        values[(special >= 0.07) & (special < 0.10)] = np.nan
        frame[item.id] = values
    for column in BOOK.item_ids:
        if column.startswith("fam_"):
            frame.loc[frame["fam_filter"] == 0, column] = np.nan
        if column.startswith("sch_"):
            frame.loc[frame["sch_filter"] == 0, column] = np.nan
    frame["voice"] = [
        'Повече време навън, и "свобода"; =1+1' if i % 3 == 0 else None for i in range(n)
    ]
    return frame


def read_form(path: Path) -> tuple[list[dict], dict[str, dict[str, dict[str, str]]]]:
    """Survey rows and ``{list: {code: {language column: label}}}`` of an XLSForm file."""
    workbook = load_workbook(path, read_only=True)

    def rows(name: str) -> list[dict]:
        sheet = list(workbook[name].iter_rows(values_only=True))
        return [dict(zip(sheet[0], row, strict=False)) for row in sheet[1:]]

    choices: dict[str, dict[str, dict[str, str]]] = {}
    for row in rows("choices"):
        choices.setdefault(row["list_name"], {})[str(row["name"])] = row
    return rows("survey"), choices


def kobo_export(
    form: Path, answers: pd.DataFrame, *, labels: str | None = None, groups: bool = True
) -> pd.DataFrame:
    """A Kobo export of ``answers`` submitted to ``form``.

    ``labels=None`` is "XML values and headers"; ``labels="bg"`` / ``"en"`` is
    "labels" in that language. With ``groups`` headers carry the group path.
    """
    survey, choices = read_form(form)
    label_column = f"label::{LANGUAGES[labels]}" if labels else None
    path: list[str] = []
    columns: dict[str, list] = {}
    for row in survey:
        kind = str(row["type"] or "")
        if kind == "begin_group":
            path.append(row[label_column] if labels else row["name"])
            continue
        if kind == "end_group":
            path.pop()
            continue
        if kind == "note":
            continue
        name = row["name"]
        if kind in ("start", "end"):
            columns[name] = [
                f"2026-03-0{1 + i % 9}T10:{i % 60:02d}:00.000+02:00" for i in range(len(answers))
            ]
            continue
        header = row[label_column] if labels and row.get(label_column) else name
        header = "/".join([*path, header]) if groups and path else header
        values = answers[name] if name in answers.columns else pd.Series([None] * len(answers))
        out = []
        for value in values:
            if value is None or (isinstance(value, float) and np.isnan(value)):
                out.append(None)
                continue
            code = (
                str(int(value))
                if isinstance(value, float | np.floating | np.integer | int)
                else str(value)
            )
            if kind.startswith("select_one") and labels:
                out.append(choices[kind.split()[1]][code][label_column])
            else:
                out.append(code)
        columns[header] = out
    export = pd.DataFrame(columns)
    n = len(answers)
    export["_id"] = range(1000, 1000 + n)
    export["_uuid"] = [f"6f1c2e7a-0000-4000-8000-{i:012d}" for i in range(n)]
    export["_submission_time"] = "2026-03-02T09:00:00"
    export["_validation_status"] = None
    export["_notes"] = "[]"
    export["_status"] = "submitted_via_web"
    export["_submitted_by"] = None
    export["__version__"] = "vL2k9s"
    export["_tags"] = "[]"
    export["_index"] = range(1, n + 1)
    return export


@pytest.fixture(scope="module")
def form(tmp_path_factory) -> Path:
    return write_xlsform(BOOK, tmp_path_factory.mktemp("form") / "form.xlsx", wave="2026")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The plain CSV in codebook codes, loaded and scored: the reference."""
    answers = plain_answers()
    path = tmp_path_factory.mktemp("plain") / "plain.csv"
    answers.to_csv(path, index=False)
    result = load_responses(path, BOOK)
    assert result.n_rejected == 0, result.summary()
    return answers, result


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False, sep=";", encoding="utf-8")  # Kobo's default delimiter
    else:
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append([None if pd.isna(v) else v for v in row])
        workbook.save(path)
    return path


@pytest.mark.parametrize(
    ("labels", "groups", "suffix"),
    [
        (None, True, ".csv"),  # XML values and headers, with groups
        (None, False, ".xlsx"),  # XML values, no groups, Excel export
        ("bg", True, ".csv"),  # labels (default language), with groups
        ("en", True, ".xlsx"),  # labels in English, Excel export
        ("bg", False, ".xlsx"),
    ],
)
def test_kobo_export_loads_like_the_plain_csv(form, reference, tmp_path, labels, groups, suffix):
    answers, expected = reference
    export = kobo_export(form, answers, labels=labels, groups=groups)
    if labels:  # the labels variant really has labels, not codes
        assert "Никога" in export.to_numpy() or "Never" in export.to_numpy()
        assert "rel_01" not in export.columns
    result = load_responses(_write(export, tmp_path / f"export{suffix}"), BOOK)
    assert result.format.startswith("kobo")
    assert result.n_rejected == 0, result.summary()
    assert result.n_valid == len(answers)
    assert {"_uuid", "_submission_time", "start", "end", "_index"} <= set(result.metadata.columns)
    got = result.valid.set_index("respondent_id")
    want = expected.valid.set_index("respondent_id")
    for column in [*BOOK.item_ids, "age"]:
        np.testing.assert_array_equal(got[column].to_numpy(float), want[column].to_numpy(float))
    for column in ("placement_type", "oblast", "sex", "service_id", "wave", "voice"):
        assert got[column].astype(object).where(got[column].notna(), None).tolist() == (
            want[column].astype(object).where(want[column].notna(), None).tolist()
        ), column
    pd.testing.assert_frame_equal(
        score_responses(result.valid, BOOK), score_responses(expected.valid, BOOK)
    )


def test_declined_assent_is_rejected_with_its_reason(form, tmp_path):
    answers = plain_answers(6)
    declined = answers.index[[1, 4]]
    answers.loc[declined, "assent"] = "no"
    answers.loc[declined, [c for c in answers.columns if c not in ("respondent_id", "assent")]] = (
        np.nan
    )
    for labels in (None, "bg"):
        export = kobo_export(form, answers, labels=labels)
        result = load_responses(_write(export, tmp_path / f"declined_{labels}.csv"), BOOK)
        assert result.n_rows == 6
        assert result.n_valid == 4
        assert sorted(result.rejected["row"].unique()) == [3, 6]  # header is row 1
        assert set(result.rejected["column"]) == {"assent"}
        assert set(result.rejected["problem"]) == {DECLINED_PROBLEM}


def test_a_wrong_label_is_rejected_with_row_and_column(form, tmp_path):
    answers = plain_answers(5)
    export = kobo_export(form, answers, labels="bg", groups=False)
    header = BOOK.item_text("rel_02", "bg")
    export.loc[2, header] = "Понякога!"  # not a label of the scale
    result = load_responses(_write(export, tmp_path / "typo.csv"), BOOK)
    assert result.n_rejected == 1
    line = result.rejected.iloc[0]
    assert (line["row"], line["column"], line["value"]) == (4, "rel_02", "Понякога!")
