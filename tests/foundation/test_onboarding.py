"""Organisation onboarding through the pages and the JSON API (DESIGN §3.1)."""
import re
import subprocess

import sqlalchemy as sa

from ra.auth.roles import Role
from ra.enrollment.models import DocumentCounter, Organisation
from ra.enrollment.states import OrganisationStatus
from ra.extensions import db
from tests.conftest import csrf_from
from tests.factories import PASSWORD, make_org, make_staff, registration, tiny_pdf
from tests.foundation.helpers import login


def _form(**over):
    r = registration(**over)
    data = {k: getattr(r, k) for k in ("name", "registry_number", "kind", "district", "address", "phone",
                                        "email_domains", "registrar_name", "registrar_position",
                                        "registrar_email", "registrar_phone")}
    data.update(password=PASSWORD, password2=PASSWORD)
    return data


def _register(client, **over):
    page = client.get("/register").get_data(as_text=True)
    data = _form(**over)
    return client.post("/register", data={**data, "csrf_token": csrf_from(page)}), data


def _count_orgs(app):
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count(Organisation.id))).scalar()


def test_registration_creates_a_pending_organisation_and_the_registrar_logs_in(app, client, mail):
    resp, data = _register(client)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/login")
    [welcome] = mail.to(data["registrar_email"])
    assert data["name"] in welcome.get_content()
    login(client, data["registrar_email"])
    page = client.get("/my-organisation").get_data(as_text=True)
    assert data["name"] in page
    assert "Албан хүсэлт хүлээгдэж байна" in page  # status, in Mongolian
    assert "албан хүсэлтээ байршуулна уу" in page  # what is missing


def test_duplicate_registry_number_is_refused_and_nothing_is_created(app, client):
    _, first = _register(client)
    before = _count_orgs(app)
    other = app.test_client()
    resp, _ = _register(other, registry_number=first["registry_number"])
    assert resp.status_code == 422
    assert "Энэ улсын бүртгэлийн дугаартай байгууллага аль хэдийн бүртгэгдсэн" in resp.get_data(as_text=True)
    assert _count_orgs(app) == before


def test_registrar_email_outside_the_allowed_domains_is_refused(app, client):
    before = _count_orgs(app)
    resp, _ = _register(client, registrar_email="someone@gmail.com")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "домэйнүүдийн аль нэгэнд" in text
    assert 'value="Сүхбаатар' in text  # what the user typed is kept, nothing to retype
    assert _count_orgs(app) == before


def test_bad_registry_number_and_bad_domain_get_messages(client):
    resp, _ = _register(client, registry_number="12AB", email_domains="gov..mn")
    text = resp.get_data(as_text=True)
    assert "7 оронтой тоо" in text
    assert "зөв цахим шуудангийн домэйн биш" in text


def _registrar_client(app):
    with app.app_context():
        ports = app.extensions["ra.ports"]
        org, registrar = make_org(db.session, ports, "pending")
        db.session.commit()
        org_id, email = org.id, registrar.email
    client = app.test_client()
    login(client, email)
    return client, org_id


def _upload(client, org_id, kind, name, data):
    token = csrf_from(client.get(f"/organisations/{org_id}").get_data(as_text=True))
    return client.post(f"/organisations/{org_id}/documents/{kind}", content_type="multipart/form-data",
                       data={"csrf_token": token, "file": (__import__("io").BytesIO(data), name)})


def test_an_exe_renamed_pdf_is_refused(app):
    client, org_id = _registrar_client(app)
    resp = _upload(client, org_id, "request_letter", "letter.pdf", b"MZ\x90\x00" + b"\x00" * 500)
    assert resp.status_code == 400
    assert "Зөвхөн PDF, PNG эсвэл JPEG" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Organisation, org_id).status == OrganisationStatus.PENDING


def test_an_11_mb_file_is_refused_with_a_message(app):
    client, org_id = _registrar_client(app)
    resp = _upload(client, org_id, "request_letter", "big.pdf", b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024))
    assert resp.status_code == 413
    assert "10 МБ" in resp.get_data(as_text=True)


def test_a_path_traversal_name_is_stored_under_a_server_name(app):
    client, org_id = _registrar_client(app)
    resp = _upload(client, org_id, "request_letter", "../../../../etc/cron.d/evil.pdf", tiny_pdf("x"))
    assert resp.status_code == 303
    with app.app_context():
        org = db.session.get(Organisation, org_id)
        doc = org.documents[0]
        assert doc.original_name == "evil.pdf"
        path = app.extensions["ra.ports"].files.path(doc.stored_name)
        assert path.is_file() and path.resolve().is_relative_to(app.instance_path)
        assert org.status == OrganisationStatus.UNDER_REVIEW


def test_another_organisations_ids_are_not_found(app):
    client, _ = _registrar_client(app)
    with app.app_context():
        ports = app.extensions["ra.ports"]
        other, _ = make_org(db.session, ports, "contract_sent")
        db.session.commit()
        other_id, doc_id = other.id, other.documents[0].id
    for url in (f"/organisations/{other_id}", f"/documents/{doc_id}", f"/organisations/{other_id}/contract.pdf"):
        assert client.get(url).status_code == 404, url
    token = csrf_from(client.get("/my-organisation").get_data(as_text=True))
    resp = client.post(f"/organisations/{other_id}/documents/signed_contract", data={"csrf_token": token})
    assert resp.status_code == 404


def test_officer_approves_the_contract_is_numbered_rendered_and_mailed(app, mail):
    with app.app_context():
        ports = app.extensions["ra.ports"]
        org, registrar = make_org(db.session, ports, "under_review")
        officer = make_staff(db.session, ports, Role.RA_OFFICER)
        db.session.commit()
        org_id, name, officer_email, reg_email = org.id, org.name, officer.email, registrar.email
    client = app.test_client()
    login(client, officer_email)
    token = csrf_from(client.get(f"/organisations/{org_id}").get_data(as_text=True))
    resp = client.post(f"/organisations/{org_id}/approve", data={"csrf_token": token})
    assert resp.status_code == 303
    with app.app_context():
        org = db.session.get(Organisation, org_id)
        assert org.status == OrganisationStatus.CONTRACT_SENT
        number = org.contract_number
    assert number.startswith("БН-20") and number[-5] == "/"
    messages = mail.to(reg_email)
    assert len(messages) == 1
    msg = messages[0]
    assert number in msg["Subject"]
    pdf = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"][0].get_content()
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert name in text and number in text
    assert "хуудас 1 / 3" in text or "хуудас 1 / 2" in text  # page numbers in the footer


def test_contract_numbers_have_no_gaps_even_after_a_rollback(ctx, ports):
    from ra.enrollment.numbering import next_number

    year = 2099
    assert next_number(db.session, "contract", year) == 1
    nested = db.session.begin_nested()
    assert next_number(db.session, "contract", year) == 2
    nested.rollback()  # the unit of work failed: its number comes back
    assert next_number(db.session, "contract", year) == 2
    assert db.session.get(DocumentCounter, ("contract", year)).last_value == 2


def test_full_flow_to_active_and_registrar_dashboard(app):
    client, org_id = _registrar_client(app)
    assert _upload(client, org_id, "request_letter", "хүсэлт.pdf", tiny_pdf("req")).status_code == 303
    with app.app_context():
        ports = app.extensions["ra.ports"]
        officer = make_staff(db.session, ports, Role.RA_OFFICER)
        db.session.commit()
        officer_email = officer.email
    officer_client = app.test_client()
    login(officer_client, officer_email)
    token = csrf_from(officer_client.get(f"/organisations/{org_id}").get_data(as_text=True))
    assert officer_client.post(f"/organisations/{org_id}/approve", data={"csrf_token": token}).status_code == 303
    contract = client.get(f"/organisations/{org_id}/contract.pdf")
    assert contract.status_code == 200 and contract.data.startswith(b"%PDF")
    assert _upload(client, org_id, "signed_contract", "гэрээ.jpg", b"\xff\xd8\xff\xe0" + b"0" * 100).status_code == 303
    token = csrf_from(officer_client.get(f"/organisations/{org_id}").get_data(as_text=True))
    resp = officer_client.post(f"/organisations/{org_id}/activate", data={"csrf_token": token,
                                                                          "contract_date": "2026-11-20"})
    assert resp.status_code == 303
    page = client.get("/my-organisation").get_data(as_text=True)
    assert "Танай байгууллага идэвхтэй. Дутуу зүйл алга." in page


def test_registrar_cannot_approve_their_own_organisation(app):
    client, org_id = _registrar_client(app)
    token = csrf_from(client.get("/my-organisation").get_data(as_text=True))
    assert client.post(f"/organisations/{org_id}/approve", data={"csrf_token": token}).status_code == 403


def test_activating_a_rejected_organisation_is_409_and_changes_nothing(app):
    with app.app_context():
        ports = app.extensions["ra.ports"]
        org, _ = make_org(db.session, ports, "rejected")
        officer = make_staff(db.session, ports, Role.RA_OFFICER)
        db.session.commit()
        org_id, email = org.id, officer.email
    client = app.test_client()
    login(client, email)
    token = csrf_from(client.get(f"/organisations/{org_id}").get_data(as_text=True))
    resp = client.post(f"/organisations/{org_id}/activate", data={"csrf_token": token})
    assert resp.status_code == 409
    assert "Одоогийн төлөвт энэ үйлдлийг хийх боломжгүй" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Organisation, org_id).status == OrganisationStatus.REJECTED


def test_upload_is_audited_with_its_hash(app):
    client, org_id = _registrar_client(app)
    pdf = tiny_pdf("audited")
    _upload(client, org_id, "request_letter", "a.pdf", pdf)
    import hashlib
    import json

    from ra.audit.models import AuditRecord
    with app.app_context():
        rec = db.session.execute(sa.select(AuditRecord).where(AuditRecord.action == "document.uploaded")
                                 .order_by(AuditRecord.seq.desc())).scalars().first()
        assert json.loads(rec.details)["sha256"] == hashlib.sha256(pdf).hexdigest()


def test_every_problem_is_shown_at_once(app, client):
    _, first = _register(client)
    other = app.test_client()
    resp, _ = _register(other, registry_number=first["registry_number"], name="")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Энэ талбарыг заавал бөглөнө" in text  # the empty name …
    assert "аль хэдийн бүртгэгдсэн" in text  # … and the duplicate number, in one answer


def test_registration_does_not_reveal_an_existing_account(app, client, mail):
    """A known address (staff included) gets the same answer as a new one, and no
    organisation; an e-mail to that address explains."""
    with app.app_context():
        make_staff(db.session, app.extensions["ra.ports"], email="admin-x@gov.mn")
        db.session.commit()
    before = _count_orgs(app)
    pages = []
    for email in ("admin-x@gov.mn", "fresh-officer@gov.mn"):
        browser = app.test_client()
        resp, _ = _register(browser, registrar_email=email, email_domains="gov.mn")
        assert resp.status_code == 303 and resp.headers["Location"].endswith("/login")
        page = browser.get(resp.headers["Location"]).get_data(as_text=True)
        pages.append(page.replace(email, "EMAIL"))
    assert _count_orgs(app) == before + 1                                  # only the new address registered
    strip = lambda html: re.sub(r'name="csrf_token"[^>]*>', "", html)    # noqa: E731
    assert strip(pages[0]) == strip(pages[1])                              # one answer
    [explained] = mail.to("admin-x@gov.mn")
    assert "аль хэдийн бүртгэлтэй" in explained.get_content()              # in the account's language
    api = [client.post("/api/v1/organisations", json=_form(registrar_email=email, email_domains="gov.mn"))
           for email in ("admin-x@gov.mn", "other-officer@gov.mn")]
    assert [a.status_code for a in api] == [202, 202] and api[0].get_json() == api[1].get_json()
    assert "account" not in str(api[0].get_json()).lower()
