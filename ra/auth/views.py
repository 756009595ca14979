from flask import Blueprint, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ra import audit
from ra.auth import service
from ra.auth.forms import LoginForm
from ra.db import commit
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
            session.clear()  # a new session on login (no fixation)
            login_user(outcome.user)
            session.permanent = True
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


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    audit.record(db.session, current_user, "logout", current_user._get_current_object(), {})
    commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
