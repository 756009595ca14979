"""Factories: build data through the same services users go through."""
from __future__ import annotations

import itertools
import random

from ra.auth.roles import Role
from ra.auth.service import create_user
from ra.demo import _pdf as tiny_pdf  # noqa: F401  (a small valid PDF)
from ra.enrollment import service as enrollment
from ra.enrollment.models import DocumentKind

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def registry_number() -> str:
    return f"{random.randint(1000000, 9999999)}"


def registration(**over) -> enrollment.Registration:
    n = next(_seq)
    domain = over.pop("domain", f"org{n}-{random.randint(1000, 9999)}.gov.mn")
    data = dict(
        name=f"Сүхбаатар дүүргийн {n}-р хороо", registry_number=registry_number(), kind="khoroo",
        district="sukhbaatar", address="Улаанбаатар хот, Сүхбаатар дүүрэг, 1-р хороо", phone="7011 2233",
        email_domains=f"{domain} gov.mn", registrar_name="Болормаа Батбаяр", registrar_position="Мэргэжилтэн",
        registrar_email=f"registrar@{domain}", registrar_phone="9911 2233", password=PASSWORD,
    )
    data.update(over)
    return enrollment.Registration(**data)


def make_staff(session, ports, role: Role = Role.RA_OFFICER, email: str | None = None):
    email = email or f"{role.value}{next(_seq)}-{random.randint(1000, 9999)}@ra.ub.gov.mn"
    user, _ = create_user(session, "test", email=email, role=role, full_name="Ажилтан Тест", password=PASSWORD,
                          ports=ports)
    return user


def make_org(session, ports, status: str = "pending", officer=None, **over):
    """An organisation walked through the real flow up to ``status``. Returns (org, registrar)."""
    org, registrar, _ = enrollment.register_organisation(session, registration(**over), ports=ports)
    if status == "pending":
        return org, registrar
    enrollment.upload_document(session, registrar, org, DocumentKind.REQUEST_LETTER, "letter.pdf",
                               tiny_pdf("request"), ports=ports)
    if status == "under_review":
        return org, registrar
    officer = officer or make_staff(session, ports)
    if status == "rejected":
        enrollment.reject_organisation(session, officer, org, "Дутуу баримт")
        return org, registrar
    enrollment.approve_organisation(session, officer, org, ports=ports)
    if status == "contract_sent":
        return org, registrar
    enrollment.upload_document(session, registrar, org, DocumentKind.SIGNED_CONTRACT, "signed.pdf",
                               tiny_pdf("signed"), ports=ports)
    enrollment.activate_organisation(session, officer, org, ports=ports)
    if status == "active":
        return org, registrar
    enrollment.suspend_organisation(session, officer, org, "test")
    return org, registrar
