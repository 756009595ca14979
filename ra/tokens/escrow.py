"""SO-PIN escrow: AES-256-GCM (NIST SP 800-38D) under a key from configuration.

A blob is ``v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``. The associated
data names the row the PIN belongs to (``token/<serial>``, ``batch/<reference>``),
so a blob copied onto another row does not decrypt. The key id (first 8 bytes of
SHA-256 of the key, hex) tells an operator which key a blob needs.

The key comes from ``TOKEN_ESCROW_KEY`` in the app config, else the
``RA_TOKEN_ESCROW_KEY`` environment variable (32 bytes, base64url), else a key
generated once into ``instance/token_escrow_key`` (mode 0600). Losing the key
means losing every SO PIN: back it up with the database, but not in it.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ra.errors import RAError
from ra.i18n import _l

VERSION = "v1"


class EscrowError(RAError):
    status = 500
    code = "escrow_unreadable"
    default_message = _l("The escrowed SO PIN cannot be decrypted with this server's escrow key. "
                         "Ask the administrator to check the escrow key.")


class EscrowKeyError(RuntimeError):
    """The configured key is unusable; raised at start-up, naming the variable."""


def _decode_key(text: str) -> bytes:
    text = text.strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise EscrowKeyError("RA_TOKEN_ESCROW_KEY must be 32 bytes in base64url") from None
    if len(key) != 32:
        raise EscrowKeyError("RA_TOKEN_ESCROW_KEY must be 32 bytes in base64url")
    return key


def new_key_text() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _instance_key(instance: Path) -> str:
    path = Path(instance) / "token_escrow_key"
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = new_key_text()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_text()
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return text


class PinEscrow:
    def __init__(self, key: bytes):
        if len(key) != 32:
            raise EscrowKeyError("the escrow key must be 32 bytes")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:16]

    @classmethod
    def from_config(cls, config: dict, environ=None) -> "PinEscrow":
        env = os.environ if environ is None else environ
        text = config.get("TOKEN_ESCROW_KEY") or env.get("RA_TOKEN_ESCROW_KEY") \
            or _instance_key(Path(config["INSTANCE_PATH"]))
        return cls(_decode_key(text))

    def seal(self, pin: str, context: str) -> str:
        nonce = secrets.token_bytes(12)
        ct = self._aead.encrypt(nonce, pin.encode("utf-8"), context.encode("utf-8"))
        return f"{VERSION}.{self.key_id}.{base64.urlsafe_b64encode(nonce + ct).decode()}"

    def open(self, blob: str, context: str) -> str:
        try:
            version, key_id, data = blob.split(".", 2)
            raw = base64.urlsafe_b64decode(data)
        except (ValueError, binascii.Error):
            raise EscrowError() from None
        if version != VERSION or key_id != self.key_id:
            raise EscrowError()
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context.encode("utf-8")).decode("utf-8")
        except InvalidTag:
            raise EscrowError() from None


def token_context(serial: str) -> str:
    return f"ra/token/{serial}/so-pin"


def batch_context(reference: str) -> str:
    return f"ra/token-batch/{reference}/factory-so-pin"
