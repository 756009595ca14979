"""What went wrong with a token, in words an officer at the counter understands.

python-pkcs11 raises one exception class per PKCS#11 return value (PKCS#11 v2.40
§5.1, ``pkcs11/exceptions.py``); ``translate`` maps them to typed ``RAError``s
with translated messages. Whether a PIN error concerns the holder's PIN or the
RU's SO PIN matters to the officer (the first is routine, the second means stop),
so the caller says which PIN was in play.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

import pkcs11.exceptions as px

from ra.errors import BackendUnavailable, Conflict, RAError, UserError
from ra.i18n import _l

log = logging.getLogger("ra.tokens")


class TokenError(RAError):
    status = 409
    code = "token_error"
    default_message = _l("The token reported an error.")


class TokenNotPresent(TokenError):
    code = "token_not_present"
    default_message = _l("The token with serial number %(serial)s is not in a reader. "
                         "Insert it and try again.")


class TokenRemoved(TokenError):
    code = "token_removed"
    default_message = _l("The token %(serial)s was removed while it was in use. Insert it again and "
                         "resume: the steps already done are kept.")


class PinIncorrect(TokenError):
    status = 400
    code = "pin_incorrect"
    default_message = _l("The PIN is wrong. After a few more wrong tries the token locks the PIN.")


class PinLocked(TokenError):
    code = "pin_locked"
    default_message = _l("The PIN of token %(serial)s is locked after too many wrong tries. "
                         "It can be unblocked at the counter.")


class SoPinIncorrect(TokenError):
    code = "so_pin_incorrect"
    default_message = _l("Token %(serial)s refused the SO PIN the RU holds for it. Stop and call the "
                         "administrator: more tries can lock the token for good.")


class SoPinLocked(TokenError):
    code = "so_pin_locked"
    default_message = _l("The SO PIN of token %(serial)s is locked. The token can no longer be "
                         "initialised or unblocked: set it aside as damaged.")


class PinRejected(UserError):
    code = "pin_rejected"
    default_message = _l("The token does not accept a PIN of this length or form.")


class TokenBusy(TokenError):
    code = "token_busy"
    default_message = _l("Another program is using token %(serial)s. Close other programs that use "
                         "the token (browser, signing tool) and try again.")


class TokenFull(TokenError):
    code = "token_full"
    default_message = _l("Token %(serial)s has no room left for another key or certificate.")


class TokenWriteProtected(TokenError):
    code = "token_write_protected"
    default_message = _l("Token %(serial)s is write-protected.")


class TokenNotInitialised(TokenError):
    code = "token_not_initialised"
    default_message = _l("Token %(serial)s has no user PIN yet: initialise it first.")


class KeyNotFound(TokenError):
    code = "key_not_found"
    default_message = _l("The key pair is not on token %(serial)s.")


class KeyNotProtected(TokenError):
    code = "key_not_protected"
    default_message = _l("The key generated on token %(serial)s is not marked as generated on the token and "
                         "never extractable. The token is not fit for a qualified key.")


class CertificateMismatch(TokenError):
    code = "certificate_mismatch"
    default_message = _l("The certificate does not belong to the key on token %(serial)s.")


class TokenFailure(TokenError):
    status = 503
    code = "token_failure"
    default_message = _l("The token or its reader reported an error (%(kind)s). Try again; if it "
                         "happens again, set the token aside.")


class ModuleUnavailable(BackendUnavailable):
    code = "pkcs11_module_unavailable"
    default_message = _l("The PKCS#11 module %(module)s cannot be loaded. Check RA_PKCS11_MODULE.")


class KeyTypeNotAllowed(UserError):
    code = "key_type_not_allowed"
    default_message = _l("The certificate profile %(profile)s does not allow %(key_type)s keys.")


class TokenRefused(Conflict):
    """Stock checks before a token is initialised (issue #5)."""
    code = "token_refused"


_REMOVED = (px.DeviceRemoved, px.SessionHandleInvalid, px.SessionClosed)
_ABSENT = (px.TokenNotPresent, px.NoSuchToken, px.SlotIDInvalid, px.TokenNotRecognised)


def translate(exc: Exception, *, serial: str, so: bool = False) -> RAError:
    """Maps a python-pkcs11 exception to a typed error. ``so``: the PIN in play
    was the SO PIN."""
    if isinstance(exc, RAError):
        return exc
    if isinstance(exc, px.PinIncorrect):
        return SoPinIncorrect(serial=serial) if so else PinIncorrect()
    if isinstance(exc, px.PinLocked):
        return SoPinLocked(serial=serial) if so else PinLocked(serial=serial)
    if isinstance(exc, (px.PinLenRange, px.PinInvalid, px.PinTooWeak)):
        return PinRejected(field="pin")
    if isinstance(exc, _ABSENT):
        return TokenNotPresent(serial=serial)
    if isinstance(exc, _REMOVED):
        return TokenRemoved(serial=serial)
    if isinstance(exc, (px.SessionExists, px.SessionReadWriteSOExists, px.SessionCount,
                        px.UserAlreadyLoggedIn, px.AnotherUserAlreadyLoggedIn)):
        return TokenBusy(serial=serial)
    if isinstance(exc, px.DeviceMemory):
        return TokenFull(serial=serial)
    if isinstance(exc, px.TokenWriteProtected):
        return TokenWriteProtected(serial=serial)
    if isinstance(exc, px.UserPinNotInitialized):
        return TokenNotInitialised(serial=serial)
    if isinstance(exc, px.NoSuchKey):
        return KeyNotFound(serial=serial)
    return TokenFailure(kind=type(exc).__name__)


@contextmanager
def pkcs11_errors(serial: str, *, so: bool = False, operation: str = ""):
    """Runs a token operation; library errors leave it as typed errors. The log
    names the operation and the serial, never a PIN."""
    try:
        yield
    except px.PKCS11Error as exc:
        error = translate(exc, serial=serial, so=so)
        log.warning("token %s: %s failed: %s", serial, operation or "operation", type(exc).__name__)
        raise error from exc
