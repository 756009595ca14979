"""A small RU with known answers for October 2026 (local time), "now" being
2026-11-10 10:00 in Ulaanbaatar.

Organisations and staff go through the real services; the history (certificates
issued, revoked and held, tokens moved, handovers, orders, appointments,
revocation requests) is written as those services write it — the same tables,
the same audit actions through ``ra.audit.record`` — with the times chosen, so
that each figure has a known value. One test (test_end_to_end) checks that a real
handover is counted the same way.

Known answers for October 2026 (see the comments on each row):
  issued 6 — org A 3, B 2, C 1; khoroo 4, school 2; O1 3, O2 2, no handover 1;
             signing 5, authentication 1; c4 at 00:30 on 1 November local is out.
  revoked 2 (affiliationChanged, keyCompromise); held 2; released 1.
  expiring (from now): ≤30 days 2, ≤60 days 3, ≤90 days 4 (c11 is renewed by c12).
  handovers 5 (O1 3, O2 2); tokens returned 1, lost 1, suspended 2.
  appointments due 4: attended 2, no-shows 2; 1 cancelled in advance.
  revocation requests: 3 revocations received, 2 published (3 h, 26 h), 1 open
             and overdue → 2 breaches.
"""
from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ra import audit
from ra.auth.roles import Role
from ra.ca.models import Certificate, CertificateRequest
from ra.ca.states import CertificateStatus, RequestStatus
from ra.enrollment.holder_models import (Appointment, AppointmentSlot, CertificateOrder, Counter, Holder, OrderKind)
from ra.enrollment.models import Organisation
from ra.enrollment.order_states import AppointmentStatus, OrderStatus
from ra.localtime import LOCAL_TZ
from ra.revocation.models import RevocationApproval, RevocationRequest
from ra.revocation.states import Channel, Decision, Reason, RevocationStatus
from ra.tokens.handover_models import Handover
from ra.tokens.handover_states import HandoverStep, IdDocument
from ra.tokens.models import Token, TokenBatch
from ra.tokens.states import TokenStatus
from tests.factories import make_org, make_staff

NOW = datetime(2026, 11, 10, 10, 0, tzinfo=LOCAL_TZ)
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}
_n = itertools.count(1)


def local(y, mo, d, h=10, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=LOCAL_TZ)


@dataclass
class Scenario:
    officers: list
    manager: object
    auditor: object
    orgs: dict          # "A", "B", "C" → Organisation
    registrars: dict    # "A", "B", "C" → User
    certs: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    orders: dict = field(default_factory=dict)


class Builder:
    def __init__(self, session, ports):
        self.s, self.ports = session, ports
        self.batch = TokenBatch(reference=uuid.uuid4().hex[:16], model="SafeNet eToken 5110", supplier="Test",
                                received_on=date(2024, 1, 10), factory_so_pin=None, created_at=local(2024, 1, 10))
        session.add(self.batch)
        self.counter = Counter(name=f"Цонх R{next(_n)}", opens_at=time(9), closes_at=time(17), slot_minutes=30,
                               capacity=4, weekdays="1234567")
        session.add(self.counter)
        session.flush()

    def holder(self, org, surname="Батбаяр", given="Болормаа") -> Holder:
        n = next(_n)
        h = Holder(organisation_id=org.id, surname=surname, given_name=f"{given}{n}", latin_surname="Batbayar",
                   latin_given_name=f"Bolormaa{n}", register_number=f"УБ85{n:06d}"[:10], birth_date=date(1985, 1, 1),
                   position="Мэргэжилтэн", email=f"h{n}@{org.domains[0]}", created_at=local(2024, 1, 1))
        self.s.add(h)
        self.s.flush()
        return h

    def token(self, status=TokenStatus.ACTIVE, created=None) -> Token:
        t = Token(serial=f"RPT{uuid.uuid4().hex[:12].upper()}", batch_id=self.batch.id, status=status,
                  created_at=created or local(2024, 1, 10), status_changed_at=local(2024, 1, 10))
        self.s.add(t)
        self.s.flush()
        return t

    def order(self, org, holder, *, profile="signing", status=OrderStatus.ISSUED, submitted=None, decided=None,
              issued=None, decided_by=None) -> CertificateOrder:
        o = CertificateOrder(organisation_id=org.id, holder_id=holder.id, profile=profile, key_type="rsa2048",
                             kind=OrderKind.NEW, status=status, created_at=submitted or local(2024, 1, 1),
                             submitted_at=submitted, decided_at=decided, issued_at=issued,
                             decided_by_id=decided_by.id if decided_by else None)
        self.s.add(o)
        self.s.flush()
        if decided and status != OrderStatus.REJECTED:
            audit.record(self.s, decided_by, "order.approved", o, {"from": "submitted", "to": "approved"},
                         at=decided)
        return o

    def certificate(self, holder, issued: datetime, *, officer=None, profile="signing", not_after=None,
                    status=CertificateStatus.VALID, token=None, order=None) -> Certificate:
        n = next(_n)
        req = CertificateRequest(request_id=f"rpt-{uuid.uuid4().hex}", connector="embedded", profile=profile,
                                 order_id=order.id if order else None, holder_id=holder.id, csr_pem="-", key_type="rsa2048",
                                 public_key_sha256=uuid.uuid4().hex * 2, subject="CN=Test",
                                 status=RequestStatus.ISSUED, created_at=issued, completed_at=issued)
        self.s.add(req)
        self.s.flush()
        token = token or self.token()
        c = Certificate(request_pk=req.id, serial=f"{0x7000 + n:X}", issuer_key_id="ab" * 20, ca_name="test",
                        issuer="CN=Test CA", subject="CN=Test", not_before=issued,
                        not_after=not_after or issued + timedelta(days=730), pem="-", profile=profile,
                        order_id=order.id if order else None, holder_id=holder.id, token_id=token.id,
                        public_key_sha256=req.public_key_sha256, status=status, created_at=issued)
        self.s.add(c)
        self.s.flush()
        if officer is not None:
            o = order or self.order_for(holder, issued, officer, profile)
            self.s.add(Handover(request_id=f"ho-{uuid.uuid4().hex}", order_id=o.id, token_id=token.id,
                                step=HandoverStep.COMPLETED, id_document_type=IdDocument.ID_CARD,
                                id_document_number=holder.register_number, certificate_id=c.id,
                                officer_id=officer.id, created_at=issued, updated_at=issued, completed_at=issued))
            self.s.flush()
        return c

    def order_for(self, holder, issued, officer, profile) -> CertificateOrder:
        org = self.s.get(Organisation, holder.organisation_id)
        return self.order(org, holder, profile=profile, submitted=issued - timedelta(days=3),
                          decided=issued - timedelta(days=2), issued=issued, decided_by=officer)

    def revoke(self, cert, at: datetime, reason: str, actor):
        cert.status, cert.revoked_at, cert.revocation_reason = CertificateStatus.REVOKED, at, reason
        audit.record(self.s, actor, "certificate.revoked", cert, {"from": "valid", "to": "revoked", "reason": reason},
                     at=at)

    def hold(self, cert, at, actor):
        cert.status, cert.revocation_reason = CertificateStatus.SUSPENDED, "certificateHold"
        audit.record(self.s, actor, "certificate.suspended", cert, {"from": "valid", "to": "suspended"}, at=at)

    def release(self, cert, at, actor):
        cert.status, cert.revocation_reason = CertificateStatus.VALID, None
        audit.record(self.s, actor, "certificate.valid", cert, {"from": "suspended", "to": "valid"}, at=at)

    def token_event(self, token, target: TokenStatus, at, actor):
        frm = token.status
        token.status, token.status_changed_at = target, at
        audit.record(self.s, actor, f"token.{target.value}", token, {"from": frm.value, "to": target.value}, at=at)

    def appointment(self, order, starts: datetime, status=AppointmentStatus.BOOKED, *, created=None,
                    cancelled_at=None) -> Appointment:
        slot = AppointmentSlot(counter_id=self.counter.id, starts_at=starts, ends_at=starts + timedelta(minutes=30),
                               capacity=4, booked=1)
        self.s.add(slot)
        self.s.flush()
        a = Appointment(order_id=order.id, slot_id=slot.id, status=status, created_at=created or starts - timedelta(days=5),
                        cancelled_at=cancelled_at)
        self.s.add(a)
        self.s.flush()
        return a

    def revocation(self, cert, org, reason: Reason, received, *, published=None, status=RevocationStatus.COMPLETED,
                   approver=None, approved_at=None) -> RevocationRequest:
        n = next(_n)
        r = RevocationRequest(number=f"ЦХ-2026/R{n:05d}", certificate_id=cert.id, serial=cert.serial,
                              organisation_id=org.id, holder_id=cert.holder_id, token_id=cert.token_id, reason=reason,
                              channel=Channel.REGISTRAR, status=status, requested_by="registrar@test", received_at=received,
                              approved_at=approved_at, completed_at=published, closed_at=published, published_at=published,
                              created_at=received)
        self.s.add(r)
        self.s.flush()
        if approver is not None:
            self.s.add(RevocationApproval(request_id=r.id, approver_id=approver.id, decision=Decision.APPROVE,
                                          at=approved_at))
            self.s.flush()
        return r


def build(session, ports) -> Scenario:
    """``ports.clock`` must be frozen at ``NOW`` (the ``scenario`` fixture does it)."""
    o1, o2 = make_staff(session, ports, Role.RA_OFFICER), make_staff(session, ports, Role.RA_OFFICER)
    o1.full_name, o2.full_name = "Officer One", "Officer Two"
    manager, auditor = make_staff(session, ports, Role.RA_MANAGER), make_staff(session, ports, Role.AUDITOR)
    orgs, regs = {}, {}
    for key, kind, district in (("A", "khoroo", "sukhbaatar"), ("B", "school", "bayangol"), ("C", "khoroo", "khan_uul")):
        orgs[key], regs[key] = make_org(session, ports, status="active", officer=o1, kind=kind, district=district,
                                        name=f"Report test org {key} {uuid.uuid4().hex[:6]}")
    sc = Scenario([o1, o2], manager, auditor, orgs, regs)
    b = Builder(session, ports)
    A, B, C = orgs["A"], orgs["B"], orgs["C"]
    soon = lambda days: NOW + timedelta(days=days)  # noqa: E731
    # -- issued in October -------------------------------------------------------------------------------
    sc.certs["c1"] = b.certificate(b.holder(A), local(2026, 10, 3), officer=o1, not_after=soon(20))
    sc.certs["c2"] = b.certificate(b.holder(A), local(2026, 10, 15, 14), officer=o2, profile="authentication",
                                   not_after=soon(45))
    sc.certs["c3"] = b.certificate(b.holder(A), local(2026, 10, 31, 23, 30), officer=o1)   # last half hour: in
    sc.certs["c4"] = b.certificate(b.holder(A), local(2026, 11, 1, 0, 30), officer=o2)     # 1 November: out
    sc.certs["c7"] = b.certificate(b.holder(B), local(2026, 10, 7), officer=o2, not_after=soon(80))
    sc.certs["c8"] = b.certificate(b.holder(B), local(2026, 10, 8))                        # no handover recorded
    h11 = b.holder(C)
    sc.certs["c11"] = b.certificate(h11, local(2024, 11, 15), officer=o1, not_after=soon(5))  # renewed by c12
    sc.certs["c12"] = b.certificate(h11, local(2026, 10, 21), officer=o1)
    sc.certs["c13"] = b.certificate(b.holder(C), local(2024, 12, 1), officer=o2, not_after=soon(25))
    # -- revoked and held ----------------------------------------------------------------------------------
    sc.certs["c5"] = c5 = b.certificate(b.holder(A), local(2026, 9, 20), officer=o1)
    b.revoke(c5, local(2026, 10, 5, 12), "affiliationChanged", o2)
    b.token_event(b.s.get(Token, c5.token_id), TokenStatus.RETURNED, local(2026, 10, 5, 12), o2)
    sc.certs["c6"] = c6 = b.certificate(b.holder(A), local(2026, 8, 1), officer=o1)
    b.hold(c6, local(2026, 10, 10), o1)
    b.token_event(b.s.get(Token, c6.token_id), TokenStatus.SUSPENDED, local(2026, 10, 10), o1)
    sc.certs["c9"] = c9 = b.certificate(b.holder(B), local(2026, 6, 1), officer=o1)
    b.hold(c9, local(2026, 10, 12), o1)
    b.token_event(b.s.get(Token, c9.token_id), TokenStatus.SUSPENDED, local(2026, 10, 12), o1)
    b.release(c9, local(2026, 10, 14), o1)
    b.token_event(b.s.get(Token, c9.token_id), TokenStatus.ACTIVE, local(2026, 10, 14), o1)
    sc.certs["c10"] = c10 = b.certificate(b.holder(B), local(2025, 6, 1), officer=o2)
    b.revoke(c10, local(2026, 10, 25, 10), "keyCompromise", o1)
    b.token_event(b.s.get(Token, c10.token_id), TokenStatus.LOST, local(2026, 10, 25, 10), o1)
    b.revoke(b.certificate(b.holder(C), local(2025, 1, 1)), local(2026, 9, 30, 12), "superseded", o1)  # September
    # -- stock: four tokens received on 2 October, one long ago --------------------------------------------
    sc.tokens["stock"] = [b.token(TokenStatus.IN_STOCK, local(2026, 10, 2)) for _ in range(4)]
    b.token(TokenStatus.IN_STOCK, local(2025, 3, 3))
    # -- orders: service times ----------------------------------------------------------------------------
    sc.orders["fast"] = b.order(A, b.holder(A), submitted=local(2026, 10, 1, 9), decided=local(2026, 10, 1, 15),
                                issued=local(2026, 10, 3, 10), decided_by=o1)
    sc.orders["slow"] = b.order(B, b.holder(B), submitted=local(2026, 9, 28, 9), decided=local(2026, 10, 2, 9),
                                issued=local(2026, 10, 9, 9), decided_by=o2)
    sc.orders["waiting"] = b.order(C, b.holder(C), status=OrderStatus.APPROVED, submitted=local(2026, 10, 20, 9),
                                   decided=local(2026, 10, 20, 21), decided_by=o1)
    rejected = b.order(B, b.holder(B), status=OrderStatus.REJECTED, submitted=local(2026, 10, 10, 9),
                       decided=local(2026, 10, 11, 9), decided_by=o2)
    audit.record(session, o2, "order.rejected", rejected, {"from": "submitted", "to": "rejected"}, at=local(2026, 10, 11, 9))
    # -- unblocks: two at the counter by O1, one remote by the holder ------------------------------------------
    t1 = b.s.get(Token, sc.certs["c1"].token_id)
    for day in (16, 17):
        audit.record(session, o1, "token.unblocked", t1, {"channel": "counter"}, at=local(2026, 10, day))
    audit.record(session, "holder@test", "token.unblocked", t1, {"channel": "remote"}, at=local(2026, 10, 18))
    # -- appointments ------------------------------------------------------------------------------------------
    a_orders = [b.order(A, b.holder(A), status=OrderStatus.SCHEDULED, submitted=local(2026, 9, 1),
                        decided=local(2026, 9, 2), decided_by=o1) for _ in range(5)]
    b.appointment(a_orders[0], local(2026, 10, 3, 10), AppointmentStatus.ATTENDED)
    first = b.appointment(a_orders[1], local(2026, 10, 6, 10), AppointmentStatus.RESCHEDULED)  # no-show, moved later
    b.appointment(a_orders[1], local(2026, 10, 7, 10), AppointmentStatus.ATTENDED, created=local(2026, 10, 6, 15))
    assert first.id
    b.appointment(a_orders[2], local(2026, 10, 20, 10), AppointmentStatus.CANCELLED,
                  cancelled_at=local(2026, 10, 18, 9))                                             # in advance
    b.appointment(a_orders[3], local(2026, 10, 28, 11))                                            # never came
    b.appointment(a_orders[4], local(2026, 11, 12, 11))                                            # not due yet
    # -- revocation requests ---------------------------------------------------------------------------------
    b.revocation(c5, A, Reason.AFFILIATION_CHANGED, local(2026, 10, 5, 9), published=local(2026, 10, 5, 12),
                 approver=o2, approved_at=local(2026, 10, 5, 11))
    b.revocation(c10, B, Reason.KEY_COMPROMISE, local(2026, 10, 24, 8), published=local(2026, 10, 25, 10),
                 approver=o1, approved_at=local(2026, 10, 25, 9))
    b.revocation(sc.certs["c7"], B, Reason.SUPERSEDED, local(2026, 10, 30, 9), status=RevocationStatus.AWAITING_APPROVAL)
    b.revocation(c6, A, Reason.CERTIFICATE_HOLD, local(2026, 10, 10), published=local(2026, 10, 10, 1))
    session.flush()
    return sc
