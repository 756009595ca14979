from datetime import date

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from ra.audit import queries
from ra.auth import policy
from ra.extensions import db
from ra.web import page_arg

bp = Blueprint("audit", __name__, url_prefix="/audit")


def _date(name):
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/")
@login_required
def list_records():
    policy.require(policy.can_read_audit(current_user))
    page = page_arg()
    filters = {k: request.args.get(k, "") for k in ("actor", "action", "object_type", "object_id")}
    rows, total = queries.search(db.session, **filters, date_from=_date("from"), date_to=_date("to"), page=page)
    return render_template("audit/list.html", rows=rows, total=total, page=page, per_page=50, filters=filters,
                           date_from=request.args.get("from", ""), date_to=request.args.get("to", ""),
                           object_types=queries.object_types(db.session))
