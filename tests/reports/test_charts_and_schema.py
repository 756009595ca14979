"""Server-side SVG charts (no script, no style block, no network), the schema the
migration makes (indexes and the token rollup, as the models declare them), and the
token rollup kept by triggers through any kind of change."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ra.auth.roles import Role
from ra.extensions import db
from ra.reports import charts
from ra.reports.models import INDEXES
from ra.tokens import stock_service
from tests.factories import make_staff

SVG = "{http://www.w3.org/2000/svg}"


def test_bar_chart_is_plain_accessible_svg():
    svg = str(charts.bar_chart("Олгосон", ["2026-10-01", "2026-10-02", "2026-10-03"],
                               [charts.Series("Гарын үсэг", [3, 0, 12]), charts.Series("Нэвтрэлт", [1, 2, 0])]))
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("aria-label") == "Олгосон"
    assert root.find(f"{SVG}title").text == "Олгосон"
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert sorted(b.find(f"{SVG}title").text.rsplit(": ", 1)[1] for b in bars) == ["1", "12", "2", "3"]
    assert "<script" not in svg and "<style" not in svg and " style=" not in svg and "href" not in svg
    tallest = max(float(b.get("height")) for b in bars)
    assert tallest == max(float(b.get("height")) for b in bars if b.find(f"{SVG}title").text.endswith(": 12"))


def test_horizontal_chart_and_empty_data():
    root = ET.fromstring(str(charts.hbar_chart("Токен", ["Нөөцөд", "Хүлээлгэн өгсөн"], [0, 5])))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Нөөцөд" in texts and "5" in texts
    ET.fromstring(str(charts.bar_chart("Хоосон", [], [charts.Series("x", [])])))
    assert charts.nice_ticks(0) == [0, 1] and charts.nice_ticks(7)[-1] >= 7 and charts.nice_ticks(1234)[-1] >= 1234


def _mine(diff) -> bool:
    names = {i.name for i in INDEXES} | {"token_state_count"}
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item[1:]:
            if getattr(part, "name", None) in names or (isinstance(part, str) and part in names):
                return True
    return False


@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_the_migration_makes_what_the_models_declare(ctx):
    mc = MigrationContext.configure(db.engine, opts={"compare_type": True})
    assert [d for d in compare_metadata(mc, db.metadata) if _mine(d)] == []
    existing = {ix["name"] for t in ("certificate", "holder", "handover", "audit_record", "certificate_order",
                                     "appointment", "revocation_request", "revocation_approval", "token")
                for ix in sa.inspect(db.engine).get_indexes(t)}
    assert {i.name for i in INDEXES} <= existing


def _agrees():
    rollup = dict(db.session.execute(sa.text("SELECT status, tokens FROM token_state_count WHERE tokens <> 0")).all())
    counted = dict(db.session.execute(sa.text("SELECT status, count(*) FROM token GROUP BY status")).all())
    assert rollup == counted
    return rollup


def test_token_rollup_follows_every_change_in_the_same_transaction(ctx, ports):
    admin = make_staff(db.session, ports, Role.ADMIN)
    before = _agrees()
    batch = stock_service.receive_batch(db.session, admin, stock_service.BatchData(
        model="Rollup test", supplier="Test", received_on=date(2026, 11, 1),
        serials="\n".join(f"RLP{i:05d}" for i in range(25)), factory_so_pin=None), ports=ports)
    db.session.flush()
    after = _agrees()
    assert after["in_stock"] == before.get("in_stock", 0) + 25
    ids = [t.id for t in batch.tokens]
    db.session.execute(sa.text("UPDATE token SET status = 'destroyed' WHERE id IN (%s)" % ",".join(map(str, ids[:10]))))
    db.session.execute(sa.text("UPDATE token SET label = 'relabelled' WHERE id IN (%s)" % ",".join(map(str, ids))))
    assert _agrees()["destroyed"] == before.get("destroyed", 0) + 10
    db.session.execute(sa.text("DELETE FROM token WHERE id IN (%s)" % ",".join(map(str, ids[10:]))))
    assert _agrees().get("in_stock", 0) == before.get("in_stock", 0)
    db.session.rollback()
    assert _agrees() == before
