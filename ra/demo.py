"""``flask --app ra demo``: demo data for the one-command start. Everything goes
through the services, so the audit log and documents are what real use makes."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from ra.auth.models import User
from ra.auth.roles import Role
from ra.auth.service import create_user
from ra.db import commit
from ra.enrollment import service as enrollment
from ra.enrollment.models import DocumentKind
from ra.extensions import db

DEMO_PASSWORD = "demo-password-2026"

STAFF = [
    ("officer@ra.ub.gov.mn", Role.RA_OFFICER, "Батбаяр Ганзориг"),
    ("officer2@ra.ub.gov.mn", Role.RA_OFFICER, "Сарангэрэл Должин"),
    ("manager@ra.ub.gov.mn", Role.RA_MANAGER, "Мөнхтуяа Баасанжав"),
    ("auditor@ra.ub.gov.mn", Role.AUDITOR, "Энхбаатар Түмэнжаргал"),
    ("admin@ra.ub.gov.mn", Role.ADMIN, "Ганбат Очирбат"),
]

# (name, registry number, kind, district, domain, registrar, position, final state)
ORGANISATIONS = [
    ("Баянзүрх дүүргийн Засаг даргын Тамгын газар", "5012345", "district_governor", "bayanzurkh",
     "bzd.gov.mn", "Оюунчимэг Батсүх", "Мэдээллийн технологийн мэргэжилтэн", "active"),
    ("Нийслэлийн Эрүүл мэндийн газар", "5023456", "health_organisation", "sukhbaatar",
     "ubhealth.gov.mn", "Төмөрбаатар Энхтайван", "Бичиг хэргийн эрхлэгч", "contract_sent"),
    ("Сонгинохайрхан дүүргийн 5-р хороо", "5034567", "khoroo", "songinokhairkhan",
     "shd.gov.mn", "Алтанцэцэг Пүрэвсүрэн", "Хорооны нарийн бичгийн дарга", "under_review"),
    ("Нийслэлийн Ерөнхий боловсролын 23-р сургууль", "5045678", "school", "bayangol",
     "school23.edu.mn", "Нарантуяа Дашдорж", "Сургалтын менежер", "pending"),
    ("Хан-Уул дүүргийн Татварын хэлтэс", "5056789", "district_department", "khan_uul",
     "khuld.gov.mn", "Бат-Эрдэнэ Сүхбат", "Ахлах мэргэжилтэн", "rejected"),
    ("Улаанбаатар Цэвэрлэгээ ОНӨҮГ", "5067890", "city_enterprise", "chingeltei",
     "ubclean.mn", "Ганчимэг Лхагвасүрэн", "Захиргааны менежер", "suspended"),
]


DISTRICT_MN = {"bayanzurkh": "Баянзүрх", "sukhbaatar": "Сүхбаатар", "songinokhairkhan": "Сонгинохайрхан",
               "bayangol": "Баянгол", "khan_uul": "Хан-Уул", "chingeltei": "Чингэлтэй"}


def _pdf(title: str) -> bytes:
    """A small valid PDF standing in for a scanned letter."""
    body = f"BT /F1 12 Tf 72 720 Td ({title}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def load_demo(session, ports) -> list[tuple[str, str]]:
    """Idempotent: returns the demo logins (e-mail, role)."""
    logins = []
    staff = {}
    for email, role, name in STAFF:
        user = session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
        if user is None:
            user, _ = create_user(session, "demo", email=email, role=role, full_name=name,
                                  password=DEMO_PASSWORD, ports=ports)
        staff[role] = user
        logins.append((email, role.value))
    officer = staff[Role.RA_OFFICER]
    for name, regno, kind, district, domain, registrar, position, final in ORGANISATIONS:
        email = f"burtgel@{domain}"
        logins.append((email, f"org_registrar ({final})"))
        if session.execute(sa.select(User.id).where(User.email == email)).first():
            continue
        org, user, _ = enrollment.register_organisation(session, enrollment.Registration(
            name=name, registry_number=regno, kind=kind, district=district,
            address=f"Улаанбаатар хот, {DISTRICT_MN[district]} дүүрэг", phone="7011 2233", email_domains=f"{domain} gov.mn",
            registrar_name=registrar, registrar_position=position, registrar_email=email,
            registrar_phone="9911 2233", password=DEMO_PASSWORD), ports=ports)
        if final == "pending":
            continue
        enrollment.upload_document(session, user, org, DocumentKind.REQUEST_LETTER, "албан-хүсэлт.pdf",
                                   _pdf("Official request letter"), ports=ports)
        if final == "under_review":
            continue
        if final == "rejected":
            enrollment.reject_organisation(session, officer, org, "Албан хүсэлтэд гарын үсэг, тамга дутуу байна.")
            continue
        enrollment.approve_organisation(session, officer, org, ports=ports)
        if final == "contract_sent":
            continue
        enrollment.upload_document(session, user, org, DocumentKind.SIGNED_CONTRACT, "гэрээ-тамгатай.pdf",
                                   _pdf("Signed contract"), ports=ports)
        enrollment.activate_organisation(session, officer, org, ports=ports)
        if final == "suspended":
            enrollment.suspend_organisation(session, officer, org, "Гэрээний үүрэг биелүүлээгүй.")
    return logins


@click.command("demo")
@click.option("--scale", type=click.Choice(["national", "small"]), default=None,
              help="Also generate a national-scale data set for reports (ra.reports.national).")
@with_appcontext
def demo_cmd(scale):
    """Load demo data: one account per role and organisations in each state."""
    ports = current_app.extensions["ra.ports"]
    logins = load_demo(db.session, ports)
    commit()
    from ra.tokens.handover_demo import load_handover_demo

    made = load_handover_demo(db.session, ports)  # SoftHSM2 stock tokens and approved orders
    commit()
    from ra.holder.demo import load_holder_demo

    logins += load_holder_demo(db.session, ports, password=DEMO_PASSWORD)  # a holder, 20 days before expiry
    commit()
    from ra.tokens.handover_demo import hand_over_one

    issued = hand_over_one(db.session, ports)  # when the holder demo could not: one certificate on a token
    commit()
    if scale:
        from ra.reports.national import generate
        try:
            counts = generate(db.session, current_app.extensions["ra.ports"], scale, progress=click.echo)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
        commit()
        click.echo(f"{scale} data set generated in {counts['seconds']} s")
    click.echo(f"Demo data loaded. Every demo password: {DEMO_PASSWORD}")
    click.echo(f"  {len(made.get('orders', []))} approved orders wait for a handover at /tokens/handovers; "
               f"{len(made.get('tokens', []))} SoftHSM2 tokens are in stock.")
    if issued is not None:
        click.echo(f"  one handover done: certificate {issued.serial} ({issued.profile}) {issued.subject}")
    for email, role in logins:
        click.echo(f"  {email:32} {role}")
