"""Token stock and token preparation, DESIGN §3.3. Services only flush; the caller
commits (and, where a docstring says so, commits *between* two calls, so a crash
can always be resumed).

The handover (DESIGN §3.3 steps 2–4) calls, in order, each in its own transaction:
``token_for_initialisation`` → ``begin_initialisation`` → ``initialise_token`` →
``set_user_pin`` → ``ports.tokens.generate_key_pair`` … → ``activate_token``.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from ra import audit
from ra.auth import policy as auth_policy
from ra.errors import Conflict, InvalidTransition, UserError, ValidationFailed
from ra.i18n import _l
from ra.tokens import effects, pins
from ra.tokens import policy as P
from ra.tokens import queries
from ra.tokens.errors import SoPinIncorrect
from ra.tokens.escrow import batch_context, token_context
from ra.tokens.handover_models import Handover
from ra.tokens.handover_states import FINISHED
from ra.tokens.models import Token, TokenBatch
from ra.tokens.states import MANUAL_TARGETS, TokenStatus, token_states

S = TokenStatus
SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$")
STOCK_LABEL = "RA stock"
MAX_BATCH = 5000


@dataclass
class BatchData:
    model: str = ""
    supplier: str = ""
    received_on: date | None = None
    serials: str = ""              # typed or scanned: one per line, or separated by spaces/commas
    factory_so_pin: str | None = None
    note: str = ""


class _Joined:
    """Several translatable messages shown as one, translated when shown."""

    def __init__(self, parts):
        self.parts = parts

    def __str__(self):
        return " ".join(str(p) for p in self.parts)


def parse_serials(text: str) -> list[str]:
    return [s for s in re.split(r"[\s,;]+", text or "") if s]


def _validate_batch(session, data: BatchData, today: date) -> tuple[dict, list[str]]:
    errors: dict = {}
    if not data.model.strip():
        errors["model"] = _l("This field is required.")
    elif len(data.model.strip()) > 100:
        errors["model"] = _l("At most %(n)d characters.", n=100)
    if not data.supplier.strip():
        errors["supplier"] = _l("This field is required.")
    elif len(data.supplier.strip()) > 200:
        errors["supplier"] = _l("At most %(n)d characters.", n=200)
    if data.received_on is None:
        errors["received_on"] = _l("This field is required.")
    elif data.received_on > today:
        errors["received_on"] = _l("The date of receipt cannot be in the future.")
    if data.factory_so_pin is not None and not 4 <= len(data.factory_so_pin) <= 64:
        errors["factory_so_pin"] = _l("The factory SO PIN is 4 to 64 characters long.")
    serials = parse_serials(data.serials)
    if not serials:
        errors["serials"] = _l("Type or scan at least one serial number.")
        return errors, serials
    if len(serials) > MAX_BATCH:
        errors["serials"] = _l("At most %(n)d tokens in one batch.", n=MAX_BATCH)
        return errors, serials
    bad = [s for s in serials if not SERIAL.match(s)]
    seen: set[str] = set()
    repeated: list[str] = []
    for s in serials:
        if s.lower() in seen and s not in repeated:
            repeated.append(s)
        seen.add(s.lower())
    known = queries.existing_serials(session, serials)
    already = [s for s in serials if s.lower() in known]
    problems = []
    if bad:
        problems.append(_l("Not a serial number (letters, digits, . _ : -, at most 32): %(list)s",
                           list=", ".join(bad[:20])))
    if repeated:
        problems.append(_l("Listed twice: %(list)s", list=", ".join(repeated[:20])))
    if already:
        problems.append(_l("Already in stock: %(list)s", list=", ".join(already[:20])))
    if problems:
        errors["serials"] = _Joined(problems)
    return errors, serials


def receive_batch(session, actor, data: BatchData, *, ports) -> TokenBatch:
    """Records a delivery: every serial becomes a token ``in_stock``; the factory SO
    PIN, if the vendor gave it, is escrowed. No serial is half-received: one bad
    line refuses the batch, naming the lines."""
    auth_policy.require(P.can_receive_batch(actor))
    errors, serials = _validate_batch(session, data, ports.clock.today())
    if errors:
        raise ValidationFailed(errors)
    batch = TokenBatch(reference=uuid.uuid4().hex, model=data.model.strip(), supplier=data.supplier.strip(),
                       received_on=data.received_on, note=(data.note or "").strip(),
                       received_by_id=getattr(actor, "id", None), created_at=ports.clock.now())
    if data.factory_so_pin is not None:
        batch.factory_so_pin = ports.tokens.escrow.seal(data.factory_so_pin, batch_context(batch.reference))
    session.add(batch)
    session.flush()
    audit.record(session, actor, "token_batch.received", batch,
                 {"model": batch.model, "supplier": batch.supplier, "received_on": batch.received_on.isoformat(),
                  "count": len(serials), "factory_so_pin_recorded": batch.factory_so_pin is not None})
    now = ports.clock.now()
    tokens = [Token(serial=s, batch=batch, status=S.IN_STOCK, status_changed_at=now, created_at=now) for s in serials]
    session.add_all(tokens)
    session.flush()
    for token in tokens:
        audit.record(session, actor, "token.received", token, {"serial": token.serial, "batch": batch.id})
    return batch


def record_factory_so_pin(session, actor, batch: TokenBatch, so_pin: str, *, ports) -> None:
    """The vendor sent the factory SO PIN after the tokens (or it was mistyped)."""
    auth_policy.require(P.can_receive_batch(actor))
    if not 4 <= len(so_pin or "") <= 64:
        raise UserError(_l("The factory SO PIN is 4 to 64 characters long."), field="factory_so_pin")
    replaced = batch.factory_so_pin is not None
    batch.factory_so_pin = ports.tokens.escrow.seal(so_pin, batch_context(batch.reference))
    audit.record(session, actor, "token_batch.factory_so_pin_recorded", batch, {"replaced": replaced})


# -- preparing a token for a holder (DESIGN §3.3 step 3) ----------------------------------

def token_for_initialisation(session, serial: str) -> Token:
    """The stock record of the token in the reader; refuses, saying why, a serial
    not in stock, a token not ``in_stock``, or one whose SO PIN the RU does not know."""
    token = queries.token_by_serial(session, serial, with_batch=True)
    require_ready(token, serial)
    return token


def require_ready(token: Token | None, serial: str) -> None:
    """The stock checks on the record the caller holds: reading the row again by its
    serial would return this very object, not a fresher copy."""
    problem = queries.readiness_problem(token, serial)
    if problem is not None:
        raise problem


def current_so_pin(token: Token, *, ports) -> str:
    """The SO PIN the token has, out of escrow: the RU's own once it set one, else
    the batch's factory SO PIN."""
    if token.so_pin is not None:
        return ports.tokens.escrow.open(token.so_pin, token_context(token.serial))
    if token.batch.factory_so_pin is not None:
        return ports.tokens.escrow.open(token.batch.factory_so_pin, batch_context(token.batch.reference))
    raise queries.readiness_problem(token, token.serial) or InvalidTransition()


def begin_initialisation(session, actor, token: Token, *, ports) -> None:
    """Step 3a: draws the fresh SO PIN (≥16 characters from ``secrets``) and escrows
    it as *pending*. Commit before ``initialise_token``: from then on, whatever
    happens on the token, the RU holds the SO PIN it ends up with."""
    auth_policy.require(P.can_initialise_token(actor, token))
    require_ready(token, token.serial)
    if token.so_pin_pending is None:
        token.so_pin_pending = ports.tokens.escrow.seal(pins.random_so_pin(), token_context(token.serial))
        audit.record(session, actor, "token.so_pin_drawn", token, {"serial": token.serial})


def initialise_token(session, actor, token: Token, *, label: str, ports) -> None:
    """Step 3b: C_InitToken with the token's current SO PIN (wipes it, writes the
    label), then C_SetPIN to the pending SO PIN, which becomes the escrowed one.
    After an interrupted earlier run the token may already have the pending SO PIN:
    that is tried once when the current one is refused."""
    auth_policy.require(P.can_initialise_token(actor, token))
    require_ready(token, token.serial)
    if token.so_pin_pending is None:
        raise InvalidTransition(_l("Draw the new SO PIN first."))
    driver = ports.tokens
    pending = driver.escrow.open(token.so_pin_pending, token_context(token.serial))
    current = current_so_pin(token, ports=ports)
    label = label.strip() or token.serial
    try:
        driver.init_token(token.serial, current, label)
        driver.set_so_pin(token.serial, current, pending)
        resumed = False
    except SoPinIncorrect:
        driver.init_token(token.serial, pending, label)  # refused again → the error reaches the officer
        resumed = True
    token.so_pin, token.so_pin_pending = token.so_pin_pending, None
    token.label = label[:32]
    token.initialised_at = ports.clock.now()
    audit.record(session, actor, "token.initialised", token,
                 {"serial": token.serial, "label": token.label, "so_pin": "replaced", "resumed": resumed})


def set_user_pin(session, actor, token: Token, user_pin: str, *, source: str, ports) -> None:
    """Step 3c: C_InitPIN as SO. ``source``: "typed" by the holder or "envelope"
    (random, printed sealed). The PIN itself goes to the token and nowhere else."""
    auth_policy.require(P.can_initialise_token(actor, token))
    if token.so_pin is None:
        raise InvalidTransition(_l("Initialise the token first."))
    pins.check_user_pin(user_pin)
    ports.tokens.init_user_pin(token.serial, current_so_pin(token, ports=ports), user_pin)
    audit.record(session, actor, "token.user_pin_set", token, {"serial": token.serial, "source": source})


def activate_token(session, actor, token: Token, *, ports, details: dict | None = None) -> None:
    """Step 8: the token leaves the stock with its holder."""
    token_states.transition(session, token, S.ACTIVE, actor=actor, details={"serial": token.serial,
                                                                            **(details or {})})
    token.status_changed_at = ports.clock.now()


def unblock_at_counter(session, actor, token: Token, new_user_pin: str, *, ports) -> None:
    """PIN unblock at the counter (DESIGN §3.3): the officer logs in as SO with the
    escrowed SO PIN and sets the PIN the holder types (C_InitPIN)."""
    auth_policy.require(P.can_unblock_at_counter(actor, token))
    if token.status != S.ACTIVE:
        raise InvalidTransition(_l("Only a token handed over to a holder can be unblocked."))
    if token.so_pin is None:
        raise InvalidTransition(_l("The RU never set the SO PIN of this token, so it cannot unblock it."))
    pins.check_user_pin(new_user_pin)
    ports.tokens.init_user_pin(token.serial, current_so_pin(token, ports=ports), new_user_pin)
    audit.record(session, actor, "token.unblocked", token, {"serial": token.serial, "channel": "counter"})


# -- token events (DESIGN §3.3 transition table) -------------------------------------------

def _not_in_a_handover(session, token: Token) -> None:
    """A stock token in an open handover fails through that handover, which must end with it."""
    if token.status != S.IN_STOCK:
        return
    open_one = session.execute(sa.select(Handover.id).where(Handover.token_id == token.id,
                                                            Handover.step.notin_(FINISHED))).scalar()
    if open_one is not None:
        raise Conflict(_l("This token is in handover %(id)s: record its failure on the handover's page."),
                       code="handover_open", id=open_one)


def change_token_state(session, actor, token: Token, target: TokenStatus, *, reason: str, ports,
                       return_reason: str | None = None) -> effects.CertificateEffect | None:
    """Suspend, found, lost, damaged, returned, wiped for reuse, destroyed. Returns
    the certificate effect and whether it was carried out (``not_connected`` until
    the revocation module registers its handler: the caller must show that)."""
    auth_policy.require(P.can_change_token_state(actor, token, target))
    if target not in MANUAL_TARGETS and not (target == S.ACTIVE and token.status == S.SUSPENDED):
        raise InvalidTransition()
    if not token_states.can(token, target):
        raise InvalidTransition()
    _not_in_a_handover(session, token)
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_l("Give the reason."), field="reason")
    if return_reason is not None and return_reason not in effects.RETURN_REASONS:
        raise UserError(_l("Choose the reason for the return from the list."), field="return_reason")
    details: dict = {"serial": token.serial, "reason": reason[:500]}
    if target == S.IN_STOCK:
        # DESIGN §3.3 "re-initialised for reuse": wipe keys and certificates now.
        ports.tokens.init_token(token.serial, current_so_pin(token, ports=ports), STOCK_LABEL)
        token.label = STOCK_LABEL
        details["wiped"] = True
    effect = effects.carry_out(session, actor, token,
                               effects.effect_for(token.status, target, return_reason=return_reason), ports=ports)
    if effect is not None:
        details["certificate_effect"] = effect.as_dict()
    token_states.transition(session, token, target, actor=actor, details=details)
    token.status_changed_at = ports.clock.now()
    if target == S.DESTROYED:
        token.so_pin = token.so_pin_pending = None  # no token, no SO PIN to keep
    return effect
