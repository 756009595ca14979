"""A stranger — someone holding the stolen token, or anyone behind the same reverse
proxy — can neither learn from the answer whether an e-mail and serial match, nor
use up the holder's codes, nor block the holder's confirmation."""
from __future__ import annotations

import re

import sqlalchemy as sa

from ra import proxies
from ra.extensions import db
from ra.enrollment.holder_models import Holder
from ra.revocation.models import LostTokenReport
from tests.conftest import csrf_from
from tests.revocation.conftest import code_in, issue

WRONG = "0000-0000-0000-0000"


def _report(client, body, **kw):
    return client.post("/api/v1/lost-token-reports", buffered=True, json=body, **kw)


def test_the_report_answer_is_the_same_whether_or_not_email_and_serial_match(app, client, ports, world, mail):
    with app.app_context():
        issued = issue(ports, world)
    right = {"email": issued.holder_email, "token_serial": issued.token_serial}
    answers = [_report(client, body) for body in (
        right, right,                                                       # first, then a repeat
        {"email": "stranger@example.com", "token_serial": issued.token_serial},
        {"email": issued.holder_email, "token_serial": "NO-SUCH-TOKEN"})]
    assert {a.status_code for a in answers} == {202}
    assert len({tuple(sorted(a.get_json())) for a in answers}) == 1          # one shape
    assert len({a.get_json()["message"] for a in answers}) == 1              # one message
    ids = [a.get_json()["id"] for a in answers]
    assert len(set(ids)) == 4 and len({len(i) for i in ids}) == 1            # always fresh, alike
    with app.app_context():
        reference = db.session.execute(sa.select(LostTokenReport.reference)).scalar_one()
    assert reference not in ids                                              # the report's id is the mailbox's
    with app.app_context():
        register_number = db.session.get(Holder, issued.holder_id).register_number
    pages = []
    for email, number in ((issued.holder_email, register_number), ("stranger@example.com", register_number),
                          (issued.holder_email, "ЖЖ99999999")):
        token = csrf_from(client.get("/lost-token").get_data(as_text=True))
        pages.append(client.post("/lost-token", buffered=True,
                                 data={"email": email, "register_number": number, "csrf_token": token}))
    assert [p.status_code for p in pages] == [303, 303, 303]
    shapes = {re.sub(r"/lost-token/[A-Za-z0-9_-]{22}\?", "/lost-token/ID?", p.headers["Location"]) for p in pages}
    assert len(shapes) == 1 and reference not in "".join(p.headers["Location"] for p in pages)


def test_a_thief_with_the_token_cannot_use_up_the_holders_codes(app, client, ports, world, mail):
    """The thief knows the serial and guesses the e-mail: three rounds of report and
    five wrong codes each. The holder's own report still finds a live code in their
    mailbox, and it works."""
    with app.app_context():
        issued = issue(ports, world)
    body = {"email": issued.holder_email, "token_serial": issued.token_serial}
    for n in range(3):
        answer = _report(client, body, environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"}).get_json()
        for _ in range(5):
            client.post(f"/api/v1/lost-token-reports/{answer['id']}/confirm", json={"code": WRONG},
                        environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"})
    mine = _report(client, body, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert mine.status_code == 202
    with app.app_context():
        statuses = {r.status.value for r in db.session.execute(sa.select(LostTokenReport)).scalars()}
    assert statuses == {"code_sent"}                                          # never locked, never not_sent
    code = code_in(mail.to(issued.holder_email)[-1])
    done = client.post(f"/api/v1/lost-token-reports/{mine.get_json()['id']}/confirm", json={"code": code},
                       environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert done.status_code == 200 and done.get_json()["token_status"] == "suspended"


def _behind(monkeypatch, app, setting):
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)  # put back after the test
    proxies.install(app, setting)


def _via_proxy(client, path, client_ip, body, proxy="10.0.0.5", chain=()):
    xff = ", ".join([*chain, client_ip])
    return client.post(path, buffered=True, json=body, environ_base={"REMOTE_ADDR": proxy},
                       headers={"X-Forwarded-For": xff})


def _holder_gets_through_the_proxy(app, client, ports, world, mail, **via):
    with app.app_context():
        issued = issue(ports, world)
    # A stranger's 40 wrong codes through the proxy: refused (429) past the client's 30.
    answers = [_via_proxy(client, "/api/v1/lost-token-reports/whatever/confirm", "203.0.113.9", {"code": WRONG},
                          **via).status_code for _ in range(31)]
    assert answers[:30] == [403] * 30 and answers[30] == 429
    # The holder, through the same proxy, in the same hour.
    mine = _via_proxy(client, "/api/v1/lost-token-reports", "198.51.100.7",
                      {"email": issued.holder_email, "token_serial": issued.token_serial}, **via)
    assert mine.status_code == 202
    done = _via_proxy(client, f"/api/v1/lost-token-reports/{mine.get_json()['id']}/confirm", "198.51.100.7",
                      {"code": code_in(mail.to(issued.holder_email)[0])}, **via)
    assert done.status_code == 200, done.get_json()


def test_behind_proxies_named_by_address_throttles_key_on_the_real_client(app, client, ports, world, mail,
                                                                          monkeypatch):
    _behind(monkeypatch, app, "10.0.0.0/8")
    _holder_gets_through_the_proxy(app, client, ports, world, mail, chain=("10.0.0.9",))  # two proxies deep


def test_behind_a_proxy_named_by_hop_count_throttles_key_on_the_real_client(app, client, ports, world, mail,
                                                                            monkeypatch):
    _behind(monkeypatch, app, "1")
    _holder_gets_through_the_proxy(app, client, ports, world, mail)


def test_forwarded_for_from_an_untrusted_peer_is_ignored(app, client, monkeypatch):
    _behind(monkeypatch, app, "10.0.0.0/8")
    answers = [client.post("/api/v1/lost-token-reports/whatever/confirm", json={"code": WRONG},
                           environ_base={"REMOTE_ADDR": "203.0.113.9"},
                           headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(31)]
    assert answers[30] == 429  # a forged X-Forwarded-For does not make a new client


def test_the_client_address_is_read_past_trusted_hops_only():
    fix = proxies.TrustedNetworks(None, proxies.parse("10.0.0.0/8, 192.0.2.7"))
    env = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7, 192.0.2.7"}
    assert fix.hops(env) == 2                      # 192.0.2.7 is ours; 198.51.100.7 is the client
    assert fix.hops({**env, "REMOTE_ADDR": "198.51.100.9"}) == 0
    assert proxies.parse("") == 0 and proxies.parse("2") == 2
