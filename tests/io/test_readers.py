"""Tests for research_lib.io.readers: every format, row numbers, text fidelity, input errors.

All files are built in ``tmp_path`` by the helpers below; nothing is committed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from research_lib.errors import InputError
from research_lib.io.readers import MALFORMED_COLUMNS, RawTable, read_table

# --------------------------------------------------------------------------- builders


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write *text* exactly as given (no newline translation)."""
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]], sheet: str = "data") -> Path:
    """Workbook whose first sheet holds *rows* from cell A1 (openpyxl, a dev dependency)."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def texts(table: RawTable, column: str) -> list[object]:
    """Column values as a list with missing values as None (easy to compare)."""
    series = table.data[column]
    return [None if pd.isna(v) else v for v in series.tolist()]


def is_text(series: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(series) or series.dtype == object


# --------------------------------------------------------------------------- CSV encodings and delimiters


def test_cp1251_semicolon_csv_with_cyrillic(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "surveys.csv",
        "id;област;услуга;q1\r\n1;София;Център за настаняване;3\r\n2;Пловдив;Приемна грижа;4\r\n",
        encoding="cp1251",
    )
    table = read_table(path, numeric_columns=["q1"])
    assert (table.format, table.encoding, table.delimiter) == ("csv", "cp1251", ";")
    assert list(table.data.columns) == ["id", "област", "услуга", "q1"]
    assert texts(table, "област") == ["София", "Пловдив"]
    assert texts(table, "услуга") == ["Център за настаняване", "Приемна грижа"]
    assert table.data["q1"].dtype == np.float64
    assert list(table.data.index) == [2, 3]
    assert table.data.index.name == "row"


def test_cp1251_detected_when_cyrillic_appears_late(tmp_path: Path) -> None:
    ascii_rows = "".join(f"{i};x;1\n" for i in range(20_000))  # longer than the detection sample
    path = write_text(tmp_path / "late.csv", "id;name;q\n" + ascii_rows + "99;Русе;2\n", "cp1251")
    table = read_table(path)
    assert table.encoding == "cp1251"
    assert table.data["name"].iloc[-1] == "Русе"
    assert table.data.index[-1] == 20_002


def test_utf8_bom_comma_csv(tmp_path: Path) -> None:
    path = write_text(tmp_path / "bom.csv", "\ufeffrespondent_id,oblast\nR1,Варна\nR2,Бургас\n")
    table = read_table(path)
    assert (table.encoding, table.delimiter) == ("utf-8-sig", ",")
    assert list(table.data.columns) == ["respondent_id", "oblast"]
    assert texts(table, "oblast") == ["Варна", "Бургас"]


def test_plain_utf8_is_reported(tmp_path: Path) -> None:
    table = read_table(write_text(tmp_path / "u.csv", "a,b\n1,Русе\n"))
    assert table.encoding == "utf-8"


def test_tab_separated(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "items.tsv", "id\tname, full\tq1\n1\tIvanov, Petar\t2\n2\tPetrova\t5\n"
    )
    table = read_table(path, numeric_columns=["q1"])
    assert table.delimiter == "\t"
    assert texts(table, "name, full") == ["Ivanov, Petar", "Petrova"]
    assert table.data["q1"].tolist() == [2.0, 5.0]


@pytest.mark.parametrize(
    ("text", "delimiter", "columns"),
    [
        ("id;score;w\n1;2,5;1,1\n2;3,5;2,2\n", ";", ["id", "score", "w"]),
        (
            "id;name, surname;age\n1;Ivanov, P;12\n2;Petrova, M;13\n",
            ";",
            ["id", "name, surname", "age"],
        ),
        ('id,note,q\n1,"a;b;c",2\n2,"x;y",3\n', ",", ["id", "note", "q"]),
    ],
)
def test_delimiter_not_fooled_by_values(
    tmp_path: Path, text: str, delimiter: str, columns: list[str]
) -> None:
    table = read_table(write_text(tmp_path / "d.csv", text))
    assert table.delimiter == delimiter
    assert list(table.data.columns) == columns
    assert table.malformed.empty


def test_txt_extension_is_csv(tmp_path: Path) -> None:
    table = read_table(write_text(tmp_path / "export.txt", "a;b\n1;2\n"))
    assert (table.format, table.delimiter) == ("csv", ";")


# --------------------------------------------------------------------------- quoting, row numbers, malformed rows


def test_quoted_delimiter_and_newline_keep_row_numbers(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "quoted.csv",
        'id,comment,q1\n1,"ok, fine",3\n2,"first line\nsecond line",4\n3,plain,5\n',
    )
    table = read_table(path, numeric_columns=["q1"])
    assert list(table.data.index) == [2, 3, 4]
    assert texts(table, "comment") == ["ok, fine", "first line\nsecond line", "plain"]
    assert table.data.loc[4, "id"] == "3"
    assert table.malformed.empty
    assert table.n_rows == 3


def test_rows_with_wrong_field_count_go_to_malformed(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "bad.csv",
        "id,comment,q1\n"
        '1,"two\nlines",1\n'  # row 2 (two physical lines)
        "2,too,many,5\n"  # row 3: 4 fields
        "3,ok,2\n"  # row 4
        "4,few\n"  # row 5: 2 fields
        "5,last,3\n",  # row 6
    )
    table = read_table(path, numeric_columns=["q1"])
    assert list(table.data.index) == [2, 4, 6]
    assert texts(table, "id") == ["1", "3", "5"]
    assert table.data["q1"].tolist() == [1.0, 2.0, 3.0]
    bad = table.malformed
    assert list(bad.columns) == list(MALFORMED_COLUMNS)
    assert bad["row"].tolist() == [3, 5]
    assert bad["value"].tolist() == ["2,too,many,5", "4,few"]
    assert set(bad["column"]) == {"*"}
    assert "4 fields, the header has 3" in bad["problem"].iloc[0]
    assert "comma" in bad["problem"].iloc[0]
    assert "2 fields, the header has 3" in bad["problem"].iloc[1]
    assert table.n_rows == 5 == len(table.data) + bad["row"].nunique()


def test_unclosed_quote_is_explained(tmp_path: Path) -> None:
    path = write_text(tmp_path / "q.csv", 'id,note,q\n1,ok,1\n2,"never closed,2\n3,x,3\n')
    table = read_table(path)
    assert list(table.data.index) == [2]
    assert table.malformed["row"].tolist() == [3]
    assert "stray double quote" in table.malformed["problem"].iloc[0]


def test_header_with_quoted_line_break(tmp_path: Path) -> None:
    path = write_text(tmp_path / "h.csv", 'id,"two\nlines",q\r\n1,2,3\r\n4,5,6\r\n')
    table = read_table(path, ["q"])
    assert list(table.data.columns) == ["id", "two\nlines", "q"]
    assert list(table.data.index) == [2, 3]
    assert table.data["q"].tolist() == [3.0, 6.0]


def test_malformed_raw_text_is_truncated(tmp_path: Path) -> None:
    path = write_text(tmp_path / "long.csv", "a,b\n1,2\n" + ",".join(["x" * 50] * 10) + "\n")
    table = read_table(path)
    assert len(table.malformed["value"].iloc[0]) == 200


def test_slow_path_matches_fast_path(tmp_path: Path) -> None:
    rows = "".join(f'{i},"note {i}\nmore",{i % 5 + 1}\n' for i in range(3000))
    good = read_table(write_text(tmp_path / "good.csv", "id,note,q\n" + rows), ["q"])
    bad = read_table(write_text(tmp_path / "bad.csv", "id,note,q\n" + rows + "x,y\n"), ["q"])
    pd.testing.assert_frame_equal(good.data, bad.data)
    assert bad.malformed["row"].tolist() == [3002]


def test_blank_and_empty_rows_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write_text(tmp_path / "gaps.csv", "id,q\n1,2\n\n,\n2,3\n   \n3,4\n")
    table = read_table(path, numeric_columns=["q"])
    assert list(table.data.index) == [2, 5, 7]
    assert table.malformed.empty
    assert table.n_rows == 3


def test_trailing_empty_field_is_tolerated(tmp_path: Path) -> None:
    path = write_text(tmp_path / "trail.csv", "a,b,c\n1,2,3,\n4,5,6\n")
    table = read_table(path)
    assert list(table.data.index) == [2, 3]
    assert table.malformed.empty


def test_unnamed_empty_column_is_dropped(tmp_path: Path) -> None:
    table = read_table(write_text(tmp_path / "t.csv", "a,b,\n1,2,\n3,4,\n"))
    assert list(table.data.columns) == ["a", "b"]


def test_unnamed_column_with_values_is_an_error(tmp_path: Path) -> None:
    path = write_text(tmp_path / "unnamed.csv", "a,,c\n1,2,3\n")
    with pytest.raises(InputError, match=r"unnamed\.csv: column 2 \(B\) has values but no name"):
        read_table(path)


# --------------------------------------------------------------------------- cell values


def test_numeric_column_with_text_keeps_the_text(tmp_path: Path) -> None:
    path = write_text(tmp_path / "num.csv", "id,q1,q2,q3\n1,1,три,5\n2,-9,n/a,\n3,,2,4\n")
    table = read_table(path, numeric_columns=["q1", "q2", "q3", "absent"])
    assert table.data["q1"].dtype == np.float64
    assert texts(table, "q1") == [1.0, -9.0, None]
    assert is_text(table.data["q2"])
    assert texts(table, "q2") == ["три", "n/a", "2"]
    assert table.data["q3"].dtype == np.float64


def test_many_numeric_columns_with_text(tmp_path: Path) -> None:
    header = ",".join(f"q{i}" for i in range(6))
    path = write_text(tmp_path / "m.csv", f"{header}\n1,2,3,4,5,6\nx,y,z,w,7,8\n")
    table = read_table(path, numeric_columns=[f"q{i}" for i in range(6)])
    assert [is_text(table.data[f"q{i}"]) for i in range(6)] == [True] * 4 + [False] * 2
    assert texts(table, "q0") == ["1", "x"]


def test_nan_or_inf_text_is_not_a_number(tmp_path: Path) -> None:
    path = write_text(tmp_path / "nan.csv", "a,b,c\n1,nan,2\n2,3,inf\n")
    table = read_table(path, numeric_columns=["a", "b", "c"])
    assert table.data["a"].dtype == np.float64
    assert texts(table, "b") == ["nan", "3"]
    assert texts(table, "c") == ["2", "inf"]


def test_text_is_never_guessed(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "ids.csv",
        'id,code,flag,note\n007,NA,null,"  padded  "\n010,N/A,TRUE,"   "\n011,,1e3,""\n',
    )
    table = read_table(path)
    assert texts(table, "id") == ["007", "010", "011"]
    assert texts(table, "code") == ["NA", "N/A", None]
    assert texts(table, "flag") == ["null", "TRUE", "1e3"]
    assert texts(table, "note") == ["padded", None, None]
    assert all(is_text(table.data[c]) for c in table.data.columns)
    assert table.data.isna().sum().sum() == 3


def test_whitespace_around_names_and_numbers(tmp_path: Path) -> None:
    table = read_table(write_text(tmp_path / "ws.csv", " id , q1 \nA, 3 \nB,4\n"), [" q1"])
    assert list(table.data.columns) == ["id", "q1"]
    assert table.data["q1"].tolist() == [3.0, 4.0]
    assert texts(table, "id") == ["A", "B"]


def test_single_numeric_column_name_as_string(tmp_path: Path) -> None:
    table = read_table(write_text(tmp_path / "s.csv", "id,age\nA,12\n"), numeric_columns="age")
    assert table.data["age"].dtype == np.float64


def test_metadata_is_empty_frame_with_same_index(tmp_path: Path) -> None:
    table = read_table(write_text(tmp_path / "p.csv", "a,b\n1,2\n3,4\n"))
    assert table.metadata.shape == (2, 0)
    assert table.metadata.index.equals(table.data.index)
    assert table.value_labels == {}


# --------------------------------------------------------------------------- Excel


def test_xlsx_values_and_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "survey.xlsx",
        [
            ["respondent_id", "visit", "q1", "oblast"],
            [7, dt.date(2024, 3, 1), 1, "София"],
            ["007", dt.date(2024, 3, 2), 2.5, " Русе "],
            [None, None, None, None],
            [9, None, "три", None],
        ],
    )
    table = read_table(path, numeric_columns=["q1", "visit"])
    assert (table.format, table.encoding, table.delimiter) == ("xlsx", None, None)
    assert list(table.data.index) == [2, 3, 5]
    assert texts(table, "respondent_id") == ["7", "007", "9"]
    assert texts(table, "visit")[:2] == ["2024-03-01", "2024-03-02"]
    assert texts(table, "oblast") == ["София", "Русе", None]
    assert texts(table, "q1") == ["1", "2.5", "три"]


def test_xlsx_numeric_column(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "n.xlsx", [["id", "q1"], [1, 4], [2, None], [3, "5"]])
    table = read_table(path, numeric_columns=["q1"])
    assert table.data["q1"].dtype == np.float64
    assert texts(table, "q1") == [4.0, None, 5.0]


def test_xlsx_header_below_title_rows(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "t.xlsx", [[None], [None], ["id", "q"], ["a", 1]])
    table = read_table(path)
    assert list(table.data.index) == [4]


# --------------------------------------------------------------------------- SPSS


def test_sav_keeps_codes_and_labels(tmp_path: Path) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = pd.DataFrame(
        {
            "id": ["007", "008", ""],
            "sex": [1.0, 2.0, np.nan],
            "q1": [-9.0, 3.0, 4.0],
        }
    )
    path = tmp_path / "survey.sav"
    pyreadstat.write_sav(
        frame,
        str(path),
        variable_value_labels={"sex": {1.0: "момче", 2.0: "момиче"}},
        missing_ranges={"q1": [-9.0]},
    )
    table = read_table(path)
    assert (table.format, table.encoding) == ("sav", None)
    assert list(table.data.index) == [2, 3, 4]
    assert table.value_labels == {"sex": {1.0: "момче", 2.0: "момиче"}}
    assert table.data["sex"].dtype == np.float64
    assert texts(table, "sex") == [1.0, 2.0, None]
    assert texts(table, "q1") == [-9.0, 3.0, 4.0]  # user-missing code kept as a value
    assert texts(table, "id") == ["007", "008", None]


# --------------------------------------------------------------------------- Kobo / ODK


KOBO_HEADER = [
    "start",
    "end",
    "background/age",
    "background/oblast",
    "group_qol/rel_01",
    "group_qol/rel_02",
    "meta/instanceID",
    "_id",
    "_uuid",
    "_submission_time",
    "_index",
]
KOBO_ROWS = [
    ["2024-03-01T10:00:00", "2024-03-01T10:20:00", "12", "Варна", "3", "4", "uuid:a1", "101", "a1", "2024-03-01T10:21:00", "1"],
    ["2024-03-02T09:00:00", "2024-03-02T09:15:00", "15", "Русе", "не знам", "5", "uuid:b2", "102", "b2", "2024-03-02T09:16:00", "2"],
]  # fmt: skip


def check_kobo(table: RawTable) -> None:
    assert list(table.data.columns) == ["age", "oblast", "rel_01", "rel_02"]
    assert list(table.metadata.columns) == [
        "start",
        "end",
        "instanceID",
        "_id",
        "_uuid",
        "_submission_time",
        "_index",
    ]
    assert table.metadata.index.equals(table.data.index)
    assert list(table.data.index) == [2, 3]
    assert table.data["age"].tolist() == [12.0, 15.0]
    assert texts(table, "rel_01") == ["3", "не знам"]
    assert table.data["rel_02"].dtype == np.float64
    assert table.metadata["_id"].tolist() == ["101", "102"]


def test_kobo_csv_export(tmp_path: Path) -> None:
    lines = [";".join(KOBO_HEADER)] + [";".join(row) for row in KOBO_ROWS]
    path = write_text(tmp_path / "kobo.csv", "\n".join(lines) + "\n")
    table = read_table(path, numeric_columns=["age", "group_qol/rel_01", "rel_02"])
    assert table.format == "kobo-csv"
    check_kobo(table)


def test_kobo_xlsx_export(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "kobo.xlsx", [KOBO_HEADER, *KOBO_ROWS])
    table = read_table(path, numeric_columns=["age", "rel_01", "rel_02"])
    assert table.format == "kobo-xlsx"
    check_kobo(table)


def test_kobo_prefix_clash_names_both_columns(tmp_path: Path) -> None:
    path = write_text(tmp_path / "clash.csv", "g1/age,g2/age,_id\n1,2,3\n")
    with pytest.raises(InputError, match="clash.csv") as info:
        read_table(path)
    assert "'g1/age'" in str(info.value) and "'g2/age'" in str(info.value)


def test_plain_csv_is_not_kobo(tmp_path: Path) -> None:
    table = read_table(write_text(tmp_path / "p.csv", "start,end,x\n1,2,3\n"))
    assert table.format == "csv"
    assert list(table.data.columns) == ["start", "end", "x"]


# --------------------------------------------------------------------------- input errors


PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("blank.csv", b"\xef\xbb\xbf\r\n  \n", "the file is empty"),
        ("header.csv", b"id,q1,q2\n", "header row but no data rows"),
        ("header_nonl.csv", b"id;q1;q2", "header row but no data rows"),
        ("only_blank_rows.csv", b"id,q1\n,\n\n", "header row but no data rows"),
        ("picture.csv", PNG_BYTES, "binary file"),
        ("book.csv", b"PK\x03\x04" + bytes(100), "workbook"),
        ("utf16.csv", "a,b\n1,2\n".encode("utf-16"), "UTF-16"),
        ("single.csv", b"name\nIvan\nMaria\n", "does not look like a table"),
        ("dups.csv", b"id,q1,id\n1,2,3\n", "duplicate column names: 'id'"),
        (
            "notes.xyz",
            b"a,b\n1,2\n",
            "Accepted extensions: .csv .tsv .txt .xlsx .xlsm .xls .ods .sav",
        ),
        ("fake.xlsx", PNG_BYTES, "cannot be read as a workbook"),
        ("fake.sav", b"id,q1\n1,2\n", "cannot be read as an SPSS"),
    ],
)
def test_input_errors_name_the_file(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_table(path)
    message = str(info.value)
    assert name in message
    assert expected in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(InputError, match=r"file not found: .*nowhere\.csv; check the path"):
        read_table(path)


def test_duplicate_columns_after_whitespace_stripping(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=r"d\.csv: duplicate column names: 'q1' \(column 1 \(A\), column 2 \(B\)\)"
    ):
        read_table(write_text(tmp_path / "d.csv", "q1, q1\n1,2\n"))


def test_empty_xlsx_sheet(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "empty.xlsx", [])
    with pytest.raises(InputError, match=r"empty\.xlsx: the first sheet is empty"):
        read_table(path)


def test_xlsx_header_only(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "head.xlsx", [["id", "q1"]])
    with pytest.raises(InputError, match=r"head\.xlsx: the file has a header row but no data rows"):
        read_table(path)


def test_input_error_is_chained(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert info.value.__cause__ is not None
