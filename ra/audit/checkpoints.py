"""Signed checkpoints of the audit log.

The hash chain alone is unkeyed: whoever can write to the database can rewrite a
record, recompute every later hash and the head, and the chain still verifies. A
checkpoint signs the head hash and the record count with an Ed25519 key kept
outside the database (a file under the instance folder, mode 0600). It is
written to the log itself (``audit.checkpoint``) and appended to a file that the
operator ships off the machine; a rewrite before a checkpoint then changes a
hash that a signature vouches for, and ``audit verify`` says so.

Nothing here touches the database or Flask: ``ra.audit.service`` records and
checks checkpoints, the CLI decides where the key and the file are.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ACTION = "audit.checkpoint"
_DOMAIN = b"ra audit checkpoint v1\n"  # a signature made for this, and for nothing else


@dataclass(frozen=True)
class Checkpoint:
    """``count`` records, the last of which has hash ``head``, signed at ``at``."""
    count: int
    head: str
    at: str  # ISO 8601, UTC
    key_id: str
    signature: str  # base64 of the Ed25519 signature over ``message()``

    def message(self) -> bytes:
        body = json.dumps({"count": self.count, "head": self.head, "at": self.at, "key_id": self.key_id},
                          sort_keys=True, separators=(",", ":"))
        return _DOMAIN + body.encode("ascii")

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse(cls, data) -> "Checkpoint":
        """From a file line or a log record's details; ``ValueError`` names what is wrong."""
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        try:
            cp = cls(count=data["count"], head=data["head"], at=data["at"], key_id=data["key_id"],
                     signature=data["signature"])
        except KeyError as missing:
            raise ValueError(f"no {missing.args[0]!r}") from None
        if not isinstance(cp.count, int) or cp.count < 0 or not all(
                isinstance(v, str) for v in (cp.head, cp.at, cp.key_id, cp.signature)):
            raise ValueError("a field has the wrong type")
        return cp

    def signed_by(self, public_key: Ed25519PublicKey) -> bool:
        if self.key_id != key_id(public_key):
            return False
        try:
            public_key.verify(base64.b64decode(self.signature, validate=True), self.message())
        except (InvalidSignature, ValueError, binascii.Error):
            return False
        return True


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, *, count: int, head: str, at: str) -> Checkpoint:
    unsigned = Checkpoint(count, head, at, key_id(key.public_key()), "")
    return Checkpoint(count, head, at, unsigned.key_id, base64.b64encode(key.sign(unsigned.message())).decode())


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """The audit key, generated on first use (mode 0600, never overwritten: a
    concurrent first run loses the race and reads the winner's key)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    return load_key(path)


def load_key(path: str | Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def public_key_of(path: str | Path) -> Ed25519PublicKey | None:
    """For ``audit verify``: the audit key's public half, or None when there is
    no key file (verify then says the signatures could not be checked)."""
    if not Path(path).exists():
        return None
    return load_key(path).public_key()


def ship(path: str | Path, checkpoint: Checkpoint) -> None:
    """One line appended to the file the operator copies elsewhere (O_APPEND, so
    concurrent writers never interleave inside a line), flushed to disk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (checkpoint.as_json() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_shipped(path: str | Path | None) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints in the shipped file, and a line for each one that cannot be read."""
    if path is None or not Path(path).exists():
        return [], []
    found, problems = [], []
    for number, line in enumerate(Path(path).read_text("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(Checkpoint.parse(line))
        except ValueError as exc:
            problems.append(f"{Path(path).name} line {number}: {exc}")
    return found, problems
