"""Certificate and certificate-request states (RFC 5280 §3.3 revocation and hold).

A certificate is ``valid`` until it is put on hold (``suspended``), revoked or
expires; a hold may be released; revocation and expiry are final. Only these
tables change a state, and every change is audited (``ra.states``).
"""
import enum

from ra.i18n import _l
from ra.states import StateMachine


class CertificateStatus(str, enum.Enum):
    VALID = "valid"
    SUSPENDED = "suspended"  # certificateHold (RFC 5280 §5.3.1)
    REVOKED = "revoked"
    EXPIRED = "expired"

    @property
    def label(self):
        return CERTIFICATE_LABELS[self]


CERTIFICATE_LABELS = {
    CertificateStatus.VALID: _l("Valid"),
    CertificateStatus.SUSPENDED: _l("Suspended"),
    CertificateStatus.REVOKED: _l("Revoked"),
    CertificateStatus.EXPIRED: _l("Expired"),
}

C = CertificateStatus
certificate_states = StateMachine(
    "certificate",
    {
        C.VALID: {C.SUSPENDED, C.REVOKED, C.EXPIRED},
        C.SUSPENDED: {C.VALID, C.REVOKED, C.EXPIRED},
        C.REVOKED: set(),
        C.EXPIRED: set(),
    },
)


class RequestStatus(str, enum.Enum):
    """A CSR on its way to the CA. ``pending`` covers "recorded, not yet answered"
    and "accepted by the CA, certificate not ready yet" (the CA's reference tells
    which); ``rejected`` is final: a new request id is needed."""
    PENDING = "pending"
    ISSUED = "issued"
    REJECTED = "rejected"

    @property
    def label(self):
        return REQUEST_LABELS[self]


REQUEST_LABELS = {
    RequestStatus.PENDING: _l("Waiting for the CA"),
    RequestStatus.ISSUED: _l("Issued"),
    RequestStatus.REJECTED: _l("Rejected"),
}

R = RequestStatus
request_states = StateMachine(
    "certificate_request",
    {
        R.PENDING: {R.ISSUED, R.REJECTED},
        R.ISSUED: set(),
        R.REJECTED: set(),
    },
)
