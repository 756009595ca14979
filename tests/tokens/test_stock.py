"""Token stock: batches, states, audit, counts and history."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.audit.service import verify
from ra.errors import InvalidTransition, PermissionDenied, UserError, ValidationFailed
from ra.extensions import db
from ra.tokens import effects, queries
from ra.tokens import stock_service as svc
from ra.tokens.errors import TokenRefused
from ra.tokens.escrow import EscrowError
from ra.tokens.models import Token, TokenBatch
from ra.tokens.states import TokenStatus as S
from ra.tokens.states import token_states

SO = "Vendor-SO-8877"


def _batch(ports, actor, serials, **over):
    data = dict(model="SafeNet eToken 5110", supplier="Gemalto Mongolia", received_on=ports.clock.today(),
                serials=serials, factory_so_pin=SO)
    data.update(over)
    return svc.receive_batch(db.session, actor, svc.BatchData(**data), ports=ports)


def _actions(token):
    return [r.action for r in queries.token_history(db.session, token)]


def test_receiving_a_scanned_batch_puts_every_token_in_stock_and_audits_it(ctx, ports, staff, driver):
    batch = _batch(ports, staff.admin, "ET-0001\nET-0002, ET-0003\r\n  ET-0004;ET-0005\n")
    assert sorted(t.serial for t in batch.tokens) == [f"ET-000{i}" for i in range(1, 6)]
    assert all(t.status == S.IN_STOCK for t in batch.tokens)
    assert queries.stock_counts(db.session)[S.IN_STOCK] >= 5
    rec = db.session.execute(sa.select(AuditRecord).where(AuditRecord.action == "token_batch.received",
                                                          AuditRecord.object_id == str(batch.id))).scalar_one()
    assert json.loads(rec.details)["count"] == 5 and json.loads(rec.details)["factory_so_pin_recorded"] is True
    assert _actions(batch.tokens[0]) == ["token.received"]
    assert verify(db.session).ok


def test_factory_so_pin_is_kept_encrypted_and_bound_to_its_batch(ctx, ports, staff, driver):
    batch = _batch(ports, staff.admin, "ET-1001")
    assert SO not in batch.factory_so_pin and batch.factory_so_pin.startswith("v1.")
    token = batch.tokens[0]
    assert svc.current_so_pin(token, ports=ports) == SO
    other = _batch(ports, staff.admin, "ET-1002")
    other.factory_so_pin = batch.factory_so_pin  # a blob copied to another row does not open
    with pytest.raises(EscrowError):
        svc.current_so_pin(other.tokens[0], ports=ports)


def test_a_bad_line_refuses_the_whole_batch_naming_the_lines(ctx, en, ports, staff, driver):
    _batch(ports, staff.admin, "ET-2001")
    before = db.session.execute(sa.select(sa.func.count(Token.id))).scalar_one()
    with pytest.raises(ValidationFailed) as exc:
        _batch(ports, staff.admin, "ET-2002\nET-2003\net-2001\nET-2003\nbad serial!", supplier="",
               received_on=ports.clock.today() + timedelta(days=2))
    errors = {k: str(v) for k, v in exc.value.errors.items()}
    assert "et-2001" in errors["serials"] and "ET-2003" in errors["serials"] and "serial!" in errors["serials"]
    assert set(errors) == {"serials", "supplier", "received_on"}
    assert db.session.execute(sa.select(sa.func.count(Token.id))).scalar_one() == before


def test_only_the_administrator_or_manager_receives_stock(ctx, ports, staff, driver):
    with pytest.raises(PermissionDenied):
        _batch(ports, staff.officer, "ET-3001")
    with pytest.raises(PermissionDenied):
        _batch(ports, staff.auditor, "ET-3001")
    assert _batch(ports, staff.manager, "ET-3001").tokens


def test_unknown_factory_so_pin_can_be_recorded_later(ctx, en, ports, staff, driver):
    batch = _batch(ports, staff.admin, "ET-4001", factory_so_pin=None)
    token = batch.tokens[0]
    with pytest.raises(TokenRefused) as exc:
        svc.token_for_initialisation(db.session, "ET-4001")
    assert "SO PIN" in exc.value.render()
    svc.record_factory_so_pin(db.session, staff.admin, batch, "Later-SO-1", ports=ports)
    assert svc.token_for_initialisation(db.session, "et-4001") is token
    assert "token_batch.factory_so_pin_recorded" in [
        r.action for r in db.session.execute(sa.select(AuditRecord).where(
            AuditRecord.object_type == "token_batch", AuditRecord.object_id == str(batch.id))).scalars()]


def test_refusals_before_initialisation_say_why(ctx, en, ports, staff, driver):
    with pytest.raises(TokenRefused) as absent:
        svc.token_for_initialisation(db.session, "NOT-IN-STOCK-1")
    assert "not in the RU's stock" in absent.value.render()
    token = _batch(ports, staff.admin, "ET-5001").tokens[0]
    token_states.transition(db.session, token, S.ACTIVE, actor=staff.officer)
    with pytest.raises(TokenRefused) as busy:
        svc.token_for_initialisation(db.session, "ET-5001")
    assert "not in stock" in busy.value.render() and busy.value.code == "token_refused"


def test_transition_table_is_design_3_3():
    table = {k: set(v) for k, v in token_states.table.items()}
    assert table == {
        S.IN_STOCK: {S.ACTIVE, S.DAMAGED},  # → damaged: the token failed during its handover
        S.ACTIVE: {S.SUSPENDED, S.LOST, S.DAMAGED, S.RETURNED},
        S.SUSPENDED: {S.ACTIVE, S.LOST, S.DAMAGED},
        S.RETURNED: {S.IN_STOCK, S.DESTROYED},
        S.DAMAGED: {S.IN_STOCK, S.DESTROYED},
        S.LOST: set(), S.DESTROYED: set(),
    }


def test_a_stock_token_that_fails_calls_for_no_certificate_effect():
    assert effects.effect_for(S.IN_STOCK, S.DAMAGED) is None


def test_certificate_effects_follow_rfc_5280_reasons():
    assert effects.effect_for(S.ACTIVE, S.SUSPENDED).as_dict() == {"action": "hold", "reason": "certificateHold",
                                                                   "state": "requested"}
    assert effects.effect_for(S.SUSPENDED, S.ACTIVE).reason == "removeFromCRL"
    assert effects.effect_for(S.SUSPENDED, S.LOST).reason == "keyCompromise"
    assert effects.effect_for(S.ACTIVE, S.RETURNED, return_reason="affiliationChanged").reason == "affiliationChanged"
    assert effects.effect_for(S.RETURNED, S.DESTROYED) is None


def test_token_events_are_audited_with_the_pending_certificate_effect(ctx, ports, staff, driver, monkeypatch):
    # This test is about the effect recorded while revocation is not wired in.
    monkeypatch.delitem(ports.extra, "token_certificate_effects", raising=False)
    token = _batch(ports, staff.admin, "ET-6001").tokens[0]
    svc.activate_token(db.session, staff.officer, token, ports=ports)
    effect = svc.change_token_state(db.session, staff.officer, token, S.SUSPENDED, reason="Holder lost it",
                                    ports=ports)
    assert effect.state == "not_connected"  # shown to the officer, not silently dropped
    svc.change_token_state(db.session, staff.officer, token, S.ACTIVE, reason="Found in the office", ports=ports)
    svc.change_token_state(db.session, staff.officer, token, S.RETURNED, reason="Left the job",
                           return_reason="affiliationChanged", ports=ports)
    assert _actions(token) == ["token.received", "token.active", "token.suspended", "token.active", "token.returned"]
    last = json.loads(queries.token_history(db.session, token)[-1].details)
    assert last["certificate_effect"] == {"action": "revoke", "reason": "affiliationChanged", "state": "not_connected"}
    assert last["reason"] == "Left the job" and last["from"] == "active"
    with pytest.raises(PermissionDenied):
        svc.change_token_state(db.session, staff.officer, token, S.DESTROYED, reason="x", ports=ports)
    svc.change_token_state(db.session, staff.admin, token, S.DESTROYED, reason="Shredded", ports=ports)
    assert token.so_pin is None
    with pytest.raises(InvalidTransition):
        svc.change_token_state(db.session, staff.admin, token, S.IN_STOCK, reason="x", ports=ports)


def test_a_registered_revocation_handler_receives_the_effect(ctx, ports, staff, driver, monkeypatch):
    seen = []
    monkeypatch.setitem(ports.extra, effects.HANDLER_KEY, lambda session, actor, token, effect: seen.append(
        (token.serial, effect.action, effect.reason)))
    token = _batch(ports, staff.admin, "ET-7001").tokens[0]
    svc.activate_token(db.session, staff.officer, token, ports=ports)
    effect = svc.change_token_state(db.session, staff.officer, token, S.LOST, reason="Stolen", ports=ports)
    assert effect.state == "done" and seen == [("ET-7001", "revoke", "keyCompromise")]


def test_state_changes_need_a_reason_and_the_table(ctx, ports, staff, driver):
    token = _batch(ports, staff.admin, "ET-8001").tokens[0]
    with pytest.raises(InvalidTransition):
        svc.change_token_state(db.session, staff.officer, token, S.LOST, reason="x", ports=ports)
    with pytest.raises(InvalidTransition):  # handing over is the handover's job, not a stock button
        svc.change_token_state(db.session, staff.officer, token, S.ACTIVE, reason="x", ports=ports)
    svc.activate_token(db.session, staff.officer, token, ports=ports)
    with pytest.raises(UserError):
        svc.change_token_state(db.session, staff.officer, token, S.LOST, reason="  ", ports=ports)
    with pytest.raises(PermissionDenied):
        svc.change_token_state(db.session, staff.auditor, token, S.LOST, reason="x", ports=ports)


def test_counts_by_state_and_model(ctx, ports, staff, driver):
    _batch(ports, staff.admin, "RT-1 RT-2 RT-3", model="Rutoken ECP 3.0")
    token = _batch(ports, staff.admin, "ET-9001 ET-9002").tokens[0]
    svc.activate_token(db.session, staff.officer, token, ports=ports)
    by_model = {m: (c, n) for m, c, n in queries.counts_by_model(db.session)}
    assert by_model["Rutoken ECP 3.0"][0][S.IN_STOCK] == 3
    assert by_model["SafeNet eToken 5110"][0][S.ACTIVE] >= 1
    counts = queries.stock_counts(db.session)
    assert set(counts) == set(S) and counts[S.ACTIVE] >= 1
    assert db.session.execute(sa.select(sa.func.count(TokenBatch.id))).scalar_one() >= 2
