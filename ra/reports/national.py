"""``flask --app ra demo --scale national``: a national-scale data set for the reports
and their benchmark — 10,000 organisations of the 13 kinds in the 9 districts,
their registration officers, ~360,000 holders, 1,000,000 certificates over 8
years with their orders, requests, handovers, tokens and counter appointments,
~150,000 revocations and suspensions with RFC 5280 reasons and their revocation
requests, and the audit records the reports read.

It writes the domains' own tables directly, in bulk (COPY … FROM STDIN on
PostgreSQL, executemany elsewhere), with ids drawn in advance; it does not go
through the services, which would take days at this size. What it does not make:
real certificates (the PEM and CSR columns hold a marker, there are no keys) and
the audit records no report reads (logins, document uploads, each handover
step). The audit records it does write extend the hash chain properly
(``flask --app ra audit verify`` passes). Numbering series (contracts,
revocation requests) and id sequences are moved past what it used.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa

from ra.audit.models import AuditChainHead
from ra.audit.service import GENESIS, chain_hash, content_of
from ra.enrollment.models import DocumentCounter
from ra.extensions import db
from ra.reports.national_data import SCALES, Scale

log = logging.getLogger("ra.reports.national")

MARKER_REGISTRY = "9000000"  # the first national organisation's registry number

COLUMNS = {
    "organisation": ("id", "name", "registry_number", "kind", "district", "address", "phone", "email_domains",
                     "status", "registrar_name", "registrar_position", "registrar_email", "registrar_phone",
                     "contract_number", "contract_date", "created_at"),
    "user_account": ("id", "email", "full_name", "role", "organisation_id", "password_hash", "locale", "is_enabled",
                     "session_version", "created_at"),
    "counter": ("id", "name", "location", "opens_at", "closes_at", "break_starts", "break_ends", "slot_minutes",
                "capacity", "weekdays", "is_active", "created_at"),
    "token_batch": ("id", "reference", "model", "supplier", "received_on", "note", "created_at"),
    "token": ("id", "serial", "batch_id", "status", "label", "status_changed_at", "created_at", "initialised_at"),
    "holder": ("id", "organisation_id", "surname", "given_name", "clan_name", "latin_surname", "latin_given_name",
               "register_number", "birth_date", "position", "department", "email", "phone", "locale", "status",
               "listed_in", "created_at"),
    "certificate_order": ("id", "organisation_id", "holder_id", "profile", "key_type", "kind", "status",
                          "requested_by_id", "created_at", "submitted_at", "decided_by_id", "decided_at", "reason",
                          "certificate_serial", "certificate_not_after", "issuer", "issued_at"),
    "certificate_request": ("id", "request_id", "connector", "profile", "order_id", "holder_id", "csr_pem",
                            "key_type", "public_key_sha256", "subject", "status", "attempts", "last_attempt_at",
                            "created_at", "completed_at"),
    "certificate": ("id", "request_pk", "serial", "issuer_key_id", "ca_name", "issuer", "subject", "not_before",
                    "not_after", "pem", "profile", "order_id", "holder_id", "token_id", "public_key_sha256", "status",
                    "revoked_at", "revocation_reason", "created_at"),
    "handover": ("id", "request_id", "order_id", "token_id", "step", "id_document_type", "id_document_number",
                 "pin_source", "envelopes_printed", "key_type", "public_key_sha256", "certificate_id",
                 "receipt_number", "runs", "officer_id", "created_at", "updated_at", "completed_at"),
    "appointment_slot": ("id", "counter_id", "starts_at", "ends_at", "capacity", "booked"),
    "appointment": ("id", "order_id", "slot_id", "status", "sequence", "booked_by_id", "created_at",
                    "cancelled_by_id", "cancelled_at", "reason"),
    "revocation_request": ("id", "number", "certificate_id", "serial", "organisation_id", "holder_id", "token_id",
                           "reason", "channel", "status", "note", "requested_by_id", "requested_by", "confirmed_by_id",
                           "received_at", "approved_at", "completed_at", "closed_at", "published_at", "crl_number",
                           "attempts", "outcome", "created_at"),
    "revocation_approval": ("id", "request_id", "approver_id", "decision", "note", "at"),
    "audit_record": ("id", "seq", "at", "actor_id", "actor", "action", "object_type", "object_id", "details",
                     "prev_hash", "hash"),
}
ORDER = tuple(COLUMNS)  # parents before children: every flush keeps foreign keys satisfied


class Writer:
    """Buffers rows per table; a flush writes every table in ``ORDER``."""

    def __init__(self, session, threshold: int = 50_000):
        self.session = session
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.threshold = threshold
        self.buf: dict[str, list[tuple]] = {t: [] for t in ORDER}
        self.written: dict[str, int] = {t: 0 for t in ORDER}
        self.next_id = {t: self._max_id(t) + 1 for t in ORDER}

    def _max_id(self, table: str) -> int:
        return self.session.execute(sa.text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one()

    def new_id(self, table: str) -> int:
        i = self.next_id[table]
        self.next_id[table] = i + 1
        return i

    def add(self, table: str, row: tuple) -> None:
        self.buf[table].append(row)

    def maybe_flush(self, *, keep=()) -> None:
        if any(len(rows) >= self.threshold for t, rows in self.buf.items() if t not in keep):
            self.flush(keep=keep)

    def flush(self, *, keep=()) -> None:
        for table in ORDER:
            if table in keep or not self.buf[table]:
                continue
            rows, self.buf[table] = self.buf[table], []
            self._write(table, rows)
            self.written[table] += len(rows)

    def _write(self, table: str, rows: list[tuple]) -> None:
        cols = COLUMNS[table]
        if self.pg:
            raw = self.session.connection().connection.driver_connection
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        t = db.metadata.tables[table]
        for i in range(0, len(rows), 5000):
            self.session.execute(t.insert(), [dict(zip(cols, r)) for r in rows[i:i + 5000]])

    def finish(self) -> None:
        self.flush()
        if self.pg:
            for table in ORDER:
                self.session.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"))


@dataclass
class Audit:
    """Audit events collected during generation, appended at the end in time order
    with the chain's exact format (``ra.audit.service``)."""
    events: list = field(default_factory=list)

    def add(self, ts: float, actor_id, actor: str, action: str, object_type: str, object_id: int, details: str):
        self.events.append((ts, actor_id, actor, action, object_type, object_id, details))

    def write(self, session, writer: Writer) -> int:
        self.events.sort(key=lambda e: e[0])
        head = session.execute(sa.select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
                               ).scalar_one_or_none()
        if head is None:
            head = AuditChainHead(id=1, seq=0, last_hash=GENESIS)
            session.add(head)
            session.flush()
        seq, prev = head.seq, head.last_hash
        for ts, actor_id, actor, action, otype, oid, details in self.events:
            seq += 1
            at = datetime.fromtimestamp(ts, timezone.utc)
            oid_s = str(oid)
            digest = chain_hash(prev, content_of(seq, at, actor_id, actor, action, otype, oid_s, details))
            writer.add("audit_record", (writer.new_id("audit_record"), seq, at, actor_id, actor, action, otype, oid_s,
                                        details, prev, digest))
            prev = digest
            writer.maybe_flush()
        writer.flush()
        head.seq, head.last_hash = seq, prev
        session.flush()
        n = len(self.events)
        self.events = []
        return n


def details(**kw) -> str:
    """As ``ra.audit.record`` serialises details."""
    return json.dumps(kw, sort_keys=True, ensure_ascii=False, default=str)


def bump_counter(session, series: str, year: int, value: int) -> None:
    row = session.get(DocumentCounter, (series, year))
    if row is None:
        session.add(DocumentCounter(series=series, year=year, last_value=value))
    elif row.last_value < value:
        row.last_value = value
    session.flush()


def counter_start(session, series: str, year: int) -> int:
    row = session.get(DocumentCounter, (series, year))
    return row.last_value if row else 0


def already_loaded(session) -> bool:
    from ra.enrollment.models import Organisation
    return session.execute(sa.select(Organisation.id).where(Organisation.registry_number == MARKER_REGISTRY)
                           ).first() is not None


def generate(session, ports, scale: Scale | str = "national", *, seed: int = 7, progress=None) -> dict:
    """Writes the data set in the caller's transaction (the caller commits). Returns
    the row counts per table and the seconds it took."""
    from ra.reports.national_history import History

    scale = SCALES[scale] if isinstance(scale, str) else scale
    if already_loaded(session):
        raise RuntimeError("the national data set is already in this database")
    started = time.monotonic()
    say = progress or (lambda msg: log.info(msg))
    writer, audit = Writer(session), Audit()
    history = History(session, ports, scale, writer, audit, random.Random(seed), say)
    history.run()
    say(f"audit: {len(audit.events)} records to chain")
    audit.write(session, writer)
    writer.finish()
    for (series, year), value in history.numbering.items():
        bump_counter(session, series, year, value)
    if writer.pg:
        session.execute(sa.text("ANALYZE"))
    counts = dict(writer.written)
    counts["seconds"] = round(time.monotonic() - started, 1)
    say(f"done in {counts['seconds']} s: " + ", ".join(f"{t} {n}" for t, n in writer.written.items()))
    return counts
