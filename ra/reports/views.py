"""Report pages and their exports: parse the filter → scope it to the reader → build
the view once → show it as HTML, or as PDF, XLSX or CSV (``?format=``)."""
from __future__ import annotations

import io
import os
import tempfile
from datetime import timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, stream_with_context, url_for
from flask_babel import force_locale
from flask_login import current_user, login_required

from ra.auth.policy import require
from ra.db import commit
from ra.enrollment.reference import District, OrganisationKind
from ra.errors import NotFound, RAError
from ra.extensions import db
from ra.i18n import LANGUAGES, _l
from ra.localtime import local
from ra.ports import current_ports
from ra.reports import common, exports, pages, queries, service
from ra.reports import policy as P
from ra.reports import tables as T
from ra.reports.issuance import GROUP_BY
from ra.reports.periods import BUCKETS, PERIOD_LABELS, PERIODS, parse_filter, parse_month
from ra.web import page_arg

bp = Blueprint("reports", __name__, url_prefix="/reports", static_folder="static", static_url_path="/static")

FORMATS = ("pdf", "xlsx", "csv")
MIMETYPES = {"pdf": "application/pdf", "xlsx": service.XLSX, "csv": "text/csv; charset=utf-8"}


def _user():
    return current_user._get_current_object()


def current_filter():
    """The request's filter, scoped to the reader (another organisation: 404)."""
    ports = current_ports()
    args = request.values.to_dict()
    if args.get("org"):  # typed registry number
        org_id = queries.organisation_id_by_registry(db.session, args.pop("org"))
        if org_id is None:
            raise NotFound()
        args["organisation_id"] = str(org_id)
    f = parse_filter(args, today=ports.clock.today(), profiles=ports.profiles)
    f = P.scoped(db.session, _user(), f)
    common.for_reports(db.session, f)
    return f


def _context(*, export: bool) -> pages.Context:
    ports = current_ports()
    group_by = request.args.get("group_by") or "kind"
    if group_by not in GROUP_BY:
        group_by = "kind"
    return pages.Context(profiles=ports.profiles, now=ports.clock.now(), group_by=group_by,
                         sort=request.args.get("sort") or None, desc=request.args.get("dir", "desc") == "desc",
                         page=1 if export else page_arg(), per_page=None if export else T.PER_PAGE)


def _lang() -> str:
    lang = request.args.get("lang") or "mn"  # exports speak Mongolian unless asked otherwise
    return lang if lang in LANGUAGES else "mn"


def _meta(page, f) -> exports.Meta:
    ports = current_ports()
    return exports.Meta(title=page.title, filters=exports.describe_filter(db.session, f, ports.profiles),
                        generated_at=ports.clock.now(), generated_by=_user().full_name or _user().email)


def respond(page, fmt: str):
    f = page.filter
    if fmt == "csv":
        lang = _lang()

        def chunks():
            with force_locale(lang):
                yield from exports.csv_chunks(page.primary)
        return Response(stream_with_context(chunks()), mimetype=MIMETYPES["csv"],
                        headers={"Content-Disposition": f'attachment; filename="{exports.export_name(page, "csv")}"'})
    if fmt == "xlsx":
        fd, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        with force_locale(_lang()):
            exports.write_xlsx(page, _meta(page, f), path)
        resp = send_file(path, mimetype=MIMETYPES["xlsx"], as_attachment=True,
                         download_name=exports.export_name(page, "xlsx"))
        resp.call_on_close(lambda: os.path.exists(path) and os.unlink(path))
        return resp
    now = current_ports().clock.now()
    pdf = exports.render_pdf(page, _meta(page, f), documents=current_ports().documents, locale=_lang(),
                             number=f"RPT-{local(now):%Y%m%d-%H%M%S}")
    return send_file(io.BytesIO(pdf), mimetype=MIMETYPES["pdf"], as_attachment=False,
                     download_name=exports.export_name(page, "pdf"))


def _show(name: str):
    f = current_filter()
    fmt = request.args.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise NotFound()
    page = pages.build(name, db.session, f, _context(export=fmt is not None))
    if fmt:
        return respond(page, fmt)
    return render_template("reports/dashboard.html" if name == "dashboard" else "reports/view.html",
                           page=page, f=f, **_form_choices(f))


def _form_choices(f) -> dict:
    user = _user()
    return {"ru_wide": P.is_ru_wide(user), "kinds": list(OrganisationKind), "districts": list(District),
            "periods": [(p, PERIOD_LABELS[p]) for p in PERIODS], "buckets": [(b, PERIOD_LABELS[b]) for b in BUCKETS],
            "officers": queries.officers(db.session), "profiles": current_ports().profiles,
            "organisation_name": queries.organisation_name(db.session, f.organisation_id),
            "group_by": request.args.get("group_by") or "kind", "GROUP_BY": GROUP_BY,
            "can_remind": P.can_send_expiry_reminders(user), "formats": FORMATS, "views": pages.VIEWS,
            "TITLES": pages.TITLES, "drill": make_drill(f), "group_labels": GROUP_LABELS}


GROUP_LABELS = {"kind": T.KIND, "organisation": T.ORGANISATION, "district": T.DISTRICT, "officer": T.OFFICER,
                "profile": T.PROFILE, **PERIOD_LABELS}


def make_drill(f):
    """Where a row of a table leads: kind → its organisations → their holders."""
    def drill(table_name: str, row: dict):
        key = row.get("key")
        if key in (None, ""):
            return None
        if table_name == "issuance_kind":
            return url_for("reports.show_issuance", **f.args(group_by="organisation", kind=key))
        if table_name == "issuance_district":
            return url_for("reports.show_issuance", **f.args(group_by="organisation", district=key))
        if table_name == "issuance_organisation":
            return url_for("reports.show_certificates", **f.args(organisation_id=key))
        if table_name == "issuance_officer":
            return url_for("reports.show_certificates", **f.args(officer_id=key))
        if table_name == "issuance_profile":
            return url_for("reports.show_certificates", **f.args(profile=key))
        if table_name == "expiring_by_organisation":
            return url_for("reports.show_expiring", **f.args(organisation_id=key))
        return None
    return drill


@bp.route("/")
@login_required
def show_dashboard():
    return _show("dashboard")


@bp.route("/issuance")
@login_required
def show_issuance():
    return _show("issuance")


@bp.route("/certificates")
@login_required
def show_certificates():
    return _show("certificates")


@bp.route("/revocations")
@login_required
def show_revocations():
    return _show("revocations")


@bp.route("/tokens")
@login_required
def show_tokens():
    return _show("tokens")


@bp.route("/expiring")
@login_required
def show_expiring():
    return _show("expiring")


@bp.route("/service-times")
@login_required
def show_service_times():
    return _show("service_times")


@bp.route("/officers")
@login_required
def show_officers():
    return _show("officers")


ENDPOINTS = {"dashboard": "reports.show_dashboard", "issuance": "reports.show_issuance",
             "certificates": "reports.show_certificates", "revocations": "reports.show_revocations",
             "tokens": "reports.show_tokens", "expiring": "reports.show_expiring",
             "service_times": "reports.show_service_times", "officers": "reports.show_officers",
             "monthly": "reports.show_monthly"}


@bp.route("/expiring/remind", methods=["POST"])
@login_required
def send_expiry_reminders():
    """Queues one mail per organisation (sent after the commit)."""
    f = current_filter()
    require(P.can_send_expiry_reminders(_user()))
    try:
        sent = service.send_expiry_reminders(db.session, _user(), f, ports=current_ports())
        commit()
    except RAError as exc:
        db.session.rollback()
        flash(exc.render(), "danger")
    else:
        flash(_l("Reminders were sent to %(orgs)d registration officers about %(certs)d certificates.",
                 orgs=sent.organisations, certs=sent.certificates), "success")
    return redirect(url_for("reports.show_expiring", **f.args()), 303)


@bp.route("/monthly")
@login_required
def show_monthly():
    from ra.reports import monthly

    require(P.is_ru_wide(_user()))
    ports = current_ports()
    today = ports.clock.today()
    default = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # the last full month
    month = parse_month(request.args["month"]) if request.args.get("month") else default
    common.without_jit(db.session)  # the costliest statements of a month (~57,000): kept clear of the JIT
    page = service.monthly_page(monthly.build(db.session, month))
    fmt = request.args.get("format")
    if fmt in FORMATS:
        return respond(page, fmt)
    return render_template("reports/view.html", page=page, f=page.filter, month=month, **_form_choices(page.filter))


@bp.app_template_filter("report_cell")
def report_cell(value, kind: str = "text"):
    """A table cell as the page and the PDF show it."""
    return exports.display(value, kind)


@bp.app_context_processor
def _nav():
    return {"report_endpoints": ENDPOINTS}
