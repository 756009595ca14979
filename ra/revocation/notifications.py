"""Who is told what (DESIGN §3.4: the holder and the registration officer are
notified). Messages are queued in the outbox in the unit of work that made the
change and go out after its commit; each reader gets their own language.

The one-time code of a lost-token report is the exception: it is sent straight
after the response and never written to the outbox (``lost_reports.deliver_code``).
"""
from __future__ import annotations

from ra.enrollment.models import Organisation
from ra.revocation import queries as q
from ra.revocation.states import Reason, RevocationStatus


def _template(req) -> str | None:
    if req.status == RevocationStatus.REJECTED:
        return "revocation_rejected"
    if req.status != RevocationStatus.COMPLETED:
        return None
    if req.reason == Reason.CERTIFICATE_HOLD:
        # A lost-token report's holds are told by the report's own message.
        return None if req.lost_report_id else "revocation_suspended"
    if req.reason == Reason.REMOVE_FROM_CRL:
        return "revocation_released"
    return "revocation_completed"


def _recipients(session, req):
    holder = req.holder
    if holder is not None and holder.email:
        yield holder.email, holder.locale or "mn"
    org = session.get(Organisation, req.organisation_id) if req.organisation_id else None
    if org is not None and org.registrar_email and (holder is None or org.registrar_email != holder.email):
        yield org.registrar_email, q.registrar_locale(session, org.id)


def outcome(session, req, *, ports) -> None:
    """What became of a request: revoked, suspended, released or rejected."""
    template = _template(req)
    if template is None or ports.notifier is None:
        return
    context = {"req": req, "holder": req.holder, "reason_label": req.reason.label, "serial": req.serial}
    for to, locale in _recipients(session, req):
        ports.notifier.notify(session, to=to, locale=locale, template=template, context=context)


def lost_report_confirmed(session, report, requests, *, holds_possible: bool, ports) -> None:
    """The holder confirmed a lost-token report: the holder gets the record of it
    (and what to do next), the registration officer the news."""
    if ports.notifier is None:
        return
    holder, token = report.holder, report.token
    serials = sorted({r.serial for r in requests})
    context = {"report": report, "holder": holder, "token": token, "serials": serials,
               "lost": report.certainly_lost, "holds_possible": holds_possible}
    ports.notifier.notify(session, to=holder.email, locale=holder.locale or "mn", template="lost_token_confirmed",
                          context=context)
    org = session.get(Organisation, holder.organisation_id)
    if org is not None and org.registrar_email and org.registrar_email != holder.email:
        ports.notifier.notify(session, to=org.registrar_email, locale=q.registrar_locale(session, org.id),
                              template="lost_token_reported", context=context)
