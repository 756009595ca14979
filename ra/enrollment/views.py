"""Onboarding pages: parse → policy → service → commit → respond."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from ra.auth import policy
from ra.db import commit
from ra.enrollment import queries, service
from ra.enrollment.forms import ActionForm, ActivateForm, ReasonForm, RegistrationForm, TemporaryAccessForm, UploadForm
from ra.enrollment.models import DocumentKind
from ra.enrollment.states import OrganisationStatus
from ra.errors import RAError, ValidationFailed
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.uploads import MAX_BYTES, send_upload
from ra.web import page_arg

bp = Blueprint("enrollment", __name__)


def _user():
    return current_user._get_current_object()


def _own(org) -> bool:
    return current_user.organisation_id == org.id


def _page(org):
    """The page an action returns to: a registrar's own dashboard, or the officer's view."""
    return show_dashboard() if _own(org) else show_organisation(org.id)


def _act(org, action, success_message):
    """Runs one service call as a unit of work; a typed error is flashed, nothing half-done."""
    try:
        action()
        commit()
    except RAError as exc:
        db.session.rollback()
        flash(exc.render(), "danger")
        db.session.refresh(org)
        return _page(org), exc.status
    flash(success_message, "success")
    target = url_for("enrollment.show_dashboard") if _own(org) else url_for("enrollment.show_organisation",
                                                                           org_id=org.id)
    return redirect(target, 303)


@bp.route("/register", methods=["GET", "POST"])
def register_organisation():
    form = RegistrationForm()
    errors: dict = {}
    status = 200
    if request.method == "POST":
        data = service.Registration(**{k: form[k].data or "" for k in (
            "name", "registry_number", "kind", "district", "address", "phone", "email_domains",
            "registrar_name", "registrar_position", "registrar_email", "registrar_phone")},
            password=form.password.data or None, locale=request.form.get("locale") or "mn")
        if form.validate_on_submit():
            try:
                service.register_publicly(db.session, data, ports=current_ports())
                commit()
            except ValidationFailed as exc:
                db.session.rollback()
                errors = exc.errors
                status = 422
            else:
                # The same answer whether or not the address already had an account:
                # the e-mail to it says which.
                flash(_l("Thank you. We have sent an e-mail to %(email)s: it says how to continue. "
                         "Log in with this e-mail and the password you chose.", email=data.registrar_email.strip()),
                      "success")
                return redirect(url_for("auth.login"), 303)
        elif form.csrf_token.errors:
            status = 400
        else:
            # Show every problem at once, the form's and the domain's, so the user
            # corrects the form in one go.
            errors, _ = service.validate_registration(db.session, data, tell_existing_account=False)
            status = 422
    return render_template("enrollment/register.html", form=form, errors=errors), status


@bp.route("/my-organisation")
@login_required
def show_dashboard():
    if current_user.organisation_id is None:
        return redirect(url_for("main.index"))
    org = queries.get_organisation(db.session, _user(), current_user.organisation_id)
    return render_template("enrollment/dashboard.html", org=org, steps=queries.missing_steps(org),
                           upload_form=UploadForm(), DocumentKind=DocumentKind, S=OrganisationStatus)


@bp.route("/organisations")
@login_required
def list_organisations():
    policy.require(current_user.role in policy.RU_READERS)
    status = request.args.get("status") or None
    try:
        status = OrganisationStatus(status) if status else None
    except ValueError:
        abort(400)
    page = page_arg()
    rows, total = queries.list_organisations(db.session, _user(), status=status, q=request.args.get("q", ""),
                                             page=page)
    return render_template("enrollment/list.html", rows=rows, total=total, page=page, status=status,
                           statuses=list(OrganisationStatus))


@bp.route("/organisations/review")
@login_required
def review_queue():
    policy.require(policy.can_review_organisation(_user()))
    return render_template("enrollment/review.html", rows=queries.review_queue(db.session, _user()),
                           DocumentKind=DocumentKind)


@bp.route("/organisations/<int:org_id>")
@login_required
def show_organisation(org_id):
    org = queries.get_organisation(db.session, _user(), org_id)
    return render_template(
        "enrollment/organisation.html", org=org, DocumentKind=DocumentKind, S=OrganisationStatus,
        can_review=policy.can_review_organisation(_user(), org),
        can_upload=policy.can_upload_organisation_document(_user(), org),
        upload_form=UploadForm(), reason_form=ReasonForm(), activate_form=ActivateForm(),
        temp_form=TemporaryAccessForm(obj=None, start=org.temp_access_from, end=org.temp_access_to),
        action_form=ActionForm(), steps=queries.missing_steps(org))


@bp.route("/organisations/<int:org_id>/documents/<kind>", methods=["POST"])
@login_required
def upload_document(org_id, kind):
    org = queries.get_organisation(db.session, _user(), org_id)
    try:
        kind = DocumentKind(kind)
    except ValueError:
        abort(404)
    form = UploadForm()
    if not form.validate_on_submit():
        flash(_l("Choose a file to upload."), "danger")
        return _page(org), 400
    f = form.file.data
    data = f.stream.read(MAX_BYTES + 1)
    return _act(org, lambda: service.upload_document(db.session, _user(), org, kind, f.filename or "", data,
                                                     ports=current_ports()),
                _l("The document was uploaded."))


@bp.route("/documents/<int:doc_id>")
@login_required
def download_document(doc_id):
    doc = queries.get_document(db.session, _user(), doc_id)
    policy.require(policy.can_download_organisation_document(_user(), doc.organisation))
    return send_upload(current_ports().files.path(doc.stored_name), mimetype=doc.content_type,
                       download_name=doc.original_name)


@bp.route("/organisations/<int:org_id>/contract.pdf")
@login_required
def download_contract(org_id):
    org = queries.get_organisation(db.session, _user(), org_id)
    policy.require(policy.can_download_organisation_document(_user(), org))
    if org.contract is None:
        abort(404)
    return send_file(current_ports().files.path(org.contract.stored_name), mimetype="application/pdf",
                     as_attachment=True, download_name=f"contract-{org.registry_number}.pdf")


@bp.route("/organisations/<int:org_id>/approve", methods=["POST"])
@login_required
def approve_organisation(org_id):
    org = _reviewable(org_id)
    ActionForm().validate_on_submit()
    return _act(org, lambda: service.approve_organisation(db.session, _user(), org, ports=current_ports()),
                _l("Approved. The contract was generated and e-mailed to the registration officer."))


@bp.route("/organisations/<int:org_id>/reject", methods=["POST"])
@login_required
def reject_organisation(org_id):
    return _decide_with_reason(org_id, service.reject_organisation, _l("The request was rejected."))


@bp.route("/organisations/<int:org_id>/activate", methods=["POST"])
@login_required
def activate_organisation(org_id):
    org = _reviewable(org_id)
    form = ActivateForm()
    form.validate_on_submit()
    return _act(org, lambda: service.activate_organisation(db.session, _user(), org,
                                                           contract_date=form.contract_date.data,
                                                           ports=current_ports()),
                _l("The organisation is active."))


@bp.route("/organisations/<int:org_id>/suspend", methods=["POST"])
@login_required
def suspend_organisation(org_id):
    return _decide_with_reason(org_id, service.suspend_organisation, _l("The organisation is suspended."))


@bp.route("/organisations/<int:org_id>/temporary-access", methods=["POST"])
@login_required
def set_temporary_access(org_id):
    org = _reviewable(org_id)
    form = TemporaryAccessForm()
    if not form.validate_on_submit():
        flash(_l("Give valid dates."), "danger")
        return show_organisation(org.id), 400
    return _act(org, lambda: service.set_temporary_access(db.session, _user(), org, form.start.data, form.end.data),
                _l("Temporary access saved."))


def _reviewable(org_id: int):
    """The organisation, if this officer may decide on it (404 for another
    organisation's registrar, 403 for a role that may not review)."""
    org = queries.get_organisation(db.session, _user(), org_id)
    policy.require(policy.can_review_organisation(_user(), org))
    return org


def _decide_with_reason(org_id: int, decide, done_message):
    """A decision that takes the officer's stated reason (reject, suspend)."""
    org = _reviewable(org_id)
    form = ReasonForm()
    form.validate_on_submit()
    return _act(org, lambda: decide(db.session, _user(), org, form.reason.data or ""), done_message)
