"""A report printed late in the UTC day carries Ulaanbaatar's date: in its number
and its generation time. At 16:30 UTC it is already 00:30 the next day there."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ra.ports import FrozenClock
from tests.enrollment.helpers import login
from tests.reports.conftest import pdf_text

Q = "from=2026-10-01&to=2026-10-31"


@pytest.mark.parametrize("utc_hour, number, printed", [
    (15, "RPT-20261110-233000", "2026-11-10 23:30"),
    (16, "RPT-20261111-003000", "2026-11-11 00:30"),
], ids=["23h30-local", "00h30-local-next-day"])
def test_report_number_and_time_are_ulaanbaatar_time(client, frozen, scenario, monkeypatch, utc_hour, number,
                                                     printed):
    monkeypatch.setattr(frozen, "clock", FrozenClock(datetime(2026, 11, 10, utc_hour, 30, tzinfo=timezone.utc)))
    login(client, scenario.manager_email)
    resp = client.get(f"/reports/?{Q}&format=pdf")
    assert resp.status_code == 200
    text = pdf_text(resp.data)
    assert number in text
    assert printed in text
    assert "2026-11-10 15:30" not in text and "2026-11-10 16:30" not in text
