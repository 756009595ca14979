"""Revocation in the JSON API (/api/v1), on the same services and policies as the
pages (DESIGN §3.4).

- ``POST /revocations`` (bearer): ``certificate_serial``, ``reason`` (RFC 5280
  §5.3.1 name), optional ``invalidity_date`` (ISO 8601) and ``note``.
- ``GET /revocations/{id}``; ``POST /revocations/{id}/approve|reject`` (bearer).
- ``POST /lost-token-reports`` (public): ``email`` and ``token_serial`` → 202 and a
  code to the registered address if they match; the same answer if not.
- ``POST /lost-token-reports/{id}/confirm`` (public): ``code``, optional ``lost``
  (true: lost for certain, revoke now; default: suspend).
- ``GET /certificates/{serial}`` (bearer): the certificate and its status;
  ``POST /certificates/{serial}/release`` (bearer, RU officer at the counter with
  the token in the reader): removeFromCRL.
"""
from __future__ import annotations

from flask import jsonify

from ra.api import actor, json_body, token_required
from ra.errors import ValidationFailed
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.revocation import jobs, lost_reports, public_views
from ra.revocation import queries as q
from ra.revocation import service


def _iso(value):
    return value.isoformat() if value else None


def request_json(r) -> dict:
    clock = q.clock_of(r, current_ports().clock.now())
    return {
        "id": r.id, "number": r.number, "certificate_serial": r.serial, "reason": r.reason.value,
        "channel": r.channel.value, "status": r.status.value, "awaiting_ca": r.status.value == "approved",
        "invalidity_date": _iso(r.invalidity_date), "requested_by": r.requested_by,
        "approvals": [{"by": a.approver.email, "decision": a.decision.value, "at": _iso(a.at)} for a in r.approvals],
        "received_at": _iso(r.received_at), "approved_at": _iso(r.approved_at),
        "completed_at": _iso(r.completed_at), "published_at": _iso(r.published_at), "crl_number": r.crl_number,
        "attempts": r.attempts, "last_error": r.last_error, "outcome": r.outcome or None,
        "hours_since_receipt": clock.hours, "overdue": clock.overdue, "breached": clock.breached,
    }


def certificate_json(c) -> dict:
    return {"serial": c.serial, "status": c.status.value, "subject": c.subject, "issuer": c.issuer,
            "ca": c.ca_name, "not_before": _iso(c.not_before), "not_after": _iso(c.not_after),
            "holder_id": c.holder_id, "revoked_at": _iso(c.revoked_at), "revocation_reason": c.revocation_reason,
            "invalidity_date": _iso(c.invalidity_date),
            "open_requests": [r.number for r in q.open_requests_for(db.session, c.id)]}


def _strings(body: dict, *names: str) -> list[str]:
    values = [body.get(n) for n in names]
    missing = {n: _l("This field is required.") for n, v in zip(names, values)
               if not isinstance(v, str) or not v.strip()}
    if missing:
        raise ValidationFailed(missing)
    return [v.strip() for v in values]


def register_api(bp):
    @bp.route("/revocations", methods=["POST"])
    @token_required
    def create_revocation():
        body = json_body()
        serial, reason = _strings(body, "certificate_serial", "reason")
        cert = q.certificate_for(db.session, actor(), serial)
        ports = current_ports()
        made = jobs.run(db.session, actor(), lambda: service.request_revocation(
            db.session, actor(), cert, reason, invalidity_date=body.get("invalidity_date"),
            note=str(body.get("note") or ""), ports=ports), ports=ports)
        return jsonify({**request_json(made[0]), "also": [request_json(r) for r in made[1:]]}), 201

    @bp.route("/revocations/<int:request_id>", methods=["GET"])
    @token_required
    def get_revocation(request_id):
        return jsonify(request_json(q.get_request(db.session, actor(), request_id)))

    @bp.route("/revocations/<int:request_id>/approve", methods=["POST"])
    @token_required
    def approve_revocation(request_id):
        req = q.get_request(db.session, actor(), request_id)
        ports = current_ports()
        note = (json_body(optional=True).get("note") or "")
        jobs.run(db.session, actor(), lambda: service.approve(db.session, actor(), req, note=str(note),
                                                                ports=ports), ports=ports)
        return jsonify(request_json(q.get_request(db.session, actor(), request_id)))

    @bp.route("/revocations/<int:request_id>/reject", methods=["POST"])
    @token_required
    def reject_revocation(request_id):
        req = q.get_request(db.session, actor(), request_id)
        (reason,) = _strings(json_body(), "reason")
        ports = current_ports()
        jobs.run(db.session, actor(), lambda: service.reject(db.session, actor(), req, reason=reason, ports=ports),
                 ports=ports)
        return jsonify(request_json(q.get_request(db.session, actor(), request_id)))

    @bp.route("/lost-token-reports", methods=["POST"])
    def create_lost_token_report():
        email, serial = _strings(json_body(), "email", "token_serial")
        asked = public_views.report(email, serial)
        if asked.throttled:
            return public_views.throttled_response(asked)
        resp = jsonify({"id": asked.receipt, "message": str(public_views.sent_if_matched()),
                        "valid_minutes": lost_reports.CODE_MINUTES})
        resp.status_code = 202
        return public_views.send_after_response(resp, asked)

    @bp.route("/lost-token-reports/<reference>/confirm", methods=["POST"])
    def confirm_lost_token_report(reference):
        body = json_body()
        (code,) = _strings(body, "code")
        done = public_views.confirm(reference, code, body.get("lost") is True)
        token = done.report.token
        return jsonify({"id": done.report.reference, "status": done.report.status.value,
                        "token_serial": token.serial, "token_status": token.status.value,
                        "lost": done.report.certainly_lost, "holds_possible": done.holds_possible,
                        "requests": [request_json(db.session.get(type(r), r.id)) for r in done.requests]})

    @bp.route("/certificates/<serial>", methods=["GET"])
    @token_required
    def get_certificate(serial):
        return jsonify(certificate_json(q.certificate_for(db.session, actor(), serial)))

    @bp.route("/certificates/<serial>/release", methods=["POST"])
    @token_required
    def release_certificate(serial):
        cert = q.certificate_for(db.session, actor(), serial)
        ports = current_ports()
        made = jobs.run(db.session, actor(), lambda: service.release_at_counter(
            db.session, actor(), cert, ports=ports, note=str(json_body(optional=True).get("note") or "")), ports=ports)
        return jsonify({**certificate_json(q.certificate_for(db.session, actor(), serial)),
                        "request": request_json(made)})


def openapi_paths() -> dict:
    """The OpenAPI 3.1 entries of these routes, for ``ra.api.openapi.spec`` to merge."""
    def op(summary, *codes, body=None, params=(), public=False, tag="revocation"):
        out = {"summary": summary, "tags": [tag], "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "integer" if p == "id" else "string"}}
            for p in params], "responses": {str(c): {"description": d} for c, d in codes}}
        if body:
            out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        if public:
            out["security"] = []
        return out

    def obj(required, **props):
        return {"type": "object", "required": list(required), "properties": props}

    s, b = {"type": "string"}, {"type": "boolean"}
    reasons = {"type": "string", "enum": ["keyCompromise", "affiliationChanged", "superseded",
                                          "cessationOfOperation", "certificateHold"]}
    bad, denied, missing = (400, "Bad input (e.g. a malformed serial)"), (403, "Not allowed (e.g. own request)"), (
        404, "Not found (or not yours)")
    state, fields = (409, "Not possible in the current state (e.g. revoked is final)"), (422, "Field errors")
    return {
        "/revocations": {"post": op(
            "Request a revocation or a hold (registrar: own holders; RU officer: any). A hold and a key compromise "
            "are put on hold at once; a revocation waits for approval under dual control",
            (201, "Recorded (status tells whether it is done, awaiting approval or awaiting the CA)"), bad,
            (401, "No or bad bearer token"), denied, missing, state, fields,
            body=obj(["certificate_serial", "reason"], certificate_serial=s, reason=reasons,
                     invalidity_date={"type": "string", "format": "date-time"}, note=s))},
        "/revocations/{id}": {"get": op("One revocation request, with its 24-hour clock", (200, "OK"), missing,
                                        params=("id",))},
        "/revocations/{id}/approve": {"post": op(
            "Approve (RU officer or manager, not the requester or confirmer)", (200, "OK"), denied, missing, state,
            body=obj([], note=s), params=("id",))},
        "/revocations/{id}/reject": {"post": op(
            "Reject with a reason", (200, "OK"), denied, missing, state, fields, body=obj(["reason"], reason=s),
            params=("id",))},
        "/lost-token-reports": {"post": op(
            "The holder reports a lost token: the same 202 whether or not e-mail and serial matched; a code goes "
            "to the registered e-mail", (202, "Accepted"), fields, (429, "Too many reports from this address "
                                                                     "(the report is still kept)"),
            body=obj(["email", "token_serial"], email=s, token_serial=s), public=True)},
        "/lost-token-reports/{id}/confirm": {"post": op(
            "Confirm with the code: the token is suspended and its certificates put on hold; with lost=true "
            "they are revoked (keyCompromise)", (200, "Done"), (403, "Code not valid"),
            (409, "Code used, expired or locked"), fields, (429, "Too many codes tried"),
            body=obj(["code"], code=s, lost=b), params=("id",), public=True)},
        "/certificates/{serial}": {"get": op("A certificate and its status (valid, suspended, revoked, expired)",
                                             (200, "OK"), bad, missing, params=("serial",))},
        "/certificates/{serial}/release": {"post": op(
            "Release a hold (removeFromCRL) at the counter, the token in the reader", (200, "Released"), bad,
            denied, missing, state, params=("serial",))},
    }
