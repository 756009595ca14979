"""Maintainer tool: refresh a package's mn catalog from the code.

    python scripts/update_catalog.py ra/translations ra/*.py ra/auth ...

Extracts msgids from the given paths with pybabel and merges them into
<dir>/mn/LC_MESSAGES/messages.po, keeping existing translations. Untranslated
entries are left empty, and tests/foundation/test_i18n.py then fails until a
translator fills them in.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po, write_po


def main(directory: str, *paths: str) -> None:
    po = Path(directory) / "mn" / "LC_MESSAGES" / "messages.po"
    with tempfile.NamedTemporaryFile(suffix=".pot") as pot:
        subprocess.run(["pybabel", "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext",
                        "--no-location", "-o", pot.name, *paths], check=True)
        template = read_po(open(pot.name, "rb"))
    if po.exists():
        catalog = read_po(open(po, "rb"), locale="mn")
        catalog.update(template, no_fuzzy_matching=True)
    else:
        po.parent.mkdir(parents=True, exist_ok=True)
        catalog = template
        catalog.locale = "mn"
    catalog.obsolete.clear()
    with open(po, "wb") as f:
        write_po(f, catalog, omit_header=False, no_location=True, width=100)


if __name__ == "__main__":
    main(*sys.argv[1:])
