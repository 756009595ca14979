"""The handover receipt is read in Ulaanbaatar: between 16:00 and 24:00 UTC the
UTC date is already yesterday there, and on 31 December even last year. The
clock is frozen at both sides of that line."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ra.extensions import db
from ra.localtime import local_text
from ra.ports import FrozenClock
from ra.tokens import handover_jobs as jobs
from ra.tokens import handover_queries
from ra.tokens import handover_service as svc
from ra.tokens.receipt import receipt_pdf
from tests.tokens.test_handover_support import HOLDER_PIN, pdf_text, ready_order


@pytest.fixture(autouse=True)
def _ca(embedded_ca):
    return embedded_ca


@pytest.mark.parametrize("utc_hour, minute, shown", [
    (15, 30, "{y}-12-31 23:30"),      # 23:30 in Ulaanbaatar: still the same day there
    (16, 30, "{y1}-01-01 00:30"),     # 00:30 in Ulaanbaatar: already the next day, and year
], ids=["23h30-local", "00h30-local-next-year"])
def test_the_receipt_prints_the_ulaanbaatar_date_and_year(ctx, ports, staff, driver, stock, tmp_path, monkeypatch,
                                                           utc_hour, minute, shown):
    # A 31 December ahead of the embedded CA's creation, so it may sign then.
    year = datetime.now(timezone.utc).year + 1
    at = datetime(year, 12, 31, utc_hour, minute, tzinfo=timezone.utc)
    monkeypatch.setattr(ports, "clock", FrozenClock(at))
    monkeypatch.setattr(ports.ca, "clock", FrozenClock(at))
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    result = jobs.start(db.session, staff.officer, order, id_document_type="id_card",
                        id_document_number=order.holder.register_number, token_serial=token.serial,
                        user_pin=HOLDER_PIN, ports=ports)
    assert result.completed, result.error
    h = handover_queries.get_handover(db.session, result.handover_id)
    name = svc.receipt_file(db.session, staff.officer, h, ports=ports, render=lambda x: receipt_pdf(x, ports=ports))
    text = pdf_text(ports.files.read(name), tmp_path)

    handed_over = shown.format(y=year, y1=year + 1)
    assert handed_over in text                                   # the receipt's date line
    assert h.receipt_number.startswith(f"HO-{handed_over[:4]}-")  # its number carries the local year
    assert h.receipt_number in text
    # The validity printed is the certificate's, in local time; no UTC stamp anywhere.
    cert = h.certificate
    assert local_text(cert.not_before) in text and local_text(cert.not_after) in text
    assert f"{year}-12-31 {utc_hour}:{minute}" not in text
