"""Builders for holders, orders and counters, through the real services."""
from __future__ import annotations

import itertools
import random
import subprocess
from datetime import date, timedelta

from ra.auth.roles import Role
from ra.enrollment import appointments_service as appts
from ra.enrollment import holders_service as hs
from ra.enrollment import orders_service as orders
from ra.enrollment.holder_models import HolderDocumentKind
from tests.conftest import csrf_from
from tests.factories import PASSWORD, make_org, make_staff, tiny_pdf

_seq = itertools.count(1)


def regno(born: date = date(1985, 1, 1), letters: str = "УБ") -> str:
    month = born.month + (20 if born.year >= 2000 else 0)
    return f"{letters}{born.year % 100:02d}{month:02d}{born.day:02d}{random.randint(0, 99):02d}"


def unique_regno() -> str:
    n = next(_seq)
    born = date(1960 + n % 40, 1 + n % 12, 1 + n % 28)
    return f"ЧД{born.year % 100:02d}{born.month:02d}{born.day:02d}{n % 100:02d}"


def holder_data(org, **over) -> hs.HolderData:
    n = next(_seq)
    data = dict(surname="Батбаяр", given_name="Болормаа", register_number=unique_regno(),
                position="Мэргэжилтэн", department="Санхүүгийн хэлтэс", email=f"holder{n}@{org.domains[0]}",
                phone="9911 2233")
    data.update(over)
    return hs.HolderData(**data)


def make_holder(session, ports, org, registrar, **over):
    return hs.create_holder(session, registrar, org, holder_data(org, **over), ports=ports)


def upload_documents(session, ports, holder, actor, kinds=tuple(HolderDocumentKind)):
    return [hs.upload_holder_document(session, actor, holder, k, f"{k.value}.pdf", tiny_pdf(k.value), ports=ports)
            for k in kinds]


def active_org(session, ports, **over):
    officer = make_staff(session, ports, Role.RA_OFFICER)
    org, registrar = make_org(session, ports, status="active", officer=officer, **over)
    return org, registrar, officer


def submitted_order(session, ports, org, registrar, *, documents=True, **over):
    holder = make_holder(session, ports, org, registrar, **over)
    if documents:
        upload_documents(session, ports, holder, registrar)
    return orders.create_order(session, registrar, holder, profile="signing", ports=ports)


def approved_order(session, ports, org, registrar, officer, **over):
    order = submitted_order(session, ports, org, registrar, **over)
    orders.approve_order(session, officer, order, checked_document_ids=[d.id for d in order.holder.documents],
                         ports=ports)
    return order


def make_counter(session, ports, **over):
    admin = make_staff(session, ports, Role.ADMIN)
    data = dict(name=f"Цонх {next(_seq)}", location="Нийслэлийн МТГ, 1 давхар", opens_at="09:00", closes_at="17:00",
                break_starts="12:00", break_ends="13:00", slot_minutes=30, capacity=2, weekdays="1234567")
    data.update(over)
    return appts.save_counter(session, admin, appts.CounterData(**data))


def next_day(ports, days: int = 1) -> date:
    return ports.clock.today() + timedelta(days=days)


def login(client, email: str, password: str = PASSWORD):
    page = client.get("/login")
    resp = client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:500]
    return resp


def token_of(client, path: str) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def pdf_text(path) -> str:
    """The PDF's text as a reader sees it (poppler's pdftotext), whitespace collapsed."""
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())


def api_token(session, user) -> str:
    from ra.auth.service import issue_api_token
    return issue_api_token(session, "test", user)
