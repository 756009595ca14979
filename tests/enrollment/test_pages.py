"""The pages a registrar, an officer and the admin use, in Mongolian and in English,
and the holder/order API an HR system uses."""
import io

import sqlalchemy as sa

from ra.auth.roles import Role
from ra.db import commit
from ra.enrollment.holder_models import CertificateOrder, Counter
from ra.extensions import db
from tests.conftest import csrf_from
from tests.enrollment.helpers import active_org, api_token, login, submitted_order, token_of
from tests.factories import make_staff, tiny_pdf


def _setup(app, ports):
    with app.app_context():
        org, registrar, officer = active_org(db.session, ports)
        order = submitted_order(db.session, ports, org, registrar, surname="Ганболд", given_name="Туяа")
        admin = make_staff(db.session, ports, role=Role.ADMIN)
        token = api_token(db.session, registrar)
        commit()
        return dict(org_id=org.id, domain=org.domains[0], registrar=registrar.email, officer=officer.email,
                    admin=admin.email, order_id=order.id, holder_id=order.holder_id, token=token,
                    doc_ids=[d.id for d in order.holder.documents])


def test_registrar_adds_a_holder_through_the_form_with_errors_shown_in_mongolian(client, app, ports):
    s = _setup(app, ports)
    login(client, s["registrar"])
    page = client.get("/holders/new")
    assert page.status_code == 200 and 'lang="mn"' in page.get_data(as_text=True)
    form = {"csrf_token": csrf_from(page.get_data(as_text=True)), "surname": "Батбаяр", "given_name": "Номин",
            "register_number": "UB85010112", "position": "Нягтлан", "email": "nomin@gmail.com", "locale": "mn"}
    bad = client.post("/holders/new", data=form)
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "латин" in html.lower() and "gmail.com" in html
    form.update(register_number="УБ85010112", email=f"nomin@{s['domain']}")
    good = client.post("/holders/new", data=form)
    assert good.status_code == 303
    holder_page = client.get(good.headers["Location"]).get_data(as_text=True)
    assert "Nomin Batbayar" in holder_page and "УБ85010112" in holder_page
    docs = {"csrf_token": csrf_from(holder_page), "id_card": (io.BytesIO(tiny_pdf("id")), "үнэмлэх.pdf"),
            "application_form": (io.BytesIO(tiny_pdf("app")), "өргөдөл.pdf")}
    up = client.post(good.headers["Location"] + "/documents", data=docs, content_type="multipart/form-data")
    assert up.status_code == 303
    assert "үнэмлэх.pdf" in client.get(good.headers["Location"]).get_data(as_text=True)


def test_registrar_pages_in_english(client, app, ports):
    s = _setup(app, ports)
    login(client, s["registrar"])
    client.post("/language", data={"lang": "en", "csrf_token": token_of(client, "/holders"), "next": "/holders"})
    for path, words in (("/holders", "Add a holder"), ("/orders", "Certificate orders"),
                        ("/orders/import", "Download the template"), ("/appointments/book", "Book a counter"),
                        (f"/orders/{s['order_id']}", "Cancel the order")):
        resp = client.get(path)
        assert resp.status_code == 200 and words in resp.get_data(as_text=True), path


def test_officer_approves_from_the_queue_with_documents_beside_the_data(client, app, ports, mail):
    s = _setup(app, ports)
    login(client, s["officer"])
    queue = client.get("/orders/approval").get_data(as_text=True)
    assert "Ганболд Туяа" in queue
    assert all(f'value="{i}"' in queue for i in s["doc_ids"])
    resp = client.post(f"/orders/{s['order_id']}/approve",
                       data={"csrf_token": csrf_from(queue), "checked": [str(i) for i in s["doc_ids"]]})
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.get(CertificateOrder, s["order_id"]).status.value == "approved"


def test_registrar_cannot_see_another_organisations_holder(client, app, ports):
    s = _setup(app, ports)
    other = _setup(app, ports)
    login(client, s["registrar"])
    assert client.get(f"/holders/{other['holder_id']}").status_code == 404
    assert client.get(f"/orders/{other['order_id']}").status_code == 404
    r = client.get(f"/api/v1/organisations/{other['org_id']}/holders", headers={"Authorization": f"Bearer {s['token']}"})
    assert r.status_code == 404


def test_admin_defines_a_counter(client, app, ports):
    s = _setup(app, ports)
    login(client, s["admin"])
    page = client.get("/counters").get_data(as_text=True)
    resp = client.post("/counters", data={"csrf_token": csrf_from(page), "name": "Цонх 1", "location": "1 давхар",
                                          "opens_at": "09:00", "closes_at": "17:00", "break_starts": "12:00",
                                          "break_ends": "13:00", "slot_minutes": "20", "capacity": "3",
                                          "weekdays": ["1", "2", "3", "4", "5"], "is_active": "y"})
    assert resp.status_code == 303
    with app.app_context():
        c = db.session.execute(sa.select(Counter).where(Counter.name == "Цонх 1")).scalar_one()
        assert (c.capacity, c.slot_minutes, c.weekdays) == (3, 20, "12345")
    client.post("/logout", data={"csrf_token": token_of(client, "/counters")})
    login(client, s["registrar"])
    assert client.get("/counters").status_code == 403


def test_api_holders_documents_and_orders(client, app, ports):
    s = _setup(app, ports)
    auth = {"Authorization": f"Bearer {s['token']}"}
    created = client.post(f"/api/v1/organisations/{s['org_id']}/holders", headers=auth, json={
        "surname": "Энхбаяр", "given_name": "Мөнх-Од", "register_number": "ЧД01251212", "position": "Багш",
        "email": f"munkhod@{s['domain']}"})
    assert created.status_code == 201, created.json
    h = created.json
    assert h["latin_given_name"] == "Mönkh-Od" and h["birth_date"] == "2001-05-12"
    assert h["documents_missing"] == ["application_form", "id_card", "appointment_order", "subscriber_agreement"]
    bad = client.post(f"/api/v1/organisations/{s['org_id']}/holders", headers=auth, json={
        "surname": "Энхбаяр", "given_name": "Мөнх", "register_number": "ЧД01251212", "position": "Багш",
        "email": f"x@{s['domain']}"})
    assert bad.status_code == 422 and "register_number" in bad.json["error"]["fields"]
    up = client.post(f"/api/v1/holders/{h['id']}/documents", headers=auth, content_type="multipart/form-data",
                     data={"kind": "id_card", "file": (io.BytesIO(tiny_pdf("id")), "id.pdf")})
    assert up.status_code == 201 and up.json["holder"]["documents_missing"] == [
        "application_form", "appointment_order", "subscriber_agreement"]
    order = client.post("/api/v1/orders", headers=auth, json={"holder_id": h["id"], "profile": "authentication"})
    assert order.status_code == 201 and order.json["status"] == "submitted" and order.json["key_type"] == "rsa2048"
    listed = client.get("/api/v1/orders?status=submitted", headers=auth).json
    assert {o["id"] for o in listed["orders"]} == {s["order_id"], order.json["id"]}
    assert client.get("/api/v1/orders?status=approved", headers=auth).json["orders"] == []
    cancelled = client.post(f"/api/v1/orders/{order.json['id']}/cancel", headers=auth, json={"reason": "алдаа"})
    assert cancelled.json["status"] == "cancelled"
    listing = client.get(f"/api/v1/organisations/{s['org_id']}/holders", headers=auth).json["holders"]
    assert len(listing) == 2
    rej = client.post(f"/api/v1/orders/{s['order_id']}/reject", headers=auth, json={"reason": "x"})
    assert rej.status_code == 403


def test_every_new_api_route_is_described():
    from ra.enrollment.holder_api import openapi_paths
    paths = openapi_paths()
    for p in ("/organisations/{id}/holders", "/holders/{id}/documents", "/orders", "/orders/import",
              "/orders/{id}/approve", "/orders/{id}/reject", "/orders/{id}/cancel", "/appointments"):
        assert p in paths


def test_api_finds_a_holder_by_register_number_in_either_form(client, app, ports):
    """A certificate's serialNumber (PNOMN-CHD…, ETSI EN 319 412-1) leads back to
    the holder the RU keeps under the Cyrillic number (ЧД…)."""
    s = _setup(app, ports)
    auth = {"Authorization": f"Bearer {s['token']}"}
    created = client.post(f"/api/v1/organisations/{s['org_id']}/holders", headers=auth, json={
        "surname": "Энхбаяр", "given_name": "Өнөр", "register_number": "ӨҮ01251212", "position": "Багш",
        "email": f"unur@{s['domain']}"})
    assert created.status_code == 201, created.json
    url = f"/api/v1/organisations/{s['org_id']}/holders?register_number="
    for typed in ("ӨҮ01251212", "өү01251212", "PNOMN-OEUE01251212", "OEUE01251212"):
        found = client.get(url + typed, headers=auth).json["holders"]
        assert [h["register_number"] for h in found] == ["ӨҮ01251212"], typed
    assert client.get(url + "PNOMN-OUE01251212", headers=auth).json["holders"] == []  # О+Ү… is not Ө+Ү
