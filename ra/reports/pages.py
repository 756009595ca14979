"""Each report view as one object — its figures, charts and tables — built once and
shown by the page, the PDF, the XLSX, the CSV and the JSON API alike, so the
numbers agree everywhere."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup

from ra.i18n import _l
from ra.reports import activity, charts, expiry, issuance, revocations, service_times, stock
from ra.reports import tables as T
from ra.reports.labels import reason_label
from ra.reports.periods import ReportFilter
from ra.reports.tables import Table

TITLES = {
    "dashboard": _l("Reports dashboard"),
    "issuance": _l("Certificates issued"),
    "certificates": _l("Certificates issued, with their holders"),
    "revocations": _l("Revocations and suspensions"),
    "tokens": _l("Token stock"),
    "expiring": _l("Certificates expiring"),
    "service_times": _l("Service times"),
    "officers": _l("Per-officer activity"),
    "monthly": _l("Monthly report to the State CA"),
}
VIEWS = tuple(k for k in TITLES if k != "monthly")


@dataclass
class Context:
    """What a page needs besides the filter: the profiles (for their labels), the
    moment "now" (expiry and no-shows are relative to it), and the table state."""
    profiles: dict
    now: datetime
    group_by: str = "kind"
    sort: str | None = None
    desc: bool = True
    page: int = 1
    per_page: int | None = T.PER_PAGE


@dataclass
class ReportPage:
    name: str
    filter: ReportFilter
    tables: list[Table]
    charts: list[Markup] = field(default_factory=list)
    figures: list[tuple[str, object, object]] = field(default_factory=list)  # (key, label, value)
    group_by: str | None = None

    @property
    def title(self):
        return TITLES[self.name]

    @property
    def primary(self) -> Table:
        return self.tables[0]

    def figure(self, key: str):
        return next(v for k, _, v in self.figures if k == key)


def _issuance_chart(f: ReportFilter, table: Table) -> Markup:
    return charts.bar_chart(_l("Certificates issued"), [r["label"] for r in table.rows],
                            [charts.Series(str(_l("Issued")), [r["issued"] for r in table.rows])])


def _revocation_chart(table: Table) -> Markup:
    reasons = [c.key for c in table.columns[1:-1]]
    return charts.bar_chart(_l("Revocations and suspensions by reason"), [r["label"] for r in table.rows],
                            [charts.Series(str(reason_label(r)), [row[r] for row in table.rows]) for r in reasons])


def _token_chart(table: Table) -> Markup:
    return charts.hbar_chart(_l("Tokens by state"), [str(r["label"]) for r in table.rows],
                             [r["count"] for r in table.rows])


def _officer_chart(table: Table) -> Markup:
    rows = sorted(table.rows, key=lambda r: -r["total"])[:15]
    return charts.hbar_chart(_l("Per-officer activity"), [str(r["label"]) for r in rows], [r["total"] for r in rows])


def dashboard(session, f: ReportFilter, ctx: Context) -> ReportPage:
    series = issuance.grouped(session, f, f.bucket, profiles=ctx.profiles, per_page=None, sort="label",
                              desc=False)
    kinds = issuance.grouped(session, f, "kind", profiles=ctx.profiles, per_page=None)
    rev_series = revocations.series_table(session, f)
    reasons = revocations.reason_table(session, f, counts=rev_series.totals, per_page=None)
    states = stock.state_table(session, f)
    moves = stock.movement_table(session, f)
    expiring = expiry.by_organisation(session, f, ctx.now, per_page=10)
    times = service_times.times_table(session, f, ctx.now)
    appts = service_times.appointment_counts(session, f, ctx.now)
    officers = activity.officer_table(session, f, per_page=10)
    move = {r["key"]: r["count"] for r in moves.rows}
    rev = reasons.totals
    figures = [
        ("issued", _l("Certificates issued"), series.totals["issued"]),
        ("revoked", _l("Revoked"), rev["revoked"]),
        ("suspended", _l("Suspended"), rev["suspended"]),
        ("tokens_issued", _l("Tokens handed over"), move["handed_over"]),
        ("tokens_returned", _l("Tokens returned"), move["returned"]),
        ("expiring_30", _l("Expiring within 30 days"), expiring.totals["d30"]),
        ("expiring_60", _l("Expiring within 60 days"), expiring.totals["d60"]),
        ("expiring_90", _l("Expiring within 90 days"), expiring.totals["d90"]),
        ("approval_median_hours", _l("Median hours to approval"), times.rows[0]["median_hours"]),
        ("revocation_breaches", _l("Revocations over 24 hours"), times.rows[-1]["breaches"]),
        ("no_shows", _l("Appointment no-shows"), appts["no_show"]),
        ("no_show_rate", _l("No-show rate (%)"), appts["no_show_rate"]),
    ]
    return ReportPage("dashboard", f, [kinds, series, reasons, rev_series, states, moves, expiring, times, officers],
                      charts=[_issuance_chart(f, series), _revocation_chart(rev_series), _token_chart(states)],
                      figures=figures)


def issuance_page(session, f: ReportFilter, ctx: Context) -> ReportPage:
    by = ctx.group_by
    table = issuance.grouped(session, f, by, profiles=ctx.profiles, sort=ctx.sort, desc=ctx.desc, page=ctx.page,
                             per_page=ctx.per_page)
    series = table if by == f.bucket and ctx.per_page is None else issuance.grouped(
        session, f, f.bucket, profiles=ctx.profiles, per_page=None, sort="label", desc=False)
    return ReportPage("issuance", f, [table], charts=[_issuance_chart(f, series)],
                      figures=[("issued", _l("Certificates issued"), table.totals["issued"])], group_by=by)


def certificates_page(session, f: ReportFilter, ctx: Context) -> ReportPage:
    table = issuance.certificate_list(session, f, profiles=ctx.profiles, sort=ctx.sort, desc=ctx.desc,
                                      page=ctx.page, per_page=ctx.per_page or T.PER_PAGE)
    return ReportPage("certificates", f, [table], figures=[("issued", _l("Certificates issued"), table.total_rows)])


def revocations_page(session, f: ReportFilter, ctx: Context) -> ReportPage:
    series = revocations.series_table(session, f)
    reasons = revocations.reason_table(session, f, counts=series.totals, sort=ctx.sort, desc=ctx.desc,
                                       page=ctx.page, per_page=ctx.per_page)
    t = reasons.totals
    return ReportPage("revocations", f, [reasons, series], charts=[_revocation_chart(series)], figures=[
        ("revoked", _l("Revoked"), t["revoked"]), ("suspended", _l("Suspended"), t["suspended"]),
        ("released", _l("Suspension released"), t["released"])])


def tokens_page(session, f: ReportFilter, ctx: Context) -> ReportPage:
    states, moves = stock.state_table(session, f), stock.movement_table(session, f)
    move = {r["key"]: r["count"] for r in moves.rows}
    return ReportPage("tokens", f, [states, moves], charts=[_token_chart(states)], figures=[
        ("tokens", _l("Tokens"), states.totals["count"]),
        ("tokens_issued", _l("Tokens handed over"), move["handed_over"]),
        ("tokens_returned", _l("Tokens returned"), move["returned"])])


def expiring_page(session, f: ReportFilter, ctx: Context) -> ReportPage:
    orgs = expiry.by_organisation(session, f, ctx.now, sort=ctx.sort, desc=ctx.desc, page=ctx.page,
                                  per_page=ctx.per_page)
    tables = [orgs]
    if f.organisation_id is not None:  # one organisation: its holders to renew come first
        tables.insert(0, expiry.holder_table(session, f, ctx.now, profiles=ctx.profiles, page=ctx.page,
                                             per_page=ctx.per_page or T.PER_PAGE))
    t = orgs.totals
    return ReportPage("expiring", f, tables, charts=[charts.bar_chart(
        _l("Certificates expiring"), [str(_l("Within 30 days")), str(_l("Within 60 days")),
                                      str(_l("Within 90 days"))],
        [charts.Series(str(_l("Certificates")), [t["d30"], t["d60"], t["d90"]])], height=220)],
        figures=[(f"expiring_{d}", orgs.column(f"d{d}").label, t[f"d{d}"]) for d in expiry.HORIZONS])


def service_times_page(session, f: ReportFilter, ctx: Context) -> ReportPage:
    times = service_times.times_table(session, f, ctx.now)
    appts = service_times.appointment_series(session, f, ctx.now)
    counters = service_times.counter_table(session, f, ctx.now)
    chart = charts.bar_chart(_l("Counter appointments"), [r["label"] for r in appts.rows], [
        charts.Series(str(service_times.OUTCOMES[k]), [r[k] for r in appts.rows])
        for k in ("attended", "no_show")])
    rev = times.rows[-1]
    return ReportPage("service_times", f, [times, appts, counters], charts=[chart], figures=[
        ("approval_median_hours", _l("Median hours to approval"), times.rows[0]["median_hours"]),
        ("revocation_breaches", _l("Revocations over 24 hours"), rev["breaches"]),
        ("no_shows", _l("Appointment no-shows"), appts.totals["no_show"]),
        ("no_show_rate", _l("No-show rate (%)"), appts.totals["no_show_rate"])])


def officers_page(session, f: ReportFilter, ctx: Context) -> ReportPage:
    table = activity.officer_table(session, f, sort=ctx.sort, desc=ctx.desc, page=ctx.page, per_page=ctx.per_page)
    return ReportPage("officers", f, [table], charts=[_officer_chart(table)] if table.rows else [],
                      figures=[(k, activity.ACTIVITIES[k], table.totals[k]) for k in activity.ACTIVITIES])


BUILDERS = {"dashboard": dashboard, "issuance": issuance_page, "certificates": certificates_page,
            "revocations": revocations_page, "tokens": tokens_page, "expiring": expiring_page,
            "service_times": service_times_page, "officers": officers_page}


def build(name: str, session, f: ReportFilter, ctx: Context) -> ReportPage:
    return BUILDERS[name](session, f, ctx)
