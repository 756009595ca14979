"""Exports hold the numbers the screen shows: the PDF's text (pdftotext), the XLSX
re-read with openpyxl, the CSV read back as Excel would (UTF-8 with BOM)."""
from __future__ import annotations

import csv
import io
import re

from flask_babel import force_locale
from openpyxl import load_workbook

from ra.extensions import db
from ra.reports import pages
from ra.reports.periods import parse_filter
from tests.enrollment.helpers import login
from tests.reports import scenario as S
from tests.reports.conftest import api_headers, pdf_text

Q = "from=2026-10-01&to=2026-10-31"


def _figures_mn(app, ports):
    with app.test_request_context(), force_locale("mn"):
        f = parse_filter({"from": "2026-10-01", "to": "2026-10-31"}, today=S.NOW.date(), profiles=ports.profiles)
        page = pages.dashboard(db.session, f, pages.Context(profiles=ports.profiles, now=S.NOW))
        return [(key, str(label), value) for key, label, value in page.figures]


def test_dashboard_pdf_holds_the_screens_figures_with_filters_time_and_header(app, client, frozen, scenario):
    login(client, scenario.manager_email)
    screen = client.get(f"/reports/?{Q}").get_data(as_text=True)
    shown = dict(re.findall(r'data-figure="(\w+)"><dt>[^<]*</dt><dd>([^<]*)</dd>', screen))
    resp = client.get(f"/reports/?{Q}&format=pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = pdf_text(resp.data)
    assert "Төрийн гэрчилгээжүүлэх байгууллагын Бүртгэлийн нэгж" in text          # the RU's header
    assert "Тайлангийн самбар" in text                                            # Mongolian by default
    assert "2026-10-01 – 2026-10-31" in text and "2026-11-10 10:00" in text       # filters, generation time
    for key, label, value in _figures_mn(app, frozen):
        on_screen = shown[key].replace("\xa0", " ")
        line = next((ln for ln in text.splitlines() if ln.strip().startswith(label)), None)
        assert line is not None, label
        assert line.rstrip().endswith(on_screen), (label, line, on_screen)
    assert "<svg" not in text  # the charts are drawn, not printed as markup


def test_issuance_pdf_has_the_same_total_and_rows_as_the_screen(client, scenario):
    login(client, scenario.manager_email)
    screen = client.get(f"/reports/issuance?{Q}&group_by=organisation").get_data(as_text=True)
    cells = re.findall(r'<td class="k-int" data-col="issued">([^<]*)</td>', screen)
    text = pdf_text(client.get(f"/reports/issuance?{Q}&group_by=organisation&format=pdf").data)
    total_line = next(ln for ln in text.splitlines() if ln.strip().startswith("Нийт"))
    assert total_line.split()[-1] == cells[-1] == "6"
    for org in ("A", "B", "C"):
        assert scenario.org_registry[org] in text


def test_xlsx_reread_holds_the_same_rows_as_the_api(app, client, scenario):
    headers = api_headers(app, scenario.manager_email)
    api_rows = client.get(f"/api/v1/reports/issuance?{Q}&group_by=organisation", headers=headers).get_json()
    login(client, scenario.manager_email)
    resp = client.get(f"/reports/issuance?{Q}&group_by=organisation&format=xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(resp.data), read_only=True)
    ws = wb.worksheets[0]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    header_at = next(i for i, r in enumerate(rows) if r[:2] == ["Байгууллага", "Бүртгэлийн дугаар"])
    meta = rows[:header_at]
    assert any(r[0] == "Хугацаа" and "2026-10-01 – 2026-10-31" in r[1] for r in meta if r and r[0])
    assert any(r[0] == "Бэлтгэсэн огноо" and r[1] == "2026-11-10 10:00" for r in meta if r and r[0])
    body = rows[header_at + 1:]
    data, total = body[:-1], body[-1]
    expected = [[r["name"], r["registry_number"], r["kind"], r["district"], r["issued"]]
                for r in api_rows["table"]["rows"]]
    assert [[c for c in r[:2]] + [r[4]] for r in data] == [[e[0], e[1], e[4]] for e in expected]
    assert total[0] == "Нийт" and total[4] == 6


def test_certificate_list_xlsx_and_csv_hold_every_row(app, client, scenario):
    headers = api_headers(app, scenario.manager_email)
    listed = client.get(f"/api/v1/reports/issuance/certificates?{Q}&per_page=1000", headers=headers).get_json()
    serials = sorted(r["serial"] for r in listed["table"]["rows"])
    login(client, scenario.manager_email)
    wb = load_workbook(io.BytesIO(client.get(f"/reports/certificates?{Q}&format=xlsx").data), read_only=True)
    rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    header_at = next(i for i, r in enumerate(rows) if r and r[0] == "Олгосон огноо")
    assert sorted(r[1] for r in rows[header_at + 1:]) == serials
    resp = client.get(f"/reports/certificates?{Q}&format=csv")
    assert resp.data.startswith(b"\xef\xbb\xbf")                                # UTF-8 BOM for Excel
    table = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert table[0][0] == "Олгосон огноо" and sorted(r[1] for r in table[1:]) == serials
    assert any("Батбаяр" in cell for r in table[1:] for cell in r)               # Cyrillic, readable


def test_csv_of_a_grouped_view_has_a_total_row(client, scenario):
    login(client, scenario.manager_email)
    table = list(csv.reader(io.StringIO(client.get(f"/reports/issuance?{Q}&group_by=kind&format=csv")
                                        .data.decode("utf-8-sig"))))
    assert table[0] == ["Байгууллагын төрөл", "Олгосон"]
    assert {r[0]: r[1] for r in table[1:]} == {"Хороо": "4", "Ерөнхий боловсролын сургууль": "2", "Нийт": "6"}


def test_every_view_exports_to_every_format(client, scenario):
    login(client, scenario.manager_email)
    for name in pages.VIEWS:
        endpoint = {"dashboard": "/reports/", "service_times": "/reports/service-times"}.get(name, f"/reports/{name}")
        for fmt, mime in (("pdf", "application/pdf"), ("xlsx", "spreadsheetml.sheet"), ("csv", "text/csv")):
            resp = client.get(f"{endpoint}?{Q}&format={fmt}")
            assert resp.status_code == 200 and mime in resp.mimetype, (name, fmt)
    resp = client.get("/reports/monthly?month=2026-10&format=pdf")
    assert resp.status_code == 200 and "Төрийн ГБ-д хүргүүлэх сарын тайлан" in pdf_text(resp.data)


def test_a_long_list_in_the_pdf_is_cut_and_says_so(client, scenario, monkeypatch):
    from ra.reports import exports

    monkeypatch.setattr(exports, "PDF_MAX_ROWS", 2)
    login(client, scenario.manager_email)
    text = " ".join(pdf_text(client.get(f"/reports/certificates?{Q}&format=pdf").data).split())
    assert "Нийт 6 мөрийн эхний 2-г хэвлэв" in text
