"""Revocation pages for the registrar and the RU officer: parse → policy → service
→ commit → respond (the CA call follows the commit, ``ra.revocation.jobs``).

- ``/revocations``: the officer's queue (open requests with the 24-hour clock,
  overdue after 12 hours, breached after 24) and recent ones; a registrar sees
  their organisation's.
- ``/revocations/new``: a request (registrar: own holders; officer: anyone).
- ``/revocations/<id>``: the request, its approvals, and the actions the reader
  may take; ``…/confirmation.pdf``: the revocation confirmation.
- ``/revocations/release``: release of a hold at the counter, token in the reader.
"""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ra.auth import policy as auth_policy
from ra.ca.states import CertificateStatus
from ra.errors import NotFound, RAError
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.revocation import document, jobs
from ra.revocation import policy as P
from ra.revocation import queries as q
from ra.revocation import service
from ra.revocation.forms import DecisionForm, KeepOnHoldForm, RejectForm, ReleaseForm, RequestForm
from ra.revocation.states import OPEN, RevocationStatus
from ra.web import page_arg

bp = Blueprint("revocation", __name__)
CSRF_EXPIRED = _l("The form has expired or was not sent from this site. Reload the page and try again.")


def _user():
    return current_user._get_current_object()


def _run(step):
    ports = current_ports()
    return jobs.run(db.session, _user(), step, ports=ports)


def _flash_outcome(requests) -> None:
    for r in requests:
        if r.status == RevocationStatus.COMPLETED:
            flash(_l("%(number)s: done (%(reason)s), certificate %(serial)s.", number=r.number,
                     reason=r.reason.label, serial=r.serial), "success")
        elif r.status == RevocationStatus.APPROVED:
            flash(_l("%(number)s is approved but the CA could not be reached. It is kept and will be sent again "
                     "automatically.", number=r.number), "warning")
        else:
            flash(_l("%(number)s: %(status)s.", number=r.number, status=r.status.label), "success")


@bp.route("/revocations")
@login_required
def list_revocations():
    user = _user()
    auth_policy.require(P.can_read_revocations(user))
    try:
        status = RevocationStatus(request.args["status"]) if request.args.get("status") else None
    except ValueError:
        status = None
    page = page_arg()
    ports = current_ports()
    now = ports.clock.now()
    open_rows, _ = q.list_requests(db.session, user, open_only=True, per_page=500)
    rows, total = q.list_requests(db.session, user, status=status, page=page)
    reports = q.recent_reports(db.session, user, since=now - q.DEADLINE)
    return render_template("revocation/list.html", open_rows=open_rows, rows=rows, total=total, page=page,
                           per_page=q.PER_PAGE, status=status, statuses=list(RevocationStatus), now=now,
                           clock_of=q.clock_of, reports=reports, is_staff=P.is_staff(user),
                           dual_control=P.settings_of(ports).dual_control)


@bp.route("/revocations/new", methods=["GET", "POST"])
@login_required
def new_revocation():
    user = _user()
    auth_policy.require(P.can_request_revocation(user, user.organisation_id) or P.is_staff(user))
    form = RequestForm(data={"serial": request.args.get("serial", "")} if request.method == "GET" else None)
    errors, status = {}, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("revocation/new.html", form=form, errors={}), (400 if form.csrf_token.errors
                                                                                   else 422)
        try:
            cert = q.certificate_for(db.session, user, form.serial.data)
            made = _run(lambda: service.request_revocation(
                db.session, user, cert, form.reason.data, invalidity_date=form.invalidity_date.data or None,
                note=form.note.data or "", ports=current_ports()))
        except NotFound:
            db.session.rollback()
            errors, status = {"serial": _l("No certificate with this serial number among yours.")}, 404
        except RAError as exc:
            db.session.rollback()
            errors, status = {exc.field or "serial": exc.render()}, exc.status
        else:
            _flash_outcome(made)
            return redirect(url_for("revocation.show_revocation", request_id=made[0].id), 303)
    return render_template("revocation/new.html", form=form, errors=errors), status


@bp.route("/revocations/<int:request_id>")
@login_required
def show_revocation(request_id):
    user = _user()
    auth_policy.require(P.can_read_revocations(user))
    req = q.get_request(db.session, user, request_id)
    ports = current_ports()
    return render_template(
        "revocation/show.html", req=req, clock=q.clock_of(req, ports.clock.now()), OPEN=OPEN, S=RevocationStatus,
        can_decide=req.status == RevocationStatus.AWAITING_APPROVAL and P.can_decide(user, req),
        can_confirm=req.status == RevocationStatus.AWAITING_CONFIRMATION and P.can_confirm_lost(user, req),
        can_retry=req.status == RevocationStatus.APPROVED and P.can_retry(user),
        signoffs=service.signoffs(req), needed=P.settings_of(ports).signoffs_needed,
        decision_form=DecisionForm(), reject_form=RejectForm(), hold_form=KeepOnHoldForm())


def _decide(request_id, action, form_cls=DecisionForm):
    user = _user()
    req = q.get_request(db.session, user, request_id)
    form = form_cls()
    if not form.validate_on_submit():
        flash(CSRF_EXPIRED if form.csrf_token.errors else _l("This field is required."), "danger")
        return redirect(url_for("revocation.show_revocation", request_id=req.id), 303)
    try:
        made = _run(lambda: action(user, req, form))
    except RAError as exc:
        db.session.rollback()
        if exc.status == 403:
            raise
        flash(exc.render(), "danger")
    else:
        _flash_outcome(made if isinstance(made, list) else [made])
    return redirect(url_for("revocation.show_revocation", request_id=request_id), 303)


@bp.route("/revocations/<int:request_id>/approve", methods=["POST"])
@login_required
def approve_revocation(request_id):
    return _decide(request_id, lambda u, r, f: service.approve(db.session, u, r, note=f.note.data or "",
                                                                ports=current_ports()))


@bp.route("/revocations/<int:request_id>/reject", methods=["POST"])
@login_required
def reject_revocation(request_id):
    return _decide(request_id, lambda u, r, f: service.reject(db.session, u, r, reason=f.reason.data,
                                                               ports=current_ports()), RejectForm)


@bp.route("/revocations/<int:request_id>/confirm-lost", methods=["POST"])
@login_required
def confirm_lost(request_id):
    return _decide(request_id, lambda u, r, f: service.confirm_lost(db.session, u, r, note=f.note.data or "",
                                                                     ports=current_ports()))


@bp.route("/revocations/<int:request_id>/keep-on-hold", methods=["POST"])
@login_required
def keep_on_hold(request_id):
    return _decide(request_id, lambda u, r, f: service.keep_on_hold(db.session, u, r, note=f.note.data,
                                                                     ports=current_ports()), KeepOnHoldForm)


@bp.route("/revocations/<int:request_id>/retry", methods=["POST"])
@login_required
def retry_revocation(request_id):
    user = _user()
    auth_policy.require(P.can_retry(user))
    req = q.get_request(db.session, user, request_id)
    if not DecisionForm().validate_on_submit():
        flash(CSRF_EXPIRED, "danger")
    else:
        _flash_outcome([jobs.carry_out(db.session, user, req.id, ports=current_ports())])
    return redirect(url_for("revocation.show_revocation", request_id=request_id), 303)


@bp.route("/revocations/<int:request_id>/confirmation.pdf")
@login_required
def revocation_confirmation(request_id):
    user = _user()
    auth_policy.require(P.can_read_revocations(user))
    req = q.get_request(db.session, user, request_id)
    pdf = document.confirmation_pdf(req, ports=current_ports())
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="revocation-{req.id}.pdf"'
    return resp


@bp.route("/revocations/release", methods=["GET", "POST"])
@login_required
def release_at_counter():
    """The holder brought the token back: with it in the reader, the holds on its
    certificates are released (removeFromCRL)."""
    user = _user()
    auth_policy.require(P.can_release_at_counter(user))
    form = ReleaseForm()
    errors, status = {}, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("revocation/release.html", form=form, errors={}), (
                400 if form.csrf_token.errors else 422)
        try:
            made = _run(lambda: _release(user, form.serial.data, form.note.data or ""))
        except RAError as exc:
            db.session.rollback()
            errors, status = {"serial": exc.render()}, exc.status
        else:
            _flash_outcome(made)
            return redirect(url_for("revocation.list_revocations"), 303)
    return render_template("revocation/release.html", form=form, errors=errors), status


def _release(user, serial: str, note: str) -> list:
    """A token serial (the token in the reader) releases all its held
    certificates; a certificate serial releases that one."""
    ports = current_ports()
    token = q.token_by_serial(db.session, serial)
    if token is not None:
        held = q.certificates_on_token(db.session, token.id, [CertificateStatus.SUSPENDED])
        if not held:
            from ra.revocation.errors import NotOnHold
            raise NotOnHold()
        service.check_token_present(db.session, held[0], ports=ports)
        return [service.release_at_counter(db.session, user, c, ports=ports, note=note, token_checked=True)
                for c in held]
    cert = q.certificate_for(db.session, user, serial)
    return [service.release_at_counter(db.session, user, cert, ports=ports, note=note)]

