"""PIN rules and PIN generation (issue #5, DESIGN §3.3 step 3).

User PIN policy: 6–16 printable ASCII characters, not one character repeated, not
a run such as 123456, 654321 or abcdef (NIST SP 800-63B §5.1.1.2 asks verifiers to
refuse "repetitive or sequential characters"). The token enforces its own limits
too; this check runs first so the holder hears the rule in their language.

SO PINs are generated, never typed: at least 16 characters from ``secrets``.
"""
from __future__ import annotations

import secrets
import string

from ra.errors import UserError
from ra.i18n import _l

USER_PIN_MIN = 6
USER_PIN_MAX = 16
SO_PIN_LENGTH = 20
SO_PIN_ALPHABET = string.ascii_letters + string.digits


class PinPolicyError(UserError):
    code = "pin_policy"
    default_message = _l("The PIN does not follow the rules.")


def _is_run(pin: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in zip(pin, pin[1:])}
    return len(steps) == 1 and steps.pop() in (1, -1)


def check_user_pin(pin: str) -> None:
    """Raises ``PinPolicyError`` with a message the holder understands."""
    pin = pin or ""
    if not USER_PIN_MIN <= len(pin) <= USER_PIN_MAX:
        raise PinPolicyError(_l("The PIN must be %(min)d to %(max)d characters long."),
                             field="pin", min=USER_PIN_MIN, max=USER_PIN_MAX)
    if any(not (33 <= ord(c) <= 126) for c in pin):
        raise PinPolicyError(_l("Use only Latin letters, digits and punctuation in the PIN, without spaces."),
                             field="pin")
    if len(set(pin)) == 1:
        raise PinPolicyError(_l("The PIN must not be one character repeated."), field="pin")
    if _is_run(pin.lower()):
        raise PinPolicyError(_l("The PIN must not be a sequence such as 123456 or 654321."), field="pin")


def random_user_pin(length: int = 8) -> str:
    """A PIN for the sealed PIN envelope: digits, so it can be typed on any reader."""
    while True:
        pin = "".join(secrets.choice(string.digits) for _ in range(length))
        try:
            check_user_pin(pin)
        except PinPolicyError:
            continue
        return pin


def random_so_pin(length: int = SO_PIN_LENGTH) -> str:
    if length < 16:
        raise ValueError("an SO PIN has at least 16 characters")
    return "".join(secrets.choice(SO_PIN_ALPHABET) for _ in range(length))


def random_transport_pin() -> str:
    """The user PIN a vendor-style stock token ships with (never the holder's)."""
    return random_user_pin(10)
