"""Token stock pages: parse → policy → service → commit → respond."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ra.auth import policy as auth_policy
from ra.db import commit
from ra.errors import RAError, ValidationFailed
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.tokens import policy as P
from ra.tokens import queries
from ra.tokens import stock_service as service
from ra.tokens.forms import BatchForm, FactorySoPinForm, StateChangeForm, UnblockForm
from ra.tokens.states import ACTION_LABELS, TokenStatus, event_label, manual_targets
from ra.web import page_arg

bp = Blueprint("tokens", __name__, url_prefix="/tokens")

EFFECT_LABELS = {"hold": _l("suspend (hold)"), "release": _l("release"), "revoke": _l("revoke")}


def _user():
    return current_user._get_current_object()


@bp.route("/")
@login_required
def show_stock():
    auth_policy.require(P.can_read_stock(_user()))
    q = request.args.get("q", "").strip()
    if q:
        exact = queries.token_by_serial(db.session, q)
        if exact is not None:  # a scanned serial goes straight to its token
            return redirect(url_for("tokens.show_token", token_id=exact.id))
    try:
        status = TokenStatus(request.args["status"]) if request.args.get("status") else None
    except ValueError:
        abort(400)
    page = page_arg()
    rows, total = queries.list_tokens(db.session, status=status, q=q, page=page)
    return render_template("tokens/stock.html", counts=queries.stock_counts(db.session),
                           by_model=queries.counts_by_model(db.session), batches=queries.list_batches(db.session),
                           rows=rows, total=total, page=page, per_page=queries.PER_PAGE, status=status,
                           statuses=list(TokenStatus), can_receive=P.can_receive_batch(_user()),
                           can_use_reader=P.can_use_reader(_user()))


@bp.route("/batches/new", methods=["GET", "POST"])
@login_required
def receive_batch():
    auth_policy.require(P.can_receive_batch(_user()))
    form = BatchForm()
    errors: dict = {}
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            data = service.BatchData(model=form.model.data or "", supplier=form.supplier.data or "",
                                     received_on=form.received_on.data, serials=form.serials.data or "",
                                     factory_so_pin=form.factory_so_pin.data or None, note=form.note.data or "")
            try:
                batch = service.receive_batch(db.session, _user(), data, ports=current_ports())
                commit()
            except ValidationFailed as exc:
                db.session.rollback()
                errors, status = exc.errors, 422
            else:
                flash(_l("%(n)d tokens were received into stock.", n=len(batch.tokens)), "success")
                return redirect(url_for("tokens.show_batch", batch_id=batch.id), 303)
        else:
            status = 400 if form.csrf_token.errors else 422
    return render_template("tokens/receive.html", form=form, errors=errors), status


@bp.route("/batches/<int:batch_id>")
@login_required
def show_batch(batch_id):
    auth_policy.require(P.can_read_stock(_user()))
    batch = queries.get_batch(db.session, batch_id)
    return render_template("tokens/batch.html", batch=batch, form=FactorySoPinForm(),
                           can_receive=P.can_receive_batch(_user()))


@bp.route("/batches/<int:batch_id>/factory-so-pin", methods=["POST"])
@login_required
def record_factory_so_pin(batch_id):
    auth_policy.require(P.can_receive_batch(_user()))
    batch = queries.get_batch(db.session, batch_id)
    form = FactorySoPinForm()
    if not form.validate_on_submit():
        flash(_l("The PINs do not match.") if form.factory_so_pin2.errors else _l("This field is required."), "danger")
        return redirect(url_for("tokens.show_batch", batch_id=batch.id), 303)
    try:
        service.record_factory_so_pin(db.session, _user(), batch, form.factory_so_pin.data, ports=current_ports())
        commit()
    except RAError as exc:
        db.session.rollback()
        flash(exc.render(), "danger")
    else:
        flash(_l("The factory SO PIN was recorded."), "success")
    return redirect(url_for("tokens.show_batch", batch_id=batch.id), 303)


def _token_page(token, *, status=200, unblock_form=None):
    user = _user()
    targets = [t for t in manual_targets(token) if P.can_change_token_state(user, token, t)]
    return render_template(
        "tokens/token.html", token=token, history=queries.token_history(db.session, token),
        targets=targets, ACTION_LABELS=ACTION_LABELS, S=TokenStatus, event_label=event_label, form=StateChangeForm(),
        unblock_form=unblock_form or UnblockForm(),
        can_unblock=P.can_unblock_at_counter(user, token) and token.status == TokenStatus.ACTIVE), status


@bp.route("/<int:token_id>")
@login_required
def show_token(token_id):
    auth_policy.require(P.can_read_stock(_user()))
    return _token_page(queries.get_token(db.session, token_id))


@bp.route("/<int:token_id>/state/<target>", methods=["POST"])
@login_required
def change_state(token_id, target):
    token = queries.get_token(db.session, token_id)
    try:
        target = TokenStatus(target)
    except ValueError:
        abort(404)
    auth_policy.require(P.can_change_token_state(_user(), token, target))
    form = StateChangeForm()
    if not form.validate_on_submit():
        flash(_l("Give the reason."), "danger")
        return _token_page(token, status=422)
    try:
        effect = service.change_token_state(
            db.session, _user(), token, target, reason=form.reason.data,
            return_reason=form.return_reason.data if target == TokenStatus.RETURNED else None, ports=current_ports())
        commit()
    except RAError as exc:
        db.session.rollback()
        flash(exc.render(), "danger")
        db.session.refresh(token)
        return _token_page(token, status=exc.status)
    flash(_l("The token is now: %(status)s.", status=target.label), "success")
    if effect is not None and effect.state == "not_connected":
        flash(_l("The certificates on this token were NOT changed: revocation is not connected to the CA yet. "
                 "Ask the CA to %(action)s them (reason: %(reason)s).",
                 action=EFFECT_LABELS.get(effect.action, effect.action), reason=effect.reason), "warning")
    return redirect(url_for("tokens.show_token", token_id=token.id), 303)


@bp.route("/<int:token_id>/unblock", methods=["POST"])
@login_required
def unblock_pin(token_id):
    token = queries.get_token(db.session, token_id)
    auth_policy.require(P.can_unblock_at_counter(_user(), token))
    form = UnblockForm()
    if not form.validate_on_submit():
        return _token_page(token, status=422, unblock_form=form)
    try:
        service.unblock_at_counter(db.session, _user(), token, form.pin.data, ports=current_ports())
        commit()
    except RAError as exc:
        db.session.rollback()
        flash(exc.render(), "danger")
        db.session.refresh(token)
        return _token_page(token, status=exc.status)
    flash(_l("The PIN was reset. The holder can now use the new PIN."), "success")
    return redirect(url_for("tokens.show_token", token_id=token.id), 303)


@bp.route("/reader")
@login_required
def list_slots():
    """The tokens in this workstation's readers, matched against the stock."""
    auth_policy.require(P.can_use_reader(_user()))
    error = None
    matches = []
    try:
        slots = current_ports().tokens.list_slots(rescan=bool(request.args.get("rescan")))
        matches = queries.match_slots(db.session, slots)
    except RAError as exc:
        error = exc.render()
    return render_template("tokens/reader.html", matches=matches, error=error, S=TokenStatus)

# The counter handover pages add their routes to this blueprint.
from ra.tokens import handover_views  # noqa: E402,F401
