"""``flask --app ra …`` commands; each wraps one service call in a transaction."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup

from ra.auth.roles import Role
from ra.db import commit
from ra.extensions import db


def _ports():
    return current_app.extensions["ra.ports"]


users = AppGroup("users", help="Accounts and roles.")
audit_cli = AppGroup("audit", help="The audit log.")
mail_cli = AppGroup("mail", help="The mail outbox.")


@users.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--org", "registry_number", help="The organisation's registry number (for registrars and holders).")
@click.option("--name", "full_name", default="", help="Full name.")
def create_user_cmd(email, role, registry_number, full_name):
    """Create an account. The password is read from stdin, or generated and printed once."""
    import sqlalchemy as sa

    from ra.auth.service import create_user
    from ra.enrollment.models import Organisation
    from ra.errors import RAError

    org = None
    if registry_number:
        org = db.session.execute(sa.select(Organisation).where(Organisation.registry_number == registry_number)
                                 ).scalar_one_or_none()
        if org is None:
            raise click.ClickException(f"no organisation with registry number {registry_number}")
    password = None
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n") or None
    try:
        user, generated = create_user(db.session, "cli", email=email, role=Role(role), full_name=full_name,
                                      organisation=org, password=password, ports=_ports())
        commit()
    except RAError as exc:
        raise click.ClickException(exc.render()) from None
    click.echo(f"created {user.email} ({user.role.value})")
    if generated:
        click.echo(f"password: {generated}")


@users.command("token")
@click.argument("email")
def token_cmd(email):
    """Print a new API bearer token for EMAIL (only its hash is stored)."""
    import sqlalchemy as sa

    from ra.auth.models import User
    from ra.auth.service import issue_api_token, normalise_email

    user = db.session.execute(sa.select(User).where(User.email == normalise_email(email))).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no account {email}")
    token = issue_api_token(db.session, "cli", user)
    commit()
    click.echo(token)


@users.command("sign-out")
@click.argument("email")
def sign_out_cmd(email):
    """End every session of EMAIL's account, on every device (audited)."""
    import sqlalchemy as sa

    from ra.auth.models import User
    from ra.auth.service import end_sessions, normalise_email

    user = db.session.execute(sa.select(User).where(User.email == normalise_email(email))).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no account {email}")
    end_sessions(db.session, "cli", user, why="admin")
    commit()
    click.echo(f"{user.email} is signed out everywhere")


@users.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
def role_cmd(email, role):
    """Change an account's role (audited; the account's sessions end)."""
    import sqlalchemy as sa

    from ra.auth.models import User
    from ra.auth.service import change_role, normalise_email

    user = db.session.execute(sa.select(User).where(User.email == normalise_email(email))).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no account {email}")
    change_role(db.session, "cli", user, Role(role))
    commit()
    click.echo(f"{user.email} is now {role}")


@audit_cli.command("verify")
def audit_verify():
    """Check the hash chain and every signed checkpoint; exits 1 naming the first
    bad record (after a rewrite: the first record after the last good checkpoint)."""
    from ra.audit import checkpoints
    from ra.audit.service import verify

    config = current_app.config
    result = verify(db.session, public_key=checkpoints.public_key_of(config["AUDIT_KEY"]),
                    checkpoint_file=config["AUDIT_CHECKPOINTS"])
    if result.ok:
        click.echo(f"audit log intact: {result.checked} records, {result.checkpoints} signed checkpoints agree"
                   + (f" (the last covers records 1-{result.last_good})" if result.last_good else ""))
        return
    click.echo(f"audit log BROKEN at record {result.bad_seq}: {result.reason} "
               f"({result.checked} records before it are intact)", err=True)
    sys.exit(1)


@audit_cli.command("checkpoint")
def audit_checkpoint():
    """Sign the log's head and record count with the audit key; write the
    checkpoint to the log and append it to RA_AUDIT_CHECKPOINTS (meant for cron,
    hourly; ``crl publish`` makes one too)."""
    cp = make_checkpoint()
    click.echo(f"checkpoint: records 1-{cp.count}, head {cp.head[:16]}…, key {cp.key_id}, "
               f"appended to {current_app.config['AUDIT_CHECKPOINTS']}")


def make_checkpoint():
    """Records a checkpoint (its own transaction), then ships it to the file."""
    from ra.audit import checkpoints
    from ra.audit.service import record_checkpoint

    config = current_app.config
    key = checkpoints.load_or_create_key(config["AUDIT_KEY"])
    cp = record_checkpoint(db.session, key, at=_ports().clock.now())
    commit()
    checkpoints.ship(config["AUDIT_CHECKPOINTS"], cp)
    return cp


@mail_cli.command("send")
def mail_send():
    """Retry every pending message in the outbox (meant for cron)."""
    from ra.mail.outbox import deliver_pending

    sent, failed = deliver_pending(db.session, _ports())
    db.session.commit()
    click.echo(f"sent {sent}, still pending {failed}")
    if failed:
        sys.exit(1)


def register_cli(app) -> None:
    from ra.ca.cli import ca_cli
    from ra.demo import demo_cmd
    from ra.tokens.cli import tokens_cli
    from ra.reports.cli import reports_cli

    app.cli.add_command(users)
    app.cli.add_command(audit_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(demo_cmd)
    app.cli.add_command(ca_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(reports_cli)


def main():
    """The ``ra`` console script: the same commands as ``flask --app ra``."""
    from ra import create_app

    FlaskGroup(create_app=lambda: create_app())(prog_name="ra")
