"""Bounded reading: workbook bombs and over-long values give a clean InputError.

Issue 15 ("XLSX bombs"): a 5 KB workbook declaring or using ``A1:XFD1048576``
made the spreadsheet reader ask for hundreds of gigabytes (a Rust abort, exit
134), and one 838 MB cell packed into 820 KB took gigabytes of memory. Every
bomb here is built in ``tmp_path`` by the helpers below, written in pieces so
that no test holds the unpacked data in memory. The reference for "what the
reader would allocate" is the layout of calamine's reader (the rectangle from A1
to the last cell, shared texts copied per cell, ODS repeats expanded), checked
against files written by openpyxl and by hand.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

from research_lib.errors import InputError
from research_lib.io import readers
from research_lib.io.readers import (
    MAX_CELL_CHARS,
    MAX_CELL_XML_BYTES,
    MAX_SHEET_COLUMNS,
    MAX_SHEET_ROWS,
    read_table,
)

ROOT = Path(__file__).resolve().parents[2]
CODEBOOK = ROOT / "surveys" / "qol-child-v1.yaml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

# --------------------------------------------------------------------------- builders

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
    f'<Relationship Id="rId1" Type="{RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{RELS}">'
    '<sheets><sheet name="data" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
    f'<Relationship Id="rId1" Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>q1</t></is></c></row>'
)
DATA_ROW = '<row r="2"><c r="A2" t="inlineStr"><is><t>a</t></is></c><c r="B2"><v>3</v></c></row>'


def sheet_xml(rows: str, *, dimension: str | None = None, extra_ns: str = "") -> str:
    """A worksheet with *rows* inside ``<sheetData>``."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"{extra_ns}>{dim}'
        f"<sheetData>{rows}</sheetData></worksheet>"
    )


def write_workbook(
    path: Path,
    sheet: str | Iterable[bytes],
    *,
    shared: str | Iterable[bytes] | None = None,
    extra: dict[str, Iterable[bytes]] | None = None,
) -> Path:
    """Minimal .xlsx; *sheet*/*shared*/*extra* parts may be given as byte pieces (streamed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES)
        book.writestr("_rels/.rels", ROOT_RELS)
        book.writestr("xl/workbook.xml", WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        parts = {"xl/worksheets/sheet1.xml": sheet, **(extra or {})}
        if shared is not None:
            parts["xl/sharedStrings.xml"] = shared
        for name, content in parts.items():
            if isinstance(content, str):
                book.writestr(name, content)
                continue
            with book.open(name, "w", force_zip64=True) as out:
                for piece in content:
                    out.write(piece)
    return path


def repeated(prefix: str, unit: bytes, times: int, suffix: str) -> Iterable[bytes]:
    """*prefix*, then *unit* *times* times (in 1 MB pieces), then *suffix*: never held whole."""
    yield prefix.encode()
    per_piece = max(1, (1 << 20) // len(unit))
    piece = unit * per_piece
    left = times
    while left >= per_piece:
        yield piece
        left -= per_piece
    yield unit * left
    yield suffix.encode()


def write_ods(path: Path, table: str) -> Path:
    """Minimal OpenDocument spreadsheet whose content.xml holds *table*."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{table}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as book:
        book.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED
        )
        book.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        book.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return path


def ods_cell(value: str, repeat: int = 1) -> str:
    rep = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    return (
        f'<table:table-cell office:value-type="string"{rep}><text:p>{value}</text:p>'
        "</table:table-cell>"
    )


ODS_NORMAL_ROWS = (
    f"<table:table-row>{ods_cell('id')}{ods_cell('q1')}"
    '<table:table-cell table:number-columns-repeated="1022"/></table:table-row>'
    f'<table:table-row>{ods_cell("a")}<table:table-cell office:value-type="float" office:value="3">'
    "<text:p>3</text:p></table:table-cell>"
    '<table:table-cell table:number-columns-repeated="1022"/></table:table-row>'
    # what LibreOffice writes after the data: a million empty rows, never expanded
    '<table:table-row table:number-rows-repeated="1048574">'
    '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
)


@pytest.fixture
def exact_scan_forbidden(monkeypatch):
    """Fail if a sheet falls back to the slow, exact scan (normal files must not)."""

    def fail(self, info):  # pragma: no cover - only runs when the fast scan gives up
        raise AssertionError(f"{info.filename} took the slow path")

    monkeypatch.setattr(readers._SheetScan, "_run_expat", fail)


# --------------------------------------------------------------------------- normal workbooks


def test_minimal_workbook_still_loads(tmp_path: Path, exact_scan_forbidden) -> None:
    path = write_workbook(tmp_path / "ok.xlsx", sheet_xml(HEADER_ROW + DATA_ROW, dimension="A1:B2"))
    table = read_table(path, numeric_columns=["q1"])
    assert table.data["id"].tolist() == ["a"] and table.data["q1"].tolist() == [3.0]


def test_openpyxl_workbook_takes_the_fast_scan(tmp_path: Path, exact_scan_forbidden) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()  # shared strings, styles, a dimension: as Excel writes them
    sheet = book.active
    sheet.append(["respondent_id", "voice", "q1"])
    for i in range(300):
        sheet.append([f"R{i:04d}", "дълъг отговор " * 50 if i % 7 == 0 else "да", i % 5 + 1])
    sheet["AB1"], sheet["AB301"] = "note", "far but sane"
    book.save(tmp_path / "normal.xlsx")
    table = read_table(tmp_path / "normal.xlsx", numeric_columns=["q1"])
    assert len(table.data) == 300 and table.data["q1"].max() == 5.0


def test_cells_without_references_use_the_exact_scan(tmp_path: Path) -> None:
    rows = (
        '<row><c t="inlineStr"><is><t>id</t></is></c><c t="inlineStr"><is><t>q1</t></is></c></row>'
        '<row><c t="inlineStr"><is><t>a</t></is></c><c><v>3</v></c></row>'
    )
    table = read_table(write_workbook(tmp_path / "implicit.xlsx", sheet_xml(rows)))
    assert table.data["id"].tolist() == ["a"]


def test_normal_ods_still_loads(tmp_path: Path) -> None:
    table = f'<table:table table:name="data">{ODS_NORMAL_ROWS}</table:table>'
    loaded = read_table(write_ods(tmp_path / "ok.ods", table), numeric_columns=["q1"])
    assert loaded.data["id"].tolist() == ["a"] and loaded.data["q1"].tolist() == [3.0]


# --------------------------------------------------------------------------- area bombs


def test_declared_dimension_beyond_limits_is_refused(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "dim.xlsx", sheet_xml(HEADER_ROW + DATA_ROW, dimension="A1:XFD1048576")
    )
    assert path.stat().st_size < 5_000
    with pytest.raises(InputError) as caught:
        read_table(path)
    message = str(caught.value)
    assert message.startswith("dim.xlsx: sheet 'data' declares its used area as A1:XFD1048576")
    assert "1,048,576 rows x 16,384 columns" in message
    assert f"{MAX_SHEET_ROWS:,} rows, {MAX_SHEET_COLUMNS:,} columns" in message
    assert "Delete the empty rows and columns" in message


def test_one_far_cell_is_refused_without_a_dimension(tmp_path: Path) -> None:
    far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    path = write_workbook(tmp_path / "far.xlsx", sheet_xml(HEADER_ROW + DATA_ROW + far))
    with pytest.raises(InputError, match=r"far\.xlsx: sheet 'data' uses cells up to XFD1048576"):
        read_table(path)


def test_area_beyond_the_cell_limit_is_refused(tmp_path: Path) -> None:
    # 702 columns (ZZ) x 20,000 rows: each within its own limit, 14 million cells in all
    far = '<row r="20000"><c r="ZZ20000"><v>1</v></c></row>'
    path = write_workbook(tmp_path / "area.xlsx", sheet_xml(HEADER_ROW + DATA_ROW + far))
    with pytest.raises(InputError, match=r"uses cells up to ZZ20000, that is 20,000 rows x 702"):
        read_table(path)


@pytest.mark.parametrize(
    "cell",
    [
        '<x:c r="XFD1048576"><x:v>1</x:v></x:c>',  # a prefixed cell calamine still reads
        "<c r='XFD1048576'><v>1</v></c>",  # single quotes
        '<c  r="XFD1048576"><v>1</v></c>',  # two spaces
        '<c s="0" r="XFD1048576"><v>1</v></c>',  # r not first
    ],
)
def test_unusual_xml_cannot_hide_a_far_cell(tmp_path: Path, cell: str) -> None:
    sheet = sheet_xml(HEADER_ROW + DATA_ROW + f"<row>{cell}</row>", extra_ns=f' xmlns:x="{MAIN}"')
    with pytest.raises(InputError, match=r"uses cells up to XFD1048576"):
        read_table(write_workbook(tmp_path / "odd.xlsx", sheet))


def test_implicit_positions_count(tmp_path: Path) -> None:
    wide = "<row>" + "<c><v>1</v></c>" * (MAX_SHEET_COLUMNS + 1) + "</row>"
    path = write_workbook(tmp_path / "wide.xlsx", sheet_xml(HEADER_ROW + wide))
    with pytest.raises(InputError, match=rf"{MAX_SHEET_COLUMNS + 1:,} columns"):
        read_table(path)


def test_ods_repeated_cells_are_counted_as_expanded(tmp_path: Path) -> None:
    bomb = (
        f"<table:table-row>{ods_cell('id')}{ods_cell('q1')}</table:table-row>"
        '<table:table-row table:number-rows-repeated="1048575">'
        f"{ods_cell('x', 16384)}</table:table-row>"
    )
    path = write_ods(tmp_path / "bomb.ods", f'<table:table table:name="Лист1">{bomb}</table:table>')
    with pytest.raises(InputError, match=r"bomb\.ods: sheet 'Лист1' expands to"):
        read_table(path)


# --------------------------------------------------------------------------- text bombs


@pytest.fixture(scope="module")
def huge_cell(tmp_path_factory) -> Path:
    """One 838 MB cell packed into under 1 MB (written in 1 MB pieces)."""
    path = tmp_path_factory.mktemp("bomb") / "cell.xlsx"
    pieces = repeated(
        sheet_xml(HEADER_ROW, dimension="A1:B2").split("</sheetData>")[0]
        + '<row r="2"><c r="A2" t="inlineStr"><is><t>',
        b"a",
        838 * 2**20,
        "</t></is></c></row></sheetData></worksheet>",
    )
    write_workbook(path, pieces)
    return path


def test_one_huge_cell_is_refused(huge_cell: Path) -> None:
    assert huge_cell.stat().st_size < 2**20
    with pytest.raises(InputError) as caught:
        read_table(huge_cell)
    assert str(caught.value).startswith(
        "cell.xlsx: sheet 'data' (xl/worksheets/sheet1.xml) unpacks to more than 256 MB"
    )


def test_long_cell_is_found_while_unpacking(tmp_path: Path) -> None:
    # 50 MB of text in one cell: under the size limit of a part, far over that of a value
    pieces = repeated(
        sheet_xml(HEADER_ROW).split("</sheetData>")[0]
        + '<row r="2"><c r="A2" t="inlineStr"><is><t>',
        "щ".encode(),
        25 * 2**20,
        "</t></is></c></row></sheetData></worksheet>",
    )
    with pytest.raises(InputError) as caught:
        read_table(write_workbook(tmp_path / "long.xlsx", pieces))
    message = str(caught.value)
    assert message.startswith("long.xlsx: sheet 'data' (xl/worksheets/sheet1.xml) holds")
    assert (
        f"longer than {MAX_CELL_XML_BYTES:,} bytes (about {MAX_CELL_CHARS:,} characters" in message
    )


def test_shared_string_bomb_is_refused(tmp_path: Path) -> None:
    shared = repeated(
        f'<?xml version="1.0"?><sst xmlns="{MAIN}"><si><t>',
        b"\xd0\xb0",
        100 * 2**20,
        "</t></si></sst>",
    )
    sheet = sheet_xml(HEADER_ROW + '<row r="2"><c r="A2" t="s"><v>0</v></c></row>')
    with pytest.raises(InputError, match=r"the shared texts \(xl/sharedStrings\.xml\) holds"):
        read_table(write_workbook(tmp_path / "sst.xlsx", sheet, shared=shared))


def test_one_long_shared_text_shown_in_many_cells_is_refused(tmp_path: Path) -> None:
    # 300 KB is allowed once; shown in 2,000 cells it would be 600 MB of text
    shared = f'<sst xmlns="{MAIN}"><si><t>{"a" * 300_000}</t></si><si><t>b</t></si></sst>'
    rows = "".join(
        f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c><c r="B{r}"><v>1</v></c></row>'
        for r in range(2, 2002)
    )
    path = write_workbook(tmp_path / "fanout.xlsx", sheet_xml(HEADER_ROW + rows), shared=shared)
    with pytest.raises(InputError, match=r"hold more than 512 MB of text in all"):
        read_table(path)


def test_numbers_that_look_like_shared_text_numbers_are_not_counted(tmp_path: Path) -> None:
    # 2,000 numeric cells holding 0: only t="s" cells look text up (the exact scan decides)
    shared = f'<sst xmlns="{MAIN}"><si><t>{"a" * 300_000}</t></si></sst>'
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>0</v></c></row>' for r in range(2, 2002))
    header = '<row r="1"><c r="A1" t="inlineStr"><is><t>q1</t></is></c></row>'
    table = read_table(
        write_workbook(tmp_path / "nums.xlsx", sheet_xml(header + rows), shared=shared)
    )
    assert len(table.data) == 2000


def test_rich_text_made_of_many_short_runs_is_refused(tmp_path: Path) -> None:
    runs = "<r><t>" + "b" * 1000 + "</t></r>"
    pieces = repeated(
        sheet_xml(HEADER_ROW).split("</sheetData>")[0] + '<row r="2"><c r="A2" t="inlineStr"><is>',
        runs.encode(),
        2000,
        "</is></c></row></sheetData></worksheet>",
    )
    with pytest.raises(InputError, match=r"holds a text longer than"):
        read_table(write_workbook(tmp_path / "runs.xlsx", pieces))


def test_ods_long_text_and_space_runs_are_refused(tmp_path: Path) -> None:
    cell = '<table:table-cell office:value-type="string"><text:p>a<text:s text:c="900000000"/></text:p></table:table-cell>'
    table = (
        f'<table:table table:name="data"><table:table-row>{ods_cell("id")}</table:table-row>'
        f"<table:table-row>{cell}</table:table-row></table:table>"
    )
    with pytest.raises(InputError, match=r"sheet 'data' \(content\.xml\) holds a text longer"):
        read_table(write_ods(tmp_path / "spaces.ods", table))


# --------------------------------------------------------------------------- zip bombs


def test_packed_part_with_extreme_ratio_is_refused(tmp_path: Path) -> None:
    sheet = sheet_xml(HEADER_ROW + DATA_ROW)
    zeros = repeated("", b"\0", 40 * 2**20, "")
    path = write_workbook(tmp_path / "zip.xlsx", sheet, extra={"xl/media/image1.bin": zeros})
    with pytest.raises(InputError, match=r"part 'xl/media/image1\.bin' of the workbook unpacks"):
        read_table(path)


def test_sizes_in_the_zip_directory_are_not_trusted(tmp_path: Path, monkeypatch) -> None:
    rows = "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>R{r:05d}</t></is></c><c r="B{r}"><v>{r % 5}</v></c></row>'
        for r in range(2, 20_000)
    )
    path = write_workbook(tmp_path / "lie.xlsx", sheet_xml(HEADER_ROW + rows))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as book:
        info = book.getinfo("xl/worksheets/sheet1.xml")
    true_size = info.file_size
    central = data.find(b"PK\x01\x02" + data[info.header_offset + 4 : info.header_offset + 8])
    while central >= 0:  # patch the sheet's sizes: claim 1 KB in both headers
        if data[central + 46 : central + 46 + len(info.filename)] == info.filename.encode():
            data[central + 24 : central + 28] = (1024).to_bytes(4, "little")
            break
        central = data.find(b"PK\x01\x02", central + 4)
    data[info.header_offset + 22 : info.header_offset + 26] = (1024).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    monkeypatch.setattr(readers, "MAX_MEMBER_BYTES", true_size // 2)
    with pytest.raises(
        InputError, match=r"sheet 'data' \(xl/worksheets/sheet1\.xml\) unpacks to more than"
    ):
        read_table(path)


# --------------------------------------------------------------------------- CSV


def test_csv_field_over_the_limit_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(f"id,q1,voice\n1,2,short\n2,3,{'я' * (MAX_CELL_CHARS + 1)}\n3,4,x\n")
    with pytest.raises(InputError) as caught:
        read_table(path)
    assert str(caught.value).startswith(
        f"long.csv: row 3, column 'voice' holds a value of {MAX_CELL_CHARS + 1:,} characters"
    )


def test_csv_field_beyond_the_csv_module_limit_names_row_and_column(tmp_path: Path) -> None:
    # a stray quote and a malformed row force the exact pass, whose csv module stops at 131,072
    path = tmp_path / "quote.csv"
    path.write_text(f'id,q1,voice\n1,2,"ok"\n2,3,"{"a" * 200_000}"\n3,4,x,5\n')
    with pytest.raises(
        InputError, match=r"quote\.csv: row 3, column 'voice' holds a value of more"
    ):
        read_table(path)


def test_csv_field_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "edge.csv"
    path.write_text(f"id,voice\n1,{'a' * MAX_CELL_CHARS}\n")
    assert read_table(path).data["voice"].str.len().tolist() == [MAX_CELL_CHARS]


# --------------------------------------------------------------------------- the command line

PEAK = """
import resource, runpy, sys
sys.argv = ["research_lib", *sys.argv[1:]]
try:
    runpy.run_module("research_lib", run_name="__main__")
except SystemExit as stop:
    code = stop.code
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


@pytest.mark.parametrize("bomb", ["area", "cell"])
def test_cli_validate_bomb_exits_2_with_one_line(
    bomb: str, tmp_path: Path, huge_cell: Path
) -> None:
    if bomb == "area":
        path = write_workbook(
            tmp_path / "area.xlsx", sheet_xml(HEADER_ROW + DATA_ROW, dimension="A1:XFD1048576")
        )
    else:
        path = huge_cell
    done = subprocess.run(
        [sys.executable, "-c", PEAK, "validate", str(path), "--codebook", str(CODEBOOK)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "panicked" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path.name}: sheet 'data' ")
    peak_mb = int(done.stdout.split("PEAK_KB")[1].split()[0]) / 1024  # Linux: kilobytes
    assert peak_mb < 600, f"peak memory {peak_mb:.0f} MB"


# --------------------------------------------------------------------------- fast scan = exact scan


@pytest.mark.parametrize("seed", range(4))
def test_fast_scan_finds_the_same_extent_as_the_exact_scan(tmp_path: Path, seed: int) -> None:
    """The numpy scan against the expat scan (calamine's rules) on random references."""
    import random

    rng = random.Random(seed)
    cells = []
    for _ in range(3000 + seed * 1000):
        if rng.random() < 0.1:  # long references: read byte by byte
            row, column = rng.randint(10_000, 9_999_999), rng.randint(1, 2000)
        else:
            row, column = rng.randint(1, 9_999), rng.randint(1, 900)
        letters = readers._column_letters(column)
        if rng.random() < 0.2:
            letters = letters.lower()
        cells.append(f'<row r="{row}"><c r="{letters}{row}" s="1"><v>{row}</v></c></row>')
    path = write_workbook(tmp_path / "random.xlsx", sheet_xml("".join(cells)))
    found = {}
    with path.open("rb") as handle, zipfile.ZipFile(handle) as book:
        bounds = readers._WorkbookBounds(path, book, handle, ods=False)
        info = book.getinfo("xl/worksheets/sheet1.xml")
        for slow in (False, True):
            scan = readers._SheetScan(bounds, slow=slow)
            monkey = pytest.MonkeyPatch()
            monkey.setattr(readers._WorkbookBounds, "refuse_area", lambda *args: None)
            try:
                scan.run(info)
            finally:
                monkey.undo()
            found[slow] = (scan.max_row, scan.max_column)
    assert found[False] == found[True]


def test_many_parts_together_are_bounded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(readers, "MAX_WORKBOOK_BYTES", 3 * 2**20)
    extra = {f"xl/media/image{i}.bin": [bytes(range(256)) * 4096] for i in range(4)}  # 1 MB each
    path = write_workbook(tmp_path / "many.xlsx", sheet_xml(HEADER_ROW + DATA_ROW), extra=extra)
    with pytest.raises(InputError, match=r"many\.xlsx: the parts of the workbook unpack to more"):
        read_table(path)


@pytest.mark.parametrize(
    ("tail", "words"),
    [
        ("<c r='B2'><v>1</v></c></row></sheetData></wrong>", "not well-formed XML"),
        ("<c r='B2'><v>&lol;</v></c></row></sheetData></worksheet>", "not well-formed XML"),
    ],
)
def test_xml_the_exact_scan_cannot_follow_is_refused(tmp_path: Path, tail: str, words: str) -> None:
    # calamine's XML reader is lenient: a bomb must not hide behind a parse error of the check
    sheet = sheet_xml(HEADER_ROW).split("</sheetData>")[0] + '<row r="2">' + tail
    with pytest.raises(
        InputError, match=rf"sheet 'data' \(xl/worksheets/sheet1\.xml\) cannot be checked.*{words}"
    ):
        read_table(write_workbook(tmp_path / "bad.xlsx", sheet))


def test_a_dtd_is_refused_in_the_exact_scan(tmp_path: Path) -> None:
    doctype = '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    sheet = sheet_xml(HEADER_ROW + "<row><c t='inlineStr'><is><t>&b;</t></is></c></row>")
    sheet = sheet.replace("?>", "?>" + doctype, 1)
    with pytest.raises(
        InputError, match=r"cannot be checked before reading because it declares a DTD"
    ):
        read_table(write_workbook(tmp_path / "dtd.xlsx", sheet))
