"""Exports of a report view: CSV (UTF-8 with a byte-order mark, so Excel reads the
Cyrillic), XLSX (openpyxl's write-only mode: rows stream to disk, memory stays
flat however long the list) and PDF (WeasyPrint through ``ports.documents``, with
the RU's header, the filters and the generation time).

Long lists are read with ``yield_per`` (a server-side cursor on PostgreSQL) and
written as they come; nothing here holds a whole 200,000-row list."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

import sqlalchemy as sa

from ra.auth.models import User
from ra.enrollment.models import Organisation
from ra.i18n import _l
from ra.localtime import local, local_text
from ra.reports.labels import district_label, kind_label, profile_label
from ra.reports.pages import ReportPage
from ra.reports.periods import PERIOD_LABELS, ReportFilter
from ra.reports.tables import Table

PDF_MAX_ROWS = 2000  # per table; longer lists are for the XLSX and CSV exports
RU_NAME = _l("Registration Unit of the State Certification Authority · Ulaanbaatar")


@dataclass
class Meta:
    """What every export states besides the rows."""
    title: object
    filters: list[tuple[object, str]]
    generated_at: datetime
    generated_by: str

    @property
    def generated_local(self) -> str:
        return local_text(self.generated_at)


def describe_filter(session, f: ReportFilter, profiles: dict) -> list[tuple[object, str]]:
    out = [(_l("Period"), f"{f.start.isoformat()} – {f.end.isoformat()} ({PERIOD_LABELS[f.period]})")]
    if f.organisation_id is not None:
        org = session.get(Organisation, f.organisation_id)
        out.append((_l("Organisation"), f"{org.name} ({org.registry_number})" if org else str(f.organisation_id)))
    if f.kind is not None:
        out.append((_l("Organisation kind"), str(kind_label(f.kind))))
    if f.district is not None:
        out.append((_l("District"), str(district_label(f.district))))
    if f.officer_id is not None:
        name = session.execute(sa.select(sa.func.coalesce(sa.func.nullif(User.full_name, ""), User.email))
                               .where(User.id == f.officer_id)).scalar_one_or_none()
        out.append((_l("Officer"), name or str(f.officer_id)))
    if f.profile:
        out.append((_l("Certificate profile"), str(profile_label(f.profile, profiles))))
    return out


class Texts:
    """Translated labels resolved once per export: the same lazy label (a kind, a
    district, a state) recurs on every row, and resolving it costs a locale lookup."""

    def __init__(self):
        self.seen: dict[int, tuple[object, str]] = {}

    def __call__(self, value) -> str:
        if isinstance(value, str):
            return value
        hit = self.seen.get(id(value))
        if hit is None or hit[0] is not value:
            hit = self.seen[id(value)] = (value, str(value))  # keeps the object, so its id stays its own
        return hit[1]


def plain(value, kind: str, texts=str):
    """A cell's value for CSV/XLSX: numbers stay numbers, instants become local time."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return local(value).replace(tzinfo=None)
    if kind in ("int", "hours", "percent") or isinstance(value, (int, float)):
        return value
    return texts(value)


def display(value, kind: str = "text"):
    """A cell as the page and the PDF show it: grouped digits, local times, "—" for
    nothing."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return local_text(value)
    if kind in ("hours", "percent") and isinstance(value, (int, float)):
        return f"{value:.1f}"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return group_digits(value)
    return value


def group_digits(n: int) -> str:
    return f"{n:,}".replace(",", "\u00a0")


# OWASP "CSV Injection": a spreadsheet treats a cell that starts with one of these
# as a formula (``=HYPERLINK(...)`` in a holder's position would leak the sheet).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading quote before a formula start."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_cell(value, kind: str, texts=str) -> str:
    v = plain(value, kind, texts)
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, str):
        return csv_safe(v)
    return str(v)


def csv_chunks(table: Table, *, rows_per_chunk: int = 2000) -> Iterator[bytes]:
    """The table as CSV, UTF-8 with BOM, in chunks (for a streamed response)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    yield "\ufeff".encode("utf-8")
    writer.writerow([csv_safe(str(c.label)) for c in table.columns])
    n, texts, cols = 0, Texts(), [(c.key, c.kind) for c in table.columns]
    for row in table.all_rows():
        writer.writerow([_csv_cell(row.get(key), kind, texts) for key, kind in cols])
        n += 1
        if n % rows_per_chunk == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    if table.totals and not table.stream:
        writer.writerow([csv_safe(c) if isinstance(c, str) else c for c in _totals_row(table, str(_l("Total")))])
    yield buf.getvalue().encode("utf-8")


def _totals_row(table: Table, word: str) -> list:
    cells = []
    for i, c in enumerate(table.columns):
        if c.key in (table.totals or {}) and c.kind in ("int",):
            cells.append(table.totals[c.key])
        else:
            cells.append(word if i == 0 else "")
    return cells


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _sheet_title(title: str, used: set) -> str:
    base = _SHEET_BAD.sub(" ", title)[:28].strip() or "Sheet"
    name, i = base, 2
    while name.lower() in used:
        name, i = f"{base[:25]} {i}", i + 1
    used.add(name.lower())
    return name


def write_xlsx(page: ReportPage, meta: Meta, out) -> None:
    """One sheet per table: title, filters, generation time, then the rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    used: set = set()
    bold = Font(bold=True)

    def text(ws, value):
        # openpyxl writes a string that starts with "=" as a formula; a cell typed
        # as a string is shown as text whatever it starts with.
        if isinstance(value, str) and value.startswith(FORMULA_STARTS):
            cell = WriteOnlyCell(ws, value=value)
            cell.data_type = "s"
            return cell
        return value

    for table in page.tables:
        ws = wb.create_sheet(_sheet_title(str(table.title), used))
        ws.append([_bold(WriteOnlyCell(ws, value=str(meta.title)), bold)])
        ws.append([text(ws, str(table.title))])
        ws.append([str(RU_NAME)])
        for label, value in meta.filters:
            ws.append([text(ws, str(label)), text(ws, value)])
        ws.append([str(_l("Generated at")), meta.generated_local, text(ws, meta.generated_by)])
        ws.append([])
        ws.append([_bold(WriteOnlyCell(ws, value=str(c.label)), bold) for c in table.columns])
        texts, cols = Texts(), [(c.key, c.kind) for c in table.columns]
        for row in table.all_rows():  # plain values: styled cells cost several times more to write
            ws.append([text(ws, plain(row.get(key), kind, texts)) for key, kind in cols])
        if table.totals and not table.stream:
            ws.append([_bold(WriteOnlyCell(ws, value=v), bold) for v in _totals_row(table, str(_l("Total")))])
    wb.save(out)


def _bold(cell, font):
    cell.font = font
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
    return cell


def render_pdf(page: ReportPage, meta: Meta, *, documents, locale: str = "mn", number: str) -> bytes:
    """The view as a PDF: header, filters, generation time, charts, tables (each cut
    at ``PDF_MAX_ROWS`` with a note saying so)."""
    tables = []
    for t in page.tables:
        rows = []
        for row in t.all_rows():
            if len(rows) >= PDF_MAX_ROWS:
                break
            rows.append(row)
        tables.append((t, rows))
    return documents.render("report.html", number=number, title=str(meta.title), locale=locale, page=page,
                            meta=meta, tables=tables, ru_name=RU_NAME, max_rows=PDF_MAX_ROWS)


def export_name(page: ReportPage, ext: str) -> str:
    f = page.filter
    return f"report-{page.name}-{f.start.isoformat()}-{f.end.isoformat()}.{ext}"
