"""Bulk import: the per-row report, all-or-nothing, Excel's quirks, Windows-1251,
and files far too large, through the API and the pages."""
import csv
import io
import json

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from ra.audit.service import verify
from ra.db import commit
from ra.enrollment import bulk_import
from ra.enrollment.holder_models import CertificateOrder, Holder, OrderImport
from ra.enrollment.order_states import OrderStatus
from ra.extensions import db
from tests.enrollment.helpers import active_org, api_token, login, token_of, unique_regno

HEADER = [c.title for c in bulk_import.COLUMNS[:7]]


def rows_for(org, n, start=0):
    return [["Батбаяр", f"Сараа{'а' * (i % 3)}", unique_regno(), "Мэргэжилтэн", f"user{start + i}@{org.domains[0]}",
             "Хэлтэс", "99112233"] for i in range(n)]


def xlsx(rows, header=HEADER) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(header)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows, header=HEADER, encoding="utf-8", delimiter=",", bom=False) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding)


@pytest.fixture
def org_setup(app, ports):
    with app.app_context():
        org, registrar, officer = active_org(db.session, ports)
        token = api_token(db.session, registrar)
        commit()
        return {"org_id": org.id, "org": org, "domain": org.domains[0], "registrar": registrar.email,
                "token": token, "officer": officer.email}


def post_import(client, s, data, name, commit="none", lang="en"):
    return client.post(f"/api/v1/orders/import?commit={commit}", data={"file": (io.BytesIO(data), name)},
                       headers={"Authorization": f"Bearer {s['token']}", "Accept-Language": lang},
                       content_type="multipart/form-data")


def count(app, model, org_id):
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(model)
                                  .where(model.organisation_id == org_id)).scalar()


def test_xlsx_with_3_bad_rows_out_of_200_is_reported_row_by_row(client, app, org_setup):
    rows = rows_for(org_setup["org"], 200)
    rows[9][4] = "someone@gmail.com"         # row 11
    rows[99][2] = "UB85010112"               # row 101: Latin letters
    rows[199][2] = "УБ85133112"              # row 201: month 13
    rows[0][6], rows[1][6] = 99112233, 99112233.0  # phones stored as numbers
    rows[2][0] = "Батбаяр   "                # trailing spaces
    resp = post_import(client, org_setup, xlsx(rows), "orders.xlsx")
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert (body["total"], body["valid"], body["invalid"], body["committed"]) == (200, 197, 3, False)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(11, "email"), (101, "register_number"),
                                                                 (201, "register_number")]
    assert "gmail.com" in body["errors"][0]["message"]
    assert count(app, Holder, org_setup["org_id"]) == 0  # commit=none imports nothing

    resp = post_import(client, org_setup, xlsx(rows), "orders.xlsx", commit="valid")
    assert resp.status_code == 201 and resp.json["imported"] == 197 and len(resp.json["order_ids"]) == 197
    assert count(app, Holder, org_setup["org_id"]) == 197 and count(app, CertificateOrder, org_setup["org_id"]) == 197
    with app.app_context():
        statuses = set(db.session.execute(sa.select(CertificateOrder.status).where(
            CertificateOrder.organisation_id == org_setup["org_id"])).scalars())
        assert statuses == {OrderStatus.SUBMITTED}
        assert verify(db.session).ok  # the bulk audit records chain like single ones
        # Past 50 rows the holders' notices wait in the outbox for the worker, each with its own name and order.
        from ra.mail.models import OutgoingMail
        first = db.session.execute(sa.select(OutgoingMail).where(OutgoingMail.recipient == rows[0][4])).scalar_one()
        order_id = resp.json["order_ids"][0]
        assert first.status.value == "pending" and str(order_id) in first.subject
        assert f"{rows[0][0]} {rows[0][1]}" in first.body and "\x00" not in first.body
    # Importing the same file again: every row is now a duplicate holder.
    again = post_import(client, org_setup, xlsx(rows), "orders.xlsx", commit="valid")
    assert again.status_code == 400 and again.json["error"]["code"] == "nothing_to_import"


def test_csv_utf8_with_excel_quirks(client, app, org_setup, mail):
    rows = rows_for(org_setup["org"], 3)
    rows[0] = [" Батбаяр ", "Болормаа\u00a0", "уб85010112 ", " Мэргэжилтэн", f"BOLOR@{org_setup['domain']} ", "",
               "99112233.0"]
    data = csv_bytes(rows, delimiter=";", bom=True)
    mail.clear()
    resp = post_import(client, org_setup, data, "orders.csv", commit="valid")
    assert resp.status_code == 201, resp.json
    assert resp.json["encoding"] == "utf-8-sig" and resp.json["imported"] == 3
    with app.app_context():
        h = db.session.execute(sa.select(Holder).where(Holder.register_number == "УБ85010112",
                                                       Holder.organisation_id == org_setup["org_id"])).scalar_one()
        assert (h.surname, h.given_name, h.email, h.phone) == ("Батбаяр", "Болормаа",
                                                                f"bolor@{org_setup['domain']}", "99112233")
        assert h.latin_given_name == "Bolormaa"
    # One summary and the contract annex for the three, not one mail per row.
    assert sorted(len(m.get_payload()) if m.is_multipart() else 1 for m in mail.to(org_setup["registrar"])) == [1, 2]
    assert len(mail.to(f"bolor@{org_setup['domain']}")) == 1


def test_windows_1251_csv_is_detected_and_reported_not_mangled(client, app, org_setup):
    rows = rows_for(org_setup["org"], 2)
    rows[0][0] = "Батбаяр"
    data = csv_bytes([[c.replace("ү", "у").replace("ө", "о") for c in r] for r in rows],
                     header=["Овог", "Нэр", "Регистрийн дугаар", "Албан тушаал", "Ажлын цахим шуудан"],
                     encoding="cp1251")
    resp = post_import(client, org_setup, data, "orders.csv", commit="valid")
    assert resp.status_code == 422 and resp.json["error"]["code"] == "windows_1251"
    assert "Windows-1251" in resp.json["error"]["message"] and "UTF-8" in resp.json["error"]["message"]
    assert count(app, Holder, org_setup["org_id"]) == 0


def test_a_50000_row_file_is_refused_with_a_message(client, app, org_setup):
    # How little of such a file is read is asserted in test_bulk_import_limits, not
    # with a clock: a timed assertion fails on a busy machine.
    many = [["Батбаяр", "Сараа", "УБ85010112", "Мэргэжилтэн", f"u{i}@{org_setup['domain']}"] for i in range(50_000)]
    for data, name in ((csv_bytes(many, header=HEADER[:5]), "big.csv"), (xlsx(many, header=HEADER[:5]), "big.xlsx")):
        resp = post_import(client, org_setup, data, name, commit="valid")
        assert resp.status_code == 422 and resp.json["error"]["code"] == "too_many_rows", resp.json
        assert "5000" in resp.json["error"]["message"]
    assert count(app, Holder, org_setup["org_id"]) == 0


def test_missing_columns_and_old_excel_files_are_named(client, org_setup):
    resp = post_import(client, org_setup, csv_bytes([["a", "b"]], header=["Овог", "Нэр"]), "x.csv")
    assert resp.status_code == 422 and "Register number" in resp.json["error"]["message"]
    resp = post_import(client, org_setup, b"\xd0\xcf\x11\xe0" + b"\0" * 600, "x.xls")
    assert resp.status_code == 422 and ".xlsx" in resp.json["error"]["message"]
    resp = post_import(client, org_setup, b"PK\x03\x04garbage", "x.xlsx")
    assert resp.status_code == 422 and resp.json["error"]["code"] == "bad_file"


def test_the_templates_are_accepted_back_as_they_are(client, app, org_setup):
    from openpyxl import load_workbook
    login(client, org_setup["registrar"])
    x = client.get("/orders/import/template.xlsx")
    assert x.status_code == 200
    wb = load_workbook(io.BytesIO(x.data))
    assert wb.worksheets[0]["C1"].value == "Регистрийн дугаар / Register number"
    c = client.get("/orders/import/template.csv")
    assert c.data.startswith(b"\xef\xbb\xbf")
    with app.app_context():
        header, rows, _ = bulk_import.read_table("t.csv", c.data)
        assert bulk_import._map_header(header) and len(list(rows)) == 1


def test_the_page_flow_shows_the_report_then_imports_the_valid_rows(client, app, org_setup):
    rows = rows_for(org_setup["org"], 4)
    rows[2][4] = "x@gmail.com"
    login(client, org_setup["registrar"])
    token = token_of(client, "/orders/import")
    resp = client.post("/orders/import", data={"csrf_token": token, "file": (io.BytesIO(xlsx(rows)), "o.xlsx")},
                       content_type="multipart/form-data")
    assert resp.status_code == 303
    report = client.get(resp.headers["Location"])
    html = report.get_data(as_text=True)
    assert "gmail.com" in html and 'id="import-valid"' in html
    assert count(app, Holder, org_setup["org_id"]) == 0
    commit_url = resp.headers["Location"].rstrip("/") + "/commit"
    done = client.post(commit_url, data={"csrf_token": csrf(html)})
    assert done.status_code == 303 and count(app, Holder, org_setup["org_id"]) == 3
    with app.app_context():
        batch = db.session.execute(sa.select(OrderImport).where(
            OrderImport.organisation_id == org_setup["org_id"])).scalar_one()
        assert batch.status.value == "imported" and batch.valid_rows == 3
        # The contract annex for the three new holders was made after the commit.
        assert set(db.session.execute(sa.select(Holder.listed_in).where(
            Holder.organisation_id == org_setup["org_id"])).scalars()) == {f"{org_setup['org'].contract_number}-Х2"}
    assert client.post(commit_url, data={"csrf_token": csrf(html)}).status_code == 409  # not twice


def test_nothing_is_imported_if_the_data_changed_since_the_report(client, app, org_setup, ports):
    from tests.enrollment.helpers import make_holder
    rows = rows_for(org_setup["org"], 3)
    login(client, org_setup["registrar"])
    token = token_of(client, "/orders/import")
    resp = client.post("/orders/import", data={"csrf_token": token, "file": (io.BytesIO(xlsx(rows)), "o.xlsx")},
                       content_type="multipart/form-data")
    with app.app_context():
        from ra.auth.models import User
        registrar = db.session.execute(sa.select(User).where(User.email == org_setup["registrar"])).scalar_one()
        from ra.enrollment.models import Organisation
        make_holder(db.session, ports, db.session.get(Organisation, org_setup["org_id"]), registrar,
                    register_number=rows[1][2])
        commit()
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    out = client.post(resp.headers["Location"] + "/commit", data={"csrf_token": csrf(html)})
    assert out.status_code == 409
    assert count(app, Holder, org_setup["org_id"]) == 1  # only the one added meanwhile
    with app.app_context():
        batch = db.session.execute(sa.select(OrderImport).where(
            OrderImport.organisation_id == org_setup["org_id"])).scalar_one()
        assert batch.status.value == "checked" and batch.valid_rows == 2
        assert [(e["row"], e["field"]) for e in json.loads(batch.report)["errors"]] == [(3, "register_number")]


def csrf(html):
    from tests.conftest import csrf_from
    return csrf_from(html)
