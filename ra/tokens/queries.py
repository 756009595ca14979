"""Reads for the stock pages, the CLI and reports (STYLE rule 3)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from ra.audit.models import AuditRecord
from ra.errors import NotFound
from ra.i18n import _l
from ra.tokens.errors import TokenRefused
from ra.tokens.models import Token, TokenBatch
from ra.tokens.states import TokenStatus

PER_PAGE = 50


def stock_counts(session) -> dict[TokenStatus, int]:
    """Tokens per state, every state listed (DESIGN §3.5 "token stock by state")."""
    counts = dict(session.execute(sa.select(Token.status, sa.func.count()).group_by(Token.status)).all())
    return {s: counts.get(s, 0) for s in TokenStatus}


def counts_by_model(session) -> list[tuple[str, dict[TokenStatus, int], int]]:
    rows = session.execute(
        sa.select(TokenBatch.model, Token.status, sa.func.count())
        .join(Token.batch).group_by(TokenBatch.model, Token.status).order_by(TokenBatch.model)).all()
    by_model: dict[str, dict[TokenStatus, int]] = {}
    for model, status, n in rows:
        by_model.setdefault(model, {s: 0 for s in TokenStatus})[status] = n
    return [(m, c, sum(c.values())) for m, c in by_model.items()]


def list_tokens(session, *, status: TokenStatus | None = None, q: str = "", batch_id: int | None = None,
                page: int = 1, per_page: int = PER_PAGE):
    stmt = sa.select(Token).options(selectinload(Token.batch))
    if status is not None:
        stmt = stmt.where(Token.status == status)
    if batch_id is not None:
        stmt = stmt.where(Token.batch_id == batch_id)
    if q.strip():
        stmt = stmt.where(sa.func.lower(Token.serial).like(f"%{q.strip().lower()}%"))
    total = session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(Token.serial).limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return rows, total


def serial_is(serial: str):
    """Serials are matched case-insensitively (typed, scanned, or read from the module)."""
    return sa.func.lower(Token.serial) == serial.strip().lower()


def token_by_serial(session, serial: str, *, with_batch: bool = False) -> Token | None:
    """``with_batch``: its batch in the same query (the stock checks read the factory SO PIN)."""
    serial = (serial or "").strip()
    if not serial:
        return None
    stmt = sa.select(Token).where(serial_is(serial))
    if with_batch:
        stmt = stmt.options(joinedload(Token.batch))
    return session.execute(stmt).scalar_one_or_none()


def existing_serials(session, serials: list[str]) -> set[str]:
    lowered = [s.lower() for s in serials]
    found: set[str] = set()
    for i in range(0, len(lowered), 500):
        found.update(session.execute(sa.select(sa.func.lower(Token.serial))
                                     .where(sa.func.lower(Token.serial).in_(lowered[i:i + 500]))).scalars())
    return found


def get_token(session, token_id: int) -> Token:
    token = session.get(Token, token_id)
    if token is None:
        raise NotFound()
    return token


def get_batch(session, batch_id: int) -> TokenBatch:
    batch = session.get(TokenBatch, batch_id)
    if batch is None:
        raise NotFound()
    return batch


def list_batches(session, limit: int = 20):
    count = sa.select(sa.func.count(Token.id)).where(Token.batch_id == TokenBatch.id).scalar_subquery()
    return session.execute(sa.select(TokenBatch, count.label("n"))
                           .order_by(TokenBatch.received_on.desc(), TokenBatch.id.desc()).limit(limit)).all()


def token_history(session, token: Token) -> list[AuditRecord]:
    """Everything the audit log says about this token, oldest first: reception,
    initialisation, PIN events, state changes with their reasons."""
    return session.execute(
        sa.select(AuditRecord).where(AuditRecord.object_type == "token", AuditRecord.object_id == str(token.id))
        .order_by(AuditRecord.seq)).scalars().all()


@dataclass
class SlotMatch:
    slot: object            # ra.tokens.driver.SlotInfo
    token: Token | None
    problem: TokenRefused | None = None  # why it cannot be initialised now


def match_slots(session, slots) -> list[SlotMatch]:
    """The reader's tokens next to the stock records (issue #5: pick the token)."""
    serials = [s.serial.lower() for s in slots]
    tokens = {t.serial.lower(): t for t in session.execute(
        sa.select(Token).options(selectinload(Token.batch))
        .where(sa.func.lower(Token.serial).in_(serials))).scalars()} if serials else {}
    out = []
    for slot in slots:
        token = tokens.get(slot.serial.lower())
        out.append(SlotMatch(slot, token, readiness_problem(token, slot.serial)))
    return out


def readiness_problem(token: Token | None, serial: str) -> TokenRefused | None:
    """Why ``token`` cannot be initialised for a holder now, as the error the
    service raises (None: it can)."""
    if token is None:
        return TokenRefused(_l("Token %(serial)s is not in the RU's stock. Receive it with its batch first."),
                            serial=serial)
    if token.status != TokenStatus.IN_STOCK:
        return TokenRefused(_l("Token %(serial)s is not in stock: it is %(status)s."),
                            serial=token.serial, status=token.status.label)
    if not token.so_pin_known:
        return TokenRefused(_l("The RU does not know the SO PIN of token %(serial)s, so it cannot initialise "
                               "it. Record the factory SO PIN of its batch first."), serial=token.serial)
    return None
