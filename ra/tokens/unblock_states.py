"""States of a remote PIN unblock (DESIGN §3.3), one step per thing the holder's
``ra-token`` command has done or is about to do, so that after an interruption
the server knows what the token can hold:

``code_sent`` → ``code_accepted`` (the current SO PIN was handed out) →
``user_pin_set`` (C_InitPIN done) → ``so_pin_drawn`` (a new SO PIN escrowed as
pending and handed out; the token still has the old one, because the command
announces the next step before taking it) → ``so_pin_setting`` (C_SetPIN may have
run: the token has the old or the new SO PIN) → ``completed`` (the command proved
the new SO PIN on the token; it became the escrowed one).

Side exits: ``expired`` (30 minutes passed), ``locked`` (too many wrong codes),
``cancelled`` (a newer code replaced it). None of them touches the escrow: a
rotation left half-way keeps both SO PINs on the token's record until a later
unblock, or the officer at the counter, finds out which one the token has.
"""
from __future__ import annotations

import enum

from ra.i18n import _l
from ra.states import StateMachine


class UnblockChannel(str, enum.Enum):
    HOLDER = "holder"          # the holder asked from the registered e-mail
    REGISTRAR = "registrar"    # the organisation's registration officer asked for them
    RU_STAFF = "ru_staff"      # an RU officer asked for them (holder on the telephone)

    @property
    def label(self):
        return {UnblockChannel.HOLDER: _l("The holder, from the registered e-mail"),
                UnblockChannel.REGISTRAR: _l("The registration officer"),
                UnblockChannel.RU_STAFF: _l("An RU officer")}[self]


class UnblockStatus(str, enum.Enum):
    CODE_SENT = "code_sent"
    CODE_ACCEPTED = "code_accepted"
    USER_PIN_SET = "user_pin_set"
    SO_PIN_DRAWN = "so_pin_drawn"
    SO_PIN_SETTING = "so_pin_setting"
    COMPLETED = "completed"
    EXPIRED = "expired"
    LOCKED = "locked"
    CANCELLED = "cancelled"

    @property
    def label(self):
        return STATUS_LABELS[self]


STATUS_LABELS = {
    UnblockStatus.CODE_SENT: _l("Code sent"),
    UnblockStatus.CODE_ACCEPTED: _l("Code accepted"),
    UnblockStatus.USER_PIN_SET: _l("New PIN set"),
    UnblockStatus.SO_PIN_DRAWN: _l("SO PIN rotation started"),
    UnblockStatus.SO_PIN_SETTING: _l("SO PIN being replaced"),
    UnblockStatus.COMPLETED: _l("Unblocked"),
    UnblockStatus.EXPIRED: _l("Expired"),
    UnblockStatus.LOCKED: _l("Locked after wrong codes"),
    UnblockStatus.CANCELLED: _l("Replaced by a newer code"),
}

U = UnblockStatus
# A code may still be used (or an interrupted session resumed) in these states.
OPEN = frozenset({U.CODE_SENT, U.CODE_ACCEPTED, U.USER_PIN_SET, U.SO_PIN_DRAWN, U.SO_PIN_SETTING})
IN_SESSION = OPEN - {U.CODE_SENT}
_EXITS = {U.EXPIRED, U.LOCKED, U.CANCELLED}

unblock_states = StateMachine(
    "token_unblock",
    {
        U.CODE_SENT: {U.CODE_ACCEPTED, *_EXITS},
        U.CODE_ACCEPTED: {U.USER_PIN_SET, *_EXITS},
        U.USER_PIN_SET: {U.SO_PIN_DRAWN, *_EXITS},
        U.SO_PIN_DRAWN: {U.SO_PIN_SETTING, *_EXITS},
        U.SO_PIN_SETTING: {U.COMPLETED, *_EXITS},
        U.COMPLETED: set(),
        U.EXPIRED: set(),
        U.LOCKED: set(),
        U.CANCELLED: set(),
    },
)
