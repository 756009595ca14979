from flask import Blueprint, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ra import audit
from ra.auth import policy, queries, service
from ra.auth.forms import LoginForm, PasswordChangeForm
from ra.auth.models import User
from ra.db import commit
from ra.errors import NotFound, UserError
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.web import safe_next_url

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        outcome = service.authenticate(db.session, form.email.data, form.password.data,
                                       ports=current_ports(), remote_addr=request.remote_addr)
        commit()
        if outcome.user is not None:
            lang = session.get("lang")
            start_session(outcome.user)
            if lang and outcome.user.locale != lang:
                service.set_locale(db.session, outcome.user, lang)
                commit()
            return redirect(safe_next_url(request.args.get("next")) or url_for("main.index"))
        if outcome.locked:
            flash(_l("Too many failed attempts. Wait %(seconds)d seconds, then try again.",
                     seconds=outcome.retry_after), "danger")
            resp = make_response(render_template("auth/login.html", form=form), 429)
            resp.headers["Retry-After"] = str(outcome.retry_after)
            return resp
        else:
            flash(_l("Wrong e-mail or password."), "danger")
            status = 401 if request.method == "POST" else 200
    elif request.method == "POST":
        status = 400 if form.csrf_token.errors else 200
    if session.pop("expired", None):
        flash(_l("Your session ended after a period of inactivity. Please log in again."), "warning")
    return render_template("auth/login.html", form=form), status


def start_session(user) -> None:
    """A new session (no fixation), stamped with its start for the absolute lifetime."""
    session.clear()
    login_user(user)
    session.permanent = True
    session["started"] = int(current_ports().clock.now().timestamp())


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Ends the session on the server too: a copy of the cookie taken before the
    logout opens nothing afterwards."""
    user = current_user._get_current_object()
    audit.record(db.session, user, "logout", user, {})
    service.end_sessions(db.session, user, user, why="logout")
    commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def show_account():
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            service.change_password(db.session, user, form.current.data, form.password.data, ports=current_ports())
            commit()
        except UserError as exc:
            db.session.rollback()
            flash(exc.render(), "danger")
            status = exc.status
        else:
            start_session(user)  # this browser goes on; every other copy has ended
            flash(_l("Your password is changed. You are signed out everywhere else."), "success")
            return redirect(url_for("auth.show_account"), 303)
    elif request.method == "POST":
        status = 400 if form.csrf_token.errors else 422
    return render_template("auth/account.html", form=form), status


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere():
    user = current_user._get_current_object()
    service.end_sessions(db.session, user, user, why="own_request")
    commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), 303)


@bp.route("/users")
@login_required
def list_users():
    policy.require(policy.can_manage_users(current_user))
    return render_template("auth/users.html", users=queries.list_users(db.session))


@bp.route("/users/<int:user_id>/sign-out", methods=["POST"])
@login_required
def sign_out_user(user_id):
    """The admin ends every session of an account (a lost laptop, a leaver)."""
    policy.require(policy.can_manage_users(current_user))
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    service.end_sessions(db.session, current_user._get_current_object(), user, why="admin")
    commit()
    flash(_l("%(email)s is signed out everywhere.", email=user.email), "success")
    return redirect(url_for("auth.list_users"), 303)
