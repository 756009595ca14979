"""The ``TokenDriver`` port over python-pkcs11 0.10 (PKCS#11 v2.40), DESIGN §3.3.

Every operation names the token by its serial number (``CK_TOKEN_INFO.serialNumber``),
not by slot id: slot ids change when a token is re-inserted (SoftHSM2 renumbers
them), the serial does not. Each method opens its own session and closes it before
returning, so the handover can call the steps one at a time, commit between them,
and resume after a crash, a pulled token or a restart; the one exception is a user
login inside ``keeping_logins`` (one handover run, ``ra.tokens.sessions``).

The module (``RA_PKCS11_MODULE``) is loaded on first use, never at app start. One
module configuration per process: all calls hold one lock, because re-scanning
(``C_Finalize``/``C_Initialize`` through python-pkcs11's ``reinitialize``) would
invalidate sessions another thread has open.

PINs pass through as arguments only; nothing here logs or keeps one.
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pkcs11.exceptions as px
from asn1crypto.core import Integer
from cryptography import x509
from pkcs11 import Attribute, CertificateType, KeyType, MechanismFlag, ObjectClass, TokenFlag
from pkcs11.util.ec import encode_named_curve_parameters

from ra.tokens import csr as csrlib
from ra.tokens import sessions
from ra.tokens.errors import (CertificateMismatch, KeyNotFound, KeyNotProtected, KeyTypeNotAllowed,
                              ModuleUnavailable, TokenNotPresent, pkcs11_errors)
from ra.tokens.escrow import PinEscrow
from ra.tokens.initshim import InitTokenShim
from ra.tokens.softhsm import SoftHSM, is_softhsm

log = logging.getLogger("ra.tokens")

_LOCK = threading.RLock()
_ACTIVE_CONF: dict[str, str | None] = {}  # module path → SOFTHSM2_CONF it was initialised with

KEY_ID_BYTES = 20
PROTECTION = (Attribute.LOCAL, Attribute.ALWAYS_SENSITIVE, Attribute.NEVER_EXTRACTABLE)


@dataclass(frozen=True)
class SlotInfo:
    slot_id: int
    serial: str
    label: str
    model: str
    manufacturer: str
    initialised: bool
    user_pin_initialised: bool
    user_pin_locked: bool
    user_pin_count_low: bool
    so_pin_locked: bool


@dataclass(frozen=True)
class KeyInfo:
    key_id: bytes
    key_type: str
    public_key_info: bytes  # SubjectPublicKeyInfo DER
    local: bool
    always_sensitive: bool
    never_extractable: bool

    @property
    def protected(self) -> bool:
        return self.local and self.always_sensitive and self.never_extractable


def _key(serial: str) -> str:
    """Serials are compared case-insensitively (typed, scanned, or read from the module)."""
    return serial.strip().lower()


def _text(raw) -> str:
    return (raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)).strip()


def _slot_info(token) -> SlotInfo:
    f = token.flags
    return SlotInfo(
        slot_id=token.slot.slot_id, serial=_text(token.serial), label=token.label.strip(),
        model=token.model.strip(), manufacturer=token.manufacturer_id.strip(),
        initialised=bool(f & TokenFlag.TOKEN_INITIALIZED),
        user_pin_initialised=bool(f & TokenFlag.USER_PIN_INITIALIZED),
        user_pin_locked=bool(f & TokenFlag.USER_PIN_LOCKED),
        user_pin_count_low=bool(f & TokenFlag.USER_PIN_COUNT_LOW),
        so_pin_locked=bool(f & TokenFlag.SO_PIN_LOCKED),
    )


def _reinitialize(lib) -> None:
    """C_Finalize + C_Initialize: every session handle of this process is void after it."""
    lib.reinitialize()
    sessions.reinitialised()


class Pkcs11TokenDriver:
    """Real PKCS#11 tokens through python-pkcs11. ``softhsm``: the SoftHSM2
    configuration to use when the module is SoftHSM2 (None for vendor modules).
    ``escrow``: the cipher that keeps SO PINs in the database; it travels with the
    driver because an SO PIN exists only to be given to the token."""

    def __init__(self, module_path: str, *, escrow: PinEscrow, softhsm: SoftHSM | None = None):
        self.module_path = module_path
        self.softhsm = softhsm
        self.escrow = escrow
        self._slot_of: dict[str, int] = {}  # serial → slot id where it was last seen (a hint only)
        self._conf: str | None = None

    @classmethod
    def from_config(cls, config: dict) -> "Pkcs11TokenDriver":
        """Reads the configuration only; the module is loaded on first use."""
        module = config["PKCS11_MODULE"]
        softhsm = SoftHSM.for_instance(config["INSTANCE_PATH"]) if is_softhsm(module) else None
        return cls(module, escrow=PinEscrow.from_config(config), softhsm=softhsm)

    # -- the module -----------------------------------------------------------------
    def _softhsm_conf(self, *, rewrite: bool = False) -> str | None:
        """SoftHSM2 reads its configuration only in C_Initialize: the file (and its
        token directory) is written on first use and before a re-initialisation,
        not checked on disk at every operation."""
        if self.softhsm is not None and (rewrite or self._conf is None):
            self._conf = str(self.softhsm.ensure())
        return self._conf

    def _lib(self, *, rescan: bool = False):
        """The loaded, initialised module, pointed at this driver's SoftHSM2
        configuration (re-initialised through python-pkcs11 if another was active,
        or to re-scan)."""
        conf = self._softhsm_conf(rewrite=rescan)
        if conf:
            os.environ["SOFTHSM2_CONF"] = conf
        if not Path(self.module_path).exists():
            raise ModuleUnavailable(module=self.module_path)
        try:
            lib = pkcs11.lib(self.module_path)
        except px.PKCS11Error:
            log.error("cannot load PKCS#11 module %s", self.module_path)
            raise ModuleUnavailable(module=self.module_path) from None
        switching = bool(conf) and _ACTIVE_CONF.setdefault(self.module_path, conf) != conf
        if switching:
            self._softhsm_conf(rewrite=True)
            _ACTIVE_CONF[self.module_path] = conf
        if switching or rescan:
            _reinitialize(lib)
        return lib

    def rescan(self) -> None:
        """Makes tokens inserted (or created by softhsm2-util) since start-up visible.
        Vendor modules see hot-plugged tokens without this; SoftHSM2 reads its token
        directory only in C_Initialize."""
        with _LOCK:
            self._lib(rescan=True)

    def _find(self, lib, serial: str):
        wanted = _key(serial)
        hint = self._slot_of.get(wanted)
        # The slot where the token was last seen first: one C_GetTokenInfo, not one per slot.
        for slot in sorted(lib.get_slots(token_present=True), key=lambda s: s.slot_id != hint):
            try:
                token = slot.get_token()
            except (px.TokenNotPresent, px.TokenNotRecognised, px.DeviceRemoved):
                continue
            if wanted and _text(token.serial).lower() == wanted:
                self._slot_of[wanted] = slot.slot_id
                return token
        raise TokenNotPresent(serial=serial)

    @contextmanager
    def _token(self, serial: str, *, operation: str, so: bool = False):
        with _LOCK, pkcs11_errors(serial, so=so, operation=operation):
            token = self._find(self._lib(), serial)
            kept = sessions.current()
            if so and kept is not None:
                kept.close(_key(serial))  # an SO login or C_InitToken wants no user session open
            try:
                yield token
            except px.PKCS11Error:
                # python-pkcs11 0.10 leaks the session when C_Login fails; ours are all
                # closed, kept or leaked at this point (we hold the lock), so close them all.
                if kept is not None:
                    kept.forget(_key(serial))
                with suppress(px.PKCS11Error):
                    InitTokenShim(self.module_path).close_all_sessions(token.slot.slot_id)
                raise

    @contextmanager
    def keeping_logins(self):
        """Within this block a user login stays open for the next operation on the
        same token with the same PIN (``ra.tokens.sessions``); all are closed at
        its end. Used by one handover run; nested blocks share the outer one's."""
        started = sessions.begin()
        try:
            yield
        finally:
            with _LOCK:
                sessions.end(started)

    def _user_operation(self, serial: str, user_pin: str, operation: str, work, *, rw: bool = False):
        """``work(token, session)`` in a session logged in as the user: the kept one
        inside ``keeping_logins`` (a fresh login if there is none for this PIN yet,
        or the token dropped it), else one of its own."""
        with self._token(serial, operation=operation) as token:
            kept = sessions.current()
            if kept is None:
                with token.open(rw=rw, user_pin=user_pin) as session:
                    return work(token, session)
            key, slot_id = _key(serial), token.slot.slot_id
            held = kept.usable(key, user_pin, slot_id)
            if held is not None and not sessions.alive(held):
                kept.forget(key)
                held = None
            if held is None:
                held = kept.keep(key, user_pin, slot_id, token.open(rw=True, user_pin=user_pin))
            return work(token, held)

    # -- slots ------------------------------------------------------------------------
    def list_slots(self, *, rescan: bool = False) -> list[SlotInfo]:
        """Tokens in the readers that report a serial number, by serial."""
        with _LOCK, pkcs11_errors("-", operation="list slots"):
            lib = self._lib(rescan=rescan)
            found = []
            for slot in lib.get_slots(token_present=True):
                try:
                    info = _slot_info(slot.get_token())
                except (px.TokenNotPresent, px.TokenNotRecognised, px.DeviceRemoved):
                    continue
                if info.serial:  # SoftHSM2's spare slot for a new token has none
                    found.append(info)
        return sorted(found, key=lambda s: s.serial)

    def slot(self, serial: str) -> SlotInfo:
        with self._token(serial, operation="read token info") as token:
            return _slot_info(token)

    # -- initialisation and PINs (PKCS#11 v2.40 §5.6) --------------------------------
    def init_token(self, serial: str, so_pin: str, label: str) -> None:
        """C_InitToken through the documented shim: wipes every object, sets the
        label; ``so_pin`` must be the token's current SO PIN and stays its SO PIN."""
        with self._token(serial, operation="C_InitToken", so=True) as token:
            InitTokenShim(self.module_path).init_token(token.slot.slot_id, so_pin, label)
        log.info("token %s initialised", serial)

    def set_so_pin(self, serial: str, old_so_pin: str, new_so_pin: str) -> None:
        """C_SetPIN in an SO session: replaces the SO PIN."""
        with self._token(serial, operation="C_SetPIN (SO)", so=True) as token:
            with token.open(rw=True, so_pin=old_so_pin) as session:
                session.set_pin(old_so_pin, new_so_pin)
        log.info("token %s: SO PIN replaced", serial)

    def check_so_pin(self, serial: str, so_pin: str) -> None:
        with self._token(serial, operation="SO login", so=True) as token:
            with token.open(rw=True, so_pin=so_pin):
                pass

    def init_user_pin(self, serial: str, so_pin: str, user_pin: str) -> None:
        """C_InitPIN in an SO session: sets the user PIN after initialisation, and
        unblocks a locked one at the counter."""
        with self._token(serial, operation="C_InitPIN", so=True) as token:
            with token.open(rw=True, so_pin=so_pin) as session:
                session.init_pin(user_pin)
        log.info("token %s: user PIN set by the SO", serial)

    def check_user_pin(self, serial: str, user_pin: str) -> None:
        self._user_operation(serial, user_pin, "user login", lambda token, session: None)

    # -- keys, CSR, certificate ----------------------------------------------------------
    def generate_key_pair(self, serial: str, user_pin: str, key_type: str, label: str) -> KeyInfo:
        """On-token key generation with TOKEN, PRIVATE, SENSITIVE true and EXTRACTABLE
        false under a fresh CKA_ID; LOCAL, ALWAYS_SENSITIVE and NEVER_EXTRACTABLE are
        read back and must be true, else the pair is destroyed (ETSI EN 319 411-1
        GEN-6.3.3: the subject's key is generated in the secure device)."""
        kind, size, _, _ = csrlib.KEY_SPECS[key_type]
        key_id = secrets.token_bytes(KEY_ID_BYTES)
        private = {Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
                   Attribute.EXTRACTABLE: False, Attribute.SIGN: True}
        public = {Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.VERIFY: True}
        caps = MechanismFlag.SIGN | MechanismFlag.VERIFY

        def generate(token, session):
            if kind == KeyType.EC:
                params = session.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(size)}, local=True)
                pub, priv = params.generate_keypair(id=key_id, label=label, store=True, capabilities=caps,
                                                    public_template=public, private_template=private)
            else:
                pub, priv = session.generate_keypair(kind, size, id=key_id, label=label, store=True,
                                                     capabilities=caps, public_template=public,
                                                     private_template=private)
            info = self._key_info(key_id, key_type, pub, priv)
            if not info.protected:
                priv.destroy()
                pub.destroy()
                raise KeyNotProtected(serial=serial)
            return info

        info = self._user_operation(serial, user_pin, "C_GenerateKeyPair", generate, rw=True)
        log.info("token %s: %s key pair generated", serial, key_type)
        return info

    def generate_key_pair_for_profile(self, serial: str, user_pin: str, profile, *, key_type: str | None = None,
                                      label: str | None = None) -> KeyInfo:
        """The key a certificate profile asks for (``ra.profiles``): the order's key
        type if the profile allows it, else the profile's default (RSA-2048 unless
        configured otherwise; RSA-3072 and EC P-256 by profile)."""
        key_type = key_type or profile.default_key_type
        if key_type not in csrlib.KEY_SPECS or not profile.check_key_type(key_type):
            raise KeyTypeNotAllowed(profile=profile.name, key_type=key_type)
        return self.generate_key_pair(serial, user_pin, key_type, label or profile.name)

    @staticmethod
    def _key_info(key_id: bytes, key_type: str, pub, priv) -> KeyInfo:
        flags = {a: bool(priv[a]) for a in PROTECTION}
        return KeyInfo(key_id=key_id, key_type=key_type, public_key_info=csrlib.public_key_info(pub),
                       local=flags[Attribute.LOCAL], always_sensitive=flags[Attribute.ALWAYS_SENSITIVE],
                       never_extractable=flags[Attribute.NEVER_EXTRACTABLE])

    def _pair(self, session, serial: str, key_id: bytes):
        try:
            priv = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            pub = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
        except (px.NoSuchKey, px.MultipleObjectsReturned):
            raise KeyNotFound(serial=serial) from None
        return pub, priv

    def get_key(self, serial: str, user_pin: str, key_id: bytes) -> KeyInfo:
        """The pair under ``key_id``, as a resumed handover finds it."""
        def read(token, session):
            pub, priv = self._pair(session, serial, key_id)
            spki = csrlib.public_key_info(pub)
            return self._key_info(key_id, csrlib.key_type_of(spki), pub, priv)

        return self._user_operation(serial, user_pin, "read key", read)

    def sign_csr(self, serial: str, user_pin: str, key_id: bytes, subject: x509.Name) -> bytes:
        """A PKCS#10 request (RFC 2986) for ``subject``, signed on the token."""
        def sign(token, session):
            pub, priv = self._pair(session, serial, key_id)
            spki = csrlib.public_key_info(pub)
            signer = csrlib.token_signer(priv, set(token.slot.get_mechanisms()))
            return csrlib.build_csr(subject, spki, csrlib.key_type_of(spki), signer)

        der = self._user_operation(serial, user_pin, "C_Sign (CSR)", sign)
        log.info("token %s: CSR signed", serial)
        return der

    def put_certificate(self, serial: str, user_pin: str, key_id: bytes, label: str, certificate_der: bytes) -> None:
        """Writes the X.509 certificate object with the key's CKA_ID and label
        (PKCS#11 v2.40 §4.6.3), replacing an earlier one under the same id, and
        reads it back. Refuses a certificate whose public key is not the token key's."""
        cert = x509.load_der_x509_certificate(certificate_der)

        def write(token, session):
            pub, _ = self._pair(session, serial, key_id)
            if not csrlib.same_public_key(certificate_der, csrlib.public_key_info(pub)):
                raise CertificateMismatch(serial=serial)
            for old in list(session.get_objects(_certificates_under(key_id))):
                if old[Attribute.VALUE] == certificate_der:
                    return
                old.destroy()
            session.create_object({
                Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.MODIFIABLE: True,
                Attribute.ID: key_id, Attribute.LABEL: label, Attribute.VALUE: certificate_der,
                Attribute.SUBJECT: cert.subject.public_bytes(), Attribute.ISSUER: cert.issuer.public_bytes(),
                # CKA_SERIAL_NUMBER is the DER INTEGER of the serial (PKCS#11 v2.40 §4.6.3).
                Attribute.SERIAL_NUMBER: Integer(cert.serial_number).dump(),
            })
            # Read back as any reader would find it: a new search on the token, in the
            # same session (another session would read the same token object).
            if _stored_certificate(session, key_id) != certificate_der:
                raise CertificateMismatch(serial=serial)

        self._user_operation(serial, user_pin, "write certificate", write, rw=True)
        log.info("token %s: certificate %x written", serial, cert.serial_number)

    def read_certificate(self, serial: str, user_pin: str | None, key_id: bytes) -> bytes | None:
        """The certificate stored under ``key_id`` (public object: no PIN needed)."""
        if user_pin:
            return self._user_operation(serial, user_pin, "read certificate",
                                        lambda token, session: _stored_certificate(session, key_id))
        with self._token(serial, operation="read certificate") as token:
            with token.open() as session:
                return _stored_certificate(session, key_id)


def _certificates_under(key_id: bytes) -> dict:
    return {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id}


def _stored_certificate(session, key_id: bytes) -> bytes | None:
    found = list(session.get_objects(_certificates_under(key_id)))  # the search ends before the next one
    return bytes(found[0][Attribute.VALUE]) if found else None
