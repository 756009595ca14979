"""What a logged-in holder does about their own tokens and orders. Each action
reuses its domain's service: the lost-token report is the revocation module's
(``lost_reports.report_signed_in``: immediate suspension, revocation after
confirmation), the unblock code the tokens module's, the booking the enrollment
module's appointments. The holder's own scope (``ra.holder.queries``) finds the
token or order first, so anything else is 404."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from ra import audit
from ra.auth.models import User
from ra.auth.roles import Role
from ra.enrollment import appointments_service as appointments
from ra.enrollment.holder_queries import list_counters
from ra.errors import NotFound
from ra.holder import queries as q
from ra.holder import stepup
from ra.holder.models import BookingShortageDay
from ra.localtime import local_date
from ra.revocation import lost_reports
from ra.tokens import unblock_service

SEARCH_DAYS = 30
WORKING_DAYS_RULE = 3  # in-person services bookable within three working days


def _holder_for(session, user, token):
    holder = q.holder_of_my_token(session, user, token)
    if holder is None:
        raise NotFound()
    return holder


def ask_step_up(session, user, token_id, purpose: str, *, ports):
    """The first click: a fresh code for this action on this token."""
    token = q.my_token(session, user, token_id)
    return stepup.send(session, user, _holder_for(session, user, token), purpose, str(token.id), ports=ports)


def report_lost(session, user, token_id, code: str, *, lost: bool, client: str, ports):
    """"I lost my token": proved by the step-up code, the revocation module's flow."""
    token = q.my_token(session, user, token_id)
    holder = _holder_for(session, user, token)
    stepup.consume(session, user, "lost_token", str(token.id), code, ports=ports)
    return lost_reports.report_signed_in(session, holder, token, lost=lost, client=client, ports=ports)


def request_unblock(session, user, token_id, code: str, *, ports):
    """"My PIN is blocked": proved by the step-up code, the remote unblock code goes
    out (the holder then runs ``ra-token unblock``)."""
    token = q.my_token(session, user, token_id)
    holder = _holder_for(session, user, token)
    stepup.consume(session, user, "unblock", str(token.id), code, ports=ports)
    return unblock_service.request_code_signed_in(session, holder, token, ports=ports)


# -- appointments -------------------------------------------------------------------------------

@dataclass
class FreeSlot:
    counter: object
    starts_at: datetime
    remaining: int


def free_slots(session, *, now: datetime, limit: int = 12, days: int = SEARCH_DAYS) -> list[FreeSlot]:
    """The earliest free seats over every open counter, soonest first."""
    found: list[FreeSlot] = []
    counters = list_counters(session, active_only=True)
    today = local_date(now)
    for offset in range(days + 1):
        day = today + timedelta(days=offset)
        for counter in counters:
            found += [FreeSlot(counter, s.starts_at, s.remaining)
                      for s in appointments.available_slots(session, counter, day, now=now) if s.remaining > 0]
        if len(found) >= limit:
            break
    return sorted(found, key=lambda f: (f.starts_at, f.counter.id))[:limit]


def working_days_after(day: date, n: int) -> date:
    """The ``n``-th working day (Monday to Friday) after ``day``."""
    while n > 0:
        day += timedelta(days=1)
        if day.isoweekday() <= 5:
            n -= 1
    return day


def within_rule(slot: FreeSlot | None, now: datetime) -> bool:
    return slot is not None and local_date(slot.starts_at) <= working_days_after(local_date(now), WORKING_DAYS_RULE)


def note_shortage(session, order, *, now: datetime, ports) -> bool:
    """No counter time within three working days: the first time today, the
    order's registration officer and every RU manager are told, and the day is
    counted (``BookingShortageDay``). True when this call recorded the day."""
    day = local_date(now)
    if session.get(BookingShortageDay, day) is not None:
        return False
    try:
        with session.begin_nested():  # two holders at once: one row, one round of mail
            session.add(BookingShortageDay(day=day, first_order_id=order.id, created_at=now))
    except sa.exc.IntegrityError:
        return False
    audit.record(session, "system", "appointment.no_slot_within_rule", order,
                 {"day": day.isoformat(), "working_days": WORKING_DAYS_RULE})
    org = order.organisation
    recipients = {org.registrar_email.lower(): "mn"}
    for manager in session.execute(sa.select(User).where(User.role == Role.RA_MANAGER,
                                                         User.is_enabled.is_(True))).scalars():
        recipients.setdefault(manager.email.lower(), manager.locale)
    for to, locale in recipients.items():
        ports.notifier.notify(session, to=to, locale=locale, template="booking_shortage",
                              context={"day": day, "org": org, "working_days": WORKING_DAYS_RULE})
    return True


def shortage_days(session, *, since: date | None = None) -> int:
    stmt = sa.select(sa.func.count()).select_from(BookingShortageDay)
    if since is not None:
        stmt = stmt.where(BookingShortageDay.day >= since)
    return session.execute(stmt).scalar_one()


def book(session, user, order_id, counter, starts_at: datetime, *, ports):
    """Books, or moves the open booking of, one's own approved order."""
    order = q.my_order(session, user, order_id)
    if order.appointment is not None:
        return appointments.reschedule_appointment(session, user, order.appointment, counter, starts_at, ports=ports)
    return appointments.book_appointments(session, user, [order], counter, starts_at, ports=ports)[0]


def cancel(session, user, appointment_id, *, ports) -> None:
    appt = q.my_appointment(session, user, appointment_id)
    appointments.cancel_appointment(session, user, appt, "cancelled by the holder", ports=ports)
