"""Uploaded documents are evidence, not programs: PDFs that would run something are
refused after parsing them (pikepdf/qpdf), files that also read as HTML are
refused, and every uploaded file goes back as a download only."""
from __future__ import annotations

import io

import pikepdf
import pytest

from ra.errors import UserError
from ra.extensions import db
from ra.uploads import check_upload
from tests.enrollment.helpers import active_org, login, make_holder, upload_documents
from tests.factories import tiny_pdf


def _pdf(build, *, compress: bool = False) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    build(pdf)
    out = io.BytesIO()
    mode = pikepdf.ObjectStreamMode.generate if compress else pikepdf.ObjectStreamMode.preserve
    pdf.save(out, object_stream_mode=mode)
    return out.getvalue()


def _js_open_action(pdf):
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))


def _launch_on_page_open(pdf):
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(S=pikepdf.Name.Launch,
                                                                  F=pikepdf.String("cmd.exe")))


def _embedded_file(pdf):
    pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00")


def _named_javascript(pdf):
    js = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("this.print()")))
    pdf.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), js])))


@pytest.mark.parametrize("build", [_js_open_action, _launch_on_page_open, _embedded_file, _named_javascript])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "object-streams"])
def test_active_pdfs_are_refused(ctx, build, compress):
    data = _pdf(build, compress=compress)
    if compress and build is not _embedded_file:  # (a file's stream cannot go into an object stream)
        # inside a compressed object stream: invisible to a grep of the bytes
        assert b"/JavaScript" not in data and b"/Launch" not in data
    with pytest.raises(UserError) as refused:
        check_upload("letter.pdf", data)
    assert refused.value.code == "active_content"


def test_plain_pdfs_and_a_pdf_that_opens_at_a_page_are_accepted(ctx):
    def open_at_first_page(pdf):
        pdf.Root.OpenAction = pikepdf.Array([pdf.pages[0].obj, pikepdf.Name.Fit])

    for data in (tiny_pdf("letter"), _pdf(lambda pdf: None), _pdf(open_at_first_page)):
        assert check_upload("letter.pdf", data).content_type == "application/pdf"


def test_an_html_polyglot_is_refused(ctx):
    pdf = tiny_pdf("letter")
    polyglot = pdf[:9] + b"<html><body><script>fetch('/api/v1/orders')</script></body></html>\n" + pdf[9:]
    with pytest.raises(UserError) as refused:
        check_upload("letter.pdf", polyglot)
    assert refused.value.code == "active_content"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16 + b"<svg onload=alert(1)>" + b"\x00" * 64
    with pytest.raises(UserError):
        check_upload("scan.png", png)


def test_a_damaged_pdf_is_refused(ctx):
    with pytest.raises(UserError) as refused:
        check_upload("letter.pdf", b"%PDF-1.4\nnot a pdf at all\n%%EOF")
    assert refused.value.code == "bad_file_type"


def test_holder_documents_are_served_as_attachments_only(app, client):
    ports = app.extensions["ra.ports"]
    with app.app_context():
        org, registrar, officer = active_org(db.session, ports)
        holder = make_holder(db.session, ports, org, registrar)
        doc_id = upload_documents(db.session, ports, holder, registrar)[0].id
        email = officer.email
        db.session.commit()
    login(client, email)
    for query in ("", "?inline=1"):
        resp = client.get(f"/holder-documents/{doc_id}{query}")
        assert resp.status_code == 200
        assert resp.headers["Content-Disposition"].startswith("attachment"), query
        assert "sandbox" in resp.headers["Content-Security-Policy"]
