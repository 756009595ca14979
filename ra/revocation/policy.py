"""Who may do what with revocations (DESIGN §2 and §3.4; STYLE rule 6: one
function per action, used by the pages, the API and the services alike), and the
dual-control setting.

Separation of duties: nobody approves a request they made or confirmed, or one
about their own certificate; an auditor approves nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

from ra.auth.roles import Role

STAFF = (Role.RA_OFFICER, Role.RA_MANAGER)
READERS = (Role.RA_OFFICER, Role.RA_MANAGER, Role.ADMIN, Role.AUDITOR)
SETTINGS_KEY = "revocation_settings"


@dataclass(frozen=True)
class RevocationSettings:
    """``dual_control`` (``RA_REVOCATION_DUAL_CONTROL``, on by default): every
    revocation other than the holder's own lost-token report needs two RU staff,
    the requester or confirmer counting as one when they are RU staff."""
    dual_control: bool = True

    @property
    def signoffs_needed(self) -> int:
        return 2 if self.dual_control else 1


def settings_of(ports) -> RevocationSettings:
    return (getattr(ports, "extra", None) or {}).get(SETTINGS_KEY) or RevocationSettings()


def _role(actor):
    if actor is None or isinstance(actor, str) or not getattr(actor, "is_authenticated", True):
        return None
    return getattr(actor, "role", None)


def is_staff(actor) -> bool:
    return _role(actor) in STAFF


def can_request_revocation(actor, organisation_id: int | None) -> bool:
    """The registrar for their own organisation's holders; RU officers and managers
    for anyone."""
    role = _role(actor)
    if role == Role.ORG_REGISTRAR:
        return organisation_id is not None and actor.organisation_id == organisation_id
    return role in STAFF


def can_read_revocations(actor) -> bool:
    return _role(actor) in (*READERS, Role.ORG_REGISTRAR)


def can_decide(actor, req) -> bool:
    """Approve or reject: RU staff other than the requester and the confirmer."""
    if _role(actor) not in STAFF:
        return False
    return actor.id not in (req.requested_by_id, req.confirmed_by_id) and not _about_themselves(actor, req)


def _about_themselves(actor, req) -> bool:
    holder = req.holder
    return holder is not None and (holder.email or "").lower() == (actor.email or "").lower()


def can_confirm_lost(actor, req=None) -> bool:
    return _role(actor) in STAFF


def can_release_at_counter(actor, cert=None) -> bool:
    """DESIGN §3.4: a hold is released at the counter, with the token present."""
    return _role(actor) in STAFF


def can_retry(actor) -> bool:
    return _role(actor) in STAFF
