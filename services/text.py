"""Text keys shared by every catalogue and importer: collector order of card numbers, and search-friendly
normalisation of names (accents, apostrophes, case)."""

from __future__ import annotations

import re
import unicodedata

_DIGITS = re.compile(r"(\d+)")
_APOSTROPHES = str.maketrans("", "", "'’`´")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def natural_sort_key(number: str) -> str:
    """A string that sorts card numbers the way collectors read them: 4 < 10 < 102 < TG01 < TG10."""
    return _DIGITS.sub(lambda match: match.group(1).zfill(6), number.upper())


def normalize(text: str) -> str:
    """Lower-case ASCII words separated by single spaces: 'Flabébé', "Professor's" → 'flabebe', 'professors'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.casefold().translate(_APOSTROPHES)).strip()
