"""Queue mail inside the transaction; deliver after commit."""
from __future__ import annotations

import json
import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from ra.db import utcnow
from ra.mail.models import MailStatus, OutgoingMail

log = logging.getLogger(__name__)
_QUEUED = "ra.outbox"


def queue_mail(session, *, to: str, subject: str, body: str, attachments: list[dict] | None = None) -> OutgoingMail:
    mail = OutgoingMail(recipient=to, subject=subject, body=body, attachments=json.dumps(attachments or []))
    session.add(mail)
    session.info.setdefault(_QUEUED, []).append(mail)
    return mail


@event.listens_for(Session, "after_soft_rollback")
def _forget_queued(session, previous_transaction):
    # Mail queued by a unit of work that was rolled back must never go out.
    session.info.pop(_QUEUED, None)


def build_message(mail: OutgoingMail, sender: str, files) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.recipient
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "ra.localhost")
    msg.set_content(mail.body)
    for att in json.loads(mail.attachments or "[]"):
        maintype, _, subtype = att["content_type"].partition("/")
        msg.add_attachment(files.read(att["stored_name"]), maintype=maintype, subtype=subtype,
                           filename=att["filename"])
    return msg


def send_one(session, mail: OutgoingMail, ports) -> bool:
    try:
        ports.mailer.send(build_message(mail, ports.mail_from, ports.files))
    except Exception as exc:  # the outbox keeps it; the worker retries
        mail.attempts += 1
        mail.last_error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("mail %s to %s not sent: %s", mail.id, mail.recipient, type(exc).__name__)
        return False
    mail.attempts += 1
    mail.status = MailStatus.SENT
    mail.sent_at = utcnow()
    mail.last_error = None
    return True


def deliver_queued(session) -> None:
    """Called after a commit: sends what this unit of work queued."""
    queued = session.info.pop(_QUEUED, [])
    if not queued:
        return
    from ra.ports import current_ports

    ports = current_ports()
    for mail in queued:
        send_one(session, mail, ports)
    session.commit()


def deliver_pending(session, ports, limit: int = 500) -> tuple[int, int]:
    """The worker: retries every pending message. Returns (sent, failed)."""
    rows = session.execute(
        sa.select(OutgoingMail).where(OutgoingMail.status == MailStatus.PENDING).order_by(OutgoingMail.id).limit(limit)
    ).scalars().all()
    sent = sum(1 for m in rows if send_one(session, m, ports))
    return sent, len(rows) - sent
