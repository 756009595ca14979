"""The reports in the JSON API (/api/v1/reports/…): the same filter, scoping and
numbers as the pages. Dates are local (Asia/Ulaanbaatar) days, ``from``/``to``
inclusive; a bad date, an inverted range or an unknown ``group_by`` is a 400
with a message."""
from __future__ import annotations

import enum
from datetime import date, datetime

from flask import jsonify, request

from ra.api import actor, token_required
from ra.errors import UserError
from ra.extensions import db
from ra.i18n import _l
from ra.ports import current_ports
from ra.reports import activity, common, expiry, issuance, monthly, pages, revocations, service_times, stock
from ra.reports import policy as P
from ra.reports.exports import Texts
from ra.reports.periods import BUCKETS, parse_filter, parse_month
from ra.reports.tables import Table
from ra.web import int_arg, page_arg

MAX_PER_PAGE = 1000


def _filter():
    ports = current_ports()
    f = parse_filter(request.args, today=ports.clock.today(), profiles=ports.profiles)
    f = P.scoped(db.session, actor(), f)
    common.for_reports(db.session, f)
    return f


def _group_by(allowed: tuple, default: str) -> str:
    value = request.args.get("group_by") or default
    if value not in allowed:
        raise UserError(_l("Unknown group_by “%(value)s”; use one of: %(allowed)s."), code="bad_group_by",
                        field="group_by", value=value[:40], allowed=", ".join(allowed))
    return value


def _page_args() -> tuple[int, int]:
    return page_arg(), min(MAX_PER_PAGE, int_arg("per_page", 100, minimum=1))


def _value(v, texts=str):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, enum.Enum):
        return v.value
    return texts(v)


def table_json(t: Table) -> dict:
    texts = Texts()  # each translated label resolved once per table, not once per row
    out = {"name": t.name, "title": str(t.title), "columns": [{"key": c.key, "label": str(c.label), "kind": c.kind}
                                                              for c in t.columns],
           "rows": [{k: _value(v, texts) for k, v in r.items()} for r in t.rows], "total_rows": t.total_rows}
    if t.totals is not None:
        out["totals"] = {k: _value(v) for k, v in t.totals.items()}
    if t.total_rows > len(t.rows):
        out.update({"page": t.page, "per_page": t.per_page})
    return out


def _answer(f, **body):
    return jsonify({"filters": f.as_json(), **body})


def _ctx(**kw) -> pages.Context:
    ports = current_ports()
    return pages.Context(profiles=ports.profiles, now=ports.clock.now(), per_page=None, **kw)


def register_api(bp):
    @bp.route("/reports/issuance")
    @token_required
    def report_issuance():
        by = _group_by(issuance.GROUP_BY, "month")
        f = _filter()
        if by == "organisation":  # tens of thousands of rows at national scale: paged
            page, per_page = _page_args()
            t = issuance.grouped(db.session, f, by, profiles=current_ports().profiles, page=page, per_page=per_page,
                                 sort=request.args.get("sort") or None, desc=request.args.get("dir", "desc") == "desc")
        else:
            t = issuance.grouped(db.session, f, by, profiles=current_ports().profiles, per_page=None)
        return _answer(f, group_by=by, total=t.totals["issued"], **{"table": table_json(t)})

    @bp.route("/reports/issuance/certificates")
    @token_required
    def report_issued_certificates():
        f = _filter()
        page, per_page = _page_args()
        t = issuance.certificate_list(db.session, f, profiles=current_ports().profiles, page=page, per_page=per_page)
        return _answer(f, total=t.total_rows, table=table_json(t))

    @bp.route("/reports/revocations")
    @token_required
    def report_revocations():
        by = _group_by(("reason",) + BUCKETS, "reason")
        f = _filter()
        if by == "reason":
            t = revocations.reason_table(db.session, f, per_page=None)
        else:
            t = revocations.series_table(db.session, f.with_(bucket=by))
        return _answer(f, group_by=by, table=table_json(t))

    @bp.route("/reports/tokens")
    @token_required
    def report_tokens():
        f = _filter()
        return _answer(f, by_state=table_json(stock.state_table(db.session, f)),
                       movements=table_json(stock.movement_table(db.session, f)))

    @bp.route("/reports/expiring")
    @token_required
    def report_expiring():
        f = _filter()
        now = current_ports().clock.now()
        page, per_page = _page_args()
        body = {"by_organisation": table_json(expiry.by_organisation(
            db.session, f, now, page=page, per_page=per_page, sort=request.args.get("sort") or None,
            desc=request.args.get("dir", "desc") == "desc"))}
        if f.organisation_id is not None:
            body["certificates"] = table_json(expiry.holder_table(db.session, f, now, profiles=current_ports().profiles,
                                                                  per_page=100000))
        return _answer(f, **body)

    @bp.route("/reports/service-times")
    @token_required
    def report_service_times():
        f = _filter()
        now = current_ports().clock.now()
        return _answer(f, times=table_json(service_times.times_table(db.session, f, now)),
                       appointments=service_times.appointment_counts(db.session, f, now))

    @bp.route("/reports/appointments")
    @token_required
    def report_appointments():
        by = _group_by(("counter",) + BUCKETS, "month")
        f = _filter()
        now = current_ports().clock.now()
        if by == "counter":
            t = service_times.counter_table(db.session, f, now)
            totals = service_times.appointment_counts(db.session, f, now)
        else:  # the series' own totals: the outcomes are counted once
            t = service_times.appointment_series(db.session, f.with_(bucket=by), now)
            totals = service_times.outcome_summary(t.totals)
        return _answer(f, group_by=by, table=table_json(t), totals=totals)

    @bp.route("/reports/officers")
    @token_required
    def report_officers():
        f = _filter()
        return _answer(f, table=table_json(activity.officer_table(db.session, f, per_page=None)))

    @bp.route("/reports/dashboard")
    @token_required
    def report_dashboard():
        f = _filter()
        page = pages.dashboard(db.session, f, _ctx())
        return _answer(f, figures={k: _value(v) for k, _, v in page.figures},
                       tables={t.name: table_json(t) for t in page.tables})

    @bp.route("/reports/monthly")
    @token_required
    def report_monthly():
        from ra.auth.policy import require

        require(P.is_ru_wide(actor()))
        if not request.args.get("month"):
            raise UserError(_l("Give the month as YYYY-MM."), code="bad_month", field="month")
        report = monthly.build(db.session, parse_month(request.args["month"]))
        return jsonify({"month": report.month.strftime("%Y-%m"), "by_kind": table_json(report.by_kind),
                        "by_organisation": table_json(report.table)})


def openapi_paths() -> dict:
    """The reports' part of the OpenAPI document (merged into ``ra.api.openapi``)."""
    from ra.enrollment.reference import District, OrganisationKind
    from ra.web import MAX_ID, MAX_PAGE

    err = {"$ref": "#/components/schemas/Error"}
    ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}

    def errors(*codes):
        text = {400: "Bad date, inverted range, unknown group_by or filter value", 401: "No or bad bearer token",
                403: "Not allowed to read reports", 404: "Organisation or officer not found (or not yours)"}
        return {str(c): {"description": text[c], "content": {"application/json": {"schema": err}}} for c in codes}

    def param(name, desc, schema=None):
        return {"name": name, "in": "query", "required": False, "description": desc,
                "schema": schema or {"type": "string"}}

    common = [
        param("from", "First local day (YYYY-MM-DD), with `to`: a custom range", {"type": "string", "format": "date"}),
        param("to", "Last local day, inclusive", {"type": "string", "format": "date"}),
        param("period", "day, week, month (default), quarter, year or custom",
              {"type": "string", "enum": ["day", "week", "month", "quarter", "year", "custom"]}),
        param("on", "A day inside the period (default: today)", {"type": "string", "format": "date"}),
        param("bucket", "Time buckets of series", {"type": "string", "enum": list(BUCKETS)}),
        param("organisation_id", "One organisation (a registrar: only their own)", ID),
        param("kind", "Organisation kind (DESIGN §6)", {"type": "string", "enum": [k.value for k in OrganisationKind]}),
        param("district", "District of Ulaanbaatar", {"type": "string", "enum": [d.value for d in District]}),
        param("officer_id", "RU officer", ID), param("profile", "Certificate profile"),
    ]

    def op(summary, extra=(), responses=(400, 401, 403, 404)):
        return {"get": {"summary": summary, "tags": ["reports"], "parameters": common + list(extra),
                        "responses": {"200": {"description": "The report as JSON: filters, rows, totals"},
                                      **errors(*responses)}}}

    group = lambda values, default: param("group_by", f"Grouping (default {default})",  # noqa: E731
                                          {"type": "string", "enum": list(values)})
    paging = [param("page", "Page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
              param("per_page", "Rows per page (more than 1000 gives 1000)",
                    {"type": "integer", "minimum": 1, "maximum": MAX_ID})]
    sorting = [param("sort", "Column to sort by (organisation tables)"),
               param("dir", "asc or desc", {"type": "string", "enum": ["asc", "desc"]})]
    return {
        "/reports/issuance": op("Certificates issued, grouped (by organisation: paged, 100 a page by default)",
                                [group(issuance.GROUP_BY, "month")] + paging + sorting),
        "/reports/issuance/certificates": op("The certificates issued, with their holders (paged)", paging),
        "/reports/revocations": op("Revocations and suspensions by reason or over time",
                                   [group(("reason",) + BUCKETS, "reason")]),
        "/reports/tokens": op("Tokens by state and movements in the period"),
        "/reports/expiring": op("Certificates expiring in 30/60/90 days, by organisation (paged), with the "
                                "totals; with organisation_id, its certificates to renew", paging + sorting),
        "/reports/service-times": op("Order and revocation service times (median, 90th percentile, "
                                     "24-hour breaches) and appointment no-shows"),
        "/reports/appointments": op("Counter appointments: attended, no-shows, cancelled",
                                    [group(("counter",) + BUCKETS, "month")]),
        "/reports/officers": op("Per-officer activity"),
        "/reports/dashboard": op("Every dashboard figure and table at once"),
        "/reports/monthly": {"get": {"summary": "The monthly report in the State CA's format", "tags": ["reports"],
                                     "parameters": [{"name": "month", "in": "query", "required": True,
                                                     "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}}],
                                     "responses": {"200": {"description": "By kind and by organisation"},
                                                   **errors(400, 401, 403)}}},
    }
