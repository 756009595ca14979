"""A crash, a CA outage or a pulled token anywhere in the handover loses nothing
and duplicates nothing (DESIGN §3.3): after Resume there is exactly one
certificate for the order, it is on the token, and the token holds one key."""
from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ra.ca.models import EmbeddedIssued
from ra.extensions import db
from ra.tokens import handover_jobs as jobs
from ra.tokens import handover_service as svc
from ra.tokens.handover_states import ORDERED, HandoverStep as H
from tests.tokens.test_handover_support import (HOLDER_PIN, certificates_of, pkcs11_objects, private_key_blocks,
                                                ready_order)
from tests.tokens.test_handover_support import handover_of as _handover


class Crash(Exception):
    """Stands for the process dying right after a step was committed."""


@pytest.fixture(autouse=True)
def _ca(embedded_ca):
    return embedded_ca


def assert_exactly_one_certificate_on_the_token(ports, driver, hsm, order, token, h):
    certs = certificates_of(db.session, order.id)
    assert len(certs) == 1, [c.serial for c in certs]
    cert = certs[0]
    assert cert.token_id == token.id and h.certificate_id == cert.id
    assert driver.read_certificate(token.serial, None, h.key_id_bytes) == svc.certificate_der(cert)
    keys = private_key_blocks(pkcs11_objects(hsm, driver.module_path, driver.slot(token.serial).slot_id, HOLDER_PIN))
    assert len(keys) == 1 and h.key_id in keys[0]
    # The CA itself signed one certificate for this key.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmbeddedIssued).where(
        EmbeddedIssued.public_key_sha256 == cert.public_key_sha256)) == 1


@pytest.mark.parametrize("boundary", ORDERED[:-1], ids=[s.value for s in ORDERED[:-1]])
def test_a_crash_at_any_step_boundary_resumes_to_one_certificate_on_the_token(ctx, ports, staff, driver, hsm,
                                                                               stock, boundary):
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)

    def crash(step):
        if step == boundary:
            raise Crash()

    with pytest.raises(Crash):
        jobs.start(db.session, staff.officer, order, id_document_type="id_card",
                   id_document_number=order.holder.register_number, token_serial=token.serial,
                   user_pin=HOLDER_PIN, ports=ports, after_step=crash)
    h = _handover(order)
    assert h.step == boundary and h.claimed_by is None
    # Resume: the PIN was never kept, so the holder types it again (it is set anew).
    result = jobs.run(db.session, staff.officer, h.id, user_pin=HOLDER_PIN, ports=ports,
                      token_serial=token.serial if boundary == H.IDENTITY_CHECKED else None)
    assert result.error is None and result.completed
    assert_exactly_one_certificate_on_the_token(ports, driver, hsm, order, token, _handover(order))


def test_a_crash_inside_key_generation_leaves_no_stray_key(ctx, ports, staff, driver, hsm, stock):
    """The earlier run generated a pair and died before recording it: the resumed
    run wipes the token first, so it ends up with exactly one key."""
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    result = jobs.start(db.session, staff.officer, order, id_document_type="id_card",
                        id_document_number=order.holder.register_number, token_serial=token.serial,
                        user_pin=HOLDER_PIN, ports=ports, stop_after=H.TOKEN_INITIALISED)
    h = _handover(order)
    assert result.step == H.TOKEN_INITIALISED
    driver.generate_key_pair_for_profile(token.serial, HOLDER_PIN, ports.profiles["signing"], key_type="ec-p256")
    assert len(private_key_blocks(pkcs11_objects(hsm, driver.module_path, driver.slot(token.serial).slot_id,
                                                 HOLDER_PIN))) == 1
    result = jobs.run(db.session, staff.officer, h.id, user_pin=HOLDER_PIN, ports=ports)
    assert result.completed
    assert_exactly_one_certificate_on_the_token(ports, driver, hsm, order, token, _handover(order))


def test_a_pulled_token_pauses_the_handover_until_it_is_back(ctx, en, ports, staff, driver, hsm, stock, tmp_path):
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    (token_dir,) = [p for p in hsm.tokendir.iterdir() if p.is_dir()]
    aside = tmp_path / "pulled"

    def pull(step):
        if step == H.KEY_GENERATED:
            token_dir.rename(aside)
            driver.rescan()

    result = jobs.start(db.session, staff.officer, order, id_document_type="id_card",
                        id_document_number=order.holder.register_number, token_serial=token.serial,
                        user_pin=HOLDER_PIN, ports=ports, after_step=pull)
    assert result.error is not None and result.error.code == "token_not_present"
    h = _handover(order)
    assert h.step == H.KEY_GENERATED and h.error_code == "token_not_present" and token.serial in h.error_message
    aside.rename(token_dir)
    driver.rescan()
    result = jobs.run(db.session, staff.officer, h.id, user_pin=HOLDER_PIN, ports=ports)
    assert result.completed and _handover(order).error_code is None
    assert_exactly_one_certificate_on_the_token(ports, driver, hsm, order, token, _handover(order))


def test_a_second_run_is_refused_while_one_is_on_and_a_dead_runs_claim_is_taken_over(ctx, ports, staff, driver,
                                                                                     stock):
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    jobs.start(db.session, staff.officer, order, id_document_type="id_card",
               id_document_number=order.holder.register_number, token_serial=token.serial, ports=ports,
               stop_after=H.TOKEN_PICKED)
    h = _handover(order)
    host = socket.gethostname()[:60]
    h.claimed_by, h.claimed_until = f"{host}:{os.getpid()}:other-tab", ports.clock.now() + timedelta(minutes=5)
    db.session.commit()
    with pytest.raises(jobs.HandoverBusy):
        jobs.run(db.session, staff.officer, h.id, user_pin=HOLDER_PIN, ports=ports)
    assert _handover(order).step == H.TOKEN_PICKED
    # A process of this host that no longer exists holds no claim.
    import subprocess
    import sys
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    h = _handover(order)
    h.claimed_by = f"{host}:{gone.stdout.strip()}:killed"
    db.session.commit()
    assert jobs.run(db.session, staff.officer, h.id, user_pin=HOLDER_PIN, ports=ports).completed


CHILD = r"""
import json, os, signal, sys
config = json.loads(sys.argv[1])
config["CA_EMBEDDED_KEYS"] = tuple(config["CA_EMBEDDED_KEYS"])
from ra import create_app
app = create_app(config)
with app.app_context():
    from ra.auth.models import User
    from ra.enrollment.holder_models import CertificateOrder
    from ra.extensions import db
    from ra.tokens import handover_jobs as jobs
    from ra.tokens.handover_states import HandoverStep
    officer = db.session.get(User, int(sys.argv[2]))
    order = db.session.get(CertificateOrder, int(sys.argv[3]))
    pin = sys.stdin.readline().strip()

    def after(step):
        print(step.value, flush=True)
        if step == HandoverStep.CERTIFICATE_ISSUED:
            os.kill(os.getpid(), signal.SIGKILL)  # between CA issuance and the certificate write

    jobs.start(db.session, officer, order, id_document_type="id_card",
               id_document_number=order.holder.register_number, token_serial=sys.argv[4], user_pin=pin,
               ports=app.extensions["ra.ports"], after_step=after)
"""


def test_a_process_killed_between_issuance_and_the_certificate_write_resumes(db_kind, tmp_path, smtp_sink):
    """A real SIGKILL in a child process that runs the handover on its own committed
    database and token directory; this process then resumes it."""
    import json
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from flask_migrate import upgrade

    from ra import create_app
    from ra.auth.roles import Role
    from ra.tokens.demo import make_softhsm_stock
    from tests.conftest import app_config
    from tests.factories import make_staff
    from tests.support.databases import drop_database, make_database

    url = make_database(db_kind, tmp_path)
    config = app_config(url, tmp_path / "instance", smtp_sink.port, CA_EMBEDDED_KEYS=("ec-p256", "ec-p256"),
                        MAIL_URL="file:")
    app = create_app(config)
    try:
        with app.app_context():
            ports = app.extensions["ra.ports"]
            upgrade(revision="heads")
            ports.ca.initialise(db.session)
            officer = make_staff(db.session, ports, Role.RA_OFFICER)
            admin = make_staff(db.session, ports, Role.ADMIN)
            order = ready_order(db.session, ports)
            (serial,), _ = make_softhsm_stock(db.session, admin, 1, ports=ports)
            db.session.commit()
            ids = officer.id, order.id
        root = Path(__file__).resolve().parents[2]
        child = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(config), str(ids[0]), str(ids[1]), serial],
            input=HOLDER_PIN + "\n", capture_output=True, text=True, timeout=120, cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)})
        assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
        assert child.stdout.split()[-1] == "certificate_issued"
        with app.app_context():
            ports = app.extensions["ra.ports"]
            ports.tokens.rescan()  # see what the child did to the token
            order = db.session.get(type(order), ids[1])
            h = _handover(order)
            assert h.step == H.CERTIFICATE_ISSUED and h.claimed_by is not None  # the dead process's claim
            (cert,) = certificates_of(db.session, order.id)
            assert cert.token_id is None
            assert ports.tokens.read_certificate(serial, None, h.key_id_bytes) is None  # not on the token yet
            officer = db.session.get(type(officer), ids[0])
            result = jobs.run(db.session, officer, h.id, user_pin=HOLDER_PIN, ports=ports)
            assert result.error is None and result.completed
            h = _handover(order)
            (cert,) = certificates_of(db.session, order.id)
            assert cert.token_id == h.token_id and h.claimed_by is None
            assert ports.tokens.read_certificate(serial, None, h.key_id_bytes) == svc.certificate_der(cert)
            assert db.session.scalar(sa.select(sa.func.count()).select_from(EmbeddedIssued)) == 1
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database(url)
