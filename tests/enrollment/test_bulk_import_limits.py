"""A workbook built to tie up a worker is refused before it is parsed, or within
5,000 rows of it: every row counts, empty ones too; the declared dimension and the
unpacked size are checked first; a CPU budget stops anything else. The assertions
count the rows openpyxl parsed, not the seconds it took."""
from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl.worksheet._reader import WorkSheetParser

from ra.enrollment import bulk_import
from tests.enrollment.test_bulk_import import HEADER, xlsx

EMPTY_ROWS = 877_000


def _sheet_xml(rows: int, dimension: str | None) -> bytes:
    head = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
    if dimension:
        head += f'<dimension ref="{dimension}"/>'.encode()
    body = b'<row r="1"><c r="A1" t="inlineStr"><is><t>Surname</t></is></c></row>'
    body += b"".join(b'<row r="%d"/>' % n for n in range(2, rows + 2))
    return head + b"<sheetData>" + body + b"</sheetData></worksheet>"


def _workbook(sheet: bytes) -> bytes:
    """An otherwise valid workbook: openpyxl's own, with the first sheet replaced."""
    base = zipfile.ZipFile(io.BytesIO(xlsx([], header=HEADER)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in base.infolist():
            z.writestr(info.filename, sheet if info.filename == "xl/worksheets/sheet1.xml" else base.read(info))
    return out.getvalue()


@pytest.fixture
def parsed_rows(monkeypatch):
    """How many rows openpyxl parsed, and how many bytes of sheet XML were unpacked
    to be parsed (openpyxl also reads a whole sheet to size it when it declares no
    dimension, without parsing rows)."""
    seen = {"rows": 0, "sheet_bytes": 0}
    real_row, real_read = WorkSheetParser.parse_row, zipfile.ZipExtFile.read

    def counting_row(self, element):
        seen["rows"] += 1
        return real_row(self, element)

    def counting_read(self, n=-1):
        data = real_read(self, n)
        if self.name.startswith("xl/worksheets/"):
            seen["sheet_bytes"] += len(data)
        return data

    monkeypatch.setattr(WorkSheetParser, "parse_row", counting_row)
    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    return seen


def _read_all(data: bytes):
    header, rows, _ = bulk_import.read_table("big.xlsx", data)
    return header, list(rows)


def test_877k_empty_rows_declared_are_refused_before_parsing(parsed_rows):
    data = _workbook(_sheet_xml(EMPTY_ROWS, f"A1:A{EMPTY_ROWS + 1}"))
    assert len(data) < 5 * 1024 * 1024                          # small on the wire, like the reported one
    with pytest.raises(bulk_import.FileProblem) as refused:
        _read_all(data)
    assert refused.value.code == "too_many_rows"
    assert parsed_rows["rows"] == 0                               # the declared dimension told …
    assert parsed_rows["sheet_bytes"] <= 4096                      # … from the sheet's first 4 KB


@pytest.mark.parametrize("dimension", [None, "A1:A1"], ids=["undeclared", "lying"])
def test_877k_empty_rows_undeclared_or_lying_are_refused_before_parsing(dimension, parsed_rows):
    with pytest.raises(bulk_import.FileProblem) as refused:
        _read_all(_workbook(_sheet_xml(EMPTY_ROWS, dimension)))
    assert refused.value.code == "too_many_rows"
    assert parsed_rows["rows"] == 0 and parsed_rows["sheet_bytes"] <= 4096  # the unpacked size told


def test_a_sheet_too_large_unpacked_is_refused_before_parsing(parsed_rows, monkeypatch):
    monkeypatch.setattr(bulk_import, "MAX_SHEET_BYTES", 1024 * 1024)
    with pytest.raises(bulk_import.FileProblem) as refused:
        _read_all(_workbook(_sheet_xml(100_000, None)))
    assert refused.value.code == "too_many_rows" and parsed_rows["rows"] == 0


def test_empty_rows_count_against_the_cap_while_reading(parsed_rows):
    """A sheet small enough to pass the size checks, with no dimension: its rows are
    counted as they are parsed, empty ones too, and reading stops at the cap."""
    data = _workbook(_sheet_xml(50_000, None))
    with pytest.raises(bulk_import.FileProblem) as refused:
        _read_all(data)
    assert refused.value.code == "too_many_rows"
    assert parsed_rows["rows"] <= bulk_import.MAX_ROWS + 2         # not the 50,000


def test_a_file_within_the_limits_is_read(parsed_rows):
    rows = [["Батбаяр", "Сараа", "УБ85010112", "Мэргэжилтэн", "a@b.mn", "", ""]] * 10 + [[None] * 7] * 5
    header, read = _read_all(xlsx(rows))
    assert header[:2] == HEADER[:2] and len(read) == 10


def test_reading_stops_when_the_cpu_budget_is_spent(monkeypatch):
    monkeypatch.setattr(bulk_import, "CPU_SECONDS", 0.0)
    rows = [["Батбаяр", "Сараа", "УБ85010112", "Мэргэжилтэн", "a@b.mn", "", ""]] * 300
    with pytest.raises(bulk_import.FileProblem) as refused:
        _read_all(xlsx(rows))
    assert refused.value.code == "too_slow"
