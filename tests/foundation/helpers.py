"""Small helpers for web tests: log in through the real form, with its CSRF token."""
from __future__ import annotations

from tests.conftest import csrf_from
from tests.factories import PASSWORD


def login(client, email: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))})


def token_of(client, path: str) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))
