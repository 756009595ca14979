"""Every number on the dashboard against an independent count: a direct SQL query
written here (or the raw rows, reduced here in Python), on the small scenario
whose answers are also known by construction (tests/reports/scenario.py)."""
from __future__ import annotations

import re
import statistics
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ra.db import UTCDateTime
from ra.extensions import db
from tests.enrollment.helpers import login
from tests.reports import scenario as S
from tests.reports.conftest import api_headers

START = S.local(2026, 10, 1, 0, 0)          # local midnight, 1 October
END = S.local(2026, 11, 1, 0, 0)            # local midnight after 31 October
Q = "from=2026-10-01&to=2026-10-31"


def sql(app, text: str, **params):
    stmt = sa.text(text)
    binds = [sa.bindparam(k, type_=UTCDateTime) for k, v in params.items() if hasattr(v, "tzinfo")]
    if binds:
        stmt = stmt.bindparams(*binds)
    with app.app_context():
        return db.session.execute(stmt, params).all()


def period(**kw):
    return {"s": START, "e": END, **kw}


@pytest.fixture
def api(app, client, scenario):
    headers = api_headers(app, scenario.manager_email)

    def get(path):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()
    return get


def rows_by(table: dict, key: str = "key", value: str = "issued") -> dict:
    return {r[key]: r[value] for r in table["rows"]}


# -- issuance -----------------------------------------------------------------------------------------------

def test_issuance_counts_agree_with_sql_by_every_grouping(app, api, scenario):
    base = ("FROM certificate c JOIN holder h ON h.id = c.holder_id JOIN organisation o ON o.id = h.organisation_id "
            "WHERE c.created_at >= :s AND c.created_at < :e")
    total = sql(app, f"SELECT count(*) {base}", **period())[0][0]
    assert total == 6                         # known: c1 c2 c3 c7 c8 c12; c4 (00:30 on 1 Nov local) is out
    by_kind = dict(sql(app, f"SELECT o.kind, count(*) {base} GROUP BY o.kind", **period()))
    assert by_kind == {"khoroo": 4, "school": 2}
    out = api(f"/api/v1/reports/issuance?{Q}&group_by=kind")
    assert out["total"] == total and rows_by(out["table"]) == by_kind

    by_district = dict(sql(app, f"SELECT o.district, count(*) {base} GROUP BY o.district", **period()))
    assert rows_by(api(f"/api/v1/reports/issuance?{Q}&group_by=district")["table"]) == by_district

    by_org = dict(sql(app, f"SELECT o.id, count(*) {base} GROUP BY o.id", **period()))
    assert by_org == {scenario.org["A"]: 3, scenario.org["B"]: 2, scenario.org["C"]: 1}
    assert rows_by(api(f"/api/v1/reports/issuance?{Q}&group_by=organisation")["table"]) == by_org

    by_officer = dict(sql(app, "SELECT ho.officer_id, count(*) FROM certificate c LEFT JOIN handover ho "
                               "ON ho.certificate_id = c.id WHERE c.holder_id IS NOT NULL AND c.created_at >= :s "
                               "AND c.created_at < :e GROUP BY ho.officer_id", **period()))
    assert by_officer == {scenario.o1: 3, scenario.o2: 2, None: 1}
    assert rows_by(api(f"/api/v1/reports/issuance?{Q}&group_by=officer")["table"]) == by_officer

    by_profile = dict(sql(app, f"SELECT c.profile, count(*) {base} GROUP BY c.profile", **period()))
    assert rows_by(api(f"/api/v1/reports/issuance?{Q}&group_by=profile")["table"]) == by_profile

    by_day = {}
    for (created,) in sql(app, f"SELECT c.created_at {base}", **period()):
        created = created if isinstance(created, str) else created.astimezone(S.LOCAL_TZ).isoformat()
        by_day.setdefault(_local_day(created), 0)
        by_day[_local_day(created)] += 1
    days = rows_by(api(f"/api/v1/reports/issuance?{Q}&group_by=day")["table"])
    assert len(days) == 31 and {k: v for k, v in days.items() if v} == by_day
    assert days["2026-10-31"] == 1            # 23:30 local on the 31st is the 31st, not the 1st of November


def test_the_organisation_table_sorts_and_pages_like_sql(app, api, scenario):
    """Sorted by count, the page is cut before the organisations are named; sorted by
    name, after. Either way each page shows the rows SQL puts there, and every page
    carries the same number of organisations and the same total."""
    counted = sql(app, "SELECT o.id, o.name, count(*) FROM certificate c JOIN holder h ON h.id = c.holder_id "
                       "JOIN organisation o ON o.id = h.organisation_id WHERE c.created_at >= :s AND c.created_at < :e "
                       "GROUP BY o.id, o.name", **period())
    by_count = [i for i, _, n in sorted(counted, key=lambda r: (-r[2], r[0]))]
    by_name = [i for i, name, _ in sorted(counted, key=lambda r: (r[1], r[0]))]
    assert by_count == [scenario.org["A"], scenario.org["B"], scenario.org["C"]]

    def page(query: str) -> tuple[list, int, int]:
        t = api(f"/api/v1/reports/issuance?{Q}&group_by=organisation&per_page=2&{query}")["table"]
        return [r["key"] for r in t["rows"]], t["total_rows"], t["totals"]["issued"]

    assert page("page=1") == (by_count[:2], 3, 6)
    assert page("page=2") == (by_count[2:], 3, 6)
    assert page("sort=issued&dir=asc") == (by_count[::-1][:2], 3, 6)
    assert page("sort=name&dir=asc&page=2") == (by_name[2:], 3, 6)
    assert page("sort=name&dir=desc") == (by_name[::-1][:2], 3, 6)
    assert page("page=3") == ([], 3, 6)       # past the last page: no rows, the same totals


def _local_day(value: str) -> str:
    from datetime import datetime, timezone
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:                     # SQLite keeps naive UTC
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(S.LOCAL_TZ).date().isoformat()


def test_filters_narrow_the_counts_like_sql(app, api, scenario):
    base = ("FROM certificate c JOIN holder h ON h.id = c.holder_id JOIN organisation o ON o.id = h.organisation_id "
            "LEFT JOIN handover ho ON ho.certificate_id = c.id WHERE c.created_at >= :s AND c.created_at < :e")
    cases = {
        "kind=school": ("AND o.kind = 'school'", 2),
        "district=sukhbaatar": ("AND o.district = 'sukhbaatar'", 3),
        f"organisation_id={scenario.org['C']}": (f"AND o.id = {scenario.org['C']}", 1),
        f"officer_id={scenario.o2}": (f"AND ho.officer_id = {scenario.o2}", 2),
        "profile=authentication": ("AND c.profile = 'authentication'", 1),
        f"kind=khoroo&officer_id={scenario.o1}": (f"AND o.kind = 'khoroo' AND ho.officer_id = {scenario.o1}", 3),
    }
    for args, (where, known) in cases.items():
        expected = sql(app, f"SELECT count(*) {base} {where}", **period())[0][0]
        assert expected == known, args
        assert api(f"/api/v1/reports/issuance?{Q}&{args}&group_by=kind")["total"] == expected, args


def test_drill_down_lists_the_holders_behind_a_count(app, api, scenario):
    rows = sql(app, "SELECT c.serial FROM certificate c JOIN holder h ON h.id = c.holder_id "
                    "WHERE h.organisation_id = :o AND c.created_at >= :s AND c.created_at < :e",
               **period(o=scenario.org["A"]))
    listed = api(f"/api/v1/reports/issuance/certificates?{Q}&organisation_id={scenario.org['A']}")
    assert sorted(r["serial"] for r in listed["table"]["rows"]) == sorted(s for (s,) in rows)
    assert listed["total"] == 3 and all(r["holder"] for r in listed["table"]["rows"])


# -- revocations, tokens, expiry -----------------------------------------------------------------------------

def test_revocations_and_holds_by_reason_agree_with_sql(app, api, scenario):
    revoked = dict(sql(app, "SELECT revocation_reason, count(*) FROM certificate WHERE status = 'revoked' "
                            "AND revoked_at >= :s AND revoked_at < :e GROUP BY revocation_reason", **period()))
    assert revoked == {"affiliationChanged": 1, "keyCompromise": 1}   # the September one is out
    audited = dict(sql(app, "SELECT action, count(*) FROM audit_record WHERE action IN ('certificate.suspended', "
                            "'certificate.valid') AND at >= :s AND at < :e GROUP BY action", **period()))
    expected = {**revoked, "certificateHold": audited.get("certificate.suspended", 0),
                "removeFromCRL": audited.get("certificate.valid", 0)}
    assert expected["certificateHold"] == 2 and expected["removeFromCRL"] == 1
    out = api(f"/api/v1/reports/revocations?{Q}")
    assert {r["key"]: r["count"] for r in out["table"]["rows"]} == expected
    monthly = api(f"/api/v1/reports/revocations?{Q}&group_by=month")["table"]
    assert monthly["totals"]["total"] == sum(expected.values())


def test_token_stock_and_movements_agree_with_sql(app, api, scenario):
    states = dict(sql(app, "SELECT status, count(*) FROM token GROUP BY status"))
    out = api(f"/api/v1/reports/tokens?{Q}")
    assert {r["key"]: r["count"] for r in out["by_state"]["rows"] if r["count"]} == states
    handed = sql(app, "SELECT count(*) FROM handover WHERE step = 'completed' AND completed_at >= :s "
                      "AND completed_at < :e", **period())[0][0]
    moves = dict(sql(app, "SELECT action, count(*) FROM audit_record WHERE action LIKE 'token.%' AND at >= :s "
                          "AND at < :e GROUP BY action", **period()))
    received = sql(app, "SELECT count(*) FROM token WHERE created_at >= :s AND created_at < :e", **period())[0][0]
    got = {r["key"]: r["count"] for r in out["movements"]["rows"]}
    assert (handed, received) == (5, 4)
    assert got["handed_over"] == handed and got["received"] == received
    for state in ("returned", "lost", "damaged", "suspended", "in_stock", "destroyed"):
        assert got[state] == moves.get(f"token.{state}", 0), state
    assert (got["returned"], got["lost"], got["suspended"]) == (1, 1, 2)


def test_expiring_in_30_60_90_days_agrees_with_sql(app, api, scenario):
    now = S.NOW
    rows = sql(app, "SELECT h.organisation_id, c.not_after FROM certificate c JOIN holder h ON h.id = c.holder_id "
                    "WHERE c.status = 'valid' AND c.not_after > :now AND c.not_after <= :h90 AND NOT EXISTS ("
                    "SELECT 1 FROM certificate n WHERE n.holder_id = c.holder_id AND n.profile = c.profile AND "
                    "n.not_after > c.not_after AND n.status IN ('valid', 'suspended'))",
               now=now, h90=now + timedelta(days=90))
    expected = {}
    for org_id, not_after in rows:
        left = _as_dt(not_after) - now
        slot = expected.setdefault(org_id, [0, 0, 0])
        for i, limit in enumerate((30, 60, 90)):
            slot[i] += left <= timedelta(days=limit)
    assert expected == {scenario.org["A"]: [1, 2, 2], scenario.org["B"]: [0, 0, 1], scenario.org["C"]: [1, 1, 1]}
    out = api(f"/api/v1/reports/expiring?{Q}")["by_organisation"]
    assert {r["key"]: [r["d30"], r["d60"], r["d90"]] for r in out["rows"]} == expected
    assert out["totals"] == {"d30": 2, "d60": 3, "d90": 4}

    def page(query: str) -> tuple[list, int, dict]:
        t = api(f"/api/v1/reports/expiring?{Q}&per_page=2&{query}")["by_organisation"]
        return [r["key"] for r in t["rows"]], t["total_rows"], t["totals"]

    a, b, c = scenario.org["A"], scenario.org["B"], scenario.org["C"]
    totals = out["totals"]
    assert page("page=1") == ([a, c], 3, totals)                   # by d30, most first; a tie goes by id
    assert page("sort=d90&dir=desc&page=2") == ([max(b, c)], 3, totals)
    assert page("sort=d60&dir=asc") == ([b, c], 3, totals)
    names = dict(sql(app, "SELECT id, name FROM organisation WHERE id IN (:a, :b, :c)", a=a, b=b, c=c))
    assert page("sort=name&dir=asc&page=2") == ([sorted(names, key=lambda k: (names[k], k))[2]], 3, totals)
    assert page("page=3") == ([], 3, totals)


# -- service times, appointments, officers ------------------------------------------------------------------

def _as_dt(v):
    """A timestamp as read by a text query: SQLite gives naive UTC text."""
    from datetime import datetime, timezone
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v


def _quantiles(values):
    values = sorted(values)
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[8]


def test_service_times_median_and_90th_percentile_agree_with_raw_rows(app, api, scenario):
    out = {r["key"]: r for r in api(f"/api/v1/reports/service-times?{Q}")["times"]["rows"]}
    approval = [(_as_dt(d) - _as_dt(s)).total_seconds() / 3600 for s, d in sql(
        app, "SELECT submitted_at, decided_at FROM certificate_order WHERE status <> 'rejected' AND submitted_at IS "
             "NOT NULL AND decided_at >= :s AND decided_at < :e", **period())]
    issuance = [(_as_dt(i) - _as_dt(d)).total_seconds() / 3600 for d, i in sql(
        app, "SELECT decided_at, issued_at FROM certificate_order WHERE status = 'issued' AND decided_at IS NOT NULL "
             "AND issued_at >= :s AND issued_at < :e", **period())]
    for key, values in (("approval", approval), ("issuance", issuance)):
        median, p90 = _quantiles(values)
        assert out[key]["count"] == len(values)
        assert out[key]["median_hours"] == pytest.approx(median, abs=0.01), key
        assert out[key]["p90_hours"] == pytest.approx(p90, abs=0.01), key

    rev = sql(app, "SELECT received_at, published_at, status FROM revocation_request WHERE reason NOT IN "
                   "('certificateHold', 'removeFromCRL') AND received_at >= :s AND received_at < :e", **period())
    published = [(_as_dt(p) - _as_dt(r)).total_seconds() / 3600 for r, p, _ in rev if p is not None]
    late = sum(1 for h in published if h > 24)
    overdue = sum(1 for r, p, st in rev if p is None and st not in ("rejected", "cancelled")
                  and S.NOW - _as_dt(r) > timedelta(hours=24))
    assert sorted(published) == [3.0, 26.0] and (late, overdue) == (1, 1)
    r = out["revocation"]
    assert r["count"] == 2 and r["breaches"] == late + overdue == 2
    assert r["median_hours"] == pytest.approx(statistics.median(published))


def test_appointment_no_shows_agree_with_raw_rows(app, api, scenario):
    rows = sql(app, "SELECT a.id, a.order_id, a.status, a.cancelled_at, s.starts_at FROM appointment a JOIN "
                    "appointment_slot s ON s.id = a.slot_id WHERE s.starts_at >= :s AND s.starts_at < :e "
                    "AND s.ends_at <= :now", **period(now=S.NOW))
    created = {i: _as_dt(c) for i, o, c in sql(app, "SELECT id, order_id, created_at FROM appointment")}
    orders = {i: o for i, o, _ in sql(app, "SELECT id, order_id, created_at FROM appointment")}
    counts = {"attended": 0, "no_show": 0, "cancelled": 0}
    for aid, order_id, status, cancelled_at, starts in rows:
        starts = _as_dt(starts)
        later = [created[i] for i in sorted(created) if i > aid and orders[i] == order_id]
        if status == "attended":
            counts["attended"] += 1
        elif status == "booked" or (status == "cancelled" and _as_dt(cancelled_at) >= starts) or \
                (status == "rescheduled" and later and later[0] >= starts):
            counts["no_show"] += 1
        else:
            counts["cancelled"] += 1
    assert counts == {"attended": 2, "no_show": 2, "cancelled": 1}
    got = api(f"/api/v1/reports/service-times?{Q}")["appointments"]
    assert {k: got[k] for k in counts} == counts and got["no_show_rate"] == 50.0
    for by in ("day", "month", "counter"):  # the appointments report, each way it is grouped
        report = api(f"/api/v1/reports/appointments?{Q}&group_by={by}")
        assert {k: report["totals"][k] for k in counts} == counts and report["totals"]["no_show_rate"] == 50.0
        assert {k: sum(r[k] for r in report["table"]["rows"]) for k in counts} == counts
        if by != "counter":
            assert {k: report["table"]["totals"][k] for k in counts} == counts


def test_per_officer_activity_agrees_with_sql(app, api, scenario):
    handovers = dict(sql(app, "SELECT officer_id, count(*) FROM handover WHERE step = 'completed' AND "
                              "completed_at >= :s AND completed_at < :e GROUP BY officer_id", **period()))
    audited = {a: dict(sql(app, "SELECT actor_id, count(*) FROM audit_record WHERE action = :a AND actor_id IS NOT "
                                "NULL AND at >= :s AND at < :e GROUP BY actor_id", **period(a=a)))
               for a in ("order.approved", "order.rejected", "token.unblocked")}
    decisions = dict(sql(app, "SELECT approver_id, count(*) FROM revocation_approval WHERE at >= :s AND at < :e "
                              "GROUP BY approver_id", **period()))
    assert audited["token.unblocked"] == {scenario.o1: 2}      # the remote unblock is the holder's, not an officer's
    rows = {r["key"]: r for r in api(f"/api/v1/reports/officers?{Q}")["table"]["rows"]}
    for officer in (scenario.o1, scenario.o2):
        r = rows[officer]
        assert r["handovers"] == handovers.get(officer, 0)
        assert r["approvals"] == audited["order.approved"].get(officer, 0)
        assert r["rejections"] == audited["order.rejected"].get(officer, 0)
        assert r["unblocks"] == audited["token.unblocked"].get(officer, 0)
        assert r["revocation_decisions"] == decisions.get(officer, 0)
    assert rows[scenario.o1]["handovers"] == 3 and rows[scenario.o2]["handovers"] == 2
    names = dict(sql(app, "SELECT id, coalesce(nullif(full_name, ''), email) FROM user_account WHERE id IN (:a, :b)",
                     a=scenario.o1, b=scenario.o2))
    assert {k: rows[k]["label"] for k in names} == names == {scenario.o1: "Officer One", scenario.o2: "Officer Two"}


def test_a_report_asked_again_for_another_period_counts_that_period(app, api, scenario):
    """A statement is built once per filter shape and reused with the period as
    parameters: switching the period must switch the numbers."""
    wider = (S.local(2026, 9, 1, 0, 0), S.local(2026, 12, 1, 0, 0), "from=2026-09-01&to=2026-11-30")
    seen = []
    for start, end, query in ((START, END, Q), wider, (START, END, Q)):
        bounds = {"s": start, "e": end}
        revoked = dict(sql(app, "SELECT revocation_reason, count(*) FROM certificate WHERE status = 'revoked' AND "
                                "revoked_at >= :s AND revoked_at < :e GROUP BY revocation_reason", **bounds))
        by_reason = {r["key"]: r["count"] for r in api(f"/api/v1/reports/revocations?{query}")["table"]["rows"]}
        assert {k: by_reason.get(k) for k in revoked} == revoked
        by_org = dict(sql(app, "SELECT h.organisation_id, count(*) FROM certificate c JOIN holder h "
                               "ON h.id = c.holder_id WHERE c.created_at >= :s AND c.created_at < :e "
                               "GROUP BY h.organisation_id", **bounds))
        assert rows_by(api(f"/api/v1/reports/issuance?{query}&group_by=organisation")["table"]) == by_org
        handovers = dict(sql(app, "SELECT officer_id, count(*) FROM handover WHERE step = 'completed' AND "
                                  "completed_at >= :s AND completed_at < :e GROUP BY officer_id", **bounds))
        officers = api(f"/api/v1/reports/officers?{query}")["table"]["rows"]
        assert {r["key"]: r["handovers"] for r in officers if r["handovers"]} == handovers
        seen.append((sum(revoked.values()), sum(by_org.values())))
    assert seen[0] == seen[2] == (2, 6) and seen[1][0] > 2 and seen[1][1] > 6   # September and November count


# -- the screen shows what the API says -----------------------------------------------------------------------

def test_the_dashboard_page_shows_the_same_figures_as_the_api(app, client, api, scenario):
    figures = api(f"/api/v1/reports/dashboard?{Q}")["figures"]
    assert (figures["issued"], figures["revoked"], figures["suspended"]) == (6, 2, 2)
    assert (figures["tokens_issued"], figures["tokens_returned"]) == (5, 1)
    assert (figures["expiring_30"], figures["expiring_60"], figures["expiring_90"]) == (2, 3, 4)
    assert (figures["no_shows"], figures["revocation_breaches"]) == (2, 2)
    login(client, scenario.manager_email)
    page = client.get(f"/reports/?{Q}").get_data(as_text=True)
    shown = dict(re.findall(r'data-figure="(\w+)"><dt>[^<]*</dt><dd>([^<]*)</dd>', page))
    for key, value in figures.items():
        expected = "—" if value is None else (f"{value:.1f}" if isinstance(value, float) else str(value))
        assert shown[key].replace("\xa0", "") == expected, key
    assert "<svg" in page and "<script" not in page
