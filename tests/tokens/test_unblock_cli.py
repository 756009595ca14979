"""The holder's ``ra-token`` command on its own: the server-address rule, the
local PIN check (the same verdicts as the server's ``ra.tokens.pins``), the prompt
loop, and its messages in both languages without the app."""
from __future__ import annotations

import os
import time

import pytest

from ra.tokens import pins
from ra.tokens import remote_cli as cli


@pytest.mark.parametrize("url,ok", [
    ("https://ra.ub.gov.mn", True), ("https://10.0.0.5:8443/", True), ("http://127.0.0.1:5000", True),
    ("http://localhost:5000", True), ("http://[::1]:8080", True), ("http://ra.ub.gov.mn", False),
    ("http://10.0.0.5", False), ("ftp://127.0.0.1", False), ("", False), ("ra.ub.gov.mn", False),
])
def test_plain_http_only_to_this_computer(url, ok):
    if ok:
        assert cli.check_server(url) == url.rstrip("/")
    else:
        with pytest.raises(ValueError):
            cli.check_server(url)


@pytest.mark.parametrize("pin", ["Qz7-93x1", "123456", "654321", "abcdef", "aaaaaa", "12345", "x" * 17,
                                 "with space1", "пин1234", "30615 8", "306158", "Ab1!Ab1!Ab1!Ab1!"])
def test_the_local_pin_check_agrees_with_the_server(pin, ctx):
    try:
        pins.check_user_pin(pin)
        server_ok = True
    except pins.PinPolicyError:
        server_ok = False
    assert (cli.pin_problem(pin, cli.Out("en")) is None) == server_ok


def test_the_prompt_asks_again_until_two_equal_good_pins(monkeypatch, capsys):
    answers = iter(["123456", "Rn6-04j8", "Rn6-04j9", "Rn6-04j8", "Rn6-04j8"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: next(answers))
    assert cli.read_new_pin(cli.Out("en"), from_stdin=False) == "Rn6-04j8"
    out = capsys.readouterr().out
    assert "must not be a sequence" in out and "The two PINs differ" in out and "Rn6" not in out


def test_messages_in_mongolian_from_the_catalog_even_without_a_compiled_one(tmp_path, monkeypatch):
    po = cli.TRANSLATIONS / "mn" / "LC_MESSAGES" / "messages.po"
    copy = tmp_path / "mn" / "LC_MESSAGES"
    copy.mkdir(parents=True)
    (copy / "messages.po").write_bytes(po.read_bytes())
    monkeypatch.setattr(cli, "TRANSLATIONS", tmp_path)  # a fresh checkout: no messages.mo
    mn = cli.Out("mn")
    assert mn.t("The two PINs differ. Try again.") == "Хоёр PIN таарахгүй байна. Дахин оролдоно уу."
    assert mn.t("Done: the PIN of token %(serial)s is unblocked. Use the new PIN from now on.", serial="S1") \
        == "Боллоо: S1 токены PIN тайлагдлаа. Цаашид шинэ PIN-ээ ашиглана уу."
    assert cli.Out("en").t("The two PINs differ. Try again.") == "The two PINs differ. Try again."
    stale = copy / "messages.mo"
    stale.write_bytes(b"")  # an older, broken .mo is not used
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert cli.Out("mn").t("The two PINs differ. Try again.").startswith("Хоёр PIN")


@pytest.mark.parametrize("env,lang", [({"LANG": "en_US.UTF-8"}, "en"), ({"LANG": "mn_MN.UTF-8"}, "mn"),
                                      ({"LANG": "C.UTF-8"}, "mn"), ({"RA_LANG": "en", "LANG": "mn_MN"}, "en")])
def test_the_default_language_is_mongolian(monkeypatch, env, lang):
    for name in ("RA_LANG", "LC_ALL", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.default_lang() == lang
