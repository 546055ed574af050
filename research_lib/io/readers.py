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

* **Bounded reading.** Before a workbook (``.xlsx .xlsm .ods``) is opened, its zip
  is read as a stream and refused when a part unpacks beyond 256 MB or 250:1, a
  cell, shared text or XML element is over 400,000 bytes (about 100,000
  characters), the first sheet uses more than 1,000,000 rows, 2,000 columns or
  10,000,000 cells counted from A1 (declared or used; ODS repeats as expanded), or
  its cells would show more than 512 MB of text. A CSV value over 100,000
  characters is refused with its row and column. See ``MAX_SHEET_ROWS`` and the
  other ``MAX_*`` constants; ``.xls`` (no compression, at most 65,536 x 256 cells)
  and ``.sav`` files are not checked further.

A file that cannot be read as a whole raises :class:`~research_lib.errors.InputError`
with a message that names the file and says how to fix it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import html
import io
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from xml.parsers import expat

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
    "MAX_SHEET_ROWS",
    "MAX_SHEET_COLUMNS",
    "MAX_SHEET_CELLS",
    "MAX_CELL_CHARS",
    "MAX_CELL_XML_BYTES",
    "MAX_SHEET_TEXT_BYTES",
    "MAX_MEMBER_BYTES",
    "MAX_COMPRESSION_RATIO",
    "MAX_WORKBOOK_BYTES",
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
        but no data, is not a table (binary, or no delimiter found), has
        duplicate or unusable column names, or is beyond the reading bounds
        (a workbook "bomb", a value over ``MAX_CELL_CHARS`` characters).
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


def _check_value_lengths(
    source: Path, layout: _Layout, columns: Sequence[pa.Array | pa.ChunkedArray], rows: np.ndarray
) -> None:
    """InputError naming the row and column of the first value over ``MAX_CELL_CHARS``."""
    for i, column in enumerate(columns):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        longest = pc.max(pc.binary_length(column)).as_py()  # bytes >= characters: cheap test
        if longest is None or longest <= MAX_CELL_CHARS:
            continue
        lengths = pc.utf8_length(column)
        over = pc.greater(lengths, MAX_CELL_CHARS)
        at = pc.index(over, True).as_py()
        if at < 0:
            continue
        _too_long_value(
            source, int(rows[at]), layout.names[i] or _column_label(i), lengths[at].as_py()
        )


def _too_long_value(source: Path, row: int, column: str, length: int | None) -> NoReturn:
    size = f"{length:,} characters" if length else f"more than {MAX_CELL_CHARS:,} characters"
    raise InputError(
        f"{source.name}: row {row}, column {column!r} holds a value of {size}; the workbench "
        f"reads at most {MAX_CELL_CHARS:,} characters in one value. Check for a stray double "
        "quote that swallowed the lines after it, or shorten the value, and save the file again."
    )


def _assemble(source: Path, parsed: _Parsed) -> RawTable:
    """Clean and type the columns, drop empty rows, split off metadata, build the RawTable."""
    layout = parsed.layout
    _check_value_lengths(source, layout, parsed.columns, parsed.rows)
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


def _long_field(lines: Sequence[str], delimiter: str) -> int | None:
    """0-based field number of the first field over ``MAX_CELL_CHARS`` in the record
    starting at ``lines[0]`` (quotes respected), or None; reads no further than that field."""
    field_number, length, quoted = 0, 0, False
    for line in lines:
        for char in line:
            if char == '"':
                quoted = not quoted
            elif not quoted and char == delimiter:
                field_number, length = field_number + 1, 0
                continue
            elif not quoted and char in "\r\n":
                return None
            length += 1
            if length > MAX_CELL_CHARS:
                return field_number
    return None


def _parse_csv_exact(
    text: str, delimiter: str, n_fields: int, source: Path
) -> tuple[list[pa.Array], np.ndarray, list[dict]]:
    """Slow, exact pass with the csv module: columns, record numbers and malformed records.

    Used when pyarrow met rows it could not split, to number every record exactly.
    Records with no value at all are skipped; extra trailing fields that are empty are dropped.
    """
    lines, reader = _csv_reader(text, delimiter)
    header: list[str] = []
    end = 0
    records: list[list[str]] = []
    rows: list[int] = []
    malformed: list[dict] = []
    record = 1
    try:
        header = next(reader)
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
        if "field larger than field limit" in str(exc):
            at = _long_field(lines[end:], delimiter)
            if at is not None:
                name = header[at] if at < len(header) and header[at] else _column_label(at)
                _too_long_value(source, record + 1, _normalise_name(name), None)
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


# --------------------------------------------------------------------------- workbook bounds
#
# A workbook is a zip of XML files, and the spreadsheet reader (calamine) builds the
# whole rectangle from A1 to the last used cell, and every text, in memory before a
# single value comes back: a 5 KB file with one value in cell XFD1048576 asks for
# hundreds of gigabytes (a Rust abort, not an exception), and one cell of 838 MB of
# text compresses to under 1 MB. So before calamine opens an .xlsx/.xlsm/.ods file,
# the zip is read here as a stream (a few MB in memory at a time, whatever the file
# unpacks to) and refused with an InputError beyond these limits. A survey file is
# far below all of them (5,000 respondents x 67 columns = 335,000 cells, 11 MB of XML).

#: Most rows a sheet may use (counted from row 1 to the last cell that is present).
MAX_SHEET_ROWS = 1_000_000
#: Most columns a sheet may use (column BXX); Excel allows 16,384 (XFD).
MAX_SHEET_COLUMNS = 2_000
#: Most cells in the rectangle from A1 to the last used row and column: about
#: 100,000 respondents x 100 columns, a few GB once read.
MAX_SHEET_CELLS = 10_000_000
#: Longest value, in characters: a CSV field, or (as stored bytes, below) a workbook cell.
MAX_CELL_CHARS = 100_000
#: Longest cell text, shared text or single XML element as stored in a workbook:
#: 4 bytes per character (Excel and LibreOffice stop at 32,767 characters a cell,
#: at most about 330 KB as XML even if every character is escaped).
MAX_CELL_XML_BYTES = 4 * MAX_CELL_CHARS
#: Most text the cells of the first sheet may hold in all (shared texts counted
#: once per cell that shows them: 1,000 cells pointing at one 400 KB text are 400 MB).
MAX_SHEET_TEXT_BYTES = 512 * 2**20
#: Most bytes one file inside the zip may unpack to (a sheet of about 250,000 rows
#: of 67 answers), whatever the zip directory says.
MAX_MEMBER_BYTES = 256 * 2**20
#: Highest unpacked/packed ratio of a file inside the zip once it passes
#: ``_RATIO_FLOOR_BYTES`` (survey sheets pack about 10:1; a zip bomb about 1,000:1).
MAX_COMPRESSION_RATIO = 250
#: Most bytes all the files inside one workbook may unpack to together.
MAX_WORKBOOK_BYTES = 4 * MAX_MEMBER_BYTES
_RATIO_FLOOR_BYTES = 8 * 2**20
_OUT_BYTES = 1 << 20  # unpacked bytes handed on at a time
_IN_BYTES = 1 << 16  # packed bytes read at a time
_ZIP_EXTENSIONS = (".xlsx", ".xlsm", ".ods")
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra length
_PAD = b"\0" * 64
_XML_DELIMITERS = np.zeros(256, dtype=bool)
_XML_DELIMITERS[[9, 10, 13, 32, ord(">"), ord("/")]] = True
_NAME_BYTES = np.zeros(256, dtype=bool)
_NAME_BYTES[[*b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/"]] = True
# Local names calamine acts on in a worksheet: a prefixed one (<x:c>) takes the slow path.
_SHEET_NAMES = frozenset({b"c", b"row", b"v", b"is", b"t", b"r", b"dimension", b"sheetData"})
_DIMENSION = re.compile(
    rb'<dimension ref="([A-Z]{1,7})([0-9]{1,12})(?::([A-Z]{1,7})([0-9]{1,12}))?"'
)
_SPECIAL_ENDS = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"), (b"<!", b">"))


class _SlowPath(Exception):
    """The sheet XML is not in the usual form; read it again with the exact (expat) scan."""


def _column_number(letters: str) -> int:
    """1-based column number of spreadsheet column *letters* (``"A"`` -> 1, ``"XFD"`` -> 16384)."""
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _windows(a: np.ndarray, width: int) -> np.ndarray:
    """Every *width* bytes of *a* as rows (a view: ``_windows(a, 3)[i]`` is ``a[i:i+3]``)."""
    return np.lib.stride_tricks.sliding_window_view(a, width)


def _next_special(buffer: bytes, position: int, cut: int) -> int:
    """Offset of the first ``<!`` or ``<?`` in ``buffer[position:cut]``, or -1.

    Looks for the rare ``!`` and ``?`` (a fast byte search) rather than for ``<``.
    """
    best = -1
    for mark in b"!?":
        found = buffer.find(mark, position + 1, cut + 1)
        while found > 0 and buffer[found - 1] != 60:
            found = buffer.find(mark, found + 1, cut + 1)
        if found > 0 and (best < 0 or found - 1 < best):
            best = found - 1
    return best


def _check_workbook_bounds(source: Path) -> None:
    """Raise InputError when a zipped workbook is beyond the limits above.

    Nothing is decided for files that are not zips (``.xls``: no compression, at most
    65,536 x 256 cells) or broken zips: the workbook reader then says what is wrong.
    """
    suffix = source.suffix.lower()
    if suffix not in _ZIP_EXTENSIONS:
        return
    try:
        with source.open("rb") as handle:
            if not zipfile.is_zipfile(handle):
                return
            with zipfile.ZipFile(handle) as book:
                _WorkbookBounds(source, book, handle, ods=suffix == ".ods").check()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, struct.error, zlib.error):
        return  # not a readable zip: python-calamine reports it


class _WorkbookBounds:
    """The streaming checks of one zipped workbook (see the limits above)."""

    def __init__(self, source: Path, book: zipfile.ZipFile, handle: Any, *, ods: bool) -> None:
        self.source = source
        self.book = book
        self.handle = handle
        self.ods = ods
        self.sheet = "first sheet"
        self.first_sheet = "content.xml" if ods else ""  # member name, lower case
        self.shared: np.ndarray = np.zeros(0, dtype=np.int64)  # bytes of each shared text
        self.unpacked = 0  # bytes unpacked so far, all parts

    # ---------------------------------------------------------------- driver

    def check(self) -> None:
        infos = self.book.infolist()
        roles = self._roles(infos)
        for info in infos:
            if info.file_size > MAX_MEMBER_BYTES:
                self._too_big(info)
        order = sorted(infos, key=lambda info: roles.get(info.filename.lower()) != "sst")
        for info in order:
            role = roles.get(info.filename.lower())
            if role == "sst":
                self._scan_shared_strings(info)
            elif role == "sheet":
                try:
                    _SheetScan(self).run(info)
                except _SlowPath:
                    _SheetScan(self, slow=True).run(info)
            elif role == "ods":
                self._scan_ods(info)
            elif role == "xml":
                for _ in self._xml_blocks(info):
                    pass
            else:
                for _ in self._chunks(info):
                    pass

    def _roles(self, infos: list[zipfile.ZipInfo]) -> dict[str, str]:
        """Lower-case member name -> what calamine reads it as."""
        if self.ods:
            return {"content.xml": "ods"}
        roles = {
            "xl/workbook.xml": "xml",
            "xl/_rels/workbook.xml.rels": "xml",
            "xl/styles.xml": "xml",
            "xl/sharedstrings.xml": "sst",
        }
        for target in self._targets(infos, "/sharedStrings"):  # as named in the rels too
            roles[target] = "sst"
        first = self._first_sheet(infos)
        if first is None:  # cannot tell which sheet is first: every worksheet counts
            for info in infos:
                if info.filename.lower().startswith("xl/worksheets/"):
                    roles[info.filename.lower()] = "sheet"
        else:
            roles[first.lower()] = "sheet"
            self.first_sheet = first.lower()
        return roles

    def _targets(self, infos: list[zipfile.ZipInfo], kind: str) -> list[str]:
        """Lower-case member names the workbook's rels give for relations of type *kind*."""
        rels = next((i for i in infos if i.filename.lower() == "xl/_rels/workbook.xml.rels"), None)
        text = None if rels is None else self._small(rels)
        targets = []
        for relation in re.findall(rb"<(?:\w+:)?Relationship\b([^>]*)>", text or b""):
            attributes = dict(re.findall(rb'([\w:]+)\s*=\s*"([^"]*)"', relation))
            if attributes.get(b"Type", b"").endswith(kind.encode()):
                targets.append(_xl_path(attributes.get(b"Target", b"")).lower())
        return targets

    def _first_sheet(self, infos: list[zipfile.ZipInfo]) -> str | None:
        """Member name of the first sheet, as calamine finds it (workbook.xml + its rels)."""
        names = {info.filename.lower(): info for info in infos}
        workbook = names.get("xl/workbook.xml")
        rels = names.get("xl/_rels/workbook.xml.rels")
        if workbook is None or rels is None:
            return None
        workbook_xml, rels_xml = self._small(workbook), self._small(rels)
        if workbook_xml is None or rels_xml is None:
            return None
        sheet = re.search(rb"<(?:\w+:)?sheet\b([^>]*)>", workbook_xml)
        if sheet is None:
            return None
        attributes = dict(re.findall(rb'([\w:]+)\s*=\s*"([^"]*)"', sheet[1]))
        rid = attributes.get(b"r:id") or attributes.get(b"relationships:id")
        self.sheet = html.unescape(attributes.get(b"name", b"").decode("utf-8", "replace"))
        for relation in re.findall(rb"<(?:\w+:)?Relationship\b([^>]*)>", rels_xml):
            relation_attributes = dict(re.findall(rb'([\w:]+)\s*=\s*"([^"]*)"', relation))
            if rid is not None and relation_attributes.get(b"Id") == rid:
                path = _xl_path(relation_attributes.get(b"Target", b""))
                return path if path.lower() in names else None
        return None

    def _small(self, info: zipfile.ZipInfo, limit: int = 16 * 2**20) -> bytes | None:
        """The whole (checked) XML of a small member, or None when it is over *limit* bytes."""
        blocks, size = [], 0
        for block in self._xml_blocks(info):
            size += len(block)
            if size > limit:
                return None
            blocks.append(block)
        return b"".join(blocks)

    # ---------------------------------------------------------------- zip stream

    def _chunks(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """Unpacked bytes of one member, a chunk at a time, counted as they come.

        The sizes in the zip directory can lie, so the packed data are inflated
        here (stored or deflate, the only methods of Excel and LibreOffice) and
        the count stops at ``MAX_MEMBER_BYTES``; an extreme packing ratio stops
        it earlier.
        """
        if info.flag_bits & 0x1:
            raise InputError(
                f"{self.source.name}: part {info.filename!r} of the workbook is encrypted. "
                "Save a copy without a password and read that."
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InputError(
                f"{self.source.name}: part {info.filename!r} of the workbook is packed in an "
                f"unusual way (zip method {info.compress_type}). Open the file in Excel or "
                "LibreOffice and save it again as .xlsx."
            )
        self.handle.seek(info.header_offset)
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(self.handle.read(30))
        if signature != b"PK\x03\x04":
            raise zipfile.BadZipFile(info.filename)
        self.handle.seek(info.header_offset + 30 + name_length + extra_length)
        inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        left, packed, unpacked = info.compress_size, 0, 0
        while left > 0:
            data = self.handle.read(min(left, _IN_BYTES))
            if not data:
                return
            left -= len(data)
            packed += len(data)
            while data:
                if inflate is None:
                    out, data = data, b""
                else:
                    out = inflate.decompress(data, _OUT_BYTES)
                    data = inflate.unconsumed_tail
                unpacked += len(out)
                self.unpacked += len(out)
                if unpacked > MAX_MEMBER_BYTES:
                    self._too_big(info)
                if self.unpacked > MAX_WORKBOOK_BYTES:
                    raise InputError(
                        f"{self.source.name}: the parts of the workbook unpack to more than "
                        f"{_size_text(MAX_WORKBOOK_BYTES)} in all, far beyond a survey file. "
                        "Check that this is the right file; export large data as CSV."
                    )
                if unpacked > _RATIO_FLOOR_BYTES and unpacked > MAX_COMPRESSION_RATIO * packed:
                    raise InputError(
                        f"{self.source.name}: {self._part(info)} unpacks "
                        f"to more than {MAX_COMPRESSION_RATIO} times its packed size, as a "
                        "'zip bomb' does. Check that this is the right file; open it in Excel "
                        "or LibreOffice and save it again, or export the data as CSV."
                    )
                if out:
                    yield out
            if inflate is not None and inflate.eof:
                return

    def _too_big(self, info: zipfile.ZipInfo) -> NoReturn:
        raise InputError(
            f"{self.source.name}: {self._part(info)} unpacks to more than "
            f"{_size_text(MAX_MEMBER_BYTES)}, far beyond a survey file (a 'zip bomb' or a "
            "damaged file). Check that this is the right file; export large data as CSV."
        )

    def _part(self, info: zipfile.ZipInfo) -> str:
        """``sheet 'data' (xl/worksheets/sheet1.xml)`` or ``part 'xl/media/x.png' of the workbook``."""
        if info.filename.lower() == self.first_sheet:
            return f"sheet {self.sheet!r} ({info.filename})"
        return f"part {info.filename!r} of the workbook"

    def _xml_blocks(self, info: zipfile.ZipInfo, *, check_runs: bool = True) -> Iterator[bytes]:
        """Unpacked XML in blocks that end just before a ``<``, checked for long pieces.

        No text, tag, comment or CDATA section may be longer than
        ``MAX_CELL_XML_BYTES``: the XML parser would hold it whole in memory.
        Each block after the first starts with ``<``.
        """
        carry = b""
        for chunk in self._chunks(info):
            buffer = carry + chunk
            cut = buffer.rfind(b"<")
            cut = self._special_cut(buffer, 0 if cut < 0 else cut, info)
            if cut <= 0:
                carry = buffer
            else:
                block, carry = buffer[:cut], buffer[cut:]
                if check_runs:
                    self._check_runs(block, info)
                yield block
            if len(carry) > MAX_CELL_XML_BYTES + 64:
                self._too_long(info)
        if carry:
            self._special_cut(carry, len(carry), info, final=True)
            if check_runs:
                self._check_runs(carry, info)
            yield carry

    def _special_cut(
        self, buffer: bytes, cut: int, info: zipfile.ZipInfo, *, final: bool = False
    ) -> int:
        """*cut*, or the start of a comment/CDATA/declaration whose end is not in *buffer* yet."""
        position = 0
        while True:
            start = _next_special(buffer, position, cut)
            if start < 0:
                return cut
            end_mark = next(end for begin, end in _SPECIAL_ENDS if buffer.startswith(begin, start))
            end = buffer.find(end_mark, start + 2, start + MAX_CELL_XML_BYTES + len(end_mark))
            if end < 0:
                if len(buffer) - start >= MAX_CELL_XML_BYTES:
                    self._too_long(info)
                return cut if final else start  # unfinished at the end: calamine reports it
            position = end + len(end_mark)

    def _check_runs(self, block: bytes, info: zipfile.ZipInfo) -> None:
        """InputError when the block has a stretch without ``<`` longer than the limit.

        Looks for a ``<`` in every stretch of half the limit (a fast byte search);
        only around a stretch without one is the exact length measured.
        """
        step = MAX_CELL_XML_BYTES // 2
        for start in range(0, len(block), step):
            if block.find(b"<", start, start + step) >= 0:
                continue
            before = block.rfind(b"<", 0, start)
            after = block.find(b"<", start)
            if (len(block) if after < 0 else after) - max(before, 0) > MAX_CELL_XML_BYTES:
                self._too_long(info)

    def _too_long(self, info: zipfile.ZipInfo, what: str = "a value or an XML element") -> NoReturn:
        where = (
            f"sheet {self.sheet!r}"
            if info.filename.lower() != "xl/sharedstrings.xml"
            else "the shared texts"
        )
        raise InputError(
            f"{self.source.name}: {where} ({info.filename}) holds {what} longer than "
            f"{MAX_CELL_XML_BYTES:,} bytes (about {MAX_CELL_CHARS:,} characters; Excel itself "
            "allows 32,767 in a cell). Shorten or remove that value (or check that this is "
            "the right file) and save the workbook again."
        )

    # ---------------------------------------------------------------- shared strings / ODS (exact, expat)

    def _scan_shared_strings(self, info: zipfile.ZipInfo) -> None:
        """Bytes of each non-empty shared text, in calamine's numbering (empty ones are skipped)."""
        lengths: list[int] = []
        state = {"depth": 0, "length": 0}

        def start(name: str, _attributes: Any) -> None:
            if name.rpartition(":")[2] == "si":
                state["depth"] += 1
                state["length"] = 0

        def end(name: str) -> None:
            if name.rpartition(":")[2] == "si" and state["depth"]:
                state["depth"] -= 1
                if state["length"]:
                    lengths.append(state["length"])

        def text(data: str) -> None:
            if state["depth"]:
                state["length"] += len(data.encode("utf-8"))
                if state["length"] > MAX_CELL_XML_BYTES:
                    self._too_long(info, "a text")

        self._expat(info, start, end, text)
        found = np.asarray(lengths, dtype=np.int64)
        if len(self.shared):  # two shared-text parts: count the longer of each
            size = max(len(found), len(self.shared))
            found = np.maximum(
                np.pad(found, (0, size - len(found))),
                np.pad(self.shared, (0, size - len(self.shared))),
            )
        self.shared = found

    def _expat(self, info: zipfile.ZipInfo, start: Any, end: Any, text: Any) -> None:
        """Run the exact scan; XML it cannot follow is refused, not waved through.

        The spreadsheet reader is more lenient than expat, so a part expat cannot
        parse could still be loaded (and be a bomb): it is refused. Spreadsheet
        files never declare a DTD, so one (with its entities) is refused too.
        """
        parser = expat.ParserCreate()
        parser.buffer_text = False
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text
        parser.StartDoctypeDeclHandler = lambda *_: self._not_checkable(info, "it declares a DTD")
        try:
            for block in self._xml_blocks(info):
                parser.Parse(block, False)
            parser.Parse(b"", True)
        except expat.ExpatError as exc:
            self._not_checkable(
                info, f"it is not well-formed XML: {expat.ErrorString(exc.code)}, line {exc.lineno}"
            )

    def _not_checkable(self, info: zipfile.ZipInfo, why: str) -> NoReturn:
        raise InputError(
            f"{self.source.name}: {self._part(info)} cannot be checked before reading because "
            f"{why}. Open the file in Excel or LibreOffice and save it again."
        )

    def _scan_ods(self, info: zipfile.ZipInfo) -> None:
        """Emulate calamine's ODS reader: repeated cells and rows are expanded."""
        scan = _OdsScan(self, info)
        self._expat(info, scan.start, scan.end, scan.text)

    def refuse_area(self, rows: int, columns: int, where: str) -> None:
        """InputError when a sheet of *rows* x *columns* (from A1) is beyond the limits."""
        if (
            rows <= MAX_SHEET_ROWS
            and columns <= MAX_SHEET_COLUMNS
            and rows * columns <= MAX_SHEET_CELLS
        ):
            return
        raise InputError(
            f"{self.source.name}: sheet {self.sheet!r} {where} {rows:,} rows x {columns:,} "
            f"columns; the workbench reads at most {MAX_SHEET_ROWS:,} rows, "
            f"{MAX_SHEET_COLUMNS:,} columns and {MAX_SHEET_CELLS:,} cells. Delete the empty "
            "rows and columns below and to the right of the data (or copy just the data into "
            "a new workbook) and save it again, or export the data as CSV."
        )

    def refuse_reference(self, reference: str) -> NoReturn:
        raise InputError(
            f"{self.source.name}: sheet {self.sheet!r} has a cell at {reference[:20]!r}, which "
            "is not a cell address. Open the file in Excel or LibreOffice and save it again."
        )

    def refuse_text(self, total: int) -> None:
        if total > MAX_SHEET_TEXT_BYTES:
            raise InputError(
                f"{self.source.name}: the cells of sheet {self.sheet!r} hold more than "
                f"{_size_text(MAX_SHEET_TEXT_BYTES)} of text in all (counting a shared text "
                "once for every cell that shows it). Check that this is the right file, or "
                "export the data as CSV."
            )


class _SheetScan:
    """Extent, shared-text references and inline texts of the first worksheet.

    The fast scan works on the XML bytes with numpy and relies on the form every
    spreadsheet program writes (``<c r="B7" s="1" t="s"><v>12</v></c>``): it takes
    the extent from the ``r`` references and bounds the shared text shown by
    counting, for every ``<v>`` holding a whole number, the shared text of that
    number (a superset of what calamine looks up). Anything else (cells without
    ``r`` first, prefixed names, ``<v>`` with attributes), or a bound above the
    limit, raises :class:`_SlowPath` and the sheet is read again with expat,
    following calamine's rules exactly (cell types included).
    """

    def __init__(self, bounds: _WorkbookBounds, *, slow: bool = False) -> None:
        self.bounds = bounds
        self.slow = slow
        self.max_row = 0
        self.max_column = 0
        self.text = 0
        self.open_inline: int | None = None  # offset of an <is> not closed yet
        self._column_group = 0  # letters in the latest column seen so far

    def run(self, info: zipfile.ZipInfo) -> None:
        self.info = info
        if self.slow:
            self._run_expat(info)
        else:
            offset = 0
            for number, block in enumerate(self.bounds._xml_blocks(info, check_runs=False)):
                if number == 0:
                    self._dimension(block)
                self._block(block, offset)
                offset += len(block)
            if self.open_inline is not None:
                self.bounds._too_long(info, "a text")
            if self.text > MAX_SHEET_TEXT_BYTES:
                raise _SlowPath  # the superset is too large: count exactly
        last = f"{_column_letters(self.max_column)}{self.max_row}"
        self.bounds.refuse_area(self.max_row, self.max_column, f"uses cells up to {last}, that is")
        self.bounds.refuse_text(self.text)

    def _dimension(self, block: bytes) -> None:
        match = _DIMENSION.search(block)
        if match is None:
            return
        column, row = match[3] or match[1], match[4] or match[2]
        ref = match[0].split(b'"')[1].decode()
        self.bounds.refuse_area(
            int(row), _column_number(column.decode()), f"declares its used area as {ref}, that is"
        )

    # ---------------------------------------------------------------- fast (numpy)

    def _block(self, block: bytes, offset: int) -> None:
        size = len(block)
        self.bounds._check_runs(block, self.info)
        padded = block + _PAD
        a = np.frombuffer(padded, dtype=np.uint8)
        tag = a[:size] == 60  # '<'
        after = a[1 : size + 1]
        if b":" in block:  # a fast byte search; colons are rare outside the first block
            self._prefixes(block, a, np.flatnonzero(a[:size] == 58))
        cells = np.flatnonzero(tag & (after == 99))  # '<c'
        cells = cells[_XML_DELIMITERS[a[cells + 2]]]
        if len(cells):
            self._cells(padded, a, cells)
        if len(self.bounds.shared):
            values = np.flatnonzero(tag & (after == 118))  # '<v'
            values = values[_XML_DELIMITERS[a[values + 2]]]
            if (a[values + 2] != 62).any():
                raise _SlowPath  # <v> with attributes
            if len(values):
                self._values(a, values)
        opens = np.flatnonzero(tag & (after == 105))  # '<i'
        opens = opens[(a[opens + 2] == 115) & _XML_DELIMITERS[a[opens + 3]]]
        closes = np.flatnonzero(tag & (after == 47) & (a[2 : size + 2] == 105))  # '</i'
        closes = closes[(a[closes + 3] == 115) & _XML_DELIMITERS[a[closes + 4]]]
        self._inline(opens + offset, closes + offset, offset + size)

    def _prefixes(self, block: bytes, a: np.ndarray, colons: np.ndarray) -> None:
        """_SlowPath when an element calamine reads is written with a prefix (``<x:c>``)."""
        colons = colons[colons > 1]
        window = a[colons[:, None] - 40 + np.arange(40)] if len(colons) else None
        if window is None:
            return
        # the nearest '<' within the 40 bytes before each colon
        lt = window == 60
        has = lt.any(axis=1)
        distance = 40 - (39 - lt[:, ::-1].argmax(axis=1))  # colon - position of that '<'
        colons, distance = colons[has], distance[has]
        keep = (distance > 1) & (colons - distance >= 0)
        colons, starts = colons[keep], colons[keep] - distance[keep]
        if not len(colons):
            return
        window = _windows(a, 40)[starts + 1]
        name = _NAME_BYTES[window] | (np.arange(40) >= (colons - starts - 1)[:, None])
        for colon in colons[name.all(axis=1)]:
            local = re.match(rb"[\w.-]+", block[colon + 1 : colon + 12])
            if local is not None and local[0] in _SHEET_NAMES:
                raise _SlowPath

    def _cells(self, padded: bytes, a: np.ndarray, cells: np.ndarray) -> None:
        """Update the extent from the cells' ``r="B7"`` references.

        Each reference is read as one big-endian 64-bit number (its first 8 bytes):
        the column letters have bit 6 set, the closing quote is found with a
        zero-byte test, and the latest row (column) is the largest number among the
        references with the most digits (letters). Longer references (row 100,000
        and beyond with two letters) go through :meth:`_cells_window`.
        """
        start = np.ndarray((len(padded) - 3,), dtype=">u4", buffer=padded, strides=(1,))
        if (start[cells + 2] != 0x2072_3D22).any():  # ' r="'
            raise _SlowPath  # a cell without r="..." first
        keys = np.ndarray((len(padded) - 7,), dtype=">u8", buffer=padded, strides=(1,))
        key = keys[cells + 6].astype(np.uint64)
        byte = [(key >> np.uint64(56 - 8 * i)) & np.uint64(0xFF) for i in range(4)]
        if not (byte[0] & np.uint64(0x40)).all():
            raise _SlowPath  # a reference without column letters
        second, third = byte[1] & np.uint64(0x40) > 0, byte[2] & np.uint64(0x40) > 0
        n_letters = 1 + second.astype(np.uint64) + (second & third).astype(np.uint64)
        if (second & third & (byte[3] & np.uint64(0x40) > 0)).any():
            raise _SlowPath  # four letters or more: beyond XFD, the exact scan decides
        flipped = key ^ np.uint64(0x2222_2222_2222_2222)  # '"' -> 0
        zero = (
            (flipped - np.uint64(0x0101_0101_0101_0101))
            & ~flipped
            & np.uint64(0x8080_8080_8080_8080)
        )
        quote = np.full(len(key), 8, dtype=np.uint64)  # bytes before the first '"'
        for i in range(8):
            quote -= zero >= np.uint64(1 << (8 * i + 7))
        long = quote == 8
        if long.any():  # no quote in the first 8 bytes
            self._cells_window(a, cells[long])
            keep = ~long
            key, n_letters, quote = key[keep], n_letters[keep], quote[keep]
            if not len(key):
                return
        n_digits = quote - n_letters
        first_digit = (key >> (np.uint64(56) - np.uint64(8) * n_letters)) & np.uint64(0xFF)
        if (n_digits == 0).any() or (first_digit == 0x30).any():
            raise _SlowPath  # 'A' or 'A0' or 'A007': the exact scan decides
        longest = int(n_digits.max())
        widest = n_digits == longest
        digits = (key[widest] << (np.uint64(8) * n_letters[widest])) >> np.uint64(64 - 8 * longest)
        top = int(digits.max()).to_bytes(longest, "big").decode("ascii", "replace")
        self.max_row = max(self.max_row, int(top) if top.isdigit() else 10**longest)
        most = int(n_letters.max())
        if most >= self._column_group:
            letters = (key[n_letters == most] >> np.uint64(64 - 8 * most)) & np.uint64(0xDFDFDF)
            top = int(letters.max()).to_bytes(most, "big").decode("ascii", "replace")
            self._column_group = most
            self.max_column = max(self.max_column, _column_number(top))

    def _cells_window(self, a: np.ndarray, cells: np.ndarray) -> None:
        """:meth:`_cells` for references of 8 bytes or more, byte by byte (slower).

        Only maxima are needed, so references are compared as bytes: more letters
        (digits) is a later column (row); with as many, the bytes order them.
        """
        ref = _windows(a, 11)[cells + 6] & 0xDF  # upper case; digits -> 16..25, '"' -> 2
        letter = (ref >= 65) & (ref <= 90)
        one, two, three = letter[:, 0], letter[:, 0] & letter[:, 1], letter[:, :3].all(axis=1)
        if not one.all() or (three & letter[:, 3]).any():
            raise _SlowPath  # no column letters, or beyond XFD: the exact scan decides
        for n_letters, rows in ((3, three), (2, two & ~three), (1, one & ~two)):
            if not rows.any():
                continue
            part = ref[rows]
            if n_letters >= self._column_group:
                self._max_letters(part[:, :n_letters], n_letters)
            digits = part[:, n_letters : n_letters + 8]
            is_digit = (digits >= 16) & (digits <= 25)
            n_digits = is_digit.argmin(axis=1)  # 0 when none or all eight are digits
            end = digits[np.arange(len(digits)), n_digits]
            if (n_digits == 0).any() or (end != 2).any() or (digits[:, 0] == 16).any():
                raise _SlowPath  # not a plain reference within row 9,999,999
            longest = int(n_digits.max())
            widest = digits[n_digits == longest, :longest] - 16
            key = np.zeros((len(widest), 8), dtype=np.uint8)
            key[:, 8 - longest :] = widest
            top = int(key.view(">u8").max())
            self.max_row = max(self.max_row, int("".join(str(d) for d in top.to_bytes(8, "big"))))

    def _max_letters(self, letters: np.ndarray, n_letters: int) -> None:
        """Raise ``max_column`` to the latest column among *letters* (all *n_letters* long)."""
        key = np.zeros((len(letters), 4), dtype=np.uint8)
        key[:, 4 - n_letters :] = letters
        top = int(key.view(">u4").max()).to_bytes(4, "big")[4 - n_letters :]
        self._column_group = n_letters
        self.max_column = max(self.max_column, _column_number(top.decode("ascii")))

    def _values(self, a: np.ndarray, values: np.ndarray) -> None:
        """Add the length of shared text *k* for every ``<v>k</v>`` (a superset of the lookups)."""
        lengths = self.bounds.shared
        if not len(lengths):
            return
        window = _windows(a, 11)[values + 3].astype(np.int64)
        is_digit = (window >= 48) & (window <= 57)
        n_digits = is_digit.argmin(axis=1)
        if (window[:, 0] == 43).any() or (is_digit.all(axis=1)).any():
            raise _SlowPath  # '+12' or a long number: let the exact scan decide
        index = np.zeros(len(values), dtype=np.int64)
        for k in range(10):
            index = np.where(k < n_digits, index * 10 + window[:, k] - 48, index)
        usable = (n_digits > 0) & (index < len(lengths))
        self.text += int(lengths[index[usable]].sum())

    def _inline(self, opens: np.ndarray, closes: np.ndarray, end: int) -> None:
        """Add and check the size of inline texts (``<is>...</is>``), also across blocks."""
        if self.open_inline is not None:
            opens = np.concatenate([[self.open_inline], opens])
            self.open_inline = None
        if len(opens):
            at = np.searchsorted(closes, opens)
            closed = at < len(closes)
            spans = closes[at[closed]] - opens[closed]
            if len(spans) and spans.max() > MAX_CELL_XML_BYTES:
                self.bounds._too_long(self.info, "a text")
            self.text += int(spans.sum())
            if not closed[-1]:
                self.open_inline = int(opens[-1])
                if end - self.open_inline > MAX_CELL_XML_BYTES:
                    self.bounds._too_long(self.info, "a text")

    # ---------------------------------------------------------------- exact (expat)

    def _run_expat(self, info: zipfile.ZipInfo) -> None:
        """Follow calamine's cell reader: implicit positions, ``t="s"`` lookups, inline texts."""
        state = {"row": 0, "column": 0, "shared": False, "value": None, "inline": None}
        lengths = self.bounds.shared

        def start(name: str, attributes: dict[str, str]) -> None:
            local = name.rpartition(":")[2]
            if local == "dimension" and "ref" in attributes:
                match = _DIMENSION.search(f'<dimension ref="{attributes["ref"]}"'.encode())
                if match:
                    self._dimension(match[0])
            elif local == "row" and "r" in attributes and attributes["r"].isdigit():
                state["row"] = int(attributes["r"]) - 1
            elif local == "c":
                reference = re.fullmatch(r"([A-Za-z]+)([0-9]+)", attributes.get("r", "x1"))
                if reference is None or int(reference[2]) == 0:
                    self.bounds.refuse_reference(attributes["r"])
                if "r" in attributes:
                    row, column = int(reference[2]), _column_number(reference[1].upper())
                    state["column"] = column - 1
                else:
                    row, column = state["row"] + 1, state["column"] + 1
                state["column"] += 1
                self.max_row = max(self.max_row, row)
                self.max_column = max(self.max_column, column)
                state["shared"] = attributes.get("t") == "s"
            elif local == "v" and state["shared"]:
                state["value"] = ""
            elif local == "is":
                state["inline"] = 0

        def end(name: str) -> None:
            local = name.rpartition(":")[2]
            if local == "row":
                state["row"] += 1
                state["column"] = 0
            elif local == "v" and state["value"] is not None:
                value = state["value"].strip()
                if value.isdigit() and int(value) < len(lengths):
                    self.text += int(lengths[int(value)])
                    self.bounds.refuse_text(self.text)
                state["value"] = None
            elif local == "is" and state["inline"] is not None:
                self.text += state["inline"]
                state["inline"] = None
            elif local == "c":
                state["shared"] = False

        def text(data: str) -> None:
            if state["value"] is not None and len(state["value"]) < 32:
                state["value"] += data
            if state["inline"] is not None:
                state["inline"] += len(data.encode("utf-8"))
                if state["inline"] > MAX_CELL_XML_BYTES:
                    self.bounds._too_long(info, "a text")

        self.bounds._expat(info, start, end, text)


class _OdsScan:
    """Follow calamine's ODS reader: every table, repeated cells and rows expanded."""

    def __init__(self, bounds: _WorkbookBounds, info: zipfile.ZipInfo) -> None:
        self.bounds = bounds
        self.info = info
        self.table = False
        self.cells = 0  # cells calamine pushes before building the ranges (all tables)
        self.text_bytes = 0
        self._new_table()

    def _new_table(self) -> None:
        self.rows_before = 0  # repeated rows read so far in this table
        self.last_row = 0  # rows up to the last row with a value
        self.last_column = 0
        self.row: dict[str, int] | None = None
        self.cell: dict[str, int] | None = None

    @staticmethod
    def _count(attributes: dict[str, str], name: str) -> int:
        try:
            return max(1, int(attributes.get(name, "1")))
        except ValueError:
            return 1

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if name == "table:table":
            self.table = True
            self.bounds.sheet = attributes.get("table:name", "first sheet")
            self._new_table()
        elif not self.table:
            return
        elif name == "table:table-row":
            self.row = {
                "repeat": self._count(attributes, "table:number-rows-repeated"),
                "length": 0,
                "empty": 0,
                "last": 0,
            }
        elif name in ("table:table-cell", "table:covered-table-cell") and self.row is not None:
            repeat = self._count(attributes, "table:number-columns-repeated")
            valued = (
                attributes.get("office:value-type") == "string"
                or any(
                    key in attributes
                    for key in (
                        "office:value",
                        "office:string-value",
                        "office:date-value",
                        "office:time-value",
                        "office:boolean-value",
                    )
                )
                or bool(attributes.get("table:formula"))
            )
            row = self.row
            row["length"] += row["empty"]
            self.cells += row["empty"]
            row["empty"] = 0
            if valued:
                self.bounds.refuse_area(
                    self.rows_before + row["repeat"], row["length"] + repeat, "expands to"
                )
                row["length"] += repeat
                self.cells += repeat
                row["last"] = row["length"]
                self.cell = {
                    "repeat": repeat,
                    "length": len(attributes.get("office:string-value", "")),
                }
            else:
                row["empty"] = repeat
            if self.cells > MAX_SHEET_CELLS:
                raise InputError(
                    f"{self.bounds.source.name}: sheet {self.bounds.sheet!r} repeats cells "
                    f"{self.cells:,} times; the workbench reads at most {MAX_SHEET_CELLS:,} cells. "
                    "Delete the empty rows and columns around the data and save it again, or "
                    "export the data as CSV."
                )
        elif name == "text:s" and self.cell is not None:
            self.cell["length"] += self._count(attributes, "text:c")
            self._check_cell()
        elif name == "text:p" and self.cell is not None:
            self.cell["length"] += 1

    def end(self, name: str) -> None:
        if name == "table:table":
            self.table = False
        elif name in ("table:table-cell", "table:covered-table-cell") and self.cell is not None:
            assert self.row is not None
            self.text_bytes += self.cell["length"] * self.cell["repeat"] * self.row["repeat"]
            self.bounds.refuse_text(self.text_bytes)
            self.cell = None
        elif name == "table:table-row" and self.row is not None:
            self.rows_before += self.row["repeat"]
            if self.row["last"]:
                self.last_row = self.rows_before
                self.last_column = max(self.last_column, self.row["last"])
                self.bounds.refuse_area(self.last_row, self.last_column, "expands to")
            self.row = None

    def text(self, data: str) -> None:
        if self.cell is not None:
            self.cell["length"] += len(data.encode("utf-8"))
            self._check_cell()

    def _check_cell(self) -> None:
        assert self.cell is not None
        if self.cell["length"] > MAX_CELL_XML_BYTES:
            self.bounds._too_long(self.info, "a text")


def _xl_path(target: bytes) -> str:
    """Member name of a workbook relation target, as calamine resolves it."""
    path = target.decode("utf-8", "replace")
    if path.startswith("/xl/"):
        return path[1:]
    return path if path.startswith("xl/") else f"xl/{path}"


def _size_text(size: int) -> str:
    """``"256 MB"`` (or ``"1,000 bytes"`` below a megabyte)."""
    return f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size:,} bytes"


def _column_letters(number: int) -> str:
    """Spreadsheet letters of 1-based column *number* (``16384`` -> ``"XFD"``)."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters or "A"


# --------------------------------------------------------------------------- Excel / ODS


def _sheet_cells(source: Path) -> list[list[object]]:
    """Cells of the first sheet from cell A1 on (so list positions are Excel rows/columns)."""
    _check_workbook_bounds(source)
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
