"""A registrar, as a new user would, files three holders by XLSX import (one bad row
shown, fixed and imported), uploads their papers; an officer approves them with the
documents side by side; the registrar books a counter slot. Headless Chromium."""
import io
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from werkzeug.serving import make_server

from ra.enrollment.holder_models import CertificateOrder
from ra.enrollment.order_states import OrderStatus
from ra.extensions import db
from tests.enrollment.helpers import active_org, make_counter
from tests.factories import PASSWORD, tiny_pdf

pytestmark = pytest.mark.browser
HEADER = ["Овог / Surname", "Нэр / Given name", "Регистрийн дугаар / Register number", "Албан тушаал / Position",
          "Ажлын цахим шуудан / Work e-mail"]


def workbook(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
def live(db_kind, tmp_path, smtp_sink):
    """A separate instance on its own database, served on loopback, as in production."""
    from flask_migrate import upgrade

    from ra import create_app
    from tests.conftest import app_config
    from tests.support.databases import drop_database, make_database

    url = make_database(db_kind, tmp_path)
    app = create_app(app_config(url, tmp_path / "instance", smtp_sink.port, TESTING=False))
    with app.app_context():
        upgrade(revision="heads")
        ports = app.extensions["ra.ports"]
        org, registrar, officer = active_org(db.session, ports)
        counter = make_counter(db.session, ports, capacity=3, name="Цонх 3")
        db.session.commit()
        info = dict(domain=org.domains[0], registrar=registrar.email, officer=officer.email, counter=counter.id,
                    org_id=org.id)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}", info
    finally:
        server.shutdown()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database(url)


def test_registrar_imports_officer_approves_registrar_books(live, tmp_path, smtp_sink):
    from playwright.sync_api import expect, sync_playwright

    app, base, info = live
    d = info["domain"]
    rows = [["Батбаяр", "Болормаа", "УБ85010112", "Мэргэжилтэн", f"bolormaa@{d}"],
            ["Дорж", "Ганбат", "ЧД90020315", "Нягтлан бодогч", "ganbat@gmail.com"],
            ["Сүхбаатар", "Номин", "ИЙ99123124", "Хуульч", f"nomin@{d}"]]
    bad, fixed = tmp_path / "holders.xlsx", tmp_path / "holders-fixed.xlsx"
    bad.write_bytes(workbook(rows))
    rows[1][4] = f"ganbat@{d}"
    fixed.write_bytes(workbook(rows))
    papers = {k: tmp_path / f"{k}.pdf" for k in ("application_form", "id_card", "appointment_order",
                                                 "subscriber_agreement")}
    for k, path in papers.items():
        path.write_bytes(tiny_pdf(k))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        # Waits end as soon as the page is ready; the limits only stop a test that
        # can never pass, and are generous for a loaded machine.
        page.set_default_timeout(120_000)
        expect.set_options(timeout=60_000)

        def login(email, lang=None):
            page.goto(f"{base}/login")
            if lang:
                page.click(f"button[name=lang][value={lang}]")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", PASSWORD)
            page.click("form[novalidate] button[type=submit]")

        def logout():
            page.click("header form[action$='/logout'] button")

        # The registrar works in English.
        login(info["registrar"], lang="en")
        page.click("nav >> text=Holders")
        page.click("text=Import from CSV or XLSX")
        page.set_input_files("#import-file", str(bad))
        page.click("text=Check the file")
        expect(page.locator("#summary")).to_contain_text("3 rows: 2 valid, 1 with errors")
        expect(page.locator("#row-errors")).to_contain_text("gmail.com")
        expect(page.locator("#row-errors")).to_contain_text("3")  # spreadsheet row 3
        page.click("#import-none")
        page.set_input_files("#import-file", str(fixed))
        page.click("text=Check the file")
        expect(page.locator("#summary")).to_contain_text("3 rows: 3 valid, 0 with errors")
        page.click("#import-valid")
        expect(page.locator("#holders")).to_contain_text("Болормаа")
        expect(page.locator("#holders tbody tr")).to_have_count(3)
        for name in ("Батбаяр Болормаа", "Дорж Ганбат", "Сүхбаатар Номин"):
            page.click(f"#holders >> text={name}")
            for kind, path in papers.items():
                page.set_input_files(f"#doc-{kind}", str(path))
            page.click("#upload-documents button")
            expect(page.locator("#documents")).not_to_contain_text("missing")
            page.click("nav >> text=Holders")
        logout()

        # The officer works in Mongolian (the default).
        login(info["officer"])
        page.click("nav >> text=Батлах захиалгууд")
        expect(page.locator("section.review")).to_have_count(3)
        for _ in range(3):
            section = page.locator("section.review").first
            expect(section).to_contain_text("Регистрийн дугаар")
            expect(section.locator("input[name=checked]")).to_have_count(4)  # the four papers beside the data
            for box in section.locator("input[name=checked]").all():
                box.check()
            section.locator("button", has_text="Батлах").click()
            expect(page.locator(".flash.success")).to_be_visible()
            page.click("nav >> text=Батлах захиалгууд")
        expect(page.locator("section.review")).to_have_count(0)
        logout()

        # The registrar books one slot for the three.
        login(info["registrar"])
        page.click("nav >> text=Appointments")
        page.click("main >> text=Book a counter appointment")
        day = app.extensions["ra.ports"].clock.today() + timedelta(days=2)
        page.fill("#date", day.isoformat())
        page.click("text=Show free times")
        for box in page.locator("input[name=order_ids]").all():
            box.check()
        page.locator("input[name=starts_at]:not([disabled])").first.check()
        page.click("#book button[type=submit]")
        expect(page.locator(".flash.success")).to_contain_text("calendar file")
        expect(page.locator("#appointments tbody tr")).to_have_count(3)
        browser.close()

    with app.app_context():
        statuses = db.session.execute(sa.select(CertificateOrder.status).where(
            CertificateOrder.organisation_id == info["org_id"])).scalars().all()
        assert statuses == [OrderStatus.SCHEDULED] * 3
    assert any(p.get_content_type() == "text/calendar" for m in smtp_sink.to(f"nomin@{d}")
               for p in m.iter_attachments())
