"""What stops a counter handover, in words the officer understands (typed errors
with translatable messages, STYLE rule 5)."""
from __future__ import annotations

from ra.errors import Conflict, InvalidTransition, UserError
from ra.i18n import _l


class IdentityMismatch(UserError):
    code = "identity_mismatch"
    default_message = _l("The number on the identity document is not the holder's register number "
                         "(%(expected)s). The certificate may only be handed to the holder in person.")


class OrderNotReady(InvalidTransition):
    code = "order_not_ready"
    default_message = _l("This order cannot be handed over: it is %(status)s. Only approved or scheduled "
                         "orders can.")


class HolderDataChanged(Conflict):
    code = "holder_data_changed"
    default_message = _l("The holder's data changed after the order was approved, so the certificate would not "
                         "say what was approved. Cancel the order and file a new one.")


class TokenNeeded(UserError):
    code = "token_needed"
    default_message = _l("Choose the token to hand over.")


class PinNeeded(UserError):
    code = "pin_needed"
    default_message = _l("The holder's PIN is needed to go on: the holder types a PIN again (it is set anew on "
                         "the token), or choose a new sealed PIN envelope.")


class CannotCancel(InvalidTransition):
    code = "handover_not_cancellable"
    default_message = _l("The CA has been asked for this handover's certificate, so it can no longer be "
                         "cancelled. Resume it: the certificate is then written to the token.")


class RevocationNotConnected(Conflict):
    code = "revocation_not_connected"
    default_message = _l("Revocation is not connected yet, so this certificate cannot be revoked from here. "
                         "Resume the handover to write it to the token, or ask the CA to revoke serial "
                         "%(serial)s.")
