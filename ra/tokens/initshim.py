"""``C_InitToken`` for python-pkcs11 0.10, which wraps ``C_InitPIN`` and
``C_SetPIN`` but not ``C_InitToken`` (PKCS#11 v2.40 §5.6); and ``C_CloseAllSessions``
(§5.6), to clean up after python-pkcs11 0.10's ``Token.open``, which leaves its
session open when ``C_Login`` fails (a wrong PIN would otherwise leave a read-only
session behind, and the next SO login fails with CKR_SESSION_READ_ONLY_EXISTS).

How it stays safe next to python-pkcs11:

* It uses the *same loaded module*: ``dlopen`` with ``RTLD_NOLOAD`` returns the
  handle python-pkcs11 already opened (POSIX dlopen reference-counts a loaded
  object), and fails rather than load a second copy. ``C_GetFunctionList`` then
  gives the module's own function table, whose state python-pkcs11's
  ``C_Initialize`` has set up.
* It calls only ``C_InitToken`` and ``C_CloseAllSessions``: never ``C_Initialize`` or ``C_Finalize`` behind
  python-pkcs11's back (that would invalidate its sessions and handles).
* It reads the function pointer from the ``CK_FUNCTION_LIST`` rather than the
  exported symbol, because some vendor modules export ``C_GetFunctionList`` only.

PKCS#11 semantics the caller relies on: on a token that is already initialised
(as vendors ship them), ``pPin`` must be the current SO PIN and the SO PIN stays
what it was; every object on the token is destroyed and the label replaced. There
must be no open session with the token (else ``CKR_SESSION_EXISTS``).
"""
from __future__ import annotations

import ctypes
import os

import pkcs11.exceptions as px

CK_RV = ctypes.c_ulong
CK_ULONG = ctypes.c_ulong
LABEL_LENGTH = 32  # CK_TOKEN_INFO.label: 32 bytes, UTF-8, blank padded, not NUL-terminated


# The return values C_InitToken may give (PKCS#11 v2.40 §5.6, values from pkcs11t.h),
# mapped to the exceptions python-pkcs11 raises for them elsewhere, so callers
# handle one family of errors.
_RV_ERRORS = {
    0x002: px.HostMemory, 0x003: px.SlotIDInvalid, 0x005: px.GeneralError, 0x006: px.FunctionFailed,
    0x007: px.ArgumentsBad, 0x030: px.DeviceError, 0x031: px.DeviceMemory, 0x032: px.DeviceRemoved,
    0x050: px.FunctionCancelled, 0x054: px.FunctionNotSupported, 0x0A0: px.PinIncorrect,
    0x0A1: px.PinInvalid, 0x0A2: px.PinLenRange, 0x0A4: px.PinLocked, 0x0B6: px.SessionExists,
    0x0E0: px.TokenNotPresent, 0x0E1: px.TokenNotRecognised, 0x0E2: px.TokenWriteProtected,
}


def rv_error(rv: int) -> px.PKCS11Error:
    cls = _RV_ERRORS.get(rv)
    return cls() if cls else px.PKCS11Error(f"C_InitToken failed: CKR 0x{rv:08x}")


class CK_VERSION(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


# The head of CK_FUNCTION_LIST (PKCS#11 v2.40 §5.2, pkcs11f.h order), up to C_CloseAllSessions.
_HEAD = ("C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetSlotList",
         "C_GetSlotInfo", "C_GetTokenInfo", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken",
         "C_InitPIN", "C_SetPIN", "C_OpenSession", "C_CloseSession", "C_CloseAllSessions")


class CK_FUNCTION_LIST_HEAD(ctypes.Structure):
    _fields_ = [("version", CK_VERSION)] + [(name, ctypes.c_void_p) for name in _HEAD]


C_InitToken_t = ctypes.CFUNCTYPE(CK_RV, CK_ULONG, ctypes.c_char_p, CK_ULONG, ctypes.c_char_p)
C_CloseAllSessions_t = ctypes.CFUNCTYPE(CK_RV, CK_ULONG)


def pad_label(label: str) -> bytes:
    """32 bytes, blank padded; cut on a character boundary (Mongolian Cyrillic is
    two bytes a letter in UTF-8)."""
    raw = label.encode("utf-8")
    while len(raw) > LABEL_LENGTH:
        label = label[:-1]
        raw = label.encode("utf-8")
    return raw.ljust(LABEL_LENGTH, b" ")


class InitTokenShim:
    def __init__(self, module_path: str):
        mode = getattr(os, "RTLD_NOLOAD", 4) | getattr(os, "RTLD_NOW", 2)
        try:
            handle = ctypes.CDLL(module_path, mode=mode)
        except OSError:
            raise px.PKCS11Error(f"{module_path} is not loaded; load it through python-pkcs11 first") from None
        get_list = handle.C_GetFunctionList
        get_list.restype = CK_RV
        get_list.argtypes = [ctypes.POINTER(ctypes.POINTER(CK_FUNCTION_LIST_HEAD))]
        table = ctypes.POINTER(CK_FUNCTION_LIST_HEAD)()
        rv = get_list(ctypes.byref(table))
        if rv != 0 or not table or not table.contents.C_InitToken or not table.contents.C_CloseAllSessions:
            raise px.FunctionNotSupported("C_GetFunctionList gave no C_InitToken")
        self._handle = handle  # keeps our reference to the module while we hold its pointers
        self._init_token = C_InitToken_t(table.contents.C_InitToken)
        self._close_all = C_CloseAllSessions_t(table.contents.C_CloseAllSessions)

    def init_token(self, slot_id: int, so_pin: str, label: str) -> None:
        """C_InitToken(slotID, pPin, ulPinLen, pLabel); raises python-pkcs11's own
        exception for the return value (``PinIncorrect`` for a wrong SO PIN)."""
        pin = so_pin.encode("utf-8")
        rv = self._init_token(slot_id, pin, len(pin), pad_label(label))
        if rv != 0:
            raise rv_error(rv)

    def close_all_sessions(self, slot_id: int) -> None:
        """C_CloseAllSessions(slotID). Only safe while no other session of this
        process is in use on the slot: the driver calls it under its lock."""
        rv = self._close_all(slot_id)
        if rv != 0:
            raise rv_error(rv)
