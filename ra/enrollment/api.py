"""Onboarding in the JSON API, on the same services and policies as the pages."""
from __future__ import annotations

from flask import jsonify, send_file, url_for

from ra.api import actor, json_body, token_required
from ra.auth import policy
from ra.db import commit
from ra.enrollment import queries, service
from ra.enrollment.models import DocumentKind
from ra.errors import NotFound, UserError
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.uploads import posted_document


def organisation_json(org) -> dict:
    return {
        "id": org.id,
        "name": org.name,
        "registry_number": org.registry_number,
        "kind": org.kind.value,
        "district": org.district.value,
        "address": org.address,
        "phone": org.phone,
        "email_domains": org.domains,
        "status": org.status.value,
        "registrar": {"name": org.registrar_name, "position": org.registrar_position,
                      "email": org.registrar_email, "phone": org.registrar_phone},
        "contract_number": org.contract_number,
        "contract_date": org.contract_date.isoformat() if org.contract_date else None,
        "decision_reason": org.decision_reason,
        "temporary_access": ({"from": org.temp_access_from.isoformat(), "to": org.temp_access_to.isoformat()}
                             if org.temp_access_from and org.temp_access_to else None),
        "documents": [{"id": d.id, "kind": d.kind.value, "name": d.original_name, "size": d.size,
                       "sha256": d.sha256, "uploaded_at": d.uploaded_at.isoformat(),
                       "checked": d.checked_at is not None} for d in org.documents],
        "contract_url": (url_for("api.get_contract", org_id=org.id) if org.contract else None),
    }


REGISTERED = _l("Thank you. We have sent an e-mail to the registration officer's address: it says how to "
                "continue.")


def register_api(bp):
    @bp.route("/organisations", methods=["POST"])
    def create_organisation():
        body = json_body()
        fields = {k: str(body.get(k) or "") for k in service.REQUIRED + ("phone",)}
        password = body.get("password")
        data = service.Registration(**fields, password=password if isinstance(password, str) and password else None,
                                    locale=str(body.get("locale") or "mn"))
        service.register_publicly(db.session, data, ports=current_ports())
        commit()
        # The same answer whether or not the address already had an account.
        return jsonify({"message": str(REGISTERED)}), 202

    @bp.route("/organisations/<int:org_id>")
    @token_required
    def get_organisation(org_id):
        return jsonify(organisation_json(queries.get_organisation(db.session, actor(), org_id)))

    @bp.route("/organisations/<int:org_id>/documents", methods=["POST"])
    @token_required
    def upload_document(org_id):
        org = queries.get_organisation(db.session, actor(), org_id)
        kind, name, data = posted_document(DocumentKind)
        doc = service.upload_document(db.session, actor(), org, kind, name, data, ports=current_ports())
        commit()
        return jsonify({"id": doc.id, "kind": doc.kind.value, "name": doc.original_name, "size": doc.size,
                        "sha256": doc.sha256, "organisation": organisation_json(org)}), 201

    def _decision(org_id, fn):
        org = queries.get_organisation(db.session, actor(), org_id)
        policy.require(policy.can_review_organisation(actor(), org))
        fn(org)
        commit()
        return jsonify(organisation_json(org))

    @bp.route("/organisations/<int:org_id>/approve", methods=["POST"])
    @token_required
    def approve_organisation(org_id):
        return _decision(org_id, lambda org: service.approve_organisation(db.session, actor(), org,
                                                                          ports=current_ports()))

    @bp.route("/organisations/<int:org_id>/reject", methods=["POST"])
    @token_required
    def reject_organisation(org_id):
        reason = str(json_body().get("reason") or "")
        return _decision(org_id, lambda org: service.reject_organisation(db.session, actor(), org, reason))

    @bp.route("/organisations/<int:org_id>/activate", methods=["POST"])
    @token_required
    def activate_organisation(org_id):
        body = json_body(optional=True)
        contract_date = None
        if body.get("contract_date"):
            from datetime import date
            try:
                contract_date = date.fromisoformat(str(body["contract_date"]))
            except ValueError:
                raise UserError(_l("Dates are written YYYY-MM-DD."), field="contract_date") from None
        return _decision(org_id, lambda org: service.activate_organisation(
            db.session, actor(), org, contract_date=contract_date, ports=current_ports()))

    @bp.route("/organisations/<int:org_id>/suspend", methods=["POST"])
    @token_required
    def suspend_organisation(org_id):
        reason = str(json_body().get("reason") or "")
        return _decision(org_id, lambda org: service.suspend_organisation(db.session, actor(), org, reason))

    @bp.route("/organisations/<int:org_id>/contract.pdf")
    @token_required
    def get_contract(org_id):
        org = queries.get_organisation(db.session, actor(), org_id)
        policy.require(policy.can_download_organisation_document(actor(), org))
        if org.contract is None:
            raise NotFound(_l("No contract has been generated yet."))
        return send_file(current_ports().files.path(org.contract.stored_name), mimetype="application/pdf",
                         as_attachment=True, download_name=f"contract-{org.registry_number}.pdf")
