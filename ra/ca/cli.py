"""``flask --app ra ca …``: set up and inspect the CA connection."""
from __future__ import annotations

import sys

import click
from cryptography.hazmat.primitives import serialization
from flask import current_app
from flask.cli import AppGroup

from ra.ca.connector import in_english
from ra.db import commit
from ra.errors import RAError
from ra.localtime import local_text
from ra.extensions import db

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
