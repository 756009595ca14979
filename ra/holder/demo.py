"""The demo holder (``flask --app ra demo``): the first demo holder of the active
organisation receives, through the real counter handover on a SoftHSM2 stock
token, a certificate that expires in 20 days (the embedded CA's clock is set back
for that one signature), so that the expiry warning, the lost-token report and
`openssl ocsp` can be tried at once. A second, approved order waits for the
holder to book a counter appointment. Idempotent; the caller commits."""
from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from ra import audit
from ra.enrollment import appointments_service as appointments
from ra.enrollment import orders_service as orders
from ra.enrollment.holder_models import CertificateOrder, Holder
from ra.enrollment.holder_queries import list_counters
from ra.enrollment.models import Organisation
from ra.enrollment.order_states import OrderStatus
from ra.holder import queries as q
from ra.holder.service import ensure_account
from ra.ports import FrozenClock
from ra.tokens import handover_jobs
from ra.tokens import queries as token_queries
from ra.tokens.handover_states import IdDocument
from ra.tokens.states import TokenStatus

log = logging.getLogger("ra.holder.demo")

ORGANISATION = "5012345"
REGISTER_NUMBER = "УБ85031214"
DAYS_LEFT = 20
DEMO_PIN = "Demo-PIN-2026"


def _user(session, email):
    from ra.auth.models import User
    return session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()


def load_holder_demo(session, ports, *, password: str) -> list[tuple[str, str]]:
    """Returns the holder's login line (e-mail, description), or nothing when the
    demo has no SoftHSM2 stock to hand over on."""
    org = session.execute(sa.select(Organisation).where(Organisation.registry_number == ORGANISATION)
                          ).scalar_one_or_none()
    holder = org and session.execute(sa.select(Holder).where(Holder.organisation_id == org.id,
                                                             Holder.register_number == REGISTER_NUMBER)
                                     ).scalar_one_or_none()
    officer, registrar = _user(session, "officer@ra.ub.gov.mn"), _user(session, "burtgel@bzd.gov.mn")
    approver = _user(session, "manager@ra.ub.gov.mn") or officer
    if holder is None or officer is None or registrar is None:
        return []
    account = q.account_for(session, holder.register_number)
    if account is None or account.password_hash is None:
        if not _hand_over(session, ports, officer, holder):
            return []
        account, _ = ensure_account(session, "demo", holder)
        account.password_hash = ports.passwords.hash(password)
        audit.record(session, "demo", "holder.activated", account, {"demo": True})
        _second_order(session, ports, registrar, approver, holder)
        _counter(session, ports)
        session.commit()
    return [(holder.email, f"holder (certificate expires in {DAYS_LEFT} days; token PIN {DEMO_PIN})")]


def _hand_over(session, ports, officer, holder) -> bool:
    order = session.execute(sa.select(CertificateOrder).where(
        CertificateOrder.holder_id == holder.id, CertificateOrder.status == OrderStatus.APPROVED)
        .order_by(CertificateOrder.id).limit(1)).scalar_one_or_none()
    stock, _ = token_queries.list_tokens(session, status=TokenStatus.IN_STOCK)
    if order is None or not stock or ports.tokens.softhsm is None or not hasattr(ports.ca, "clock"):
        return False
    validity = ports.profiles[order.profile].validity_days
    real_clock = ports.ca.clock
    ports.ca.clock = FrozenClock(ports.clock.now() - timedelta(days=validity - DAYS_LEFT))
    try:
        result = handover_jobs.start(session, officer, order, id_document_type=IdDocument.ID_CARD,
                                     id_document_number=holder.register_number, token_serial=stock[0].serial,
                                     user_pin=DEMO_PIN, ports=ports)
    finally:
        ports.ca.clock = real_clock
    if not result.completed:
        log.warning("demo holder handover stopped at %s: %s", result.step.value, result.error)
    return result.completed


def _second_order(session, ports, registrar, approver, holder) -> None:
    order = orders.create_order(session, registrar, holder, profile="authentication", ports=ports)
    orders.approve_order(session, approver, order, checked_document_ids=[d.id for d in holder.documents],
                         ports=ports)


def _counter(session, ports) -> None:
    if list_counters(session, active_only=True):
        return
    from ra.auth.models import User
    from ra.auth.roles import Role
    admin = session.execute(sa.select(User).where(User.role == Role.ADMIN).limit(1)).scalar_one()
    appointments.save_counter(session, admin, appointments.CounterData(
        name="Цонх 1", location="Нийслэлийн МТГ, 1 давхар", opens_at="09:00", closes_at="17:00",
        break_starts="12:00", break_ends="13:00", slot_minutes=30, capacity=2, weekdays="12345"))
