"""The state register number (регистрийн дугаар): two Cyrillic capital letters and
eight digits; the first six digits are the birth date YYMMDD, with 20 added to
the month for people born from 2000 on (Law on Civil Registration of Mongolia)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ra.i18n import _l

# The 35 letters of the Mongolian Cyrillic alphabet, capitals.
CYRILLIC_CAPITALS = "АБВГДЕЁЖЗИЙКЛМНОӨПРСТУҮФХЦЧШЩЪЫЬЭЮЯ"
PATTERN = re.compile(rf"^[{CYRILLIC_CAPITALS}]{{2}}\d{{8}}$")
ADULT_AGE = 18


@dataclass(frozen=True)
class RegisterNumber:
    value: str
    birth_date: date


def normalise(raw) -> str:
    """Spaces and hyphens removed, capitals: ' уб-85010112 ' → 'УБ85010112'."""
    return re.sub(r"[\s\-]", "", str(raw or "")).upper()


def birth_date_of(digits: str) -> date | None:
    yy, mm, dd = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    century = 1900
    if 21 <= mm <= 32:
        century, mm = 2000, mm - 20
    try:
        return date(century + yy, mm, dd)
    except ValueError:
        return None


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def parse(raw, today: date) -> tuple[RegisterNumber | None, object]:
    """(RegisterNumber, None) or (None, translated message)."""
    value = normalise(raw)
    if not value:
        return None, _l("This field is required.")
    latin = [c for c in value[:2] if "A" <= c <= "Z"]
    if latin:
        return None, _l("The register number starts with two Cyrillic capital letters; “%(letters)s” is typed "
                        "in Latin letters.", letters="".join(latin))
    if not PATTERN.match(value):
        return None, _l("The register number is two Cyrillic capital letters and eight digits, e.g. УБ85010112.")
    born = birth_date_of(value[2:8])
    if born is None or born > today:
        return None, _l("The digits %(digits)s of the register number are not a real birth date (YYMMDD; "
                        "20 is added to the month for births from 2000).", digits=value[2:8])
    if age_on(born, today) < ADULT_AGE:
        return None, _l("A certificate holder must be at least 18 years old (born %(date)s).",
                        date=born.isoformat())
    return RegisterNumber(value, born), None


# The register number's two letters in ASCII, for the certificate's serialNumber
# (ETSI EN 319 412-1 §5.1.3 "PNOMN-…" in a PrintableString, which has no
# Cyrillic). MNS 5217 is not reversible here (И, Й, Ь and Ъ all become "i"; Ө and
# О both "o" once diacritics go), so this fixed table keeps every letter
# distinct, and every pair of letters decodes one way only (a test checks all
# 35 × 35 pairs). The RU's records keep the Cyrillic form.
ASCII_LETTERS = dict(zip(CYRILLIC_CAPITALS, (
    "A B V G D YE YO J Z I IJ K L M N O OE P R S T U UE F KH TS CH SH SHCH QH YI QS E YU YA").split()))
SEMANTICS_PREFIX = "PNOMN-"  # natural person, national identity number, Mongolia
_ASCII_FORM = re.compile(r"^(?:PNOMN)?([A-Z]{2,8})(\d{8})$")
_FROM_ASCII = {ASCII_LETTERS[a] + ASCII_LETTERS[b]: a + b for a in CYRILLIC_CAPITALS for b in CYRILLIC_CAPITALS}


def to_ascii(value: str) -> str:
    """'УБ85031214' → 'UB85031214'; 'ӨҮ85031214' → 'OEUE85031214'."""
    return "".join(ASCII_LETTERS[c] for c in value[:2]) + value[2:]


def semantics_identifier(value: str) -> str:
    """The certificate's serialNumber: 'УБ85031214' → 'PNOMN-UB85031214'."""
    return SEMANTICS_PREFIX + to_ascii(value)


def from_ascii(text) -> str | None:
    """The Cyrillic register number written by ``to_ascii`` or
    ``semantics_identifier`` ('PNOMN-UB85031214', 'ub85031214'), or None when
    ``text`` is not such a form."""
    match = _ASCII_FORM.match(normalise(text))  # normalise drops the hyphen after PNOMN
    if match is None or match.group(1) not in _FROM_ASCII:
        return None
    return _FROM_ASCII[match.group(1)] + match.group(2)


def searchable(text) -> str:
    """What to look for when someone types a register number in either form."""
    return from_ascii(text) or normalise(text)
