"""The counter handover in the JSON API (/api/v1), on the same runner, services and
policies as the page and the CLI. A handover that stops (CA outage, pulled token,
PIN needed) answers 202 with where it stopped; ``/resume`` goes on from there.

The user PIN may arrive in a request body (``user_pin``) and goes to the token
only; with ``random_pin`` the sealed-envelope PDF is returned once, base64, in
``pin_envelope_pdf`` — it is not kept and cannot be fetched again."""
from __future__ import annotations

import base64

from flask import Response, jsonify

from ra.api import actor, json_body, token_required
from ra.auth import policy as auth_policy
from ra.db import commit
from ra.enrollment import holder_queries
from ra.errors import UserError
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.tokens import handover_jobs as jobs
from ra.tokens import handover_queries as hq
from ra.tokens import handover_service as svc
from ra.tokens import receipt
from ra.tokens.handover_states import HandoverStep


def _locale() -> str:
    from flask_babel import get_locale
    return str(get_locale() or "mn")


def handover_json(h, result: jobs.RunResult | None = None) -> dict:
    body = hq.progress(h, current_ports().clock.now())
    body["receipt_url"] = f"/api/v1/handovers/{h.id}/receipt.pdf" if h.step == HandoverStep.COMPLETED else None
    if result is not None and result.error is not None:
        body["error"] = {"code": result.error.code, "message": result.error.render()}
    if result is not None and result.envelope is not None:
        body["pin_envelope_pdf"] = base64.b64encode(result.envelope).decode("ascii")
    return body


def _pin_args(body: dict, *, required: bool) -> dict:
    user_pin, random_pin = body.get("user_pin"), body.get("random_pin") is True
    if user_pin is not None and not isinstance(user_pin, str):
        raise UserError(_l("user_pin is a string."), field="user_pin")
    if user_pin and random_pin:
        raise UserError(_l("Give either user_pin or random_pin, not both."), field="user_pin")
    if required and not user_pin and not random_pin:
        raise UserError(_l("Give user_pin (typed by the holder) or random_pin: true."), field="user_pin")
    return {"user_pin": user_pin or None, "random_pin": random_pin}


def _answer(result: jobs.RunResult):
    h = hq.get_handover(db.session, result.handover_id)
    status = 200 if result.completed else 202
    return jsonify(handover_json(h, result)), status


def register_api(bp):
    @bp.route("/handovers", methods=["POST"])
    @token_required
    def create_handover():
        body = json_body()
        order = holder_queries.get_order(db.session, actor(), body.get("order_id"))
        auth_policy.require(svc.can_hand_over(actor(), order))
        result = jobs.start(db.session, actor(), order, id_document_type=str(body.get("id_document_type") or "id_card"),
                            id_document_number=str(body.get("id_document_number") or ""),
                            token_serial=str(body.get("token_serial") or "") or None, locale=_locale(),
                            ports=current_ports(), **_pin_args(body, required=True))
        resp, status = _answer(result)
        return resp, 201 if status == 200 else 202

    @bp.route("/handovers/<int:handover_id>", methods=["GET"])
    @token_required
    def get_handover(handover_id):
        auth_policy.require(svc.can_read_handovers(actor()))
        return jsonify(handover_json(hq.get_handover(db.session, handover_id)))

    @bp.route("/handovers/<int:handover_id>/resume", methods=["POST"])
    @token_required
    def resume_handover(handover_id):
        body = json_body(optional=True)
        h = hq.get_handover(db.session, handover_id)
        auth_policy.require(svc.can_hand_over(actor(), h.order))
        result = jobs.run(db.session, actor(), h.id, token_serial=str(body.get("token_serial") or "") or None,
                          locale=_locale(), ports=current_ports(), **_pin_args(body, required=False))
        return _answer(result)

    @bp.route("/handovers/<int:handover_id>/cancel", methods=["POST"])
    @token_required
    def cancel_handover(handover_id):
        body = json_body(optional=True)
        h = hq.get_handover(db.session, handover_id)
        auth_policy.require(svc.can_hand_over(actor(), h.order))
        jobs.cancel(db.session, actor(), h.id, str(body.get("reason") or ""), ports=current_ports())
        return jsonify(handover_json(hq.get_handover(db.session, handover_id)))

    @bp.route("/handovers/<int:handover_id>/token-failed", methods=["POST"])
    @token_required
    def record_handover_token_failed(handover_id):
        h = hq.get_handover(db.session, handover_id)
        auth_policy.require(svc.can_hand_over(actor(), h.order))
        jobs.token_failed(db.session, actor(), h.id, str((request.get_json(silent=True) or {}).get("reason") or ""),
                          ports=current_ports())
        return jsonify(handover_json(hq.get_handover(db.session, handover_id)))

    @bp.route("/handovers/<int:handover_id>/receipt.pdf", methods=["GET"])
    @token_required
    def handover_receipt(handover_id):
        auth_policy.require(svc.can_read_handovers(actor()))
        h = hq.get_handover(db.session, handover_id)
        ports = current_ports()
        name = svc.receipt_file(db.session, actor(), h, ports=ports,
                                render=lambda x: receipt.receipt_pdf(x, ports=ports, locale=_locale()))
        commit()
        return Response(ports.files.read(name), mimetype="application/pdf")


def openapi_paths() -> dict:
    """The OpenAPI 3.1 entries of these routes, for ``ra.api.openapi.spec`` to merge."""
    hid = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    pin = {"user_pin": {"type": "string", "minLength": 6, "maxLength": 16, "writeOnly": True,
                        "description": "typed by the holder; goes to the token only, never stored"},
           "random_pin": {"type": "boolean", "description": "a random PIN; the sealed-envelope PDF comes back once"}}
    handover = {"type": "object", "properties": {
        "id": {"type": "integer"}, "order_id": {"type": "integer"}, "step": {"type": "string", "enum": [
            s.value for s in HandoverStep]}, "design_step": {"type": "integer"}, "finished": {"type": "boolean"},
        "running": {"type": "boolean"}, "steps": {"type": "array", "items": {"type": "object"}},
        "paused": {"type": ["object", "null"]}, "token_serial": {"type": ["string", "null"]},
        "certificate": {"type": ["object", "null"]}, "certificate_not_on_token": {"type": "boolean"},
        "receipt_number": {"type": ["string", "null"]}, "receipt_url": {"type": ["string", "null"]},
        "error": {"type": "object"}, "pin_envelope_pdf": {"type": "string", "contentEncoding": "base64"}}}

    def op(summary, codes, *, body=None, params=(), schema=handover):
        out = {"summary": summary, "tags": ["handover"], "parameters": list(params), "responses": {
            str(c): ({"description": d, "content": {"application/json": {"schema": schema}}} if c in (200, 201, 202)
                     else {"description": d}) for c, d in codes}}
        if body:
            out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        return out

    common = [(400, "Bad input (a weak PIN)"), (401, "No or bad bearer token"), (403, "Not allowed"),
              (404, "Not found"), (409, "Not possible now (order not ready, handover running)")]
    start = {"type": "object", "required": ["order_id", "token_serial", "id_document_number"], "properties": {
        "order_id": {"type": "integer"}, "token_serial": {"type": "string"},
        "id_document_type": {"type": "string", "enum": ["id_card", "passport"], "default": "id_card"},
        "id_document_number": {"type": "string", "description": "the register number on the ID document"},
        **pin}}
    resume = {"type": "object", "properties": {"token_serial": {"type": "string"}, **pin}}
    return {
        "/handovers": {"post": op("Hand over a token at the counter (DESIGN §3.3 steps 1–8)",
                                  [(201, "Completed"), (202, "Stopped; see paused, resume later"), *common],
                                  body=start)},
        "/handovers/{id}": {"get": op("Where a handover stands", [(200, "OK"), *common[1:4]], params=[hid])},
        "/handovers/{id}/resume": {"post": op("Resume from the last committed step",
                                              [(200, "Completed"), (202, "Stopped again"), *common],
                                              body=resume, params=[hid])},
        "/handovers/{id}/cancel": {"post": op("Cancel before the CA was asked; the token is wiped",
                                              [(200, "Cancelled"), *common],
                                              body={"type": "object", "properties": {"reason": {"type": "string"}}},
                                              params=[hid])},
        "/handovers/{id}/token-failed": {"post": op(
            "The token died mid-handover: record it damaged (a certificate issued for it is revoked); "
            "the handover ends abandoned and the order is ready for another token",
            [(200, "Abandoned"), *common], body={"type": "object", "required": ["reason"],
                                                 "properties": {"reason": {"type": "string"}}}, params=[hid])},
        "/handovers/{id}/receipt.pdf": {"get": {"summary": "The handover receipt", "tags": ["handover"],
                                                "parameters": [hid], "responses": {
                                                    "200": {"description": "PDF", "content": {
                                                        "application/pdf": {"schema": {"type": "string",
                                                                                       "format": "binary"}}}},
                                                    "409": {"description": "Not completed"}}}},
    }
