"""The revocation confirmation (PDF, WeasyPrint through ``ports.documents``): what
was asked, by whom and when, who approved it, when the CA did it and which CRL
first listed it — the record the holder's organisation files (ETSI EN 319 411-1:
revocation requests and their processing are recorded)."""
from __future__ import annotations

from ra.ca.models import Certificate
from ra.enrollment.models import Organisation
from ra.revocation import queries as q
from ra.revocation.states import RevocationStatus

TITLE = "Гэрчилгээ цуцлах хүсэлтийн баталгаажуулалт"


def confirmation_pdf(req, *, ports, locale: str = "mn") -> bytes:
    """Rendered on request from the records (nothing stored): the same request
    always prints the same facts."""
    cert = ports_session(req).get(Certificate, req.certificate_id)
    org = ports_session(req).get(Organisation, req.organisation_id) if req.organisation_id else None
    clock = q.clock_of(req, ports.clock.now())
    return ports.documents.render(
        "revocation_confirmation.html", number=req.number, title=TITLE, locale=locale, req=req, cert=cert,
        org=org, holder=req.holder, approvals=list(req.approvals), clock=clock, S=RevocationStatus,
        printed_at=ports.clock.now())


def ports_session(obj):
    from sqlalchemy.orm import object_session

    return object_session(obj)
