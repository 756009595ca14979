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
    Setting("RA_TOKEN_ESCROW_KEY", "TOKEN_ESCROW_KEY",
            "Key (base64url, 32 bytes) that encrypts escrowed SO PINs (AES-GCM). Default: generated once into "
            "`instance/token_escrow_key` (mode 600). Back it up apart from the database."),
    Setting("RA_REVOCATION_DUAL_CONTROL", "REVOCATION_DUAL_CONTROL",
            "`1` (default): a second RU officer or manager approves revocations other than the holder's own "
            "lost-token report; `0` turns dual control off"),
    Setting("RA_SESSION_IDLE_MINUTES", "SESSION_IDLE_MINUTES", "Idle session timeout in minutes. Default: 30"),
    Setting("RA_SECURE_COOKIES", "SESSION_COOKIE_SECURE", "`1` behind https: cookies get the Secure flag"),
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
        "SESSION_IDLE_MINUTES": env.get("RA_SESSION_IDLE_MINUTES") or "30",
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
        "BABEL_DEFAULT_TIMEZONE": "Asia/Ulaanbaatar",
        "LOGIN_MAX_FAILURES": 10,
        "LOGIN_LOCK_MINUTES": 15,
    }
    secret = env.get("RA_SECRET_KEY")
    cfg.update(overrides)
    if "SECRET_KEY" not in cfg:
        cfg["SECRET_KEY"] = secret or _read_secret_key(instance)
    validate(cfg)
    cfg["SESSION_IDLE_MINUTES"] = int(cfg["SESSION_IDLE_MINUTES"])
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
    if not str(cfg["CA"]).startswith(("embedded", "django-ca+")):
        raise ConfigError("RA_CA must be `embedded` or `django-ca+https://…`")
