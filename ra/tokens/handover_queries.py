"""Reads for the counter page, the progress poll, the CLI and the API (STYLE rule 3)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from ra.enrollment import register_number as rn
from ra.enrollment.holder_models import CertificateOrder, Holder
from ra.enrollment.order_states import OrderStatus
from ra.errors import NotFound
from ra.tokens import queries as token_queries
from ra.tokens.handover_models import Handover
from ra.tokens.handover_states import FINISHED, ORDERED, HandoverStep
from ra.tokens.models import Token

H = HandoverStep
READY = (OrderStatus.APPROVED, OrderStatus.SCHEDULED)


def stock_token(session, serial: str) -> tuple[Token | None, int | None]:
    """Step 2 in one query: the stock record of ``serial`` with its batch (the stock
    checks read the factory SO PIN), and the unfinished handover that already holds
    that token, if any."""
    holding = (sa.select(Handover.id).where(Handover.token_id == Token.id, Handover.step.notin_(FINISHED))
               .limit(1).scalar_subquery())
    row = session.execute(sa.select(Token, holding).where(token_queries.serial_is(serial))
                          .options(joinedload(Token.batch))).first()
    return (row[0], row[1]) if row is not None else (None, None)


def get_handover(session, handover_id) -> Handover:
    try:
        h = session.get(Handover, int(handover_id))
    except (TypeError, ValueError):
        h = None
    if h is None:
        raise NotFound()
    return h


def open_handovers(session, limit: int = 100) -> list[Handover]:
    """Unfinished handovers, the ones holding a certificate no token has first."""
    return list(session.execute(
        sa.select(Handover).where(Handover.step.notin_(FINISHED))
        .options(selectinload(Handover.order).selectinload(CertificateOrder.holder), selectinload(Handover.token))
        .order_by((Handover.step == H.CERTIFICATE_ISSUED).desc(), Handover.updated_at.desc()).limit(limit)).scalars())


def unheld_certificates(session) -> list[Handover]:
    """DESIGN §3.3: a certificate that no token holds is never left unseen."""
    return list(session.execute(sa.select(Handover).where(Handover.step == H.CERTIFICATE_ISSUED)
                                .order_by(Handover.updated_at)).scalars())


def finished_since(session, since: datetime, limit: int = 50) -> list[Handover]:
    return list(session.execute(
        sa.select(Handover).where(Handover.step.in_(FINISHED), Handover.updated_at >= since)
        .options(selectinload(Handover.order).selectinload(CertificateOrder.holder), selectinload(Handover.token))
        .order_by(Handover.updated_at.desc()).limit(limit)).scalars())


def ready_orders(session, q: str = "", limit: int = 50) -> list[CertificateOrder]:
    """Approved or scheduled orders with no handover under way, newest decision first;
    ``q`` matches the register number or a name."""
    busy = sa.select(Handover.order_id).where(Handover.step.notin_(FINISHED))
    stmt = (sa.select(CertificateOrder).join(CertificateOrder.holder)
            .where(CertificateOrder.status.in_(READY), CertificateOrder.id.notin_(busy))
            .options(selectinload(CertificateOrder.holder), selectinload(CertificateOrder.organisation)))
    q = (q or "").strip()
    if q:
        like = f"%{q.lower()}%"
        # A register number read off a certificate (PNOMN-UB85031214) finds its Cyrillic record.
        stmt = stmt.where(sa.or_(Holder.register_number == rn.searchable(q),
                                 sa.func.lower(Holder.register_number).like(like),
                                 sa.func.lower(Holder.given_name).like(like), sa.func.lower(Holder.surname).like(like),
                                 sa.func.lower(Holder.latin_given_name).like(like)))
    return list(session.execute(stmt.order_by(CertificateOrder.decided_at.desc().nulls_last(), CertificateOrder.id.desc())
                                .limit(limit)).scalars())


def handovers_of_order(session, order_id: int) -> list[Handover]:
    return list(session.execute(sa.select(Handover).where(Handover.order_id == order_id)
                                .order_by(Handover.id.desc())).scalars())


def is_running(h: Handover, now: datetime) -> bool:
    return h.claimed_by is not None and h.claimed_until is not None and h.claimed_until > now


def steps_view(h: Handover) -> list[dict]:
    """Each step with done / current / waiting, for the page and the poll."""
    reached = ORDERED.index(h.step) if h.step in ORDERED else -1
    out = []
    for i, step in enumerate(ORDERED):
        state = "done" if i <= reached else ("current" if i == reached + 1 and h.step not in FINISHED else "waiting")
        out.append({"step": step.value, "number": step.number, "label": str(step.label), "state": state})
    return out


def progress(h: Handover, now: datetime) -> dict:
    """What the counter page's poll reads (and the API returns)."""
    cert = h.certificate
    return {
        "id": h.id, "order_id": h.order_id, "step": h.step.value, "step_label": str(h.step.label),
        "design_step": h.step.number, "finished": h.finished, "running": is_running(h, now),
        "steps": steps_view(h),
        "paused": None if h.error_code is None else {"code": h.error_code, "message": h.error_message,
                                                     "at": h.error_at.isoformat() if h.error_at else None},
        "token_serial": h.token.serial if h.token else None,
        "pin_source": h.pin_source.value if h.pin_source else None,
        "certificate": None if cert is None else {
            "serial": cert.serial, "not_before": cert.not_before.isoformat(), "not_after": cert.not_after.isoformat(),
            "issuer": cert.issuer, "on_token": cert.token_id is not None},
        "certificate_not_on_token": h.step == H.CERTIFICATE_ISSUED,
        "receipt_number": h.receipt_number,
        "request_id": h.request_id,
    }
