"""Why a remote unblock step was refused, in words the holder understands.

A refusal that changed something the RU must keep — a wrong code counted, a code
locked or expired, a request throttled — is a ``Recorded`` error: the entry point
commits before it answers, so the count survives the error handler's rollback.

A wrong code and a code for another token get the same answer; only someone who
holds the right code learns that it was used, has expired or was replaced.
"""
from __future__ import annotations

from ra.errors import Conflict, PermissionDenied, TooManyRequests
from ra.i18n import _l


class Recorded(Exception):
    """Mixin: commit, then answer with this error."""


class UnblockThrottled(Recorded, TooManyRequests):
    code = "unblock_throttled"
    default_message = _l("Too many unblock requests. Try again in an hour.")


class TooManyCodes(TooManyRequests):
    code = "unblock_too_many_codes"
    default_message = _l("Three codes were already sent for this token in the last hour. Ask the holder to use "
                         "the newest one, or try again later.")


class CodeRefused(Recorded, PermissionDenied):
    code = "unblock_code_refused"
    default_message = _l("This code is not valid for this token. Check the code, and that the token it was sent "
                         "for is the one in the reader.")


class CodeUsed(Conflict):
    code = "unblock_code_used"
    default_message = _l("This code was already used and the unblock was completed. If the PIN is blocked "
                         "again, ask for a new code.")


class CodeExpired(Recorded, Conflict):
    code = "unblock_code_expired"
    default_message = _l("This code has expired: a code is valid for %(minutes)d minutes. Ask for a new code.")


class CodeLocked(Recorded, Conflict):
    code = "unblock_code_locked"
    default_message = _l("Too many wrong codes were tried for this token, so its code no longer works. "
                         "Ask for a new code.")


class CodeReplaced(Conflict):
    code = "unblock_code_replaced"
    default_message = _l("This code no longer works: a newer code was sent for this token, or the RU closed it. "
                         "Use the code from the newest e-mail, or ask for a new one.")


class SessionRefused(PermissionDenied):
    code = "unblock_session_refused"
    default_message = _l("This unblock session is not valid any more. Run the command again with your code.")


class SessionExpired(Recorded, Conflict):
    code = "unblock_session_expired"
    default_message = _l("The unblock took too long and was stopped. Nothing is lost: ask for a new code and "
                         "run the command again.")


class TokenNotUnblockable(Recorded, Conflict):
    code = "unblock_token_not_active"
    default_message = _l("Only a token handed over to a holder can be unblocked.")


class NoEscrowedSoPin(Conflict):
    code = "unblock_no_so_pin"
    default_message = _l("The RU never set the SO PIN of this token, so it cannot unblock it.")


class CodeNotDelivered(Recorded, Conflict):
    status = 503
    code = "unblock_code_not_delivered"
    default_message = _l("The e-mail with the code could not be sent. Try again later.")
