"""Organisation onboarding, DESIGN §3.1. Services only flush; the caller commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ra import audit
from ra.auth import policy
from ra.auth.models import User
from ra.auth.roles import Role
from ra.auth.service import create_user, normalise_email
from ra.enrollment import validation as v
from ra.enrollment.models import DocumentKind, GeneratedDocument, GeneratedKind, Organisation, OrganisationDocument
from ra.enrollment.numbering import contract_number, next_number
from ra.enrollment.reference import District, OrganisationKind
from ra.enrollment.states import OrganisationStatus as S
from ra.enrollment.states import organisation_states
from ra.errors import Conflict, InvalidTransition, UserError, ValidationFailed
from ra.i18n import _l
from ra.uploads import check_upload


@dataclass
class Registration:
    name: str = ""
    registry_number: str = ""
    kind: str = ""
    district: str = ""
    address: str = ""
    phone: str = ""
    email_domains: str = ""
    registrar_name: str = ""
    registrar_position: str = ""
    registrar_email: str = ""
    registrar_phone: str = ""
    password: str | None = None
    locale: str = "mn"


REQUIRED = ("name", "registry_number", "kind", "district", "address", "email_domains",
            "registrar_name", "registrar_position", "registrar_email", "registrar_phone")


def validate_registration(session, data: Registration, *, tell_existing_account: bool = True
                          ) -> tuple[dict, list[str]]:
    """Field errors of a registration. ``tell_existing_account=False`` for the public
    forms, which must not reveal whether an address has an account (ASVS 2.2.x,
    6.3.x): ``register_publicly`` says so in an e-mail to that address instead."""
    errors: dict = {}
    for f in REQUIRED:
        if not str(getattr(data, f) or "").strip():
            errors[f] = _l("This field is required.")
    rn = (data.registry_number or "").strip()
    if rn and not v.REGISTRY_NUMBER.match(rn):
        errors["registry_number"] = _l("The state registry number is 7 digits.")
    elif rn and session.execute(sa.select(Organisation.id).where(Organisation.registry_number == rn)).first():
        errors["registry_number"] = _l("An organisation with this registry number is already registered.")
    if data.kind and data.kind not in {k.value for k in OrganisationKind}:
        errors["kind"] = _l("Choose the kind of organisation from the list.")
    if data.district and data.district not in {d.value for d in District}:
        errors["district"] = _l("Choose a district from the list.")
    domains: list[str] = []
    if data.email_domains:
        domains, err = v.parse_domains(data.email_domains)
        if err:
            errors["email_domains"] = err
    if data.registrar_email:
        err = v.email_error(data.registrar_email)
        if err:
            errors["registrar_email"] = err
        elif domains and not v.domain_allowed(data.registrar_email, domains):
            errors["registrar_email"] = _l("The registration officer's e-mail must be in one of the "
                                           "organisation's domains (%(domains)s).", domains=", ".join(domains))
        elif tell_existing_account and session.execute(
                sa.select(User.id).where(User.email == normalise_email(data.registrar_email))).first():
            errors["registrar_email"] = _l("An account with this e-mail already exists.")
    for f in ("phone", "registrar_phone"):
        value = getattr(data, f)
        if value and v.phone_error(value):
            errors[f] = v.phone_error(value)
    if data.password is not None and len(data.password) < 10:
        errors["password"] = _l("The password must be at least 10 characters long.")
    for f, limit in (("name", 300), ("address", 500), ("registrar_name", 200), ("registrar_position", 200)):
        if len(getattr(data, f) or "") > limit:
            errors[f] = _l("At most %(n)d characters.", n=limit)
    return errors, domains


TAKEN = {"registry_number": _l("An organisation with this registry number is already registered."),
         "registrar_email": _l("An account with this e-mail already exists.")}


def _taken_field(exc: IntegrityError) -> str:
    # PostgreSQL names the constraint (uq_organisation_registry_number), SQLite the column.
    return "registry_number" if "registry_number" in str(exc.orig) else "registrar_email"


def register_organisation(session, data: Registration, *, ports):
    """Public self-registration: the organisation (pending) and its registrar's account.
    Returns (organisation, registrar, generated_password_or_None)."""
    errors, domains = validate_registration(session, data)
    if errors:
        raise ValidationFailed(errors)
    org = Organisation(
        name=data.name.strip(), registry_number=data.registry_number.strip(),
        kind=OrganisationKind(data.kind), district=District(data.district), address=data.address.strip(),
        phone=(data.phone or "").strip(), email_domains=" ".join(domains), status=S.PENDING,
        registrar_name=data.registrar_name.strip(), registrar_position=data.registrar_position.strip(),
        registrar_email=normalise_email(data.registrar_email), registrar_phone=data.registrar_phone.strip(),
    )
    try:
        with session.begin_nested():
            session.add(org)
            session.flush()
            user, generated = create_user(
                session, "self-registration", email=org.registrar_email, role=Role.ORG_REGISTRAR,
                full_name=org.registrar_name, organisation=org, password=data.password,
                locale=data.locale if data.locale in ("mn", "en") else "mn", ports=ports)
            session.flush()
    except IntegrityError as exc:  # a concurrent registration committed the same value first
        field = _taken_field(exc)
        raise Conflict(TAKEN[field], code="already_registered", field=field) from None
    audit.record(session, user, "organisation.registered", org,
                 {"registry_number": org.registry_number, "name": org.name})
    return org, user, generated


@dataclass
class PublicRegistration:
    """What a public registration did. The caller answers the same either way; only
    the e-mail to the registrar's address tells which."""
    organisation: Organisation | None
    registrar: User | None


def register_publicly(session, data: Registration, *, ports) -> PublicRegistration:
    """The public form and API: the same answer whether or not the registrar's
    e-mail already has an account (staff addresses included). A new address gets
    the organisation, the account and a welcome e-mail; a known one gets nothing
    but an e-mail that explains. The password is hashed either way, so the answer
    takes as long."""
    errors, _ = validate_registration(session, data, tell_existing_account=False)
    if not data.password:
        errors["password"] = _l("This field is required.")
    if errors:
        raise ValidationFailed(errors)
    email = normalise_email(data.registrar_email)
    existing = session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if existing is not None:
        ports.passwords.hash(data.password)
        audit.record(session, "anonymous", "organisation.registration_refused", None,
                     {"registry_number": data.registry_number.strip(), "why": "account_exists"})
        ports.notifier.notify(session, to=existing.email, locale=existing.locale or "mn",
                              template="registration_account_exists",
                              context={"name": data.registrar_name.strip(), "org_name": data.name.strip()})
        return PublicRegistration(None, None)
    org, user, _ = register_organisation(session, data, ports=ports)
    ports.notifier.notify(session, to=user.email, locale=user.locale or "mn", template="registration_received",
                          context={"org": org})
    return PublicRegistration(org, user)


def upload_document(session, actor, org: Organisation, kind: DocumentKind, filename: str, data: bytes,
                    *, ports) -> OrganisationDocument:
    """The request letter moves a pending organisation to review; the signed contract
    is accepted only once the contract was sent."""
    policy.require_visible(actor, org)
    policy.require(policy.can_upload_organisation_document(actor, org))
    if kind == DocumentKind.SIGNED_CONTRACT and org.status != S.CONTRACT_SENT:
        raise InvalidTransition(_l("The signed contract can be uploaded only after the RU sent the contract."))
    if kind == DocumentKind.REQUEST_LETTER and org.status not in (S.PENDING, S.UNDER_REVIEW):
        raise InvalidTransition(_l("The request letter can no longer be replaced."))
    checked = check_upload(filename, data)
    stored = ports.files.put(checked.data, category="org", extension=checked.extension,
                             year=ports.clock.today().year)
    doc = OrganisationDocument(
        organisation_id=org.id, kind=kind, original_name=checked.original_name, stored_name=stored,
        content_type=checked.content_type, size=checked.size, sha256=checked.sha256,
        uploaded_by_id=actor.id, uploaded_at=ports.clock.now())
    session.add(doc)
    session.flush()
    org.documents.append(doc)
    audit.record(session, actor, "document.uploaded", doc,
                 {"organisation_id": org.id, "kind": kind.value, "sha256": checked.sha256, "size": checked.size})
    if kind == DocumentKind.REQUEST_LETTER and org.status == S.PENDING:
        organisation_states.transition(session, org, S.UNDER_REVIEW, actor=actor)
    return doc


def approve_organisation(session, actor, org: Organisation, *, ports) -> GeneratedDocument:
    """Approves the request: numbers and renders the cooperation contract and mails it
    to the registration officer."""
    policy.require(policy.can_review_organisation(actor, org))
    if not organisation_states.can(org, S.CONTRACT_SENT):
        raise InvalidTransition()
    letter = org.latest_document(DocumentKind.REQUEST_LETTER)
    if letter is None:
        raise Conflict(_l("The official request letter has not been uploaded."))
    letter.checked_by_id, letter.checked_at = actor.id, ports.clock.now()
    contract = _generate_contract(session, actor, org, ports=ports)
    organisation_states.transition(session, org, S.CONTRACT_SENT, actor=actor,
                                   details={"contract_number": contract.number})
    audit.record(session, actor, "organisation.approved", org, {"contract_number": contract.number})
    ports.notifier.notify(
        session, to=org.registrar_email, locale=_registrar_locale(session, org), template="contract_sent",
        context={"org": org, "contract": contract},
        attachments=[{"filename": f"contract-{org.registry_number}.pdf", "content_type": "application/pdf",
                      "stored_name": contract.stored_name}])
    return contract


def _generate_contract(session, actor, org: Organisation, *, ports) -> GeneratedDocument:
    today = ports.clock.today()
    number = contract_number(today.year, next_number(session, "contract", today.year))
    org.contract_number = number
    pdf = ports.documents.render(
        "contract.html", number=number, title="Тоон гарын үсэг олгоход хамтран ажиллах гэрээ",
        locale="mn", org=org, holders=_contract_holders(session, org), issued_on=today)
    return _store_generated(session, actor, org, GeneratedKind.CONTRACT, number, pdf, ports=ports)


def _contract_holders(session, org):
    """Rows of the contract's annex 1: the organisation's active holders, marked as
    listed in this contract (later additions go into numbered annexes)."""
    from ra.enrollment.holders_service import list_in_contract
    return list_in_contract(session, org)


def _store_generated(session, actor, org, kind, number, pdf: bytes, *, ports) -> GeneratedDocument:
    import hashlib

    stored = ports.files.put(pdf, category="generated", extension="pdf", year=ports.clock.today().year)
    doc = GeneratedDocument(organisation_id=org.id, kind=kind, number=number, stored_name=stored,
                            sha256=hashlib.sha256(pdf).hexdigest(), created_by_id=getattr(actor, "id", None),
                            created_at=ports.clock.now())
    session.add(doc)
    session.flush()
    org.generated.append(doc)
    audit.record(session, actor, f"{kind.value}.generated", doc, {"number": number, "organisation_id": org.id})
    return doc


def reject_organisation(session, actor, org: Organisation, reason: str) -> None:
    policy.require(policy.can_review_organisation(actor, org))
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_l("Give the reason for the rejection."), field="reason")
    organisation_states.transition(session, org, S.REJECTED, actor=actor, details={"reason": reason})
    org.decision_reason = reason
    audit.record(session, actor, "organisation.rejected", org, {"reason": reason})


def activate_organisation(session, actor, org: Organisation, *, contract_date: date | None = None, ports) -> None:
    """The officer has checked the signed and stamped contract; the RU fills in its date."""
    policy.require(policy.can_review_organisation(actor, org))
    if not organisation_states.can(org, S.ACTIVE):
        raise InvalidTransition()
    if org.status == S.CONTRACT_SENT:
        signed = org.latest_document(DocumentKind.SIGNED_CONTRACT)
        if signed is None:
            raise Conflict(_l("The signed contract has not been uploaded."))
        signed.checked_by_id, signed.checked_at = actor.id, ports.clock.now()
        org.contract_date = contract_date or ports.clock.today()
        audit.record(session, actor, "document.checked", signed, {"kind": signed.kind.value})
    organisation_states.transition(session, org, S.ACTIVE, actor=actor,
                                   details={"contract_date": str(org.contract_date)})
    ports.notifier.notify(session, to=org.registrar_email, locale=_registrar_locale(session, org),
                          template="organisation_active", context={"org": org})


def suspend_organisation(session, actor, org: Organisation, reason: str) -> None:
    policy.require(policy.can_review_organisation(actor, org))
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_l("Give the reason for the suspension."), field="reason")
    organisation_states.transition(session, org, S.SUSPENDED, actor=actor, details={"reason": reason})
    org.decision_reason = reason


def set_temporary_access(session, actor, org: Organisation, start: date | None, end: date | None) -> None:
    """«Түр бүртгэл»: unsigned correspondence allowed between the two dates (DESIGN §3.1)."""
    policy.require(policy.can_review_organisation(actor, org))
    if (start is None) != (end is None):
        raise UserError(_l("Give both dates of the temporary access, or neither."))
    if start and end and end < start:
        raise UserError(_l("The end date is before the start date."))
    if org.status == S.REJECTED:
        raise InvalidTransition()
    org.temp_access_from, org.temp_access_to = start, end
    audit.record(session, actor, "organisation.temporary_access_set", org,
                 {"from": str(start) if start else None, "to": str(end) if end else None})


def _registrar_locale(session, org) -> str:
    loc = session.execute(sa.select(User.locale).where(User.email == org.registrar_email)).scalar()
    return loc or "mn"
