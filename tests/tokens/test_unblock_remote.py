"""Remote PIN unblock end to end (issue #5, DESIGN §3.3): the app served over TLS
on loopback, real SoftHSM2 tokens, and the real ``ra-token unblock`` command run
as the holder runs it. Results are checked with OpenSC's pkcs11-tool."""
from __future__ import annotations

import logging
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.audit.service import verify
from ra.extensions import db
from ra.ports import FrozenClock
from ra.tokens import errors as TokenErrors
from ra.tokens import unblock_service as svc
from ra.tokens.unblock_states import UnblockStatus
from tests.tokens.test_no_pin_leaks import _database_dump
from tests.tokens.test_unblock_support import FIRST_PIN, REPO, code_in, remote, unblock_server  # noqa: F401

NEW_PIN = "Tq4-81m9"


def _actions(remote, handed) -> list[str]:
    with remote.context():
        return list(db.session.execute(sa.select(AuditRecord.action).where(
            AuditRecord.object_type == "token", AuditRecord.object_id == str(handed.token_id))
            .order_by(AuditRecord.seq)).scalars())


def test_holder_unblocks_a_forgotten_pin_from_home(remote, caplog):
    caplog.set_level(logging.DEBUG)
    handed = remote.hand_over(locale="mn")
    # The holder forgot the PIN and spent wrong tries. SoftHSM2 never locks a PIN; it
    # raises CKF_USER_PIN_COUNT_LOW, which a vendor token turns into CKF_USER_PIN_LOCKED.
    for wrong in ("000000", "111222", "314159"):
        with pytest.raises(TokenErrors.PinIncorrect):
            remote.driver.check_user_pin(handed.serial, wrong)
    remote.driver.rescan()
    assert remote.driver.slot(handed.serial).user_pin_count_low
    old_so_pin, _ = remote.escrowed(handed)

    # 1. The holder asks from the public API with the registered e-mail.
    remote.sink.clear()
    asked = remote.http.post(f"{remote.served.base}/api/v1/unblock-requests",
                             json={"email": handed.email.upper(), "token_serial": handed.serial})
    assert asked.status_code == 202
    mail = _wait_for_mail(remote, handed.email)
    assert handed.serial in mail["Subject"] and "нэг удаагийн код" in mail["Subject"]  # the holder's language
    code = code_in(mail)

    # 2.–3. The command, over TLS with the RU's private CA.
    done = remote.run(code, NEW_PIN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"the PIN of token {handed.serial} is unblocked" in done.stdout
    remote.driver.rescan()
    assert not remote.driver.slot(handed.serial).user_pin_count_low  # the command logged in with the new PIN

    # The token, read by pkcs11-tool: the new PIN works, the forgotten one does not,
    # and the SO PIN is the new one the RU escrowed, not the old one.
    assert remote.user_pin_works(handed, NEW_PIN) and not remote.user_pin_works(handed, FIRST_PIN)
    new_so_pin, pending = remote.escrowed(handed)
    assert pending is None and new_so_pin != old_so_pin and len(new_so_pin) >= 16
    assert remote.so_pin_works(handed, new_so_pin) and not remote.so_pin_works(handed, old_so_pin)
    req = remote.request(handed)
    assert req.status == UnblockStatus.COMPLETED and req.channel.value == "holder"

    # 4. Audited, on the token's history and the request's, and the chain holds.
    actions = _actions(remote, handed)
    assert actions[-4:] == ["token.unblock_code_sent", "token.unblocked", "token.so_pin_drawn", "token.so_pin_rotated"]
    with remote.context():
        steps = db.session.execute(sa.select(AuditRecord.action).where(
            AuditRecord.object_type == "token_unblock", AuditRecord.object_id == str(req.id))
            .order_by(AuditRecord.seq)).scalars().all()
        assert steps == ["token_unblock.requested", "token_unblock.code_accepted", "token_unblock.user_pin_set",
                         "token_unblock.so_pin_drawn", "token_unblock.so_pin_setting", "token_unblock.completed"]
        assert verify(db.session).ok

    # The code again: refused, and the token keeps its PIN.
    again = remote.run(code, "Zz9-00a1")
    assert again.returncode == 1 and "already used" in again.stderr
    assert remote.user_pin_works(handed, NEW_PIN)

    # No PIN, SO PIN or code in the database, the server's log or the command's output.
    with remote.context():
        dump = _database_dump(db.session)
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert handed.serial in dump and "token.so_pin_rotated" in dump and "/api/v1/unblock-sessions" in logs
    console = done.stdout + done.stderr + again.stdout + again.stderr
    for secret in (FIRST_PIN, NEW_PIN, old_so_pin, new_so_pin, code, code.replace("-", "")):
        for where, text in {"database": dump, "logs": logs, "console": console}.items():
            assert secret not in text, f"a secret was found in the {where}"


def _wait_for_mail(remote, address, timeout=120):  # returns as soon as the mail is there
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = remote.sink.to(address)
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no mail to {address}")


def test_an_expired_code_is_refused(remote):
    handed = remote.hand_over()
    code = remote.code_for(handed)
    later = remote.served.ports.clock.now() + timedelta(minutes=svc.CODE_MINUTES, seconds=1)
    remote.served.ports.clock = FrozenClock(later)
    done = remote.run(code, NEW_PIN)
    assert done.returncode == 1 and "This code has expired: a code is valid for 30 minutes" in done.stderr
    assert remote.request(handed).status == UnblockStatus.EXPIRED
    assert remote.user_pin_works(handed, FIRST_PIN)  # nothing was done to the token


def test_a_code_for_another_token_is_refused(remote):
    mine, other = remote.hand_over(), remote.hand_over()
    code = remote.code_for(mine)
    done = remote.run(code, NEW_PIN, serial=other.serial)
    assert done.returncode == 1 and "This code is not valid for this token" in done.stderr
    assert remote.user_pin_works(other, FIRST_PIN) and remote.user_pin_works(mine, FIRST_PIN)
    req = remote.request(mine)
    assert req.status == UnblockStatus.CODE_SENT
    with remote.context():
        assert db.session.execute(sa.select(AuditRecord.details).where(
            AuditRecord.action == "token_unblock.code_for_other_token", AuditRecord.object_id == str(req.id))
        ).scalar_one().find(other.serial) > 0
    # Several tokens in the computer: the command asks which one.
    several = remote.run(code, NEW_PIN)
    assert several.returncode == 2 and "Several tokens are inserted" in several.stderr
    # The right token still takes its code.
    assert remote.run(code, NEW_PIN, serial=mine.serial).returncode == 0
    assert remote.user_pin_works(mine, NEW_PIN)


def test_too_many_wrong_codes_lock_the_code(remote):
    handed = remote.hand_over()
    code = remote.code_for(handed)
    for n in range(svc.MAX_WRONG_CODES):
        wrong = svc.new_code()
        resp = remote.http.post(f"{remote.served.base}/api/v1/unblock-sessions",
                                json={"token_serial": handed.serial, "code": wrong})
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "unblock_code_refused"
    req = remote.request(handed)
    assert req.status == UnblockStatus.LOCKED and req.failed_attempts == svc.MAX_WRONG_CODES
    done = remote.run(code, NEW_PIN)
    assert done.returncode == 1 and "Too many wrong codes were tried for this token" in done.stderr
    assert remote.user_pin_works(handed, FIRST_PIN)


def test_the_command_speaks_mongolian_and_english(remote):
    handed = remote.hand_over()
    code = remote.code_for(handed)
    weak = remote.run(code, "123456", lang="mn")  # refused by the command itself, before the token is touched
    assert weak.returncode == 1 and "PIN 123456, 654321 мэт дараалал байж болохгүй." in weak.stderr
    assert "токены кодыг Бүртгэлийн нэгжээр шалгуулж байна" in weak.stdout
    assert remote.user_pin_works(handed, FIRST_PIN)
    remote.served.ports.clock = FrozenClock(remote.served.ports.clock.now() + timedelta(hours=1))
    mn = remote.run(code, NEW_PIN, lang="mn")
    en = remote.run(code, NEW_PIN, lang="en")
    assert "Энэ кодын хугацаа дууссан: код 30 минут хүчинтэй." in mn.stderr  # the server's answer, in Mongolian
    assert "This code has expired" in en.stderr and "Checking the code for token" in en.stdout


def test_the_command_insists_on_tls_and_imports_no_flask(remote):
    handed = remote.hand_over()
    code = remote.code_for(handed)
    plain = subprocess.run([sys.executable, "-m", "ra.tokens.remote_cli", "unblock", "--code", code, "--module",
                            remote.module, "--server", "http://ra.example.mn", "--lang", "en"], env=remote.env(),
                           cwd=REPO, capture_output=True, text=True, timeout=60)
    assert plain.returncode == 2 and "must start with https://" in plain.stderr
    untrusted = remote.run(code, NEW_PIN, cafile=False)
    assert untrusted.returncode == 1 and "certificate could not be verified" in untrusted.stderr
    assert remote.request(handed).status == UnblockStatus.CODE_SENT  # it never reached the server
    probe = subprocess.run([sys.executable, "-c", "import sys, ra.tokens.remote_cli; "
                            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', "
                            "'werkzeug', 'jinja2')))"], env=remote.env(), cwd=REPO, capture_output=True, text=True)
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr
