"""Free-text coin grades → Numista's seven grade codes.

OpenNumismat stores `grade` as free, localized text (reference/notes/opennumismat.md §5.2) while Numista
accepts only ``g, vg, f, vf, xf, au, unc`` (notes/numista.md §4). This module maps the first onto the second
and refuses to guess: anything it cannot place with confidence comes back as ``None`` ("unmapped"), and a
user override table always wins.

Rules (documented here because they are product decisions, not facts from a spec):

* ``+``/``-`` suffixes keep the grade (``VF+`` → vf, ``XF-`` → xf); Sheldon puts e.g. VF-20…35 in one band.
  Exceptions are OpenNumismat's own localized default lists, whose slots are facts: Spanish ``SC-`` is the
  AU slot, Catalan ``BC+`` the F slot, German ``-unz`` the AU slot.
* A split or range grade (``VF/XF``, ``F-VF``, ``ss-vz``, ``VF to EF``) maps to the LOWER grade, so an
  export never overstates a coin.
* "Good" prefixes keep the grade (British ``gVF`` → vf); "near/about/almost/fast/quasi" prefixes give the
  grade one step below (``nEF``/``aEF`` → vf, ``f.vz`` → vf, ``aUNC``/``f.st``/``qFDC`` → au).
* Sheldon numbers (``MS-63``, ``AU55``, bare ``65`` as written by OpenNumismat's NGC/PCGS barcode scan) map by
  band: 4–7 g, 8–11 vg, 12–19 f, 20–39 vf, 40–49 xf, 50–59 au, 60–70 unc; 1–3 (PO/FR/AG) are "not represented
  on Numista" and stay unmapped; a letter prefix that contradicts its number (``MS-45``) is unmapped.
* Proof is a strike, not a wear grade, and Numista has no proof grade (notes/peers.md §4a, [NG]): a bare
  ``Proof``/``PP``/``PF``/``BE`` is unmapped unless the caller passes ``proof_grade`` (e.g. ``"unc"``); a
  numbered proof (``PF-65``, ``PR69 DCAM``) maps by its number like any Sheldon grade.
* Poor, Fair and About Good (``PO``, ``FR``, ``AG``) are below Numista's scale → unmapped.
* Tokens that mean different grades in different languages are unmapped without a language hint:
  ``SPL`` (French Splendide = au, Italian Splendido = xf), ``PR`` (English proof, Dutch Prachtig = xf),
  ``FR`` (English Fair, Dutch Fraai = f).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

NUMISTA_GRADES: tuple[str, ...] = ("g", "vg", "f", "vf", "xf", "au", "unc")
"""Numista's grade codes, worst to best (the order of its `grade` enum)."""

UNMAPPED = "unmapped"
_RANK = {code: index for index, code in enumerate(NUMISTA_GRADES)}
_MAX_INPUT = 120  # longer text is a remark, not a grade
_MAX_RAW = 1000  # not even worth normalizing

# Internal markers: "this token is a proof designation" / "this token means different grades by language".
_PROOF = "proof"
_AMBIG = "ambiguous"

# Exact tokens (already normalized: NFKC, casefolded, single spaces, ASCII dashes).
_EXACT: dict[str, str | None] = {
    # Numista's own codes (OpenNumismat's Numista import writes these verbatim) and English words.
    "g": "g", "good": "g",
    "vg": "vg", "very good": "vg",
    "f": "f", "fine": "f", "fn": "f",
    "vf": "vf", "very fine": "vf",
    "xf": "xf", "ef": "xf", "exf": "xf", "extremely fine": "xf", "extra fine": "xf", "ex": "xf",
    "au": "au", "about uncirculated": "au", "almost uncirculated": "au", "about unc": "au",
    "a unc": "au", "a.unc": "au", "aunc": "au", "almost unc": "au", "nearly uncirculated": "au",
    "unc": "unc", "uncirculated": "unc", "ms": "unc", "mint state": "unc", "bu": "unc",
    "brilliant uncirculated": "unc", "brilliant unc": "unc", "gem": "unc", "gem unc": "unc",
    "gem bu": "unc", "choice unc": "unc", "choice bu": "unc", "ch unc": "unc", "ch bu": "unc",
    "ch. unc": "unc", "ch. bu": "unc", "gem uncirculated": "unc", "choice uncirculated": "unc",
    "proof": _PROOF, "pf": _PROOF, "prf": _PROOF,
    "specimen": _PROOF, "sp": _PROOF, "pl": None, "dmpl": None, "proof like": None, "proof-like": None,
    "poor": None, "po": None, "p": None, "fair": None, "about good": None, "ag": None,
    # German (Erhaltungsgrade) and OpenNumismat's German default list pfr|-unz|vz|ss|s|sg.
    "s": "f", "schön": "f", "schoen": "f",
    "ss": "vf", "sehr schön": "vf", "sehr schoen": "vf",
    "vz": "xf", "vzgl": "xf", "vorzüglich": "xf", "vorzueglich": "xf",
    "st": "unc", "stgl": "unc", "stempelglanz": "unc", "unz": "unc", "unzirkuliert": "unc",
    "bfr": "unc", "bankfrisch": "unc", "pfr": "unc", "prfr": "unc", "prägefrisch": "unc",
    "praegefrisch": "unc", "-unz": "au", "fst": "au", "f.st": "au", "f.stgl": "au", "f.unz": "au",
    "sg": "vg", "sge": "vg", "sehr gut": "vg", "sehr gut erhalten": "vg",
    "ge": "g", "gut": "g", "gut erhalten": "g", "gering erhalten": None, "schlecht": None,
    "pp": _PROOF, "polierte platte": _PROOF, "spiegelglanz": _PROOF,
    # French (CGB dealer table / Numista French labels;
    # OpenNumismat fr default: N'a pas circulé|SPL|Superbe|Très très belle|F|VG).
    "ab": "g", "assez beau": "g",
    "b": "vg", "beau": "vg", "belle": "vg",
    "tb": "f", "très beau": "f", "tres beau": "f", "très belle": "f", "tres belle": "f",
    "ttb": "vf", "très très beau": "vf", "tres tres beau": "vf", "très très belle": "vf",
    "tres tres belle": "vf",
    "sup": "xf", "superbe": "xf",
    "splendide": "au",
    "fdc": "unc", "fleur de coin": "unc", "neuf": "unc", "nc": "unc", "non circulé": "unc",
    "non circulée": "unc", "n'a pas circulé": "unc", "brillant universel": "unc",
    "be": _PROOF, "belle épreuve": _PROOF, "belle epreuve": _PROOF, "fb": _PROOF, "flan bruni": _PROOF,
    # Italian (OpenNumismat it default: Fior di conio|QFDC|Splendida|Bellissima|Molto bella|Bella).
    "fior di conio": "unc", "qfdc": "au", "q.fdc": "au", "splendida": "xf", "splendido": "xf",
    "bb": "vf", "bellissima": "vf", "bellissimo": "vf", "mb": "f", "molto bella": "f", "molto bello": "f",
    "bella": "vg", "bello": "vg",
    # Spanish / Catalan / Portuguese (OpenNumismat defaults es: Unc|SC-|XF|VF|F|VG;
    # ca: SC|QSC|EBC|MBC|BC+|VG; pt: S/FDC|QNC|Bela|MBC|F|BC).
    "sc": "unc", "sin circular": "unc", "sc-": "au", "qsc": "au", "ebc": "xf", "mbc": "vf",
    "bc+": "f", "bc": "vg", "s/fdc": "unc", "sfdc": "unc", "qnc": "au", "bela": "xf",
    "muy bien conservada": "vf", "bien conservada": "vg", "extraordinariamente bien conservada": "xf",
    # Dutch (nl default: Unc|AU|Prachtig|Zeer fraai|V|VG).
    "prachtig": "xf", "zeer fraai": "vf", "zf": "vf", "fraai": "f", "zeer goed": "vg", "zg": "vg",
    "goed": "g",
    # Polish (pl default: Stan I - Menniczy|AU|Stan II - Znakomity|Stan III - Bardzo piękny|F|VG).
    "stan i - menniczy": "unc", "stan i": "unc", "menniczy": "unc",
    "stan ii - znakomity": "xf", "stan ii": "xf", "znakomity": "xf",
    "stan iii - bardzo piękny": "vf", "stan iii": "vf", "bardzo piękny": "vf",
    # Russian (ru default: Unc|AU|XF|VF|Ф|VG) and the usual Cyrillic transliterations.
    "ф": "f", "вф": "vf", "хф": "xf", "экс": "xf", "ац": "au", "анц": "unc", "унц": "unc",
    "пруф": _PROOF, "пп": _PROOF,
    # Greek (el: Unc|AU|XF|VF|Σ|VG), Turkish (tr: Çil|AU|Çok çok iyi|Çok iyi|Ş|VG), Persian (fa).
    "σ": "f", "ς": "f",
    "çil": "unc", "çok çok iyi": "xf", "çok iyi": "vf", "ş": "f",
    "بانکی": "unc", "بی نهایت عالی": "xf", "بینهایت عالی": "xf", "بسیار عالی": "vf",
}  # fmt: skip

# Tokens whose meaning depends on the language; without a matching hint they stay unmapped.
_AMBIGUOUS: dict[str, dict[str, str]] = {
    "spl": {"fr": "au", "it": "xf"},
    "pr": {"nl": "xf", "en": _PROOF},
    "fr": {"nl": "f"},
}

# "One grade lower" modifiers (near, about, almost; German fast; Italian/Spanish quasi).
_BELOW_PREFIX = re.compile(
    r"^(?:near|nearly|about|abt\.?|almost|fast|quasi|presque|q\.|f\.|n\.|a\.)\s*(?P<rest>.+)$"
)
_BELOW_LETTER = re.compile(r"^(?P<p>[naq])(?P<rest>vg|vf|ef|xf|unc|fdc|spl|bb|sc|ebc|mbc)$")
_GOOD_PREFIX = re.compile(r"^(?:good|g\.)\s*(?P<rest>.+)$")
_GOOD_LETTER = re.compile(r"^g(?P<rest>vg|f|vf|ef|xf)$")
_GERMAN_FAST = re.compile(r"^f\.?\s*(?P<rest>vz|ss|st|stgl|unz|bfr|pfr)$")

_GRADERS = ("pcgs", "ngc", "anacs", "icg", "iccs", "pmg", "cac", "ngs", "nngc")
_GRADER_PREFIX = re.compile(r"^(?:" + "|".join(_GRADERS) + r")(?![a-z])[\s:.-]*")
_SHELDON = re.compile(
    r"^(?:(?P<prefix>ms|mint state|unc|bu|pf|pr|prf|proof|sp|au|ef|xf|vf|f|fine|vg|g|ag|fr|po|p)"
    r"\s*[-.:/]?\s*)?(?P<num>\d{1,2})(?:\s*\+)?"
    r"(?P<desig>(?:\s*[-/]?\s*(?:rd|rb|bn|cam|dcam|ucam|dc|uc|pl|dmpl|fs|fb|fbl|fh|fsb|star|\*|"
    r"details|det\.?|cac|\+))*)$"
)
_SHELDON_PREFIX_GRADE: dict[str, str | None] = {
    "ms": "unc", "mint state": "unc", "unc": "unc", "bu": "unc", "au": "au", "ef": "xf", "xf": "xf",
    "vf": "vf", "f": "f", "fine": "f", "vg": "vg", "g": "g", "ag": None, "fr": None, "po": None, "p": None,
}  # fmt: skip
_PROOF_PREFIXES = frozenset({"pf", "pr", "prf", "proof", "sp"})
_SPLIT = re.compile(r"\s*(?:/|\bto\b|\bbis\b|\bà\b|-)\s*")
_SUFFIX = re.compile(r"(?<=\S)\s*(?:\+\+|\+|--|-|\(\+\)|\(-\))$")
_REMARK = re.compile(r"[,;(]")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_PUNCT = str.maketrans({**{c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212\u2015"}, "\u2019": "'"})
_CYR_TO_LAT = str.maketrans("авсеікмнорху", "abceikmhopxy")
_LATIN = re.compile(r"[a-z]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@dataclass(frozen=True, slots=True)
class ParsedGrade:
    """What a grade text means: Numista code (or None), whether it names a proof, any Sheldon number."""

    text: str
    normalized: str
    numista: str | None
    proof: bool = False
    sheldon: int | None = None
    ambiguous: bool = False


def normalize_grade_text(raw: object) -> str:
    """Canonical form used for lookups and override keys: NFKC, casefolded, one space, ASCII dashes."""
    if not isinstance(raw, str):
        return ""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())
    text = " ".join(text.translate(_ZERO_WIDTH).translate(_PUNCT).split())
    previous = None
    while text != previous:  # '("VF")' → 'vf'; repeated so that normalizing twice changes nothing
        previous = text
        text = text.strip(" \"'`«»“”„‘’[]{}").rstrip(".")
        if text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
    if _LATIN.search(text) and _CYRILLIC.search(text):
        # "ХF" typed with a Cyrillic Х: fold look-alike letters when the text mixes both scripts.
        text = text.translate(_CYR_TO_LAT)
    return text


def _lower(code: str | None) -> str | None:
    """One Numista grade below `code` (None below g)."""
    if code is None or code == _PROOF:
        return None
    if code == _AMBIG:
        return _AMBIG
    rank = _RANK[code]
    return NUMISTA_GRADES[rank - 1] if rank > 0 else None


def _sheldon_band(number: int) -> str | None:
    if number < 4 or number > 70:
        return None
    if number < 8:
        return "g"
    if number < 12:
        return "vg"
    if number < 20:
        return "f"
    if number < 40:
        return "vf"
    if number < 50:
        return "xf"
    if number < 60:
        return "au"
    return "unc"


def _token(text: str, lang: str | None) -> tuple[bool, str | None]:
    """Exact table lookup → (known, code or a marker)."""
    if text in _EXACT:
        return True, _EXACT[text]
    if text in _AMBIGUOUS:
        if lang and lang in _AMBIGUOUS[text]:
            return True, _AMBIGUOUS[text][lang]
        return True, _AMBIG
    return False, None


def _word(text: str, lang: str | None) -> tuple[bool, str | None]:
    """A single grade word with optional +/- suffix, good/near prefixes and abbreviation dots."""
    known, code = _word_once(text, lang)
    if not known and "." in text:
        undotted = " ".join(text.replace(".", " ").split())  # "V.F." / "Unc." / "F.D.C." / "s.g."
        known, code = _word_once(undotted, lang)
        if not known:
            known, code = _word_once(undotted.replace(" ", ""), lang)
    return known, code


def _word_once(text: str, lang: str | None) -> tuple[bool, str | None]:
    known, code = _token(text, lang)
    if known:
        return known, code
    stripped = _SUFFIX.sub("", text).strip()
    if stripped != text and stripped:
        known, code = _token(stripped, lang)
        if known:
            return known, code
        text = stripped
    match = _GERMAN_FAST.match(text)
    if match:
        known, code = _token(match["rest"], lang)
        return known, _lower(code)
    for pattern in (_BELOW_PREFIX, _BELOW_LETTER):
        match = pattern.match(text)
        if match:
            known, code = _token(_SUFFIX.sub("", match["rest"]).strip(), lang)
            if known:
                return True, _lower(code)
    for pattern in (_GOOD_PREFIX, _GOOD_LETTER):
        match = pattern.match(text)
        if match:
            known, code = _token(_SUFFIX.sub("", match["rest"]).strip(), lang)
            if known:
                return True, code
    return False, None


def _sheldon(text: str) -> tuple[str | None, bool, int] | None:
    """Sheldon grade → (numista code by band, proof?, number), or None if `text` is not one."""
    match = _SHELDON.match(text)
    if not match:
        return None
    number = int(match["num"])
    if not 1 <= number <= 70:
        return None
    prefix = match["prefix"]
    proof = prefix in _PROOF_PREFIXES
    band = _sheldon_band(number)
    if prefix and not proof and prefix in _SHELDON_PREFIX_GRADE:
        letter = _SHELDON_PREFIX_GRADE[prefix]
        if letter != band:
            band = None  # "MS-45" or "AG-3": contradictory or below Numista's scale
    return band, proof, number


def _parse_normalized(text: str, lang: str | None) -> tuple[str | None, bool, int | None, bool]:
    """Core mapping → (numista-or-proof-marker, proof, sheldon, ambiguous)."""
    if not text or len(text) > _MAX_INPUT:
        return None, False, None, False
    known, code = _word(text, lang)
    if known:
        if code == _AMBIG:
            return None, False, None, True
        return code, code == _PROOF, None, False
    without_grader = _GRADER_PREFIX.sub("", text).strip()
    sheldon = _sheldon(without_grader)
    if sheldon is not None:
        return sheldon[0], sheldon[1], sheldon[2], False
    if without_grader != text:
        known, code = _word(without_grader, lang)
        if known:
            if code == _AMBIG:
                return None, False, None, True
            return code, code == _PROOF, None, False
    parts = [part for part in _SPLIT.split(without_grader) if part]
    if 2 <= len(parts) <= 3:
        codes = []
        for part in parts:
            known, code = _word(part, lang)
            if not known:
                sub = _sheldon(part)
                if sub is None:
                    break
                code = sub[0]
            codes.append(code)
        else:
            if _AMBIG in codes:
                return None, False, None, True
            if any(code is None for code in codes):
                return None, False, None, False
            if any(code == _PROOF for code in codes):
                return None, True, None, False
            return min((code for code in codes if code is not None), key=_RANK.__getitem__), False, None, False
    remark = _REMARK.search(text)
    if remark and remark.start() > 0:
        return _parse_normalized(text[: remark.start()].strip(), lang)
    return None, False, None, False


@lru_cache(maxsize=4096)
def _parse_cached(text: str, lang: str | None) -> tuple[str | None, bool, int | None, bool]:
    return _parse_normalized(text, lang)


def _parse(text: str, lang: str | None) -> tuple[str | None, bool, int | None, bool]:
    """Cached parse of normalized text; long text (a remark, not a grade) never reaches the cache."""
    if not text or len(text) > _MAX_INPUT:
        return None, False, None, False
    return _parse_cached(text, lang)


def parse_grade(raw: object, *, lang: str | None = None) -> ParsedGrade:
    """Explain a grade text (no overrides): Numista code, proof flag, Sheldon number, ambiguity."""
    text = raw if isinstance(raw, str) else ""
    normalized = normalize_grade_text(text) if len(text) <= _MAX_RAW else ""
    code, proof, sheldon, ambiguous = _parse(normalized, _lang(lang))
    numista = None if code == _PROOF else code
    return ParsedGrade(text, normalized, numista, proof, sheldon, ambiguous)


def _lang(lang: str | None) -> str | None:
    if not lang or not isinstance(lang, str):
        return None
    return lang.strip().casefold()[:2] or None


def _check_grade(value: object, where: str) -> str | None:
    if value is None or value == "" or value == UNMAPPED:
        return None
    if isinstance(value, str) and value.strip().casefold() in _RANK:
        return value.strip().casefold()
    raise ValueError(f"{where}: {value!r} is not a Numista grade ({', '.join(NUMISTA_GRADES)})")


class GradeMapper:
    """A grade mapping configured once (user overrides, language hint, proof policy) and used many times."""

    __slots__ = ("_lang", "_overrides", "_proof_grade")

    def __init__(
        self,
        overrides: Mapping[str, str | None] | None = None,
        *,
        lang: str | None = None,
        proof_grade: str | None = None,
    ) -> None:
        self._overrides: dict[str, str | None] = {}
        for key, value in (overrides or {}).items():
            normalized = normalize_grade_text(key)
            if normalized:
                self._overrides[normalized] = _check_grade(value, f"grade override for {key!r}")
        self._lang = _lang(lang)
        self._proof_grade = _check_grade(proof_grade, "proof_grade")

    def __call__(self, raw: object) -> str | None:
        """Numista grade of `raw`, or None when it cannot be mapped without guessing."""
        if not isinstance(raw, str) or len(raw) > _MAX_RAW:
            return None
        normalized = normalize_grade_text(raw)
        if not normalized:
            return None
        if normalized in self._overrides:
            return self._overrides[normalized]
        code, proof, sheldon, _ = _parse(normalized, self._lang)
        if code == _PROOF or (code is None and proof and sheldon is None):
            return self._proof_grade
        return code


def to_numista_grade(
    raw: object,
    overrides: Mapping[str, str | None] | None = None,
    *,
    lang: str | None = None,
    proof_grade: str | None = None,
) -> str | None:
    """Map one free-text grade to ``g|vg|f|vf|xf|au|unc`` or None; `overrides` (raw → grade) win.

    Override keys are normalized like the input (so ``"VZ"`` matches ``" vz "``); an override value of
    None or ``"unmapped"`` forces "unmapped". `lang` (ISO 639-1) only settles tokens that differ between
    languages (``SPL``, ``PR``, ``FR``). For many values build a :class:`GradeMapper` once.
    """
    return GradeMapper(overrides, lang=lang, proof_grade=proof_grade)(raw)


def grade_report(
    values: Iterable[object],
    overrides: Mapping[str, str | None] | None = None,
    *,
    lang: str | None = None,
    proof_grade: str | None = None,
) -> dict[str, int]:
    """Counts by Numista grade (worst→best) then ``"unmapped"`` (empty grades included); zero counts omitted.

    This is the ``byNumistaGrade`` object of the import JSON document (DESIGN.md, command line).
    """
    mapper = GradeMapper(overrides, lang=lang, proof_grade=proof_grade)
    counts = dict.fromkeys((*NUMISTA_GRADES, UNMAPPED), 0)
    for value in values:
        counts[mapper(value) or UNMAPPED] += 1
    return {key: count for key, count in counts.items() if count}


def unmapped_grade_values(
    values: Iterable[object],
    overrides: Mapping[str, str | None] | None = None,
    *,
    lang: str | None = None,
    proof_grade: str | None = None,
) -> dict[str, int]:
    """Distinct non-empty grade texts (normalized) that stay unmapped, most frequent first.

    Lets the UI offer exactly the rows a user needs to fill in the override table.
    """
    mapper = GradeMapper(overrides, lang=lang, proof_grade=proof_grade)
    counts: dict[str, int] = {}
    for value in values:
        normalized = normalize_grade_text(value)
        if normalized and mapper(value) is None:
            counts[normalized] = counts.get(normalized, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def is_numista_grade(value: object) -> bool:
    """True for one of Numista's seven lower-case codes."""
    return isinstance(value, str) and value in _RANK


def grade_rank(grade: str | None) -> int | None:
    """0 (g) … 6 (unc); None for anything that is not a Numista code."""
    return _RANK.get(grade) if isinstance(grade, str) else None


def grade_sort_key(grade: str | None) -> int:
    """Sort key worst→best with unmapped values first (-1)."""
    rank = grade_rank(grade)
    return -1 if rank is None else rank


def min_grade(*grades: str | None) -> str | None:
    """The worst of the given Numista grades (non-codes ignored); None if there is none."""
    valid = [grade for grade in grades if grade is not None and is_numista_grade(grade)]
    return min(valid, key=_RANK.__getitem__) if valid else None


def max_grade(*grades: str | None) -> str | None:
    """The best of the given Numista grades (non-codes ignored); None if there is none."""
    valid = [grade for grade in grades if grade is not None and is_numista_grade(grade)]
    return max(valid, key=_RANK.__getitem__) if valid else None


def grade_at_least(grade: str | None, minimum: str) -> bool:
    """True when `grade` is a Numista code at or above `minimum` (e.g. for "XF or better" filters)."""
    rank, floor = grade_rank(grade), grade_rank(minimum)
    if floor is None:
        raise ValueError(f"{minimum!r} is not a Numista grade")
    return rank is not None and rank >= floor
