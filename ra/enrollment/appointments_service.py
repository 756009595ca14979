"""Counter appointments (DESIGN §3.2): the admin defines counters and their hours,
the registrar books a seat for approved orders, cancels or moves it. A slot is
never overbooked: the seat is claimed by one conditional UPDATE, which the
database serialises (row lock on PostgreSQL, write lock on SQLite), and a CHECK
constraint backs it. Confirmations carry an iCalendar file (RFC 5545)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ra import audit
from ra.enrollment import holders_service as hs
from ra.enrollment import policy as ep
from ra.enrollment.holder_models import Appointment, AppointmentSlot, CertificateOrder, Counter
from ra.enrollment.order_states import AppointmentStatus, OrderStatus, appointment_states, order_states
from ra.errors import Conflict, InvalidTransition, PermissionDenied, UserError, ValidationFailed
from ra.i18n import _l
from ra.localtime import LOCAL_TZ, local, local_date

BOOKING_HORIZON_DAYS = 60


def parse_starts_at(value) -> datetime:
    """A slot's start as the pages and the API send it: ISO 8601 with its offset."""
    try:
        at = datetime.fromisoformat(str(value or ""))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise UserError(_l("Choose a time from the list."), field="starts_at")
    return at


# --- counters ---

@dataclass
class CounterData:
    name: str = ""
    location: str = ""
    opens_at: str = "09:00"
    closes_at: str = "17:00"
    break_starts: str = ""
    break_ends: str = ""
    slot_minutes: int | str = 20
    capacity: int | str = 1
    weekdays: str = "12345"
    is_active: bool = True


def _time(value, field: str, errors: dict, required: bool = True) -> time | None:
    value = str(value or "").strip()
    if not value:
        if required:
            errors[field] = _l("This field is required.")
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        errors[field] = _l("Write the time as HH:MM, e.g. 09:00.")
        return None


def _int(value, field: str, low: int, high: int, errors: dict) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        errors[field] = _l("Give a whole number from %(low)d to %(high)d.", low=low, high=high)
        return low
    return number


def save_counter(session, actor, data: CounterData, counter: Counter | None = None) -> Counter:
    if not ep.can_manage_counters(actor):
        raise PermissionDenied()
    errors: dict = {}
    name = hs.clean(data.name)
    if not name:
        errors["name"] = _l("This field is required.")
    elif session.execute(sa.select(Counter.id).where(Counter.name == name, Counter.id != (counter.id if counter else -1))).first():
        errors["name"] = _l("A counter with this name already exists.")
    opens, closes = _time(data.opens_at, "opens_at", errors), _time(data.closes_at, "closes_at", errors)
    b_start = _time(data.break_starts, "break_starts", errors, required=False)
    b_end = _time(data.break_ends, "break_ends", errors, required=False)
    slot = _int(data.slot_minutes, "slot_minutes", 5, 240, errors)
    capacity = _int(data.capacity, "capacity", 1, 50, errors)
    weekdays = "".join(sorted(set(str(data.weekdays or "")) & set("1234567")))
    if not weekdays:
        errors["weekdays"] = _l("Choose at least one working day.")
    if opens and closes and opens >= closes:
        errors["closes_at"] = _l("The counter must close after it opens.")
    if (b_start is None) != (b_end is None):
        errors["break_ends"] = _l("Give both ends of the break, or neither.")
    elif b_start and opens and closes and not (opens <= b_start < b_end <= closes):
        errors["break_ends"] = _l("The break must lie within the opening hours.")
    if errors:
        raise ValidationFailed(errors)
    values = dict(name=name, location=hs.clean(data.location)[:300], opens_at=opens, closes_at=closes,
                  break_starts=b_start, break_ends=b_end, slot_minutes=slot, capacity=capacity, weekdays=weekdays,
                  is_active=bool(data.is_active))
    if counter is None:
        counter = Counter(**values)
        session.add(counter)
        session.flush()
        audit.record(session, actor, "counter.created", counter, {k: str(v) for k, v in values.items()})
    else:
        changed = {k: str(v) for k, v in values.items() if getattr(counter, k) != v}
        for k, v in values.items():
            setattr(counter, k, v)
        if changed:
            audit.record(session, actor, "counter.updated", counter, changed)
    return counter


# --- the slot grid ---

def slot_starts(counter: Counter, day: date) -> list[datetime]:
    """Start times (UTC) of the counter's slots on a local day; none on a day off."""
    if str(day.isoweekday()) not in counter.weekdays:
        return []
    step = timedelta(minutes=counter.slot_minutes)
    t = datetime.combine(day, counter.opens_at, LOCAL_TZ)
    end = datetime.combine(day, counter.closes_at, LOCAL_TZ)
    b0 = datetime.combine(day, counter.break_starts, LOCAL_TZ) if counter.break_starts else None
    b1 = datetime.combine(day, counter.break_ends, LOCAL_TZ) if counter.break_ends else None
    out = []
    while t + step <= end:
        if not (b0 and t < b1 and t + step > b0):
            out.append(t.astimezone(timezone.utc))
        t += step
    return out


@dataclass
class SlotView:
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.booked)


def available_slots(session, counter: Counter, day: date, *, now: datetime) -> list[SlotView]:
    starts = [s for s in slot_starts(counter, day) if s > now]
    if not starts:
        return []
    rows = {r.starts_at: r for r in session.execute(sa.select(AppointmentSlot).where(
        AppointmentSlot.counter_id == counter.id, AppointmentSlot.starts_at.in_(starts))).scalars()}
    step = timedelta(minutes=counter.slot_minutes)
    return [SlotView(s, s + step, rows[s].capacity if s in rows else counter.capacity,
                     rows[s].booked if s in rows else 0) for s in starts]


def _check_start(counter: Counter, starts_at: datetime, now: datetime) -> None:
    if not counter.is_active:
        raise Conflict(_l("This counter is closed for booking."))
    starts_at = starts_at.astimezone(timezone.utc)
    local_day = local_date(starts_at)
    if starts_at not in slot_starts(counter, local_day):
        raise UserError(_l("The counter has no appointment at this time."), field="starts_at")
    if starts_at <= now:
        raise UserError(_l("This time has already passed."), field="starts_at")
    if starts_at > now + timedelta(days=BOOKING_HORIZON_DAYS):
        raise UserError(_l("Appointments can be booked at most %(n)d days ahead.", n=BOOKING_HORIZON_DAYS),
                        field="starts_at")


def _claim_seats(session, counter: Counter, starts_at: datetime, seats: int) -> AppointmentSlot:
    """Creates the slot row if it is the first booking, then takes ``seats`` seats in
    one conditional UPDATE: of two bookings racing for the last seat, the second
    waits for the first to commit and then finds no seat."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    starts_at = starts_at.astimezone(timezone.utc)
    try:
        session.execute(insert(AppointmentSlot).values(
            counter_id=counter.id, starts_at=starts_at, capacity=counter.capacity, booked=0,
            ends_at=starts_at + timedelta(minutes=counter.slot_minutes)).on_conflict_do_nothing(
            index_elements=["counter_id", "starts_at"]))
        slot_id = session.execute(sa.select(AppointmentSlot.id).where(
            AppointmentSlot.counter_id == counter.id, AppointmentSlot.starts_at == starts_at)).scalar_one()
        claimed = session.execute(
            sa.update(AppointmentSlot)
            .where(AppointmentSlot.id == slot_id, AppointmentSlot.booked + seats <= AppointmentSlot.capacity)
            .values(booked=AppointmentSlot.booked + seats)
            .execution_options(synchronize_session=False)).rowcount
    except sa.exc.OperationalError as exc:
        # SQLite refuses a second writer outright ("database is locked"); say so.
        if "locked" not in str(exc).lower():
            raise
        raise Conflict(_l("Another booking is being saved at this moment. Try again."), code="busy") from None
    if claimed != 1:
        raise Conflict(_l("This time is fully booked. Choose another time."), code="slot_full")
    slot = session.get(AppointmentSlot, slot_id)
    session.refresh(slot)
    return slot


def _release_seat(session, slot_id: int) -> None:
    session.execute(sa.update(AppointmentSlot).where(AppointmentSlot.id == slot_id)
                    .values(booked=AppointmentSlot.booked - 1).execution_options(synchronize_session="evaluate"))


def _new_appointment(session, actor, order, slot, *, sequence: int, ports, action="appointment.booked"):
    appt = Appointment(order_id=order.id, slot_id=slot.id, status=AppointmentStatus.BOOKED, sequence=sequence,
                       booked_by_id=actor.id, created_at=ports.clock.now())
    appt.order, appt.slot = order, slot
    session.add(appt)
    session.flush()
    order.appointments.append(appt)
    audit.record(session, actor, action, appt, {"order_id": order.id, "counter_id": slot.counter_id,
                                                "starts_at": slot.starts_at.isoformat()})
    return appt


def book_appointments(session, actor, orders: list[CertificateOrder], counter: Counter, starts_at: datetime,
                      *, ports) -> list[Appointment]:
    """Books one seat per approved order in one slot, all or none."""
    if not orders:
        raise UserError(_l("Choose at least one approved order."), field="order_ids")
    for order in orders:
        if not ep.can_book_appointment(actor, order):
            raise PermissionDenied()
        if order.status != OrderStatus.APPROVED:
            raise InvalidTransition(_l("Only approved orders can be booked (order %(id)d is %(status)s).",
                                       id=order.id, status=order.status.label))
    now = ports.clock.now()
    _check_start(counter, starts_at, now)
    slot = _claim_seats(session, counter, starts_at, len(orders))  # the first write: see the docstring
    made = []
    for order in orders:
        appt = _new_appointment(session, actor, order, slot, sequence=len(order.appointments), ports=ports)
        order_states.transition(session, order, OrderStatus.SCHEDULED, actor=actor, details={"appointment_id": appt.id})
        _notify(session, appt, "appointment_confirmed", ports=ports)
        made.append(appt)
    return made


def cancel_appointment(session, actor, appt: Appointment, reason: str = "", *, ports) -> None:
    if not ep.can_cancel_appointment(actor, appt):
        raise PermissionDenied()
    appointment_states.transition(session, appt, AppointmentStatus.CANCELLED, actor=actor,
                                  details={"reason": reason or None, "order_id": appt.order_id})
    appt.cancelled_by_id, appt.cancelled_at, appt.reason = actor.id, ports.clock.now(), reason or None
    _release_seat(session, appt.slot_id)
    if appt.order.status == OrderStatus.SCHEDULED:
        order_states.transition(session, appt.order, OrderStatus.APPROVED, actor=actor,
                                details={"appointment_cancelled": appt.id})
    _notify(session, appt, "appointment_cancelled", ports=ports, method="CANCEL")


def reschedule_appointment(session, actor, appt: Appointment, counter: Counter, starts_at: datetime,
                           *, ports) -> Appointment:
    """Takes the new seat first, then frees the old one: a full new time leaves the
    old booking untouched."""
    if not ep.can_book_appointment(actor, appt.order) and not ep.can_cancel_appointment(actor, appt):
        raise PermissionDenied()
    if appt.status != AppointmentStatus.BOOKED:
        raise InvalidTransition()
    _check_start(counter, starts_at, ports.clock.now())
    if counter.id == appt.slot.counter_id and starts_at.astimezone(timezone.utc) == appt.slot.starts_at:
        raise UserError(_l("This is the time already booked."), field="starts_at")
    slot = _claim_seats(session, counter, starts_at, 1)
    appointment_states.transition(session, appt, AppointmentStatus.RESCHEDULED, actor=actor,
                                  details={"order_id": appt.order_id})
    _release_seat(session, appt.slot_id)
    new = _new_appointment(session, actor, appt.order, slot, sequence=appt.sequence + 1, ports=ports,
                           action="appointment.rescheduled_to")
    _notify(session, new, "appointment_confirmed", ports=ports)
    return new


def mark_attended(session, actor, appt: Appointment) -> None:
    appointment_states.transition(session, appt, AppointmentStatus.ATTENDED, actor=actor,
                                  details={"order_id": appt.order_id})


# --- notifications with an iCalendar attachment ---

def _notify(session, appt: Appointment, template: str, *, ports, method: str = "REQUEST") -> None:
    from ra.enrollment.orders_service import notify_parties

    data = calendar_file(appt, method=method, organizer=ports.mail_from, base_url=ports.base_url,
                         stamp=ports.clock.now())
    stored = ports.files.put(data, category="ics", extension="ics", year=ports.clock.today().year)
    notify_parties(session, appt.order, template, ports=ports,
                   context={"appointment": appt, "slot": appt.slot, "counter": appt.slot.counter,
                            "local_start": local(appt.slot.starts_at)},
                   attachments=[{"filename": "appointment.ics", "content_type": "text/calendar",
                                 "stored_name": stored}])


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """RFC 5545 §3.1: lines longer than 75 octets are folded, never inside a UTF-8 character."""
    out, current = [], b""
    for ch in line:
        b = ch.encode("utf-8")
        if len(current) + len(b) > (75 if not out else 74):
            out.append(current.decode("utf-8"))
            current = b""
        current += b
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def calendar_file(appt: Appointment, *, method: str, organizer: str, base_url: str, stamp: datetime) -> bytes:
    """One VEVENT (RFC 5545). The UID is the order's, so a moved or cancelled
    appointment updates the same calendar entry (higher SEQUENCE)."""
    fmt = "%Y%m%dT%H%M%SZ"
    slot, order = appt.slot, appt.order
    host = urlsplit(base_url).hostname or "ra.localhost"
    counter = slot.counter
    cancelled = method == "CANCEL"
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Registration Unit//ra//MN", "CALSCALE:GREGORIAN",
        f"METHOD:{method}", "BEGIN:VEVENT",
        f"UID:order-{order.id}@{host}",
        f"SEQUENCE:{appt.sequence + (1 if cancelled else 0)}",
        f"DTSTAMP:{stamp.astimezone(timezone.utc).strftime(fmt)}",
        f"DTSTART:{slot.starts_at.astimezone(timezone.utc).strftime(fmt)}",
        f"DTEND:{slot.ends_at.astimezone(timezone.utc).strftime(fmt)}",
        "SUMMARY:" + _escape(f"Тоон гарын үсгийн гэрчилгээ / Certificate handover: {order.holder.full_name}"),
        "LOCATION:" + _escape(", ".join(p for p in (counter.name, counter.location) if p)),
        "DESCRIPTION:" + _escape(f"Захиалга / Order {order.id} · {order.holder.register_number}\n"
                                 "Иргэний үнэмлэхээ авчирна уу. / Bring your ID card."),
        f"ORGANIZER:mailto:{organizer}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "END:VEVENT", "END:VCALENDAR",
    ]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8")
