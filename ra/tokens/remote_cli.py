"""``ra-token``: the holder's own command for remote PIN unblock (DESIGN §3.3, issue #5).

    ra-token unblock --code CODE --module PATH [--server URL] [--token-serial S] [--cafile FILE]

It runs on the holder's computer, next to the token, and talks to the RU's JSON API
(``ra.tokens.unblock_api``) over TLS: plain http only to this computer itself
(tests). It imports no Flask and no app — only ``requests``, python-pkcs11 and the
C_CloseAllSessions part of ``ra.tokens.initshim`` — so it works without the RU's
configuration or database.

The steps, each recorded by the server before the next (PKCS#11 v2.40 §5.6):

1. prove the code → the escrowed SO PIN (and, if an earlier run was interrupted
   during the rotation, the new one too, with which to try first);
2. find which SO PIN the token has (SO login; python-pkcs11 0.10 leaves the session
   open when C_Login fails, so all sessions are closed after a refusal);
3. unless the server says it was done: read the new user PIN, check it here and on
   the server, C_InitPIN as SO, log in with it, report it;
4. ask for the new SO PIN (escrowed as pending before it is handed out), announce
   C_SetPIN, C_SetPIN as SO, log in as SO with it, confirm.

Interrupted anywhere, the same command with the same code finishes the job: the
server keeps the old SO PIN until the new one is confirmed, and says which of the
two the token more likely has. No PIN is printed or written anywhere.
"""
from __future__ import annotations

import argparse
import getpass
import gettext
import ipaddress
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pkcs11
import pkcs11.exceptions as px
import requests

from ra.tokens.initshim import InitTokenShim

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_RETRY = 0, 1, 2, 3
USER_PIN_MIN, USER_PIN_MAX = 6, 16  # as ra.tokens.pins; the server checks too
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def _(message: str) -> str:
    """Marks a message for extraction; ``Out.say`` translates it."""
    return message


class Stop(Exception):
    """Ends the command with a message (already translated) and an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def translator(lang: str):
    """The tokens catalog in ``lang``: the compiled .mo when it is current, else the
    .po read with Babel (a fresh checkout), else English."""
    if lang == "en":
        return lambda s: s
    po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    try:
        if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
            with open(mo, "rb") as f:
                return gettext.GNUTranslations(f).gettext
        from babel.messages.pofile import read_po

        with open(po, "rb") as f:
            table = {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}
        return lambda s: table.get(s) or s
    except (OSError, ImportError):
        return lambda s: s


class Out:
    def __init__(self, lang: str, stream=None):
        self.lang = lang
        self.gettext = translator(lang)
        self.stream = stream or sys.stdout

    def t(self, message: str, **params) -> str:
        text = self.gettext(message)
        return text % params if params else text

    def say(self, message: str, **params) -> None:
        print(self.t(message, **params), file=self.stream, flush=True)


# -- the RU's API ----------------------------------------------------------------------

def check_server(url: str) -> str:
    """https://…, or http:// only to a loopback address (tests on this computer)."""
    parts = urlsplit(url or "")
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url.rstrip("/")
    if parts.scheme == "http" and host:
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return url.rstrip("/")
    raise ValueError(url)


class Api:
    def __init__(self, server: str, out: Out, *, cafile: str | None = None, timeout: float = 30):
        self.base = server + "/api/v1"
        self.out = out
        self.timeout = timeout
        # Per request, not on the session: requests lets REQUESTS_CA_BUNDLE override a
        # session's ``verify``, and --cafile must win.
        self.verify = cafile or True
        self.http = requests.Session()
        self.http.headers.update({"Accept-Language": out.lang, "User-Agent": "ra-token/1"})

    def post(self, path: str, body: dict) -> dict:
        try:
            resp = self.http.post(self.base + path, json=body, timeout=self.timeout, verify=self.verify)
        except requests.exceptions.SSLError:
            raise Stop(self.out.t(_("The RU server's certificate could not be verified. If the RU uses its own "
                                    "certification authority, give its certificate with --cafile.")))
        except requests.RequestException as exc:
            raise Stop(self.out.t(_("The RU server cannot be reached (%(reason)s). Nothing is lost: run the same "
                                    "command again."), reason=type(exc).__name__), EXIT_RETRY)
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.ok and isinstance(data, dict):
            return data
        error = data.get("error") if isinstance(data, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        retry = resp.status_code >= 500
        if not message:
            message = self.out.t(_("The RU server answered with an error (HTTP %(status)d)."), status=resp.status_code)
        if retry:
            message += " " + self.out.t(_("Nothing is lost: run the same command again."))
        raise Stop(message, EXIT_RETRY if retry else EXIT_REFUSED)


# -- the token ------------------------------------------------------------------------------

def _serial(token) -> str:
    raw = token.serial
    return (raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)).strip()


def find_token(lib, serial: str | None, out: Out):
    present = []
    for slot in lib.get_slots(token_present=True):
        try:
            token = slot.get_token()
        except (px.TokenNotPresent, px.TokenNotRecognised, px.DeviceRemoved):
            continue
        if _serial(token):
            present.append(token)
    if serial:
        for token in present:
            if _serial(token).lower() == serial.strip().lower():
                return token
        raise Stop(out.t(_("Token %(serial)s is not inserted. Insert it and run the command again."), serial=serial))
    if not present:
        raise Stop(out.t(_("No token is inserted. Insert the token and run the command again.")))
    if len(present) > 1:
        raise Stop(out.t(_("Several tokens are inserted (%(serials)s). Name one with --token-serial."),
                         serials=", ".join(_serial(t) for t in present)), EXIT_USAGE)
    return present[0]


class TokenOps:
    """The few PKCS#11 calls of an unblock, each in its own session."""

    def __init__(self, module: str, token, out: Out):
        self.module, self.token, self.out = module, token, out

    def _close_all(self):
        try:
            InitTokenShim(self.module).close_all_sessions(self.token.slot.slot_id)
        except px.PKCS11Error:
            pass

    def _failed(self, exc: px.PKCS11Error) -> Stop:
        if isinstance(exc, px.PinLocked):
            return Stop(self.out.t(_("The token's SO PIN is locked. Take the token to the RU's counter.")))
        return Stop(self.out.t(_("The token refused the operation (%(kind)s). Run the command again; if it happens "
                                 "again, take the token to the RU's counter."), kind=type(exc).__name__), EXIT_RETRY)

    def so_pin_works(self, so_pin: str) -> bool:
        try:
            with self.token.open(rw=True, so_pin=so_pin):
                return True
        except px.PinIncorrect:
            self._close_all()
            return False
        except px.PKCS11Error as exc:
            self._close_all()
            raise self._failed(exc) from None

    def init_user_pin(self, so_pin: str, user_pin: str) -> None:
        try:
            with self.token.open(rw=True, so_pin=so_pin) as session:
                session.init_pin(user_pin)
            with self.token.open(user_pin=user_pin):
                pass
        except (px.PinLenRange, px.PinInvalid):
            self._close_all()
            raise Stop(self.out.t(_("The token does not accept a PIN of this length or form."))) from None
        except px.PKCS11Error as exc:
            self._close_all()
            raise self._failed(exc) from None

    def set_so_pin(self, old: str, new: str) -> None:
        try:
            with self.token.open(rw=True, so_pin=old) as session:
                session.set_pin(old, new)
        except px.PKCS11Error as exc:
            self._close_all()
            raise self._failed(exc) from None


# -- the new user PIN ------------------------------------------------------------------------------

def pin_problem(pin: str, out: Out) -> str | None:
    """The rules of ``ra.tokens.pins`` (NIST SP 800-63B §5.1.1.2), in the holder's language."""
    if not USER_PIN_MIN <= len(pin) <= USER_PIN_MAX:
        return out.t(_("The PIN must be %(min)d to %(max)d characters long."), min=USER_PIN_MIN, max=USER_PIN_MAX)
    if any(not (33 <= ord(c) <= 126) for c in pin):
        return out.t(_("Use only Latin letters, digits and punctuation in the PIN, without spaces."))
    if len(set(pin)) == 1:
        return out.t(_("The PIN must not be one character repeated."))
    steps = {ord(b) - ord(a) for a, b in zip(pin.lower(), pin.lower()[1:])}
    if len(steps) == 1 and steps.pop() in (1, -1):
        return out.t(_("The PIN must not be a sequence such as 123456 or 654321."))
    return None


def read_new_pin(out: Out, *, from_stdin: bool) -> str:
    if from_stdin:
        pin = sys.stdin.readline().rstrip("\r\n")
        problem = pin_problem(pin, out)
        if problem:
            raise Stop(problem)
        return pin
    for _attempt in range(3):
        pin = getpass.getpass(out.t(_("Type the new PIN (%(min)d to %(max)d characters): "),
                                    min=USER_PIN_MIN, max=USER_PIN_MAX))
        problem = pin_problem(pin, out)
        if problem:
            out.say(problem)
            continue
        if getpass.getpass(out.t(_("Type the new PIN again: "))) != pin:
            out.say(_("The two PINs differ. Try again."))
            continue
        return pin
    raise Stop(out.t(_("No new PIN was chosen. Run the command again.")))


# -- the unblock ---------------------------------------------------------------------------------------

def unblock(args, out: Out) -> None:
    try:
        server = check_server(args.server or os.environ.get("RA_SERVER", ""))
    except ValueError:
        raise Stop(out.t(_("The server address must start with https:// (plain http only to this computer "
                           "itself).")), EXIT_USAGE) from None
    api = Api(server, out, cafile=args.cafile)
    try:
        lib = pkcs11.lib(args.module)
    except (px.PKCS11Error, OSError, RuntimeError):
        raise Stop(out.t(_("The PKCS#11 module %(module)s cannot be loaded."), module=args.module),
                   EXIT_USAGE) from None
    token = find_token(lib, args.token_serial, out)
    serial = _serial(token)
    ops = TokenOps(args.module, token, out)

    out.say(_("Checking the code for token %(serial)s with the RU…"), serial=serial)
    grant = api.post("/unblock-sessions", {"token_serial": serial, "code": args.code})
    sid, secret = grant["session"], {"secret": grant["secret"]}
    if grant.get("resumed"):
        out.say(_("Resuming the interrupted unblock."))

    # Which SO PIN has the token? The server's hint decides the order of the tries.
    candidates = [p for p in (grant["so_pin"], grant.get("new_so_pin")) if p]
    if grant.get("try_new_first"):
        candidates.reverse()
    working = next((p for p in candidates if ops.so_pin_works(p)), None)
    if working is None:
        raise Stop(out.t(_("The token refused the SO PINs the RU holds for it. Take the token to the RU's "
                           "counter.")))

    if grant.get("user_pin_set"):
        out.say(_("The new PIN chosen in the interrupted run is already set on the token."))
    else:
        pin = read_new_pin(out, from_stdin=args.pin_stdin)
        api.post(f"/unblock-sessions/{sid}/pin-check", {**secret, "user_pin": pin})
        ops.init_user_pin(working, pin)
        del pin
        api.post(f"/unblock-sessions/{sid}/user-pin-set", secret)
        out.say(_("The new PIN is set on the token."))

    out.say(_("Replacing the token's SO PIN with a new one kept by the RU…"))
    new_so_pin = api.post(f"/unblock-sessions/{sid}/new-so-pin", secret)["new_so_pin"]
    api.post(f"/unblock-sessions/{sid}/so-pin-setting", secret)
    if working != new_so_pin:
        ops.set_so_pin(working, new_so_pin)
    if not ops.so_pin_works(new_so_pin):
        raise Stop(out.t(_("The token did not take the new SO PIN. Nothing is lost: run the same command again.")),
                   EXIT_RETRY)
    api.post(f"/unblock-sessions/{sid}/confirm", secret)
    out.say(_("Done: the PIN of token %(serial)s is unblocked. Use the new PIN from now on."), serial=serial)


def default_lang() -> str:
    env = os.environ.get("RA_LANG") or os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "en" if env.startswith("en") else "mn"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ra-token", description="The holder's token command of the Registration Unit.")
    sub = p.add_subparsers(dest="command", required=True)
    u = sub.add_parser("unblock", help="Unblock the token's PIN with the one-time code from the e-mail.")
    u.add_argument("--code", required=True, help="the one-time code from the e-mail")
    u.add_argument("--module", required=True, help="path of the token's PKCS#11 module")
    u.add_argument("--server", help="the RU's address, https://… (default: $RA_SERVER)")
    u.add_argument("--token-serial", help="the token's serial number, when several tokens are inserted")
    u.add_argument("--cafile", help="the certificate of the CA that issued the RU server's certificate")
    u.add_argument("--lang", choices=("mn", "en"), default=None, help="language of the messages (default: mn)")
    u.add_argument("--pin-stdin", action="store_true", help="read the new PIN from standard input (scripts)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    out = Out(args.lang or default_lang())
    try:
        unblock(args, out)
    except Stop as stop:
        print(stop.message, file=sys.stderr, flush=True)
        return stop.exit_code
    except KeyboardInterrupt:
        print(out.t(_("Interrupted. Nothing is lost: run the same command again.")), file=sys.stderr)
        return EXIT_RETRY
    except Exception as exc:  # noqa: BLE001 — no traceback: the holder needs the next step, not our stack
        print(out.t(_("Something unexpected happened (%(kind)s). Nothing is lost: run the same command again."),
                    kind=type(exc).__name__), file=sys.stderr)
        return EXIT_RETRY
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
