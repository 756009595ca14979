"""Counter appointments: the admin's counters, booking with an .ics confirmation,
cancellation and moving, the day's queue, and the last seat under a real race."""
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ra.db import commit
from ra.enrollment import appointments_service as appts
from ra.enrollment.holder_models import Appointment, AppointmentSlot
from ra.enrollment.order_states import AppointmentStatus, OrderStatus
from ra.errors import Conflict, PermissionDenied, UserError, ValidationFailed
from ra.extensions import db
from tests.enrollment.helpers import active_org, api_token, approved_order, login, make_counter, next_day


def unfold(ics: str) -> dict:
    text = ics.replace("\r\n ", "")
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def test_counter_settings_are_checked(rctx, ports):
    with pytest.raises(ValidationFailed) as e:
        make_counter(db.session, ports, opens_at="17:00", closes_at="09:00", slot_minutes=2, weekdays="",
                     break_starts="", break_ends="")
    assert set(e.value.errors) == {"closes_at", "slot_minutes", "weekdays"}
    org, registrar, _ = active_org(db.session, ports)
    with pytest.raises(PermissionDenied):
        appts.save_counter(db.session, registrar, appts.CounterData(name="x"))


def test_slots_follow_hours_break_and_working_days(rctx, ports):
    counter = make_counter(db.session, ports, opens_at="09:00", closes_at="12:30", break_starts="10:00",
                           break_ends="11:00", slot_minutes=30, weekdays="12345")
    day = next_day(ports, 7)
    while day.isoweekday() != 1:
        day += timedelta(days=1)
    local = [s.astimezone(appts.LOCAL_TZ).strftime("%H:%M") for s in appts.slot_starts(counter, day)]
    assert local == ["09:00", "09:30", "11:00", "11:30", "12:00"]
    assert appts.slot_starts(counter, day + timedelta(days=5)) == []  # Saturday


def test_booking_sends_an_ics_and_the_officer_sees_the_queue(client, app, ports, mail):
    with app.app_context():
        org, registrar, officer = active_org(db.session, ports)
        order = approved_order(db.session, ports, org, registrar, officer, surname="Должин", given_name="Сарнай")
        counter = make_counter(db.session, ports, capacity=1)
        day = next_day(ports, 2)
        start = appts.slot_starts(counter, day)[0]
        token = api_token(db.session, registrar)
        commit()
        ids = (order.id, counter.id, order.holder.email, officer.email, registrar.email)
        org_id, registrar_id, officer_id = org.id, registrar.id, officer.id
    order_id, counter_id, holder_email, officer_email, registrar_email = ids
    free = client.get(f"/api/v1/counters/{counter_id}/slots?date={day}", headers={"Authorization": f"Bearer {token}"})
    assert free.json["slots"][0]["remaining"] == 1
    resp = client.post("/api/v1/appointments", json={"order_ids": [order_id], "counter_id": counter_id,
                                                      "starts_at": start.isoformat()},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 201, resp.json
    msg = mail.to(holder_email)[-1]
    (ics,) = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    # RFC 5545 §3.1.4: an iCalendar stream is UTF-8 unless told otherwise.
    event = unfold(ics.get_payload(decode=True).decode("utf-8"))
    assert event["METHOD"] == "REQUEST" and event["DTSTART"] == start.strftime("%Y%m%dT%H%M%SZ")
    assert event["UID"].startswith(f"order-{order_id}@") and "Должин Сарнай" in event["SUMMARY"]
    assert mail.to(registrar_email)
    # The slot is now full: a second order gets a clear 409.
    with app.app_context():
        from ra.enrollment.models import Organisation
        from ra.auth.models import User
        second = approved_order(db.session, ports, db.session.get(Organisation, org_id),
                                db.session.get(User, registrar_id), db.session.get(User, officer_id))
        commit()
        second_id = second.id
    full = client.post("/api/v1/appointments", json={"order_id": second_id, "counter_id": counter_id,
                                                      "starts_at": start.isoformat()},
                       headers={"Authorization": f"Bearer {token}"})
    assert full.status_code == 409 and full.json["error"]["code"] == "slot_full"
    login(client, officer_email)
    page = client.get(f"/counter/queue?date={day}").get_data(as_text=True)
    assert "Должин Сарнай" in page and start.astimezone(appts.LOCAL_TZ).strftime("%H:%M") in page


def test_cancel_frees_the_seat_and_moving_keeps_one_seat(rctx, ports, mail):
    org, registrar, officer = active_org(db.session, ports)
    order = approved_order(db.session, ports, org, registrar, officer)
    counter = make_counter(db.session, ports, capacity=1)
    first, second = appts.slot_starts(counter, next_day(ports, 3))[:2]
    (appt,) = appts.book_appointments(db.session, registrar, [order], counter, first, ports=ports)
    assert order.status == OrderStatus.SCHEDULED
    moved = appts.reschedule_appointment(db.session, registrar, appt, counter, second, ports=ports)
    slots = {s.starts_at: s.booked for s in db.session.execute(sa.select(AppointmentSlot)).scalars()}
    assert slots[first] == 0 and slots[second] == 1 and appt.status == AppointmentStatus.RESCHEDULED
    assert moved.sequence == 1 and order.status == OrderStatus.SCHEDULED
    appts.cancel_appointment(db.session, officer, moved, "Цонх хаалттай", ports=ports)
    commit()
    db.session.expire_all()
    assert db.session.execute(sa.select(AppointmentSlot.booked).where(AppointmentSlot.starts_at == second)).scalar() == 0
    assert order.status == OrderStatus.APPROVED
    cancel_mail = mail.to(order.holder.email)[-1]
    (ics,) = [p for p in cancel_mail.iter_attachments()]
    body = ics.get_payload(decode=True).decode("utf-8")
    assert "METHOD:CANCEL" in body and "STATUS:CANCELLED" in body


def test_booking_rules(rctx, ports):
    org, registrar, officer = active_org(db.session, ports)
    order = approved_order(db.session, ports, org, registrar, officer)
    counter = make_counter(db.session, ports)
    start = appts.slot_starts(counter, next_day(ports, 1))[0]
    with pytest.raises(UserError):  # not on the counter's grid
        appts.book_appointments(db.session, registrar, [order], counter, start + timedelta(minutes=7), ports=ports)
    with pytest.raises(UserError):  # too far ahead
        far = appts.slot_starts(counter, next_day(ports, 90))[0]
        appts.book_appointments(db.session, registrar, [order], counter, far, ports=ports)
    with pytest.raises(PermissionDenied):
        appts.book_appointments(db.session, officer, [order], counter, start, ports=ports)
    appts.book_appointments(db.session, registrar, [order], counter, start, ports=ports)
    from ra.errors import InvalidTransition
    with pytest.raises(InvalidTransition):  # already scheduled
        appts.book_appointments(db.session, registrar, [order], counter, start, ports=ports)


@pytest.fixture
def race_app(session_app, database_url, db_kind, tmp_path, smtp_sink):
    """PostgreSQL: the suite's database, through connections of our own that commit.
    SQLite: a throwaway database file, since SQLite would hand the deleted rows' ids
    to later tests while the append-only audit log still names them."""
    if db_kind == "postgresql":
        yield session_app, database_url
        return
    from flask_migrate import upgrade

    from ra import create_app
    from tests.conftest import app_config
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    app = create_app(app_config(url, tmp_path / "instance", smtp_sink.port))
    with app.app_context():
        upgrade(revision="heads")
        yield app, url
        db.engine.dispose()


def test_two_bookings_racing_for_the_last_seat_give_exactly_one_success(race_app, db_kind):
    """Two real connections, each committing: exactly one gets the last seat."""
    from ra import _tune_sqlite
    from ra.auth.models import User

    session_app, database_url = race_app
    engine = sa.create_engine(database_url)
    if db_kind == "sqlite":
        _tune_sqlite(engine, sa.event)
    ports = session_app.extensions["ra.ports"]
    created = _snapshot(engine)
    try:
        with session_app.app_context(), Session(engine) as s:
            org, registrar, officer = active_org(s, ports)
            counter = make_counter(s, ports, capacity=2)
            start = appts.slot_starts(counter, next_day(ports, 4))[0]
            o1 = approved_order(s, ports, org, registrar, officer)
            o2 = approved_order(s, ports, org, registrar, officer)
            o3 = approved_order(s, ports, org, registrar, officer)
            appts.book_appointments(s, registrar, [o1], counter, start, ports=ports)  # one seat left
            s.commit()
            ids = (registrar.id, counter.id, o2.id, o3.id)
        barrier = threading.Barrier(2)
        outcome = {}

        def book(order_id):
            with session_app.app_context(), Session(engine, expire_on_commit=False) as s:
                from ra.enrollment.holder_models import CertificateOrder, Counter
                actor, counter = s.get(User, ids[0]), s.get(Counter, ids[1])
                order = s.get(CertificateOrder, order_id)
                order.holder, order.organisation  # load before the race
                s.commit()  # and end that read: on SQLite a transaction holds the write lock from BEGIN
                barrier.wait()
                try:
                    appts.book_appointments(s, actor, [order], counter, start, ports=ports)
                    time.sleep(0.3)  # hold the seat's lock while the other waits
                    s.commit()
                    outcome[order_id] = "booked"
                except Conflict as exc:
                    s.rollback()
                    outcome[order_id] = exc.code

        threads = [threading.Thread(target=book, args=(i,)) for i in ids[2:]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcome.values())[0] == "booked" and list(outcome.values()).count("booked") == 1, outcome
        assert sorted(outcome.values()) == ["booked", "slot_full"]
        with Session(engine) as s:
            slot = s.execute(sa.select(AppointmentSlot).where(AppointmentSlot.counter_id == ids[1])).scalar_one()
            booked = s.execute(sa.select(sa.func.count()).select_from(Appointment).where(
                Appointment.slot_id == slot.id, Appointment.status == AppointmentStatus.BOOKED)).scalar()
            assert slot.booked == slot.capacity == booked == 2
    finally:
        _delete_everything_of(engine, created)
        engine.dispose()


# Children first; every row with an id above the snapshot was made by the race test.
TOUCHED = ("appointment", "appointment_slot", "counter", "certificate_order", "holder_document", "holder",
           "outgoing_mail", "generated_document", "organisation_document", "user_account", "organisation")


def _snapshot(engine) -> dict:
    with engine.connect() as c:
        ids = {t: c.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {t}").scalar() for t in TOUCHED}
        ids["document_counter"] = c.exec_driver_sql("SELECT series, year, last_value FROM document_counter").all()
    return ids


def _delete_everything_of(engine, snap) -> None:
    """Removes what the race test committed and puts the document numbering back
    (the audit log is append-only by design and keeps its records of it)."""
    with engine.begin() as c:
        c.exec_driver_sql(f"UPDATE user_account SET organisation_id = NULL WHERE id > {snap['user_account']}")
        for table in TOUCHED:
            c.exec_driver_sql(f"DELETE FROM {table} WHERE id > {snap[table]}")
        c.exec_driver_sql("DELETE FROM document_counter")
        for series, year, value in snap["document_counter"]:
            c.exec_driver_sql("INSERT INTO document_counter (series, year, last_value) VALUES "
                              f"('{series}', {year}, {value})")
