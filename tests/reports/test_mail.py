"""What reports send, received by a real SMTP server: each registrar's list of
holders to renew (sent only after the commit), and the monthly report to the
State CA's format, e-mailed to the managers by the cron command with the same
numbers as the dashboard."""
from __future__ import annotations

import io
import re

import sqlalchemy as sa
from openpyxl import load_workbook

from ra.audit.models import AuditRecord
from ra.extensions import db
from tests.enrollment.helpers import login
from tests.reports.conftest import api_headers, pdf_text

Q = "from=2026-10-01&to=2026-10-31"


def _remind(client, scenario, **extra):
    login(client, scenario.manager_email)
    page = client.get(f"/reports/expiring?{Q}").get_data(as_text=True)
    assert "/reports/expiring/remind" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/reports/expiring/remind", data={"csrf_token": token, "from": "2026-10-01",
                                                         "to": "2026-10-31", **extra})


def test_each_registrar_gets_the_list_of_their_own_holders_to_renew(app, client, mail, scenario):
    resp = _remind(client, scenario)
    assert resp.status_code == 303
    flash = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "3" in flash and "4" in flash                      # 3 registration officers, 4 certificates
    with app.app_context():
        serials = dict(db.session.execute(sa.text("SELECT id, serial FROM certificate")).all())
    expected = {"A": ("c1", "c2"), "B": ("c7",), "C": ("c13",)}
    for org, certs in expected.items():
        [message] = mail.to(scenario.registrar_email[org])
        body = message.get_content()
        for c in certs:
            assert serials[scenario.cert[c]] in body
        others = [serials[scenario.cert[c]] for o, cs in expected.items() if o != org for c in cs]
        assert not any(s in body for s in others), org        # never another organisation's holders
        assert "Сунгах гэрчилгээ" in message["Subject"]
    assert serials[scenario.cert["c11"]] not in str([m.get_content() for m in mail.messages])  # renewed by c12
    with app.app_context():
        record = db.session.execute(sa.select(AuditRecord).where(
            AuditRecord.action == "report.expiry_reminders_sent")).scalar_one()
        assert '"organisations": 3' in record.details and '"certificates": 4' in record.details


def test_reminders_narrowed_to_one_organisation_go_to_it_alone(app, client, mail, scenario):
    _remind(client, scenario, organisation_id=str(scenario.org["B"]))
    assert len(mail.messages) == 1 and mail.to(scenario.registrar_email["B"])


def test_monthly_report_is_mailed_to_managers_with_the_dashboards_numbers(app, client, mail, scenario):
    result = app.test_cli_runner().invoke(args=["reports", "monthly", "--month", "2026-10"])
    assert result.exit_code == 0, result.output
    assert "issued 6, revoked 2, suspended 2, tokens handed over 5, returned 1" in result.output
    [message] = mail.to(scenario.manager_email)
    assert "2026-10" in message["Subject"]
    files = {p.get_filename(): p.get_payload(decode=True) for p in message.iter_attachments()}
    assert set(files) == {"state-ca-report-2026-10.pdf", "state-ca-report-2026-10.xlsx"}

    figures = client.get(f"/api/v1/reports/dashboard?{Q}", headers=api_headers(app, scenario.manager_email)
                         ).get_json()["figures"]
    wanted = [figures["issued"], figures["revoked"], figures["suspended"], figures["tokens_issued"],
              figures["tokens_returned"]]
    wb = load_workbook(io.BytesIO(files["state-ca-report-2026-10.xlsx"]), read_only=True)
    by_kind = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    total = next(r for r in by_kind if r and r[0] == "Нийт")
    assert total[2:7] == wanted                                     # organisations, then the five figures
    kinds = {r[0]: r[2] for r in by_kind if r and r[0] in ("Хороо", "Ерөнхий боловсролын сургууль")}
    assert kinds == {"Хороо": 4, "Ерөнхий боловсролын сургууль": 2}
    by_org = [list(r) for r in wb.worksheets[1].iter_rows(values_only=True)]
    orgs = {r[2]: r[3:8] for r in by_org if len(r) > 7 and r[2] in scenario.org_registry.values()}
    assert orgs[scenario.org_registry["A"]][0] == 3 and orgs[scenario.org_registry["C"]][0] == 1

    text = pdf_text(files["state-ca-report-2026-10.pdf"])
    assert "Төрийн ГБ-д хүргүүлэх сарын тайлан" in text and "2026-10-01 – 2026-10-31" in text
    total_line = [ln.split() for ln in text.splitlines() if ln.strip().startswith("Нийт")][0]
    assert [int(x) for x in total_line[-5:]] == wanted


def test_monthly_command_refuses_a_bad_month(app):
    result = app.test_cli_runner().invoke(args=["reports", "monthly", "--month", "2026-13"])
    assert result.exit_code != 0 and "2026-13" in result.output
