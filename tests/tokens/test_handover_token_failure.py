"""A token that dies in the middle of a handover (a process killed inside
C_InitToken leaves SoftHSM2's token files empty and the slot gone) no longer
leaves the order stuck: Resume and Cancel cannot reach it, so the officer records
it damaged from the open handover; the handover ends abandoned, the token is
damaged with its history, a certificate already issued is revoked, and the order
is served with a new token."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.ca.states import CertificateStatus
from ra.enrollment.order_states import OrderStatus
from ra.errors import RAError
from ra.extensions import db
from ra.tokens import handover_jobs as jobs
from ra.tokens import stock_service
from ra.tokens.handover_states import HandoverStep as H
from ra.tokens.states import TokenStatus
from tests.tokens.test_handover_support import HOLDER_PIN, ready_order
from tests.tokens.test_handover_support import handover_of as _handover


class Killed(Exception):
    """Stands for the worker process being killed."""


@pytest.fixture(autouse=True)
def _ca(embedded_ca):
    return embedded_ca


def truncate_token_files(hsm, serial: str) -> None:
    """What the kill inside C_InitToken did: the token's object files left empty."""
    for folder in hsm.tokendir.iterdir():
        token_file = folder / "token.object"
        if token_file.exists() and serial.encode() in token_file.read_bytes():
            for f in folder.iterdir():
                f.write_bytes(b"")
            return
    raise AssertionError(f"no SoftHSM2 token directory holds {serial}")


@pytest.mark.parametrize("died_after", [H.TOKEN_PICKED, H.CERTIFICATE_ISSUED], ids=lambda s: s.value)
def test_a_token_that_dies_mid_handover_is_recorded_damaged_and_the_order_served(
        ctx, ports, staff, driver, hsm, stock, died_after):
    dead, spare = stock(2).tokens
    order = ready_order(db.session, ports)
    db.session.commit()

    def kill(step):
        if step == died_after:
            truncate_token_files(hsm, dead.serial)
            raise Killed()

    with pytest.raises(Killed):
        jobs.start(db.session, staff.officer, order, id_document_type="id_card",
                   id_document_number=order.holder.register_number, token_serial=dead.serial,
                   user_pin=HOLDER_PIN, ports=ports, after_step=kill)
    driver.rescan()
    h = _handover(order)
    assert h.step == died_after and h.token_id == dead.id
    # Resume stops again on the dead token; Cancel needs the token in the reader; a
    # new handover of the order is refused while this one is open.
    assert jobs.run(db.session, staff.officer, h.id, user_pin=HOLDER_PIN, ports=ports).error is not None
    if died_after == H.TOKEN_PICKED:
        with pytest.raises(RAError):
            jobs.cancel(db.session, staff.officer, h.id, "token gone", ports=ports)
    with pytest.raises(RAError) as refused:
        stock_service.change_token_state(db.session, staff.officer, db.session.get(type(dead), dead.id),
                                         TokenStatus.DAMAGED, reason="broken", ports=ports)
    assert refused.value.code in ("handover_open", "invalid_transition")
    db.session.rollback()

    jobs.token_failed(db.session, staff.officer, h.id, "token files empty after a crash", ports=ports)

    h = _handover(order)
    assert h.step == H.ABANDONED and h.finished
    token = db.session.get(type(dead), dead.id)
    assert token.status == TokenStatus.DAMAGED
    history = db.session.execute(sa.select(AuditRecord.action, AuditRecord.details).where(
        AuditRecord.object_type == "token", AuditRecord.object_id == str(dead.id))
        .order_by(AuditRecord.seq)).all()
    assert history[-1].action == "token.damaged" and f'"handover_id": {h.id}' in history[-1].details
    db.session.refresh(order)
    assert order.status == OrderStatus.APPROVED
    if died_after == H.CERTIFICATE_ISSUED:  # no token holds it: it must not stay valid
        assert h.certificate.status != CertificateStatus.VALID

    served = jobs.start(db.session, staff.officer, order, id_document_type="id_card",
                        id_document_number=order.holder.register_number, token_serial=spare.serial,
                        user_pin=HOLDER_PIN, ports=ports)
    assert served.error is None and served.completed
    db.session.refresh(order)
    assert order.status == OrderStatus.ISSUED


def test_the_resume_hint_names_every_argument_resume_needs():
    from ra.tokens.handover_cli import resume_command
    from ra.tokens.handover_models import Handover
    from ra.tokens.handover_states import PinSource

    after_step_1 = resume_command(Handover(id=7, step=H.IDENTITY_CHECKED, token_id=None, pin_source=None))
    assert after_step_1 == ("flask --app ra tokens handover-resume 7 --as OFFICER_EMAIL (--serial SERIAL | --slot N) "
                            "(--pin-stdin | --random-pin --envelope FILE)")
    enveloped = resume_command(Handover(id=7, step=H.KEY_GENERATED, token_id=3, pin_source=PinSource.ENVELOPE))
    assert "--serial" not in enveloped and enveloped.endswith("--random-pin --envelope FILE")
    last = resume_command(Handover(id=7, step=H.CERTIFICATE_WRITTEN, token_id=3, pin_source=PinSource.TYPED))
    assert last == "flask --app ra tokens handover-resume 7 --as OFFICER_EMAIL"


def test_the_officer_records_the_failure_from_the_handover_page(app, driver, hsm):
    from ra.tokens.handover_models import Handover
    from tests.foundation.helpers import login, token_of
    from tests.tokens.test_handover_entrypoints import _setup

    email, officer, (serial,), [(order_id, regno, _)] = _setup(app, hsm, driver)
    with app.app_context():
        from ra.enrollment.holder_models import CertificateOrder
        ports = app.extensions["ra.ports"]

        def kill(step):
            if step == H.TOKEN_PICKED:
                truncate_token_files(hsm, serial)
                raise Killed()

        with pytest.raises(Killed):
            jobs.start(db.session, db.session.merge(officer), db.session.get(CertificateOrder, order_id),
                       id_document_type="id_card", id_document_number=regno, token_serial=serial,
                       user_pin=HOLDER_PIN, ports=ports, after_step=kill)
        hid = db.session.execute(sa.select(Handover.id).where(Handover.order_id == order_id)).scalar_one()
    client = app.test_client()
    login(client, email)
    url = f"/tokens/handovers/{hid}"
    page = client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="token-failed-form"' in page
    done = client.post(f"{url}/token-failed", data={"csrf_token": token_of(client, url),
                                                    "reason": "gone from the reader after a crash"})
    assert done.status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "Орхигдсон (токен гэмтсэн)" in page and 'id="token-failed-form"' not in page
    with app.app_context():
        assert db.session.get(Handover, hid).token.status == TokenStatus.DAMAGED
        assert db.session.get(CertificateOrder, order_id).status == OrderStatus.APPROVED
