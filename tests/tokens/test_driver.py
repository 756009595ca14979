"""The PKCS#11 driver on real SoftHSM2, checked with OpenSC's pkcs11-tool."""
from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ra.profiles import DEFAULT_PROFILES, SubjectData, build_subject
from ra.tokens import errors as E
from ra.tokens.initshim import InitTokenShim
from tests.tokens.conftest import FACTORY_SO_PIN, TRANSPORT_PIN, pkcs11_tool

NEW_SO = "Fresh-SO-PIN-0123456789"
USER_PIN = "739164"


def _issue(csr_der: bytes, *, key=None) -> bytes:
    """A throwaway issuer standing in for the CA (the CA port is tested elsewhere):
    enough to have a real certificate to write to the token."""
    csr = x509.load_der_x509_csr(csr_der)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(csr.subject)
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test issuer")]))
            .public_key(key or csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=30)).sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def _prepared(driver, serial):
    driver.init_token(serial, FACTORY_SO_PIN, "Holder")
    driver.set_so_pin(serial, FACTORY_SO_PIN, NEW_SO)
    driver.init_user_pin(serial, NEW_SO, USER_PIN)


def _subject():
    return build_subject(DEFAULT_PROFILES["signing"], SubjectData(
        latin_name="Bat-Erdene Bold", cyrillic_name="Бат-Эрдэнэ Болд", register_number="УБ99010112",
        organisation="Сүхбаатар дүүргийн 1-р хороо", position="Мэргэжилтэн", email="bold@sbd.gov.mn"))


def test_slots_show_stock_tokens_by_serial_and_label(driver, hsm):
    serials = hsm.create_stock(2, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)
    slots = driver.list_slots(rescan=True)
    assert {s.serial for s in slots} == set(serials)
    assert all(s.label.startswith("STOCK-") and s.initialised and s.user_pin_initialised for s in slots)


def test_init_token_shim_keeps_serial_replaces_label_and_refuses_a_wrong_so_pin(driver, hsm):
    serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    driver.rescan()
    before = driver.slot(serial)
    with pytest.raises(E.SoPinIncorrect) as wrong:
        driver.init_token(serial, "NOT-THE-SO-PIN", "Holder")
    assert "SO PIN" in wrong.value.render()
    assert driver.slot(serial).label == before.label  # nothing happened

    driver.init_token(serial, FACTORY_SO_PIN, "Батбаяр Ганзориг")
    after = driver.slot(serial)
    assert after.serial == serial and after.label == "Батбаяр Ганзориг"
    assert not after.user_pin_initialised  # C_InitToken wiped the transport PIN
    listing = pkcs11_tool(hsm, driver.module_path, "-L")
    assert "Батбаяр Ганзориг" in listing and serial in listing


def test_the_shim_uses_only_the_already_loaded_module(tmp_path):
    lib = tmp_path / "libnot-loaded.so"
    lib.write_bytes(b"")
    with pytest.raises(Exception, match="not loaded"):
        InitTokenShim(str(lib))


def test_the_shim_leaves_python_pkcs11_sessions_alive(driver, hsm):
    """No C_Finalize behind python-pkcs11's back: a session it holds on one token
    still works after C_InitToken on another through the shim."""
    first, second = hsm.create_stock(2, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)
    driver.rescan()
    token = next(t for t in driver._lib().get_tokens() if t.serial.decode() == first)
    with token.open(user_pin=TRANSPORT_PIN) as session:
        driver.init_token(second, FACTORY_SO_PIN, "Other")
        assert list(session.get_objects()) == []  # the session is still valid
    assert driver.slot(second).label == "Other"


def test_so_pin_rotation_and_user_pin_via_c_initpin(driver, hsm):
    serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    driver.rescan()
    _prepared(driver, serial)
    with pytest.raises(E.SoPinIncorrect):
        driver.check_so_pin(serial, FACTORY_SO_PIN)
    driver.check_so_pin(serial, NEW_SO)
    driver.check_user_pin(serial, USER_PIN)
    with pytest.raises(E.PinIncorrect):
        driver.check_user_pin(serial, TRANSPORT_PIN)


@pytest.mark.parametrize("key_type", ["ec-p256", "rsa2048", "rsa3072"])
def test_key_generated_on_token_never_extractable_then_csr_and_certificate(driver, hsm, key_type, tmp_path):
    serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    driver.rescan()
    _prepared(driver, serial)
    key = driver.generate_key_pair(serial, USER_PIN, key_type, "signing")
    assert key.local and key.always_sensitive and key.never_extractable and len(key.key_id) == 20

    # Independent check: OpenSC sees a local, never-extractable, sensitive private key under our CKA_ID.
    slot = str(driver.slot(serial).slot_id)
    objects = pkcs11_tool(hsm, driver.module_path, "--slot", slot, "--login", "--pin", USER_PIN, "-O")
    private = objects[objects.index("Private Key Object"):]
    assert f"ID:         {key.key_id.hex()}" in private
    access = re.search(r"Access:\s*(.*)", private).group(1)
    assert {"sensitive", "always sensitive", "never extractable", "local"} <= {a.strip() for a in access.split(",")}

    # The CSR is signed by the token key and carries the token's public key.
    csr_der = driver.sign_csr(serial, USER_PIN, key.key_id, _subject())
    csr = x509.load_der_x509_csr(csr_der)
    assert csr.is_signature_valid
    pkcs11_tool(hsm, driver.module_path, "--slot", slot, "--read-object", "--type", "pubkey",
                "--id", key.key_id.hex(), "--output-file", str(tmp_path / "pub.der"))
    assert csr.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
        == (tmp_path / "pub.der").read_bytes() == key.public_key_info
    assert csr.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "PNOMN-UB99010112"
    openssl = subprocess.run(["openssl", "req", "-inform", "DER", "-verify", "-noout"], input=csr_der,
                             capture_output=True, timeout=30)
    assert openssl.returncode == 0 and b"verify OK" in openssl.stdout + openssl.stderr

    # The certificate goes to the token under the key's CKA_ID and reads back the same.
    cert_der = _issue(csr_der)
    driver.put_certificate(serial, USER_PIN, key.key_id, "signing", cert_der)
    assert driver.read_certificate(serial, None, key.key_id) == cert_der
    driver.put_certificate(serial, USER_PIN, key.key_id, "signing", cert_der)  # resuming twice is harmless
    listing = pkcs11_tool(hsm, driver.module_path, "--slot", slot, "-O", "--type", "cert")
    assert listing.count("Certificate Object") == 1 and key.key_id.hex() in listing


def test_a_certificate_for_another_key_is_refused(driver, hsm):
    serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    driver.rescan()
    _prepared(driver, serial)
    key = driver.generate_key_pair(serial, USER_PIN, "ec-p256", "signing")
    csr_der = driver.sign_csr(serial, USER_PIN, key.key_id, _subject())
    other = _issue(csr_der, key=ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(E.CertificateMismatch):
        driver.put_certificate(serial, USER_PIN, key.key_id, "signing", other)
    assert driver.read_certificate(serial, None, key.key_id) is None


def test_a_missing_or_removed_token_is_named_by_serial(driver, hsm):
    with pytest.raises(E.TokenNotPresent) as absent:
        driver.slot("0000deadbeef0000")
    assert "0000deadbeef0000" in absent.value.render()
    serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    driver.rescan()
    _prepared(driver, serial)
    hsm.delete_token(serial)  # pulled out of the reader
    with pytest.raises((E.TokenNotPresent, E.TokenRemoved)):
        driver.rescan()
        driver.generate_key_pair(serial, USER_PIN, "ec-p256", "signing")


def test_the_key_is_found_again_when_a_handover_resumes(driver, hsm):
    serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    driver.rescan()
    _prepared(driver, serial)
    key = driver.generate_key_pair(serial, USER_PIN, "ec-p256", "signing")
    again = driver.get_key(serial, USER_PIN, key.key_id)
    assert again == key
    with pytest.raises(E.KeyNotFound):
        driver.get_key(serial, USER_PIN, b"\x00" * 20)


def test_key_type_follows_the_certificate_profile(driver, hsm):
    from dataclasses import replace

    serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    driver.rescan()
    _prepared(driver, serial)
    profile = replace(DEFAULT_PROFILES["authentication"], default_key_type="ec-p256",
                      allowed_key_types=("ec-p256", "rsa2048"))
    key = driver.generate_key_pair_for_profile(serial, USER_PIN, profile)
    assert key.key_type == "ec-p256"
    assert driver.generate_key_pair_for_profile(serial, USER_PIN, profile, key_type="rsa2048").key_type == "rsa2048"
    with pytest.raises(E.KeyTypeNotAllowed):
        driver.generate_key_pair_for_profile(serial, USER_PIN, profile, key_type="rsa3072")
