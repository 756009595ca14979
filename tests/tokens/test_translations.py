"""Every string of the token pages and messages has its Mongolian translation."""
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2] / "ra"
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None}


def _msgids(directory: Path, method: str, pattern: str) -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(directory), method_map=[(pattern, method)], keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _mongolian() -> dict:
    merged = {}
    for po in ROOT.glob("**/translations/mn/LC_MESSAGES/messages.po"):
        for m in read_po(open(po, "rb"), locale="mn"):
            if m.id and m.string and "fuzzy" not in m.flags:
                merged[m.id] = m.string
    return merged


def test_token_strings_are_translated_with_their_placeholders():
    ids = _msgids(ROOT / "tokens", "python", "**.py") | _msgids(ROOT / "templates" / "tokens", "jinja2", "**.html")
    assert len(ids) > 100  # the extraction really found the strings
    mn = _mongolian()
    assert sorted(i for i in ids if i not in mn) == []
    ph = re.compile(r"%\(\w+\)[sd]")
    assert [i for i in ids if sorted(ph.findall(i)) != sorted(ph.findall(mn[i]))] == []
