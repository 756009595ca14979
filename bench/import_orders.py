"""Benchmark: bulk import of 5,000 holders (and their orders) from XLSX.

    python bench/import_orders.py                      # SQLite, throwaway instance in a tmp dir
    RA_DATABASE_URL=postgresql+psycopg://… python bench/import_orders.py

Sets up its own instance (migrations, an active organisation walked through the
real onboarding services), then measures in the same run:
  * bare_read_s  — openpyxl alone reading every row of the file (read-only mode),
  * import_s     — our whole import: read, check every row, insert holders, orders
                   and their audit records, queue notices, commit,
  * ratio        — import_s / bare_read_s (lower is better; the issue aims at ≤ 3),
  * peak_mb      — Python heap peak during a second, identical import (tracemalloc,
                   measured apart so it does not slow the timed run),
  * annex_s      — rendering the numbered contract annex listing the 5,000 (PDF,
                   WeasyPrint); done after the import's commit, not inside it.
The last line printed is one JSON object.
"""
from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROWS = int(os.environ.get("BENCH_ROWS", "5000"))


def make_workbook(domain: str, rows: int) -> bytes:
    from openpyxl import Workbook

    from ra.enrollment.bulk_import import COLUMNS

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Захиалга")
    ws.append([c.title for c in COLUMNS[:7]])
    for i in range(rows):
        born = date(1960 + i % 40, 1 + i % 12, 1 + i % 28)
        regno = f"УБ{born.year % 100:02d}{born.month:02d}{born.day:02d}{i // 480:02d}"
        ws.append(["Батбаяр", f"Болормаа{'а' * (i % 3)}", regno, "Мэргэжилтэн", f"user{i}@{domain}",
                   "Санхүүгийн хэлтэс", 99112233])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def bare_read(data: bytes) -> float:
    from openpyxl import load_workbook

    started = time.perf_counter()
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    n = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    elapsed = time.perf_counter() - started
    assert n == ROWS + 1
    return elapsed


def active_organisation(session, ports, tag: str):
    """Onboarding through the real services: register, letter, approve, signed contract, activate."""
    import random

    from ra.auth.roles import Role
    from ra.auth.service import create_user
    from ra.demo import _pdf
    from ra.enrollment import service as enrollment
    from ra.enrollment.models import DocumentKind

    domain = f"bench{tag}.gov.mn"
    org, registrar, _ = enrollment.register_organisation(session, enrollment.Registration(
        name=f"Бенчмарк байгууллага {tag}", registry_number=f"{random.randint(1000000, 9999999)}", kind="khoroo",
        district="sukhbaatar", address="Улаанбаатар", phone="7011 2233", email_domains=domain,
        registrar_name="Болормаа Батбаяр", registrar_position="Мэргэжилтэн", registrar_email=f"registrar@{domain}",
        registrar_phone="9911 2233", password="bench-password-1"), ports=ports)
    officer, _ = create_user(session, "bench", email=f"officer-{tag}@ra.ub.gov.mn", role=Role.RA_OFFICER,
                             password="bench-password-1", ports=ports)
    enrollment.upload_document(session, registrar, org, DocumentKind.REQUEST_LETTER, "l.pdf", _pdf("l"), ports=ports)
    enrollment.approve_organisation(session, officer, org, ports=ports)
    enrollment.upload_document(session, registrar, org, DocumentKind.SIGNED_CONTRACT, "s.pdf", _pdf("s"),
                               ports=ports)
    enrollment.activate_organisation(session, officer, org, ports=ports)
    return org, registrar


def run_import(session, ports, org, registrar, data: bytes):
    from ra.db import commit
    from ra.enrollment import bulk_import

    report, prepared = bulk_import.check_file(session, registrar, org, "bench.xlsx", data, ports=ports)
    assert report.valid == ROWS, report.errors[:3]
    bulk_import.import_rows(session, registrar, org, prepared, ports=ports)
    commit(session)


def main() -> dict:
    from flask_migrate import upgrade

    from ra import create_app
    from ra.extensions import db

    tmp = Path(tempfile.mkdtemp(prefix="ra-bench-"))
    config = {"INSTANCE_PATH": str(tmp), "SECRET_KEY": "bench-" + "x" * 40, "MAIL_URL": f"file:{tmp / 'mail'}",
              "ARGON2": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}}
    app = create_app(config)
    with app.app_context():
        upgrade(revision="heads")
        ports = app.extensions["ra.ports"]
        dialect = db.engine.dialect.name
        tag = f"{os.getpid()}{int(time.time()) % 100000}"
        org, registrar = active_organisation(db.session, ports, tag + "a")
        org2, registrar2 = active_organisation(db.session, ports, tag + "b")
        db.session.commit()
        data = make_workbook(org.domains[0], ROWS)
        data2 = make_workbook(org2.domains[0], ROWS)
        bare = min(bare_read(data) for _ in range(3))

        started = time.perf_counter()
        run_import(db.session, ports, org, registrar, data)
        elapsed = time.perf_counter() - started

        tracemalloc.start()
        run_import(db.session, ports, org2, registrar2, data2)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        from ra.enrollment.holders_service import generate_pending_annex
        started = time.perf_counter()
        annex = generate_pending_annex(db.session, registrar, org, ports=ports)
        db.session.commit()
        annex_s = time.perf_counter() - started
        assert annex is not None
    result = {"bench": "import_orders", "db": dialect, "rows": ROWS, "import_s": round(elapsed, 3),
              "rows_per_s": round(ROWS / elapsed, 1), "bare_read_s": round(bare, 3), "ratio": round(elapsed / bare, 2),
              "peak_mb": round(peak / 2**20, 1), "annex_s": round(annex_s, 2)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
