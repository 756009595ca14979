"""An interrupted remote unblock never loses the SO PIN, and the same command with
the same code finishes it (issue #5, DESIGN §3.3). The holder's command is killed
with SIGKILL at each request of the protocol — before the server sees it, or after
the server committed it and before the answer arrives — on real SoftHSM2 tokens."""
from __future__ import annotations

import signal
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.extensions import db
from ra.ports import FrozenClock
from ra.tokens import unblock_counter as counter
from ra.tokens.unblock_states import UnblockStatus as U
from tests.factories import PASSWORD
from tests.foundation.helpers import login, token_of
from tests.tokens.test_unblock_support import FIRST_PIN, remote, unblock_server  # noqa: F401

PIN1, PIN2 = "Kd5-37w2", "Rn6-04j8"

# (request, when, the state the server recorded, what the token has, the user PIN the holder ends with)
POINTS = [
    ("/unblock-sessions", "after", U.CODE_ACCEPTED, "old", FIRST_PIN, PIN2),
    ("/pin-check", "after", U.CODE_ACCEPTED, "old", FIRST_PIN, PIN2),
    ("/user-pin-set", "before", U.CODE_ACCEPTED, "old", PIN1, PIN2),
    ("/user-pin-set", "after", U.USER_PIN_SET, "old", PIN1, PIN1),
    ("/new-so-pin", "after", U.SO_PIN_DRAWN, "old", PIN1, PIN1),
    ("/so-pin-setting", "after", U.SO_PIN_SETTING, "old", PIN1, PIN1),
    ("/confirm", "before", U.SO_PIN_SETTING, "new", PIN1, PIN1),
    ("/confirm", "after", U.COMPLETED, "new", PIN1, PIN1),
]


@pytest.mark.parametrize("suffix,when,recorded,token_has,pin_after_kill,final_pin", POINTS,
                         ids=[f"{p[1]}-{p[0].strip('/')}" for p in POINTS])
def test_an_interrupted_unblock_is_finished_by_the_same_code(remote, suffix, when, recorded, token_has,
                                                              pin_after_kill, final_pin):
    handed = remote.hand_over()
    old_so_pin, _ = remote.escrowed(handed)
    code = remote.code_for(handed)

    killed = remote.run_killed_at(suffix, when, code, PIN1)
    assert killed.returncode == -signal.SIGKILL
    req = remote.request(handed)
    assert req.status == recorded
    so_pin, pending = remote.escrowed(handed)
    if recorded == U.COMPLETED:
        assert pending is None and so_pin != old_so_pin and remote.so_pin_works(handed, so_pin)
    else:
        # The old SO PIN stays escrowed until the new one is confirmed; the token has one of the two.
        assert so_pin == old_so_pin
        assert (pending is not None) == (recorded in (U.SO_PIN_DRAWN, U.SO_PIN_SETTING))
        assert remote.so_pin_works(handed, old_so_pin) == (token_has == "old")
        if pending is not None:
            assert remote.so_pin_works(handed, pending) == (token_has == "new")
    assert remote.user_pin_works(handed, pin_after_kill)

    again = remote.run(code, PIN2)
    if recorded == U.COMPLETED:  # done before the answer was lost: the code is spent
        assert again.returncode == 1 and "already used" in again.stderr
    else:
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Resuming the interrupted unblock." in again.stdout
        assert ("already set on the token" in again.stdout) == (pin_after_kill == PIN1 and final_pin == PIN1)
    req = remote.request(handed)
    assert req.status == U.COMPLETED
    so_pin, pending = remote.escrowed(handed)
    assert pending is None and so_pin != old_so_pin
    assert remote.so_pin_works(handed, so_pin) and not remote.so_pin_works(handed, old_so_pin)
    assert remote.user_pin_works(handed, final_pin) and not remote.user_pin_works(handed, FIRST_PIN)


def test_a_rotation_left_half_way_is_finished_by_the_next_code(remote):
    """C_SetPIN done, never confirmed, and the code expired: a new code's unblock
    finds the token has the pending SO PIN and makes it the escrowed one."""
    handed = remote.hand_over()
    old_so_pin, _ = remote.escrowed(handed)
    first = remote.code_for(handed)
    assert remote.run_killed_at("/confirm", "before", first, PIN1).returncode == -signal.SIGKILL
    _, pending = remote.escrowed(handed)
    assert remote.so_pin_works(handed, pending)

    remote.served.ports.clock = FrozenClock(remote.served.ports.clock.now() + timedelta(minutes=45))
    expired = remote.run(first, PIN2)
    assert expired.returncode == 1 and "expired" in expired.stderr
    assert remote.escrowed(handed) == (old_so_pin, pending)  # expiry keeps both

    second = remote.code_for(handed)
    done = remote.run(second, PIN2)
    assert done.returncode == 0, done.stdout + done.stderr
    so_pin, still_pending = remote.escrowed(handed)
    assert so_pin == pending and still_pending is None  # the new code rolled the old rotation forward
    assert remote.so_pin_works(handed, so_pin) and remote.user_pin_works(handed, PIN2)
    with remote.context():
        drawn = db.session.execute(sa.select(AuditRecord.details).where(
            AuditRecord.action == "token_unblock.so_pin_drawn", AuditRecord.object_id == str(remote.request(handed).id))
        ).scalar_one()
    assert '"new_so_pin": "reused"' in drawn


@pytest.mark.parametrize("killed_at,when,kept", [("/new-so-pin", "after", "old"), ("/confirm", "before", "new")])
def test_the_officer_settles_a_rotation_left_unconfirmed(remote, killed_at, when, kept):
    """The holder brings the token to the counter instead: one SO login tells which
    SO PIN it has; that one stays escrowed, the other is forgotten."""
    from ra.auth.models import User

    handed = remote.hand_over()
    old_so_pin, _ = remote.escrowed(handed)
    code = remote.code_for(handed)
    assert remote.run_killed_at(killed_at, when, code, PIN1).returncode == -signal.SIGKILL
    _, pending = remote.escrowed(handed)
    with remote.context():
        officer_email = db.session.get(User, remote.served.officer_id).email
    client = remote.served.app.test_client()
    login(client, officer_email, PASSWORD)
    page = client.get("/tokens/unblock-requests").get_data(as_text=True)
    assert handed.serial in page and "SO PIN" in page
    remote.driver.rescan()  # the holder's process changed the token files
    resp = client.post(f"/tokens/{handed.token_id}/so-pin-rotation",
                       data={"csrf_token": token_of(client, "/tokens/unblock-requests")})
    assert resp.status_code == 303
    so_pin, still_pending = remote.escrowed(handed)
    assert still_pending is None and so_pin == (old_so_pin if kept == "old" else pending)
    assert remote.so_pin_works(handed, so_pin)
    assert remote.request(handed).status == U.CANCELLED  # the holder's code is spent
    with remote.context():
        details = db.session.execute(sa.select(AuditRecord.details).where(
            AuditRecord.action == "token.so_pin_rotation_resolved",
            AuditRecord.object_id == str(handed.token_id))).scalar_one()
    assert f'"kept": "{kept}"' in details and '"wrong_tries": 0' in details
    assert counter.can_resolve_rotation(None) is False
