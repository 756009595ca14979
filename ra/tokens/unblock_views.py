"""Remote PIN unblock pages on the ``tokens`` blueprint: parse → policy → service →
commit → respond.

- ``/tokens/unblock``: the holder's public request (no account: the registered
  e-mail is the proof). The page says the same whether or not it matched, and is
  sent before the match is looked at (``unblock_api.answer_then_issue``).
- ``/tokens/unblock-requests``: the registration officer asks for a holder of
  their organisation and follows the codes; RU officers see every organisation's
  and settle SO PIN rotations left unconfirmed.
"""
from __future__ import annotations

from flask import after_this_request, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ra.auth import policy as auth_policy
from ra.auth.roles import Role
from ra.db import commit
from ra.errors import RAError
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.tokens import queries as token_queries
from ra.tokens import unblock_queries as q
from ra.tokens import unblock_counter as counter
from ra.tokens import unblock_service as svc
from ra.tokens.unblock_api import answer_then_issue, client_address, deliver_now, run_recorded, sent_if_matched
from ra.tokens.unblock_forms import ResolveRotationForm, UnblockAskForm, UnblockForHolderForm
from ra.tokens.unblock_states import OPEN, UnblockStatus
from ra.tokens.views import bp

ASKERS = (Role.ORG_REGISTRAR, Role.RA_OFFICER, Role.RA_MANAGER)


def _user():
    return current_user._get_current_object()


@bp.route("/unblock", methods=["GET", "POST"])
def ask_unblock_code():
    form = UnblockAskForm()
    if request.method == "GET" or not form.validate_on_submit():
        status = 200 if request.method == "GET" else (400 if form.csrf_token.errors else 422)
        return render_template("tokens/unblock_ask.html", form=form, sent=False), status
    email, serial, client = form.email.data, form.serial.data, client_address()
    try:
        run_recorded(lambda: svc.count_public_ask(db.session, email=email, serial=serial, client=client,
                                                  ports=current_ports()))
    except RAError as exc:
        flash(exc.render(), "danger")
        return render_template("tokens/unblock_ask.html", form=form, sent=False), exc.status
    after_this_request(lambda response: answer_then_issue(response, email=email, serial=serial, client=client))
    return render_template("tokens/unblock_ask.html", form=UnblockAskForm(formdata=None), sent=True,
                           message=sent_if_matched())


def _shown_status(r, now):
    """A code past its time reads as expired before anyone touches it again."""
    return UnblockStatus.EXPIRED if r.status in OPEN and now >= r.expires_at else r.status


@bp.route("/unblock-requests", methods=["GET"])
@login_required
def list_unblock_requests():
    user = _user()
    auth_policy.require(user.role in ASKERS)
    now = current_ports().clock.now()
    officer = counter.can_resolve_rotation(user)
    return render_template(
        "tokens/unblock_requests.html", rows=q.unblockable_tokens(db.session, user),
        requests=q.recent_requests(db.session, user, since=q.recent_window(now)), now=now, shown=_shown_status,
        rotations=q.unconfirmed_rotations(db.session) if officer else [], form=UnblockForHolderForm(),
        resolve_form=ResolveRotationForm(), minutes=svc.CODE_MINUTES)


@bp.route("/unblock-requests", methods=["POST"])
@login_required
def request_unblock_code():
    user = _user()
    auth_policy.require(user.role in ASKERS)
    form = UnblockForHolderForm()
    if not form.validate_on_submit():
        flash(_l("The form has expired or was not sent from this site. Reload the page and try again."), "danger")
        return redirect(url_for("tokens.list_unblock_requests"), 303)
    issued = svc.request_code(db.session, user, form.serial.data, ports=current_ports())  # 404: not theirs
    commit()
    try:
        deliver_now(issued)
    except RAError as exc:
        flash(exc.render(), "danger")
    else:
        flash(_l("A one-time code for token %(serial)s was sent to %(email)s. It is valid for %(minutes)d minutes.",
                 serial=issued.request.token.serial, email=issued.request.email, minutes=svc.CODE_MINUTES), "success")
    return redirect(url_for("tokens.list_unblock_requests"), 303)


@bp.route("/<int:token_id>/so-pin-rotation", methods=["POST"])
@login_required
def resolve_so_pin_rotation(token_id):
    token = token_queries.get_token(db.session, token_id)
    auth_policy.require(counter.can_resolve_rotation(_user(), token))
    if not ResolveRotationForm().validate_on_submit():
        flash(_l("The form has expired or was not sent from this site. Reload the page and try again."), "danger")
        return redirect(url_for("tokens.list_unblock_requests"), 303)
    try:
        kept = counter.resolve_rotation(db.session, _user(), token, ports=current_ports())
        commit()
    except RAError as exc:
        db.session.rollback()
        flash(exc.render(), "danger")
    else:
        flash({None: _l("Nothing to resolve: the RU holds one SO PIN for this token."),
               "old": _l("Token %(serial)s still has its previous SO PIN; the unused new one was discarded.",
                         serial=token.serial),
               "new": _l("Token %(serial)s already has the new SO PIN; it is now the escrowed one.",
                         serial=token.serial)}[kept], "success")
    return redirect(url_for("tokens.list_unblock_requests"), 303)
