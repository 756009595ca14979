"""Organisation states, DESIGN §3.1."""
import enum

from flask_babel import lazy_gettext as _l

from ra.states import StateMachine


class OrganisationStatus(str, enum.Enum):
    PENDING = "pending"              # registered; the request letter is not in yet
    UNDER_REVIEW = "under_review"    # request letter uploaded; waiting for an officer
    CONTRACT_SENT = "contract_sent"  # approved; contract generated and e-mailed
    ACTIVE = "active"
    REJECTED = "rejected"
    SUSPENDED = "suspended"

    @property
    def label(self):
        return STATUS_LABELS[self]


STATUS_LABELS = {
    OrganisationStatus.PENDING: _l("Awaiting request letter"),
    OrganisationStatus.UNDER_REVIEW: _l("Under review"),
    OrganisationStatus.CONTRACT_SENT: _l("Contract sent"),
    OrganisationStatus.ACTIVE: _l("Active"),
    OrganisationStatus.REJECTED: _l("Rejected"),
    OrganisationStatus.SUSPENDED: _l("Suspended"),
}

S = OrganisationStatus
organisation_states = StateMachine(
    "organisation",
    {
        S.PENDING: {S.UNDER_REVIEW, S.REJECTED},
        S.UNDER_REVIEW: {S.CONTRACT_SENT, S.REJECTED},
        S.CONTRACT_SENT: {S.ACTIVE, S.REJECTED},
        S.ACTIVE: {S.SUSPENDED},
        S.SUSPENDED: {S.ACTIVE},
        S.REJECTED: set(),
    },
)
