"""The officer's counter pages for the handover (DESIGN §3.3), on the tokens
blueprint: parse → policy → ``handover_jobs`` (which commits step by step) →
respond. The run is one POST; ``static/handover.js`` sends it in the background
and polls ``progress`` so the officer sees each step as it is committed. Without
JavaScript the same POST simply returns when the run stops."""
from __future__ import annotations

from datetime import datetime, time as dtime, timezone

from flask import Response, abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required

from ra.auth import policy as auth_policy
from ra.ca.states import CertificateStatus, RequestStatus
from ra.db import commit
from ra.enrollment import holder_queries
from ra.errors import RAError
from ra.extensions import db
from ra.i18n import _l
from ra.localtime import LOCAL_TZ
from ra.ports import current_ports
from ra.tokens import envelopes
from ra.tokens import handover_jobs as jobs
from ra.tokens import handover_queries as hq
from ra.tokens import handover_service as svc
from ra.tokens import queries as token_queries
from ra.tokens import receipt
from ra.tokens.handover_forms import CancelHandoverForm, PickTokenForm, RunHandoverForm, StartHandoverForm
from ra.tokens.handover_states import CANCELLABLE, ORDERED, HandoverStep, handover_steps
from ra.tokens.views import bp

H = HandoverStep
# Why a handover stopped, in the reader's language (the record keeps the English text).
PAUSE_TEXT = {
    "ca_pending": jobs.CAPending.default_message,
    "pin_needed": svc.PinNeeded.default_message,
    "token_needed": svc.TokenNeeded.default_message,
    "token_not_present": _l("The token is not in a reader. Insert it and resume: the steps already done are kept."),
    "token_removed": _l("The token was removed while it was in use. Insert it again and resume: the steps "
                        "already done are kept."),
    "unexpected": _l("An unexpected error stopped it; it is logged. Resume when the cause is fixed."),
}
CA_OUTAGE = _l("The CA could not be used. Nothing was lost and nothing is asked twice: resume when it is back.")
CA_REFUSED = _l("The CA refused to issue the certificate, so none exists. Cancel the handover: the token goes "
                "back to stock.")


def pause_text(h):
    code = h.error_code or ""
    if code in PAUSE_TEXT:
        return PAUSE_TEXT[code]
    if code in ("ca_rejected", "ca_failed", "ca_subject_unencodable"):
        return CA_REFUSED
    if code == "backend_unavailable" or code.startswith("ca_"):
        return CA_OUTAGE
    return h.error_message or code


def _user():
    return current_user._get_current_object()


def _locale() -> str:
    return str(get_locale() or "mn")


def _envelope_tickets() -> dict:
    """The keys of this officer's unprinted PIN envelopes, by handover id, in the
    session cookie only (``ra.tokens.envelopes``)."""
    return session.setdefault("pin_envelopes", {})


def _stash_envelope(handover_id: int, pdf: bytes) -> None:
    ticket = envelopes.seal(db.session, handover_id, pdf, current_ports().clock.now())
    commit()
    _envelope_tickets()[str(handover_id)] = ticket
    session.modified = True


def _slots():
    """The reader's tokens matched against the stock, or the reason there are none."""
    try:
        slots = current_ports().tokens.list_slots(rescan=bool(request.args.get("rescan")))
        return token_queries.match_slots(db.session, slots), None
    except RAError as exc:
        return [], exc.render()


@bp.route("/handovers")
@login_required
def list_handovers():
    """The counter page: handovers under way (a certificate no token holds first),
    orders ready for handover, and today's finished ones."""
    auth_policy.require(svc.can_read_handovers(_user()))
    q = request.args.get("q", "").strip()
    today = datetime.combine(current_ports().clock.today(), dtime.min, tzinfo=LOCAL_TZ).astimezone(timezone.utc)
    return render_template("tokens/handover_list.html", open_handovers=hq.open_handovers(db.session),
                           ready=hq.ready_orders(db.session, q) if svc.can_hand_over(_user()) else [],
                           finished=hq.finished_since(db.session, today), q=q, H=H,
                           can_hand_over=svc.can_hand_over(_user()))


@bp.route("/handovers/new")
@login_required
def new_handover():
    """Steps 1 and 2: the identity document, and the token from the reader."""
    return _new_page()


def _new_page(form=None, error=None, status=200):
    order = holder_queries.get_order(db.session, _user(), request.values.get("order_id"))
    auth_policy.require(svc.can_hand_over(_user(), order))
    form = form or StartHandoverForm(order_id=order.id)
    matches, reader_error = _slots()
    return render_template("tokens/handover_new.html", order=order, form=form, matches=matches,
                           reader_error=reader_error, error=error,
                           earlier=hq.handovers_of_order(db.session, order.id)), status


@bp.route("/handovers", methods=["POST"])
@login_required
def start_handover():
    form = StartHandoverForm()
    order = holder_queries.get_order(db.session, _user(), form.order_id.data)
    auth_policy.require(svc.can_hand_over(_user(), order))
    if not form.validate_on_submit():
        return _new_page(form=form, status=400 if form.csrf_token.errors else 422)
    try:
        result = jobs.start(db.session, _user(), order, id_document_type=form.id_document_type.data,
                            id_document_number=form.id_document_number.data, token_serial=form.serial() or None,
                            locale=_locale(), ports=current_ports(), stop_after=H.TOKEN_PICKED)
    except RAError as exc:  # step 1 refused: nothing was recorded
        db.session.rollback()
        if exc.field and exc.field in form:
            form[exc.field].errors = [exc.render()]
        return _new_page(form=form, error=exc.render(), status=exc.status)
    if result.error is not None:
        flash(result.error.render(), "warning")
    return redirect(url_for("tokens.show_handover", handover_id=result.handover_id), 303)


def _page(h, *, status=200, run_form=None):
    user, ports = _user(), current_ports()
    now = ports.clock.now()
    req = svc.certificate_request(db.session, h)
    can_act = svc.can_hand_over(user, h.order) and not h.finished
    matches, reader_error = _slots() if can_act and h.step == H.IDENTITY_CHECKED else ([], None)
    envelope = envelopes.waiting(db.session, h.id, session.get("pin_envelopes", {}).get(str(h.id)), now)
    reached = ORDERED.index(h.step) if h.step in ORDERED else len(ORDERED)
    return render_template(
        "tokens/handover.html", h=h, H=H, steps=hq.steps_view(h), running=hq.is_running(h, now),
        can_act=can_act, matches=matches, reader_error=reader_error, pick_form=PickTokenForm(),
        run_form=run_form or RunHandoverForm(), cancel_form=CancelHandoverForm(),
        needs_pin=reached < ORDERED.index(H.CERTIFICATE_WRITTEN),
        pin_required=reached < ORDERED.index(H.TOKEN_INITIALISED),
        can_cancel=can_act and h.step in CANCELLABLE and (req is None or req.status == RequestStatus.REJECTED),
        can_record_failure=can_act and h.token is not None and handover_steps.can(h, H.ABANDONED),
        ca_request=req, envelope=envelope, pause_text=pause_text,
        revocation_connected=svc.REVOKE_HOOK in (ports.extra or {})), status


@bp.route("/handovers/<int:handover_id>")
@login_required
def show_handover(handover_id):
    auth_policy.require(svc.can_read_handovers(_user()))
    return _page(hq.get_handover(db.session, handover_id))


@bp.route("/handovers/<int:handover_id>/progress")
@login_required
def handover_progress(handover_id):
    """What the page's poll reads: the committed step, and whether a run is on."""
    auth_policy.require(svc.can_read_handovers(_user()))
    h = hq.get_handover(db.session, handover_id)
    resp = jsonify(hq.progress(h, current_ports().clock.now()))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _act(handover_id):
    h = hq.get_handover(db.session, handover_id)
    auth_policy.require(svc.can_hand_over(_user(), h.order))
    return h


def _back(h):
    return redirect(url_for("tokens.show_handover", handover_id=h.id), 303)


@bp.route("/handovers/<int:handover_id>/token", methods=["POST"])
@login_required
def pick_handover_token(handover_id):
    h = _act(handover_id)
    form = PickTokenForm()
    if not form.validate_on_submit():
        abort(400)
    result = jobs.run(db.session, _user(), h.id, token_serial=form.serial() or None, locale=_locale(),
                      ports=current_ports(), stop_after=H.TOKEN_PICKED)
    if result.error is not None:
        flash(result.error.render(), "warning")
    return _back(h)


@bp.route("/handovers/<int:handover_id>/run", methods=["POST"])
@login_required
def run_handover(handover_id):
    """Runs or resumes the handover to the end (or until something stops it)."""
    h = _act(handover_id)
    form = RunHandoverForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page(h, status=422, run_form=form)
    try:
        result = jobs.run(db.session, _user(), h.id, user_pin=form.user_pin(), random_pin=form.random_pin(),
                          locale=_locale(), ports=current_ports())
    except RAError as exc:  # refused before any step ran: a weak PIN, a run already on
        db.session.rollback()
        form.pin.errors = [exc.render()] if exc.field == "pin" else []
        if exc.field != "pin":
            flash(exc.render(), "danger")
        return _page(hq.get_handover(db.session, handover_id), status=exc.status, run_form=form)
    if result.envelope is not None:
        _stash_envelope(h.id, result.envelope)
    if result.completed:
        flash(_l("The token was handed over. Print the receipt: the holder and you sign it."), "success")
    elif result.error is not None:
        flash(result.error.render(), "warning")
    if request.headers.get("X-Handover-Fetch") == "1":  # handover.js: it loads the page itself
        return jsonify({"location": url_for("tokens.show_handover", handover_id=h.id)})
    return _back(h)


@bp.route("/handovers/<int:handover_id>/envelope.pdf")
@login_required
def download_pin_envelope(handover_id):
    h = _act(handover_id)
    pdf = envelopes.take(db.session, h.id, _envelope_tickets().pop(str(h.id), None), current_ports().clock.now())
    session.modified = True
    commit()
    if pdf is None:
        abort(404)
    return _pdf(pdf, f"pin-envelope-{h.id}.pdf")


@bp.route("/handovers/<int:handover_id>/receipt.pdf")
@login_required
def download_handover_receipt(handover_id):
    auth_policy.require(svc.can_read_handovers(_user()))
    h = hq.get_handover(db.session, handover_id)
    if h.step != H.COMPLETED:
        abort(404)
    ports = current_ports()
    name = svc.receipt_file(db.session, _user(), h, ports=ports,
                            render=lambda x: receipt.receipt_pdf(x, ports=ports, locale=_locale()))
    commit()
    return _pdf(ports.files.read(name), f"{h.receipt_number}.pdf")


def _pdf(data: bytes, name: str) -> Response:
    resp = Response(data, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


@bp.route("/handovers/<int:handover_id>/cancel", methods=["POST"])
@login_required
def cancel_handover(handover_id):
    return _stop(handover_id, jobs.cancel,
                 lambda h: _l("The handover was cancelled; the token was wiped and stays in stock."))


@bp.route("/handovers/<int:handover_id>/token-failed", methods=["POST"])
@login_required
def record_handover_token_failed(handover_id):
    return _stop(handover_id, jobs.token_failed,
                 lambda h: _l("The token is recorded as damaged and the handover abandoned. "
                              "Start a new handover of the order with another token."))


@bp.route("/handovers/<int:handover_id>/abandon", methods=["POST"])
@login_required
def abandon_handover(handover_id):
    return _stop(handover_id, jobs.abandon, _abandoned)


def _abandoned(h):
    """Under dual control the revocation waits for a second officer (the certificate
    held meanwhile, where the CA can hold): the officer must not be told it is revoked."""
    if h.certificate.status == CertificateStatus.REVOKED:
        return _l("The certificate was revoked and the handover stopped.")
    return _l("The handover stopped and the certificate's revocation is requested. It takes effect when a second "
              "officer approves it in the revocation queue; until then the certificate is suspended where the CA "
              "allows it.")


def _stop(handover_id: int, stop, done_message):
    """Ends a handover with the officer's reason: cancelled before a certificate
    exists, abandoned (its certificate revoked) after. ``done_message(h)`` is what
    the officer is told once ``stop`` has committed."""
    h = _act(handover_id)
    form = CancelHandoverForm()
    if not form.validate_on_submit():
        flash(_l("Give the reason."), "danger")
        return _back(h)
    try:
        stopped = stop(db.session, _user(), h.id, form.reason.data, ports=current_ports())
    except RAError as exc:
        db.session.rollback()
        flash(exc.render(), "danger")
    else:
        flash(done_message(stopped), "success")
    return _back(h)
