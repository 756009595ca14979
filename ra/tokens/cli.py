"""``flask --app ra tokens …``: the token stock from the command line. Each
command wraps one service call in a transaction; commands that change something
act as a named RU account (``--as``), so the audit log names a person."""
from __future__ import annotations

import os
import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from ra.db import commit
from ra.errors import RAError, ValidationFailed
from ra.extensions import db
from ra.i18n import _l
from ra.localtime import local_text
from ra.tokens import queries
from ra.tokens import stock_service as service
from ra.tokens.effects import RETURN_REASONS
from ra.tokens.states import TokenStatus

tokens_cli = AppGroup("tokens", help="Token stock, readers and PIN unblock at the counter.")


def _ports():
    return current_app.extensions["ra.ports"]


def _actor(email: str):
    from ra.auth.models import User
    from ra.auth.service import normalise_email

    user = db.session.execute(sa.select(User).where(User.email == normalise_email(email))).scalar_one_or_none()
    if user is None or not user.is_enabled:
        raise click.ClickException(f"no enabled account {email}")
    return user


def _token(serial: str):
    token = queries.token_by_serial(db.session, serial)
    if token is None:
        raise click.ClickException(_render(_l("Token %(serial)s is not in the RU's stock. Receive it with its "
                                              "batch first.", serial=serial)))
    return token


def _locale() -> str:
    """Messages and printed documents in Mongolian first; English when the operator's
    LANG (or RA_LANG) says so."""
    lang = os.environ.get("RA_LANG") or os.environ.get("LANG", "")
    return "en" if lang.startswith("en") else "mn"


def _render(message) -> str:
    with force_locale(_locale()):
        return message.render() if isinstance(message, RAError) else str(message)


def _fail(exc: RAError):
    db.session.rollback()
    if isinstance(exc, ValidationFailed):
        lines = [f"{field}: {_render(message)}" for field, message in exc.errors.items()]
        raise click.ClickException("\n".join([_render(exc), *lines]))
    raise click.ClickException(_render(exc))


def _secret_line(prompt: str, from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n") or None
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=True, default="", show_default=False) or None
    return None


@tokens_cli.command("receive")
@click.option("--as", "actor_email", required=True, help="E-mail of the RU account receiving the batch.")
@click.option("--model", required=True)
@click.option("--supplier", required=True)
@click.option("--date", "received_on", type=click.DateTime(["%Y-%m-%d"]), help="Date received (default: today).")
@click.option("--serials-file", type=click.File("r"), required=True,
              help="Serial numbers, one per line (or separated by spaces/commas); '-' reads stdin.")
@click.option("--so-pin-stdin", is_flag=True, help="Read the factory SO PIN from the first line of stdin.")
@click.option("--note", default="")
def receive_cmd(actor_email, model, supplier, received_on, serials_file, so_pin_stdin, note):
    """Receive a batch into stock. Without an SO PIN the batch's tokens cannot be initialised."""
    so_pin = _secret_line("Factory SO PIN (empty if unknown)", so_pin_stdin)
    data = service.BatchData(model=model, supplier=supplier, serials=serials_file.read(), factory_so_pin=so_pin,
                             received_on=received_on.date() if received_on else _ports().clock.today(), note=note)
    try:
        batch = service.receive_batch(db.session, _actor(actor_email), data, ports=_ports())
        commit()
    except RAError as exc:
        _fail(exc)
    click.echo(f"batch {batch.id}: {len(batch.tokens)} tokens in stock"
               + ("" if batch.knows_factory_so_pin else " (factory SO PIN unknown)"))


@tokens_cli.command("stock")
def stock_cmd():
    """Tokens per state."""
    counts = queries.stock_counts(db.session)
    for status, n in counts.items():
        click.echo(f"{status.value:<10} {n}")
    click.echo(f"{'total':<10} {sum(counts.values())}")


@tokens_cli.command("list")
@click.option("--status", type=click.Choice([s.value for s in TokenStatus]))
def list_cmd(status):
    rows, _ = queries.list_tokens(db.session, status=TokenStatus(status) if status else None, per_page=10_000)
    for t in rows:
        click.echo(f"{t.serial}\t{t.status.value}\t{t.batch.model}\t{t.label}")


@tokens_cli.command("history")
@click.argument("serial")
def history_cmd(serial):
    """The audited history of one token."""
    for r in queries.token_history(db.session, _token(serial)):
        click.echo(f"{local_text(r.at, '%Y-%m-%d %H:%M:%S')}  {r.actor:<30} {r.action:<28} {r.details}")


@tokens_cli.command("slots")
@click.option("--rescan", is_flag=True, help="Re-read the readers (SoftHSM2: tokens made since start-up).")
def slots_cmd(rescan):
    """Tokens in the readers, matched against the stock."""
    try:
        matches = queries.match_slots(db.session, _ports().tokens.list_slots(rescan=rescan))
    except RAError as exc:
        _fail(exc)
    for m in matches:
        state = m.token.status.value if m.token else "not-in-stock"
        ready = "ready" if m.problem is None else _render(m.problem)
        click.echo(f"{m.slot.slot_id}\t{m.slot.serial}\t{m.slot.label}\t{state}\t{ready}")


@tokens_cli.command("event")
@click.argument("serial")
@click.argument("target", type=click.Choice([s.value for s in TokenStatus if s != TokenStatus.ACTIVE] + ["found"]))
@click.option("--as", "actor_email", required=True)
@click.option("--reason", required=True)
@click.option("--return-reason", type=click.Choice(RETURN_REASONS))
def event_cmd(serial, target, actor_email, reason, return_reason):
    """Suspend, found, lost, damaged, returned, in_stock (wipe for reuse), destroyed."""
    target = TokenStatus.ACTIVE if target == "found" else TokenStatus(target)
    try:
        effect = service.change_token_state(db.session, _actor(actor_email), _token(serial), target, reason=reason,
                                            return_reason=return_reason, ports=_ports())
        commit()
    except RAError as exc:
        _fail(exc)
    click.echo(f"token {serial}: {target.value}")
    if effect is not None and effect.state == "not_connected":
        click.echo(f"WARNING: certificates NOT changed (revocation not connected): {effect.action} "
                   f"them at the CA, reason {effect.reason}", err=True)


@tokens_cli.command("unblock")
@click.argument("serial")
@click.option("--as", "actor_email", required=True)
@click.option("--pin-stdin", is_flag=True, help="Read the new user PIN from stdin instead of prompting.")
def unblock_cmd(serial, actor_email, pin_stdin):
    """PIN unblock at the counter: SO login with the escrowed SO PIN, C_InitPIN."""
    pin = _secret_line("New PIN", pin_stdin)
    if not pin:
        raise click.ClickException("no PIN given")
    try:
        service.unblock_at_counter(db.session, _actor(actor_email), _token(serial), pin, ports=_ports())
        commit()
    except RAError as exc:
        _fail(exc)
    click.echo(f"token {serial}: PIN reset")


@tokens_cli.command("softhsm-stock")
@click.option("--count", default=3, show_default=True)
@click.option("--model", default="SoftHSM2 (development)", show_default=True)
@click.option("--supplier", default="SoftHSM project", show_default=True)
@click.option("--as", "actor_email", help="Also receive them into stock as this account.")
def softhsm_stock_cmd(count, model, supplier, actor_email):
    """Make vendor-style SoftHSM2 stock tokens in this instance's token directory
    (random factory SO PIN, recorded encrypted with the batch; never printed)."""
    from ra.tokens.demo import make_softhsm_stock
    from ra.tokens.softhsm import is_softhsm

    driver = _ports().tokens
    if not is_softhsm(driver.module_path):
        raise click.ClickException("RA_PKCS11_MODULE is not SoftHSM2")
    try:
        serials, batch = make_softhsm_stock(db.session, _actor(actor_email) if actor_email else None, count,
                                            model=model, supplier=supplier, ports=_ports())
    except RAError as exc:
        _fail(exc)
    if batch is not None:
        commit()
        click.echo(f"batch {batch.id} received")
    for serial in serials:
        click.echo(serial)


# The counter handover commands join this group.
from ra.tokens import handover_cli  # noqa: E402,F401
