"""``flask --app ra crl …`` and ``flask --app ra revocation …``: publication and the
worker, meant for cron. Each command is its own unit of work."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from flask import current_app
from flask.cli import AppGroup

from ra.ca.connector import in_english
from ra.db import commit
from ra.errors import RAError
from ra.extensions import db

crl_cli = AppGroup("crl", help="Certificate revocation lists (RFC 5280) of the embedded CA.")
revocation_cli = AppGroup("revocation", help="Revocation requests: the worker and the 24-hour clock.")


def _ports():
    return current_app.extensions["ra.ports"]


@crl_cli.command("publish")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Also write <ca>.crl (DER) and <ca>.crl.pem into this folder, for a static web server.")
def publish_cmd(out):
    """Make a new CRL for every CA of the embedded CA (next CRL number, nextUpdate
    24 hours ahead), then a signed audit checkpoint. Run it from cron at least
    every 12 hours."""
    from ra.cli import make_checkpoint
    from ra.revocation import publication

    ports = _ports()
    if not getattr(ports.ca, "local", False):
        raise click.ClickException(f"the configured CA is {ports.ca.name}: it publishes its own CRLs")
    try:
        published = publication.publish_all(db.session, ports)
        commit()
    except RAError as exc:
        raise click.ClickException(in_english(exc)) from None
    for p in published:
        crl = ports.ca.crl(p.name)
        click.echo(f"{p.name}: CRL number {p.number}, {len(crl)} entries, this update "
                   f"{p.this_update:%Y-%m-%d %H:%M:%S}Z, next update {p.next_update:%Y-%m-%d %H:%M:%S}Z")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for suffix, encoding in ((".crl", serialization.Encoding.DER), (".crl.pem", serialization.Encoding.PEM)):
                tmp = out / f".{p.name}{suffix}.part"
                tmp.write_bytes(crl.public_bytes(encoding))
                tmp.chmod(0o644)  # a CRL is public: the web server publishing it must read it
                tmp.replace(out / f"{p.name}{suffix}")
    commit()
    # The log's state at each publication is vouched for off the machine.
    cp = make_checkpoint()
    click.echo(f"audit checkpoint: records 1-{cp.count}")


@revocation_cli.command("work")
def work_cmd():
    """Send approved requests the CA could not take to it again, expire old
    lost-token codes, and note when a remote CA's CRL shows what it did. Exits 1
    while some requests still wait for the CA."""
    from ra.revocation import jobs

    report = jobs.work(db.session, ports=_ports())
    click.echo(f"completed {report.completed}, still awaiting the CA {report.awaiting_ca}, "
               f"closed otherwise {report.closed_otherwise}, newly seen in the CA's CRL {report.published_seen}, "
               f"expired codes {report.expired_codes}")
    if report.crl_error:
        click.echo(f"the CA's CRL could not be read: {report.crl_error}", err=True)
    if report.awaiting_ca:
        sys.exit(1)


@revocation_cli.command("overdue")
def overdue_cmd():
    """Requests open for more than 12 hours (ETSI EN 319 411-1: 24 hours to process
    a revocation). Exits 1 if any has passed 24 hours."""
    from ra.revocation import queries as q

    now = _ports().clock.now()
    rows = q.overdue(db.session, now)
    breached = 0
    for r in rows:
        clock = q.clock_of(r, now)
        breached += clock.breached
        click.echo(f"{r.number} {r.serial} {r.reason.value} {r.status.value} received "
                   f"{r.received_at:%Y-%m-%d %H:%M}Z, {clock.hours} h{' BREACHED' if clock.breached else ''}")
    click.echo(f"{len(rows)} overdue, {breached} past 24 hours")
    if breached:
        sys.exit(1)
