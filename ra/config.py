"""Configuration: defaults, then ``RA_*`` environment variables, validated at start-up.

A misconfigured instance must refuse to start with a message that names the
variable, rather than fail later in front of an officer at the counter.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ra.localtime import LOCAL_TZ

DEFAULT_PKCS11_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
)


class ConfigError(RuntimeError):
    """The configuration cannot work; the message names the variable."""


@dataclass(frozen=True)
class Setting:
    env: str
    key: str
    help: str


# The table the README documents; keep the two in agreement.
SETTINGS = (
    Setting("RA_DATABASE_URL", "SQLALCHEMY_DATABASE_URI",
            "SQLAlchemy URL. Default: SQLite file `ra.sqlite3` in the instance folder. "
            "Production: postgresql+psycopg://user@host/db"),
    Setting("RA_SECRET_KEY", "SECRET_KEY",
            "Signs sessions and CSRF tokens; at least 32 characters. Default: generated once "
            "and kept in `instance/secret_key`."),
    Setting("RA_INSTANCE_PATH", "INSTANCE_PATH",
            "Folder for the database, uploads, generated PDFs, mail and SoftHSM2 tokens. "
            "Default: ./instance"),
    Setting("RA_PKCS11_MODULE", "PKCS11_MODULE",
            "Path of the PKCS#11 module. Default: SoftHSM2's libsofthsm2.so"),
    Setting("RA_MAIL_URL", "MAIL_URL",
            "Where mail goes: `file:` (default, .eml files under instance/mail/) or "
            "`smtp://host:port` / `smtps://user:pass@host:port`"),
    Setting("RA_MAIL_FROM", "MAIL_FROM", "Sender address. Default: noreply@ra.localhost"),
    Setting("RA_BASE_URL", "BASE_URL", "Public base URL used in e-mails. Default: http://127.0.0.1:5000"),
    Setting("RA_CA", "CA", "CA connector: `embedded` (default) or `django-ca+https://…`"),
    Setting("RA_PKI_URL", "PKI_URL",
            "Base URL the embedded CA writes into certificates for its CRLs, CA certificates, OCSP and CPS. Plain "
            "`http://` (ETSI EN 319 412-2 GEN-4.3.11-4: relying parties fetch CRLs without TLS). Default: "
            "RA_BASE_URL with `http://`"),
    Setting("RA_AUDIT_KEY", "AUDIT_KEY",
            "Ed25519 private key (PEM file) that signs audit-log checkpoints; keep it off the database server. "
            "Default: generated once into `instance/audit_key` (mode 600)"),
    Setting("RA_AUDIT_CHECKPOINTS", "AUDIT_CHECKPOINTS",
            "File the signed audit checkpoints are appended to, for the operator to ship elsewhere. "
            "Default: `instance/audit-checkpoints.jsonl`"),
    Setting("RA_TOKEN_ESCROW_KEY", "TOKEN_ESCROW_KEY",
            "Key (base64url, 32 bytes) that encrypts escrowed SO PINs (AES-GCM). Default: generated once into "
            "`instance/token_escrow_key` (mode 600). Back it up apart from the database."),
    Setting("RA_CA_KEY", "CA_KEY",
            "Key (base64, 32 bytes) that seals the embedded CA's private keys (AES-GCM). Default: generated once "
            "into `instance/ca_key` (mode 600); keys sealed by older versions are re-sealed under it. "
            "Back it up apart from the database."),
    Setting("RA_REVOCATION_DUAL_CONTROL", "REVOCATION_DUAL_CONTROL",
            "`1` (default): a second RU officer or manager approves revocations other than the holder's own "
            "lost-token report; `0` turns dual control off"),
    Setting("RA_SESSION_IDLE_MINUTES", "SESSION_IDLE_MINUTES", "Idle session timeout in minutes. Default: 30"),
    Setting("RA_SESSION_MAX_HOURS", "SESSION_MAX_HOURS",
            "Absolute session lifetime in hours, however active the session. Default: 12"),
    Setting("RA_TRUSTED_PROXIES", "TRUSTED_PROXIES",
            "The reverse proxies in front of the app, whose X-Forwarded-For/-Proto are believed: a hop count "
            "(`1`) or their addresses/CIDRs (`10.0.0.0/8,192.0.2.7`). Throttles and audit records then key on "
            "the real client. Default: none (X-Forwarded-* ignored)"),
    Setting("RA_SECURE_COOKIES", "SESSION_COOKIE_SECURE",
            "`1` behind https: cookies get the Secure flag and answers carry HSTS (one year)"),
)


def _read_secret_key(instance: Path) -> str:
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _default_pkcs11_module() -> str:
    for candidate in DEFAULT_PKCS11_MODULES:
        if Path(candidate).exists():
            return candidate
    return DEFAULT_PKCS11_MODULES[0]


def _plain_http(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(scheme="http").geturl() if parts.scheme == "https" else url


def load_config(overrides: dict | None = None, environ: os._Environ | dict | None = None) -> dict:
    """Builds the Flask config dict from defaults, the environment and ``overrides``."""
    env = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    instance = Path(overrides.pop("INSTANCE_PATH", None) or env.get("RA_INSTANCE_PATH") or "instance").resolve()

    cfg: dict = {
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": env.get("RA_DATABASE_URL") or f"sqlite:///{instance / 'ra.sqlite3'}",
        "PKCS11_MODULE": env.get("RA_PKCS11_MODULE") or _default_pkcs11_module(),
        "MAIL_URL": env.get("RA_MAIL_URL") or "file:",
        "MAIL_FROM": env.get("RA_MAIL_FROM") or "noreply@ra.localhost",
        "BASE_URL": (env.get("RA_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        "CA": env.get("RA_CA") or "embedded",
        "CA_KEY": env.get("RA_CA_KEY") or None,
        "SESSION_IDLE_MINUTES": env.get("RA_SESSION_IDLE_MINUTES") or "30",
        "SESSION_MAX_HOURS": env.get("RA_SESSION_MAX_HOURS") or "12",
        "TRUSTED_PROXIES": env.get("RA_TRUSTED_PROXIES") or "",
        "SESSION_COOKIE_SECURE": (env.get("RA_SECURE_COOKIES") or "0") in ("1", "true", "yes"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        # A pooled connection that died with a database restart is replaced before
        # use instead of failing the request that drew it.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Uploads are at most 10 MB; allow room for the multipart envelope and
        # refuse larger bodies before they are read.
        "MAX_UPLOAD_BYTES": 10 * 1024 * 1024,
        "MAX_CONTENT_LENGTH": 10 * 1024 * 1024 + 64 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "mn",
        "BABEL_DEFAULT_TIMEZONE": LOCAL_TZ.key,  # Babel's date filters show local time too
    }
    secret = env.get("RA_SECRET_KEY")
    cfg.update(overrides)
    cfg.setdefault("PKI_URL", (env.get("RA_PKI_URL") or _plain_http(cfg["BASE_URL"])).rstrip("/"))
    cfg.setdefault("AUDIT_KEY", env.get("RA_AUDIT_KEY") or str(instance / "audit_key"))
    cfg.setdefault("AUDIT_CHECKPOINTS", env.get("RA_AUDIT_CHECKPOINTS") or str(instance / "audit-checkpoints.jsonl"))
    if "SECRET_KEY" not in cfg:
        cfg["SECRET_KEY"] = secret or _read_secret_key(instance)
    validate(cfg)
    cfg["SESSION_IDLE_MINUTES"] = int(cfg["SESSION_IDLE_MINUTES"])
    cfg["SESSION_MAX_HOURS"] = int(cfg["SESSION_MAX_HOURS"])
    return cfg


def validate(cfg: dict) -> None:
    if len(str(cfg["SECRET_KEY"])) < 32:
        raise ConfigError("RA_SECRET_KEY must be at least 32 characters long")
    scheme = urlsplit(cfg["SQLALCHEMY_DATABASE_URI"]).scheme.split("+")[0]
    if scheme not in ("sqlite", "postgresql"):
        raise ConfigError(f"RA_DATABASE_URL: unsupported database {scheme!r}; use sqlite or postgresql")
    mail = urlsplit(cfg["MAIL_URL"]).scheme
    if mail not in ("file", "smtp", "smtps", "memory"):
        raise ConfigError(f"RA_MAIL_URL: unsupported scheme {mail!r}; use file:, smtp:// or smtps://")
    try:
        minutes = int(cfg["SESSION_IDLE_MINUTES"])
    except (TypeError, ValueError):
        raise ConfigError("RA_SESSION_IDLE_MINUTES must be a whole number") from None
    if minutes < 1:
        raise ConfigError("RA_SESSION_IDLE_MINUTES must be at least 1")
    if urlsplit(cfg["PKI_URL"]).scheme != "http":
        raise ConfigError("RA_PKI_URL must be a plain http:// URL (relying parties fetch CRLs without TLS)")
    try:
        hours = int(cfg["SESSION_MAX_HOURS"])
    except (TypeError, ValueError):
        raise ConfigError("RA_SESSION_MAX_HOURS must be a whole number") from None
    if not 1 <= hours <= 24 * 30:
        raise ConfigError("RA_SESSION_MAX_HOURS must be between 1 and 720")
    from ra.proxies import parse as parse_proxies
    try:
        parse_proxies(cfg.get("TRUSTED_PROXIES"))
    except ValueError as exc:
        raise ConfigError(f"RA_TRUSTED_PROXIES: {exc}; give a hop count or addresses/CIDRs") from None
    if cfg.get("CA_KEY"):
        import base64
        import binascii
        try:
            ok = len(base64.b64decode(str(cfg["CA_KEY"]).strip(), validate=True)) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise ConfigError("RA_CA_KEY must be 32 bytes, base64-encoded")
    if not str(cfg["CA"]).startswith(("embedded", "django-ca+")):
        raise ConfigError("RA_CA must be `embedded` or `django-ca+https://…`")
