"""The state register number and the MNS 5217:2012 transliteration, as a registrar meets them."""
from datetime import date

import pytest

from ra.enrollment import register_number as rn
from ra.enrollment.transliteration import to_latin

TODAY = date(2026, 11, 22)


def test_valid_number_gives_the_birth_date():
    parsed, err = rn.parse("УБ85010112", TODAY)
    assert err is None and parsed.birth_date == date(1985, 1, 1)


def test_births_from_2000_have_20_added_to_the_month():
    parsed, err = rn.parse("ЧД05231215", TODAY)  # 2005-03-12
    assert err is None and parsed.birth_date == date(2005, 3, 12)


def test_spaces_hyphens_and_small_letters_are_tolerated():
    parsed, err = rn.parse(" уб-8501 0112 ", TODAY)
    assert err is None and parsed.value == "УБ85010112"


def test_mongolian_letters_o_and_u_with_bars_are_accepted():
    assert rn.parse("ӨҮ85010112", TODAY)[1] is None


@pytest.mark.parametrize("value", ["UB85010112", "УB85010112", "AБ85010112"])
def test_a_latin_letter_is_named_in_the_message(value):
    parsed, err = rn.parse(value, TODAY)
    assert parsed is None
    assert "Latin" in str(err)


@pytest.mark.parametrize("value", ["УБ85130112", "УБ05330112", "УБ85023012", "УБ85000112"])
def test_impossible_birth_dates_are_refused(value):
    parsed, err = rn.parse(value, TODAY)
    assert parsed is None and "birth date" in str(err)


def test_a_birth_date_in_the_future_is_refused():
    assert rn.parse("УБ27220112", TODAY)[0] is None  # 2027-02-01


def test_a_minor_cannot_be_a_holder():
    parsed, err = rn.parse("УБ10231112", TODAY)  # born 2010-03-11
    assert parsed is None and "18" in str(err)
    assert rn.parse("УБ08311112", TODAY)[1] is None  # 2008-11-11: 18 since ten days


@pytest.mark.parametrize("value", ["УБ8501011", "УБ850101123", "У85010112", "", "УБ85O10112"])
def test_wrong_shape_is_refused(value):
    assert rn.parse(value, TODAY)[0] is None


@pytest.mark.parametrize("cyrillic, latin", [
    ("Бат-Эрдэнэ", "Bat-Erdene"), ("Цэрэндулам", "Tserendulam"), ("ЦЭРЭН", "TSEREN"), ("Өлзийбаяр", "Ölziibayar"),
    ("Жаргалсайхан", "Jargalsaikhan"), ("Хүрэлбаатар", "Khürelbaatar"), ("Юмжаав", "Yumjaav"),
    ("Ёндон", "Yondon"), ("Шинэбаяр", "Shinebayar"), ("Чингис", "Chingis"), ("Ганхуяг", "Gankhuyag"),
])
def test_mns_5217_transliteration(cyrillic, latin):
    assert to_latin(cyrillic) == latin
