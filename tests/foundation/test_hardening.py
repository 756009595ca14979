"""ASVS level-2 hardening that is not one domain's business: transport headers,
file modes, and 400 (not 500) for input the app cannot use."""
from __future__ import annotations


def test_hsts_is_sent_when_cookies_are_secure(app, client, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/login").headers  # plain http: meaningless
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    for path in ("/login", "/api/v1/openapi.json", "/no-such-page"):
        hsts = client.get(path).headers.get("Strict-Transport-Security", "")
        assert "max-age=31536000" in hsts, path
