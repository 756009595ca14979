"""The one place that maps typed errors to HTTP (STYLE rule 5), plus security headers."""
from __future__ import annotations

import logging
import uuid
from urllib.parse import urlsplit

from flask import jsonify, make_response, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from ra.errors import Busy, DatabaseUnavailable, RAError, ValidationFailed
from ra.i18n import LANGUAGES, _l

log = logging.getLogger("ra.web")

HTTP_MESSAGES = {
    400: _l("The request was not understood."),
    401: _l("Please log in to continue."),
    403: _l("You are not allowed to do this."),
    404: _l("Not found."),
    405: _l("This method is not allowed here."),
    413: _l("The file is larger than 10 MB."),
    429: _l("Too many attempts. Try again later."),
}


# Ids are PostgreSQL INTEGER columns (SQLite's are wider): a larger number can name no
# row, and handing it to the driver raises OverflowError or "integer out of range".
MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000  # keeps OFFSET (page × rows per page) far inside a BIGINT


class BoundedInt(IntegerConverter):
    """The ``<int:…>`` converter of every route: a number no id can have is a 400."""

    def to_python(self, value: str) -> int:
        if len(value) > 19:  # spares int() a 5,000-digit string
            raise BadRequest()
        number = super().to_python(value)
        if number > MAX_ID:
            raise BadRequest()
        return number


class BadQuery(RAError):
    status = 400
    code = "bad_query"
    default_message = _l("The value of “%(name)s” in the address is not valid.")


def int_arg(name: str, default: int | None = None, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """A whole-number query parameter: absent gives ``default``; anything that is not
    a number in [minimum, maximum] is a 400 (not a silent default, not a 500)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or not minimum <= int(raw) <= maximum:
        raise BadQuery(name=name)
    return int(raw)


def page_arg(name: str = "page") -> int:
    """The pagination helper: ``?page=`` from 1 to ``MAX_PAGE``, default 1."""
    return int_arg(name, 1, minimum=1, maximum=MAX_PAGE)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message, *, errors: dict | None = None, extra: dict | None = None):
    if wants_json():
        body = {"error": {"code": code, "message": str(message), **(extra or {})}}
        if errors:
            body["error"]["fields"] = {k: str(v) for k, v in errors.items()}
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, errors=errors), status


def _error_extra(exc: RAError) -> dict:
    """What a client needs to recover: the field at fault (a unique value taken by a
    concurrent request), the state another request moved the object to."""
    extra = {}
    if exc.field:
        extra["field"] = exc.field
    if getattr(exc, "state", None):
        extra["state"] = exc.state
    return extra


def _unreachable(exc: DBAPIError) -> bool:
    """Connection refused or dropped (psycopg's OperationalError with no SQLSTATE,
    or class 08, or an administrator shutdown 57P0x)."""
    if not isinstance(exc, OperationalError):
        return False
    state = getattr(exc.orig, "sqlstate", None) or ""
    return state == "" and "sqlite" not in type(exc.orig).__module__ or state.startswith(("08", "57P"))


def safe_next_url(target: str | None) -> str | None:
    """Only same-site relative paths: no open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def init_app(app) -> None:
    @app.errorhandler(RAError)
    def _ra_error(exc: RAError):
        from ra.extensions import db
        db.session.rollback()
        resp = error_response(exc.status, exc.code, exc.render(),
                              errors=getattr(exc, "errors", None) if isinstance(exc, ValidationFailed) else None,
                              extra=_error_extra(exc))
        if getattr(exc, "retry_after", None):
            resp = make_response(resp)
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp

    @app.errorhandler(DBAPIError)
    def _database(exc: DBAPIError):
        # A race lost after the retries, or a database that cannot be reached:
        # the client may try again; it is not a bug to report with an id.
        from ra.db import is_lost_race
        if is_lost_race(exc):
            return _ra_error(Busy())
        if exc.connection_invalidated or _unreachable(exc):
            log.warning("database unreachable on %s %s: %s", request.method, request.path, type(exc.orig).__name__)
            return _unavailable(DatabaseUnavailable())
        return _unexpected(exc)

    def _unavailable(exc: DatabaseUnavailable):
        # Without a database neither the session's user nor the menu can be read:
        # a page of its own, which needs neither.
        from flask import g, current_app

        from ra.extensions import db
        try:
            db.session.rollback()
        except DBAPIError:
            pass
        # The language is the session user's; reading the user needs the database.
        g._login_user = current_app.login_manager.anonymous_user()
        if wants_json():
            resp = make_response(error_response(exc.status, exc.code, exc.render()))
        else:
            resp = make_response(render_template("unavailable.html", message=exc.render()), exc.status)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return error_response(400, "csrf", _l("The form has expired or was not sent from this site. "
                                              "Reload the page and try again."))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        return error_response(413, "too_large", HTTP_MESSAGES[413])

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        message = HTTP_MESSAGES.get(exc.code, exc.name)
        body, status = error_response(exc.code or 500, exc.name.lower().replace(" ", "_"), message)
        resp = app.make_response((body, status))
        if getattr(exc, "valid_methods", None):  # RFC 9110 §15.5.6: a 405 says what is allowed
            resp.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        if exc.code == 429 and getattr(exc, "retry_after", None):
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc):
        from ra.extensions import db
        try:
            db.session.rollback()
        except DBAPIError:  # the connection is gone; the error is still this one
            pass
        error_id = uuid.uuid4().hex[:12]
        log.exception("unexpected error %s on %s %s", error_id, request.method, request.path)
        return error_response(500, "internal", _l("Something went wrong on our side. "
                                                  "Quote this number to the RU: %(id)s", id=error_id))

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; frame-ancestors 'none'; form-action 'self'")
        if app.config.get("SESSION_COOKIE_SECURE"):
            # Served over https (RA_SECURE_COOKIES=1): browsers must never fall back to
            # plain http, where the session cookie could be read or stripped.
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.path.startswith(("/api/", "/login")) or resp.mimetype == "application/pdf":
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.context_processor
    def _globals():
        from flask_babel import get_locale
        return {"LANGUAGES": LANGUAGES, "current_locale": str(get_locale() or "mn")}
