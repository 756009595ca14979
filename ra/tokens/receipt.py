"""The two documents of the counter handover (DESIGN §3.3 steps 3 and 8), rendered
with WeasyPrint through ``ports.documents``:

- the **handover receipt** (акт): holder, register number, organisation, token
  serial, certificate serial and validity, officer, date, and lines for both
  signatures. It is kept (``ports.files``) as the record the holder signed for
  (ETSI EN 319 411-1 REG-6.2.2: the subscriber's acknowledgement is recorded);
- the **sealed PIN envelope**: the random user PIN printed once. It is never
  kept: the bytes go to the officer's printer and nowhere else.
"""
from __future__ import annotations

from ra.i18n import _l


def receipt_pdf(h, *, ports, locale: str = "mn") -> bytes:
    cert = h.certificate
    return ports.documents.render(
        "receipt_handover.html", number=h.receipt_number, title=_l("Token handover receipt"), locale=locale,
        handover=h, holder=h.holder, order=h.order, organisation=h.order.organisation, token=h.token,
        certificate=cert, officer=h.officer, handed_over_at=h.completed_at)


def pin_envelope_pdf(h, user_pin: str, *, ports, locale: str = "mn") -> bytes:
    """The PIN travels only inside the returned bytes."""
    number = f"PIN-{h.id:06d}-{h.envelopes_printed}"
    return ports.documents.render(
        "pin_envelope.html", number=number, title=_l("PIN envelope"), locale=locale, handover=h,
        holder=h.holder, token=h.token, user_pin=user_pin, envelope_no=h.envelopes_printed,
        printed_at=ports.clock.now())
