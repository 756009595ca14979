"""Preparing a stock token for a holder, step by step, and PIN unblock at the
counter: real SoftHSM2, checked by logging in to the token."""
from __future__ import annotations

import pytest

from ra.errors import InvalidTransition, PermissionDenied
from ra.extensions import db
from ra.tokens import errors as E
from ra.tokens import pins, queries
from ra.tokens import stock_service as svc
from ra.tokens.escrow import token_context
from ra.tokens.states import TokenStatus as S
from tests.tokens.conftest import FACTORY_SO_PIN, pkcs11_tool

HOLDER_PIN = "582047"


def _prepare(staff, ports, token, pin=HOLDER_PIN):
    svc.begin_initialisation(db.session, staff.officer, token, ports=ports)
    db.session.flush()  # the handover commits here
    svc.initialise_token(db.session, staff.officer, token, label="Ганзориг Б.", ports=ports)
    svc.set_user_pin(db.session, staff.officer, token, pin, source="typed", ports=ports)


def test_initialisation_replaces_the_factory_so_pin_with_a_fresh_escrowed_one(ctx, ports, staff, driver, stock):
    token = stock(1).tokens[0]
    _prepare(staff, ports, token)
    so_pin = ports.tokens.escrow.open(token.so_pin, token_context(token.serial))
    assert len(so_pin) >= 16 and so_pin != FACTORY_SO_PIN and token.so_pin_pending is None
    driver.check_so_pin(token.serial, so_pin)
    with pytest.raises(E.SoPinIncorrect):
        driver.check_so_pin(token.serial, FACTORY_SO_PIN)
    driver.check_user_pin(token.serial, HOLDER_PIN)
    assert driver.slot(token.serial).label == "Ганзориг Б."
    actions = [r.action for r in queries.token_history(db.session, token)]
    assert actions == ["token.received", "token.so_pin_drawn", "token.initialised", "token.user_pin_set"]


def test_an_interrupted_initialisation_resumes_with_the_pending_so_pin(ctx, ports, staff, driver, stock):
    token = stock(1).tokens[0]
    svc.begin_initialisation(db.session, staff.officer, token, ports=ports)
    pending = ports.tokens.escrow.open(token.so_pin_pending, token_context(token.serial))
    # The earlier run reached the token (C_InitToken, C_SetPIN) and died before its commit.
    driver.init_token(token.serial, FACTORY_SO_PIN, "half done")
    driver.set_so_pin(token.serial, FACTORY_SO_PIN, pending)
    svc.initialise_token(db.session, staff.officer, token, label="Holder", ports=ports)
    assert ports.tokens.escrow.open(token.so_pin, token_context(token.serial)) == pending
    driver.check_so_pin(token.serial, pending)
    assert queries.token_history(db.session, token)[-1].details.count('"resumed": true') == 1


def test_initialisation_needs_the_drawn_so_pin_and_an_officer(ctx, ports, staff, driver, stock):
    token = stock(1).tokens[0]
    with pytest.raises(InvalidTransition):
        svc.initialise_token(db.session, staff.officer, token, label="x", ports=ports)
    with pytest.raises(PermissionDenied):
        svc.begin_initialisation(db.session, staff.auditor, token, ports=ports)


def test_the_user_pin_policy_is_checked_before_the_token(ctx, en, ports, staff, driver, stock):
    token = stock(1).tokens[0]
    svc.begin_initialisation(db.session, staff.officer, token, ports=ports)
    svc.initialise_token(db.session, staff.officer, token, label="x", ports=ports)
    for weak in ("12345", "111111", "123456", "654321", "abcdef", "12 34 56", "x" * 17):
        with pytest.raises(pins.PinPolicyError):
            svc.set_user_pin(db.session, staff.officer, token, weak, source="typed", ports=ports)
    assert not driver.slot(token.serial).user_pin_initialised


def test_a_wrong_so_pin_on_record_stops_the_officer(ctx, en, ports, staff, driver, stock):
    token = stock(1, so_pin="WRONG-FACTORY-PIN").tokens[0]
    svc.begin_initialisation(db.session, staff.officer, token, ports=ports)
    with pytest.raises(E.SoPinIncorrect) as exc:
        svc.initialise_token(db.session, staff.officer, token, label="x", ports=ports)
    assert "call the administrator" in exc.value.render()


def test_pin_unblock_at_the_counter(ctx, en, ports, staff, driver, stock, hsm):
    token = stock(1).tokens[0]
    _prepare(staff, ports, token)
    with pytest.raises(InvalidTransition):  # not handed over yet
        svc.unblock_at_counter(db.session, staff.officer, token, "902741", ports=ports)
    svc.activate_token(db.session, staff.officer, token, ports=ports)

    # The holder forgets the PIN: wrong tries are refused by the token.
    for _ in range(3):
        with pytest.raises(E.PinIncorrect):
            driver.check_user_pin(token.serial, "000017")
    assert driver.slot(token.serial).user_pin_count_low

    svc.unblock_at_counter(db.session, staff.officer, token, "902741", ports=ports)
    driver.check_user_pin(token.serial, "902741")
    assert not driver.slot(token.serial).user_pin_count_low
    with pytest.raises(E.PinIncorrect):
        driver.check_user_pin(token.serial, HOLDER_PIN)
    assert [r.action for r in queries.token_history(db.session, token)][-1] == "token.unblocked"
    with pytest.raises(PermissionDenied):
        svc.unblock_at_counter(db.session, staff.admin, token, "902741", ports=ports)


def test_returned_token_is_wiped_before_it_goes_back_to_stock(ctx, ports, staff, driver, stock, hsm):
    token = stock(1).tokens[0]
    _prepare(staff, ports, token)
    driver.generate_key_pair(token.serial, HOLDER_PIN, "ec-p256", "signing")
    svc.activate_token(db.session, staff.officer, token, ports=ports)
    svc.change_token_state(db.session, staff.officer, token, S.RETURNED, reason="Retired", ports=ports)
    svc.change_token_state(db.session, staff.officer, token, S.IN_STOCK, reason="Reuse", ports=ports)
    assert token.status == S.IN_STOCK and driver.slot(token.serial).label == svc.STOCK_LABEL
    assert "Private Key Object" not in pkcs11_tool(hsm, driver.module_path, "--slot",
                                                   str(driver.slot(token.serial).slot_id), "-O")
    assert svc.token_for_initialisation(db.session, token.serial) is token  # ready for the next holder
    _prepare(staff, ports, token, pin="270593")  # the RU's escrowed SO PIN re-initialises it
    driver.check_user_pin(token.serial, "270593")


def test_library_errors_map_to_messages_an_officer_understands(en):
    import pkcs11.exceptions as px

    assert isinstance(E.translate(px.PinLocked(), serial="S1"), E.PinLocked)
    assert "unblocked at the counter" in E.translate(px.PinLocked(), serial="S1").render()
    assert "set it aside as damaged" in E.translate(px.PinLocked(), serial="S1", so=True).render()
    assert "S1" in E.translate(px.DeviceRemoved(), serial="S1").render()
    assert isinstance(E.translate(px.TokenNotPresent(), serial="S1"), E.TokenNotPresent)
    assert isinstance(E.translate(px.SessionExists(), serial="S1"), E.TokenBusy)
    assert isinstance(E.translate(px.PinLenRange(), serial="S1"), E.PinRejected)
    assert "GeneralError" in E.translate(px.GeneralError(), serial="S1").render()


def test_messages_are_translated_to_mongolian(ctx):
    from flask_babel import force_locale

    with force_locale("mn"):
        text = E.PinLocked(serial="S1").render()
    assert "S1" in text and "PIN" in text and "locked" not in text
