"""Field rules for organisations, each failing with a translated message."""
from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from ra.i18n import _l

REGISTRY_NUMBER = re.compile(r"^\d{7}$")
DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
PHONE = re.compile(r"^(?:\+?976[ -]?)?\d{4}[ -]?\d{4}$")


def parse_domains(raw: str) -> tuple[list[str], str | None]:
    """'gov.mn, ub.gov.mn' → ['gov.mn', 'ub.gov.mn'], or an error message."""
    items = [d.strip().lower().rstrip(".") for d in re.split(r"[\s,;]+", raw or "") if d.strip()]
    if not items:
        return [], _l("Give at least one e-mail domain.")
    for d in items:
        if not is_domain(d):
            return [], _l("“%(domain)s” is not a valid e-mail domain.", domain=d)
    return list(dict.fromkeys(items)), None


def is_domain(d: str) -> bool:
    if len(d) > 253 or "." not in d:
        return False
    labels = d.split(".")
    return all(DOMAIN_LABEL.match(label) for label in labels) and bool(TLD.match(labels[-1]))


def email_error(email: str) -> str | None:
    try:
        validate_email(email or "", check_deliverability=False)
    except EmailNotValidError:
        return _l("This is not a valid e-mail address.")
    return None


def email_domain(email: str) -> str:
    return (email or "").rsplit("@", 1)[-1].strip().lower()


def domain_allowed(email: str, domains: list[str]) -> bool:
    host = email_domain(email)
    return any(host == d or host.endswith("." + d) for d in domains)


def phone_error(phone: str) -> str | None:
    if not PHONE.match((phone or "").strip()):
        return _l("Give a phone number of 8 digits, e.g. 7011 2233.")
    return None
