"""Vietnamese text: collation key for sorting and an accent-free form for searching.

Vietnamese orders letters a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y, and tones
(none, huyền, hỏi, ngã, sắc, nặng) only break ties. Python's default sort puts "Đ" after "Z" and
"Ă" after "A…Z"; `vi_sort_key` gives the order a Vietnamese reader expects, with numbers compared as
numbers ("Phường 2" before "Phường 10").
"""
import re
import unicodedata

_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
_RANK = {letter: index for index, letter in enumerate(_LETTERS)}
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
_PREFIXES = ("thành phố ", "tỉnh ", "huyện ", "quận ", "thị xã ", "thị trấn ", "xã ", "phường ", "đặc khu ")


def _letters_and_tones(text):
    """Split NFD text into base letters (with ă â ê ô ơ ư đ kept whole) and the tone of each letter."""
    letters, tones = [], []
    for char in unicodedata.normalize("NFD", text.lower()):
        if char in _TONES:
            if tones:
                tones[-1] = _TONES[char]
        elif char == "\u0306" and letters and letters[-1] == "a":
            letters[-1] = "ă"
        elif char == "\u0302" and letters and letters[-1] in "aeo":
            letters[-1] = {"a": "â", "e": "ê", "o": "ô"}[letters[-1]]
        elif char == "\u031b" and letters and letters[-1] in "ou":
            letters[-1] = {"o": "ơ", "u": "ư"}[letters[-1]]
        elif unicodedata.combining(char):
            continue
        else:
            letters.append(char)
            tones.append(0)
    return letters, tones


def strip_unit_prefix(name):
    """'Phường Tân Lợi' -> 'Tân Lợi'; names are sorted without their type word."""
    lowered = name.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            return name[len(prefix):]
    return name


def vi_sort_key(text):
    """A string whose byte order is Vietnamese alphabetical order (numbers compared by value)."""
    letters, tones = _letters_and_tones(text or "")
    primary = []
    word = "".join(letters)
    for token in re.split(r"(\d+)", word):
        if token.isdigit():
            primary.append("0" + token.lstrip("0").rjust(8, "0"))
            continue
        for char in token:
            if char in _RANK:
                primary.append(chr(0x41 + _RANK[char]))
            elif char == " ":
                primary.append(" ")
            else:
                primary.append("~" + char)
    return "".join(primary) + "|" + "".join(str(tone) for tone in tones)


def fold(text):
    """Lower-case, accent-free form for search: 'Buôn Ma Thuột' -> 'buon ma thuot'."""
    text = (text or "").lower().replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
