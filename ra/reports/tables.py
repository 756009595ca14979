"""One shape for every report table, so the page, the PDF, the XLSX, the CSV and the
JSON API show the same rows: columns (key, label, kind), the rows as dicts, and the
page of them being shown."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from ra.i18n import _l

PER_PAGE = 50


@dataclass(frozen=True)
class Column:
    key: str
    label: object                  # a lazy, translatable string
    kind: str = "text"             # text | int | hours | percent | date | datetime
    sortable: bool = True


@dataclass
class Table:
    name: str                      # stable identifier: sheet names, CSV file names, API keys
    title: object
    columns: list[Column]
    rows: list[dict]
    total_rows: int | None = None  # all rows, when ``rows`` is one page
    page: int = 1
    per_page: int = PER_PAGE
    sort: str | None = None
    desc: bool = False
    totals: dict | None = None     # the "all" row, when the table has one
    # For exports of long lists: yields every row (as dicts) without holding them all.
    stream: Callable[[], Iterator[dict]] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.total_rows is None:
            self.total_rows = len(self.rows)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total_rows // self.per_page))

    def all_rows(self) -> Iterable[dict]:
        return self.stream() if self.stream is not None else self.rows

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def sort_and_page(rows: list[dict], columns: list[Column], *, sort: str | None, desc: bool, page: int,
                  per_page: int, default: str) -> tuple[list[dict], str, bool]:
    """For small grouped tables (kinds, districts, officers, time buckets) that are
    computed whole: sorted and cut here. Long lists sort and page in SQL instead."""
    keys = {c.key for c in columns if c.sortable}
    if sort not in keys:
        sort, desc = default, desc if sort is None else False
    ordered = sorted(rows, key=lambda r: _sort_key(r.get(sort)), reverse=desc)
    start = (max(1, page) - 1) * per_page
    return ordered[start:start + per_page], sort, desc


def _sort_key(value):
    if value is None:
        return (0, "")
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value).casefold())


def parse_sort(args, columns: list[Column], default: str, default_desc: bool = False) -> tuple[str, bool]:
    sort = args.get("sort") or default
    if sort not in {c.key for c in columns if c.sortable}:
        sort = default
    desc = args.get("dir", "desc" if default_desc and sort == default else "asc") == "desc"
    return sort, desc


# Column labels shared by several reports.
COUNT = _l("Count")
ISSUED = _l("Issued")
ORGANISATION = _l("Organisation")
KIND = _l("Organisation kind")
DISTRICT = _l("District")
OFFICER = _l("Officer")
PROFILE = _l("Certificate profile")
PERIOD = _l("Period")
REASON = _l("Reason")
