"""JSON API under /api/v1: bearer tokens only (no cookies, so no CSRF surface),
errors as {"error": {"code", "message"}}, described at /api/v1/openapi.json."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, g, jsonify, request

from ra.errors import RAError, UserError
from ra.extensions import csrf, db
from ra.i18n import _l

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


class Unauthorized(RAError):
    status = 401
    code = "unauthorized"
    default_message = _l("A valid bearer token is required.")


def bearer_user():
    from ra.auth.service import user_for_token

    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_for_token(db.session, token.strip())


def token_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        user = bearer_user()
        if user is None:
            raise Unauthorized()
        g.api_user = user
        return view(*args, **kwargs)
    return wrapper


def actor():
    return g.api_user


def json_body(*, optional: bool = False) -> dict:
    """The request's JSON object; every route reads its body through here, so a body
    that is a list, a string or broken JSON is a 400, never an AttributeError.
    ``optional``: an empty body counts as ``{}`` (actions whose fields are optional)."""
    if optional and not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not _storable(data):
        raise UserError(_l("The request body must be a JSON object."), code="bad_json")
    return data


def _storable(value, depth: int = 0) -> bool:
    """No text a database cannot store: NUL (PostgreSQL refuses it) or a lone
    surrogate (\\ud800 is valid JSON but not UTF-8)."""
    if depth > 32:
        return False
    if isinstance(value, str):
        return _encodable(value)
    if isinstance(value, dict):
        return all(_storable(k, depth + 1) and _storable(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v, depth + 1) for v in value)
    return True


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


@bp.before_request
def _refuse_unstorable_text():
    """The same rule for the address: a NUL in a path or query value is a 400, not
    a database error."""
    values = [request.path, *request.args.keys(), *request.args.values()]
    if any("\x00" in v or not _encodable(v) for v in values):
        raise UserError(_l("The request was not understood."), code="bad_request")


@bp.route("/openapi.json")
def openapi():
    from ra.api.openapi import spec
    return jsonify(spec())


@bp.after_request
def _no_cookies(resp):
    # The API never sets or refreshes a session cookie.
    resp.headers.pop("Set-Cookie", None)
    return resp
