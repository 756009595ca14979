"""The embedded CA's wrapping key is its own: RA_CA_KEY, or a random key generated
once into the instance folder (0600), never derived from SECRET_KEY; keys sealed
the old way are re-sealed under it."""
from __future__ import annotations

import base64
import os
import stat

import pytest
import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.ca.embedded import EmbeddedCA
from ra.ca.keys import CAKeyUnavailable, legacy_wrapping_key, seal, unseal, wrapping_key
from ra.ca.models import EmbeddedAuthority
from ra.config import ConfigError, load_config
from ra.extensions import db

SECRET = "a-session-signing-secret-" + "z" * 32


def test_without_ra_ca_key_the_key_is_generated_once_into_the_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("RA_CA_KEY", raising=False)
    config = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": SECRET}
    key = wrapping_key(config)
    path = tmp_path / "ca_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(key) == 32 and key != legacy_wrapping_key(config)       # not derived from SECRET_KEY
    assert wrapping_key({**config, "SECRET_KEY": "another-" + "s" * 32}) == key  # a new SECRET_KEY changes nothing
    assert wrapping_key(config) == key                                   # generated once
    other = tmp_path / "other"
    assert wrapping_key({"INSTANCE_PATH": str(other), "SECRET_KEY": SECRET}) != key


def test_ra_ca_key_wins_and_a_bad_one_stops_the_start(tmp_path, monkeypatch):
    monkeypatch.delenv("RA_CA_KEY", raising=False)
    explicit = base64.b64encode(b"\x07" * 32).decode()
    assert wrapping_key({"INSTANCE_PATH": str(tmp_path), "CA_KEY": explicit}) == b"\x07" * 32
    assert not (tmp_path / "ca_key").exists()
    env = {"RA_INSTANCE_PATH": str(tmp_path), "RA_SECRET_KEY": SECRET}
    assert load_config(environ={**env, "RA_CA_KEY": explicit})["CA_KEY"] == explicit
    with pytest.raises(ConfigError, match="RA_CA_KEY"):
        load_config(environ={**env, "RA_CA_KEY": "dG9vIHNob3J0"})


def test_keys_sealed_under_the_secret_key_are_resealed_under_the_instance_key(ctx, ports):
    """An instance from before: its CA keys were sealed under HKDF(SECRET_KEY)."""
    current, legacy = wrapping_key(ctx.config), legacy_wrapping_key(ctx.config)
    rows = db.session.scalars(sa.select(EmbeddedAuthority)).all()
    assert rows  # the session's embedded CA
    for row in rows:
        row.encrypted_key = seal(legacy, unseal(current, row.encrypted_key, row.name), row.name)
        row.crl_stale = True  # so that the next CRL is signed, with the key loaded
    db.session.flush()
    ca = EmbeddedCA(lambda: db.session, base_url=ports.base_url, wrapping_key=current, clock=ports.clock,
                    legacy_wrapping_key=legacy)
    assert ca.crl() is not None  # signs with the issuing key: opens it under the old key, re-seals
    for row in rows:
        unseal(current, row.encrypted_key, row.name)
        with pytest.raises(CAKeyUnavailable):
            unseal(legacy, row.encrypted_key, row.name)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)
                             .where(AuditRecord.action == "ca.keys_rewrapped")) == 1
