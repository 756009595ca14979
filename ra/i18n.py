"""Mongolian first, English second. Lazy strings here are resolved only when shown,
in the reader's language, so services may build messages without a request."""
from flask_babel import lazy_gettext as _l  # noqa: F401

LANGUAGES = ("mn", "en")


def select_locale():
    from flask import has_request_context, request, session
    from flask_login import current_user

    if not has_request_context():
        return "mn"  # CLI and workers speak the RU's language unless told otherwise
    if getattr(current_user, "is_authenticated", False) and current_user.locale in LANGUAGES:
        return current_user.locale
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    if request and request.path.startswith("/api/"):
        return request.accept_languages.best_match(LANGUAGES) or "mn"
    return "mn"


def translation_directories(root) -> list[str]:
    """Each domain package may keep its own catalog in ``<package>/translations``;
    Flask-Babel merges them. Paths are relative to the app's root (``ra/``)."""
    from pathlib import Path

    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.glob("**/translations") if p.is_dir())


def compile_catalogs(root) -> None:
    """Compiles every messages.po whose .mo is missing or older, so a fresh checkout
    serves both languages without a separate build step."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in Path(root).glob("**/translations/*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with open(po, "rb") as f:
            catalog = read_po(f)
        try:
            with open(mo, "wb") as f:
                write_mo(f, catalog)
        except OSError:
            pass  # read-only install: the packaged .mo is used
