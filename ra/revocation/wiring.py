"""Plugs the revocation module into the app (one call from ``create_app``): its
pages and public endpoints, its JSON API routes, its CLI groups, the hooks the
token and enrollment modules call (``ra.revocation.hooks``), and the dual-control
setting.

``RA_REVOCATION_DUAL_CONTROL`` (or ``REVOCATION_DUAL_CONTROL`` in the app
config): ``1`` (default) — a second RU officer or manager approves every
revocation other than the holder's own lost-token report; ``0`` — one RU staff
member decides.
"""
from __future__ import annotations

import os

from ra.revocation.policy import SETTINGS_KEY, RevocationSettings

FALSE = ("0", "false", "no", "off")


def settings_from(config: dict, environ=os.environ) -> RevocationSettings:
    value = config.get("REVOCATION_DUAL_CONTROL")
    if value is None:
        value = environ.get("RA_REVOCATION_DUAL_CONTROL", "1")
    if isinstance(value, str):
        value = value.strip().lower() not in FALSE
    return RevocationSettings(dual_control=bool(value))


def init_app(app, api_bp) -> None:
    from ra.revocation import hooks
    from ra.revocation import public_views  # noqa: F401  (adds the public routes to bp)
    from ra.revocation.api import register_api
    from ra.revocation.cli import crl_cli, revocation_cli
    from ra.revocation.views import bp

    ports = app.extensions["ra.ports"]
    ports.extra[SETTINGS_KEY] = settings_from(app.config)
    hooks.register(ports)
    if not api_bp._got_registered_once:
        register_api(api_bp)
    app.register_blueprint(bp)
    app.cli.add_command(crl_cli)
    app.cli.add_command(revocation_cli)
