import pytest
import sqlalchemy as sa

from ra.db import commit
from ra.extensions import db
from ra.mail.mailers import SmtpMailer
from ra.mail.models import MailStatus, OutgoingMail
from ra.mail.outbox import queue_mail


def test_mail_goes_out_only_after_commit(ctx, mail):
    queue_mail(db.session, to="a@ub.gov.mn", subject="Сайн байна уу", body="Тест")
    db.session.flush()
    assert mail.to("a@ub.gov.mn") == []
    commit()
    assert [m["Subject"] for m in mail.to("a@ub.gov.mn")] == ["Сайн байна уу"]


def test_mail_of_a_rolled_back_unit_of_work_never_goes_out(ctx, mail):
    queue_mail(db.session, to="b@ub.gov.mn", subject="x", body="y")
    db.session.rollback()
    commit()
    assert mail.to("b@ub.gov.mn") == []


def test_mail_server_down_keeps_the_message_and_the_worker_sends_it_later(app, mail):
    ports = app.extensions["ra.ports"]
    real = ports.mailer
    ports.mailer = SmtpMailer("smtp://127.0.0.1:1", timeout=2)  # nothing listens there
    try:
        with app.app_context():
            queue_mail(db.session, to="c@ub.gov.mn", subject="later", body="z")
            commit()
            row = db.session.execute(sa.select(OutgoingMail).where(OutgoingMail.recipient == "c@ub.gov.mn")).scalar_one()
            assert row.status == MailStatus.PENDING and row.attempts == 1
    finally:
        ports.mailer = real
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert [m["Subject"] for m in mail.to("c@ub.gov.mn")] == ["later"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "https://example.org/x.css",
                                 "https://assets.ra.invalid/../../../etc/passwd"])
def test_documents_fetch_only_packaged_assets(ctx, url):
    from ra.documents import _asset_path
    with pytest.raises(ValueError):
        _asset_path(url)


def test_a_document_naming_a_local_file_does_not_render_it(ctx, ports, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    from ra.documents import ASSET_BASE, _fetcher
    html = f'<link rel="stylesheet" href="file://{secret}"><p>x</p>'
    with pytest.raises(FatalURLFetchingError):
        HTML(string=html, base_url=ASSET_BASE, url_fetcher=_fetcher()).write_pdf()
