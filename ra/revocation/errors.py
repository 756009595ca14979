"""Why a revocation step was refused, in words the registrar, the officer or the
holder understands (STYLE rule 5).

A refusal that changed something the RU must keep — a wrong code counted, a code
locked or expired, a throttled report recorded — is ``Recorded``: the entry point
commits before it answers, so the record survives the error handler's rollback.
A wrong code gets the same answer whether or not the report exists; only someone
who holds the right code learns that it was used or has expired.
"""
from __future__ import annotations

from ra.errors import Conflict, InvalidTransition, PermissionDenied, TooManyRequests, UserError
from ra.i18n import _l


class Recorded(Exception):
    """Mixin: commit, then answer with this error."""


class MalformedSerial(UserError):
    code = "malformed_serial"
    default_message = _l("This is not a certificate serial number: give 1 to 40 hexadecimal digits "
                         "(0-9, A-F), with or without colons.")


class UnknownReason(UserError):
    code = "unknown_reason"
    default_message = _l("Choose a reason from the list: keyCompromise, affiliationChanged, superseded, "
                         "cessationOfOperation or certificateHold.")


class UseRelease(UserError):
    code = "use_release"
    default_message = _l("A hold is released at the counter, with the token present (removeFromCRL), not with a "
                         "revocation request.")


class BadInvalidityDate(UserError):
    code = "bad_invalidity_date"
    default_message = _l("The invalidity date must be a date and time (ISO 8601) that is not in the future.")


class AlreadyRevoked(InvalidTransition):
    code = "already_revoked"
    default_message = _l("This certificate is revoked. Revocation is final: it cannot be undone or released.")


class CertificateExpired(InvalidTransition):
    code = "certificate_expired"
    default_message = _l("This certificate has expired; it is no longer revoked or suspended.")


class NotOnHold(InvalidTransition):
    code = "not_on_hold"
    default_message = _l("This certificate is not on hold; only a suspended certificate can be released.")


class AlreadyOnHold(Conflict):
    code = "already_on_hold"
    default_message = _l("This certificate is already on hold.")


class OpenRequestExists(Conflict):
    code = "open_request_exists"
    default_message = _l("A request about this certificate is already being processed: %(number)s.")


class RevocationUnderway(Conflict):
    code = "revocation_underway"
    default_message = _l("The revocation of this certificate is approved and waiting for the CA; it cannot be "
                         "released.")


class CertificateNotOnRecord(Conflict):
    code = "certificate_not_on_record"
    default_message = _l("The RU has no record of certificate %(serial)s, so its revocation cannot be requested "
                         "here. Ask the RU to revoke it at the CA.")


class NoTokenOnRecord(Conflict):
    code = "no_token_on_record"
    default_message = _l("No token is recorded for this certificate, so its presence at the counter cannot be "
                         "checked. A hold is released only with the token in the reader.")


class TokenMustBePresent(Conflict):
    code = "token_not_present"
    default_message = _l("Token %(serial)s is not in the reader. A hold is released only at the counter with the "
                         "token present: insert it and try again.")


class OwnRequest(PermissionDenied):
    code = "own_request"
    default_message = _l("You made or confirmed this request, so you cannot approve or reject it: another officer "
                         "or manager must.")


class AboutYourself(PermissionDenied):
    code = "own_certificate"
    default_message = _l("This request is about your own certificate: another officer or manager must decide it.")


class AlreadyDecided(Conflict):
    code = "already_decided"
    default_message = _l("You have already decided on this request.")


class NotAwaitingApproval(InvalidTransition):
    code = "not_awaiting_approval"
    default_message = _l("This request is not awaiting approval.")


class NotAwaitingConfirmation(InvalidTransition):
    code = "not_awaiting_confirmation"
    default_message = _l("This request is not waiting for the confirmation of a lost token.")


# -- the holder's lost-token report ----------------------------------------------------------

class ReportsThrottled(Recorded, TooManyRequests):
    code = "lost_report_throttled"
    default_message = _l("Too many reports from this network in a short time. Your report is kept: if the e-mail "
                         "and token serial are registered, a code was sent, unless one was sent in the last "
                         "%(minutes)d minutes. Use the newest code.")


class ProofsThrottled(Recorded, TooManyRequests):
    code = "lost_code_throttled"
    default_message = _l("Too many codes were tried from this network. Try again in an hour.")


class CodeRefused(Recorded, PermissionDenied):
    code = "lost_code_refused"
    default_message = _l("This code is not valid for this report. Check the code in the newest e-mail.")


class CodeUsed(Conflict):
    code = "lost_code_used"
    default_message = _l("This code was already used: the report was confirmed. To confirm that the token is "
                         "lost for good, report it again and use the new code.")


class CodeExpired(Recorded, Conflict):
    code = "lost_code_expired"
    default_message = _l("This code has expired: a code is valid for %(minutes)d minutes. Report the token again "
                         "to get a new code.")


class CodeLocked(Recorded, Conflict):
    code = "lost_code_locked"
    default_message = _l("Too many wrong codes were tried for this report, so its code no longer works. Report "
                         "the token again to get a new code.")


class TokenNotReportable(Recorded, Conflict):
    code = "lost_token_not_in_use"
    default_message = _l("This token is no longer in use (it is already recorded as lost, damaged or returned): "
                         "its certificates are revoked.")


class NothingPicked(UserError):
    status = 422
    code = "lost_token_none_picked"
    default_message = _l("Pick at least one of your tokens to report.")
