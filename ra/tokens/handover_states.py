"""The counter handover as a persisted step machine (DESIGN §3.3 steps 1–8).

``HandoverStep`` is the last step *done*; each step is committed before the next
one starts, so a handover interrupted anywhere (a crash, a CA outage, a pulled
token) resumes from its state. Only ``handover_steps.transition`` moves it, and
every move is an audit record (CA/B Forum BR §5.4.1: requests and issuance are
logged; ETSI EN 319 411-1 REG-6.2.2: the identity check is recorded).
"""
from __future__ import annotations

import enum

from ra.i18n import _l
from ra.states import StateMachine


class HandoverStep(str, enum.Enum):
    IDENTITY_CHECKED = "identity_checked"      # 1. ID document checked against the register number
    TOKEN_PICKED = "token_picked"              # 2. a stock token in the reader chosen
    TOKEN_INITIALISED = "token_initialised"    # 3. C_InitToken, SO PIN replaced and escrowed, user PIN set
    KEY_GENERATED = "key_generated"            # 4. key pair generated on the token, attributes read back
    CSR_SIGNED = "csr_signed"                  # 5. PKCS#10 request signed on the token
    CERTIFICATE_ISSUED = "certificate_issued"  # 6. the CA issued the certificate
    CERTIFICATE_WRITTEN = "certificate_written"  # 7. the certificate is on the token, read back
    COMPLETED = "completed"                    # 8. order issued, token active, receipt printed
    CANCELLED = "cancelled"                    # stopped before the CA was asked; token back in stock
    ABANDONED = "abandoned"                    # the token failed; recorded damaged, the order waits for another

    @property
    def label(self):
        return STEP_LABELS[self]

    @property
    def number(self) -> int:
        """The DESIGN §3.3 step this state completes (0 for cancelled)."""
        return DESIGN_STEP[self]


H = HandoverStep
ORDERED = (H.IDENTITY_CHECKED, H.TOKEN_PICKED, H.TOKEN_INITIALISED, H.KEY_GENERATED, H.CSR_SIGNED,
           H.CERTIFICATE_ISSUED, H.CERTIFICATE_WRITTEN, H.COMPLETED)
FINISHED = (H.COMPLETED, H.CANCELLED, H.ABANDONED)
# Until the CA has been asked, a handover may be cancelled and the token wiped.
# From CSR_SIGNED on the CA may hold a request for this handover: cancelling is
# refused unless that request was rejected (``handover_service.cancel_handover``).
CANCELLABLE = frozenset({H.IDENTITY_CHECKED, H.TOKEN_PICKED, H.TOKEN_INITIALISED, H.KEY_GENERATED, H.CSR_SIGNED})

DESIGN_STEP = {H.IDENTITY_CHECKED: 1, H.TOKEN_PICKED: 2, H.TOKEN_INITIALISED: 3, H.KEY_GENERATED: 4, H.CSR_SIGNED: 5, H.CERTIFICATE_ISSUED: 6, H.CERTIFICATE_WRITTEN: 7,
               H.COMPLETED: 8, H.CANCELLED: 0, H.ABANDONED: 0}

STEP_LABELS = {
    H.IDENTITY_CHECKED: _l("Identity checked"),
    H.TOKEN_PICKED: _l("Token taken from stock"),
    H.TOKEN_INITIALISED: _l("Token initialised, user PIN set"),
    H.KEY_GENERATED: _l("Key pair generated on the token"),
    H.CSR_SIGNED: _l("Certificate request signed on the token"),
    H.CERTIFICATE_ISSUED: _l("Certificate issued by the CA"),
    H.CERTIFICATE_WRITTEN: _l("Certificate written to the token"),
    H.COMPLETED: _l("Handed over; receipt printed"),
    H.CANCELLED: _l("Cancelled"),
    H.ABANDONED: _l("Abandoned (token failed)"),
}


def _forward(i: int) -> set:
    nxt = {ORDERED[i + 1]} if i + 1 < len(ORDERED) else set()
    # CERTIFICATE_ISSUED → CANCELLED only with the certificate revoked (``abandon_handover``).
    stoppable = ORDERED[i] in CANCELLABLE or ORDERED[i] == H.CERTIFICATE_ISSUED
    # Once a token is in it, a token that fails may end any unfinished handover.
    failable = H.TOKEN_PICKED in ORDERED[:i + 1] and ORDERED[i] != H.COMPLETED
    return nxt | ({H.CANCELLED} if stoppable else set()) | ({H.ABANDONED} if failable else set())


handover_steps = StateMachine("handover", {**{s: _forward(i) for i, s in enumerate(ORDERED)}, H.CANCELLED: set(),
                                           H.ABANDONED: set()}, attr="step")


def next_step(step: HandoverStep) -> HandoverStep | None:
    if step in FINISHED:
        return None
    return ORDERED[ORDERED.index(step) + 1]


class IdDocument(str, enum.Enum):
    """The identity document the holder shows; both carry the state register number."""
    ID_CARD = "id_card"        # иргэний үнэмлэх
    PASSPORT = "passport"      # гадаад паспорт

    @property
    def label(self):
        return {IdDocument.ID_CARD: _l("National ID card"), IdDocument.PASSPORT: _l("Passport")}[self]


class PinSource(str, enum.Enum):
    TYPED = "typed"            # the holder typed it at the counter
    ENVELOPE = "envelope"      # random, printed on a sealed PIN envelope

    @property
    def label(self):
        return {PinSource.TYPED: _l("typed by the holder"), PinSource.ENVELOPE: _l("sealed PIN envelope")}[self]
