"""Labels the reports show for stored codes: RFC 5280 reason codes, bucket keys,
profiles, organisation kinds and districts. Resolved lazily, in the reader's
language, like every translatable string."""
from __future__ import annotations

from datetime import date, timedelta

from ra.enrollment.reference import DISTRICT_LABELS, KIND_LABELS, District, OrganisationKind
from ra.i18n import _l

# RFC 5280 §5.3.1 CRLReason, spelled as the certificate records store them.
REASON_LABELS = {
    "unspecified": _l("Unspecified"),
    "keyCompromise": _l("Key compromise (lost or stolen)"),
    "cACompromise": _l("CA compromise"),
    "affiliationChanged": _l("Affiliation changed"),
    "superseded": _l("Superseded"),
    "cessationOfOperation": _l("Cessation of operation"),
    "certificateHold": _l("Suspension (certificate hold)"),
    "removeFromCRL": _l("Suspension released"),
    "privilegeWithdrawn": _l("Privilege withdrawn"),
    "aACompromise": _l("AA compromise"),
}
# The order the charts stack them in: final revocations first, then holds.
REASON_ORDER = ("keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn",
                "cACompromise", "aACompromise", "unspecified", "certificateHold", "removeFromCRL")


def reason_label(code: str | None):
    return REASON_LABELS.get(code or "unspecified", code)


def kind_label(kind) -> object:
    if kind is None:
        return ""
    return KIND_LABELS[OrganisationKind(kind)]


def district_label(district) -> object:
    if district is None:
        return ""
    return DISTRICT_LABELS[District(district)]


class ProfileLabel:
    """A profile's name in the reader's language (profiles carry their own labels)."""

    def __init__(self, name: str, labels: dict | None):
        self.name, self.labels = name, labels or {}

    def __str__(self) -> str:
        from flask_babel import get_locale

        return self.labels.get(str(get_locale() or "mn"), self.name)

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


_PROFILE_LABELS: dict[tuple, ProfileLabel] = {}


def profile_label(name: str | None, profiles: dict):
    """One label object per profile (exports resolve each label object once)."""
    if not name:
        return ""
    labels = getattr(profiles.get(name), "labels", None) or {}
    key = (name, tuple(sorted(labels.items())))
    label = _PROFILE_LABELS.get(key)
    if label is None:
        label = _PROFILE_LABELS[key] = ProfileLabel(name, labels)
    return label


def bucket_label(key: str, unit: str) -> str:
    """How a bucket's first day reads on an axis and in a table."""
    d = date.fromisoformat(key)
    if unit == "day":
        return key
    if unit == "week":
        return f"{d.isoformat()} – {(d + timedelta(days=6)).isoformat()}"
    if unit == "month":
        return key[:7]
    if unit == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    return str(d.year)


def bucket_keys(start: date, end: date, unit: str) -> list[str]:
    """Every bucket between two local days, so empty ones show as zero."""
    if unit == "day":
        first = start
    elif unit == "week":
        first = start - timedelta(days=start.weekday())
    elif unit == "month":
        first = start.replace(day=1)
    elif unit == "quarter":
        first = start.replace(month=3 * ((start.month - 1) // 3) + 1, day=1)
    else:
        first = start.replace(month=1, day=1)
    keys, d = [], first
    while d <= end:
        keys.append(d.isoformat())
        d = _step(d, unit)
    return keys


def _step(d: date, unit: str) -> date:
    if unit == "day":
        return d + timedelta(days=1)
    if unit == "week":
        return d + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    m = d.month - 1 + months
    return d.replace(year=d.year + m // 12, month=m % 12 + 1, day=1)
