"""The counter handover end to end on real SoftHSM2 and the embedded CA, checked
the way an auditor would: OpenSC's pkcs11-tool reads the token, OpenSSL verifies
the certificate, pdftotext reads the receipt, the audit log tells the story."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ra.audit.models import AuditRecord
from ra.enrollment.order_states import OrderStatus
from ra.errors import PermissionDenied
from ra.extensions import db
from ra.localtime import local_text
from ra.tokens import handover_jobs as jobs
from ra.tokens import handover_service as svc
from ra.tokens import queries
from ra.tokens import stock_service
from ra.tokens.handover_states import HandoverStep as H
from ra.tokens.states import TokenStatus
from tests.tokens.conftest import pkcs11_tool
from tests.tokens.test_handover_support import (HOLDER_PIN, certificates_of, openssl_verify, pdf_text, pkcs11_objects,
                                                private_key_blocks, read_token_certificate, ready_order)


@pytest.fixture(autouse=True)
def _ca(embedded_ca):
    return embedded_ca


def _hand_over(staff, ports, order, token, **kw):
    kw.setdefault("user_pin", HOLDER_PIN)
    return jobs.start(db.session, staff.officer, order, id_document_type="id_card",
                      id_document_number=order.holder.register_number, token_serial=token.serial, ports=ports, **kw)


@pytest.mark.parametrize("key_type", ["rsa2048", "ec-p256"])
def test_a_full_handover_puts_a_protected_key_and_its_certificate_on_the_token(ctx, ports, staff, driver, hsm, stock,
                                                                                tmp_path, key_type):
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports, key_type=key_type)
    seen = []
    result = _hand_over(staff, ports, order, token, after_step=seen.append)
    assert result.error is None and result.completed
    assert seen == [H.IDENTITY_CHECKED, H.TOKEN_PICKED, H.TOKEN_INITIALISED, H.KEY_GENERATED,
                    H.CSR_SIGNED, H.CERTIFICATE_ISSUED, H.CERTIFICATE_WRITTEN, H.COMPLETED]
    h = svc_handover(result)
    certs = certificates_of(db.session, order.id)
    assert len(certs) == 1 and certs[0].token_id == token.id and h.certificate_id == certs[0].id
    slot_id = driver.slot(token.serial).slot_id

    # OpenSC lists one private key, generated on the token and never extractable.
    listing = pkcs11_objects(hsm, driver.module_path, slot_id, HOLDER_PIN)
    keys = private_key_blocks(listing)
    assert len(keys) == 1
    assert "never extractable" in keys[0] and "local" in keys[0] and "always sensitive" in keys[0]
    assert f"ID:         {h.key_id}" in keys[0]

    # The certificate OpenSC reads off the token is the one the RU stored, and verifies.
    on_token = read_token_certificate(hsm, driver.module_path, slot_id, h.key_id, tmp_path / "c.der")
    stored = x509.load_pem_x509_certificate(certs[0].pem.encode())
    assert on_token == stored.public_bytes(serialization.Encoding.DER)
    verify = openssl_verify(tmp_path, ports.ca.chain(), certs[0].pem)
    assert verify.returncode == 0 and ": OK" in verify.stdout, verify.stderr

    # The CSR's public key is the token's public key (read by OpenSC), and the certificate's.
    pub = pkcs11_tool(hsm, driver.module_path, "--slot", str(slot_id), "--read-object", "--type", "pubkey",
                      "--id", h.key_id, "--output-file", str(tmp_path / "pub.der"))
    del pub
    token_spki = serialization.load_der_public_key((tmp_path / "pub.der").read_bytes()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    csr = x509.load_pem_x509_csr(h.csr_pem.encode())
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert csr.is_signature_valid
    assert csr.public_key().public_bytes(serialization.Encoding.DER, spki) == token_spki
    assert stored.public_key().public_bytes(serialization.Encoding.DER, spki) == token_spki

    # The order is issued, the token handed over, the receipt says what the holder signs for.
    assert order.status == OrderStatus.ISSUED and order.certificate_serial == certs[0].serial
    assert token.status == TokenStatus.ACTIVE and driver.slot(token.serial).label == order.holder.latin_name[:32]
    from ra.tokens.receipt import receipt_pdf
    name = svc.receipt_file(db.session, staff.officer, h, ports=ports, render=lambda x: receipt_pdf(x, ports=ports))
    assert svc.receipt_file(db.session, staff.officer, h, ports=ports, render=None) == name  # printed once, kept
    text = pdf_text(ports.files.read(name), tmp_path)
    for expected in (order.holder.full_name, order.holder.register_number, order.organisation.name, token.serial,
                     certs[0].serial, h.receipt_number, staff.officer.full_name):
        assert expected in text, expected
    # The receipt prints Ulaanbaatar time, whatever the hour of the UTC day.
    assert local_text(stored.not_valid_after_utc) in text


def svc_handover(result):
    from ra.tokens.handover_queries import get_handover
    return get_handover(db.session, result.handover_id)


def test_every_step_is_in_the_audit_log_and_no_pin_is(ctx, ports, staff, driver, stock):
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    h = svc_handover(_hand_over(staff, ports, order, token))
    actions = [r.action for r in db.session.execute(sa.select(AuditRecord).where(
        AuditRecord.object_type == "handover", AuditRecord.object_id == str(h.id)).order_by(AuditRecord.seq)).scalars()]
    assert actions == ["handover.identity_checked", "handover.token_picked", "handover.token_initialised",
                       "handover.key_generated", "handover.csr_signed",
                       "handover.certificate_issued", "handover.certificate_written", "handover.completed"]
    token_events = [r.action for r in queries.token_history(db.session, token)]
    assert token_events[-1] == "token.active" and "token.user_pin_set" in token_events
    # In the log's order: without ORDER BY, PostgreSQL may return rows in any order.
    order_events = [r.action for r in db.session.execute(sa.select(AuditRecord).where(
        AuditRecord.object_type == "order", AuditRecord.object_id == str(order.id)).order_by(AuditRecord.seq)).scalars()]
    # A holder served without an appointment is scheduled at the counter (walk-in), then issued.
    assert order_events[-2:] == ["order.scheduled", "order.issued"]
    details = " ".join(r.details for r in db.session.execute(sa.select(AuditRecord)).scalars())
    assert HOLDER_PIN not in details and '"walk_in": true' in details


def test_the_identity_document_must_carry_the_holders_register_number(ctx, en, ports, staff, driver, stock):
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    with pytest.raises(svc.IdentityMismatch) as err:
        jobs.start(db.session, staff.officer, order, id_document_type="id_card", id_document_number="УБ00000000",
                   token_serial=token.serial, user_pin=HOLDER_PIN, ports=ports)
    assert order.holder.register_number in err.value.render()
    # Spaces and lower case on the typed number are fine.
    number = order.holder.register_number
    result = jobs.start(db.session, staff.officer, order, id_document_type="passport",
                        id_document_number=f" {number[:2].lower()} {number[2:]} ", token_serial=token.serial,
                        ports=ports, stop_after=H.TOKEN_PICKED)
    assert result.step == H.TOKEN_PICKED and svc_handover(result).id_document_number == number


def test_only_stock_tokens_in_a_reader_and_one_handover_per_order(ctx, en, ports, staff, driver, stock, hsm):
    batch = stock(2)
    order = ready_order(db.session, ports)
    first = _hand_over(staff, ports, order, batch.tokens[0], stop_after=H.TOKEN_PICKED)
    with pytest.raises(Exception) as err:  # the order already has a handover under way
        _hand_over(staff, ports, order, batch.tokens[1])
    assert getattr(err.value, "code", "") == "handover_open"
    other = ready_order(db.session, ports)
    taken = _hand_over(staff, ports, other, batch.tokens[0], stop_after=H.TOKEN_PICKED)
    assert taken.error is not None and taken.step == H.IDENTITY_CHECKED  # the token is another holder's now
    assert taken.error.code == "token_taken"
    # A token the module does not show is refused with its serial; the handover waits at step 1.
    hsm.delete_token(batch.tokens[1].serial)
    driver.rescan()
    gone = jobs.run(db.session, staff.officer, taken.handover_id, token_serial=batch.tokens[1].serial, ports=ports)
    assert gone.error.code == "token_not_present" and batch.tokens[1].serial in gone.error.render()
    assert svc_handover(first).step == H.TOKEN_PICKED


def test_orders_not_approved_and_outsiders_are_refused(ctx, ports, staff, driver, stock):
    from tests.enrollment.helpers import active_org, submitted_order
    token = stock(1).tokens[0]
    org, registrar, _ = active_org(db.session, ports)
    submitted = submitted_order(db.session, ports, org, registrar)
    with pytest.raises(svc.OrderNotReady):
        _hand_over(staff, ports, submitted, token)
    order = ready_order(db.session, ports)
    for outsider in (staff.auditor, staff.admin):
        with pytest.raises(PermissionDenied):
            jobs.start(db.session, outsider, order, id_document_type="id_card",
                       id_document_number=order.holder.register_number, token_serial=token.serial, ports=ports)


def test_a_random_pin_comes_only_on_the_sealed_envelope(ctx, ports, staff, driver, stock, tmp_path):
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    result = jobs.start(db.session, staff.officer, order, id_document_type="id_card",
                        id_document_number=order.holder.register_number, token_serial=token.serial,
                        random_pin=True, ports=ports)
    assert result.completed and result.envelope is not None
    text = pdf_text(result.envelope, tmp_path)
    pin = next(w for w in text.split() if w.isdigit() and len(w) == 8)
    driver.check_user_pin(token.serial, pin)  # the envelope's PIN opens the token
    assert order.holder.full_name in text and token.serial in text
    h = svc_handover(result)
    assert h.envelopes_printed == 1 and h.pin_source.value == "envelope"
    from tests.tokens.test_no_pin_leaks import _database_dump
    assert pin not in _database_dump(db.session)


def test_cancel_wipes_the_token_and_keeps_it_in_stock_until_the_ca_is_asked(ctx, en, ports, staff, driver, stock,
                                                                            hsm, monkeypatch):
    # About the handover's own hook while revocation is not wired in.
    monkeypatch.delitem(ports.extra, "handover_revoke_unheld", raising=False)
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    result = _hand_over(staff, ports, order, token, stop_after=H.KEY_GENERATED)
    assert "Private Key Object" in pkcs11_objects(hsm, driver.module_path, driver.slot(token.serial).slot_id,
                                                  HOLDER_PIN)
    with pytest.raises(Exception):
        jobs.cancel(db.session, staff.officer, result.handover_id, "", ports=ports)  # a reason is required
    jobs.cancel(db.session, staff.officer, result.handover_id, "Holder left without the token", ports=ports)
    h = svc_handover(result)
    assert h.step == H.CANCELLED and token.status == TokenStatus.IN_STOCK
    assert driver.slot(token.serial).label == stock_label()
    assert "Private Key Object" not in pkcs11_tool(hsm, driver.module_path, "--slot",
                                                   str(driver.slot(token.serial).slot_id), "-O")
    assert [r.action for r in queries.token_history(db.session, token)][-1] == "token.wiped"
    assert order.status == OrderStatus.APPROVED and certificates_of(db.session, order.id) == []
    # The token and the order are free for a new handover; the RU's SO PIN opens the token.
    again = _hand_over(staff, ports, order, token)
    assert again.completed and len(certificates_of(db.session, order.id)) == 1

    # Once the CA has been asked, cancelling is refused.
    token2 = stock(1).tokens[0]
    order2 = ready_order(db.session, ports)
    issued = _hand_over(staff, ports, order2, token2, stop_after=H.CERTIFICATE_ISSUED)
    with pytest.raises(svc.CannotCancel):
        jobs.cancel(db.session, staff.officer, issued.handover_id, "changed my mind", ports=ports)
    with pytest.raises(svc.RevocationNotConnected) as err:  # the documented hook, not a silent no-op
        jobs.abandon(db.session, staff.officer, issued.handover_id, "token broke", ports=ports)
    assert svc_handover(issued).certificate.serial in err.value.render()


def stock_label():
    return stock_service.STOCK_LABEL


@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_the_handover_migration_creates_what_the_model_declares(ctx):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    mc = MigrationContext.configure(db.engine, opts={"compare_type": True})
    diffs = [d for d in compare_metadata(mc, db.metadata) if "handover" in repr(d)]
    assert diffs == []


def test_a_booked_holder_is_issued_and_the_appointment_attended(ctx, ports, staff, driver, stock):
    from ra.enrollment import appointments_service as appts
    from ra.enrollment.order_states import AppointmentStatus
    from tests.enrollment.helpers import make_counter, next_day
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    counter = make_counter(db.session, ports)
    from ra.auth.models import User
    registrar = db.session.execute(sa.select(User).where(User.email == order.organisation.registrar_email)).scalar_one()
    (appt,) = appts.book_appointments(db.session, registrar, [order], counter,
                                      appts.slot_starts(counter, next_day(ports, 1))[0], ports=ports)
    assert order.status == OrderStatus.SCHEDULED
    assert _hand_over(staff, ports, order, token).completed
    assert order.status == OrderStatus.ISSUED and appt.status == AppointmentStatus.ATTENDED


def test_nobody_hands_a_certificate_to_themselves(ctx, ports, staff, driver, stock):
    from tests.factories import make_staff
    from ra.auth.roles import Role
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    themselves = make_staff(db.session, ports, Role.RA_OFFICER, email=order.holder.email)
    with pytest.raises(PermissionDenied):
        jobs.start(db.session, themselves, order, id_document_type="id_card",
                   id_document_number=order.holder.register_number, token_serial=token.serial,
                   user_pin=HOLDER_PIN, ports=ports)


def test_a_certificate_no_token_holds_is_revoked_through_the_hook_once_it_exists(ctx, ports, staff, driver, stock,
                                                                              monkeypatch):
    """A unit test of the service's hook: the revocation module's handler (a
    stand-in here) gets the certificate; the handover stops and the token is wiped."""
    calls = []
    monkeypatch.setitem(ports.extra, svc.REVOKE_HOOK, lambda session, actor, cert, reason: calls.append(
        (cert.serial, reason)))
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    issued = _hand_over(staff, ports, order, token, stop_after=H.CERTIFICATE_ISSUED)
    h = svc_handover(issued)
    jobs.abandon(db.session, staff.officer, h.id, "The token broke at the counter", ports=ports)
    assert calls == [(h.certificate.serial, "The token broke at the counter")]
    assert svc_handover(issued).step == H.CANCELLED and token.status == TokenStatus.IN_STOCK
    assert driver.slot(token.serial).label == stock_label()


def test_the_demo_lets_an_officer_hand_over_at_once(ctx, ports, driver):
    from ra.auth.models import User
    from ra.demo import load_demo
    from ra.tokens.handover_demo import load_handover_demo
    load_demo(db.session, ports)
    made = load_handover_demo(db.session, ports)
    assert len(made["orders"]) == 3 and len(made["tokens"]) == 5
    assert load_handover_demo(db.session, ports) == {"orders": [], "tokens": [], "note": ""}  # idempotent
    from ra.enrollment.holder_models import CertificateOrder
    order = db.session.get(CertificateOrder, made["orders"][1])
    officer = db.session.execute(sa.select(User).where(User.email == "officer@ra.ub.gov.mn")).scalar_one()
    result = jobs.start(db.session, officer, order, id_document_type="id_card",
                        id_document_number=order.holder.register_number, token_serial=made["tokens"][0],
                        user_pin=HOLDER_PIN, ports=ports)
    assert result.completed and order.organisation.registry_number == "5012345"
