"""Flask-Login wiring: sessions tied to ``session_version``, idle timeout, bearer tokens."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, request, session
from flask_login import current_user, logout_user

from ra.extensions import db, login_manager
from ra.i18n import _l


def init_login(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "warning"
    # Cookie sessions are re-issued at login; "strong" also drops a session whose
    # client identity (address, user agent) changes.
    login_manager.session_protection = "strong"
    app.permanent_session_lifetime = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    app.before_request(_idle_timeout)


@login_manager.user_loader
def _load_user(user_id: str):
    from ra.auth.models import User

    uid, _, version = user_id.partition(":")
    if not uid.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(uid))
    if user is None or user.session_version != int(version) or not user.is_enabled:
        return None
    return user


def _idle_timeout():
    """OWASP ASVS 3.3.2: an idle session ends; so does any session older than
    ``RA_SESSION_MAX_HOURS`` (its start is stamped at login). The cookie is permanent with the idle
    lifetime and refreshed on each request, and the last-seen stamp inside the
    signed cookie enforces it server-side too."""
    if request.path.startswith(("/static/", "/api/")):
        return
    if not current_user.is_authenticated:
        return
    from ra.ports import current_ports

    now = int(current_ports().clock.now().timestamp())
    last = session.get("seen")
    started = session.get("started")
    too_long = started is None or now - int(started) > current_app.config["SESSION_MAX_HOURS"] * 3600
    if too_long or (last is not None and now - int(last) > current_app.config["SESSION_IDLE_MINUTES"] * 60):
        # Idle, or past the absolute lifetime (ASVS 3.3.4) however busy: log in again.
        logout_user()
        session.clear()
        session["expired"] = True
        return
    session.permanent = True
    session["seen"] = now
