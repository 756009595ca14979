"""Demo data for the counter handover (issue #5): SoftHSM2 stock tokens in this
instance's token directory and approved orders of the demo's active organisation
(registry number 5012345), so that after ``flask --app ra demo`` an officer can
open /tokens/handovers and hand over at once. Through the real services only."""
from __future__ import annotations

import sqlalchemy as sa

from ra.auth.models import User
from ra.enrollment import holders_service as hs
from ra.enrollment import orders_service as orders
from ra.enrollment.holder_models import Holder, HolderDocumentKind
from ra.enrollment.models import Organisation
from ra.enrollment.transliteration import to_latin
from ra.tokens import queries as token_queries
from ra.tokens.demo import make_softhsm_stock
from ra.tokens.states import TokenStatus

ORGANISATION = "5012345"
REGISTRAR = "burtgel@bzd.gov.mn"
OFFICER = "officer@ra.ub.gov.mn"
MANAGER = "manager@ra.ub.gov.mn"
ADMIN = "admin@ra.ub.gov.mn"
STOCK = 5

# surname, given name, register number, position, department, key type
HOLDERS = (
    ("Батсүх", "Оюунчимэг", "УБ85031214", "Засаг даргын орлогч", "Удирдлага", "rsa2048"),
    ("Должинсүрэн", "Ганбаатар", "ЧЕ79110523", "Хэлтсийн дарга", "Санхүүгийн хэлтэс", "ec-p256"),
    ("Мөнхбат", "Сарнай", "УП91062708", "Ахлах мэргэжилтэн", "Мэдээллийн технологийн хэлтэс", "rsa2048"),
)


def _user(session, email):
    return session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()


def _pdf(title: str) -> bytes:
    from ra.demo import _pdf as tiny_pdf
    return tiny_pdf(title)


def load_handover_demo(session, ports) -> dict:
    """Idempotent; call after ``ra.demo.load_demo``. Returns what it made. The
    caller commits."""
    org = session.execute(sa.select(Organisation).where(Organisation.registry_number == ORGANISATION)
                          ).scalar_one_or_none()
    registrar, officer, admin = _user(session, REGISTRAR), _user(session, OFFICER), _user(session, ADMIN)
    approver = _user(session, MANAGER) or officer
    if org is None or registrar is None or officer is None:
        return {"orders": [], "tokens": [], "note": "run the main demo first"}
    made_orders = []
    for surname, given, regno, position, department, key_type in HOLDERS:
        holder = session.execute(sa.select(Holder).where(Holder.organisation_id == org.id,
                                                         Holder.register_number == regno)).scalar_one_or_none()
        if holder is not None:
            continue
        holder = hs.create_holder(session, registrar, org, hs.HolderData(
            surname=surname, given_name=given, register_number=regno, position=position, department=department,
            email=f"{to_latin(given).lower()}.{regno[-4:]}@bzd.gov.mn", phone="9911 2233"), ports=ports)
        for kind in HolderDocumentKind:
            hs.upload_holder_document(session, registrar, holder, kind, f"{kind.value}.pdf", _pdf(kind.value),
                                      ports=ports)
        order = orders.create_order(session, registrar, holder, profile="signing", key_type=key_type, ports=ports)
        orders.approve_order(session, approver, order, checked_document_ids=[d.id for d in holder.documents],
                             ports=ports)
        made_orders.append(order.id)
    serials: list[str] = []
    if ports.tokens.softhsm is not None:
        in_stock = token_queries.stock_counts(session)[TokenStatus.IN_STOCK]
        if in_stock < STOCK:
            serials, _ = make_softhsm_stock(session, admin or approver, STOCK - in_stock, ports=ports,
                                            model="SoftHSM2 (demo e-token)", supplier="SoftHSM project")
    return {"orders": made_orders, "tokens": serials, "note": ""}


def hand_over_one(session, ports):
    """One handover carried out, so that the demo shows a certificate in the
    current profile on a token, with its receipt. Idempotent: nothing when the
    demo organisation already has a certificate, or without SoftHSM2. Commits
    (the handover commits each step)."""
    from ra.ca.models import Certificate
    from ra.enrollment.holder_models import CertificateOrder
    from ra.enrollment.order_states import OrderStatus
    from ra.tokens import handover_jobs as jobs
    from ra.tokens.models import Token

    org = session.execute(sa.select(Organisation).where(Organisation.registry_number == ORGANISATION)
                          ).scalar_one_or_none()
    officer = _user(session, OFFICER)
    if org is None or officer is None or ports.tokens.softhsm is None:
        return None
    has_one = session.scalar(sa.select(sa.func.count()).select_from(Certificate).join(
        Holder, Holder.id == Certificate.holder_id).where(Holder.organisation_id == org.id))
    order = session.scalars(sa.select(CertificateOrder).where(
        CertificateOrder.organisation_id == org.id, CertificateOrder.status == OrderStatus.APPROVED)
        .order_by(CertificateOrder.id).limit(1)).first()
    serial = session.scalars(sa.select(Token.serial).where(Token.status == TokenStatus.IN_STOCK)
                             .order_by(Token.id).limit(1)).first()
    if has_one or order is None or serial is None:
        return None
    result = jobs.start(session, officer, order, id_document_type="id_card",
                        id_document_number=order.holder.register_number, token_serial=serial, random_pin=True,
                        ports=ports)
    if not result.completed:
        return None
    return session.scalars(sa.select(Certificate).where(Certificate.order_id == order.id)).first()
