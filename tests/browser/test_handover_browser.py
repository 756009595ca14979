"""An officer hands over a token at the counter page in headless Chromium, on a
real SoftHSM2 token and the embedded CA: in Mongolian with JavaScript (the page
polls each step as it is committed) and in English without JavaScript (plain form
posts), downloading the receipt and the sealed PIN envelope. Screenshots go to
test-artifacts/."""
import subprocess
import threading

import pytest

from ra.auth.roles import Role
from ra.extensions import db
from ra.tokens.demo import make_softhsm_stock
from tests.factories import PASSWORD, make_staff
from tests.tokens.test_handover_support import ready_order

pytestmark = pytest.mark.browser
PIN = "Rt5-62k9"


def _setup(app, n: int):
    with app.app_context():
        ports = app.extensions["ra.ports"]
        ports.ca.algorithms = ("ec-p256", "ec-p256")  # a quick embedded CA for this module's server
        ports.ca.initialise(db.session)
        officer = make_staff(db.session, ports, Role.RA_OFFICER)
        admin = make_staff(db.session, ports, Role.ADMIN)
        orders = [ready_order(db.session, ports, key_type="rsa2048") for _ in range(n)]
        serials, _ = make_softhsm_stock(db.session, admin, n, ports=ports)
        db.session.commit()
        return officer.email, serials, [(o.id, o.holder.register_number, o.holder.full_name) for o in orders]


def _login(browser, base, email, **context):
    ctx = browser.new_context(accept_downloads=True, **context)
    page = ctx.new_page()
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return ctx, page


def _pdf_text(path) -> str:
    return " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())


def test_an_officer_hands_over_at_the_counter_page(live_server, browser, artifacts, tmp_path):
    base, app = live_server
    email, serials, orders = _setup(app, 2)
    (order_id, regno, name), (order2, regno2, name2) = orders

    # 1. Mongolian, with JavaScript: the step list follows the run.
    ctx, page = _login(browser, base, email, locale="mn-MN")
    page.goto(f"{base}/tokens/handovers")
    assert "Цонхон дээрх хүлээлгэн өгөлт" in page.content()
    page.click(f"a[href='/tokens/handovers/new?order_id={order_id}']")
    page.fill("#id_document_number", regno)
    page.check(f"input[name=token_serial][value='{serials[0]}']")
    page.click("#start-form button[type=submit]")
    page.wait_for_selector("#run-form")
    assert page.locator("li[data-step=token_picked]").get_attribute("class") == "done"
    polls = []
    page.on("response", lambda r: polls.append(r.json()) if r.url.endswith("/progress") else None)
    page.fill("#pin", PIN)
    page.fill("#pin2", PIN)
    ca = app.extensions["ra.ports"].ca
    issue = ca.issue

    ca_may_answer = threading.Event()

    def slow_issue(*args, **kwargs):  # the CA takes its time, as a remote one does: until the test has looked
        ca_may_answer.wait(120)
        return issue(*args, **kwargs)

    ca.issue = slow_issue
    try:
        page.click("#run-button")
        # While the CA works, the step list shows steps 1-5 done and step 6 under way.
        page.wait_for_selector("li[data-step=certificate_issued].current", timeout=120_000)
        assert page.locator("li[data-step=csr_signed]").get_attribute("class") == "done"
        assert page.locator("#handover-running").is_visible()
        ca_may_answer.set()
        page.wait_for_selector("#receipt", timeout=120_000)
    finally:
        ca_may_answer.set()
        del ca.issue
    seen = [(p["step"], p["running"]) for p in polls]
    assert ("csr_signed", True) in seen, f"the page did not show the run waiting for the CA: {seen}"
    assert page.locator("li[data-step=completed]").get_attribute("class") == "done"
    assert "Токеныг хүлээлгэн өглөө" in page.content()
    page.screenshot(path=str(artifacts / "handover-mn.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#receipt")
    receipt = tmp_path / "receipt-mn.pdf"
    info.value.save_as(receipt)
    text = _pdf_text(receipt)
    assert name in text and regno in text and serials[0] in text and "ХҮЛЭЭЛГЭН ӨГСӨН АКТ" in text
    ctx.close()

    # 2. English, without JavaScript: plain posts, a sealed PIN envelope.
    ctx, page = _login(browser, base, email, locale="en-GB", java_script_enabled=False)
    page.goto(f"{base}/tokens/handovers")
    page.click("button[value=en]")
    page.wait_for_load_state()
    page.goto(f"{base}/tokens/handovers/new?order_id={order2}")
    assert "Check the holder's identity" in page.content()
    page.select_option("#id_document_type", "passport")
    page.fill("#id_document_number", regno2)
    page.fill("#scanned_serial", serials[1])
    page.click("#start-form button[type=submit]")
    page.wait_for_selector("#run-form")
    page.check("input[name=pin_choice][value=envelope]")
    page.click("#run-button")
    page.wait_for_selector("#receipt", timeout=60_000)
    assert "The token was handed over" in page.content()
    page.screenshot(path=str(artifacts / "handover-en-nojs.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#envelope a")
    envelope = tmp_path / "envelope.pdf"
    info.value.save_as(envelope)
    pin = next(w for w in _pdf_text(envelope).split() if w.isdigit() and len(w) == 8)
    app.extensions["ra.ports"].tokens.check_user_pin(serials[1], pin)
    with page.expect_download() as info:
        page.click("#receipt")
    info.value.save_as(tmp_path / "receipt-en.pdf")
    assert "TOKEN AND CERTIFICATE HANDOVER RECEIPT" in _pdf_text(tmp_path / "receipt-en.pdf")
    ctx.close()
