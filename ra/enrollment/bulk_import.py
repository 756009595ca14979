"""Bulk filing of certificate orders from CSV or XLSX (DESIGN §3.2).

Every row is checked by the same rules as a single holder; the report names each
bad row and field. Then either all the valid rows are imported in one unit of
work, or nothing is. Files come from Excel, so its quirks are expected: a BOM,
numbers stored as numbers, trailing and non-breaking spaces, ``;`` as the CSV
separator, UTF-16 "Unicode text". A Windows-1251 CSV is refused with a clear
message instead of being guessed at: that code page has no Ө or Ү, so Excel has
already lost letters of Mongolian names by the time it saved the file.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
import zipfile
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from ra import audit
from ra.auth import policy
from ra.db import bulk_insert, insert_with_ids
from ra.enrollment import holders_service as hs
from ra.enrollment import policy as ep
from ra.enrollment.holder_models import CertificateOrder, Holder, ImportStatus, OrderImport, OrderKind
from ra.enrollment.order_states import HolderStatus, OrderStatus
from ra.enrollment.states import OrganisationStatus
from ra.errors import Conflict, UserError
from ra.i18n import _l

MAX_ROWS = 5000
MAX_UNCOMPRESSED = 64 * 1024 * 1024  # an XLSX is a zip: refuse a zip bomb before opening it
# One sheet of 5,000 rows of 12 columns is a few MB of XML; far more is a workbook
# built to keep a worker busy (877,000 empty rows unpack to ~30 MB and parse for
# minutes), refused before openpyxl reads any of it.
MAX_SHEET_BYTES = 8 * 1024 * 1024
# Without a declared dimension openpyxl reads the whole sheet just to size it, so
# such a sheet must be smaller still (Excel, LibreOffice and openpyxl declare it).
MAX_UNDECLARED_SHEET_BYTES = 3 * 1024 * 1024
MAX_COLUMNS = 200
# Reading and checking a file may use this much of the worker's CPU, whatever the
# file: a last guard under the row, size and dimension limits.
CPU_SECONDS = 15.0
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+)?(\d+)?(?::([A-Z]+)(\d+))?\"")
INLINE_HOLDER_MAIL = 50  # larger imports leave the holders' notices to the outbox worker


@dataclass(frozen=True)
class Column:
    key: str
    mn: str
    en: str
    required: bool = False

    @property
    def title(self) -> str:
        return f"{self.mn} / {self.en}"


COLUMNS = (
    Column("surname", "Овог", "Surname", True),
    Column("given_name", "Нэр", "Given name", True),
    Column("register_number", "Регистрийн дугаар", "Register number", True),
    Column("position", "Албан тушаал", "Position", True),
    Column("email", "Ажлын цахим шуудан", "Work e-mail", True),
    Column("department", "Хэлтэс, алба", "Department"),
    Column("phone", "Утас", "Phone"),
    Column("clan_name", "Ургийн овог", "Clan name"),
    Column("latin_surname", "Овог латинаар", "Surname in Latin"),
    Column("latin_given_name", "Нэр латинаар", "Given name in Latin"),
    Column("profile", "Гэрчилгээний төрөл", "Profile"),
    Column("locale", "Хэл", "Language"),
)
_ALIASES = {" ".join(name.lower().split()): c.key for c in COLUMNS for name in (c.key, c.mn, c.en, c.title)}
EXAMPLE = ("Батбаяр", "Болормаа", "УБ85010112", "Мэргэжилтэн", "bolormaa@example.gov.mn", "Санхүүгийн хэлтэс",
           "99112233", "", "", "", "signing", "mn")


class FileProblem(UserError):
    status = 422
    code = "bad_file"


@dataclass
class Report:
    total: int = 0
    valid: int = 0
    errors: list = field(default_factory=list)  # {"row", "field", "column", "message"}
    valid_rows: list = field(default_factory=list)
    encoding: str = ""
    imported: int = 0
    order_ids: list = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return self.total - self.valid

    def to_json(self, *, with_rows: bool = False) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "valid_rows" or with_rows}
        out["invalid"] = self.invalid
        return out


# --- reading ---

def read_table(filename: str, data: bytes) -> tuple[list, list, str]:
    """(header, [(row number, values)], encoding). Raises ``FileProblem``."""
    if not data:
        raise FileProblem(_l("The file is empty."))
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(_l("This is an old Excel (.xls) or password-protected file. Save it as .xlsx "
                             "without a password, or as CSV UTF-8."))
    return _read_csv(data)


def _read_xlsx(data: bytes):
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            _check_unpacked(z)
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except FileProblem:
        raise
    except Exception:  # openpyxl raises many kinds for a broken workbook
        raise FileProblem(_l("The file is not a readable XLSX workbook.")) from None
    rows = wb.worksheets[0].iter_rows(values_only=True)
    header = next(rows, None) or ()
    return list(header), _numbered(rows, start=2), "xlsx"


def _too_many_rows() -> FileProblem:
    return FileProblem(_l("The file has more than %(n)d rows. Split it into files of at most %(n)d rows each.",
                          n=MAX_ROWS), code="too_many_rows")


def _check_unpacked(z: zipfile.ZipFile) -> None:
    """Before parsing: the unpacked sizes the zip declares, and each sheet's declared
    dimension (``<dimension ref="A1:L877001"/>``, at the head of the sheet's XML).
    A sheet that lies about either is still stopped by the row count and the CPU
    budget while it is read, and by the zip's own size check as it unpacks."""
    if sum(i.file_size for i in z.infolist()) > MAX_UNCOMPRESSED:
        raise _too_many_rows()
    for info in z.infolist():
        if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
            continue
        if info.file_size > MAX_SHEET_BYTES:
            raise _too_many_rows()
        with z.open(info) as f:
            head = f.read(4096)
        m = _DIMENSION.search(head)
        if m is None and info.file_size > MAX_UNDECLARED_SHEET_BYTES:
            raise _too_many_rows()
        if m and m.group(4) and int(m.group(4)) > MAX_ROWS + 1:  # + the header row
            raise _too_many_rows()
        if m and m.group(3) and _column_number(m.group(3).decode()) > MAX_COLUMNS:
            raise FileProblem(_l("The sheet has too many columns."), code="bad_file")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        text = data.decode("cp1251", errors="replace")
        high = [c for c in text if ord(c) > 127]
        if high and sum("\u0400" <= c <= "\u04ff" for c in high) / len(high) > 0.8:
            raise FileProblem(_l(
                "The file is in the Windows-1251 encoding (line %(line)d), which has no letters Ө and Ү, so "
                "names may already be damaged. In Excel choose Save As → “CSV UTF-8 (Comma delimited)” and "
                "upload that file.", line=line), code="windows_1251") from None
        raise FileProblem(_l("The file is not UTF-8 text (line %(line)d). Save it as “CSV UTF-8” or XLSX.",
                             line=line), code="bad_encoding") from None


def _read_csv(data: bytes):
    text, encoding = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(rows, [])
    except csv.Error:
        raise FileProblem(_l("The CSV file cannot be read.")) from None
    return header, _numbered(rows, start=2), encoding


def _numbered(rows, start: int):
    """Non-empty rows with their spreadsheet row numbers. Every row counts against
    MAX_ROWS, empty ones too (a sheet of empty rows costs as much to read), and the
    reading (with the checks done between rows) stops past ``CPU_SECONDS``."""
    budget = time.thread_time() + CPU_SECONDS
    try:
        for number, row in enumerate(rows, start=start):
            if number - start + 1 > MAX_ROWS:
                raise _too_many_rows()
            if number % 128 == 0 and time.thread_time() > budget:
                raise FileProblem(_l("The file takes too long to read. Split it into smaller files."),
                                  code="too_slow")
            if not any(c not in (None, "") and str(c).strip() for c in row):
                continue
            yield number, row
    except csv.Error as exc:
        raise FileProblem(_l("The CSV file cannot be read.")) from exc


def _map_header(header) -> dict:
    mapping, seen = {}, set()
    for i, title in enumerate(header):
        key = _ALIASES.get(" ".join(hs.clean(title).lower().split()))
        if key and key not in seen:
            mapping[i] = key
            seen.add(key)
    missing = [c for c in COLUMNS if c.required and c.key not in seen]
    if missing:
        raise FileProblem(_l("These columns are missing: %(cols)s. Start from the template.",
                             cols=", ".join(c.title for c in missing)), code="missing_columns")
    return mapping


# --- checking ---

@dataclass
class Prepared:
    row: int
    values: dict
    profile: str
    key_type: str


def check_file(session, actor, org, filename: str, data: bytes, *, ports) -> tuple[Report, list[Prepared]]:
    policy.require_visible(actor, org)
    policy.require(ep.can_manage_holders(actor, org))
    if org.status != OrganisationStatus.ACTIVE:
        raise Conflict(_l("Certificates can be ordered once the organisation is active."))
    header, rows, encoding = read_table(filename, data)
    mapping = _map_header(header)
    titles = {c.key: c.title for c in COLUMNS}
    today = ports.clock.today()
    taken = set(session.execute(sa.select(Holder.register_number).where(
        Holder.organisation_id == org.id, Holder.status == HolderStatus.ACTIVE)).scalars())
    in_file: dict[str, int] = {}
    report, prepared = Report(encoding=encoding), []
    for number, row in rows:
        report.total += 1
        raw = {key: row[i] if i < len(row) else None for i, key in mapping.items()}
        profile_name = hs.clean(raw.pop("profile", None)) or "signing"
        errors, values = hs.validate_holder(session, org, hs.HolderData.from_mapping(raw), today=today, taken=taken)
        profile = ports.profiles.get(profile_name)
        if profile is None:
            errors["profile"] = _l("Unknown certificate profile; choose one of: %(names)s.",
                                   names=", ".join(sorted(ports.profiles)))
        regno = values.get("register_number")
        if regno and "register_number" not in errors:
            if regno in in_file:
                errors["register_number"] = _l("%(number)s is also on row %(row)d of this file.",
                                               number=regno, row=in_file[regno])
            else:
                in_file[regno] = number
        if errors:
            report.errors.extend({"row": number, "field": f, "column": titles.get(f, f), "message": str(m)}
                                 for f, m in errors.items())
            continue
        report.valid += 1
        report.valid_rows.append(number)
        prepared.append(Prepared(number, values, profile.name, profile.default_key_type))
    if report.total == 0:
        raise FileProblem(_l("The file has a header but no rows."), code="no_rows")
    return report, prepared


# --- importing ---

def import_rows(session, actor, org, prepared: list[Prepared], *, ports, batch: OrderImport | None = None) -> list[int]:
    """Inserts the holders and their submitted orders in bulk, with one audit record
    each, in the caller's transaction: all of them or, on any error, none."""
    if not prepared:
        raise UserError(_l("There is no valid row to import."), code="nothing_to_import")
    now = ports.clock.now()
    holder_ids = insert_with_ids(session, Holder.__table__, [
        {**p.values, "organisation_id": org.id, "status": HolderStatus.ACTIVE, "created_by_id": actor.id,
         "created_at": now, "clan_name": p.values.get("clan_name", "")} for p in prepared])
    order_ids = insert_with_ids(session, CertificateOrder.__table__, [
        {"organisation_id": org.id, "holder_id": hid, "profile": p.profile, "key_type": p.key_type,
         "kind": OrderKind.NEW, "status": OrderStatus.SUBMITTED, "requested_by_id": actor.id, "created_at": now,
         "submitted_at": now, "import_id": batch.id if batch else None} for hid, p in zip(holder_ids, prepared)])
    entries = []
    for hid, oid, p in zip(holder_ids, order_ids, prepared):
        v = p.values
        entries.append(("holder.created", "holder", hid, {
            "organisation_id": org.id, "register_number": v["register_number"],
            "name": f"{v['surname']} {v['given_name']}", "email": v["email"], "position": v["position"],
            "import_id": batch.id if batch else None, "row": p.row}))
        # Filed by import: the order is born submitted (order_states.INITIAL_ORDER).
        entries.append(("order.created", "order", oid, {
            "holder_id": hid, "profile": p.profile, "key_type": p.key_type, "kind": "new",
            "status": OrderStatus.SUBMITTED.value, "import_id": batch.id if batch else None}))
    audit.record_many(session, actor, entries, at=now)
    _notify_import(session, org, prepared, order_ids, ports=ports)
    return list(order_ids)


def _notify_import(session, org, prepared, order_ids, *, ports) -> None:
    """One summary to the registration officer; each holder is told their order was
    filed. Past INLINE_HOLDER_MAIL rows the holders' notices are written to the
    outbox for ``flask --app ra mail send`` rather than sent during the request."""
    from types import SimpleNamespace

    from ra.enrollment.orders_service import registrar_locale
    from ra.mail.models import MailStatus, OutgoingMail

    ports.notifier.notify(session, to=org.registrar_email, locale=registrar_locale(session, org),
                          template="order_import_summary", context={"org": org, "count": len(prepared)})
    outbox, letters = [], {}
    for oid, p in zip(order_ids, prepared):
        if p.values["email"].lower() == org.registrar_email.lower():
            continue
        name = f"{p.values['surname']} {p.values['given_name']}"
        if len(prepared) <= INLINE_HOLDER_MAIL:
            holder = SimpleNamespace(full_name=name, **p.values)
            ports.notifier.notify(session, to=p.values["email"], locale=p.values["locale"], template="order_submitted",
                                  context={"order": SimpleNamespace(id=oid, profile=p.profile), "holder": holder,
                                           "org": org})
            continue
        # A mail merge: the letter is rendered once per language and profile with
        # markers, then each holder's name and order number are put in.
        key = (p.values["locale"], p.profile)
        if key not in letters:
            marked = SimpleNamespace(full_name="\x00NAME\x00", register_number="", email="")
            letters[key] = ports.notifier.render("order_submitted", key[0], {
                "order": SimpleNamespace(id="\x00ID\x00", profile=p.profile), "holder": marked, "org": org})
        subject, body = (t.replace("\x00NAME\x00", name).replace("\x00ID\x00", str(oid)) for t in letters[key])
        outbox.append({"recipient": p.values["email"], "subject": subject, "body": body, "attachments": "[]",
                       "created_at": ports.clock.now()})
    if outbox:
        for row in outbox:
            row["status"], row["attempts"] = MailStatus.PENDING, 0
        bulk_insert(session, OutgoingMail.__table__, outbox)


# --- the two entry flows: web (check, then decide) and API (one call) ---

def store_and_check(session, actor, org, filename: str, data: bytes, *, ports) -> OrderImport:
    report, _ = check_file(session, actor, org, filename, data, ports=ports)
    ext = "xlsx" if data.startswith(b"PK\x03\x04") else "csv"
    stored = ports.files.put(data, category="import", extension=ext, year=ports.clock.today().year)
    from ra.uploads import sanitise_filename
    batch = OrderImport(organisation_id=org.id, uploaded_by_id=actor.id, original_name=sanitise_filename(filename),
                        stored_name=stored, sha256=hashlib.sha256(data).hexdigest(), total_rows=report.total,
                        valid_rows=report.valid, report=json.dumps(report.to_json(with_rows=True), ensure_ascii=False),
                        created_at=ports.clock.now())
    session.add(batch)
    session.flush()
    audit.record(session, actor, "order_import.checked", batch,
                 {"total": report.total, "valid": report.valid, "sha256": batch.sha256})
    return batch


def commit_batch(session, actor, batch: OrderImport, *, ports) -> Report:
    """"Import the valid rows": checks the stored file again; if the valid rows are
    no longer the ones the user saw, nothing is imported and the new report shown."""
    org = batch_org(session, batch)
    if batch.status != ImportStatus.CHECKED:
        raise Conflict(_l("This file was already imported or discarded."))
    report, prepared = check_file(session, actor, org, batch.original_name, ports.files.read(batch.stored_name),
                                  ports=ports)
    seen = json.loads(batch.report or "{}").get("valid_rows", [])
    if report.valid_rows != seen:
        batch.report = json.dumps(report.to_json(with_rows=True), ensure_ascii=False)
        batch.valid_rows, batch.total_rows = report.valid, report.total
        raise Conflict(_l("The data changed since the file was checked. Review the new report and decide again."),
                       code="changed")
    report.order_ids = import_rows(session, actor, org, prepared, ports=ports, batch=batch)
    report.imported = len(report.order_ids)
    batch.status, batch.imported_at = ImportStatus.IMPORTED, ports.clock.now()
    audit.record(session, actor, "order_import.imported", batch, {"orders": report.imported})
    return report


def discard_batch(session, actor, batch: OrderImport) -> None:
    policy.require(ep.can_manage_holders(actor, batch_org(session, batch)))
    if batch.status != ImportStatus.CHECKED:
        raise Conflict(_l("This file was already imported or discarded."))
    batch.status = ImportStatus.DISCARDED
    audit.record(session, actor, "order_import.discarded", batch, {})


def batch_org(session, batch):
    from ra.enrollment.models import Organisation
    return session.get(Organisation, batch.organisation_id)


def run_import(session, actor, org, filename: str, data: bytes, *, commit: str, ports) -> Report:
    """The API's one call: ``commit=none`` only reports; ``commit=valid`` imports every
    valid row (and records the batch) or, if none is valid, nothing."""
    if commit not in ("none", "valid"):
        raise UserError(_l("commit must be “valid” or “none”."), field="commit")
    if commit == "none":
        report, _ = check_file(session, actor, org, filename, data, ports=ports)
        return report
    batch = store_and_check(session, actor, org, filename, data, ports=ports)
    return commit_batch(session, actor, batch, ports=ports)


# --- the template ---

def template_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Захиалга"
    ws.append([c.title for c in COLUMNS])
    ws.append(list(EXAMPLE))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for col in ws.columns:
        ws.column_dimensions[col[0].column_letter].width = max(14, len(str(col[0].value)) + 2)
        for cell in col:
            cell.number_format = "@"  # text: keeps leading zeros and long numbers as typed
    notes = wb.create_sheet("Заавар")
    notes.append(["Багана / Column", "Заавал / Required"])
    for c in COLUMNS:
        notes.append([c.title, "тийм / yes" if c.required else ""])
    notes.append([])
    notes.append([f"Нэг файлд {MAX_ROWS} хүртэл мөр. / At most {MAX_ROWS} rows per file."])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def template_csv() -> bytes:
    """UTF-8 with a BOM, so Excel opens the Cyrillic correctly."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([c.title for c in COLUMNS])
    w.writerow(EXAMPLE)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
