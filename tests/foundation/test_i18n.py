"""Mongolian first, English second: no UI string may be left untranslated."""
import subprocess
from pathlib import Path

from babel.messages.pofile import read_po

from tests.conftest import csrf_from

ROOT = Path(__file__).resolve().parents[2]


def _mn_translations() -> dict:
    merged = {}
    for po in (ROOT / "ra").glob("**/translations/mn/LC_MESSAGES/messages.po"):
        for m in read_po(open(po, "rb"), locale="mn"):
            if m.id and m.string and "fuzzy" not in m.flags:
                merged[m.id] = m.string
    return merged


def test_every_ui_string_has_a_mongolian_translation(tmp_path):
    pot = tmp_path / "all.pot"
    subprocess.run(["pybabel", "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext",
                    "-o", str(pot), "."], cwd=ROOT, check=True)
    translated = _mn_translations()
    extracted = [m for m in read_po(open(pot, "rb")) if m.id]
    assert len(extracted) > 300  # the extraction itself works (it once found nothing)
    missing = [f"{m.id!r} ({m.locations[0][0]})" for m in extracted if m.id not in translated]
    assert missing == [], "untranslated:\n" + "\n".join(missing)


def test_placeholders_survive_translation():
    import re
    bad = [k for k, v in _mn_translations().items()
           if sorted(re.findall(r"%\(\w+\)[sd]", k)) != sorted(re.findall(r"%\(\w+\)[sd]", v))]
    assert bad == []


def test_pages_switch_between_mongolian_and_english(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Нэвтрэх" in page
    resp = client.post("/language", data={"lang": "en", "next": "/login", "csrf_token": csrf_from(page)})
    assert resp.status_code == 303
    page = client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in page and "Log in" in page and "Нэвтрэх" not in page


def test_api_errors_follow_accept_language(client):
    mn = client.get("/api/v1/organisations/1").get_json()
    en = client.get("/api/v1/organisations/1", headers={"Accept-Language": "en"}).get_json()
    assert mn["error"]["code"] == en["error"]["code"] == "unauthorized"
    assert mn["error"]["message"] != en["error"]["message"]
    assert en["error"]["message"] == "A valid bearer token is required."
