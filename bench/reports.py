"""Benchmark: the reports on the national data set (PostgreSQL).

    # once: a database with the national data set (≈ 7 minutes)
    createdb -h 127.0.0.1 -U postgres ra_national
    export RA_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ra_national RA_INSTANCE_PATH=/tmp/ra_national
    flask --app ra db upgrade && flask --app ra demo --scale national && psql … -c "VACUUM ANALYZE"
    # then
    python bench/reports.py [--runs 20] [--plans plans.txt] [--xlsx-rows 200000]
    python bench/reports.py --only revocations,officers      # just those ratios

For each dashboard endpoint, in the same run: our endpoint timed server-side (the
Flask app in-process, no network: the request's whole work — bearer token, filter,
scope, queries, tables, JSON or HTML, the transaction's end), median of ``--runs``
runs after two warm-ups; and the bare aggregate SQL that computes the same numbers,
run with psycopg on one connection, median of as many runs. The two alternate, run
by run, so that both meet the same load from whatever else the machine is doing.
``ratio_<endpoint>`` = ours ÷ bare. The numbers of both are compared before timing.
Then the dashboard page, the dashboard over a year and ten years, and an XLSX export
of ≥ 200,000 rows in a child process, whose peak resident memory is read from the
kernel. The last line is JSON, with the load average at the start and the end.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MANAGER = "national.manager@ra.ub.gov.mn"
PERIOD = "created_at >= %(s)s AND created_at < %(e)s"

BARE = {
    "issuance_day": "SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'Asia/Ulaanbaatar'), 'YYYY-MM-DD'), "
                    "count(*) FROM certificate WHERE holder_id IS NOT NULL AND " + PERIOD + " GROUP BY 1",
    "issuance_kind": "SELECT o.kind, count(*) FROM certificate c JOIN holder h ON h.id = c.holder_id JOIN organisation o "
                     "ON o.id = h.organisation_id WHERE c.created_at >= %(s)s AND c.created_at < %(e)s GROUP BY o.kind",
    "issuance_organisation": "SELECT h.organisation_id, count(*) FROM certificate c JOIN holder h ON h.id = c.holder_id "
                             "WHERE c.created_at >= %(s)s AND c.created_at < %(e)s GROUP BY 1",
    "revoked_series": "SELECT revocation_reason, to_char(date_trunc('day', revoked_at AT TIME ZONE 'Asia/Ulaanbaatar'), "
                      "'YYYY-MM-DD'), count(*) FROM certificate WHERE status = 'revoked' AND revoked_at >= %(s)s "
                      "AND revoked_at < %(e)s GROUP BY 1, 2",
    "held_series": "SELECT action, to_char(date_trunc('day', at AT TIME ZONE 'Asia/Ulaanbaatar'), 'YYYY-MM-DD'), count(*) "
                   "FROM audit_record WHERE action IN ('certificate.suspended', 'certificate.valid') AND at >= %(s)s "
                   "AND at < %(e)s GROUP BY 1, 2",
    "token_states": "SELECT status, count(*) FROM token GROUP BY status",
    "handed_over": "SELECT count(*) FROM handover WHERE step = 'completed' AND completed_at >= %(s)s "
                   "AND completed_at < %(e)s",
    "token_moves": "SELECT action, count(*) FROM audit_record WHERE action IN ('token.returned', 'token.lost', "
                   "'token.damaged', 'token.suspended', 'token.in_stock', 'token.destroyed') AND at >= %(s)s "
                   "AND at < %(e)s GROUP BY action",
    "received": "SELECT count(*) FROM token WHERE " + PERIOD,
    "expiring": "SELECT h.organisation_id, sum((c.not_after <= %(now)s + interval '30 days')::int), "
                "sum((c.not_after <= %(now)s + interval '60 days')::int), count(*) FROM certificate c "
                "JOIN holder h ON h.id = c.holder_id WHERE c.status = 'valid' AND c.not_after > %(now)s AND "
                "c.not_after <= %(now)s + interval '90 days' AND NOT EXISTS (SELECT 1 FROM certificate n WHERE "
                "n.holder_id = c.holder_id AND n.profile = c.profile AND n.not_after > c.not_after AND n.status IN "
                "('valid', 'suspended')) GROUP BY 1",
    "approval_times": "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY x), percentile_cont(0.9) WITHIN GROUP "
                      "(ORDER BY x) FROM (SELECT extract(epoch FROM decided_at - submitted_at) x FROM certificate_order "
                      "WHERE status <> 'rejected' AND submitted_at IS NOT NULL AND decided_at >= %(s)s "
                      "AND decided_at < %(e)s) v",
    "issue_times": "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY x), percentile_cont(0.9) WITHIN GROUP "
                   "(ORDER BY x), percentile_cont(0.5) WITHIN GROUP (ORDER BY y), percentile_cont(0.9) WITHIN GROUP "
                   "(ORDER BY y) FROM (SELECT extract(epoch FROM issued_at - decided_at) x, extract(epoch FROM "
                   "issued_at - submitted_at) y FROM certificate_order WHERE status = 'issued' AND decided_at IS NOT "
                   "NULL AND submitted_at IS NOT NULL AND issued_at >= %(s)s AND issued_at < %(e)s) v",
    "revocation_times": "SELECT count(x), percentile_cont(0.5) WITHIN GROUP (ORDER BY x), percentile_cont(0.9) WITHIN "
                        "GROUP (ORDER BY x), count(*) FILTER (WHERE x > 86400), count(*) FILTER (WHERE x IS NULL AND "
                        "status NOT IN ('rejected', 'cancelled') AND received_at < %(now)s - interval '24 hours') FROM "
                        "(SELECT extract(epoch FROM published_at - received_at) x, status, received_at FROM "
                        "revocation_request WHERE reason NOT IN ('certificateHold', 'removeFromCRL') AND "
                        "received_at >= %(s)s AND received_at < %(e)s) v",
    "no_shows": "SELECT CASE WHEN a.status = 'attended' THEN 'attended' WHEN a.status = 'booked' THEN 'no_show' WHEN "
                "a.status = 'cancelled' AND a.cancelled_at >= s.starts_at THEN 'no_show' WHEN a.status = 'rescheduled' "
                "AND (SELECT min(n.created_at) FROM appointment n WHERE n.order_id = a.order_id AND n.id > a.id) >= "
                "s.starts_at THEN 'no_show' ELSE 'cancelled' END, count(*) FROM appointment_slot s JOIN appointment a "
                "ON a.slot_id = s.id WHERE s.starts_at >= %(s)s AND s.starts_at < %(e)s AND s.ends_at <= %(now)s "
                "GROUP BY 1",
    "officer_handovers": "SELECT officer_id, count(*) FROM handover WHERE step = 'completed' AND completed_at >= %(s)s "
                         "AND completed_at < %(e)s GROUP BY 1",
    "officer_audited": "SELECT action, actor_id, count(*) FROM audit_record WHERE action IN ('order.approved', "
                       "'order.rejected', 'token.unblocked') AND actor_id IS NOT NULL AND at >= %(s)s AND at < %(e)s "
                       "GROUP BY 1, 2",
    "officer_decisions": "SELECT approver_id, count(*) FROM revocation_approval WHERE at >= %(s)s AND at < %(e)s "
                         "GROUP BY 1",
}
# Which bare queries compute the numbers of which endpoint.
ENDPOINTS = {
    "dashboard": ("/api/v1/reports/dashboard", list(BARE)),
    "issuance_kind": ("/api/v1/reports/issuance?group_by=kind", ["issuance_kind"]),
    "issuance_day": ("/api/v1/reports/issuance?group_by=day", ["issuance_day"]),
    "issuance_organisation": ("/api/v1/reports/issuance?group_by=organisation", ["issuance_organisation"]),
    "revocations": ("/api/v1/reports/revocations?group_by=day", ["revoked_series", "held_series"]),
    "tokens": ("/api/v1/reports/tokens", ["token_states", "handed_over", "token_moves", "received"]),
    "expiring": ("/api/v1/reports/expiring", ["expiring"]),
    "service_times": ("/api/v1/reports/service-times", ["approval_times", "issue_times", "revocation_times",
                                                         "no_shows"]),
    "officers": ("/api/v1/reports/officers", ["officer_handovers", "officer_audited", "officer_decisions"]),
}


def timed_ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def median_ms(fn, runs: int) -> float:
    for _ in range(2):
        fn()
    return statistics.median(timed_ms(fn) for _ in range(runs))


def paired_medians_ms(ours, bare, runs: int) -> tuple[float, float]:
    """Our endpoint and its bare SQL run alternately, after two warm-ups each, so that
    both meet the same background load (the machine is shared); the median of each."""
    for _ in range(2):
        ours()
        bare()
    pairs = [(timed_ms(ours), timed_ms(bare)) for _ in range(runs)]
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def machine(conn) -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    mem = next((int(ln.split()[1]) // 1024 for ln in open("/proc/meminfo") if ln.startswith("MemTotal")), 0)
    settings = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in ("server_version", "shared_buffers", "work_mem",
                                                                     "max_parallel_workers_per_gather", "jit")}
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_mb": mem, "python": platform.python_version(), **settings}


def app_and_client():
    import sqlalchemy as sa

    from ra import create_app
    from ra.auth.models import User
    from ra.auth.service import issue_api_token
    from ra.extensions import db

    app = create_app()
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == MANAGER)).scalar_one_or_none()
        if user is None:
            raise SystemExit("no national data set here: run `flask --app ra demo --scale national` first")
        token = issue_api_token(db.session, "bench", user)
        db.session.commit()
    return app, app.test_client(), {"Authorization": f"Bearer {token}"}


def html_client(app):
    from tests.conftest import csrf_from

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    resp = client.post("/login", data={"email": MANAGER, "password": "demo-password-2026",
                                       "csrf_token": csrf_from(page)})
    assert resp.status_code in (302, 303), "cannot log in as the national manager"
    return client


def check_same_numbers(client, headers, conn, params) -> None:
    """Ours and the bare SQL agree before anything is timed."""
    figures = client.get("/api/v1/reports/dashboard", headers=headers).get_json()["figures"]
    issued = sum(n for _, n in conn.execute(BARE["issuance_day"], params))
    held = sum(n for a, _, n in conn.execute(BARE["held_series"], params) if a == "certificate.suspended")
    revoked = sum(n for *_, n in conn.execute(BARE["revoked_series"], params))
    expiring = conn.execute(BARE["expiring"], params).fetchall()
    handed = conn.execute(BARE["handed_over"], params).fetchone()[0]
    assert figures["issued"] == issued, (figures["issued"], issued)
    assert (figures["revoked"], figures["suspended"], figures["tokens_issued"]) == (revoked, held, handed)
    assert figures["expiring_30"] == sum(r[1] for r in expiring) and figures["expiring_90"] == sum(r[3] for r in expiring)


def explain(conn, params, path: str) -> None:
    with open(path, "w") as out:
        for name, sql in BARE.items():
            out.write(f"-- {name}\n")
            for (line,) in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params):
                out.write(line + "\n")
            out.write("\n")


def xlsx_child(query: str) -> None:
    """Runs in a child process: one XLSX export, then the process's peak resident
    memory as the kernel counts it (interpreter, app and export together)."""
    app, _, _ = app_and_client()
    client = html_client(app)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    resp = client.get(f"/reports/certificates?{query}&format=xlsx")
    size = len(resp.data)
    elapsed = time.perf_counter() - t
    assert resp.status_code == 200
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-reports-export.xlsx"
    out.write_bytes(resp.data)
    print(json.dumps({"seconds": round(elapsed, 1), "bytes": size, "rss_before_mb": round(before, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "file": str(out)}))


def xlsx_range(conn, rows: int) -> tuple[str, int]:
    """The shortest range of whole months, ending last month, with at least ``rows`` certificates."""
    by_month = conn.execute("SELECT date_trunc('month', created_at AT TIME ZONE 'Asia/Ulaanbaatar')::date, count(*) "
                            "FROM certificate WHERE holder_id IS NOT NULL GROUP BY 1 ORDER BY 1 DESC").fetchall()
    total, start = 0, None
    end = by_month[1][0]
    for month, n in by_month[1:]:
        total, start = total + n, month
        if total >= rows:
            break
    last = (end.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return f"from={start.isoformat()}&to={last.isoformat()}", total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--plans", help="write EXPLAIN (ANALYZE, BUFFERS) of the bare queries here")
    parser.add_argument("--xlsx-rows", type=int, default=200_000)
    parser.add_argument("--only", help="comma-separated endpoints (%s): just their ratios" % ", ".join(ENDPOINTS))
    parser.add_argument("--xlsx-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only and not set(args.only.split(",")) <= set(ENDPOINTS):
        parser.error("--only takes endpoints among: " + ", ".join(ENDPOINTS))
    if args.xlsx_child:
        return xlsx_child(args.xlsx_child)

    import psycopg

    from ra.ports import Clock
    from ra.reports.periods import period_bounds, local_midnight

    url = os.environ["RA_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    app, client, headers = app_and_client()
    html = html_client(app)
    today = Clock().today()
    start, end = period_bounds("month", today)  # the dashboard's default period
    only = [n for n in (args.only or "").split(",") if n]
    load = [os.getloadavg()[0]]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET jit = off")  # as our reports do wherever a statement could be JIT-compiled
        info = machine(conn)
        params = {"s": local_midnight(start), "e": local_midnight(end + timedelta(days=1)), "now": Clock().now()}
        check_same_numbers(client, headers, conn, params)
        results = compare(client, headers, conn, params, only or list(ENDPOINTS), args.runs)
        if only:
            return report(args, info, (start, end), results, load)
        page = median_ms(lambda: _ok(html.get("/reports/")), args.runs)
        results["dashboard_html"] = {"ours_ms": round(page, 1), "bare_ms": results["dashboard"]["bare_ms"],
                                     "ratio": round(page / results["dashboard"]["bare_ms"], 2)}
        year = median_ms(lambda: _ok(client.get("/api/v1/reports/dashboard?period=year", headers=headers)), 5)
        decade = median_ms(lambda: _ok(client.get(f"/api/v1/reports/dashboard?from={today.year - 9}-01-01&to="
                                                  f"{today.isoformat()}", headers=headers)), 3)
        if args.plans:
            explain(conn, params, args.plans)
        query, rows = xlsx_range(conn, args.xlsx_rows)
    child = subprocess.run([sys.executable, __file__, "--xlsx-child", query], capture_output=True, text=True,
                           env=os.environ)
    export = json.loads(child.stdout.strip().splitlines()[-1]) if child.returncode == 0 else {"error": child.stderr[-2000:]}
    if "file" in export:
        from openpyxl import load_workbook
        ws = load_workbook(export["file"], read_only=True).worksheets[0]
        export["rows_in_file"] = sum(1 for r in ws.iter_rows(values_only=True)
                                     if len(r) > 1 and r[1] and str(r[0])[:2] == "20")
        export["rows_expected"] = rows

    print(f"\nfull dashboard, this year: {year:.0f} ms (median of 5); ten years: {decade:.0f} ms (median of 3)")
    print(f"XLSX export: {export}")
    report(args, info, (start, end), results, load, dashboard_year_ms=round(year, 1),
           dashboard_ten_years_ms=round(decade, 1), xlsx=export)


def compare(client, headers, conn, params, names: list[str], runs: int) -> dict:
    """Each endpoint next to the bare SQL that computes its numbers."""
    results = {}
    for name in names:
        path, bare = ENDPOINTS[name]
        ours, limit = paired_medians_ms(lambda: _ok(client.get(path, headers=headers)),
                                        lambda: [conn.execute(BARE[b], params).fetchall() for b in bare], runs)
        results[name] = {"ours_ms": round(ours, 1), "bare_ms": round(limit, 1), "ratio": round(ours / limit, 2)}
    return results


def report(args, info: dict, period: tuple, results: dict, load: list, **extra) -> None:
    """The table, then the JSON line, with the 1-minute load average at the start and
    the end (other work on the machine moves every figure)."""
    load.append(os.getloadavg()[0])
    print(f"| endpoint (period: this month) | ours ms (median of {args.runs}) | bare SQL ms | ratio |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['ours_ms']} | {r['bare_ms']} | **{r['ratio']}** |")
    print(f"load average (1 min): {load[0]:.2f} at the start, {load[-1]:.2f} at the end")
    print(json.dumps({"machine": info, "load_average_1min": [round(x, 2) for x in load],
                      "period": [d.isoformat() for d in period], "results": results,
                      **{f"ratio_{k}": v["ratio"] for k, v in results.items()}, **extra}))


def _ok(resp):
    assert resp.status_code == 200, resp.status_code
    return resp


if __name__ == "__main__":
    main()
