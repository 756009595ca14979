"""Builds the ports once from config (DESIGN §4): mailer, file store, clock,
document renderer, password hasher; the CA connector and token driver join them
in their own issues. Services receive ``ports`` as an argument and never look
them up themselves."""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import argon2

from ra.errors import NotFound
from ra.localtime import local_date
from ra.mail.mailers import Mailer, mailer_from_url
from ra.profiles import profiles_from_config



class Clock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self) -> date:
        """The date at the RU's counter (Ulaanbaatar time)."""
        return local_date(self.now())


class FrozenClock(Clock):
    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at


_STORED = re.compile(r"^[a-z]+/\d{4}/[0-9a-f]{32}\.[a-z]{3,4}$")


class FileStore:
    """Files outside the web root, under names the server makes up; a user's file
    name never becomes a path."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def put(self, data: bytes, *, category: str, extension: str, year: int | None = None) -> str:
        year = year or datetime.now(timezone.utc).year
        name = f"{category}/{year}/{uuid.uuid4().hex}.{extension}"
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".part")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return name

    def path(self, stored_name: str) -> Path:
        if not _STORED.match(stored_name):
            raise NotFound()
        return self.root / stored_name

    def read(self, stored_name: str) -> bytes:
        try:
            return self.path(stored_name).read_bytes()
        except FileNotFoundError:
            raise NotFound() from None


class PasswordHasher:
    """argon2id (OWASP ASVS 2.4.1). Costs come from config so the test suite can
    use cheap hashes; the defaults are argon2-cffi's RFC 9106 low-memory profile."""

    def __init__(self, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4):
        self._h = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self._dummy = self._h.hash(secrets.token_hex(8))

    def hash(self, password: str) -> str:
        return self._h.hash(password)

    def verify(self, hashed: str | None, password: str) -> bool:
        try:
            # Spend the same time for unknown accounts so timing does not reveal them.
            return self._h.verify(hashed or self._dummy, password) and hashed is not None
        except (argon2.exceptions.VerifyMismatchError, argon2.exceptions.InvalidHashError,
                argon2.exceptions.VerificationError):
            return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Ports:
    mailer: Mailer
    mail_from: str
    files: FileStore
    clock: Clock
    passwords: PasswordHasher
    base_url: str
    documents: object = None       # ra.documents.DocumentRenderer
    notifier: object = None        # ra.mail.notify.Notifier
    profiles: dict = field(default_factory=dict)  # ra.profiles.Profile by name
    ca: object = None              # ra.ca CAConnector (issue #4)
    tokens: object = None          # ra.tokens TokenDriver (issue #5)
    extra: dict = field(default_factory=dict)


def build_ports(config: dict) -> Ports:
    instance = Path(config["INSTANCE_PATH"])
    return Ports(
        mailer=config.get("MAILER") or mailer_from_url(config["MAIL_URL"], instance),
        mail_from=config["MAIL_FROM"],
        files=FileStore(instance / "files"),
        clock=config.get("CLOCK") or Clock(),
        passwords=PasswordHasher(**config.get("ARGON2", {})),
        base_url=config["BASE_URL"],
        profiles=profiles_from_config(config),
    )


def current_ports() -> Ports:
    from flask import current_app

    return current_app.extensions["ra.ports"]
