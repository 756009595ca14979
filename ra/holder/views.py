"""The holder's own pages under ``/me`` (DESIGN §2 ``holder``): certificates,
tokens, orders and appointments, and the two step-up actions. Parse → scope
(``ra.holder.queries``: 404 outside the person's own) → service → commit → answer."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import wraps

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ra.db import commit
from ra.errors import NotFound, RAError
from ra.extensions import db
from ra.holder import actions
from ra.holder import queries as q
from ra.holder import service, stepup
from ra.holder.forms import ActivationForm, BookForm, LinkRequestForm, StepUpForm
from ra.i18n import _l
from ra.ports import current_ports
from ra.revocation import jobs as revocation_jobs

bp = Blueprint("holder", __name__, template_folder="templates", static_folder="static",
               static_url_path="/me/static")

WARN_DAYS = (60, 30, 7)


def _me():
    return current_user._get_current_object()


def holder_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not q.is_holder(current_user):
            raise NotFound()
        return view(*args, **kwargs)
    return wrapped


def expiry_warning(cert, now) -> int | None:
    """The tightest of 60/30/7 days the certificate is within (None: no warning)."""
    if cert.status.value not in ("valid", "suspended") or cert.not_after <= now:
        return None
    days = days_left(cert, now)
    return min((w for w in WARN_DAYS if days < w), default=None)


def days_left(cert, now) -> int:
    """Whole days left, a part day counted as a day: 20 days and an hour is 21."""
    return max(0, -(-(cert.not_after - now) // timedelta(days=1)))


# -- account activation (no login) ---------------------------------------------------------------

@bp.route("/me/activate", methods=["GET", "POST"])
def request_activation():
    form = LinkRequestForm()
    if form.validate_on_submit():
        ports = current_ports()
        mail = service.request_link(db.session, email=form.email.data, client=request.remote_addr or "-",
                                    ports=ports)
        commit()
        resp = redirect(url_for("holder.request_activation", sent=1), 303)
        if mail is not None:
            resp.call_on_close(lambda: service.deliver(mail, ports=ports))  # its timing tells nothing
        return resp
    return render_template("holder/activate_request.html", form=form, sent=request.args.get("sent") == "1")


@bp.route("/me/activate/<secret>", methods=["GET", "POST"])
def activate(secret):
    ports = current_ports()
    form = ActivationForm()
    try:
        service.valid_link(db.session, secret, ports=ports)
    except RAError as exc:
        return render_template("holder/activate.html", form=form, error=exc.render(), link_ok=False), exc.status
    if form.validate_on_submit():
        try:
            service.activate(db.session, secret=secret, password=form.password.data, ports=ports)
        except RAError as exc:
            db.session.rollback()
            return render_template("holder/activate.html", form=form, error=exc.render(), link_ok=True), exc.status
        commit()
        flash(_l("Your password is set. Log in with your work e-mail."), "success")
        return redirect(url_for("auth.login"), 303)
    return render_template("holder/activate.html", form=form, link_ok=True), 422 if request.method == "POST" else 200


@bp.route("/holders/<int:holder_id>/account", methods=["POST"])
@login_required
def open_account(holder_id):
    """The registrar's button on the holder page."""
    from ra.enrollment.holder_queries import get_holder

    holder = get_holder(db.session, _me(), holder_id)
    ports = current_ports()
    mail = service.open_account(db.session, _me(), holder, ports=ports)
    commit()
    if service.deliver(mail, ports=ports):
        flash(_l("An activation link valid for 72 hours was sent to %(email)s.", email=holder.email), "success")
    else:
        flash(_l("The account is open, but the e-mail could not be sent. Try again later."), "warning")
    return redirect(url_for("enrollment.show_holder", holder_id=holder.id), 303)


# -- pages ---------------------------------------------------------------------------------------

@bp.route("/me")
@holder_required
def my_certificates():
    now = current_ports().clock.now()
    certs = q.my_certificates(db.session, _me())
    rows = [(c, days_left(c, now), expiry_warning(c, now)) for c in certs]
    return render_template("holder/certificates.html", rows=rows, holders=q.my_holders(db.session, _me()))


def _download(cert, body: bytes, mimetype: str, ext: str):
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{cert.serial}.{ext}"'
    return resp


@bp.route("/me/certificates/<int:certificate_id>.<fmt>")
@holder_required
def download_certificate(certificate_id, fmt):
    cert = q.my_certificate(db.session, _me(), certificate_id)
    parsed = x509.load_pem_x509_certificate(cert.pem.encode())
    if fmt == "pem":
        return _download(cert, cert.pem.encode(), "application/x-pem-file", "pem")
    if fmt == "der":
        return _download(cert, parsed.public_bytes(serialization.Encoding.DER), "application/pkix-cert", "cer")
    if fmt == "chain.pem":
        chain = [c for c in current_ports().ca.chain()]
        body = cert.pem.encode() + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
        commit()
        return _download(cert, body, "application/x-pem-file", "chain.pem")
    raise NotFound()


@bp.route("/me/tokens")
@holder_required
def my_tokens():
    tokens = q.my_tokens(db.session, _me())
    rows = [(t, q.receipt_handover(db.session, t)) for t in tokens]
    return render_template("holder/tokens.html", rows=rows)


@bp.route("/me/tokens/<int:token_id>/receipt.pdf")
@holder_required
def download_receipt(token_id):
    from ra.tokens import handover_service, receipt

    token = q.my_token(db.session, _me(), token_id)
    h = q.receipt_handover(db.session, token)
    if h is None:
        raise NotFound()
    ports = current_ports()
    name = handover_service.receipt_file(db.session, _me(), h, ports=ports, render=lambda x: receipt.receipt_pdf(
        x, ports=ports, locale=current_user.locale))
    commit()
    resp = Response(ports.files.read(name), mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="{h.receipt_number}.pdf"'
    return resp


def _step_up_page(token_id, purpose: str, template: str, act):
    """Both sensitive actions: the first click sends a code, the second proves it."""
    token = q.my_token(db.session, _me(), token_id)
    ports = current_ports()
    form = StepUpForm()
    context = {"token": token, "form": form, "minutes": stepup.CODE_MINUTES}
    if request.method == "POST" and request.form.get("send"):
        try:
            mail = actions.ask_step_up(db.session, _me(), token.id, purpose, ports=ports)
        except stepup.StepUpThrottled as exc:
            commit()
            return render_template(template, error=exc.render(), **context), exc.status
        commit()
        sent = stepup.deliver(mail, ports=ports)
        return render_template(template, sent=sent, **context)
    if request.method == "POST" and form.validate_on_submit():
        try:
            return act(token, form)
        except stepup.StepUpRefused as exc:
            commit()  # the wrong try counts
            return render_template(template, error=exc.render(), sent=True, **context), exc.status
        except RAError as exc:
            db.session.rollback()
            return render_template(template, error=exc.render(), **context), exc.status
    return render_template(template, **context), 422 if request.method == "POST" else 200


@bp.route("/me/tokens/<int:token_id>/lost", methods=["GET", "POST"])
@holder_required
def report_lost(token_id):
    ports = current_ports()

    def act(token, form):
        done = revocation_jobs.run(db.session, lambda d: d.report.email, lambda: actions.report_lost(
            db.session, _me(), token.id, form.code.data, lost=bool(form.lost.data),
            client=request.remote_addr or "-", ports=ports), ports=ports)
        flash(_l("Token %(serial)s is suspended and its certificates are on hold.", serial=token.serial)
              if not done.report.certainly_lost else
              _l("Token %(serial)s is reported lost: its certificates are being revoked.", serial=token.serial),
              "success")
        return redirect(url_for("holder.my_tokens"), 303)
    return _step_up_page(token_id, "lost_token", "holder/lost.html", act)


@bp.route("/me/tokens/<int:token_id>/unblock", methods=["GET", "POST"])
@holder_required
def request_unblock(token_id):
    from ra.tokens import unblock_service

    ports = current_ports()

    def act(token, form):
        issued = actions.request_unblock(db.session, _me(), token.id, form.code.data, ports=ports)
        commit()
        if unblock_service.deliver_code(issued.mail, ports=ports):
            flash(_l("The unblock code was sent to your work e-mail. Run ra-token unblock with it."), "success")
        else:
            flash(_l("The unblock code could not be sent. Try again later."), "warning")
        return redirect(url_for("holder.my_tokens"), 303)
    return _step_up_page(token_id, "unblock", "holder/unblock.html", act)


@bp.route("/me/orders")
@holder_required
def my_orders():
    return render_template("holder/orders.html", orders=q.my_orders(db.session, _me()))


@bp.route("/me/orders/<int:order_id>/book", methods=["GET", "POST"])
@holder_required
def book(order_id):
    from ra.enrollment.holder_queries import get_counter

    order = q.my_order(db.session, _me(), order_id)
    ports = current_ports()
    form = BookForm()
    if form.validate_on_submit():
        counter_id, _, start = form.slot.data.partition("@")
        try:
            starts_at = datetime.fromisoformat(start).astimezone(timezone.utc)
        except ValueError:
            raise NotFound() from None
        actions.book(db.session, _me(), order.id, get_counter(db.session, counter_id), starts_at, ports=ports)
        commit()
        flash(_l("Your appointment is booked. A confirmation was sent by e-mail."), "success")
        return redirect(url_for("holder.my_orders"), 303)
    now = ports.clock.now()
    slots = actions.free_slots(db.session, now=now)
    within_rule = actions.within_rule(slots[0] if slots else None, now)
    if not within_rule and actions.note_shortage(db.session, order, now=now, ports=ports):
        commit()
    return render_template("holder/book.html", order=order, form=form, slots=slots,
                           first=slots[0] if slots else None, within_rule=within_rule)


@bp.app_context_processor
def _shortage_counter():
    """The manager's dashboard counts the days with no counter time within the rule."""
    def booking_shortage_days():
        return actions.shortage_days(db.session)
    return {"booking_shortage_days": booking_shortage_days}


@bp.route("/me/appointments/<int:appointment_id>/cancel", methods=["POST"])
@holder_required
def cancel_appointment(appointment_id):
    actions.cancel(db.session, _me(), appointment_id, ports=current_ports())
    commit()
    flash(_l("Your appointment is cancelled."), "success")
    return redirect(url_for("holder.my_orders"), 303)
