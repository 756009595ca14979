"""The revocation pages as their users see them, Mongolian first and English: the
registrar's request in the portal (and nobody else's), the officer's release at
the counter with a real SoftHSM2 token in the reader, the public lists, and every
string translated."""
from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.extensions import db
from ra.revocation.models import RevocationRequest
from tests.conftest import csrf_from
from tests.enrollment.helpers import login
from tests.revocation.conftest import auth, issue, new_token
from tests.tokens.conftest import driver, hsm  # noqa: F401

ROOT = Path(__file__).resolve().parents[2] / "ra"
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None}


def _post_form(client, path, data):
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def _english(client, path="/"):
    client.post("/language", data={"lang": "en", "csrf_token": csrf_from(client.get(path).get_data(as_text=True))})


def test_every_revocation_string_has_its_mongolian_translation():
    ids = set()
    for directory, method, pattern in ((ROOT / "revocation", "python", "**.py"),
                                       (ROOT / "templates" / "revocation", "jinja2", "**.html"),
                                       (ROOT / "templates" / "mail", "jinja2", "revocation_*.txt"),
                                       (ROOT / "templates" / "mail", "jinja2", "lost_token_*.txt"),
                                       (ROOT / "templates" / "documents", "jinja2", "revocation*.html")):
        for _f, _l, message, _c, _x in extract_from_dir(str(directory), method_map=[(pattern, method)],
                                                        keywords=KEYWORDS):
            ids.add(message if isinstance(message, str) else message[0])
    assert len(ids) > 150
    mn = {}
    for po in ROOT.glob("**/translations/mn/LC_MESSAGES/messages.po"):
        for m in read_po(open(po, "rb"), locale="mn"):
            if m.id and m.string and "fuzzy" not in m.flags:
                mn.setdefault(m.id, m.string)
    assert sorted(i for i in ids if i not in mn) == []
    ph = re.compile(r"%\(\w+\)[sd]")
    assert [i for i in ids if sorted(ph.findall(i)) != sorted(ph.findall(mn[i]))] == []


def test_the_public_lost_token_page_speaks_mongolian_first(client):
    page = client.get("/lost-token").get_data(as_text=True)
    assert "Токен гээгдсэнийг мэдэгдэх" in page and "Надад код илгээх" in page
    _english(client, "/lost-token")
    assert "Report a lost token" in client.get("/lost-token").get_data(as_text=True)


def test_a_registrar_files_a_request_in_the_portal_and_sees_only_their_own(app, client, ports, world):
    with app.app_context():
        issued = issue(ports, world)
    login(client, world.registrar)
    bad = _post_form(client, "/revocations/new", {"serial": "nonsense!", "reason": "superseded"})
    assert bad.status_code == 400 and "арван зургаатын" in bad.get_data(as_text=True)
    made = _post_form(client, "/revocations/new", {"serial": issued.serial, "reason": "affiliationChanged",
                                                   "note": "Албан тушаал өөрчлөгдсөн"})
    assert made.status_code == 303
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "Батлахыг хүлээж байна" in page and issued.serial in page
    assert 'action="/revocations/' not in page  # a registrar decides nothing
    with app.app_context():
        req_id = db.session.execute(sa.select(RevocationRequest.id).where(
            RevocationRequest.serial == issued.serial)).scalar_one()
    client.post("/logout", data={"csrf_token": csrf_from(page)})

    login(client, world.other_registrar)
    assert client.get(f"/revocations/{req_id}").status_code == 404
    assert issued.serial not in client.get("/revocations").get_data(as_text=True)
    refused = _post_form(client, "/revocations/new", {"serial": issued.serial, "reason": "superseded"})
    assert refused.status_code == 404


def test_an_officer_releases_a_hold_at_the_counter_with_the_token_in_the_reader(app, client, ports, world,
                                                                                 driver, hsm, mail):
    serial = hsm.create_stock_token(so_pin="FACTORY-SO-1234", user_pin="4815162342", label="BROUGHT-BACK")
    driver.rescan()
    with app.app_context():
        issued = issue(ports, world, token=new_token(ports, serial=serial))
    held = client.post("/api/v1/revocations", headers=auth(world, world.registrar),
                       json={"certificate_serial": issued.serial, "reason": "certificateHold"})
    assert held.get_json()["status"] == "completed"
    login(client, world.officer)
    _english(client, "/revocations/release")
    wrong = _post_form(client, "/revocations/release", {"serial": "NOT-HERE-0001"})
    assert wrong.status_code in (400, 404, 409)
    mail.clear()
    done = _post_form(client, "/revocations/release", {"serial": serial.upper()})
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(Certificate, issued.certificate_id).status == CertificateStatus.VALID
    page = client.get("/revocations").get_data(as_text=True)
    assert "done" in page and issued.serial in page
    assert any("released" in m["Subject"] or "сэргээв" in m["Subject"] for m in mail.to(issued.holder_email))


def test_the_published_lists_show_revoked_and_suspended_separately(app, client, ports, world):
    with app.app_context():
        revoked, held = issue(ports, world), issue(ports, world)
    from ra.revocation.policy import SETTINGS_KEY, RevocationSettings
    saved = ports.extra[SETTINGS_KEY]
    ports.extra[SETTINGS_KEY] = RevocationSettings(dual_control=False)
    try:
        for issued, reason in ((revoked, "keyCompromise"), (held, "certificateHold")):
            client.post("/api/v1/revocations", headers=auth(world, world.officer),
                        json={"certificate_serial": issued.serial, "reason": reason})
    finally:
        ports.extra[SETTINGS_KEY] = saved
    page = client.get("/revocation-lists").get_data(as_text=True)
    assert "Цуцалсан гэрчилгээ" in page and "Түдгэлзүүлсэн гэрчилгээ" in page
    revoked_table = page.split('id="revoked-issuing-g1"')[1].split("</table>")[0]
    suspended_table = page.split('id="suspended-issuing-g1"')[1].split("</table>")[0]
    assert revoked.serial in revoked_table and "keyCompromise" in revoked_table and held.serial not in revoked_table
    assert held.serial in suspended_table and revoked.serial not in suspended_table
    pem = client.get("/ca/crl/issuing-g1.pem")
    assert pem.status_code == 200 and pem.data.startswith(b"-----BEGIN X509 CRL-----")
    assert client.get("/ca/crl/..%2Fetc.pem").status_code == 404


def test_an_officer_keeps_a_misplaced_token_on_hold_and_another_rejects_a_request(app, client, ports, world,
                                                                                   mail):
    with app.app_context():
        lost, other = issue(ports, world), issue(ports, world)
    ref = client.post("/api/v1/lost-token-reports", buffered=True, json={
        "email": lost.holder_email, "token_serial": lost.token_serial}).get_json()["id"]
    from tests.revocation.conftest import code_in
    client.post(f"/api/v1/lost-token-reports/{ref}/confirm", json={"code": code_in(mail.to(lost.holder_email)[-1])})
    request_of_other = client.post("/api/v1/revocations", headers=auth(world, world.registrar), json={
        "certificate_serial": other.serial, "reason": "superseded"}).get_json()
    with app.app_context():
        pending = db.session.execute(sa.select(RevocationRequest.id).where(
            RevocationRequest.serial == lost.serial, RevocationRequest.reason == "keyCompromise")).scalar_one()

    login(client, world.officer)
    page = client.get(f"/revocations/{pending}").get_data(as_text=True)
    assert "Гээгдсэнийг баталгаажуулах" in page and "Түдгэлзүүлэлтийг хэвээр үлдээх" in page
    empty = _post_form(client, f"/revocations/{pending}/keep-on-hold", {"note": ""})
    assert empty.status_code == 303  # refused with a message, nothing changed
    kept = _post_form(client, f"/revocations/{pending}/keep-on-hold", {"note": "Left at home, the holder says"})
    assert kept.status_code == 303
    rejected = _post_form(client, f"/revocations/{request_of_other['id']}/reject", {"reason": "Not superseded"})
    assert rejected.status_code == 303
    with app.app_context():
        kept_req = db.session.get(RevocationRequest, pending)
        assert kept_req.status.value == "cancelled" and "Left at home" in kept_req.outcome
        assert db.session.get(Certificate, lost.certificate_id).status == CertificateStatus.SUSPENDED
        assert db.session.get(RevocationRequest, request_of_other["id"]).status.value == "rejected"
        assert db.session.get(Certificate, other.certificate_id).status == CertificateStatus.VALID
