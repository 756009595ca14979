"""``flask --app ra ca …``: set up and inspect the CA connection."""
from __future__ import annotations

import sys

import click
from cryptography.hazmat.primitives import serialization
from flask import current_app
from flask.cli import AppGroup

from ra.ca.connector import in_english
from ra.db import commit
from ra.ca import jobs
from ra.errors import RAError
from ra.extensions import db
from ra.localtime import local_text

ca_cli = AppGroup("ca", help="The CA connection and the embedded State CA.")


def _ca():
    return current_app.extensions["ra.ports"].ca


@ca_cli.command("init")
def init_cmd():
    """Create the embedded root and issuing CA (does nothing if they exist)."""
    ca = _ca()
    if not hasattr(ca, "initialise"):
        raise click.ClickException(f"the configured CA is {ca.name}; only the embedded CA is created here")
    created, rows = ca.initialise(db.session, actor="cli")
    commit()
    click.echo("created the embedded CA" if created else "the embedded CA exists already")
    for row in rows:
        click.echo(f"  {row.name}: {row.subject} (key id {row.key_id}, {row.key_algorithm}, "
                   f"until {local_text(row.not_after, '%Y-%m-%d')})")


@ca_cli.command("chain")
def chain_cmd():
    """Print the CA chain as PEM, issuing CA first."""
    try:
        chain = _ca().chain()
        commit()
    except RAError as exc:
        raise click.ClickException(in_english(exc)) from None
    for cert in chain:
        click.echo(cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), nl=False)


@ca_cli.command("check")
def check_cmd():
    """Connect to the configured CA and report."""
    ca = _ca()
    try:
        report = ca.check()
        commit()
    except RAError as exc:
        click.echo(f"CA {ca.name}: NOT OK: {in_english(exc)}", err=True)
        sys.exit(1)
    click.echo(f"CA {report.connector}: {'OK' if report.ok else 'NOT OK'}")
    for line in report.lines:
        click.echo(f"  {line}")
    if not report.ok:
        sys.exit(1)


@ca_cli.command("reconcile")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True,
              help="Look at requests issued in this many days.")
def reconcile_cmd(days):
    """Revoke, as superseded, any second certificate a remote CA signed for one
    request (meant for cron)."""
    ports = current_app.extensions["ra.ports"]
    try:
        revoked = jobs.reconcile_recent(db.session, "cli", days=days, ports=ports)
    except RAError as exc:
        raise click.ClickException(in_english(exc)) from None
    for r in revoked:
        click.echo(f"request {r.request_id}: {r.serial} revoked as superseded, {r.kept} kept")
    click.echo(f"{len(revoked)} duplicate certificate(s) revoked")
