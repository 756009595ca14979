"""PIN rules, PIN generation and the SO-PIN escrow (units; no token needed)."""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from ra.tokens import pins
from ra.tokens.escrow import EscrowError, EscrowKeyError, PinEscrow, new_key_text, token_context


@pytest.mark.parametrize("pin", ["582047", "Ab3$x9", "1357924680abcdef", "112233"])
def test_acceptable_user_pins(pin):
    pins.check_user_pin(pin)


@pytest.mark.parametrize("pin", ["12345", "x" * 17, "000000", "aaaaaaa", "123456", "6543210", "abcdefg",
                                 "FEDCBA", "12 345", "пин123456", ""])
def test_refused_user_pins(pin):
    with pytest.raises(pins.PinPolicyError):
        pins.check_user_pin(pin)


def test_generated_pins_follow_the_rules_and_do_not_repeat():
    so = {pins.random_so_pin() for _ in range(200)}
    assert len(so) == 200 and all(len(p) >= 16 and re.fullmatch(r"[A-Za-z0-9]+", p) for p in so)
    with pytest.raises(ValueError):
        pins.random_so_pin(12)
    envelopes = [pins.random_user_pin() for _ in range(200)]
    for pin in envelopes:
        pins.check_user_pin(pin)
    assert len(set(envelopes)) > 190


def test_escrow_round_trip_binds_the_row_and_the_key():
    escrow = PinEscrow(os.urandom(32))
    blob = escrow.seal("So-Pin-Secret-123456", token_context("ABC123"))
    assert "So-Pin-Secret" not in blob and blob.startswith(f"v1.{escrow.key_id}.")
    assert escrow.open(blob, token_context("ABC123")) == "So-Pin-Secret-123456"
    assert escrow.seal("same", "ctx") != escrow.seal("same", "ctx")  # fresh nonce each time
    with pytest.raises(EscrowError):
        escrow.open(blob, token_context("OTHER"))
    with pytest.raises(EscrowError):
        PinEscrow(os.urandom(32)).open(blob, token_context("ABC123"))
    tampered = blob[:-4] + ("AAAA" if not blob.endswith("AAAA") else "BBBB")
    with pytest.raises(EscrowError):
        escrow.open(tampered, token_context("ABC123"))


def test_escrow_key_from_config_environment_or_instance_file(tmp_path):
    key = new_key_text()
    assert PinEscrow.from_config({"TOKEN_ESCROW_KEY": key, "INSTANCE_PATH": str(tmp_path)}, environ={}).key_id == \
        PinEscrow.from_config({"INSTANCE_PATH": str(tmp_path)}, environ={"RA_TOKEN_ESCROW_KEY": key}).key_id
    generated = PinEscrow.from_config({"INSTANCE_PATH": str(tmp_path)}, environ={})
    path = Path(tmp_path) / "token_escrow_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PinEscrow.from_config({"INSTANCE_PATH": str(tmp_path)}, environ={}).key_id == generated.key_id
    with pytest.raises(EscrowKeyError, match="RA_TOKEN_ESCROW_KEY"):
        PinEscrow.from_config({"INSTANCE_PATH": str(tmp_path)}, environ={"RA_TOKEN_ESCROW_KEY": "short"})


def test_token_modules_other_than_views_and_cli_never_import_flask():
    """STYLE rule 1 for the token package (its service is ``stock_service.py``)."""
    root = Path(__file__).resolve().parents[2] / "ra" / "tokens"
    web = re.compile(r"^(?:\w+_)?(views|forms|cli|api)\.py$")  # entry points may use Flask
    offenders = [p.name for p in root.glob("*.py") if not web.match(p.name)
                 and re.search(r"^\s*(from flask|import flask)", p.read_text(), re.M)]
    assert offenders == []
