"""Who sees what, and bad input: a registrar's reports never count another
organisation (and another organisation is a 404); bad dates, inverted ranges and
unknown groupings are a 400 with a message; a 10-year range is answered."""
from __future__ import annotations

import re

import pytest

from ra.auth.roles import Role
from ra.extensions import db
from tests.enrollment.helpers import login
from tests.factories import make_staff
from tests.reports.conftest import api_headers
from tests.reports.test_numbers import period, sql

Q = "from=2026-10-01&to=2026-10-31"


def test_a_registrars_dashboard_counts_only_their_organisation(app, client, scenario):
    a = scenario.org["A"]
    issued = sql(app, "SELECT count(*) FROM certificate c JOIN holder h ON h.id = c.holder_id WHERE "
                      "h.organisation_id = :o AND c.created_at >= :s AND c.created_at < :e", **period(o=a))[0][0]
    revoked = sql(app, "SELECT count(*) FROM certificate c JOIN holder h ON h.id = c.holder_id WHERE "
                       "h.organisation_id = :o AND c.status = 'revoked' AND c.revoked_at >= :s AND c.revoked_at < :e",
                  **period(o=a))[0][0]
    handed = sql(app, "SELECT count(*) FROM handover ho JOIN certificate_order o ON o.id = ho.order_id WHERE "
                      "o.organisation_id = :o AND ho.step = 'completed' AND ho.completed_at >= :s "
                      "AND ho.completed_at < :e", **period(o=a))[0][0]
    assert (issued, revoked, handed) == (3, 1, 3)
    figures = client.get(f"/api/v1/reports/dashboard?{Q}", headers=api_headers(app, scenario.registrar["A"])
                         ).get_json()["figures"]
    assert (figures["issued"], figures["revoked"], figures["tokens_issued"]) == (issued, revoked, handed)
    assert (figures["suspended"], figures["expiring_30"], figures["expiring_90"]) == (1, 1, 2)
    login(client, scenario.registrar["A"])
    page = client.get(f"/reports/?{Q}").get_data(as_text=True)
    assert re.search(r'data-figure="issued"><dt>[^<]*</dt><dd>3</dd>', page)
    for other in ("B", "C"):
        assert scenario.org_registry[other] not in page
    orgs = client.get(f"/reports/issuance?{Q}&group_by=organisation").get_data(as_text=True)
    assert orgs.count('data-col="issued"') == 2  # one organisation row and the total


@pytest.mark.parametrize("path", ["/reports/", "/reports/issuance", "/reports/certificates", "/reports/expiring",
                                  "/reports/revocations", "/reports/tokens", "/reports/service-times",
                                  "/reports/officers"])
def test_another_organisation_is_not_found_for_a_registrar(app, client, scenario, path):
    login(client, scenario.registrar["A"])
    assert client.get(f"{path}?{Q}&organisation_id={scenario.org['B']}").status_code == 404
    assert client.get(f"{path}?{Q}&org={scenario.org_registry['B']}").status_code == 404
    assert client.get(f"{path}?{Q}&organisation_id={scenario.org['A']}").status_code == 200


def test_another_organisation_is_not_found_in_the_api(app, client, scenario):
    headers = api_headers(app, scenario.registrar["A"])
    for path in ("issuance", "issuance/certificates", "revocations", "tokens", "expiring", "service-times",
                 "appointments", "officers", "dashboard"):
        resp = client.get(f"/api/v1/reports/{path}?{Q}&organisation_id={scenario.org['B']}", headers=headers)
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found", path
    assert client.get("/api/v1/reports/monthly?month=2026-10", headers=headers).status_code == 403


def test_roles_without_reports_are_refused_and_only_managers_remind(app, client, scenario, frozen):
    with app.app_context():
        officer = make_staff(db.session, frozen, Role.RA_OFFICER).email
        db.session.commit()
    login(client, officer)
    assert client.get(f"/reports/?{Q}").status_code == 403
    client = app.test_client()
    login(client, scenario.auditor_email)
    assert client.get(f"/reports/?{Q}").status_code == 200
    page = client.get(f"/reports/expiring?{Q}").get_data(as_text=True)
    assert "/reports/expiring/remind" not in page                         # no button for the auditor
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/reports/expiring/remind", data={"csrf_token": token, **dict(
        p.split("=") for p in Q.split("&"))}).status_code == 403
    assert client.get("/reports/").status_code == 200
    anonymous = app.test_client()
    assert anonymous.get("/reports/").status_code in (302, 303)
    assert anonymous.get("/api/v1/reports/issuance").status_code == 401


@pytest.mark.parametrize("query, code", [
    ("from=2026-13-01&to=2026-12-31", "bad_date"),
    ("from=yesterday&to=2026-12-31", "bad_date"),
    ("from=2026-10-31&to=2026-10-01", "inverted_range"),
    ("from=2026-10-01", "bad_range"),
    ("from=2026-10-01&to=2026-10-31&group_by=planet", "bad_group_by"),
    ("period=fortnight", "bad_period"),
    ("kind=ministry", "bad_choice"),
    ("profile=nonexistent", "bad_choice"),
    ("organisation_id=abc", "bad_number"),
    ("from=1990-01-01&to=2026-10-31", "range_too_long"),
])
def test_bad_input_is_a_400_with_a_message(app, client, scenario, query, code):
    resp = client.get(f"/api/v1/reports/issuance?{query}", headers=api_headers(app, scenario.manager_email))
    assert resp.status_code == 400, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == code and error["message"] and "%(" not in error["message"]


def test_bad_input_messages_speak_the_readers_language(app, client, scenario):
    headers = api_headers(app, scenario.manager_email)
    en = client.get("/api/v1/reports/issuance?from=2026-10-31&to=2026-10-01",
                    headers={**headers, "Accept-Language": "en"}).get_json()["error"]["message"]
    mn = client.get("/api/v1/reports/issuance?from=2026-10-31&to=2026-10-01",
                    headers={**headers, "Accept-Language": "mn"}).get_json()["error"]["message"]
    assert en == "The range ends (2026-10-01) before it starts (2026-10-31)."
    assert "2026-10-01" in mn and mn != en
    login(client, scenario.manager_email)
    page = client.get("/reports/?from=2026-02-30&to=2026-03-01")
    assert page.status_code == 400 and "2026-02-30" in page.get_data(as_text=True)


def test_unknown_organisation_or_officer_is_not_found(app, client, scenario):
    headers = api_headers(app, scenario.manager_email)
    assert client.get(f"/api/v1/reports/issuance?{Q}&organisation_id=99999999", headers=headers).status_code == 404
    assert client.get(f"/api/v1/reports/issuance?{Q}&officer_id=99999999", headers=headers).status_code == 404


def test_a_ten_year_range_is_answered(app, client, scenario):
    headers = api_headers(app, scenario.manager_email)
    out = client.get("/api/v1/reports/issuance?from=2016-11-01&to=2026-10-31&group_by=month", headers=headers)
    assert out.status_code == 200
    months = out.get_json()["table"]["rows"]
    assert len(months) == 120 and sum(r["issued"] for r in months) == out.get_json()["total"]
    assert client.get("/api/v1/reports/dashboard?from=2016-11-01&to=2026-10-31", headers=headers).status_code == 200
    login(client, scenario.manager_email)
    assert client.get("/reports/?from=2016-11-01&to=2026-10-31").status_code == 200


def test_every_report_route_is_in_the_openapi_document(app):
    from ra.reports.api import openapi_paths

    documented = set(openapi_paths())
    routes = {r.rule.removeprefix("/api/v1") for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/reports")}
    assert routes == documented
