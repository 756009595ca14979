"""Renders a notification in the recipient's language and queues it in the outbox."""
from __future__ import annotations

from ra.mail.outbox import queue_mail


class Notifier:
    """``mail/<template>.txt``: the first line is ``Subject: …``, the rest is the body."""

    def __init__(self, app, ports):
        self.app = app
        self.ports = ports

    def render(self, template: str, locale: str, context: dict) -> tuple[str, str]:
        from flask_babel import force_locale

        with self.app.app_context(), force_locale(locale if locale in ("mn", "en") else "mn"):
            text = self.app.jinja_env.get_template(f"mail/{template}.txt").render(
                base_url=self.ports.base_url, **context)
        first, _, body = text.lstrip().partition("\n")
        subject = first.removeprefix("Subject:").strip()
        return subject, body.strip() + "\n"

    def notify(self, session, *, to: str, locale: str, template: str, context: dict,
               attachments: list[dict] | None = None):
        subject, body = self.render(template, locale, context)
        return queue_mail(session, to=to, subject=subject, body=body, attachments=attachments)
