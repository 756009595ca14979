"""The ``Mailer`` port and its implementations, chosen by ``RA_MAIL_URL``."""
from __future__ import annotations

import os
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class FileMailer:
    """The embedded default: every message becomes an .eml file under instance/mail/."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
        tmp = self.directory / (name + ".tmp")
        # The messages hold one-time codes: readable by the app's user only.
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(message.as_bytes())
        tmp.rename(self.directory / name)


class SmtpMailer:
    def __init__(self, url: str, timeout: float = 20):
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = "starttls=1" in (parts.query or "")
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


class MemoryMailer:
    """For unit tests of a service only; end-to-end tests use a real SMTP server."""

    def __init__(self):
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


def mailer_from_url(url: str, instance_path: Path) -> Mailer:
    scheme = urlsplit(url).scheme
    if scheme == "file":
        path = urlsplit(url).path
        return FileMailer(Path(path) if path else Path(instance_path) / "mail")
    if scheme in ("smtp", "smtps"):
        return SmtpMailer(url)
    if scheme == "memory":
        return MemoryMailer()
    raise ValueError(f"unsupported mail URL scheme {scheme!r}")
