"""Reads for holders, orders and appointments; every one goes through the
organisation scope (``scope_organisations``), so another organisation's rows
simply do not exist for a registrar (404, not 403)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ra.auth.policy import require_visible, scope_organisations
from ra.enrollment import register_number as rn
from ra.enrollment.holder_models import (Appointment, AppointmentSlot, CertificateOrder, Counter, Holder,
                                         OrderImport, PositionChange, RevocationState)
from ra.enrollment.models import GeneratedKind, Organisation
from ra.enrollment.order_states import AppointmentStatus, HolderStatus, OrderStatus
from ra.errors import NotFound
from ra.localtime import LOCAL_TZ


def _id(value) -> int:
    if not str(value).isdigit():
        raise NotFound()
    return int(value)


def _one(session, actor, stmt, org_column):
    row = session.execute(scope_organisations(actor, stmt, org_column)).scalar_one_or_none()
    if row is None:
        raise NotFound()
    return row


def get_holder(session, actor, holder_id) -> Holder:
    return _one(session, actor, sa.select(Holder).where(Holder.id == _id(holder_id)), Holder.organisation_id)


def list_holders(session, actor, org: Organisation, *, include_departed: bool = False,
                 register_number: str = "") -> list[Holder]:
    """``register_number`` in either form: as the RU keeps it (УБ85031214) or as a
    certificate's serialNumber carries it (PNOMN-UB85031214, ``rn.from_ascii``)."""
    require_visible(actor, org)
    stmt = sa.select(Holder).where(Holder.organisation_id == org.id).options(selectinload(Holder.documents))
    if register_number.strip():
        stmt = stmt.where(Holder.register_number == rn.searchable(register_number))
    if not include_departed:
        stmt = stmt.where(Holder.status == HolderStatus.ACTIVE)
    return list(session.execute(scope_organisations(actor, stmt.order_by(Holder.surname, Holder.given_name),
                                                    Holder.organisation_id)).scalars())


def get_order(session, actor, order_id) -> CertificateOrder:
    return _one(session, actor, sa.select(CertificateOrder).where(CertificateOrder.id == _id(order_id)),
                CertificateOrder.organisation_id)


def orders_by_id(session, actor, ids) -> list[CertificateOrder]:
    wanted = {_id(i) for i in ids}
    stmt = sa.select(CertificateOrder).where(CertificateOrder.id.in_(wanted))
    rows = list(session.execute(scope_organisations(actor, stmt, CertificateOrder.organisation_id)).scalars())
    if len(rows) != len(wanted):
        raise NotFound()
    return sorted(rows, key=lambda o: o.id)


def list_orders(session, actor, *, status: OrderStatus | None = None, organisation_id: int | None = None,
                holder_id: int | None = None, page: int = 1, per_page: int = 50):
    stmt = sa.select(CertificateOrder).options(selectinload(CertificateOrder.holder))
    if status:
        stmt = stmt.where(CertificateOrder.status == status)
    if organisation_id:
        stmt = stmt.where(CertificateOrder.organisation_id == organisation_id)
    if holder_id:
        stmt = stmt.where(CertificateOrder.holder_id == holder_id)
    stmt = scope_organisations(actor, stmt, CertificateOrder.organisation_id)
    total = session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(CertificateOrder.id.desc()).limit(per_page)
                           .offset((max(page, 1) - 1) * per_page)).scalars().all()
    return rows, total


def approval_queue(session, actor, *, limit: int = 200) -> list[CertificateOrder]:
    """Submitted orders, oldest first, with each holder's documents loaded to show beside them."""
    stmt = (sa.select(CertificateOrder).where(CertificateOrder.status == OrderStatus.SUBMITTED)
            .options(selectinload(CertificateOrder.holder).selectinload(Holder.documents),
                     selectinload(CertificateOrder.organisation))
            .order_by(CertificateOrder.submitted_at, CertificateOrder.id).limit(limit))
    return list(session.execute(scope_organisations(actor, stmt, CertificateOrder.organisation_id)).scalars())


def approved_orders(session, actor, org: Organisation) -> list[CertificateOrder]:
    """What the registrar can book a counter appointment for."""
    stmt = (sa.select(CertificateOrder).where(CertificateOrder.organisation_id == org.id,
                                              CertificateOrder.status == OrderStatus.APPROVED)
            .options(selectinload(CertificateOrder.holder)).order_by(CertificateOrder.id))
    return list(session.execute(scope_organisations(actor, stmt, CertificateOrder.organisation_id)).scalars())


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, LOCAL_TZ).astimezone(timezone.utc)
    return start, datetime.combine(day + timedelta(days=1), time.min, LOCAL_TZ).astimezone(timezone.utc)


def day_queue(session, actor, day: date, *, counter_id: int | None = None) -> list[Appointment]:
    """The day's queue at the counters (local day), in time order."""
    start, end = local_day_bounds(day)
    stmt = (sa.select(Appointment).join(AppointmentSlot).join(CertificateOrder)
            .where(AppointmentSlot.starts_at >= start, AppointmentSlot.starts_at < end,
                   Appointment.status.in_((AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED)))
            .options(selectinload(Appointment.order).selectinload(CertificateOrder.holder),
                     selectinload(Appointment.slot).selectinload(AppointmentSlot.counter))
            .order_by(AppointmentSlot.starts_at, Appointment.id))
    if counter_id:
        stmt = stmt.where(AppointmentSlot.counter_id == counter_id)
    return list(session.execute(scope_organisations(actor, stmt, CertificateOrder.organisation_id)).scalars())


def organisation_appointments(session, actor, org: Organisation, *, since: datetime) -> list[Appointment]:
    stmt = (sa.select(Appointment).join(AppointmentSlot).join(CertificateOrder)
            .where(CertificateOrder.organisation_id == org.id, Appointment.status == AppointmentStatus.BOOKED,
                   AppointmentSlot.starts_at >= since - timedelta(days=1))
            .order_by(AppointmentSlot.starts_at))
    return list(session.execute(scope_organisations(actor, stmt, CertificateOrder.organisation_id)).scalars())


def get_appointment(session, actor, appointment_id) -> Appointment:
    stmt = sa.select(Appointment).join(CertificateOrder).where(Appointment.id == _id(appointment_id))
    return _one(session, actor, stmt, CertificateOrder.organisation_id)


def list_counters(session, *, active_only: bool = False) -> list[Counter]:
    stmt = sa.select(Counter).order_by(Counter.name)
    if active_only:
        stmt = stmt.where(Counter.is_active.is_(True))
    return list(session.execute(stmt).scalars())


def get_counter(session, counter_id) -> Counter:
    counter = session.get(Counter, _id(counter_id))
    if counter is None:
        raise NotFound()
    return counter


def get_import(session, actor, import_id) -> OrderImport:
    return _one(session, actor, sa.select(OrderImport).where(OrderImport.id == _id(import_id)),
                OrderImport.organisation_id)


def annexes(org: Organisation) -> list:
    return [d for d in org.generated if d.kind == GeneratedKind.ANNEX]


def position_changes(session, holder: Holder) -> list[PositionChange]:
    return list(session.execute(sa.select(PositionChange).where(PositionChange.holder_id == holder.id)
                                .order_by(PositionChange.id)).scalars())


def awaiting_revocation(session) -> list[PositionChange]:
    """Position changes whose old certificate still has to be revoked
    (affiliationChanged): the work list the revocation module takes over."""
    return list(session.execute(sa.select(PositionChange).where(
        PositionChange.revocation == RevocationState.AWAITING_REVOCATION).order_by(PositionChange.id)).scalars())


def holder_orders(session, holder: Holder) -> list[CertificateOrder]:
    return list(session.execute(sa.select(CertificateOrder).where(CertificateOrder.holder_id == holder.id)
                                .order_by(CertificateOrder.id.desc())).scalars())


def organisations_with_unlisted_holders(session) -> list[Organisation]:
    """Organisations whose new holders still wait for their contract annex."""
    ids = sa.select(Holder.organisation_id).where(Holder.listed_in.is_(None), Holder.status == HolderStatus.ACTIVE)
    return list(session.execute(sa.select(Organisation).where(Organisation.id.in_(ids))).scalars())
