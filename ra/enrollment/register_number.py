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
