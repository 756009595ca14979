"""The embedded CA's private keys at rest: PKCS#8 DER sealed with AES-256-GCM
(NIST SP 800-38D) under a wrapping key of its own.

The wrapping key is ``RA_CA_KEY`` (32 bytes, base64) when set, otherwise a random
key generated once into ``instance/ca_key`` (mode 600). It is never derived from
SECRET_KEY: whoever can sign a session cookie must not also hold the CA's keys, and
rotating SECRET_KEY must not lock the CA out. Instances sealed under the old
derivation (HKDF-SHA256 over SECRET_KEY, ``legacy_wrapping_key``) are re-sealed
under the current key the first time their keys are loaded (``rewrap``).
The key name is bound as associated data: a sealed key cannot be swapped onto
another CA's row.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ra.errors import RAError
from ra.i18n import _l

VERSION = b"v1"
HKDF_INFO = b"ra.ca.embedded: CA private key wrapping v1"

# Root and issuing CA keys. RSA-4096 for the root that signs rarely, RSA-3072
# (NIST SP 800-57 strength 128, good beyond 2030) for the issuing CA.
DEFAULT_ALGORITHMS = ("rsa4096", "rsa3072")


class CAKeyUnavailable(RAError):
    status = 503
    code = "ca_key_unavailable"
    default_message = _l("The embedded CA's keys cannot be opened: the CA wrapping key changed. "
                         "Restore RA_CA_KEY or the instance's ca_key file.")

INSTANCE_FILE = "ca_key"


def wrapping_key(config: dict) -> bytes:
    explicit = config.get("CA_KEY") or os.environ.get("RA_CA_KEY")
    if explicit:
        return decode_key(explicit)
    return decode_key(_instance_key(Path(config["INSTANCE_PATH"])))


def decode_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValueError("RA_CA_KEY must be 32 bytes, base64-encoded")
    return key


def _instance_key(instance: Path) -> str:
    path = instance / INSTANCE_FILE
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_text()
    text = base64.b64encode(os.urandom(32)).decode("ascii")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return text


def legacy_wrapping_key(config: dict) -> bytes | None:
    """The key older instances sealed with when RA_CA_KEY was not set; only ever
    used to open those seals once and seal them again under ``wrapping_key``."""
    if config.get("CA_KEY") or os.environ.get("RA_CA_KEY") or not config.get("SECRET_KEY"):
        return None
    secret = str(config["SECRET_KEY"]).encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(secret)


def rewrap(session, old: bytes, new: bytes) -> int:
    """Re-seals, under ``new``, every embedded-CA key (the CAs' own and their OCSP
    responders') that opens only with ``old``. Returns how many it re-sealed; a key
    that opens with neither is left alone (its loading will say so)."""
    import sqlalchemy as sa

    from ra.ca.models import EmbeddedAuthority

    count = 0
    for row in session.scalars(sa.select(EmbeddedAuthority)).all():
        for column, label in (("encrypted_key", row.name), ("ocsp_encrypted_key", f"{row.name}/ocsp")):
            sealed = getattr(row, column)
            if sealed is None or _opens(new, sealed, label):
                continue
            if _opens(old, sealed, label):
                setattr(row, column, seal(new, unseal(old, sealed, label), label))
                count += 1
    session.flush()
    return count


def _opens(wrapping: bytes, sealed: bytes, label: str) -> bool:
    try:
        unseal(wrapping, sealed, label)
    except CAKeyUnavailable:
        return False
    return True


def seal(wrapping: bytes, private_key, label: str) -> bytes:
    der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    nonce = os.urandom(12)
    return VERSION + nonce + AESGCM(wrapping).encrypt(nonce, der, label.encode("utf-8"))


def unseal(wrapping: bytes, sealed: bytes, label: str):
    if sealed[:2] != VERSION:
        raise CAKeyUnavailable()
    try:
        der = AESGCM(wrapping).decrypt(sealed[2:14], sealed[14:], label.encode("utf-8"))
    except InvalidTag:
        raise CAKeyUnavailable() from None
    return serialization.load_der_private_key(der, password=None)


def generate(algorithm: str):
    if algorithm.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[3:]))
    if algorithm == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    raise ValueError(f"unknown CA key algorithm {algorithm!r}")


def signature_hash(private_key):
    """SHA-384 for P-384 keys, SHA-256 otherwise (RFC 5758 §3.2, RFC 4055)."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()
