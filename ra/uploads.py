"""Checks every uploaded document the same way: by content, by size, and by a name
the server chooses. Shared by every domain that takes documents."""
from __future__ import annotations

import enum
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser

import sqlalchemy as sa
from flask import request, send_file
from sqlalchemy.orm import Mapped, mapped_column

from ra.db import UTCDateTime, utcnow
from ra.errors import UserError
from ra.i18n import _l

MAX_BYTES = 10 * 1024 * 1024

# Magic numbers: the file's own first bytes decide its type, never its name.
SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)


@dataclass(frozen=True)
class CheckedUpload:
    data: bytes
    content_type: str
    extension: str
    original_name: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


class StoredFileColumns:
    """The columns of an uploaded document's row, for every domain that keeps
    documents: where it is stored (a server-chosen name), what it is (by
    content), who uploaded it and who checked it."""
    original_name: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(50))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def sanitise_filename(name: str) -> str:
    """Keeps a readable name to show back (Cyrillic included) but drops any path,
    control characters and leading dots: '../../etc/x.pdf' → 'x.pdf'."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    return name[:200] or "document"


def check_upload(filename: str, data: bytes) -> CheckedUpload:
    if not data:
        raise UserError(_l("The file is empty."), field="file")
    if len(data) > MAX_BYTES:
        raise UserError(_l("The file is larger than 10 MB."), code="too_large", field="file")
    for magic, content_type, ext in SIGNATURES:
        if data.startswith(magic):
            break
    else:
        raise UserError(_l("Only PDF, PNG or JPEG files are accepted."), code="bad_file_type", field="file")
    if content_type == "application/pdf" and b"%%EOF" not in data[-2048:]:
        raise UserError(_l("The PDF file is damaged or incomplete."), code="bad_file_type", field="file")
    if looks_like_html(data[:1024]):
        raise UserError(_l("The file also reads as a web page. Scan or save the document again."),
                        code="active_content", field="file")
    if content_type == "application/pdf":
        check_pdf(data)
    return CheckedUpload(data, content_type, ext, sanitise_filename(filename), hashlib.sha256(data).hexdigest())


# Elements that make a browser (or a browser-based viewer) run or fetch something.
# A PDF or image whose first kilobyte holds one is a polyglot: served as HTML it
# would run in our origin.
HTML_TAGS = frozenset({"html", "head", "body", "script", "iframe", "frame", "frameset", "svg", "object", "embed",
                       "meta", "img", "a", "form", "style", "link", "base", "title", "div", "math", "xml"})


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.found = False

    def handle_starttag(self, tag, attrs):
        self.found = self.found or tag in HTML_TAGS

    def handle_decl(self, decl):
        self.found = self.found or decl.lower().startswith("doctype")


def looks_like_html(head: bytes) -> bool:
    """Whether the bytes parse as HTML, the way a browser sniffing them would."""
    parser = _Tags()
    try:
        parser.feed(head.decode("latin-1"))
        parser.close()
    except Exception:  # HTMLParser may give up on binary; what it saw before stays seen
        pass
    return parser.found


# PDF 2.0 (ISO 32000-2) §12.6 actions, §7.11.4 embedded files: what a reader may run,
# open or launch on its own. A document we keep as evidence needs none of them.
ACTIVE_KEYS = frozenset({"/JavaScript", "/JS", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/AA", "/RichMedia"})
ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/GoToE", "/GoToR",
                            "/RichMediaExecute", "/Rendition"})
_MAX_DEPTH = 100


def check_pdf(data: bytes) -> None:
    """Parses the PDF (qpdf, through pikepdf) and refuses active content: JavaScript,
    launch actions, embedded files, additional actions, and an /OpenAction that is an
    action rather than a page to open at. Grepping the bytes would miss compressed
    object streams; a parser sees what the reader sees."""
    import pikepdf

    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise UserError(_l("Password-protected PDF files are not accepted."), code="bad_file_type",
                        field="file") from None
    except Exception:  # qpdf raises several kinds for a file it cannot read
        raise UserError(_l("The PDF file is damaged or incomplete."), code="bad_file_type", field="file") from None
    with pdf:
        seen: set = set()
        if _active(pdf.trailer, seen, 0) or any(_active(obj, seen, 0) for obj in pdf.objects):
            raise UserError(_l("PDF files with scripts, actions or embedded files are not accepted. "
                               "Print the document to PDF again, or scan it."), code="active_content", field="file")


def _active(obj, seen: set, depth: int) -> bool:
    import pikepdf

    if depth > _MAX_DEPTH:
        return True  # nesting no real document has: refuse rather than give up looking
    if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
        if obj.is_indirect:
            if obj.objgen in seen:
                return False
            seen.add(obj.objgen)
        for key in obj.keys():
            value = obj.get(key)
            if key in ACTIVE_KEYS:
                return True
            if key == "/S" and isinstance(value, pikepdf.Name) and str(value) in ACTIVE_ACTIONS:
                return True
            if key == "/Type" and isinstance(value, pikepdf.Name) and str(value) == "/EmbeddedFile":
                return True
            if key == "/OpenAction" and isinstance(value, pikepdf.Dictionary):
                return True  # an action; a destination (where to open) is an array
            if _active(value, seen, depth + 1):
                return True
    elif isinstance(obj, pikepdf.Array):
        return any(_active(item, seen, depth + 1) for item in obj)
    return False


def posted_document(kinds: type[enum.Enum]) -> tuple[enum.Enum, str, bytes]:
    """The document of a multipart API upload: its ``kind`` form field (one of
    ``kinds``) and its ``file`` (name and content; read one byte past the limit so
    that ``check_upload`` refuses an oversize file)."""
    try:
        kind = kinds(request.form.get("kind", ""))
    except ValueError:
        raise UserError(_l("Unknown document kind."), field="kind") from None
    name, data = posted_file(MAX_BYTES + 1)
    return kind, name, data


def posted_file(limit: int = -1) -> tuple[str, bytes]:
    """The multipart field ``file`` of an API request: its name and content."""
    f = request.files.get("file")
    if f is None:
        raise UserError(_l("Attach the file as the multipart field “file”."), field="file")
    return f.filename or "", f.stream.read(limit)


def send_upload(path, *, mimetype: str, download_name: str):
    """An uploaded file goes back as a download, never shown in our origin: even a
    file that slipped past the checks cannot run as a page (ASVS 12.5.2)."""
    resp = send_file(path, mimetype=mimetype, as_attachment=True, download_name=download_name)
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return resp
