"""Holders, orders, bulk import and appointments in the JSON API (/api/v1), on the
same services and policies as the pages."""
from __future__ import annotations

from datetime import date

from flask import jsonify, request

from ra.api import actor, json_body, token_required
from ra.db import commit
from ra.enrollment import appointments_service as appts
from ra.enrollment import bulk_import
from ra.enrollment import holder_queries as q
from ra.enrollment import holders_service as hs
from ra.enrollment import orders_service as orders
from ra.enrollment import queries as org_queries
from ra.enrollment.holder_models import HolderDocumentKind
from ra.enrollment.order_states import OrderStatus
from ra.errors import UserError
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.uploads import posted_document, posted_file
from ra.web import int_arg, page_arg


def _iso(value):
    return value.isoformat() if value else None


def holder_json(h) -> dict:
    missing, unchecked = hs.missing_documents(h)
    return {
        "id": h.id, "organisation_id": h.organisation_id, "status": h.status.value,
        "surname": h.surname, "given_name": h.given_name, "clan_name": h.clan_name,
        "latin_surname": h.latin_surname, "latin_given_name": h.latin_given_name,
        "register_number": h.register_number, "birth_date": _iso(h.birth_date), "position": h.position,
        "department": h.department, "email": h.email, "phone": h.phone, "locale": h.locale,
        "listed_in": h.listed_in,
        "documents": [{"id": d.id, "kind": d.kind.value, "name": d.original_name, "size": d.size,
                       "sha256": d.sha256, "checked": d.checked_at is not None} for d in h.documents],
        "documents_missing": [k.value for k in missing], "documents_unchecked": [k.value for k in unchecked],
    }


def order_json(o) -> dict:
    appt = o.appointment
    return {
        "id": o.id, "organisation_id": o.organisation_id, "holder_id": o.holder_id, "profile": o.profile,
        "key_type": o.key_type, "kind": o.kind.value, "status": o.status.value, "reason": o.reason,
        "subject": o.subject, "replaces_order_id": o.replaces_order_id, "created_at": _iso(o.created_at),
        "submitted_at": _iso(o.submitted_at), "decided_at": _iso(o.decided_at),
        "certificate_serial": o.certificate_serial, "certificate_not_after": _iso(o.certificate_not_after),
        "appointment": appointment_json(appt) if appt else None,
    }


def appointment_json(a) -> dict:
    return {"id": a.id, "order_id": a.order_id, "status": a.status.value, "counter_id": a.slot.counter_id,
            "counter": a.slot.counter.name, "starts_at": _iso(a.slot.starts_at), "ends_at": _iso(a.slot.ends_at)}


def register_api(bp):
    @bp.route("/organisations/<int:org_id>/holders", methods=["GET"])
    @token_required
    def list_holders(org_id):
        org = org_queries.get_organisation(db.session, actor(), org_id)
        rows = q.list_holders(db.session, actor(), org, register_number=request.args.get("register_number", ""))
        return jsonify({"holders": [holder_json(h) for h in rows]})

    @bp.route("/organisations/<int:org_id>/holders", methods=["POST"])
    @token_required
    def create_holder(org_id):
        from ra.enrollment.holder_views import issue_pending_annex

        org = org_queries.get_organisation(db.session, actor(), org_id)
        holder = hs.create_holder(db.session, actor(), org, hs.HolderData.from_mapping(json_body()),
                                  ports=current_ports())
        commit()
        issue_pending_annex(org, actor())
        return jsonify(holder_json(holder)), 201

    @bp.route("/holders/<int:holder_id>/documents", methods=["POST"])
    @token_required
    def upload_holder_document(holder_id):
        holder = q.get_holder(db.session, actor(), holder_id)
        kind, name, data = posted_document(HolderDocumentKind)
        doc = hs.upload_holder_document(db.session, actor(), holder, kind, name, data, ports=current_ports())
        commit()
        return jsonify({"id": doc.id, "kind": doc.kind.value, "sha256": doc.sha256, "holder": holder_json(holder)}), 201

    @bp.route("/orders", methods=["POST"])
    @token_required
    def create_order():
        body = json_body()
        holder = q.get_holder(db.session, actor(), body.get("holder_id"))
        order = orders.create_order(db.session, actor(), holder, profile=str(body.get("profile") or ""),
                                    key_type=body.get("key_type") or None, submit=body.get("submit", True) is not False,
                                    ports=current_ports())
        commit()
        return jsonify(order_json(order)), 201

    @bp.route("/orders", methods=["GET"])
    @token_required
    def list_orders():
        status = request.args.get("status") or None
        try:
            status = OrderStatus(status) if status else None
        except ValueError:
            raise UserError(_l("Unknown order status."), field="status") from None
        page = page_arg()
        rows, total = q.list_orders(db.session, actor(), status=status, page=page, per_page=100)
        return jsonify({"orders": [order_json(o) for o in rows], "total": total, "page": page})

    @bp.route("/orders/<int:order_id>", methods=["GET"])
    @token_required
    def get_order(order_id):
        return jsonify(order_json(q.get_order(db.session, actor(), order_id)))

    @bp.route("/orders/import", methods=["POST"])
    @token_required
    def import_orders():
        from ra.enrollment.holder_views import issue_pending_annex

        name, data = posted_file()
        org = org_queries.get_organisation(db.session, actor(), int_arg("organisation_id")
                                           or actor().organisation_id or 0)
        mode = request.args.get("commit", "none")
        report = bulk_import.run_import(db.session, actor(), org, name, data, commit=mode,
                                        ports=current_ports())
        commit()
        if report.imported:
            issue_pending_annex(org, actor())
        return jsonify({**report.to_json(), "committed": bool(report.imported)}), 201 if report.imported else 200

    def _decision(order_id, fn):
        order = q.get_order(db.session, actor(), order_id)
        fn(order)
        commit()
        return jsonify(order_json(order))

    @bp.route("/orders/<int:order_id>/approve", methods=["POST"])
    @token_required
    def approve_order(order_id):
        body = json_body(optional=True)
        return _decision(order_id, lambda o: orders.approve_order(
            db.session, actor(), o, checked_document_ids=body.get("checked_document_ids") or [],
            ports=current_ports()))

    @bp.route("/orders/<int:order_id>/reject", methods=["POST"])
    @token_required
    def reject_order(order_id):
        reason = str(json_body().get("reason") or "")
        return _decision(order_id, lambda o: orders.reject_order(db.session, actor(), o, reason,
                                                                 ports=current_ports()))

    @bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
    @token_required
    def cancel_order(order_id):
        reason = str(json_body(optional=True).get("reason") or "")
        return _decision(order_id, lambda o: orders.cancel_order(db.session, actor(), o, reason,
                                                                 ports=current_ports()))

    @bp.route("/counters/<int:counter_id>/slots", methods=["GET"])
    @token_required
    def list_slots(counter_id):
        counter = q.get_counter(db.session, counter_id)
        try:
            day = date.fromisoformat(request.args.get("date") or current_ports().clock.today().isoformat())
        except ValueError:
            raise UserError(_l("Dates are written YYYY-MM-DD."), field="date") from None
        slots = appts.available_slots(db.session, counter, day, now=current_ports().clock.now())
        return jsonify({"counter_id": counter.id, "date": day.isoformat(), "slots": [
            {"starts_at": _iso(s.starts_at), "ends_at": _iso(s.ends_at), "capacity": s.capacity,
             "remaining": s.remaining} for s in slots]})

    @bp.route("/appointments", methods=["POST"])
    @token_required
    def book_appointment():
        body = json_body()
        ids = body.get("order_ids") or ([body["order_id"]] if body.get("order_id") else [])
        if not isinstance(ids, list):
            raise UserError(_l("order_ids is a list of order ids."), field="order_ids")
        counter = q.get_counter(db.session, body.get("counter_id"))
        made = appts.book_appointments(db.session, actor(), q.orders_by_id(db.session, actor(), ids), counter,
                                       appts.parse_starts_at(body.get("starts_at")), ports=current_ports())
        commit()
        return jsonify({"appointments": [appointment_json(a) for a in made]}), 201

    @bp.route("/appointments/<int:appointment_id>/cancel", methods=["POST"])
    @token_required
    def cancel_appointment(appointment_id):
        appt = q.get_appointment(db.session, actor(), appointment_id)
        appts.cancel_appointment(db.session, actor(), appt, str(json_body(optional=True).get("reason") or ""),
                                 ports=current_ports())
        commit()
        return jsonify(appointment_json(appt))


def openapi_paths() -> dict:
    """The OpenAPI 3.1 entries of these routes, for ``ra.api.openapi.spec`` to merge."""
    def op(summary, *codes, body=None, params=()):
        out = {"summary": summary, "tags": ["orders"], "parameters": [
            {"name": p, "in": "path" if p in ("id",) else "query", "required": p == "id",
             "schema": {"type": "integer" if p in ("id", "organisation_id", "page") else "string"}} for p in params],
            "responses": {str(c): {"description": d} for c, d in codes}}
        if body:
            out["requestBody"] = {"required": True, "content": body}
        return out

    js = {"application/json": {"schema": {"type": "object"}}}
    multipart = {"multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}, "kind": {"type": "string"}}}}}
    ok, made, bad = (200, "OK"), (201, "Created"), (422, "Field errors")
    denied, missing, state = (403, "Not allowed"), (404, "Not found (or not yours)"), (409, "Not possible now")
    return {
        "/organisations/{id}/holders": {
            "get": op("The organisation's active holders; register_number (УБ85031214 or the certificate's "
                      "PNOMN-UB85031214) narrows them to one person", ok, missing, params=("id", "register_number")),
            "post": op("Add a holder", made, bad, denied, missing, state, body=js, params=("id",))},
        "/holders/{id}/documents": {"post": op(
            "Upload a holder's document (application_form, id_card, appointment_order, subscriber_agreement)",
            made, (400, "Bad file"), denied, missing, body=multipart, params=("id",))},
        "/orders": {
            "post": op("File an order: holder_id, profile (signing | authentication | encryption), optional key_type",
                       made, bad, denied, missing, state, body=js),
            "get": op("Orders, newest first", ok, params=("status", "page"))},
        "/orders/{id}": {"get": op("One order", ok, missing, params=("id",))},
        "/orders/import": {"post": op(
            "Bulk import from CSV or XLSX; commit=none reports only, commit=valid imports every valid row",
            ok, made, bad, denied, missing, state, body=multipart, params=("commit", "organisation_id"))},
        "/orders/{id}/approve": {"post": op("Approve (optional checked_document_ids)", ok, denied, missing, state,
                                            params=("id",))},
        "/orders/{id}/reject": {"post": op("Reject with a reason", ok, (400, "No reason"), denied, missing, state,
                                           body=js, params=("id",))},
        "/orders/{id}/cancel": {"post": op("Cancel", ok, denied, missing, state, params=("id",))},
        "/counters/{id}/slots": {"get": op("Free slots of a counter on a date", ok, missing, params=("id", "date"))},
        "/appointments": {"post": op("Book: order_ids, counter_id, starts_at", made, bad, denied, missing, state,
                                     body=js)},
        "/appointments/{id}/cancel": {"post": op("Cancel an appointment", ok, denied, missing, state,
                                                 params=("id",))},
    }
