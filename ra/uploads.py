"""Checks every uploaded document the same way: by content, by size, and by a name
the server chooses. Shared by every domain that takes documents."""
from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import request
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
    return CheckedUpload(data, content_type, ext, sanitise_filename(filename), hashlib.sha256(data).hexdigest())


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
