"""What a token event means for the certificates on it (DESIGN §3.3, §3.4).

The token module decides *which* effect a transition calls for, with the reason
code of RFC 5280 §5.3.1; the revocation module carries it out (hold, release,
revoke through the CA connector). Until that module registers its handler in
``ports.extra[HANDLER_KEY]`` the effect is *not* silently dropped: it is returned
as ``not_connected``, written to the audit record, and shown to the officer.
"""
from __future__ import annotations

from dataclasses import dataclass

from ra.tokens.states import TokenStatus as S

HANDLER_KEY = "token_certificate_effects"

# RFC 5280 §5.3.1 CRLReason names, as the revocation module spells them.
KEY_COMPROMISE = "keyCompromise"
AFFILIATION_CHANGED = "affiliationChanged"
CESSATION_OF_OPERATION = "cessationOfOperation"
CERTIFICATE_HOLD = "certificateHold"
REMOVE_FROM_CRL = "removeFromCRL"

RETURN_REASONS = (CESSATION_OF_OPERATION, AFFILIATION_CHANGED)


@dataclass(frozen=True)
class CertificateEffect:
    action: str          # "hold", "release" or "revoke"
    reason: str          # RFC 5280 §5.3.1 reason
    state: str = "requested"   # "requested" → "done" / "not_connected"

    def as_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason, "state": self.state}


def effect_for(source: S, target: S, *, return_reason: str | None = None) -> CertificateEffect | None:
    """DESIGN §3.3: suspended → certificates on hold; found → released; lost →
    revoked keyCompromise; damaged → revoked; returned → revoked cessationOfOperation
    or affiliationChanged. Moves inside the stock (wipe, destroy) touch no certificate:
    they were revoked when the token left the holder."""
    if target == S.SUSPENDED:
        return CertificateEffect("hold", CERTIFICATE_HOLD)
    if source == S.SUSPENDED and target == S.ACTIVE:
        return CertificateEffect("release", REMOVE_FROM_CRL)
    if target == S.LOST:
        return CertificateEffect("revoke", KEY_COMPROMISE)
    if target == S.DAMAGED and source != S.IN_STOCK:  # a stock token holds no certificate of a holder
        return CertificateEffect("revoke", CESSATION_OF_OPERATION)
    if target == S.RETURNED:
        return CertificateEffect("revoke", return_reason or CESSATION_OF_OPERATION)
    return None


def carry_out(session, actor, token, effect: CertificateEffect | None, *, ports) -> CertificateEffect | None:
    """Hands the effect to the revocation module's handler, in the caller's
    transaction. Without a handler the effect comes back ``not_connected`` so the
    caller audits it and the page tells the officer to act at the CA by hand."""
    if effect is None:
        return None
    handler = (getattr(ports, "extra", None) or {}).get(HANDLER_KEY)
    if handler is None:
        return CertificateEffect(effect.action, effect.reason, "not_connected")
    handler(session, actor, token, effect)
    return CertificateEffect(effect.action, effect.reason, "done")
