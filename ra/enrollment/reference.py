"""Reference data of DESIGN §6: the 13 kinds of capital-city bodies and the 9 districts."""
import enum

from flask_babel import lazy_gettext as _l


class OrganisationKind(str, enum.Enum):
    CITIZENS_KHURAL = "citizens_khural"
    GOVERNORS_OFFICE = "governors_office"
    MAYORS_OFFICE = "mayors_office"
    IMPLEMENTING_AGENCY = "implementing_agency"
    BUDGET_ORGANISATION = "budget_organisation"
    CITY_ENTERPRISE = "city_enterprise"
    HEALTH_ORGANISATION = "health_organisation"
    PROJECT_UNIT = "project_unit"
    DISTRICT_GOVERNOR = "district_governor"
    DISTRICT_DEPARTMENT = "district_department"
    KHOROO = "khoroo"
    SCHOOL = "school"
    KINDERGARTEN = "kindergarten"

    @property
    def label(self):
        return KIND_LABELS[self]


KIND_LABELS = {
    OrganisationKind.CITIZENS_KHURAL: _l("City Citizens' Representative Khural"),
    OrganisationKind.GOVERNORS_OFFICE: _l("City Governor's Office"),
    OrganisationKind.MAYORS_OFFICE: _l("Ulaanbaatar Mayor's Office"),
    OrganisationKind.IMPLEMENTING_AGENCY: _l("Governor's implementing agency"),
    OrganisationKind.BUDGET_ORGANISATION: _l("City-owned budget organisation"),
    OrganisationKind.CITY_ENTERPRISE: _l("City-owned enterprise"),
    OrganisationKind.HEALTH_ORGANISATION: _l("City health organisation"),
    OrganisationKind.PROJECT_UNIT: _l("Project unit"),
    OrganisationKind.DISTRICT_GOVERNOR: _l("District governor's office"),
    OrganisationKind.DISTRICT_DEPARTMENT: _l("District department or division"),
    OrganisationKind.KHOROO: _l("Khoroo"),
    OrganisationKind.SCHOOL: _l("General education school"),
    OrganisationKind.KINDERGARTEN: _l("City-owned kindergarten"),
}


class District(str, enum.Enum):
    BAGAKHANGAI = "bagakhangai"
    BAGANUUR = "baganuur"
    BAYANGOL = "bayangol"
    BAYANZURKH = "bayanzurkh"
    CHINGELTEI = "chingeltei"
    KHAN_UUL = "khan_uul"
    NALAIKH = "nalaikh"
    SONGINOKHAIRKHAN = "songinokhairkhan"
    SUKHBAATAR = "sukhbaatar"

    @property
    def label(self):
        return DISTRICT_LABELS[self]


DISTRICT_LABELS = {
    District.BAGAKHANGAI: _l("Bagakhangai"),
    District.BAGANUUR: _l("Baganuur"),
    District.BAYANGOL: _l("Bayangol"),
    District.BAYANZURKH: _l("Bayanzürkh"),
    District.CHINGELTEI: _l("Chingeltei"),
    District.KHAN_UUL: _l("Khan-Uul"),
    District.NALAIKH: _l("Nalaikh"),
    District.SONGINOKHAIRKHAN: _l("Songinokhairkhan"),
    District.SUKHBAATAR: _l("Sükhbaatar"),
}
