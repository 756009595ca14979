"""The two things reports *do*: remind registrars of certificates to renew, and send
the monthly report to the State CA's format to the RU's managers. Both queue mail
in the outbox (sent after the caller commits) and leave an audit record; neither
commits. Reading is in the query modules."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from ra import audit
from ra.auth.policy import require
from ra.enrollment.models import Organisation
from ra.enrollment.orders_service import registrar_locale
from ra.localtime import local_date
from ra.reports import exports, expiry, monthly
from ra.reports.pages import ReportPage
from ra.reports.periods import ReportFilter
from ra.reports.policy import can_send_expiry_reminders, managers

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class RemindersSent:
    organisations: int
    certificates: int


def send_expiry_reminders(session, actor, f: ReportFilter, *, ports) -> RemindersSent:
    """One mail per organisation to its registration officer, in their language, with
    the holders whose certificates end within 90 days and are not yet renewed
    (DESIGN §3.2: renewal is a new order before expiry)."""
    require(can_send_expiry_reminders(actor))
    now = ports.clock.now()
    by_org: dict[int, list[dict]] = {}
    for row in expiry.holders_to_renew(session, f, now, profiles=ports.profiles):
        row["expires_on"] = local_date(row["not_after"])
        by_org.setdefault(row["organisation_id"], []).append(row)
    for org_id, rows in by_org.items():
        org = session.get(Organisation, org_id)
        ports.notifier.notify(session, to=org.registrar_email, locale=registrar_locale(session, org),
                              template="report_expiring", context={"organisation": org, "rows": rows})
    sent = RemindersSent(len(by_org), sum(len(r) for r in by_org.values()))
    audit.record(session, actor, "report.expiry_reminders_sent", None,
                 {"organisations": sent.organisations, "certificates": sent.certificates, "filter": f.as_json()})
    return sent


@dataclass
class MonthlySent:
    report: monthly.MonthlyReport
    recipients: list[str]
    pdf: str          # stored names in the file store
    xlsx: str


def monthly_page(report: monthly.MonthlyReport) -> ReportPage:
    t = report.table.totals
    return ReportPage("monthly", report.filter, [report.by_kind, report.table], figures=[
        (k, c.label, t[k]) for k, c in ((c.key, c) for c in report.table.columns[3:])])


def send_monthly_report(session, actor, month: date, *, ports, generated_by: str = "cron") -> MonthlySent:
    """The State CA's monthly report (counts by organisation kind and organisation:
    issued, revoked, suspended, tokens), as PDF and XLSX in Mongolian, e-mailed to
    every enabled RU manager. Meant for cron: ``flask --app ra reports monthly``."""
    report = monthly.build(session, month)
    page = monthly_page(report)
    meta = exports.Meta(title=page.title, filters=exports.describe_filter(session, report.filter, ports.profiles),
                        generated_at=ports.clock.now(), generated_by=generated_by)
    number = f"RPT-{month:%Y-%m}"
    pdf = exports.render_pdf(page, meta, documents=ports.documents, locale="mn", number=number)
    buf = io.BytesIO()
    exports.write_xlsx(page, meta, buf)
    pdf_name = ports.files.put(pdf, category="reports", extension="pdf")
    xlsx_name = ports.files.put(buf.getvalue(), category="reports", extension="xlsx")
    stem = f"state-ca-report-{month:%Y-%m}"
    attachments = [{"filename": f"{stem}.pdf", "content_type": "application/pdf", "stored_name": pdf_name},
                   {"filename": f"{stem}.xlsx", "content_type": XLSX, "stored_name": xlsx_name}]
    recipients = managers(session)
    for user in recipients:
        ports.notifier.notify(session, to=user.email, locale=user.locale, template="report_monthly",
                              context={"month": f"{month:%Y-%m}", "totals": report.table.totals,
                                       "organisations": len(report.table.rows)}, attachments=attachments)
    audit.record(session, actor, "report.monthly_sent", None, {
        "month": f"{month:%Y-%m}", "recipients": [u.email for u in recipients], "totals": report.table.totals,
        "pdf": pdf_name, "xlsx": xlsx_name})
    return MonthlySent(report, [u.email for u in recipients], pdf_name, xlsx_name)
