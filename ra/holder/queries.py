"""What a holder's account may read: everything of the person with the account's
register number, in every organisation they hold in, and nothing else. Each read
here is the one scoping filter (STYLE rule 6); an id outside it is 404."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ra.auth.models import User
from ra.auth.roles import Role
from ra.auth.service import normalise_email
from ra.ca.models import Certificate
from ra.enrollment.holder_models import Appointment, CertificateOrder, Holder
from ra.enrollment.order_states import HolderStatus
from ra.errors import NotFound
from ra.tokens.handover_models import Handover
from ra.tokens.handover_states import HandoverStep
from ra.tokens.models import Token


def _id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound() from None


def is_holder(actor) -> bool:
    return (getattr(actor, "is_authenticated", True) and getattr(actor, "role", None) == Role.HOLDER
            and getattr(actor, "register_number", None) is not None)


def _my_holder_ids(actor):
    """The holder rows of the person: a subquery, so the filter stays in SQL."""
    if not is_holder(actor):
        return sa.select(Holder.id).where(sa.false())
    return sa.select(Holder.id).where(Holder.register_number == actor.register_number)


def account_for(session, register_number: str) -> User | None:
    return session.execute(sa.select(User).where(User.register_number == register_number,
                                                 User.role == Role.HOLDER)).scalar_one_or_none()


def holders_of_person(session, register_number: str, *, active_only: bool = True) -> list[Holder]:
    stmt = sa.select(Holder).where(Holder.register_number == register_number)
    if active_only:
        stmt = stmt.where(Holder.status == HolderStatus.ACTIVE)
    return list(session.execute(stmt.order_by(Holder.id)).scalars())


def account_by_work_email(session, email: str) -> User | None:
    """The holder account of the person one of whose registered work e-mails is ``email``."""
    email = normalise_email(email)
    regnos = sa.select(Holder.register_number).where(sa.func.lower(Holder.email) == email,
                                                     Holder.status == HolderStatus.ACTIVE)
    return session.execute(sa.select(User).where(User.role == Role.HOLDER, User.register_number.in_(regnos))
                           .limit(1)).scalar_one_or_none()


def my_holders(session, actor) -> list[Holder]:
    return list(session.execute(sa.select(Holder).where(Holder.id.in_(_my_holder_ids(actor)))
                                .order_by(Holder.organisation_id, Holder.id)).scalars())


def my_certificates(session, actor) -> list[Certificate]:
    return list(session.execute(sa.select(Certificate).where(Certificate.holder_id.in_(_my_holder_ids(actor)))
                                .order_by(Certificate.not_after.desc())).scalars())


def my_certificate(session, actor, certificate_id) -> Certificate:
    cert = session.execute(sa.select(Certificate).where(Certificate.id == _id(certificate_id),
                                                        Certificate.holder_id.in_(_my_holder_ids(actor)))
                           ).scalar_one_or_none()
    if cert is None:
        raise NotFound()
    return cert


def _my_token_ids(actor):
    return sa.select(Certificate.token_id).where(Certificate.holder_id.in_(_my_holder_ids(actor)),
                                                 Certificate.token_id.is_not(None))


def my_tokens(session, actor) -> list[Token]:
    return list(session.execute(sa.select(Token).where(Token.id.in_(_my_token_ids(actor)))
                                .order_by(Token.id.desc())).scalars())


def my_token(session, actor, token_id) -> Token:
    token = session.execute(sa.select(Token).where(Token.id == _id(token_id), Token.id.in_(_my_token_ids(actor)))
                            ).scalar_one_or_none()
    if token is None:
        raise NotFound()
    return token


def holder_of_my_token(session, actor, token: Token) -> Holder | None:
    """The holder row (organisation) the token was handed over under, latest first."""
    return session.execute(sa.select(Holder).join(Certificate, Certificate.holder_id == Holder.id)
                           .where(Certificate.token_id == token.id, Holder.id.in_(_my_holder_ids(actor)))
                           .order_by(Certificate.id.desc()).limit(1)).scalar_one_or_none()


def receipt_handover(session, token: Token) -> Handover | None:
    """The completed handover that gave the token to its holder (its receipt)."""
    return session.execute(sa.select(Handover).where(Handover.token_id == token.id,
                                                     Handover.step == HandoverStep.COMPLETED)
                           .order_by(Handover.id.desc()).limit(1)).scalar_one_or_none()


def my_orders(session, actor) -> list[CertificateOrder]:
    return list(session.execute(sa.select(CertificateOrder)
                                .where(CertificateOrder.holder_id.in_(_my_holder_ids(actor)))
                                .order_by(CertificateOrder.id.desc())).scalars())


def my_order(session, actor, order_id) -> CertificateOrder:
    order = session.execute(sa.select(CertificateOrder).where(
        CertificateOrder.id == _id(order_id), CertificateOrder.holder_id.in_(_my_holder_ids(actor)))
    ).scalar_one_or_none()
    if order is None:
        raise NotFound()
    return order


def my_appointment(session, actor, appointment_id) -> Appointment:
    appt = session.execute(sa.select(Appointment).join(CertificateOrder, Appointment.order_id == CertificateOrder.id)
                           .where(Appointment.id == _id(appointment_id),
                                  CertificateOrder.holder_id.in_(_my_holder_ids(actor)))).scalar_one_or_none()
    if appt is None:
        raise NotFound()
    return appt


def links_sent_since(session, user: User, since: datetime) -> int:
    from ra.holder.models import HolderActivation
    return session.execute(sa.select(sa.func.count(HolderActivation.id)).where(
        HolderActivation.user_id == user.id, HolderActivation.created_at >= since)).scalar_one()


def step_up_codes_since(session, user: User, since: datetime) -> int:
    from ra.holder.models import StepUpCode
    return session.execute(sa.select(sa.func.count(StepUpCode.id)).where(
        StepUpCode.user_id == user.id, StepUpCode.created_at >= since)).scalar_one()
