"""Format layer: read a tabular file of any supported format into a :class:`RawTable`.

This module reads faithfully and checks nothing about the domain: the validation
layer does that. What it guarantees:

* **Formats.** CSV/TSV/TXT (``.csv .tsv .txt``), Excel/OpenDocument workbooks
  (``.xlsx .xlsm .xls .ods``, first sheet), SPSS (``.sav``) and
  KoboToolbox/ODK exports in CSV or Excel form (detected from the column names).
* **CSV detection.** Encoding: strict UTF-8 (``utf-8-sig`` with a byte-order mark),
  otherwise Windows-1251. Delimiter: comma, semicolon or tab, whichever splits the
  first 50 lines most consistently (csv.Sniffer only breaks ties). Workbooks: the
  first sheet, whatever its name.
* **Row numbers.** ``data.index`` (named ``"row"``) is the row number a person sees
  in a spreadsheet program: the header is row 1, the first data row is row 2.
  For CSV this is the *record* number (a quoted value spanning two lines is still
  one row), for workbooks the Excel row number (the header is the first
  non-empty row, normally row 1), for SPSS the case number + 1.
* **Text stays text.** Every column is read as text unless it is listed in
  ``numeric_columns`` and *every* value in it is a finite number; no type
  guessing (``"007"`` stays ``"007"``, ``"NA"`` and ``"null"`` stay text).
  A listed column with any non-number (``"три"``, ``"n/a"``) comes back as text
  with the original values, so validation can report them. SPSS numeric
  variables are always numeric.
* **Missing values.** Surrounding whitespace is stripped from every text value,
  and a cell that is then empty is missing. Missing is **NaN** everywhere: in
  float64 columns and in text columns, which use pandas' ``str`` dtype
  (``pd.StringDtype("pyarrow", na_value=np.nan)``, the pandas 3 default), so
  ``pd.isna`` works the same on every column.
* **Nothing silently lost.** CSV records with the wrong number of fields go to
  ``RawTable.malformed`` with their row number and raw text. Rows in which every
  cell is empty carry no data and are skipped (their row numbers are still
  counted, so later rows keep their spreadsheet numbers). Trailing extra fields
  that are empty (``1,2,3,`` under a three-column header) are tolerated, and
  columns without a header name are dropped only when they hold no value.
* **Column names.** Surrounding whitespace and a byte-order mark are stripped;
  case is kept; nothing else is renamed (except Kobo group prefixes, below).
  Duplicate names are an error.
* **Kobo/ODK exports** are recognised by ``group/name`` column names or Kobo
  metadata columns (``_uuid``, ``_submission_time``, ...). The group prefix is
  removed (``group_qol/rel_01`` -> ``rel_01``) and metadata columns go to
  ``RawTable.metadata`` instead of ``RawTable.data``.

A file that cannot be read as a whole raises :class:`~research_lib.errors.InputError`
with a message that names the file and says how to fix it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import re
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyreadstat
import python_calamine

from research_lib.errors import InputError

if TYPE_CHECKING:
    from _csv import Reader as _CsvReader

__all__ = [
    "RawTable",
    "read_table",
    "CSV_EXTENSIONS",
    "EXCEL_EXTENSIONS",
    "SPSS_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "KOBO_METADATA_COLUMNS",
    "MALFORMED_COLUMNS",
]

CSV_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".txt")
EXCEL_EXTENSIONS: tuple[str, ...] = (".xlsx", ".xlsm", ".xls", ".ods")
SPSS_EXTENSIONS: tuple[str, ...] = (".sav",)
SUPPORTED_EXTENSIONS: tuple[str, ...] = CSV_EXTENSIONS + EXCEL_EXTENSIONS + SPSS_EXTENSIONS

#: Kobo/ODK metadata column names (as exported, before prefix stripping). Any
#: column starting with "_" and any column of the ``meta/`` or ``formhub/``
#: groups is metadata too.
KOBO_METADATA_COLUMNS: frozenset[str] = frozenset(
    {
        "_uuid",
        "_submission_time",
        "_id",
        "_index",
        "_validation_status",
        "_status",
        "_submitted_by",
        "__version__",
        "_version_",
        "_tags",
        "_notes",
        "meta/instanceID",
        "start",
        "end",
        "today",
        "deviceid",
        "username",
        "audit",
    }
)
_KOBO_METADATA_GROUPS = ("meta/", "formhub/")
# Names that only a Kobo/ODK export has; "start", "end", ... alone do not make a Kobo file.
_KOBO_MARKERS = frozenset(n for n in KOBO_METADATA_COLUMNS if n.startswith(("_", "meta/")))

#: Columns of ``RawTable.malformed``.
MALFORMED_COLUMNS: tuple[str, ...] = ("row", "column", "value", "problem")
_WHOLE_ROW = "*"  # ``malformed.column`` for a problem with the whole row
_MAX_RAW_TEXT = 200

_SAMPLE_BYTES = 1 << 16  # bytes looked at to detect the encoding and the delimiter
_SNIFF_LINES = 50
_DELIMITERS = ",;\t"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): CSV conversion error to double")
_NON_BLANK = re.compile(rb"\S")
_EXPORT_ADVICE = (
    "Export the survey again as CSV (UTF-8) with a header row and one row per respondent."
)


def _text_dtype() -> pd.StringDtype:
    """Arrow-backed text dtype with NaN as missing value (pandas 3's default ``str``)."""
    try:
        return pd.StringDtype("pyarrow", na_value=np.nan)
    except TypeError:  # pandas 2.2 has no ``na_value`` argument
        return pd.StringDtype("pyarrow_numpy")


_TEXT_DTYPE = _text_dtype()
_ARROW_TO_PANDAS = {pa.string(): _TEXT_DTYPE, pa.large_string(): _TEXT_DTYPE}


@dataclass(frozen=True)
class RawTable:
    """A table read from a file, before any domain validation.

    Attributes
    ----------
    data : pandas.DataFrame
        The rows. Index = spreadsheet row number (header = 1), named ``"row"``;
        columns = normalised column names. Numeric columns are float64, all
        others text (``str`` dtype); missing values are NaN.
    metadata : pandas.DataFrame
        Kobo/ODK metadata columns (same index, text); no columns when none.
    malformed : pandas.DataFrame
        Records that could not be split into the header's number of fields,
        with columns ``row`` (int), ``column`` (``"*"``: the whole row),
        ``value`` (raw text, at most 200 characters) and ``problem`` (words).
        These rows are not in ``data``.
    source : pathlib.Path
        The file read.
    format : str
        ``"csv"``, ``"xlsx"`` (any workbook), ``"sav"``, ``"kobo-csv"`` or ``"kobo-xlsx"``.
    encoding : str or None
        ``"utf-8"``, ``"utf-8-sig"`` or ``"cp1251"`` for CSV; None otherwise.
    delimiter : str or None
        ``","``, ``";"`` or ``"\\t"`` for CSV; None otherwise.
    value_labels : dict
        SPSS value labels ``{column: {code: label}}``; empty for other formats.
    n_rows : int
        Data rows in the file: ``len(data) + malformed.row.nunique()``.
    """

    data: pd.DataFrame
    metadata: pd.DataFrame
    malformed: pd.DataFrame
    source: Path
    format: str
    encoding: str | None
    delimiter: str | None
    value_labels: dict[str, dict]
    n_rows: int

    @property
    def context(self) -> dict[str, Any]:
        """What a validator needs besides the rows, as keyword arguments.

        ``validate_responses(raw.data, book, **raw.context)`` — every loader
        passes the same: malformed lines, source, format, metadata, value labels.
        """
        return {
            "malformed": self.malformed,
            "source": self.source,
            "format": self.format,
            "metadata": self.metadata,
            "value_labels": self.value_labels,
        }


@dataclass(frozen=True)
class _Layout:
    """What the header row says about each column (same order as in the file)."""

    names: tuple[str, ...]  # final names; "" for a column without a name
    is_metadata: tuple[bool, ...]
    is_numeric: tuple[bool, ...]
    kobo: bool


@dataclass
class _Parsed:
    """Output of a format reader: one arrow array per file column plus row numbers."""

    layout: _Layout
    columns: list[pa.Array | pa.ChunkedArray]
    rows: np.ndarray
    family: str  # "csv", "xlsx" or "sav"
    malformed: list[dict] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    value_labels: dict[str, dict] = field(default_factory=dict)


class _NotUtf8(Exception):
    """The part of a CSV file looked at first was UTF-8, the rest is not."""


# --------------------------------------------------------------------------- public API


def read_table(path: str | Path, numeric_columns: Collection[str] = ()) -> RawTable:
    """Read a CSV, Excel, SPSS or Kobo/ODK file into a :class:`RawTable`.

    Parameters
    ----------
    path : str or pathlib.Path
        The file. Its extension picks the format: ``.csv .tsv .txt`` (encoding
        and delimiter are detected), ``.xlsx .xlsm .xls .ods`` (first sheet) or
        ``.sav``.
    numeric_columns : collection of str, optional
        Columns to return as float64 when every value in them is a number
        (after name normalisation; Kobo columns may be named with or without
        their group prefix). A listed column holding any other text is returned
        as text, unchanged. Names not in the file are ignored.

    Returns
    -------
    RawTable
        See the module docstring for row numbers and missing values.

    Raises
    ------
    InputError
        The file is missing, has an unknown extension, is empty, has a header
        but no data, is not a table (binary, or no delimiter found), or has
        duplicate or unusable column names.
    """
    source = Path(path)
    _check_file(source)
    if isinstance(numeric_columns, str):  # a single name passed by mistake
        numeric_columns = (numeric_columns,)
    numeric = frozenset(_normalise_name(name) for name in numeric_columns)
    suffix = source.suffix.lower()
    if suffix in CSV_EXTENSIONS:
        parsed = _read_csv(source, numeric)
    elif suffix in EXCEL_EXTENSIONS:
        parsed = _read_excel(source, numeric)
    else:
        parsed = _read_sav(source, numeric)
    return _assemble(source, parsed)


# --------------------------------------------------------------------------- shared helpers


def _check_file(source: Path) -> None:
    """Raise InputError unless *source* is an existing file with a known extension."""
    if not source.exists():
        raise InputError(f"file not found: {source}; check the path and the file name.")
    if not source.is_file():
        raise InputError(f"{source}: this is a folder, not a file; give the path of a data file.")
    if source.suffix.lower() not in SUPPORTED_EXTENSIONS:
        accepted = " ".join(SUPPORTED_EXTENSIONS)
        raise InputError(
            f"{source.name}: unknown file type {source.suffix or '(no extension)'!r}. "
            f"Accepted extensions: {accepted}. Save the data in one of these formats."
        )


def _normalise_name(name: object) -> str:
    """Column name without surrounding whitespace or a byte-order mark; case kept."""
    return ("" if name is None else str(name)).replace("\ufeff", "").strip()


def _column_label(index: int) -> str:
    """``"column 3 (C)"`` for 0-based *index*: the number and the spreadsheet letter."""
    letters, n = "", index + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"column {index + 1} ({letters})"


def _looks_like_kobo(names: Sequence[str]) -> bool:
    """True for a Kobo/ODK export: ``group/name`` columns or Kobo metadata columns."""
    return any("/" in name or name in _KOBO_MARKERS for name in names)


def _is_kobo_metadata(name: str) -> bool:
    """True for a Kobo/ODK metadata column (name as exported, with its group)."""
    return (
        name in KOBO_METADATA_COLUMNS
        or name.startswith("_")
        or name.startswith(_KOBO_METADATA_GROUPS)
    )


def _layout(
    header: Sequence[object], numeric: frozenset[str], source: Path, *, allow_kobo: bool
) -> _Layout:
    """Normalise the header, detect Kobo exports and check for duplicate names."""
    original = [_normalise_name(name) for name in header]
    kobo = allow_kobo and _looks_like_kobo(original)
    names = [name.rsplit("/", 1)[-1] if kobo else name for name in original]
    _check_duplicates(original, names, source)
    return _Layout(
        names=tuple(names),
        is_metadata=tuple(kobo and _is_kobo_metadata(name) for name in original),
        is_numeric=tuple(
            bool(name) and (name in numeric or orig in numeric)
            for name, orig in zip(names, original, strict=True)
        ),
        kobo=kobo,
    )


def _check_duplicates(original: Sequence[str], names: Sequence[str], source: Path) -> None:
    """Raise InputError naming every column name used more than once."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name:
            positions.setdefault(name, []).append(i)
    problems = []
    for name, where in positions.items():
        if len(where) < 2:
            continue
        sources = [original[i] for i in where]
        if len(set(sources)) == 1:
            columns = ", ".join(_column_label(i) for i in where)
            problems.append(f"{name!r} ({columns})")
        else:
            both = " and ".join(repr(s) for s in sources)
            problems.append(f"{name!r} (from {both} once group prefixes are removed)")
    if problems:
        raise InputError(
            f"{source.name}: duplicate column names: {'; '.join(problems)}. "
            "Give every column a different name (for Kobo exports, rename the question "
            "in the form) and export the file again."
        )


def _cell_text(value: object) -> str | None:
    """Text of one spreadsheet/SPSS cell as a person would see it; None when empty.

    Whole floats lose their ``.0`` (an ID stored as 7.0 reads ``"7"``), dates and
    times are ISO text, booleans are ``TRUE``/``FALSE`` as Excel shows them.
    """
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, str) and not value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        if float(value).is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(float(value))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _text_array(values: Sequence[object]) -> pa.Array:
    """Arrow string array of cell texts."""
    return pa.array([_cell_text(v) for v in values], type=pa.string())


def _clean_text(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Strip surrounding whitespace; a cell left empty becomes null."""
    column = pc.utf8_trim_whitespace(column)
    empty = pc.equal(column, "")
    if pc.any(empty).as_py():
        column = pc.if_else(empty, pa.scalar(None, pa.string()), column)
    return column


def _as_float(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray | None:
    """Float64 version of a text column, or None if any value is not a finite number."""
    try:
        numbers = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return numbers if _all_finite(numbers) else None


def _all_finite(numbers: pa.Array | pa.ChunkedArray) -> bool:
    """True when no value is NaN or infinite (nulls are fine): "nan" text is not a number."""
    total = pc.sum(numbers).as_py()  # one cheap pass; non-finite only if a value is (or overflow)
    if total is None or math.isfinite(total):
        return True
    return not pc.any(pc.invert(pc.is_finite(numbers))).as_py()


def _finish_column(column: pa.Array | pa.ChunkedArray, numeric: bool) -> pa.Array | pa.ChunkedArray:
    """Clean a text column and make it float64 when it is numeric and every value is a number."""
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return column
    if numeric and (numbers := _as_float(column)) is not None:
        return numbers  # clean numbers need no whitespace stripping (the cast rejects spaces)
    column = _clean_text(column)
    if numeric and (numbers := _as_float(column)) is not None:
        return numbers
    return column


def _drop_unnamed(
    source: Path, layout: _Layout, columns: list[pa.Array | pa.ChunkedArray]
) -> list[int]:
    """Indices of the columns to keep; an unnamed column with values is an error."""
    keep = []
    for i, (name, column) in enumerate(zip(layout.names, columns, strict=True)):
        if name:
            keep.append(i)
        elif column.null_count != len(column):
            raise InputError(
                f"{source.name}: {_column_label(i)} has values but no name in the header row. "
                "Add a column name in the header row, or delete the column, and save the file again."
            )
    return keep


def _rows_with_values(columns: Sequence[pa.Array | pa.ChunkedArray]) -> np.ndarray | None:
    """Boolean mask of rows with at least one value, or None when every row has one."""
    if not columns or any(column.null_count == 0 for column in columns):
        return None  # a column without gaps: every row has a value
    mask = pc.is_valid(columns[0])
    for column in columns[1:]:
        mask = pc.or_(mask, pc.is_valid(column))
    if pc.all(mask).as_py() is not False:
        return None
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    return mask.to_numpy(zero_copy_only=False)


def _frame(
    names: Sequence[str], columns: Sequence[pa.Array | pa.ChunkedArray], index: pd.Index
) -> pd.DataFrame:
    """pandas DataFrame from arrow columns: float64 stays float64, text -> ``str`` dtype."""
    if not names:
        return pd.DataFrame(index=index)
    table = pa.table(
        [c if isinstance(c, pa.ChunkedArray) else pa.chunked_array([c]) for c in columns],
        names=list(names),
    )
    frame = table.to_pandas(types_mapper=_ARROW_TO_PANDAS.get)
    frame.index = index
    return frame


def _malformed_frame(records: list[dict]) -> pd.DataFrame:
    """The ``malformed`` frame, with fixed columns and dtypes even when empty."""
    frame = pd.DataFrame(records, columns=list(MALFORMED_COLUMNS))
    return frame.astype(
        {"row": "int64", "column": _TEXT_DTYPE, "value": _TEXT_DTYPE, "problem": _TEXT_DTYPE}
    )


def _assemble(source: Path, parsed: _Parsed) -> RawTable:
    """Clean and type the columns, drop empty rows, split off metadata, build the RawTable."""
    layout = parsed.layout
    with ThreadPoolExecutor() as pool:  # arrow kernels release the GIL
        columns = list(pool.map(_finish_column, parsed.columns, layout.is_numeric))
    keep = _drop_unnamed(source, layout, columns)
    columns = [columns[i] for i in keep]
    rows = parsed.rows
    mask = _rows_with_values(columns)
    if mask is not None:
        selection = pa.array(mask)
        columns = [pc.filter(column, selection) for column in columns]
        rows = rows[mask]
    if not len(rows) and not parsed.malformed:
        raise InputError(
            f"{source.name}: the file has a header row but no data rows. {_EXPORT_ADVICE}"
        )
    index = pd.Index(np.asarray(rows, dtype=np.int64), name="row")
    parts: dict[bool, tuple[list[str], list]] = {True: ([], []), False: ([], [])}
    for i, column in zip(keep, columns, strict=True):
        names, arrays = parts[layout.is_metadata[i]]
        names.append(layout.names[i])
        arrays.append(column)
    data = _frame(*parts[False], index)
    malformed = _malformed_frame(parsed.malformed)
    kobo = layout.kobo and parsed.family in ("csv", "xlsx")
    return RawTable(
        data=data,
        metadata=_frame(*parts[True], index),
        malformed=malformed,
        source=source,
        format=f"kobo-{parsed.family}" if kobo else parsed.family,
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        value_labels=parsed.value_labels,
        n_rows=len(data) + malformed["row"].nunique(),
    )


# --------------------------------------------------------------------------- CSV


def _read_bytes(source: Path) -> bytes:
    """The whole file, or InputError when the system cannot read it."""
    try:
        return source.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{source.name}: the file cannot be opened ({exc.strerror}); "
            "check that it is not open in another program and that you may read it."
        ) from exc


def _reject_non_text(raw: bytes, source: Path) -> None:
    """Raise InputError for an empty file or one that is not a text table."""
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    if _NON_BLANK.search(raw, start) is None:
        raise InputError(f"{source.name}: the file is empty. {_EXPORT_ADVICE}")
    head = raw[:_SAMPLE_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(
            f"{source.name}: the file is saved as UTF-16 ('Unicode text'). "
            "Save it again as 'CSV UTF-8 (comma delimited)'."
        )
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise InputError(
            f"{source.name}: this is a workbook (Excel/OpenDocument), not a CSV text file. "
            "Give it the right extension (.xlsx, .xls or .ods) or save it again as CSV."
        )
    controls = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13))
    if b"\x00" in head or controls > max(2, len(head) // 100):
        raise InputError(
            f"{source.name}: this is a binary file, not a text table. Check that you chose "
            "the right file, or export the data as CSV."
        )


def _detect_encoding(raw: bytes, source: Path, *, complete: bool) -> str:
    """``"utf-8-sig"``, ``"utf-8"`` or ``"cp1251"``: strict UTF-8 first, then Windows-1251.

    With ``complete=False`` *raw* is the start of the file and may end inside a character.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(raw, final=complete)
    except UnicodeDecodeError as exc:
        if raw.startswith(codecs.BOM_UTF8):
            raise InputError(
                f"{source.name}: the file starts with a UTF-8 mark but is not valid UTF-8 text "
                f"(bad byte at position {exc.start}). Save it again as 'CSV UTF-8'."
            ) from exc
        try:
            raw.decode("cp1251")
        except UnicodeDecodeError as exc1251:
            raise InputError(
                f"{source.name}: the text is neither UTF-8 nor Windows-1251 (Cyrillic). "
                "Save it again as 'CSV UTF-8'."
            ) from exc1251
        return "cp1251"
    return "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"


def _decode(raw: bytes, encoding: str) -> str:
    """The whole file as text; _NotUtf8 when a UTF-8 guess from the file start was wrong."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _NotUtf8 from exc


def _sample_lines(text: str) -> str:
    """The first lines of *text*, without a last line that may be cut off."""
    lines = io.StringIO(text, newline="").readlines()[:_SNIFF_LINES]
    if len(lines) > 1 and not lines[-1].endswith(("\n", "\r")):
        lines.pop()
    return "".join(lines)


def _sniffer_choice(sample: str) -> str:
    """csv.Sniffer's delimiter among comma, semicolon and tab; "" when it cannot tell."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ""


def _split_score(sample: str, delimiter: str) -> tuple[float, int] | None:
    """(share of records with the header's field count, header field count) for *delimiter*.

    None when the header does not split into at least two fields.
    """
    try:
        records = [
            r
            for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
            if any(f.strip() for f in r)
        ]
    except csv.Error:
        return None
    if not records or len(records[0]) < 2:
        return None
    width, body = len(records[0]), records[1:]
    consistency = sum(len(r) == width for r in body) / len(body) if body else 1.0
    return consistency, width


def _sniff_delimiter(text: str, source: Path) -> str:
    """Comma, semicolon or tab: the one that splits the first lines most consistently.

    Each candidate is scored on the first lines (quotes respected): records with the
    header's number of fields first, then the number of header fields, then
    csv.Sniffer's choice. (Sniffer alone prefers a comma, which is wrong for semicolon
    files whose values hold decimal commas or "surname, name".) A delimiter must split
    the header into two or more fields; when none does, the file is not a table.
    """
    sample = _sample_lines(text)
    sniffed = _sniffer_choice(sample)
    scores = {}
    for delimiter in _DELIMITERS:
        score = _split_score(sample, delimiter)
        if score is not None:
            scores[delimiter] = (*score, delimiter == sniffed)
    if not scores:
        raise InputError(
            f"{source.name}: found no comma, semicolon or tab in the header row, so this "
            "does not look like a table (a single column?). Export the data as CSV with one "
            "column per variable and a header row."
        )
    return max(scores, key=scores.__getitem__)


def _csv_reader(text: str, delimiter: str) -> tuple[list[str], _CsvReader]:
    """Physical lines of *text* (line ends kept) and a csv reader over them."""
    lines = io.StringIO(text, newline="").readlines()
    return lines, csv.reader(lines, delimiter=delimiter)


def _header_record(text: str, delimiter: str, source: Path) -> tuple[list[str], int]:
    """Fields of the header record and the number of characters it takes (line end included)."""
    lines, reader = _csv_reader(text, delimiter)
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as exc:
        raise InputError(f"{source.name}: the header row cannot be read. {_EXPORT_ADVICE}") from exc
    return header, sum(len(line) for line in lines[: reader.line_num])


def _malformed_record(
    row: int, fields: list[str], raw_text: str, expected: int, delimiter: str
) -> dict:
    """One ``malformed`` entry for a record with the wrong number of fields."""
    got = len(fields)
    if raw_text.count('"') % 2:
        hint = (
            "check for a stray double quote: a quote opened here is never closed, so the "
            "lines after it were read as one value"
        )
    elif got > expected:
        hint = (
            f"check for an unquoted {_DELIMITER_NAMES[delimiter]} inside a value "
            "(put the value in double quotes)"
        )
    else:
        hint = "check for a missing value or a line break inside an unquoted value"
    return {
        "row": row,
        "column": _WHOLE_ROW,
        "value": raw_text.rstrip("\r\n")[:_MAX_RAW_TEXT],
        "problem": f"the line has {got} fields, the header has {expected}; {hint}",
    }


def _parse_csv_exact(
    text: str, delimiter: str, n_fields: int, source: Path
) -> tuple[list[pa.Array], np.ndarray, list[dict]]:
    """Slow, exact pass with the csv module: columns, record numbers and malformed records.

    Used when pyarrow met rows it could not split, to number every record exactly.
    Records with no value at all are skipped; extra trailing fields that are empty are dropped.
    """
    lines, reader = _csv_reader(text, delimiter)
    records: list[list[str]] = []
    rows: list[int] = []
    malformed: list[dict] = []
    record = 1
    try:
        next(reader)  # header
        end = reader.line_num
        for fields in reader:
            record += 1
            start, end = end, reader.line_num
            if not any(value.strip() for value in fields):
                continue
            if len(fields) > n_fields and not any(v.strip() for v in fields[n_fields:]):
                fields = fields[:n_fields]
            if len(fields) == n_fields:
                records.append(fields)
                rows.append(record)
            else:
                raw_text = "".join(lines[start:end])
                malformed.append(_malformed_record(record, fields, raw_text, n_fields, delimiter))
    except csv.Error as exc:
        raise InputError(
            f"{source.name}: row {record + 1} cannot be read ({exc}); check for a stray "
            "double quote or a very long value, then save the file again."
        ) from exc
    columns = list(zip(*records, strict=True)) if records else [()] * n_fields
    arrays = [pa.array(column, type=pa.string()) for column in columns]
    return arrays, np.asarray(rows, dtype=np.int64), malformed


def _arrow_read(
    body: pa.Buffer, delimiter: str, n_fields: int, float_fields: set[int], quoted: bool
) -> tuple[pa.Table, int]:
    """Read the data records (no header) with pyarrow; also return the number of bad rows.

    *quoted* says whether the file has any double quote; without one no value can
    hold a line break, and pyarrow splits the file faster.
    """
    names = [f"f{i}" for i in range(n_fields)]
    if not body.size:
        empty = [
            pa.array([], pa.float64() if i in float_fields else pa.string())
            for i in range(n_fields)
        ]
        return pa.table(empty, names=names), 0
    bad: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(row.text)
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(body),
        read_options=pacsv.ReadOptions(column_names=names),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            newlines_in_values=quoted,
            ignore_empty_lines=False,  # keeps record numbers right (a blank line is an all-empty row)
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={
                name: pa.float64() if i in float_fields else pa.string()
                for i, name in enumerate(names)
            },
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    return table, len(bad)


def _parse_csv_fast(
    body: pa.Buffer, delimiter: str, layout: _Layout, quoted: bool
) -> tuple[list[pa.ChunkedArray], np.ndarray] | None:
    """pyarrow pass: columns and record numbers, or None when the exact pass is needed.

    Numeric columns are read as float64 directly. A numeric column that holds text
    (a conversion error, or NaN/infinity spelled out) is read again as text; if a
    second one turns up, everything is read as text and :func:`_finish_column`
    converts column by column. At most three reads.
    """
    n_fields = len(layout.names)
    fields = {i for i, numeric in enumerate(layout.is_numeric) if numeric}
    retried = False
    while True:
        try:
            table, n_bad = _arrow_read(body, delimiter, n_fields, fields, quoted)
        except pa.ArrowInvalid as exc:
            message = str(exc)
            if "invalid UTF8" in message:
                raise _NotUtf8 from exc
            match = _CONVERSION_ERROR.search(message)
            if not (fields and match):
                return None  # e.g. a value too long for a block: let the csv module decide
            fields = set() if retried else fields - {int(match[1])}
            retried = True
            continue
        if n_bad:
            return None
        not_finite = {i for i in fields if not _all_finite(table.column(i))}
        if not not_finite:
            return table.columns, np.arange(2, table.num_rows + 2, dtype=np.int64)
        fields = set() if retried else fields - not_finite
        retried = True


def _parse_csv(raw: bytes, encoding: str, source: Path, numeric: frozenset[str]) -> _Parsed:
    """Parse CSV bytes whose encoding is known (or guessed from the start of the file)."""
    if encoding == "cp1251":
        text: str | None = raw.decode("cp1251")
        utf8 = pa.py_buffer(text.encode("utf-8"))
        head_text = text[:_SAMPLE_BYTES]
    else:
        text = None
        utf8 = pa.py_buffer(raw)[len(codecs.BOM_UTF8) if encoding == "utf-8-sig" else 0 :]
        head_text = codecs.getincrementaldecoder("utf-8")().decode(
            utf8[:_SAMPLE_BYTES].to_pybytes()
        )
    delimiter = _sniff_delimiter(head_text, source)
    header, header_chars = _header_record(head_text, delimiter, source)
    layout = _layout(header, numeric, source, allow_kobo=True)
    body = utf8[len(head_text[:header_chars].encode("utf-8")) :]
    fast = _parse_csv_fast(body, delimiter, layout, quoted=b'"' in raw)
    if fast is not None:
        columns, rows = fast
        malformed: list[dict] = []
    else:
        text = _decode(raw, encoding) if text is None else text
        columns, rows, malformed = _parse_csv_exact(text, delimiter, len(header), source)
    return _Parsed(
        layout=layout,
        columns=list(columns),
        rows=rows,
        family="csv",
        malformed=malformed,
        encoding=encoding,
        delimiter=delimiter,
    )


def _read_csv(source: Path, numeric: frozenset[str]) -> _Parsed:
    """Read a CSV/TSV/TXT file: detect encoding and delimiter, then parse."""
    raw = _read_bytes(source)
    _reject_non_text(raw, source)
    complete = len(raw) <= _SAMPLE_BYTES
    encoding = _detect_encoding(raw[:_SAMPLE_BYTES], source, complete=complete)
    try:
        return _parse_csv(raw, encoding, source, numeric)
    except _NotUtf8:  # the start of the file was UTF-8, a later part is not
        pass
    encoding = _detect_encoding(raw, source, complete=True)
    try:
        return _parse_csv(raw, encoding, source, numeric)
    except _NotUtf8 as exc:
        raise InputError(
            f"{source.name}: part of the file is not valid UTF-8 text. Save it again as 'CSV UTF-8'."
        ) from exc


# --------------------------------------------------------------------------- Excel / ODS


def _sheet_cells(source: Path) -> list[list[object]]:
    """Cells of the first sheet from cell A1 on (so list positions are Excel rows/columns)."""
    try:
        with python_calamine.CalamineWorkbook.from_path(str(source)) as book:
            if not book.sheet_names:
                raise InputError(
                    f"{source.name}: the workbook has no sheet. Put the data in the first sheet."
                )
            return book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except python_calamine.PasswordError as exc:
        raise InputError(
            f"{source.name}: the workbook is protected by a password. Save a copy without "
            "the password and read that."
        ) from exc
    except (python_calamine.CalamineError, OSError, ValueError) as exc:
        raise InputError(
            f"{source.name}: the file cannot be read as a workbook ({exc}). Open it in Excel "
            "or LibreOffice and save it again as .xlsx."
        ) from exc


def _read_excel(source: Path, numeric: frozenset[str]) -> _Parsed:
    """Read the first sheet of a workbook; the first non-empty row is the header."""
    cells = _sheet_cells(source)
    header_at = next(
        (i for i, row in enumerate(cells) if any(_cell_text(v) is not None for v in row)), None
    )
    if header_at is None:
        raise InputError(
            f"{source.name}: the first sheet is empty. Put the data in the first sheet."
        )
    body = cells[header_at + 1 :]
    width = max(len(row) for row in cells[header_at:])
    header = [_cell_text(v) or "" for v in cells[header_at]]
    header += [""] * (width - len(header))
    columns = [
        _text_array([row[j] if j < len(row) else None for row in body]) for j in range(width)
    ]
    first = header_at + 2  # Excel rows are 1-based; data start under the header
    return _Parsed(
        layout=_layout(header, numeric, source, allow_kobo=True),
        columns=columns,
        rows=np.arange(first, first + len(body), dtype=np.int64),
        family="xlsx",
    )


# --------------------------------------------------------------------------- SPSS


def _spss_column(values: pd.Series) -> pa.Array:
    """Numeric SPSS variables as float64 (null for system-missing), others as text."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return pa.array(values.to_numpy(dtype=np.float64), type=pa.float64(), from_pandas=True)
    return _text_array(values.tolist())


def _read_sav(source: Path, numeric: frozenset[str]) -> _Parsed:
    """Read an SPSS file; codes stay codes, user-missing codes (e.g. -9) stay values."""
    try:
        frame, meta = pyreadstat.read_sav(str(source), apply_value_formats=False, user_missing=True)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, ValueError) as exc:
        raise InputError(
            f"{source.name}: the file cannot be read as an SPSS .sav file ({exc}). "
            "Open it in SPSS or PSPP and save it again as .sav."
        ) from exc
    if not len(frame.columns):
        raise InputError(f"{source.name}: the file has no variables. {_EXPORT_ADVICE}")
    layout = _layout(list(frame.columns), numeric, source, allow_kobo=False)
    renamed = dict(zip(frame.columns, layout.names, strict=True))
    labels = {
        renamed[column]: dict(value_labels)
        for column, value_labels in meta.variable_value_labels.items()
        if column in renamed
    }
    return _Parsed(
        layout=layout,
        columns=[_spss_column(frame[column]) for column in frame.columns],
        rows=np.arange(2, len(frame) + 2, dtype=np.int64),
        family="sav",
        value_labels=labels,
    )
