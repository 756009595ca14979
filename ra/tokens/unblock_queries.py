"""Reads for remote PIN unblock (STYLE rule 3): whose token it is, the open code of
a token, what a registrar may see."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ra.auth.policy import scope_organisations
from ra.ca.models import Certificate
from ra.enrollment.holder_models import Holder
from ra.errors import NotFound
from ra.tokens import queries as token_queries
from ra.tokens.models import Token
from ra.tokens.states import TokenStatus
from ra.tokens.unblock_models import UnblockRequest
from ra.tokens.unblock_states import OPEN, UnblockStatus


def holder_of_token(session, token: Token) -> Holder | None:
    """The holder the token was handed to: the holder of the newest certificate the
    RU recorded on it (``Certificate.token_id``, DESIGN §3.3 step 7)."""
    return session.execute(
        sa.select(Holder).join(Certificate, Certificate.holder_id == Holder.id)
        .where(Certificate.token_id == token.id)
        .order_by(Certificate.id.desc()).limit(1)).scalar_one_or_none()


def visible_token(session, actor, serial: str) -> tuple[Token, Holder]:
    """The token and its holder, if ``actor`` may see the holder's organisation;
    otherwise ``NotFound``, the same as for a serial that does not exist (a
    registrar cannot probe another organisation's tokens)."""
    token = token_queries.token_by_serial(session, serial)
    holder = holder_of_token(session, token) if token is not None else None
    if holder is None:
        raise NotFound()
    stmt = scope_organisations(actor, sa.select(Holder.id).where(Holder.id == holder.id), Holder.organisation_id)
    if session.execute(stmt).first() is None:
        raise NotFound()
    return token, holder


def open_requests(session, token: Token) -> list[UnblockRequest]:
    return session.execute(
        sa.select(UnblockRequest).where(UnblockRequest.token_id == token.id, UnblockRequest.status.in_(OPEN))
        .order_by(UnblockRequest.id)).scalars().all()


def latest_open_request(session, token: Token) -> UnblockRequest | None:
    found = open_requests(session, token)
    return found[-1] if found else None


def request_by_code_digest(session, digest: str) -> UnblockRequest | None:
    return session.execute(sa.select(UnblockRequest).where(UnblockRequest.code_digest == digest)).scalar_one_or_none()


def so_pin_may_be_new(session, token: Token) -> bool:
    """Whether a rotation left unconfirmed got as far as C_SetPIN: a request since
    the token's last completed rotation announced it and did not complete."""
    last_done = (sa.select(sa.func.coalesce(sa.func.max(UnblockRequest.id), 0))
                 .where(UnblockRequest.token_id == token.id, UnblockRequest.status == UnblockStatus.COMPLETED)
                 .scalar_subquery())
    return session.execute(sa.select(UnblockRequest.id).where(
        UnblockRequest.token_id == token.id, UnblockRequest.id > last_done,
        UnblockRequest.so_pin_setting_at.is_not(None)).limit(1)).first() is not None


def codes_sent_since(session, token: Token, since: datetime) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(UnblockRequest).where(
        UnblockRequest.token_id == token.id, UnblockRequest.created_at > since)).scalar_one()


def get_request(session, actor, request_id) -> UnblockRequest:
    """One request, if ``actor`` may see its holder's organisation (else 404)."""
    try:
        request_id = int(request_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    stmt = scope_organisations(actor, sa.select(UnblockRequest).join(UnblockRequest.holder)
                               .where(UnblockRequest.id == request_id), Holder.organisation_id)
    found = session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def unblockable_tokens(session, actor, *, limit: int = 500) -> list[tuple[Token, Holder]]:
    """Handed-over tokens with their holders, as far as ``actor`` may see them:
    the registrar's page lists their own organisation's."""
    newest = (sa.select(Certificate.token_id, sa.func.max(Certificate.id).label("cert_id"))
              .where(Certificate.token_id.is_not(None)).group_by(Certificate.token_id).subquery())
    stmt = (sa.select(Token, Holder).join(newest, newest.c.token_id == Token.id)
            .join(Certificate, Certificate.id == newest.c.cert_id).join(Holder, Holder.id == Certificate.holder_id)
            .where(Token.status == TokenStatus.ACTIVE).order_by(Holder.surname, Holder.given_name, Token.serial)
            .limit(limit))
    return [tuple(row) for row in session.execute(scope_organisations(actor, stmt, Holder.organisation_id)).all()]


def recent_requests(session, actor, *, since: datetime, limit: int = 50) -> list[UnblockRequest]:
    stmt = (sa.select(UnblockRequest).join(UnblockRequest.holder)
            .options(selectinload(UnblockRequest.token), selectinload(UnblockRequest.holder))
            .where(UnblockRequest.created_at >= since).order_by(UnblockRequest.id.desc()).limit(limit))
    return session.execute(scope_organisations(actor, stmt, Holder.organisation_id)).scalars().all()


def recent_window(now: datetime) -> datetime:
    return now - timedelta(days=30)


def unconfirmed_rotations(session, limit: int = 100) -> list[Token]:
    """Tokens whose SO PIN rotation was left unconfirmed by a remote unblock: the
    RU holds two SO PINs for each, and the officer can settle which at the counter."""
    return session.execute(sa.select(Token).where(Token.so_pin_pending.is_not(None),
                                                  Token.status == TokenStatus.ACTIVE)
                           .order_by(Token.serial).limit(limit)).scalars().all()
