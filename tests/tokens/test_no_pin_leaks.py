"""The user PIN is never stored or logged anywhere; SO PINs only as escrow blobs
(issue #5). Every table is read back in full and every log line and console byte
of the run is searched."""
from __future__ import annotations

import logging

import sqlalchemy as sa

from ra.auth.roles import Role
from ra.extensions import db
from ra.tokens import stock_service as svc
from ra.tokens.escrow import token_context
from tests.factories import make_staff
from tests.foundation.helpers import login, token_of
from tests.tokens.conftest import FACTORY_SO_PIN, TRANSPORT_PIN

FIRST_PIN = "Qz7-93x1"     # typed by the holder at initialisation
COUNTER_PIN = "Wv4-28k6"   # set by the web unblock
CLI_PIN = "Jm8-51p0"       # set by the CLI unblock


def _database_dump(session) -> str:
    """Every row of every table, read through the test's own connection."""
    parts = []
    for table in db.metadata.sorted_tables:
        for row in session.execute(sa.select(table)).all():
            for value in row:
                parts.append(value.decode("latin-1") if isinstance(value, (bytes, memoryview)) else str(value))
    return "\n".join(parts)


def test_pins_never_reach_the_database_or_the_logs(app, driver, hsm, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    driver.rescan()
    with app.app_context():
        ports = app.extensions["ra.ports"]
        admin = make_staff(db.session, ports, Role.ADMIN)
        officer = make_staff(db.session, ports, Role.RA_OFFICER)
        batch = svc.receive_batch(db.session, admin, svc.BatchData(
            model="SoftHSM2 test", supplier="Test", received_on=ports.clock.today(), serials=serial,
            factory_so_pin=FACTORY_SO_PIN), ports=ports)
        token = batch.tokens[0]
        svc.begin_initialisation(db.session, officer, token, ports=ports)
        db.session.commit()
        svc.initialise_token(db.session, officer, token, label="Holder", ports=ports)
        svc.set_user_pin(db.session, officer, token, FIRST_PIN, source="typed", ports=ports)
        key = driver.generate_key_pair(serial, FIRST_PIN, "ec-p256", "signing")
        svc.activate_token(db.session, officer, token, ports=ports)
        db.session.commit()
        so_pin = ports.tokens.escrow.open(token.so_pin, token_context(serial))
        token_id, officer_email = token.id, officer.email

    client = app.test_client()
    login(client, officer_email)
    csrf = token_of(client, f"/tokens/{token_id}")
    assert client.post(f"/tokens/{token_id}/unblock", data={"csrf_token": csrf, "pin": "Bad 1", "pin2": "Bad 1"}
                       ).status_code == 400
    assert client.post(f"/tokens/{token_id}/unblock",
                       data={"csrf_token": csrf, "pin": COUNTER_PIN, "pin2": COUNTER_PIN}).status_code == 303
    result = app.test_cli_runner().invoke(args=["tokens", "unblock", serial, "--as", officer_email, "--pin-stdin"],
                                          input=CLI_PIN + "\n")
    assert result.exit_code == 0, result.output
    driver.check_user_pin(serial, CLI_PIN)
    for wrong in (FIRST_PIN, COUNTER_PIN):  # wrong tries are logged too: without the PIN
        try:
            driver.get_key(serial, wrong, key.key_id)
        except Exception as exc:  # noqa: BLE001
            logging.getLogger("test").info("refused: %s", type(exc).__name__)

    with app.app_context():
        dump = _database_dump(db.session)
    out, err = capfd.readouterr()
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    haystacks = {"database": dump, "logs": logs, "console": out + err + result.output}
    assert "token.unblocked" in dump and serial in dump and "refused: PinIncorrect" in logs
    for secret in (FIRST_PIN, COUNTER_PIN, CLI_PIN, TRANSPORT_PIN, so_pin, FACTORY_SO_PIN):
        for where, text in haystacks.items():
            assert secret not in text, f"a PIN was found in the {where}"
