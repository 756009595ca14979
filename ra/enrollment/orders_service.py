"""Certificate orders (DESIGN §3.2): filing, approval with separation of duties,
rejection, cancellation, renewal, position change, and the issuance hook the
handover calls. Services only flush; the caller commits."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from ra import audit
from ra.auth import policy
from ra.enrollment import holders_service as hs
from ra.enrollment import policy as ep
from ra.enrollment.holder_models import CertificateOrder, Holder, OrderKind, PositionChange, RevocationState
from ra.enrollment.order_states import OPEN_ORDER, HolderStatus, OrderStatus, order_states
from ra.enrollment.states import OrganisationStatus
from ra.errors import Conflict, InvalidTransition, PermissionDenied, UserError, ValidationFailed
from ra.i18n import _l
from ra.localtime import local_date
from ra.profiles import SubjectData, build_subject

S = OrderStatus
RENEWAL_WINDOW_DAYS = 60


# --- notifications: the registration officer and the holder, each in their language ---

def registrar_locale(session, org) -> str:
    from ra.auth.models import User
    return session.execute(sa.select(User.locale).where(User.email == org.registrar_email)).scalar() or "mn"


def notify_parties(session, order, template: str, *, ports, context: dict | None = None,
                   attachments: list[dict] | None = None) -> None:
    org = order.organisation
    ctx = {"order": order, "holder": order.holder, "org": org, **(context or {})}
    recipients = {org.registrar_email.lower(): registrar_locale(session, org)}
    recipients.setdefault(order.holder.email.lower(), order.holder.locale)
    for to, locale in recipients.items():
        ports.notifier.notify(session, to=to, locale=locale, template=template, context=ctx,
                              attachments=attachments)


# --- filing ---

def _check_profile(profile: str, key_type: str | None, ports) -> tuple[str, str]:
    prof = ports.profiles.get(profile or "")
    if prof is None:
        raise ValidationFailed({"profile": _l("Unknown certificate profile; choose one of: %(names)s.",
                                              names=", ".join(sorted(ports.profiles)))})
    key_type = key_type or prof.default_key_type
    if not prof.check_key_type(key_type):
        raise ValidationFailed({"key_type": _l("The profile allows these key types: %(types)s.",
                                               types=", ".join(prof.allowed_key_types))})
    return prof.name, key_type


def _require_can_order(org, holder) -> None:
    if org.status != OrganisationStatus.ACTIVE:
        raise Conflict(_l("Certificates can be ordered once the organisation is active."))
    if holder.status != HolderStatus.ACTIVE:
        raise InvalidTransition(_l("This person is no longer a holder of the organisation."))


def open_order(session, holder, profile: str):
    return session.execute(sa.select(CertificateOrder).where(
        CertificateOrder.holder_id == holder.id, CertificateOrder.profile == profile,
        CertificateOrder.status.in_(OPEN_ORDER))).scalar_one_or_none()


def create_order(session, actor, holder: Holder, *, profile: str, key_type: str | None = None,
                 kind: OrderKind = OrderKind.NEW, replaces: CertificateOrder | None = None, submit: bool = True,
                 ports) -> CertificateOrder:
    """Files (or drafts) an order for one holder under a profile of ``ra.profiles``."""
    policy.require_visible(actor, holder.organisation)
    policy.require(ep.can_file_order(actor, holder))
    _require_can_order(holder.organisation, holder)
    profile, key_type = _check_profile(profile, key_type, ports)
    if open_order(session, holder, profile) is not None:
        raise Conflict(_l("%(name)s already has an open order for this profile.", name=holder.full_name))
    order = CertificateOrder(organisation_id=holder.organisation_id, holder_id=holder.id, profile=profile,
                             key_type=key_type, kind=kind, status=S.DRAFT, requested_by_id=actor.id,
                             replaces_order_id=replaces.id if replaces else None, created_at=ports.clock.now())
    order.holder, order.organisation = holder, holder.organisation
    session.add(order)
    session.flush()
    audit.record(session, actor, "order.created", order,
                 {"holder_id": holder.id, "profile": profile, "key_type": key_type, "kind": kind.value,
                  "status": S.DRAFT.value, "replaces_order_id": order.replaces_order_id})
    if submit:
        submit_order(session, actor, order, ports=ports)
    return order


def submit_order(session, actor, order: CertificateOrder, *, ports) -> None:
    policy.require(ep.can_file_order(actor, order.holder))
    _require_can_order(order.organisation, order.holder)
    order_states.transition(session, order, S.SUBMITTED, actor=actor)
    order.submitted_at = ports.clock.now()
    notify_parties(session, order, "order_submitted", ports=ports)


# --- decisions ---

def approve_order(session, actor, order: CertificateOrder, *, checked_document_ids=(), ports) -> None:
    """Approval re-checks everything (DESIGN §3.2): the organisation is active, the
    holder's data still passes every rule, and each of the four documents is
    uploaded and ticked as checked. Documents ticked in ``checked_document_ids``
    are checked first, in the same unit of work."""
    policy.require(ep.can_decide_order(actor, order))
    if ep.is_party_to(actor, order):
        raise PermissionDenied(_l("Nobody may approve their own request or an order about themselves."),
                               code="separation_of_duties")
    if not order_states.can(order, S.APPROVED):
        raise InvalidTransition()
    holder = order.holder
    wanted = {int(i) for i in checked_document_ids if str(i).isdigit()}
    for doc in holder.documents:
        if doc.id in wanted:
            hs.check_holder_document(session, actor, doc, ports=ports)
    if order.organisation.status != OrganisationStatus.ACTIVE:
        raise Conflict(_l("The organisation is not active; the order cannot be approved."), code="organisation")
    data = hs.HolderData(**{k: getattr(holder, k) for k in (
        "surname", "given_name", "clan_name", "latin_surname", "latin_given_name", "register_number", "position",
        "department", "email", "phone", "locale")})
    errors, _ = hs.validate_holder(session, order.organisation, data, today=ports.clock.today(),
                                   exclude_id=holder.id)
    if errors:
        raise Conflict(_l("The holder's data no longer passes the checks: %(problems)s",
                          problems="; ".join(str(e) for e in errors.values())), code="holder_data")
    missing, unchecked = hs.missing_documents(holder)
    if missing or unchecked:
        parts = [str(k.label) for k in missing + unchecked]
        raise Conflict(_l("These documents are missing or not yet checked: %(docs)s.", docs=", ".join(parts)),
                       code="documents")
    prof = ports.profiles.get(order.profile)
    if prof is None or not prof.check_key_type(order.key_type):
        raise Conflict(_l("The order's certificate profile is no longer offered."), code="profile")
    order.subject = build_subject(prof, SubjectData(
        latin_name=holder.latin_name, cyrillic_name=holder.full_name, register_number=holder.register_number,
        organisation=order.organisation.name, department=holder.department, position=holder.position,
        email=holder.email, latin_given_name=holder.latin_given_name,
        latin_surname=holder.latin_surname)).rfc4514_string()
    order_states.transition(session, order, S.APPROVED, actor=actor, details={"subject": order.subject})
    order.decided_by_id, order.decided_at = actor.id, ports.clock.now()
    notify_parties(session, order, "order_approved", ports=ports)


def reject_order(session, actor, order: CertificateOrder, reason: str, *, ports) -> None:
    policy.require(ep.can_decide_order(actor, order))
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_l("Give the reason for the rejection."), field="reason")
    if order.status == S.SCHEDULED:
        raise InvalidTransition()
    order_states.transition(session, order, S.REJECTED, actor=actor, details={"reason": reason})
    order.reason, order.decided_by_id, order.decided_at = reason, actor.id, ports.clock.now()
    notify_parties(session, order, "order_rejected", ports=ports, context={"reason": reason})


def cancel_order(session, actor, order: CertificateOrder, reason: str = "", *, ports) -> None:
    """Cancels the order; a booked appointment is cancelled with it and its seat freed."""
    policy.require_visible(actor, order.organisation)
    policy.require(ep.can_cancel_order(actor, order))
    if not order_states.can(order, S.CANCELLED):
        raise InvalidTransition()
    if order.appointment is not None:
        from ra.enrollment.appointments_service import cancel_appointment
        cancel_appointment(session, actor, order.appointment, reason or "order cancelled", ports=ports)
    order_states.transition(session, order, S.CANCELLED, actor=actor, details={"reason": reason or None})
    order.reason = reason or None


def record_issuance(session, actor, order: CertificateOrder, *, serial: str, not_after, issuer: str, ports) -> None:
    """HOOK for the handover (DESIGN §3.3 step 6): the CA returned the certificate.
    Records which issuing CA signed it and until when it is valid, which is what
    renewal and the expiry reports read."""
    if not order_states.can(order, S.ISSUED):
        raise InvalidTransition()
    order_states.transition(session, order, S.ISSUED, actor=actor, details={"serial": serial, "issuer": issuer})
    order.certificate_serial, order.certificate_not_after, order.issuer = serial, not_after, issuer
    order.issued_at = ports.clock.now()
    if order.appointment is not None:
        from ra.enrollment.appointments_service import mark_attended
        mark_attended(session, actor, order.appointment)
    from ra.holder.service import on_certificate_issued
    on_certificate_issued(session, actor, order.holder, ports=ports)  # the first certificate opens the account


# --- renewal and position change ---

def latest_issued(session, holder, profile: str | None = None):
    stmt = sa.select(CertificateOrder).where(CertificateOrder.holder_id == holder.id,
                                             CertificateOrder.status == S.ISSUED)
    if profile:
        stmt = stmt.where(CertificateOrder.profile == profile)
    return session.execute(stmt.order_by(CertificateOrder.certificate_not_after.desc()).limit(1)).scalar_one_or_none()


def renewal_opens(order: CertificateOrder):
    """The first day renewal is offered: 60 days before the certificate expires."""
    return (order.certificate_not_after - timedelta(days=RENEWAL_WINDOW_DAYS)) if order.certificate_not_after else None


def file_renewal(session, actor, holder: Holder, *, profile: str = "signing", ports) -> CertificateOrder:
    """Renewal is a new order for the same holder, offered from 60 days before expiry."""
    current = latest_issued(session, holder, profile)
    if current is None:
        raise Conflict(_l("%(name)s has no issued certificate of this profile to renew.", name=holder.full_name))
    opens = renewal_opens(current)
    if ports.clock.now() < opens:
        raise Conflict(_l("Renewal is offered from %(date)s, 60 days before the certificate expires.",
                          date=local_date(opens).isoformat()), code="too_early")
    return create_order(session, actor, holder, profile=current.profile, key_type=current.key_type,
                        kind=OrderKind.RENEWAL, replaces=current, ports=ports)


def change_position(session, actor, holder: Holder, *, position: str, department: str = "",
                    profile: str = "signing", ports) -> PositionChange:
    """A new position: the holder's record changes, a new order is filed, and the
    old certificate's revocation (affiliationChanged) is requested and linked."""
    policy.require(ep.can_manage_holders(actor, holder.organisation))
    position, department = hs.clean(position), hs.clean(department)
    if not position:
        raise ValidationFailed({"position": _l("This field is required.")})
    if len(position) > 200 or len(department) > 200:
        raise ValidationFailed({"position": _l("At most %(n)d characters.", n=200)})
    if position == holder.position and department == holder.department:
        raise UserError(_l("The position and department are the same as before."), field="position")
    _require_can_order(holder.organisation, holder)
    old = latest_issued(session, holder, profile)
    change = PositionChange(holder_id=holder.id, old_position=holder.position, new_position=position,
                            old_department=holder.department, new_department=department,
                            old_order_id=old.id if old else None,
                            old_certificate_serial=old.certificate_serial if old else None,
                            revocation=(RevocationState.AWAITING_REVOCATION if old else
                                        RevocationState.NOTHING_TO_REVOKE),
                            requested_by_id=actor.id, created_at=ports.clock.now())
    audit.record(session, actor, "holder.position_changed", holder,
                 {"from": [holder.position, holder.department], "to": [position, department]})
    holder.position, holder.department = position, department
    order = create_order(session, actor, holder, profile=profile, kind=OrderKind.POSITION_CHANGE, replaces=old,
                         ports=ports)
    change.order_id = order.id
    change.order = order
    session.add(change)
    session.flush()
    request_affiliation_revocation(session, actor, change, ports=ports)
    return change


def request_affiliation_revocation(session, actor, change: PositionChange, *, ports) -> None:
    """HOOK for the revocation issue: revoke the old certificate with reason
    affiliationChanged (RFC 5280 §5.3.1).

    When the revocation module is wired, it sets ``ports.extra["revocation"]`` to a
    callable ``revoke(session, actor, *, serial, reason, source)`` returning a
    reference, and this function calls it. Until then the request is not lost and
    not silently dropped: the change stays AWAITING_REVOCATION, is shown on the
    holder's and the order's pages, audited, and listed by
    ``holder_queries.awaiting_revocation()`` for that module to pick up."""
    if change.revocation != RevocationState.AWAITING_REVOCATION:
        return
    revoke = (ports.extra or {}).get("revocation")
    if revoke is None:
        audit.record(session, actor, "position_change.revocation_awaiting", ("position_change", change.id),
                     {"serial": change.old_certificate_serial, "reason": "affiliationChanged",
                      "new_order_id": change.order_id})
        return
    reference = revoke(session, actor, serial=change.old_certificate_serial, reason="affiliationChanged",
                       source=change)
    change.revocation, change.revocation_reference = RevocationState.REVOCATION_REQUESTED, str(reference)[:100]
    audit.record(session, actor, "position_change.revocation_requested", ("position_change", change.id),
                 {"serial": change.old_certificate_serial, "reference": change.revocation_reference})
