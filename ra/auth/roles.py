import enum

from flask_babel import lazy_gettext as _l


class Role(str, enum.Enum):
    """DESIGN §2."""
    ORG_REGISTRAR = "org_registrar"
    HOLDER = "holder"
    RA_OFFICER = "ra_officer"
    RA_MANAGER = "ra_manager"
    AUDITOR = "auditor"
    ADMIN = "admin"
    AGENCY_CLERK = "agency_clerk"

    @property
    def label(self):
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ORG_REGISTRAR: _l("Organisation registration officer"),
    Role.HOLDER: _l("Certificate holder"),
    Role.RA_OFFICER: _l("RU officer"),
    Role.RA_MANAGER: _l("RU manager"),
    Role.AUDITOR: _l("Auditor"),
    Role.ADMIN: _l("Administrator"),
    Role.AGENCY_CLERK: _l("Agency clerk"),
}

RU_STAFF = frozenset({Role.RA_OFFICER, Role.RA_MANAGER, Role.ADMIN, Role.AUDITOR})
