"""``flask --app ra tokens handover …``: the counter handover from the command line,
on the same runner as the page and the API (each step committed before the next).

    flask --app ra tokens handover ORDER_ID --as officer@… --slot N --id-document УБ85010112 --pin-stdin
    flask --app ra tokens handover ORDER_ID --as … --serial S --id-document … --random-pin --envelope - | lp
    flask --app ra tokens handover-resume HANDOVER_ID --as … --pin-stdin
    flask --app ra tokens handover-cancel HANDOVER_ID --as … --reason "…"
    flask --app ra tokens handover-token-failed HANDOVER_ID --as … --reason "…"
    flask --app ra tokens handover-show HANDOVER_ID
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask_babel import force_locale

from ra.enrollment import holder_queries
from ra.db import commit
from ra.errors import RAError
from ra.extensions import db
from ra.tokens import handover_jobs as jobs
from ra.tokens import handover_queries as hq
from ra.tokens import handover_service as svc
from ra.tokens.receipt import receipt_pdf
from ra.tokens.cli import _actor, _fail, _locale, _ports, _render, _secret_line, tokens_cli
from ra.tokens.handover_states import ORDERED, HandoverStep, IdDocument, PinSource


def _serial_for(slot_id: int | None, serial: str | None) -> str | None:
    if serial or slot_id is None:
        return serial
    for s in _ports().tokens.list_slots(rescan=True):
        if s.slot_id == slot_id:
            return s.serial
    raise click.ClickException(f"no token in slot {slot_id} (see: flask --app ra tokens slots --rescan)")


def _pin(pin_stdin: bool, random_pin: bool, envelope: str | None, required: bool) -> str | None:
    if random_pin:
        if not envelope:
            raise click.ClickException("--random-pin needs --envelope FILE (or - for stdout) to print the PIN envelope")
        return None
    pin = _secret_line("Holder's PIN", pin_stdin)
    if required and not pin:
        raise click.ClickException("no PIN given: use --pin-stdin, type it at the prompt, or --random-pin")
    return pin


def _progress(step) -> None:
    with force_locale(_locale()):
        click.echo(f"[{step.number}/8] {step.label}", err=True)


def _write(path: str | None, data: bytes) -> None:
    if not path:
        return
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    Path(path).write_bytes(data)


def resume_command(h) -> str:
    """Every argument Resume needs from here: a token if none was taken yet, and a
    PIN (typed again, or a new envelope) while steps 3–7 remain, since PINs are
    never kept."""
    parts = [f"flask --app ra tokens handover-resume {h.id} --as OFFICER_EMAIL"]
    if h.token_id is None:
        parts.append("(--serial SERIAL | --slot N)")
    if h.step in ORDERED and ORDERED.index(h.step) < ORDERED.index(HandoverStep.CERTIFICATE_WRITTEN):
        parts.append("--random-pin --envelope FILE" if h.pin_source == PinSource.ENVELOPE
                     else "(--pin-stdin | --random-pin --envelope FILE)")
    return " ".join(parts)


def _report(result: jobs.RunResult, envelope: str | None, receipt: str | None, actor) -> None:
    if result.envelope is not None:
        _write(envelope, result.envelope)
    h = hq.get_handover(db.session, result.handover_id)
    if result.error is not None:
        raise click.ClickException(
            f"handover {h.id} stopped after step {h.step.number} ({h.step.value}): {_render(result.error)}\n"
            f"resume with: {resume_command(h)}\n"
            f"if the token failed: flask --app ra tokens handover-token-failed {h.id} --as OFFICER_EMAIL "
            f"--reason TEXT")
    if result.completed:
        if receipt:
            ports = _ports()
            name = svc.receipt_file(db.session, actor, h, ports=ports,
                                    render=lambda x: receipt_pdf(x, ports=ports, locale=_locale()))
            commit()
            _write(receipt, ports.files.read(name))
        click.echo(f"handover {h.id} completed: token {h.token.serial}, certificate {h.certificate.serial}, "
                   f"receipt {h.receipt_number}", err=envelope == "-")
    else:
        click.echo(f"handover {h.id}: {h.step.value}", err=envelope == "-")


@tokens_cli.command("handover")
@click.argument("order_id", type=int)
@click.option("--as", "actor_email", required=True, help="E-mail of the RU officer at the counter.")
@click.option("--slot", "slot_id", type=int, help="Slot of the token (see `tokens slots`).")
@click.option("--serial", help="Or the token's serial number.")
@click.option("--id-document", "id_number", required=True,
              help="The register number as printed on the holder's identity document.")
@click.option("--id-type", type=click.Choice([d.value for d in IdDocument]), default=IdDocument.ID_CARD.value,
              show_default=True)
@click.option("--pin-stdin", is_flag=True, help="Read the holder's PIN from the first line of stdin.")
@click.option("--random-pin", is_flag=True, help="A random PIN, printed on the sealed PIN envelope.")
@click.option("--envelope", help="Where to write the PIN envelope PDF ('-' for stdout, e.g. to `lp`).")
@click.option("--receipt", help="Also write the handover receipt PDF here.")
def handover_cmd(order_id, actor_email, slot_id, serial, id_number, id_type, pin_stdin, random_pin, envelope,
                 receipt):
    """Hand over ORDER_ID's certificate on a stock token: DESIGN §3.3 steps 1–8."""
    pin = _pin(pin_stdin, random_pin, envelope, required=True)
    actor = _actor(actor_email)
    try:
        order = holder_queries.get_order(db.session, actor, order_id)
        result = jobs.start(db.session, actor, order, id_document_type=id_type, id_document_number=id_number,
                            token_serial=_serial_for(slot_id, serial), user_pin=pin, random_pin=random_pin,
                            locale=_locale(), ports=_ports(), after_step=_progress)
    except RAError as exc:
        _fail(exc)
    _report(result, envelope, receipt, actor)


@tokens_cli.command("handover-resume")
@click.argument("handover_id", type=int)
@click.option("--as", "actor_email", required=True)
@click.option("--slot", "slot_id", type=int, help="Slot of the token, if none was taken yet.")
@click.option("--serial", help="Or the token's serial number.")
@click.option("--pin-stdin", is_flag=True, help="The holder's PIN (set anew on the token) from stdin.")
@click.option("--random-pin", is_flag=True, help="A new random PIN on a new sealed envelope.")
@click.option("--envelope", help="Where to write the PIN envelope PDF ('-' for stdout).")
@click.option("--receipt", help="Also write the handover receipt PDF here.")
def handover_resume_cmd(handover_id, actor_email, slot_id, serial, pin_stdin, random_pin, envelope, receipt):
    """Resume a handover where it stopped (crash, CA outage, pulled token)."""
    pin = _pin(pin_stdin, random_pin, envelope, required=False) if (pin_stdin or random_pin) else None
    actor = _actor(actor_email)
    try:
        result = jobs.run(db.session, actor, handover_id, user_pin=pin, random_pin=random_pin,
                          token_serial=_serial_for(slot_id, serial), locale=_locale(), ports=_ports(),
                          after_step=_progress)
    except RAError as exc:
        _fail(exc)
    _report(result, envelope, receipt, actor)


@tokens_cli.command("handover-cancel")
@click.argument("handover_id", type=int)
@click.option("--as", "actor_email", required=True)
@click.option("--reason", required=True)
def handover_cancel_cmd(handover_id, actor_email, reason):
    """Cancel a handover the CA was not asked for yet: the token is wiped, stays in stock."""
    try:
        jobs.cancel(db.session, _actor(actor_email), handover_id, reason, ports=_ports())
    except RAError as exc:
        _fail(exc)
    click.echo(f"handover {handover_id} cancelled; the token is back in stock")


@tokens_cli.command("handover-token-failed")
@click.argument("handover_id", type=int)
@click.option("--as", "actor_email", required=True)
@click.option("--reason", required=True)
def handover_token_failed_cmd(handover_id, actor_email, reason):
    """The token died mid-handover: record it damaged and abandon the handover."""
    try:
        jobs.token_failed(db.session, _actor(actor_email), handover_id, reason, ports=_ports())
    except RAError as exc:
        _fail(exc)
    click.echo(f"handover {handover_id} abandoned; the token is recorded as damaged; "
               "the order is ready for a new handover")


@tokens_cli.command("handover-show")
@click.argument("handover_id", type=int)
def handover_show_cmd(handover_id):
    """Where a handover stands."""
    try:
        h = hq.get_handover(db.session, handover_id)
    except RAError as exc:
        _fail(exc)
    with force_locale(_locale()):
        for s in hq.steps_view(h):
            mark = {"done": "x", "current": ">", "waiting": " "}[s["state"]]
            click.echo(f"[{mark}] {s['number']}. {s['label']}")
    click.echo(f"step: {h.step.value}" + (f"  stopped: {h.error_code}: {h.error_message}" if h.error_code else ""))
    if not h.finished:
        click.echo(f"resume with: {resume_command(h)}")
    if h.certificate:
        click.echo(f"certificate: {h.certificate.serial} on token: {h.certificate.token_id is not None}")
