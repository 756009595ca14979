"""Certificate holders and their documents (DESIGN §3.2), and the numbered contract
annex that lists holders added after the contract (DESIGN §3.1 step 5).
Services only flush; the caller commits."""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import lru_cache
from datetime import date

import sqlalchemy as sa

from ra import audit
from ra.auth import policy
from ra.enrollment import policy as ep
from ra.enrollment import register_number as rn
from ra.enrollment import validation as v
from ra.enrollment.holder_models import Holder, HolderDocument, HolderDocumentKind
from ra.enrollment.models import GeneratedKind, Organisation
from ra.enrollment.order_states import HolderStatus, holder_states
from ra.enrollment.states import OrganisationStatus
from ra.enrollment.transliteration import to_latin
from ra.errors import InvalidTransition, NotFound, ValidationFailed
from ra.i18n import _l
from ra.uploads import check_upload

# Organisations that may add holders: before the contract they are listed in its
# annex 1; afterwards each addition is a new numbered annex.
ADDING_ALLOWED = (OrganisationStatus.PENDING, OrganisationStatus.UNDER_REVIEW, OrganisationStatus.CONTRACT_SENT,
                  OrganisationStatus.ACTIVE)
CYRILLIC_NAME = re.compile(r"^[А-ЯЁӨҮа-яёөү]+(?:[ \-][А-ЯЁӨҮа-яёөү]+)*$")
NUMBER_AS_FLOAT = re.compile(r"^(\d+)\.0+$")  # 99112233.0, a number that went through a float
LATIN_NAME = re.compile(r"^[A-Za-zÖÜöü]+(?:[ \-'][A-Za-zÖÜöü]+)*$")


# --- validation ---

@dataclass
class HolderData:
    surname: str = ""
    given_name: str = ""
    clan_name: str = ""
    latin_surname: str = ""
    latin_given_name: str = ""
    register_number: str = ""
    position: str = ""
    department: str = ""
    email: str = ""
    phone: str = ""
    locale: str = "mn"

    @classmethod
    def from_mapping(cls, data) -> "HolderData":
        return cls(**{f.name: clean(data.get(f.name)) for f in fields(cls) if data.get(f.name) is not None})


def clean(value) -> str:
    """Excel's quirks: numbers stored as numbers (99112233.0), non-breaking and
    zero-width spaces, runs of blanks, trailing spaces."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).replace("\u00a0", " ").replace("\u200b", "").replace("\ufeff", "").split())
    return NUMBER_AS_FLOAT.sub(r"\1", text)


# RFC 5322 dot-atom local part; anything else goes through email-validator in full.
DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@lru_cache(maxsize=256)
def _domain_error(domain: str):
    return v.email_error(f"postmaster@{domain}")


def email_error(email: str):
    """email-validator's verdict, with the domain part checked once per domain: a
    5,000-row import of one organisation has one or two domains, not 5,000."""
    local, _, domain = email.rpartition("@")
    if local and len(local) <= 64 and DOT_ATOM.match(local) and domain:
        return _domain_error(domain)
    return v.email_error(email)


def validate_holder(session, org: Organisation, data: HolderData, *, today: date, taken: set | None = None,
                    exclude_id: int | None = None) -> tuple[dict, dict]:
    """Returns (errors by field, normalised values). ``taken`` is the set of register
    numbers of the organisation's active holders, when the caller already has it."""
    errors: dict = {}
    values: dict = {}
    for f, required in (("surname", True), ("given_name", True), ("clan_name", False)):
        value = getattr(data, f).strip()
        if not value:
            if required:
                errors[f] = _l("This field is required.")
        elif len(value) > 100:
            errors[f] = _l("At most %(n)d characters.", n=100)
        elif not CYRILLIC_NAME.match(value):
            errors[f] = _l("Write the name in Mongolian Cyrillic letters.")
        values[f] = value
    for f, source in (("latin_surname", "surname"), ("latin_given_name", "given_name")):
        value = getattr(data, f).strip() or to_latin(values.get(source, ""))
        if value and (len(value) > 100 or not LATIN_NAME.match(value)):
            errors[f] = _l("Write the Latin spelling in Latin letters only.")
        values[f] = value
    parsed, err = rn.parse(data.register_number, today)
    if err:
        errors["register_number"] = err
    else:
        values["register_number"], values["birth_date"] = parsed.value, parsed.birth_date
        if taken is not None:
            duplicate = parsed.value in taken
        else:
            stmt = sa.select(Holder.id).where(Holder.organisation_id == org.id, Holder.status == HolderStatus.ACTIVE,
                                              Holder.register_number == parsed.value)
            if exclude_id is not None:
                stmt = stmt.where(Holder.id != exclude_id)
            duplicate = session.execute(stmt).first() is not None
        if duplicate:
            errors["register_number"] = _l("%(number)s is already an active holder of this organisation.",
                                           number=parsed.value)
    for f, limit in (("position", 200), ("department", 200)):
        value = getattr(data, f).strip()
        if f == "position" and not value:
            errors[f] = _l("This field is required.")
        elif len(value) > limit:
            errors[f] = _l("At most %(n)d characters.", n=limit)
        values[f] = value
    email = data.email.strip().lower()
    if not email:
        errors["email"] = _l("This field is required.")
    elif email_error(email):
        errors["email"] = email_error(email)
    elif not v.domain_allowed(email, org.domains):
        errors["email"] = _l("The work e-mail must be in one of the organisation's domains (%(domains)s); "
                             "%(domain)s is not.", domains=", ".join(org.domains), domain=v.email_domain(email))
    values["email"] = email
    phone = data.phone.strip()
    if phone and v.phone_error(phone):
        errors["phone"] = v.phone_error(phone)
    values["phone"] = phone
    values["locale"] = data.locale if data.locale in ("mn", "en") else "mn"
    return errors, values


# --- holders ---

def create_holder(session, actor, org: Organisation, data: HolderData, *, ports) -> Holder:
    policy.require_visible(actor, org)
    policy.require(ep.can_manage_holders(actor, org))
    if org.status not in ADDING_ALLOWED:
        raise InvalidTransition(_l("Holders cannot be added while the organisation is %(status)s.",
                                   status=org.status.label))
    errors, values = validate_holder(session, org, data, today=ports.clock.today())
    if errors:
        raise ValidationFailed(errors)
    holder = Holder(organisation_id=org.id, created_by_id=actor.id, created_at=ports.clock.now(),
                    status=HolderStatus.ACTIVE, **values)
    session.add(holder)
    session.flush()
    audit.record(session, actor, "holder.created", holder, _audit_view(holder))
    return holder


def update_holder(session, actor, holder: Holder, data: HolderData, *, ports) -> dict:
    """Corrects a holder's data (the Latin spelling, a typo). A new position goes
    through ``orders_service.change_position`` instead, since it revokes."""
    policy.require(ep.can_manage_holders(actor, holder.organisation))
    if holder.status != HolderStatus.ACTIVE:
        raise InvalidTransition()
    errors, values = validate_holder(session, holder.organisation, data, today=ports.clock.today(),
                                     exclude_id=holder.id)
    if errors:
        raise ValidationFailed(errors)
    changed = {k: {"from": str(getattr(holder, k)), "to": str(val)} for k, val in values.items()
               if k not in ("position", "department") and getattr(holder, k) != val}
    for k in changed:
        setattr(holder, k, values[k])
    if changed:
        audit.record(session, actor, "holder.updated", holder, changed)
    return changed


def remove_holder(session, actor, holder: Holder) -> None:
    """The holder left the organisation; their record stays for the audit trail."""
    policy.require(ep.can_manage_holders(actor, holder.organisation))
    holder_states.transition(session, holder, HolderStatus.DEPARTED, actor=actor)


def _audit_view(holder: Holder) -> dict:
    return {"organisation_id": holder.organisation_id, "register_number": holder.register_number,
            "name": holder.full_name, "email": holder.email, "position": holder.position}


# --- documents ---

def upload_holder_document(session, actor, holder: Holder, kind: HolderDocumentKind, filename: str, data: bytes,
                           *, ports) -> HolderDocument:
    """Same upload rules as the organisation's documents (``ra.uploads``); a new file
    of a kind replaces the old one and needs checking again."""
    policy.require_visible(actor, holder.organisation)
    policy.require(ep.can_upload_holder_document(actor, holder))
    checked = check_upload(filename, data)
    stored = ports.files.put(checked.data, category="holder", extension=checked.extension,
                             year=ports.clock.today().year)
    doc = HolderDocument(holder_id=holder.id, kind=kind, original_name=checked.original_name, stored_name=stored,
                         content_type=checked.content_type, size=checked.size, sha256=checked.sha256,
                         uploaded_by_id=actor.id, uploaded_at=ports.clock.now())
    session.add(doc)
    session.flush()
    holder.documents.append(doc)
    audit.record(session, actor, "holder_document.uploaded", doc,
                 {"holder_id": holder.id, "kind": kind.value, "sha256": checked.sha256, "size": checked.size})
    return doc


def check_holder_document(session, actor, doc: HolderDocument, *, ports) -> None:
    """The RU officer ticks a document as checked against the original."""
    policy.require(ep.can_check_holder_document(actor, doc.holder))
    if doc.checked_at is not None:
        return
    doc.checked_by_id, doc.checked_at = actor.id, ports.clock.now()
    audit.record(session, actor, "holder_document.checked", doc, {"holder_id": doc.holder_id, "kind": doc.kind.value})


def missing_documents(holder: Holder) -> tuple[list, list]:
    """(kinds not uploaded, kinds uploaded but not checked) for the latest file of each kind."""
    missing, unchecked = [], []
    for kind in HolderDocumentKind:
        doc = holder.latest_document(kind)
        if doc is None:
            missing.append(kind)
        elif doc.checked_at is None:
            unchecked.append(kind)
    return missing, unchecked


# --- the contract's holder list and its numbered annexes ---

def list_in_contract(session, org: Organisation) -> list[Holder]:
    """Annex 1 of the contract being generated (its number is already on ``org``):
    every active holder, now marked as listed there."""
    holders = _active_holders(session, org)
    for h in holders:
        h.listed_in = org.contract_number
    return holders


def _active_holders(session, org, *, unlisted: bool = False) -> list[Holder]:
    stmt = sa.select(Holder).where(Holder.organisation_id == org.id, Holder.status == HolderStatus.ACTIVE)
    if unlisted:
        stmt = stmt.where(Holder.listed_in.is_(None))
    return list(session.execute(stmt.order_by(Holder.id)).scalars())


def pending_annex_count(session, org: Organisation) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(Holder).where(
        Holder.organisation_id == org.id, Holder.status == HolderStatus.ACTIVE, Holder.listed_in.is_(None))).scalar_one()


def generate_pending_annex(session, actor, org: Organisation, *, ports):
    """Holders added after the contract are listed in a new numbered annex (annex 2,
    3, …, number ``<contract>-Х<n>``), e-mailed to the registration officer. The
    unlisted holders are the pending work, so an annex that failed to render is
    produced by the next call (``flask --app ra enrollment annexes``)."""
    from ra.enrollment.numbering import next_number
    from ra.enrollment.service import _store_generated

    if org.contract is None:
        return None
    holders = _active_holders(session, org, unlisted=True)
    if not holders:
        return None
    # A per-contract sequence, not a yearly one: year 0 keeps it in DocumentCounter.
    annex_no = next_number(session, f"annex-{org.id}", 0) + 1
    number = f"{org.contract_number}-Х{annex_no}"
    today = ports.clock.today()
    pdf = ports.documents.render("annex.html", number=number, title=f"Гэрээний хавсралт {annex_no}", locale="mn",
                                 org=org, holders=holders, annex_no=annex_no, issued_on=today)
    doc = _store_generated(session, actor, org, GeneratedKind.ANNEX, number, pdf, ports=ports)
    for h in holders:
        h.listed_in = number
    from ra.enrollment.orders_service import registrar_locale
    ports.notifier.notify(
        session, to=org.registrar_email, locale=registrar_locale(session, org), template="order_annex_sent",
        context={"org": org, "number": number, "count": len(holders)},
        attachments=[{"filename": f"annex-{annex_no}-{org.registry_number}.pdf", "content_type": "application/pdf",
                      "stored_name": doc.stored_name}])
    return doc


def get_holder_document(session, actor, doc_id) -> HolderDocument:
    doc = session.get(HolderDocument, int(doc_id)) if str(doc_id).isdigit() else None
    if doc is None:
        raise NotFound()
    policy.require_visible(actor, doc.holder.organisation)
    return doc
