"""A holder's day in headless Chromium on a phone-sized window, in Mongolian and
then in English, on the demo data (``flask --app ra demo``): log in, see the
certificate about to expire, book (then move) a counter appointment, report the
demo SoftHSM2 token lost with the e-mailed step-up code — and ``openssl ocsp``
at the URL the certificate names says it is on hold, then revoked. Screenshots
go to test-artifacts/."""
from __future__ import annotations

import re
import socket
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID
from werkzeug.serving import make_server

from ra.extensions import db
from tests.conftest import app_config
from tests.revocation.conftest import openssl
from tests.support.databases import drop_database, make_database

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_server(db_kind, tmp_path_factory, smtp_sink):
    """The demo, served where its certificates' OCSP URL points."""
    from flask_migrate import upgrade

    from ra import create_app
    from ra.demo import DEMO_PASSWORD, load_demo
    from ra.holder.demo import load_holder_demo
    from ra.tokens.handover_demo import load_handover_demo

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    url = make_database(db_kind, tmp_path_factory.mktemp("holder-db"))
    app = create_app(app_config(url, tmp_path_factory.mktemp("holder-instance"), smtp_sink.port, TESTING=False,
                                BASE_URL=base))
    with app.app_context():
        upgrade()
        ports = app.extensions["ra.ports"]
        ports.ca.algorithms = ("ec-p256", "ec-p256")  # a quick embedded CA for this module's server
        ports.ca.initialise(db.session)
        load_demo(db.session, ports)
        db.session.commit()
        load_handover_demo(db.session, ports)
        db.session.commit()
        [(email, _)] = load_holder_demo(db.session, ports, password=DEMO_PASSWORD)
        db.session.commit()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, app, email, DEMO_PASSWORD
    finally:
        server.shutdown()
        thread.join(10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database(url)


def _login(browser, base, email, password, locale):
    ctx = browser.new_context(locale=locale, **PHONE)
    page = ctx.new_page()
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return ctx, page


def _ocsp(app, tmp_path, base) -> str:
    """``openssl ocsp`` for the demo holder's certificate at the URL its AIA names."""
    with app.app_context():
        from ra.ca.models import Certificate
        cert_row = db.session.query(Certificate).order_by(Certificate.id).first()
        chain = app.extensions["ra.ports"].ca.chain()
        pem = cert_row.pem.encode()
    cert = x509.load_pem_x509_certificate(pem)
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    url = next(d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP)
    assert url.startswith(base)
    (tmp_path / "holder.pem").write_bytes(pem)
    (tmp_path / "issuing.pem").write_bytes(chain[0].public_bytes(serialization.Encoding.PEM))
    (tmp_path / "chain.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    done = openssl("ocsp", "-issuer", str(tmp_path / "issuing.pem"), "-cert", str(tmp_path / "holder.pem"),
                   "-url", url, "-CAfile", str(tmp_path / "chain.pem"), "-resp_text")
    return done.stdout.decode() + done.stderr.decode()


def _step_up_code(smtp_sink, email: str, before: int) -> str:
    import time
    for _ in range(600):  # the code goes out after the response: wait for the message, not for a time
        mails = smtp_sink.to(email)
        if len(mails) > before:
            m = re.search(r"\b(\d{8})\b", mails[-1].get_content())
            if m:
                return m.group(1)
        time.sleep(0.05)
    raise AssertionError("no step-up code arrived")


def _report_lost(page, smtp_sink, email, *, certain: bool):
    page.click("a[href$='/lost']")
    before = len(smtp_sink.to(email))
    page.click("#send-code")
    page.wait_for_load_state()
    page.fill("#code", _step_up_code(smtp_sink, email, before))
    if certain:
        page.check("#lost")
    page.click("#confirm-form button")
    page.wait_for_load_state()


def test_a_holders_day_on_a_phone_in_both_languages(demo_server, browser, artifacts, smtp_sink, tmp_path):
    base, app, email, password = demo_server
    assert "good" in _ocsp(app, tmp_path, base)

    # Mongolian.
    ctx, page = _login(browser, base, email, password, "mn-MN")
    assert page.url.endswith("/me")
    warning = page.locator(".expiry")
    assert warning.is_visible() and "20" in warning.inner_text() and "хоног" in warning.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    page.screenshot(path=str(artifacts / "holder-mn-1-certificates.png"), full_page=True)
    page.goto(f"{base}/me/orders")
    page.click("a[href$='/book']")
    assert page.locator(".first-slot").is_visible()
    page.screenshot(path=str(artifacts / "holder-mn-2-booking.png"), full_page=True)
    first = page.locator(".slots button").first.inner_text()
    page.locator(".slots button").first.click()
    page.wait_for_load_state()
    assert first.split(" · ")[0] in page.locator(".appointment").inner_text()
    page.screenshot(path=str(artifacts / "holder-mn-3-booked.png"), full_page=True)
    page.goto(f"{base}/me/tokens")
    _report_lost(page, smtp_sink, email, certain=False)
    assert page.locator(".flash.success").is_visible() and page.locator(".badge.s-suspended").count() == 1
    page.screenshot(path=str(artifacts / "holder-mn-4-token-suspended.png"), full_page=True)
    ctx.close()
    out = _ocsp(app, tmp_path, base)
    assert "Response verify OK" in out and "holder.pem: revoked" in out and "certificateHold" in out, out

    # English: the same holder moves the appointment and confirms the token is lost for certain.
    ctx, page = _login(browser, base, email, password, "en-GB")
    page.click("button[name=lang][value=en]")
    page.wait_for_load_state()
    assert "Your certificate expires in 20 days" in page.locator(".expiry").inner_text()
    page.screenshot(path=str(artifacts / "holder-en-1-certificates.png"), full_page=True)
    page.goto(f"{base}/me/orders")
    page.click("a[href$='/book']")
    page.locator(".slots button").nth(1).click()
    page.wait_for_load_state()
    assert "Your appointment is booked" in page.content()
    page.screenshot(path=str(artifacts / "holder-en-2-moved.png"), full_page=True)
    page.goto(f"{base}/me/tokens")
    _report_lost(page, smtp_sink, email, certain=True)
    assert "reported lost" in page.locator(".flash.success").inner_text()
    page.screenshot(path=str(artifacts / "holder-en-3-token-lost.png"), full_page=True)
    ctx.close()
    out = _ocsp(app, tmp_path, base)
    assert "holder.pem: revoked" in out and "keyCompromise" in out, out
