"""Mail sent at once, never through the outbox: a one-time code (lost-token
report, PIN unblock) must not be kept in clear in a retry queue, and a code of
30 minutes has no use in one. The caller sends it after its commit."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from ra.mail.models import OutgoingMail
from ra.mail.outbox import build_message

log = logging.getLogger("ra.mail")


@dataclass
class CodeMail:
    """The message with the code, in memory only (the code is stored hashed)."""
    to: str
    subject: str
    body: str


def send_code(mail: CodeMail, *, ports, purpose: str) -> bool:
    """Sends ``mail`` now; False (logged without the code) when it could not be
    sent, so the caller can say so and let the holder ask again."""
    message = OutgoingMail(recipient=mail.to, subject=mail.subject, body=mail.body, attachments=json.dumps([]))
    try:
        ports.mailer.send(build_message(message, ports.mail_from, ports.files))
    except Exception as exc:  # noqa: BLE001 — any mail failure means "not delivered"
        log.warning("%s code to %s not sent: %s", purpose, mail.to, type(exc).__name__)
        return False
    return True
