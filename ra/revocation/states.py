"""Revocation requests and lost-token reports: reasons, channels and states
(DESIGN §3.4; RFC 5280 §5.3.1 CRLReason).

A revocation request (``RevocationStatus``):

``awaiting_confirmation`` (a lost-token report: the certificate is already on
hold; the holder's "lost, not misplaced" or an officer's confirmation is awaited)
→ ``awaiting_approval`` (dual control: more RU staff must approve) → ``approved``
(approved, awaiting the CA: the connector is called, and retried by the worker
while the CA is down) → ``completed`` (the CA did it; for the embedded CA the CRL
that lists it is published in the same unit of work). Side exits: ``rejected``
(an approver said no, or the CA refused for good), ``cancelled`` (the token was
found, the token was only misplaced, or the certificate was revoked otherwise).

A hold (certificateHold) and a release (removeFromCRL) are requests too, born
``approved``: they need no second approver, only the CA.
"""
from __future__ import annotations

import enum

from ra.i18n import _l
from ra.states import StateMachine


class Reason(str, enum.Enum):
    """RFC 5280 §5.3.1 CRLReason, spelt as ``cryptography.x509.ReasonFlags`` values."""
    KEY_COMPROMISE = "keyCompromise"                  # the token was lost or stolen
    AFFILIATION_CHANGED = "affiliationChanged"        # a position change, or the holder left
    SUPERSEDED = "superseded"                         # replaced by a new certificate
    CESSATION_OF_OPERATION = "cessationOfOperation"   # the organisation stops
    CERTIFICATE_HOLD = "certificateHold"              # suspension
    REMOVE_FROM_CRL = "removeFromCRL"                 # release of a hold

    @property
    def label(self):
        return REASON_LABELS[self]

    @property
    def is_revocation(self) -> bool:
        return self not in (Reason.CERTIFICATE_HOLD, Reason.REMOVE_FROM_CRL)


REASON_LABELS = {
    Reason.KEY_COMPROMISE: _l("Key compromise (token lost or stolen)"),
    Reason.AFFILIATION_CHANGED: _l("Affiliation changed (new position or left the organisation)"),
    Reason.SUPERSEDED: _l("Superseded (replaced)"),
    Reason.CESSATION_OF_OPERATION: _l("Cessation of operation (the organisation stops)"),
    Reason.CERTIFICATE_HOLD: _l("Certificate hold (suspension)"),
    Reason.REMOVE_FROM_CRL: _l("Remove from CRL (release of a hold)"),
}

# What a registrar, an officer or the API may ask for with a new request.
REQUESTABLE = (Reason.KEY_COMPROMISE, Reason.AFFILIATION_CHANGED, Reason.SUPERSEDED, Reason.CESSATION_OF_OPERATION,
               Reason.CERTIFICATE_HOLD)


class Channel(str, enum.Enum):
    REGISTRAR = "registrar"   # the organisation's registration officer, in the portal or the API
    HOLDER = "holder"         # the holder, by the registered e-mail and a one-time code
    OFFICER = "officer"       # an RU officer (at the counter, in the portal or the API)

    @property
    def label(self):
        return {Channel.REGISTRAR: _l("Registration officer"), Channel.HOLDER: _l("Holder (e-mail and code)"),
                Channel.OFFICER: _l("RU officer")}[self]


class RevocationStatus(str, enum.Enum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def label(self):
        return STATUS_LABELS[self]


STATUS_LABELS = {
    RevocationStatus.AWAITING_CONFIRMATION: _l("On hold, awaiting confirmation that the token is lost"),
    RevocationStatus.AWAITING_APPROVAL: _l("Awaiting approval"),
    RevocationStatus.APPROVED: _l("Approved, awaiting the CA"),
    RevocationStatus.COMPLETED: _l("Completed"),
    RevocationStatus.REJECTED: _l("Rejected"),
    RevocationStatus.CANCELLED: _l("Cancelled"),
}

R = RevocationStatus
OPEN = (R.AWAITING_CONFIRMATION, R.AWAITING_APPROVAL, R.APPROVED)
CLOSED = (R.COMPLETED, R.REJECTED, R.CANCELLED)

revocation_states = StateMachine(
    "revocation_request",
    {
        R.AWAITING_CONFIRMATION: {R.AWAITING_APPROVAL, R.APPROVED, R.CANCELLED},
        R.AWAITING_APPROVAL: {R.APPROVED, R.REJECTED, R.CANCELLED},
        R.APPROVED: {R.COMPLETED, R.REJECTED, R.CANCELLED},
        R.COMPLETED: set(),
        R.REJECTED: set(),
        R.CANCELLED: set(),
    },
)


class Decision(str, enum.Enum):
    APPROVE = "approve"
    REJECT = "reject"


class LostReportStatus(str, enum.Enum):
    """A holder's lost-token report: ``code_sent`` → ``confirmed`` (the code was
    proved: the token is suspended and its certificates on hold); side exits
    ``expired`` (30 minutes passed), ``locked`` (too many wrong codes). A report
    that came when no code could be sent (three in the last hour) is kept as
    ``not_sent``, for the officer to see."""
    CODE_SENT = "code_sent"
    CONFIRMED = "confirmed"
    EXPIRED = "expired"
    LOCKED = "locked"
    NOT_SENT = "not_sent"

    @property
    def label(self):
        return {LostReportStatus.CODE_SENT: _l("Code sent"), LostReportStatus.CONFIRMED: _l("Confirmed"),
                LostReportStatus.EXPIRED: _l("Code expired"), LostReportStatus.LOCKED: _l("Locked (wrong codes)"),
                LostReportStatus.NOT_SENT: _l("No code sent (limit reached)")}[self]


L = LostReportStatus
lost_report_states = StateMachine(
    "lost_token_report",
    {L.CODE_SENT: {L.CONFIRMED, L.EXPIRED, L.LOCKED}, L.CONFIRMED: set(), L.EXPIRED: set(), L.LOCKED: set(),
     L.NOT_SENT: set()},
)
