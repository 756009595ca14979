"""Landing page, role-based start page, language switch."""
from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user

from ra.auth.roles import Role
from ra.auth.service import set_locale
from ra.db import commit
from ra.extensions import db
from ra.i18n import LANGUAGES
from ra.web import safe_next_url

bp = Blueprint("main", __name__)

START = {
    Role.ORG_REGISTRAR: "enrollment.show_dashboard",
    Role.HOLDER: "holder.my_certificates",
    Role.RA_OFFICER: "enrollment.review_queue",
    Role.RA_MANAGER: "enrollment.list_organisations",
    Role.AUDITOR: "audit.list_records",
    Role.ADMIN: "enrollment.list_organisations",
}


@bp.route("/")
def index():
    if current_user.is_authenticated and current_user.role in START:
        return redirect(url_for(START[current_user.role]))
    return render_template("index.html")


@bp.route("/language", methods=["POST"])
def switch_language():
    lang = request.form.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        if current_user.is_authenticated:
            set_locale(db.session, current_user._get_current_object(), lang)
            commit()
    return redirect(safe_next_url(request.form.get("next")) or url_for("main.index"), 303)
