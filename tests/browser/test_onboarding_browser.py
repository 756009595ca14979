"""One organisation's whole onboarding, as the people would do it, in Chromium:
register → officer approves → download the contract → upload the signed scan →
activate. Screenshots of the registrar dashboard in both languages are kept in
test-artifacts/."""
import subprocess

import pytest

from ra.auth.roles import Role
from ra.extensions import db
from tests.factories import PASSWORD, make_staff, registration, tiny_pdf

pytestmark = pytest.mark.browser


def test_onboarding_walkthrough(live_server, browser, artifacts, tmp_path):
    base, app = live_server
    with app.app_context():
        officer = make_staff(db.session, app.extensions["ra.ports"], Role.RA_OFFICER)
        db.session.commit()
        officer_email = officer.email
    r = registration(name="Баянгол дүүргийн Эрүүл мэндийн төв")

    # 1. The registration officer registers the organisation.
    registrar_ctx = browser.new_context(accept_downloads=True, locale="mn-MN")
    page = registrar_ctx.new_page()
    page.goto(f"{base}/register")
    for field in ("name", "registry_number", "address", "phone", "email_domains", "registrar_name",
                  "registrar_position", "registrar_email", "registrar_phone"):
        page.fill(f"#{field}", getattr(r, field))
    page.select_option("#kind", r.kind)
    page.select_option("#district", r.district)
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/login")  # the same answer for a known address; the e-mail says which
    assert r.registrar_email in page.content()
    page.fill("#email", r.registrar_email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/my-organisation")

    letter = tmp_path / "албан-хүсэлт.pdf"
    letter.write_bytes(tiny_pdf("request"))
    page.set_input_files("#file-request_letter", str(letter))
    page.click("form.upload button")
    page.wait_for_load_state()
    assert "Хянагдаж байна" in page.content()

    # 2. The officer logs in and approves.
    officer_ctx = browser.new_context(locale="mn-MN")
    op = officer_ctx.new_page()
    op.goto(f"{base}/login")
    op.fill("#email", officer_email)
    op.fill("#password", PASSWORD)
    op.click("button[type=submit]")
    op.wait_for_url(f"{base}/organisations/review")
    op.click(f"text={r.name}")
    op.click("text=Зөвшөөрч, гэрээ илгээх")
    op.wait_for_load_state()
    assert "Гэрээ илгээсэн" in op.content()

    # 3. The registrar downloads the contract.
    page.goto(f"{base}/my-organisation")
    with page.expect_download() as dl:
        page.click("text=Гэрээг татах")
    contract = tmp_path / "contract.pdf"
    dl.value.save_as(contract)
    text = subprocess.run(["pdftotext", str(contract), "-"], capture_output=True, check=True).stdout.decode()
    with app.app_context():
        from ra.enrollment.models import Organisation
        import sqlalchemy as sa
        number = db.session.execute(sa.select(Organisation.contract_number)
                                    .where(Organisation.registry_number == r.registry_number)).scalar_one()
    assert r.name in text and number in text

    # 4. … and uploads the signed and stamped scan.
    scan = tmp_path / "гэрээ-тамгатай.pdf"
    scan.write_bytes(tiny_pdf("signed"))
    page.set_input_files("#file-signed_contract", str(scan))
    page.click("form.upload button")
    page.wait_for_load_state()
    assert "гарын үсэгтэй гэрээг шалгахыг хүлээнэ үү" in page.content()

    # 5. The officer checks it and activates the organisation.
    op.reload()
    op.click("text=Гарын үсэгтэй гэрээг шалгаад идэвхжүүлэх")
    op.wait_for_load_state()
    assert "Байгууллага идэвхтэй боллоо" in op.content()

    page.goto(f"{base}/my-organisation")
    assert "Танай байгууллага идэвхтэй. Дутуу зүйл алга." in page.content()
    page.screenshot(path=str(artifacts / "registrar-dashboard-mn.png"), full_page=True)
    page.click("button[name=lang][value=en]")
    page.wait_for_load_state()
    assert "Your organisation is active. Nothing is missing." in page.content()
    page.screenshot(path=str(artifacts / "registrar-dashboard-en.png"), full_page=True)
    registrar_ctx.close()
    officer_ctx.close()
