"""Who may do what in enrollment: one function per action (STYLE rule 6), used by
the views, the API and the services alike. Which organisations a person sees is
the query scope of ``ra.auth.policy.scope_organisations``, not a check here."""
from __future__ import annotations

from ra.auth import policy as auth_policy
from ra.auth.roles import Role


def _role(actor):
    return getattr(actor, "role", None)


# -- holders and their documents --------------------------------------------------------------

def can_manage_holders(actor, org) -> bool:
    return _role(actor) == Role.ORG_REGISTRAR and actor.organisation_id == org.id


def can_upload_holder_document(actor, holder) -> bool:
    """The registrar, or an RU officer scanning the papers at the counter."""
    return can_manage_holders(actor, holder.organisation) or _role(actor) == Role.RA_OFFICER


def can_check_holder_document(actor, holder=None) -> bool:
    return auth_policy.can_review_organisation(actor)


def can_download_holder_document(actor, holder) -> bool:
    return auth_policy.can_download_organisation_document(actor, holder.organisation)


# -- orders -----------------------------------------------------------------------------------

def can_file_order(actor, holder) -> bool:
    return can_manage_holders(actor, holder.organisation)


def can_decide_order(actor, order=None) -> bool:
    return auth_policy.can_review_organisation(actor)


def is_party_to(actor, order) -> bool:
    """DESIGN §2: nobody approves a request they made or one about themselves."""
    email = (getattr(actor, "email", "") or "").lower()
    return actor.id == order.requested_by_id or (bool(email) and email == order.holder.email.lower())


def can_cancel_order(actor, order) -> bool:
    return can_manage_holders(actor, order.organisation) or can_decide_order(actor, order)


# -- counters and appointments ----------------------------------------------------------------

def can_manage_counters(actor) -> bool:
    return _role(actor) == Role.ADMIN


def can_book_appointment(actor, order) -> bool:
    """The organisation's registration officer, or the holder for their own order
    (a holder's account is the person's: keyed on the register number)."""
    if _role(actor) == Role.HOLDER:
        return actor.register_number is not None and order.holder.register_number == actor.register_number
    return can_manage_holders(actor, order.organisation)


def can_cancel_appointment(actor, appointment) -> bool:
    return (can_book_appointment(actor, appointment.order)
            or _role(actor) in (Role.RA_OFFICER, Role.RA_MANAGER))


def can_see_counter_queue(actor) -> bool:
    return _role(actor) in (Role.RA_OFFICER, Role.RA_MANAGER, Role.ADMIN)
