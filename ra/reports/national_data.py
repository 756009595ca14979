"""Reference lists and proportions for the national-scale demo data set
(``ra.reports.national``): how many organisations of each kind, in which district,
what people are called, and how often each RFC 5280 reason happens."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    organisations: int
    certificates: int
    years: int
    officers: int
    stock: int          # tokens still in stock at the end
    counters: int


SCALES = {
    # DESIGN §1: the 2017 capital programme, then the 2022 national registry pace.
    "national": Scale(organisations=10_000, certificates=1_000_000, years=8, officers=30, stock=20_000, counters=8),
    # For tests and a quick look: the same shape, a thousandth of the size.
    "small": Scale(organisations=40, certificates=1_500, years=3, officers=4, stock=30, counters=2),
}

# Share of organisations per kind (DESIGN §6; national: many schools, kindergartens,
# khoroos and district divisions, a handful of central bodies).
KIND_WEIGHTS = {
    "citizens_khural": 0.002, "governors_office": 0.002, "mayors_office": 0.001, "implementing_agency": 0.02,
    "budget_organisation": 0.10, "city_enterprise": 0.06, "health_organisation": 0.08, "project_unit": 0.03,
    "district_governor": 0.005, "district_department": 0.15, "khoroo": 0.19, "school": 0.20, "kindergarten": 0.16,
}
# Relative staff size per kind (certificate holders per organisation).
KIND_SIZE = {
    "citizens_khural": 60, "governors_office": 150, "mayors_office": 120, "implementing_agency": 80,
    "budget_organisation": 30, "city_enterprise": 40, "health_organisation": 50, "project_unit": 12,
    "district_governor": 100, "district_department": 25, "khoroo": 10, "school": 35, "kindergarten": 12,
}
# Roughly the districts' population shares.
DISTRICT_WEIGHTS = {
    "songinokhairkhan": 0.21, "bayanzurkh": 0.21, "khan_uul": 0.13, "bayangol": 0.13, "chingeltei": 0.10,
    "sukhbaatar": 0.10, "nalaikh": 0.04, "baganuur": 0.03, "bagakhangai": 0.05,
}
DISTRICT_MN = {
    "songinokhairkhan": "Сонгинохайрхан", "bayanzurkh": "Баянзүрх", "khan_uul": "Хан-Уул", "bayangol": "Баянгол",
    "chingeltei": "Чингэлтэй", "sukhbaatar": "Сүхбаатар", "nalaikh": "Налайх", "baganuur": "Багануур",
    "bagakhangai": "Багахангай",
}
KIND_NAME = {
    "citizens_khural": "{d} дүүргийн Иргэдийн Төлөөлөгчдийн Хурал",
    "governors_office": "{d} дүүргийн Засаг даргын Тамгын газар",
    "mayors_office": "Нийслэлийн Засаг даргын {n}-р алба",
    "implementing_agency": "Нийслэлийн {n}-р хэрэгжүүлэгч агентлаг",
    "budget_organisation": "Нийслэлийн төсөвт байгууллага №{n}",
    "city_enterprise": "Нийслэлийн өмчит үйлдвэрийн газар №{n}",
    "health_organisation": "{d} дүүргийн эрүүл мэндийн төв №{n}",
    "project_unit": "Төсөл хэрэгжүүлэх нэгж №{n}",
    "district_governor": "{d} дүүргийн Засаг даргын Тамгын газар №{n}",
    "district_department": "{d} дүүргийн хэлтэс №{n}",
    "khoroo": "{d} дүүргийн {n}-р хороо",
    "school": "{d} дүүргийн {n}-р сургууль",
    "kindergarten": "{d} дүүргийн {n}-р цэцэрлэг",
}

SURNAMES = ("Батбаяр", "Ганболд", "Должин", "Энхбаатар", "Мөнхбат", "Цэрэндорж", "Пүрэвсүрэн", "Батсүх", "Оюунбилэг",
            "Нямдорж", "Гантулга", "Баасанжав", "Сүхбат", "Түмэнжаргал", "Лхагвасүрэн", "Дашдорж", "Очирбат",
            "Ганзориг", "Батжаргал", "Алтангэрэл", "Жаргалсайхан", "Болдбаатар", "Цогтбаатар", "Эрдэнэбат")
GIVEN_NAMES = ("Болормаа", "Оюунчимэг", "Ганбаатар", "Сарнай", "Нарантуяа", "Бат-Эрдэнэ", "Энхтуяа", "Тэмүүлэн",
               "Мөнхзул", "Ариунаа", "Билгүүн", "Уянга", "Төгөлдөр", "Номин", "Хулан", "Анужин", "Мэндбаяр",
               "Солонго", "Ган-Очир", "Цэцэгмаа", "Бямбасүрэн", "Дөлгөөн", "Золзаяа", "Тэнгис")
LATIN = {"Батбаяр": "Batbayar", "Ганболд": "Ganbold", "Должин": "Dolzhin", "Энхбаатар": "Enkhbaatar",
         "Мөнхбат": "Munkhbat", "Цэрэндорж": "Tserendorj", "Пүрэвсүрэн": "Purevsuren", "Батсүх": "Batsukh",
         "Оюунбилэг": "Oyunbileg", "Нямдорж": "Nyamdorj", "Гантулга": "Gantulga", "Баасанжав": "Baasanjav",
         "Сүхбат": "Sukhbat", "Түмэнжаргал": "Tumenjargal", "Лхагвасүрэн": "Lkhagvasuren", "Дашдорж": "Dashdorj",
         "Очирбат": "Ochirbat", "Ганзориг": "Ganzorig", "Батжаргал": "Batjargal", "Алтангэрэл": "Altangerel",
         "Жаргалсайхан": "Jargalsaikhan", "Болдбаатар": "Boldbaatar", "Цогтбаатар": "Tsogtbaatar",
         "Эрдэнэбат": "Erdenebat", "Болормаа": "Bolormaa", "Оюунчимэг": "Oyunchimeg", "Ганбаатар": "Ganbaatar",
         "Сарнай": "Sarnai", "Нарантуяа": "Narantuya", "Бат-Эрдэнэ": "Bat-Erdene", "Энхтуяа": "Enkhtuya",
         "Тэмүүлэн": "Temuulen", "Мөнхзул": "Munkhzul", "Ариунаа": "Ariunaa", "Билгүүн": "Bilguun", "Уянга": "Uyanga",
         "Төгөлдөр": "Tuguldur", "Номин": "Nomin", "Хулан": "Khulan", "Анужин": "Anujin", "Мэндбаяр": "Mendbayar",
         "Солонго": "Solongo", "Ган-Очир": "Gan-Ochir", "Цэцэгмаа": "Tsetsegmaa", "Бямбасүрэн": "Byambasuren",
         "Дөлгөөн": "Dulguun", "Золзаяа": "Zolzaya", "Тэнгис": "Tengis"}
POSITIONS = ("Дарга", "Орлогч дарга", "Хэлтсийн дарга", "Ахлах мэргэжилтэн", "Мэргэжилтэн", "Нягтлан бодогч",
             "Хүний нөөцийн ажилтан", "Захиргааны ажилтан", "Сургалтын менежер", "Эмнэлгийн эрхлэгч",
             "Хорооны засаг дарга", "Нарийн бичгийн дарга")
DEPARTMENTS = ("Удирдлага", "Санхүүгийн хэлтэс", "Захиргааны хэлтэс", "Мэдээллийн технологийн хэлтэс",
               "Хууль эрх зүйн хэлтэс", "Хүний нөөцийн алба", "")
# Cyrillic capitals used in state register numbers (two letters: the birthplace code).
REGISTER_LETTERS = "АБВГДЕЖЗИЙКЛМНОӨПРСТУҮФХЦЧШЩЭЮЯ"

# What happens to a certificate during its life (per certificate; calibrated so a
# million certificates give ~100,000 revocations and ~50,000 holds).
EVENTS = (
    ("affiliationChanged", 0.046),   # new position (a new certificate) or left the organisation
    ("cessationOfOperation", 0.026),  # token damaged or the holder's work ended
    ("superseded", 0.015),            # replaced by a new certificate
    ("lost", 0.0155),                 # token lost: held at once, revoked keyCompromise after confirmation
    ("found", 0.036),                 # token misplaced: held, then released
)
RENEW_SHARE = 0.88          # certificates renewed before they end
RETURN_LATER_SHARE = 0.5    # of those not renewed, holders who come back later
PROFILE_SHARES = (("signing", 0.88), ("authentication", 0.12))
KEY_TYPES = (("rsa2048", 0.8), ("ec-p256", 0.15), ("rsa3072", 0.05))
