"""A holder with a certificate the real embedded CA signed onto a token, and the
holder's own account activated through the real activation link."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from ra.auth.models import User
from ra.extensions import db
from ra.holder import service as accounts
from tests.factories import PASSWORD


@pytest.fixture(scope="session", autouse=True)
def _embedded_ca_for_every_holder_test(embedded_ca):
    return embedded_ca


def link_in(message) -> str:
    body = message.get_content() if hasattr(message, "get_content") else str(message)
    m = re.search(r"/me/activate/([A-Za-z0-9_-]{20,})", body)
    assert m, body
    return m.group(1)


def digits_in(message) -> str:
    body = message.get_content()
    m = re.search(r"\b(\d{8})\b", body)
    assert m, body
    return m.group(1)


def activate_account(ports, mail, holder, registrar) -> User:
    """The registrar's button, then the link from the real mail."""
    sent = accounts.open_account(db.session, registrar, holder, ports=ports)
    db.session.commit()
    assert accounts.deliver(sent, ports=ports)
    secret = link_in(mail.to(holder.email)[-1])
    user = accounts.activate(db.session, secret=secret, password=PASSWORD, ports=ports)
    db.session.commit()
    return user


def account_of(register_number: str) -> User | None:
    return db.session.execute(sa.select(User).where(User.register_number == register_number)).scalar_one_or_none()
