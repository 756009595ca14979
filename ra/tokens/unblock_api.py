"""Remote PIN unblock in the JSON API (/api/v1), on the same services as the pages.

- ``POST /unblock-requests`` (public): the holder asks with e-mail and token serial;
  the answer is the same whether or not they matched, and is given before anyone
  looks whether they match (the matching, the code and the e-mail follow once the
  answer is out), so its timing does not tell either.
- ``POST /tokens/{serial}/unblock-requests`` (bearer): the registration officer asks
  for a holder of their organisation; another organisation's token is 404.
- ``/unblock-sessions…`` (public, authenticated by the code, then by the session
  secret): the steps of the holder's ``ra-token unblock`` command.
"""
from __future__ import annotations

import logging

from flask import current_app, jsonify, request

from ra.api import actor, json_body, token_required
from ra.auth import policy as auth_policy
from ra.db import commit
from ra.errors import ValidationFailed
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.tokens import pins
from ra.tokens import unblock_queries as q
from ra.tokens import unblock_service as svc
from ra.tokens.unblock_errors import Recorded
from ra.tokens.unblock_models import UnblockRequest
from ra.tokens.unblock_states import UnblockStatus

log = logging.getLogger("ra.tokens.unblock")


def sent_if_matched():
    """The one answer to a public request, matched or not."""
    return _l("If this e-mail is the registered address of the holder of this token, a code has been sent to it. "
              "The code is valid for %(minutes)d minutes.", minutes=svc.CODE_MINUTES)


def run_recorded(action):
    """One service call as a unit of work; a refusal that recorded something (a
    counted wrong code, a lock, a throttle hit) is committed before it is answered."""
    try:
        result = action()
    except Recorded:
        commit()
        raise
    commit()
    return result


def client_address() -> str:
    return request.remote_addr or "-"


def answer_then_issue(response, *, email: str, serial: str, client: str):
    """The public request's second half runs once the answer has gone out
    (``call_on_close``): whether e-mail and serial match, the code, the mail — none
    of it adds to the time the asker waits. An undeliverable code is withdrawn, on
    record; a failure is logged (there is nobody left to answer)."""
    app, ports = current_app._get_current_object(), current_ports()

    def issue():
        with app.app_context():
            try:
                issued = svc.request_code_by_email(db.session, email=email, serial=serial, client=client, ports=ports)
                db.session.commit()
                if issued is not None and not svc.deliver_code(issued.mail, ports=ports):
                    svc.withdraw_undelivered(db.session, issued.request, ports=ports)
                    db.session.commit()
            except Exception:  # noqa: BLE001 — logged with its traceback; nothing secret is in it
                db.session.rollback()
                log.exception("remote unblock request from %s failed after the answer", client)

    response.call_on_close(issue)
    return response


def deliver_now(issued) -> None:
    """For the registrar: the code goes out now, and a failure is reported to them."""
    ports = current_ports()
    if not svc.deliver_code(issued.mail, ports=ports):
        error = svc.withdraw_undelivered(db.session, issued.request, ports=ports)
        commit()
        raise error


def request_json(r: UnblockRequest) -> dict:
    return {"id": r.id, "token_serial": r.token.serial, "holder_id": r.holder_id, "channel": r.channel.value,
            "status": r.status.value, "sent_to": r.email, "created_at": r.created_at.isoformat(),
            "expires_at": r.expires_at.isoformat(), "failed_attempts": r.failed_attempts,
            "finished_at": r.finished_at.isoformat() if r.finished_at else None}


def _fields(body: dict, *names: str) -> list[str]:
    values = [body.get(n) for n in names]
    missing = {n: _l("This field is required.") for n, v in zip(names, values)
               if not isinstance(v, str) or not v.strip()}
    if missing:
        raise ValidationFailed(missing)
    return [v.strip() for v in values]


def _secret(body: dict) -> str:
    secret = body.get("secret")
    return secret if isinstance(secret, str) else ""


def register_api(bp):
    @bp.route("/unblock-requests", methods=["POST"])
    def ask_unblock_code():
        email, serial = _fields(json_body(), "email", "token_serial")
        run_recorded(lambda: svc.count_public_ask(db.session, email=email, serial=serial, client=client_address(),
                                                  ports=current_ports()))
        response = jsonify({"message": str(sent_if_matched()), "valid_minutes": svc.CODE_MINUTES})
        response.status_code = 202
        return answer_then_issue(response, email=email, serial=serial, client=client_address())

    @bp.route("/tokens/<serial>/unblock-requests", methods=["POST"])
    @token_required
    def request_unblock_code(serial):
        issued = svc.request_code(db.session, actor(), serial, ports=current_ports())
        commit()
        deliver_now(issued)
        return jsonify(request_json(issued.request)), 201

    @bp.route("/unblock-requests/<int:request_id>", methods=["GET"])
    @token_required
    def get_unblock_request(request_id):
        auth_policy.require(svc.can_follow_unblock(actor()))
        return jsonify(request_json(q.get_request(db.session, actor(), request_id)))

    @bp.route("/unblock-sessions", methods=["POST"])
    def open_unblock_session():
        serial, code = _fields(json_body(), "token_serial", "code")
        grant = run_recorded(lambda: svc.open_session(db.session, serial=serial, code=code, client=client_address(),
                                                       ports=current_ports()))
        r = grant.request
        return jsonify({"session": r.id, "secret": grant.secret, "status": r.status.value,
                        "token_serial": r.token.serial, "so_pin": grant.so_pin, "new_so_pin": grant.new_so_pin,
                        "try_new_first": grant.try_new_first, "user_pin_set": grant.user_pin_set,
                        "resumed": grant.resumed,
                        "session_expires_at": r.session_expires_at.isoformat(),
                        "pin_policy": {"min_length": pins.USER_PIN_MIN, "max_length": pins.USER_PIN_MAX}}), 201

    def _step(request_id, fn):
        secret = _secret(json_body())
        return run_recorded(lambda: fn(db.session, request_id, secret, ports=current_ports()))

    @bp.route("/unblock-sessions/<int:request_id>/pin-check", methods=["POST"])
    def check_unblock_pin(request_id):
        body = json_body()
        pin = body.get("user_pin")
        run_recorded(lambda: svc.check_new_user_pin(db.session, request_id, _secret(body),
                                                    pin if isinstance(pin, str) else "", ports=current_ports()))
        return jsonify({"accepted": True})

    @bp.route("/unblock-sessions/<int:request_id>/user-pin-set", methods=["POST"])
    def record_unblock_user_pin(request_id):
        req = _step(request_id, svc.record_user_pin_set)
        return jsonify({"status": req.status.value})

    @bp.route("/unblock-sessions/<int:request_id>/new-so-pin", methods=["POST"])
    def draw_unblock_so_pin(request_id):
        new_so_pin = _step(request_id, svc.draw_new_so_pin)
        return jsonify({"status": UnblockStatus.SO_PIN_DRAWN.value, "new_so_pin": new_so_pin})

    @bp.route("/unblock-sessions/<int:request_id>/so-pin-setting", methods=["POST"])
    def announce_unblock_so_pin(request_id):
        req = _step(request_id, svc.record_so_pin_setting)
        return jsonify({"status": req.status.value})

    @bp.route("/unblock-sessions/<int:request_id>/confirm", methods=["POST"])
    def confirm_unblock(request_id):
        req = _step(request_id, svc.confirm_rotation)
        return jsonify({"status": req.status.value})


def openapi_paths() -> dict:
    """The OpenAPI 3.1 entries of these routes, for ``ra.api.openapi.spec`` to merge."""
    def op(summary, *codes, body=None, params=(), public=False):
        out = {"summary": summary, "tags": ["tokens"], "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "integer" if p == "id" else "string"}}
            for p in params], "responses": {str(c): {"description": d} for c, d in codes}}
        if body:
            out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        if public:
            out["security"] = []
        return out

    def obj(*required, **props):
        return {"type": "object", "required": list(required),
                "properties": {k: {"type": v} for k, v in props.items()}}

    secret = obj("secret", secret="string")
    bad, refused, state = (422, "Missing fields"), (403, "Code or session not valid"), (409, "Not possible now")
    many, ok = (429, "Throttled"), (200, "OK")
    return {
        "/unblock-requests": {"post": op(
            "The holder asks for an unblock code: the same 202 whether or not e-mail and serial matched",
            (202, "Accepted"), bad, many, body=obj("email", "token_serial", email="string", token_serial="string"),
            public=True)},
        "/unblock-requests/{id}": {"get": op("One unblock request (a registrar sees only their own organisation's)",
                                             ok, (404, "Not found (or not yours)"), params=("id",))},
        "/tokens/{serial}/unblock-requests": {"post": op(
            "The registration officer asks for an unblock code for the holder of this token",
            (201, "Code sent to the holder"), (403, "Not allowed"), (404, "Not found (or not yours)"), state, many,
            (503, "The e-mail could not be sent"), params=("serial",))},
        "/unblock-sessions": {"post": op(
            "ra-token: prove the code; returns the session secret and the escrowed SO PIN(s)", (201, "Opened"), bad,
            refused, state, many, body=obj("token_serial", "code", token_serial="string", code="string"),
            public=True)},
        "/unblock-sessions/{id}/pin-check": {"post": op(
            "ra-token: the server's check of the new user PIN's policy (the PIN is not kept)", ok,
            (400, "PIN refused by the policy"), refused, body=obj("secret", "user_pin", secret="string",
                                                                   user_pin="string"), params=("id",), public=True)},
        "/unblock-sessions/{id}/user-pin-set": {"post": op(
            "ra-token: C_InitPIN done", ok, refused, state, body=secret, params=("id",), public=True)},
        "/unblock-sessions/{id}/new-so-pin": {"post": op(
            "ra-token: draw and escrow the new SO PIN (pending until confirmed)", ok, refused, state, body=secret,
            params=("id",), public=True)},
        "/unblock-sessions/{id}/so-pin-setting": {"post": op(
            "ra-token: about to call C_SetPIN", ok, refused, state, body=secret, params=("id",), public=True)},
        "/unblock-sessions/{id}/confirm": {"post": op(
            "ra-token: the new SO PIN works on the token; it becomes the escrowed one", ok, refused, state,
            body=secret, params=("id",), public=True)},
    }
