"""The JSON API: the same services and policies as the pages."""
import io
import subprocess


from ra.auth.roles import Role
from ra.auth.service import issue_api_token
from ra.enrollment.models import Organisation
from ra.enrollment.states import OrganisationStatus
from ra.extensions import db
from tests.factories import make_staff, registration, tiny_pdf


def _body(**over):
    r = registration(**over)
    return {k: getattr(r, k) for k in ("name", "registry_number", "kind", "district", "address", "phone",
                                        "email_domains", "registrar_name", "registrar_position",
                                        "registrar_email", "registrar_phone")}


def _registered(app, client, body=None) -> dict:
    """Registered through the public API (202, the same answer for a known address);
    the registrar's token issued as the RU issues it (``ra users token``)."""
    import sqlalchemy as sa

    body = body or {**_body(), "password": "a-good-long-password"}
    resp = client.post("/api/v1/organisations", json=body)
    assert resp.status_code == 202, resp.get_json()
    with app.app_context():
        org = db.session.execute(sa.select(Organisation).where(
            Organisation.registry_number == body["registry_number"])).scalar_one()
        registrar = org.registrar_email
        from ra.auth.models import User
        user = db.session.execute(sa.select(User).where(User.email == registrar)).scalar_one()
        token = issue_api_token(db.session, "cli", user)
        out = {"organisation": {"id": org.id, "status": org.status.value, "registrar": {"email": registrar}},
               "api_token": token}
        db.session.commit()
    return out


def _officer_token(app, role=Role.RA_OFFICER):
    with app.app_context():
        user = make_staff(db.session, app.extensions["ra.ports"], role)
        token = issue_api_token(db.session, "test", user)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}


def test_whole_onboarding_through_the_api(app, client, mail):
    out = _registered(app, client)
    org_id = out["organisation"]["id"]
    registrar = {"Authorization": f"Bearer {out['api_token']}"}
    assert out["organisation"]["status"] == "pending"

    resp = client.post(f"/api/v1/organisations/{org_id}/documents", headers=registrar,
                       data={"kind": "request_letter", "file": (io.BytesIO(tiny_pdf("r")), "letter.pdf")})
    assert resp.status_code == 201
    assert resp.get_json()["organisation"]["status"] == "under_review"

    officer = _officer_token(app)
    resp = client.post(f"/api/v1/organisations/{org_id}/approve", headers=officer)
    assert resp.status_code == 200
    number = resp.get_json()["contract_number"]

    pdf = client.get(f"/api/v1/organisations/{org_id}/contract.pdf", headers=registrar)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
    assert number in text

    resp = client.post(f"/api/v1/organisations/{org_id}/documents", headers=registrar,
                       data={"kind": "signed_contract", "file": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 64), "s.png")})
    assert resp.status_code == 201
    resp = client.post(f"/api/v1/organisations/{org_id}/activate", headers=officer, json={"contract_date": "2026-11-21"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "active"
    assert resp.get_json()["contract_date"] == "2026-11-21"

    resp = client.post(f"/api/v1/organisations/{org_id}/suspend", headers=officer, json={"reason": "гэрээ зөрчсөн"})
    assert resp.get_json()["status"] == "suspended"
    assert len(mail.to(out["organisation"]["registrar"]["email"])) == 3  # welcome, contract, activation


def test_api_validation_errors_name_the_fields(app, client):
    resp = client.post("/api/v1/organisations", json={**_body(registry_number="123"), "registrar_email": "x@gmail.com",
                                                      "password": "a-good-long-password"})
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "validation_failed"
    assert set(err["fields"]) >= {"registry_number", "registrar_email"}


def test_api_needs_a_bearer_token_and_ignores_session_cookies(app, client):
    resp = client.post("/api/v1/organisations/1/approve")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"


def test_api_hides_other_organisations(app, client):
    a = _registered(app, client)
    b = _registered(app, client)
    token_a = {"Authorization": f"Bearer {a['api_token']}"}
    assert client.get(f"/api/v1/organisations/{b['organisation']['id']}", headers=token_a).status_code == 404
    resp = client.post(f"/api/v1/organisations/{b['organisation']['id']}/documents", headers=token_a,
                       data={"kind": "request_letter", "file": (io.BytesIO(tiny_pdf("x")), "x.pdf")})
    assert resp.status_code == 404


def test_a_bad_api_upload_is_refused_in_mongolian_and_keeps_nothing(app, client):
    out = _registered(app, client)
    org_id = out["organisation"]["id"]
    registrar = {"Authorization": f"Bearer {out['api_token']}", "Accept-Language": "mn"}
    url = f"/api/v1/organisations/{org_id}/documents"
    unknown = client.post(url, headers=registrar, data={"kind": "selfie", "file": (io.BytesIO(tiny_pdf("x")), "x.pdf")})
    no_file = client.post(url, headers=registrar, data={"kind": "request_letter"})
    assert (unknown.status_code, no_file.status_code) == (400, 400)
    assert unknown.get_json()["error"]["message"] == "Баримтын төрөл тодорхойгүй байна."
    assert "file" in no_file.get_json()["error"]["message"]
    with app.app_context():
        org = db.session.get(Organisation, org_id)
        assert (org.status, org.documents) == (OrganisationStatus.PENDING, [])


def test_invalid_transition_is_409_and_state_is_unchanged(app, client):
    out = _registered(app, client)
    org_id = out["organisation"]["id"]
    officer = _officer_token(app)
    assert client.post(f"/api/v1/organisations/{org_id}/reject", headers=officer,
                       json={"reason": "буруу"}).status_code == 200
    resp = client.post(f"/api/v1/organisations/{org_id}/activate", headers=officer)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "invalid_transition"
    with app.app_context():
        assert db.session.get(Organisation, org_id).status == OrganisationStatus.REJECTED


def test_auditor_cannot_approve(app, client):
    out = _registered(app, client)
    auditor = _officer_token(app, Role.AUDITOR)
    assert client.post(f"/api/v1/organisations/{out['organisation']['id']}/approve",
                       headers=auditor).status_code == 403


def test_openapi_describes_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    routes = {r.rule.removeprefix("/api/v1") for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1")}
    import re
    normalise = lambda s: re.sub(r"<[^>]+>|\{[^}]+\}", "{}", s)  # noqa: E731
    assert {normalise(r) for r in routes} <= {normalise(p) for p in spec["paths"]}, routes
