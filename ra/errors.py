"""Typed errors. Each carries a translatable, user-safe message and an HTTP status.

Anything that is not an ``RAError`` is unexpected: it is logged with an id and the
user sees only that id (see ``ra.web.errors``).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l


class RAError(Exception):
    status = 500
    code = "error"
    default_message = _l("The request could not be completed.")

    def __init__(self, message=None, *, code: str | None = None, field: str | None = None, **params):
        self.message = message if message is not None else self.default_message
        self.params = params
        self.field = field
        if code:
            self.code = code
        super().__init__(str(code or self.code))

    def render(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text


class UserError(RAError):
    """The user's input cannot be accepted; they can correct it."""
    status = 400
    code = "invalid"
    default_message = _l("The data is not valid.")


class ValidationFailed(UserError):
    """Several field errors at once: ``errors`` maps field → message."""
    status = 422
    code = "validation_failed"
    default_message = _l("Please correct the marked fields.")

    def __init__(self, errors: dict, message=None):
        super().__init__(message)
        self.errors = errors


class NotFound(RAError):
    status = 404
    code = "not_found"
    default_message = _l("Not found.")


class PermissionDenied(RAError):
    status = 403
    code = "forbidden"
    default_message = _l("You are not allowed to do this.")


class InvalidTransition(RAError):
    status = 409
    code = "invalid_transition"
    default_message = _l("This action is not possible in the current state.")


class Conflict(RAError):
    status = 409
    code = "conflict"
    default_message = _l("This conflicts with the current data.")


class TooManyRequests(RAError):
    status = 429
    code = "too_many_requests"
    default_message = _l("Too many attempts. Try again later.")


class BackendUnavailable(RAError):
    status = 503
    code = "backend_unavailable"
    default_message = _l("An outside service is unavailable. Nothing was lost; try again later.")


class Busy(RAError):
    """The database stayed busy (deadlocks, a locked SQLite file) after a few tries:
    nothing was saved; the same request may simply be sent again."""
    status = 503
    code = "busy"
    retry_after = 2
    default_message = _l(
        "Many people are working on the same data right now. Nothing was saved; try again in a moment.")


class DatabaseUnavailable(RAError):
    """The database cannot be reached (restarting, failing over): nothing was saved."""
    status = 503
    code = "database_unavailable"
    retry_after = 30
    default_message = _l("The service is briefly unavailable. Nothing was saved; try again in a minute.")
