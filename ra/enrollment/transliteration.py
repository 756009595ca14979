"""Mongolian Cyrillic → Latin, by the national standard MNS 5217:2012.

The certificate's CN is built from the Latin name (``ra.profiles``); the RU
generates it with this table and the registrar may correct it, since people's
passports sometimes spell their name differently.
"""
from __future__ import annotations

# MNS 5217:2012, lower case. Ж → j and Й/Ь/Ъ → i are the standard's choices
# (not ISO 9 or the Russian passport table).
MNS_5217 = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "ye", "ё": "yo", "ж": "j", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "ө": "ö", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ү": "ü", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch",
    "ш": "sh", "щ": "sh", "ъ": "i", "ы": "y", "ь": "i", "э": "e", "ю": "yu", "я": "ya",
}


def to_latin(text: str) -> str:
    """'Бат-Эрдэнэ' → 'Bat-Erdene', 'ЦЭРЭН' → 'TSEREN', 'Цэрэн' → 'Tseren'.

    A capital that becomes two letters keeps the second one small unless the
    word around it is written in capitals."""
    out = []
    chars = list(text or "")
    for i, ch in enumerate(chars):
        low = ch.lower()
        latin = MNS_5217.get(low)
        if latin is None:
            out.append(ch)
            continue
        if ch == low:
            out.append(latin)
            continue
        neighbours = [c for c in (chars[i - 1] if i else "", chars[i + 1] if i + 1 < len(chars) else "")
                      if c.isalpha()]
        shouting = bool(neighbours) and all(c.isupper() for c in neighbours)
        out.append(latin.upper() if shouting else latin[:1].upper() + latin[1:])
    return "".join(out)
