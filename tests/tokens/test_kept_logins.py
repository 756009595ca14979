"""One user login for a handover run (``Pkcs11TokenDriver.keeping_logins``): the
token still judges every PIN, a re-scan or a dropped session does not break the run,
and nothing stays open afterwards."""
from __future__ import annotations

import pytest
from cryptography import x509

from ra.tokens import errors as E
from ra.tokens.initshim import InitTokenShim
from tests.tokens.conftest import FACTORY_SO_PIN, TRANSPORT_PIN
from tests.tokens.test_driver import NEW_SO, USER_PIN, _issue, _prepared, _subject


@pytest.fixture
def prepared(driver, hsm) -> str:
    serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    driver.rescan()
    _prepared(driver, serial)
    return serial


def test_a_kept_login_still_lets_the_token_judge_every_pin(driver, prepared):
    with driver.keeping_logins():
        key = driver.generate_key_pair(prepared, USER_PIN, "ec-p256", "signing")
        with pytest.raises(E.PinIncorrect):
            driver.sign_csr(prepared, TRANSPORT_PIN, key.key_id, _subject())
        with pytest.raises(E.PinIncorrect):
            driver.check_user_pin(prepared, TRANSPORT_PIN)
        assert x509.load_der_x509_csr(driver.sign_csr(prepared, USER_PIN, key.key_id, _subject())).is_signature_valid


def test_the_run_goes_on_after_a_rescan_or_a_dropped_session(driver, prepared):
    """A re-scan of the reader (the counter page's slot list) voids every session
    handle; another operation's clean-up may close all sessions on the slot. The
    next step logs in again instead of pausing the handover."""
    with driver.keeping_logins():
        key = driver.generate_key_pair(prepared, USER_PIN, "ec-p256", "signing")
        driver.rescan()
        csr = driver.sign_csr(prepared, USER_PIN, key.key_id, _subject())
        InitTokenShim(driver.module_path).close_all_sessions(driver.slot(prepared).slot_id)
        cert = _issue(csr)
        driver.put_certificate(prepared, USER_PIN, key.key_id, "signing", cert)
    assert driver.read_certificate(prepared, None, key.key_id) == cert


def test_no_session_stays_open_after_the_run_or_before_an_so_operation(driver, prepared):
    """C_InitToken refuses a token with an open session (CKR_SESSION_EXISTS): the kept
    login is closed before an SO operation inside the block and at its end."""
    with driver.keeping_logins():
        driver.generate_key_pair(prepared, USER_PIN, "ec-p256", "signing")
        driver.init_token(prepared, NEW_SO, "Wiped in the run")
        driver.init_user_pin(prepared, NEW_SO, USER_PIN)
        key = driver.generate_key_pair(prepared, USER_PIN, "ec-p256", "signing")
    driver.init_token(prepared, NEW_SO, "Wiped after the run")
    assert driver.slot(prepared).label == "Wiped after the run"
    driver.init_user_pin(prepared, NEW_SO, USER_PIN)
    with pytest.raises(E.KeyNotFound):
        driver.get_key(prepared, USER_PIN, key.key_id)
