"""``flask --app ra tokens …`` on real SoftHSM2."""
from __future__ import annotations

import sqlalchemy as sa

from ra.auth.roles import Role
from ra.extensions import db
from ra.tokens.models import Token, TokenBatch
from ra.tokens.states import TokenStatus as S
from tests.factories import make_staff
from tests.tokens.conftest import FACTORY_SO_PIN, TRANSPORT_PIN


def _accounts(app):
    with app.app_context():
        ports = app.extensions["ra.ports"]
        emails = {r: make_staff(db.session, ports, r).email for r in (Role.ADMIN, Role.RA_OFFICER)}
        db.session.commit()
    return emails


def test_receive_list_history_and_events_from_the_command_line(app, driver, tmp_path, monkeypatch):
    monkeypatch.setenv("RA_LANG", "en")  # the assertions below read the English messages
    # This test is about the effect recorded while revocation is not wired in.
    monkeypatch.delitem(app.extensions["ra.ports"].extra, "token_certificate_effects", raising=False)
    who = _accounts(app)
    runner = app.test_cli_runner()
    serials = tmp_path / "serials.txt"
    serials.write_text("CLI-0001\nCLI-0002\n")
    result = runner.invoke(args=["tokens", "receive", "--as", who[Role.ADMIN], "--model", "Rutoken ECP",
                                 "--supplier", "Aktiv", "--date", "2026-11-01", "--serials-file", str(serials),
                                 "--so-pin-stdin"], input="Factory-SO-77\n")
    assert result.exit_code == 0, result.output
    assert "2 tokens in stock" in result.output and "Factory-SO-77" not in result.output
    with app.app_context():
        batch = db.session.execute(sa.select(TokenBatch).where(TokenBatch.model == "Rutoken ECP")).scalar_one()
        assert batch.factory_so_pin and "Factory-SO-77" not in batch.factory_so_pin

    dup = runner.invoke(args=["tokens", "receive", "--as", who[Role.ADMIN], "--model", "Rutoken ECP",
                              "--supplier", "Aktiv", "--serials-file", str(serials)], input="")
    assert dup.exit_code != 0 and "Already in stock: CLI-0001" in dup.output

    denied = runner.invoke(args=["tokens", "receive", "--as", who[Role.RA_OFFICER], "--model", "X", "--supplier", "Y",
                                 "--serials-file", str(serials)], input="")
    assert denied.exit_code != 0 and "not allowed" in denied.output

    stock = runner.invoke(args=["tokens", "stock"])
    assert stock.exit_code == 0 and "in_stock   2" in stock.output

    with app.app_context():
        token = db.session.execute(sa.select(Token).where(Token.serial == "CLI-0001")).scalar_one()
        token.status = S.ACTIVE  # (the handover's step 8; not a stock command)
        db.session.commit()
    lost = runner.invoke(args=["tokens", "event", "CLI-0001", "lost", "--as", who[Role.RA_OFFICER],
                               "--reason", "Reported stolen"])
    assert lost.exit_code == 0, lost.output
    assert "certificates NOT changed" in lost.output and "keyCompromise" in lost.output
    history = runner.invoke(args=["tokens", "history", "cli-0001"])
    assert "token.received" in history.output and "token.lost" in history.output and "Reported stolen" in history.output
    listed = runner.invoke(args=["tokens", "list", "--status", "lost"])
    assert listed.output.strip().startswith("CLI-0001\tlost")


def test_softhsm_stock_slots_and_counter_unblock(app, driver, monkeypatch):
    monkeypatch.setenv("RA_LANG", "en")  # the assertions below read the English messages
    who = _accounts(app)
    runner = app.test_cli_runner()
    made = runner.invoke(args=["tokens", "softhsm-stock", "--count", "2", "--as", who[Role.ADMIN]])
    assert made.exit_code == 0, made.output
    serials = made.output.strip().splitlines()[1:]
    assert len(serials) == 2
    slots = runner.invoke(args=["tokens", "slots"])
    assert slots.exit_code == 0 and all(f"{s}\t" in slots.output for s in serials)
    assert slots.output.count("\tready") == 2

    stranger = driver.softhsm.create_stock_token(so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)
    slots = runner.invoke(args=["tokens", "slots", "--rescan"])
    assert f"Token {stranger} is not in the RU's stock" in slots.output

    unblock = runner.invoke(args=["tokens", "unblock", serials[0], "--as", who[Role.RA_OFFICER], "--pin-stdin"],
                            input="482913\n")
    assert unblock.exit_code != 0 and "Only a token handed over" in unblock.output


def test_the_command_line_speaks_mongolian_by_default(app, monkeypatch):
    monkeypatch.delenv("RA_LANG", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    result = app.test_cli_runner().invoke(args=["tokens", "history", "NO-SUCH-SERIAL"])
    assert result.exit_code != 0
    assert any("\u0400" <= ch <= "\u04ff" for ch in result.output), result.output
