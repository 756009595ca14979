"""``flask --app ra reports …``: each command one unit of work around a service call."""
from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from ra.db import commit
from ra.errors import RAError
from ra.extensions import db

reports_cli = AppGroup("reports", help="Reports.")


@reports_cli.command("monthly")
@click.option("--month", help="The month, YYYY-MM. Default: the last full month (for cron on the 1st).")
def monthly_cmd(month):
    """Build the monthly report to the State CA's format and e-mail it to the managers."""
    from ra.reports import service
    from ra.reports.periods import parse_month

    ports = current_app.extensions["ra.ports"]
    try:
        if month:
            first = parse_month(month)
        else:
            first = (ports.clock.today().replace(day=1) - timedelta(days=1)).replace(day=1)
        sent = service.send_monthly_report(db.session, "cli", first, ports=ports)
        commit()
    except RAError as exc:
        raise click.ClickException(exc.render()) from None
    t = sent.report.table.totals
    click.echo(f"monthly report {first:%Y-%m}: {len(sent.report.table.rows)} organisations, issued {t['issued']}, "
               f"revoked {t['revoked']}, suspended {t['suspended']}, tokens handed over {t['tokens_issued']}, "
               f"returned {t['tokens_returned']}")
    if sent.recipients:
        click.echo(f"e-mailed to {len(sent.recipients)} managers: {', '.join(sent.recipients)}")
    else:
        click.echo("no enabled RU manager to e-mail it to", err=True)
