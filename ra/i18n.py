"""Mongolian first, English second. Lazy strings here are resolved only when shown,
in the reader's language, so services may build messages without a request."""
from flask_babel import lazy_gettext as _l  # noqa: F401

LANGUAGES = ("mn", "en")


def select_locale():
    from flask import request, session
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False) and current_user.locale in LANGUAGES:
        return current_user.locale
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    if request and request.path.startswith("/api/"):
        return request.accept_languages.best_match(LANGUAGES) or "mn"
    return "mn"
