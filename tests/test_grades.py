"""services/grades.py: free-text grade → Numista grade and Numista ids from OpenNumismat fields
(numista_links.py).

The numista_links tests live here because tests/test_numista_links.py is now used for the Numista link
service (services/integrations/numista/links.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.grades import (
    NUMISTA_GRADES,
    UNMAPPED,
    GradeMapper,
    grade_at_least,
    grade_rank,
    grade_report,
    grade_sort_key,
    is_numista_grade,
    max_grade,
    min_grade,
    normalize_grade_text,
    parse_grade,
    to_numista_grade,
    unmapped_grade_values,
)
from services.importers.opennumismat_links import (
    NumistaLink,
    extract_numista_link,
    find_numista_ids,
    numista_type_id_from_catalognum,
    numista_type_id_from_url,
    split_numisync_note,
)

CASES = {
    # Numista codes as OpenNumismat's own Numista import writes them, and English defaults.
    "g": "g", "vg": "vg", "f": "f", "vf": "vf", "xf": "xf", "au": "au", "unc": "unc",
    "Unc": "unc", "AU": "au", "XF": "xf", "VF": "vf", "F": "f", "VG": "vg", "G": "g",
    "Good": "g", "Very Good": "vg", "Fine": "f", "Very Fine": "vf", "Extremely Fine": "xf",
    "Extra Fine": "xf", "EF": "xf", "About Uncirculated": "au", "Almost Uncirculated": "au",
    "Uncirculated": "unc", "UNC": "unc",
    "BU": "unc", "Brilliant Uncirculated": "unc", "Gem BU": "unc", "Choice Unc": "unc", "MS": "unc",
    # +/- suffixes keep the grade.
    "XF+": "xf", "VF-": "vf", "AU+": "au", "F+": "f", "VG-": "vg", "UNC-": "unc", "ttb+": "vf", "vz-": "xf",
    " vf + ": "vf", "VF++": "vf",
    # Split / range grades take the lower one.
    "VF/XF": "vf", "VF-XF": "vf", "F-VF": "f", "VF/EF": "vf", "XF/AU": "xf", "AU/UNC": "au", "VF to EF": "vf",
    "ss-vz": "vf", "vz/st": "xf", "vz-st": "xf", "TTB/SUP": "vf", "F/VF+": "f",
    # British good/near/about prefixes.
    "gVF": "vf", "GVF": "vf", "good VF": "vf", "gEF": "xf", "nEF": "vf", "aEF": "vf", "about EF": "vf",
    "near VF": "f", "aVF": "f", "nVF": "f", "aUNC": "au", "about unc": "au", "a.unc": "au",
    # Sheldon numbers (letters + numbers, bare numbers, graders, designations).
    "MS-63": "unc", "MS63": "unc", "MS 65": "unc", "ms-70": "unc", "AU-55": "au", "AU58": "au", "EF-40": "xf",
    "XF-45": "xf", "VF-20": "vf", "VF-35": "vf", "F-12": "f", "F-15": "f", "VG-8": "vg", "VG-10": "vg",
    "G-4": "g", "G-6": "g", "65": "unc", "60": "unc", "58": "au", "50": "au", "45": "xf", "40": "xf",
    "30": "vf", "20": "vf", "12": "f", "8": "vg", "4": "g", "PCGS MS65RD": "unc", "NGC MS 64 BN": "unc",
    "PCGS AU-58 CAC": "au", "NGC65": "unc", "MS-66+": "unc", "MS–63": "unc", "VF-30/35": "vf",
    "MS-63/64": "unc", "NGC PF69 UCAM": "unc", "PR-70 DCAM": "unc", "PF-45": "xf", "SP-63": "unc",
    # German (notes: de default pfr|-unz|vz|ss|s|sg).
    "s": "f", "ss": "vf", "vz": "xf", "st": "unc", "stgl": "unc", "Stempelglanz": "unc", "unz": "unc",
    "bfr": "unc", "bankfrisch": "unc", "pfr": "unc", "-unz": "au", "sg": "vg", "sge": "vg", "ge": "g",
    "sehr schön": "vf", "schön": "f", "vorzüglich": "xf", "f.vz": "vf", "f. vz": "vf", "fast vz": "vf",
    "f.st": "au", "f.stgl": "au", "fst": "au", "f.ss": "f", "vz+": "xf", "SS": "vf", "VZ": "xf",
    # French.
    "AB": "g", "B": "vg", "TB": "f", "TTB": "vf", "SUP": "xf", "FDC": "unc", "Superbe": "xf",
    "Très très belle": "vf", "Très beau": "f", "N'a pas circulé": "unc", "N’a pas circulé": "unc",
    "NEUF": "unc", "Splendide": "au", "BU FDC": None,
    # Italian / Spanish / Catalan / Portuguese (OpenNumismat defaults).
    "Fior di conio": "unc", "QFDC": "au", "q.FDC": "au", "Splendida": "xf", "Bellissima": "vf", "BB": "vf",
    "Molto bella": "f", "MB": "f", "Bella": "vg", "q.BB": "f", "SC": "unc", "SC-": "au", "QSC": "au",
    "EBC": "xf", "MBC": "vf", "BC+": "f", "BC": "vg", "S/FDC": "unc", "QNC": "au", "Bela": "xf",
    # Dutch, Polish, Russian, Greek, Turkish, Persian (OpenNumismat defaults).
    "Prachtig": "xf", "Zeer fraai": "vf", "Stan I - Menniczy": "unc", "Stan II - Znakomity": "xf",
    "Stan III - Bardzo piękny": "vf", "Ф": "f", "ВФ": "vf", "ХФ": "xf", "АЦ": "au", "АНЦ": "unc",
    "ХF": "xf",  # Cyrillic Х typed next to a Latin F
    "Σ": "f", "Çil": "unc", "Çok çok iyi": "xf", "Çok iyi": "vf", "Ş": "f",
    "بانکی": "unc", "بی\u200cنهایت عالی": "xf", "بسیار عالی": "vf",
    # Remarks after the grade.
    "vz, kl. Kratzer": "xf", "XF (cleaned)": "xf", "VF; rim nick": "vf", "(VF)": "vf", '"XF"': "xf",
    "ＶＦ": "vf",  # full-width
    "Unc.": "unc", "V.F.": "vf", "E.F.": "xf", "F.D.C.": "unc", "s.g.": "vg", "vz.": "xf", "a.EF": "vf",
    "ch. unc": "unc", "f. vz.": "vf", "B.U.": "unc", "MS-63.": "unc", "(XF).": "xf",
    # Never guessed.
    "": None, "   ": None, "n/a": None, "?": None, "nice": None, "about 5 stars": None, "Poor": None,
    "PO-1": None, "FR-2": None, "AG-3": None, "AG": None, "Fair": None, "About Good": None, "3": None,
    "0": None, "71": None, "100": None, "MS-45": None, "AU-62": None, "VF-50": None, "Proof": None,
    "PP": None, "PF": None, "BE": None, "Polierte Platte": None, "proof-like": None, "PL": None, "DMPL": None,
    "SPL": None, "PR": None, "FR": None, "V": None, "Specimen": None, "details": None,
}  # fmt: skip


@pytest.mark.parametrize(("raw", "expected"), sorted(CASES.items()))
def test_to_numista_grade(raw, expected):
    assert to_numista_grade(raw) == expected


@pytest.mark.parametrize(
    ("raw", "lang", "expected"),
    [("SPL", "fr", "au"), ("spl", "it", "xf"), ("SPL", "de", None), ("q.SPL", "it", "vf"),
     ("Pr", "nl", "xf"), ("Fr", "nl", "f"), ("FR", "en", None), ("SPL+", "fr-FR", "au"), ("SPL", "", None)],
)  # fmt: skip
def test_language_hint_settles_ambiguous_tokens(raw, lang, expected):
    assert to_numista_grade(raw, lang=lang) == expected
    assert parse_grade(raw).ambiguous or raw.casefold().startswith("q.")


def test_proof_policy():
    assert to_numista_grade("PP") is None
    assert to_numista_grade("PP", proof_grade="unc") == "unc"
    assert to_numista_grade("Proof", proof_grade="UNC") == "unc"
    assert to_numista_grade("PF-69", proof_grade="au") == "unc"  # a numbered proof maps by its number
    assert to_numista_grade("XF", proof_grade="unc") == "xf"
    assert to_numista_grade("PL", proof_grade="unc") is None  # proof-like is a business strike, not a proof
    parsed = parse_grade("NGC PF69 UCAM")
    assert parsed.proof and parsed.sheldon == 69 and parsed.numista == "unc"
    assert parse_grade("PP").proof and parse_grade("PP").numista is None
    with pytest.raises(ValueError):
        GradeMapper(proof_grade="proof")


def test_overrides_win_and_are_normalized():
    overrides = {"VZ": "au", "Gut": "vg", " très rare ": "f", "XF": None, "PP": "unc", "nice": UNMAPPED}
    assert to_numista_grade("vz", overrides) == "au"
    assert to_numista_grade("  GUT ", overrides) == "vg"
    assert to_numista_grade("Très  Rare", overrides) == "f"
    assert to_numista_grade("xf", overrides) is None
    assert to_numista_grade("PP", overrides) == "unc"
    assert to_numista_grade("nice", overrides) is None
    assert to_numista_grade("VF", overrides) == "vf"
    with pytest.raises(ValueError, match="not a Numista grade"):
        GradeMapper({"vz": "ef"})


def test_parse_grade_details():
    parsed = parse_grade("  MS-63 ")
    assert (parsed.text, parsed.normalized, parsed.numista, parsed.sheldon, parsed.proof) == (
        "  MS-63 ", "ms-63", "unc", 63, False)  # fmt: skip
    assert parse_grade(None).normalized == "" and parse_grade(None).numista is None
    assert parse_grade("SPL").ambiguous and parse_grade("SPL", lang="fr").numista == "au"
    assert normalize_grade_text("  Très\u00a0Très   BELLE ") == "très très belle"
    assert normalize_grade_text(12) == ""
    assert normalize_grade_text(' (("VF")) ') == "vf"


def test_grade_report_and_unmapped_values():
    values = ["Unc", "unc", "MS-65", "XF", "vz", "", None, "PP", "nice", "nice", "VF", "f"]
    assert grade_report(values) == {"f": 1, "vf": 1, "xf": 2, "unc": 3, "unmapped": 5}
    assert list(grade_report(values)) == ["f", "vf", "xf", "unc", "unmapped"]
    assert grade_report(values, proof_grade="unc") == {"f": 1, "vf": 1, "xf": 2, "unc": 4, "unmapped": 4}
    assert grade_report(values, {"nice": "vf"})["vf"] == 3
    assert grade_report([]) == {}
    assert unmapped_grade_values(values) == {"nice": 2, "pp": 1}
    assert unmapped_grade_values(values, {"nice": "vf"}, proof_grade="unc") == {}


def test_ordering_helpers():
    assert NUMISTA_GRADES == ("g", "vg", "f", "vf", "xf", "au", "unc")
    assert [grade_rank(grade) for grade in NUMISTA_GRADES] == list(range(7))
    assert grade_rank("ef") is None and grade_rank(None) is None
    assert sorted(["unc", None, "f", "xf", "bogus", "g"], key=grade_sort_key) == [
        None,
        "bogus",
        "g",
        "f",
        "xf",
        "unc",
    ]
    assert min_grade("xf", "vf", None, "unc") == "vf" and max_grade("xf", "vf", "bogus") == "xf"
    assert min_grade() is None and max_grade(None) is None
    assert grade_at_least("xf", "vf") and grade_at_least("vf", "vf") and not grade_at_least("f", "vf")
    assert not grade_at_least(None, "g")
    with pytest.raises(ValueError):
        grade_at_least("vf", "ef")
    assert is_numista_grade("au") and not is_numista_grade("AU") and not is_numista_grade(None)


def test_mapper_ignores_non_text():
    mapper = GradeMapper()
    assert [mapper(value) for value in (None, 65, 4.5, b"vf", ["vf"])] == [None] * 5


ALLOWED = {*NUMISTA_GRADES, None}
GRADE_ALPHABET = (
    st.sampled_from(list("gvfxaunmspcbtedrolzhGVFXAUNMSPCBTEDRZ0123456789+-/.,;() \t")) | st.characters()
)


@settings(max_examples=600, deadline=None)
@given(st.text(max_size=60) | st.text(alphabet=GRADE_ALPHABET, max_size=25))
def test_never_raises_and_stays_in_the_allowed_set(raw):
    assert to_numista_grade(raw) in ALLOWED
    assert to_numista_grade(raw, lang="fr", proof_grade="unc") in ALLOWED
    parsed = parse_grade(raw, lang="it")
    assert parsed.numista in ALLOWED
    assert set(grade_report([raw])) <= {*NUMISTA_GRADES, UNMAPPED}


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40) | st.text(alphabet=GRADE_ALPHABET, max_size=20))
def test_normalization_is_idempotent(raw):
    once = normalize_grade_text(raw)
    assert normalize_grade_text(once) == once
    assert to_numista_grade(once) == to_numista_grade(raw)  # overrides keyed by normalized text stay valid


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(k for k, v in CASES.items() if v)), st.sampled_from(["", " ", "+", "-", "  "]))
def test_known_grades_survive_padding_and_case(raw, suffix):
    expected = CASES[raw]
    assert to_numista_grade(f"  {raw}{suffix}") == (
        to_numista_grade(raw + suffix.strip()) if suffix.strip() else expected
    )
    if raw.isascii() and not suffix.strip():
        assert to_numista_grade(raw.upper()) == to_numista_grade(raw.lower())


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-10, max_value=200))
def test_sheldon_numbers_are_monotonic(number):
    grade = to_numista_grade(str(number))
    if 4 <= number <= 70:
        assert grade is not None
        assert grade_rank(grade) >= grade_rank(to_numista_grade(str(max(4, number - 1))))
    else:
        assert grade is None


# --- services/importers/opennumismat_links.py ------------------------------------------------------------------


def numisync_block(numista_id: object = 12345, issue_id: object = 67890, pricing_issue: object = None) -> str:
    """The block as NumiSync-Wizard writes it: start tag, JSON.stringify(…, null, 2), end tag."""
    metadata = {
        "version": "2.0",
        "basicData": {"status": "MERGED", "timestamp": "2025-05-01T10:00:00.000Z", "numistaId": numista_id,
                      "numistaIdField": "catalognum4", "fieldsMerged": ["title"]},
        "issueData": {"status": "MERGED", "timestamp": None, "issueId": issue_id, "matchMethod": "year",
                      "fieldsMerged": []},
        "pricingData": {"status": "NOT_QUERIED", "timestamp": None, "issueId": pricing_issue,
                        "currency": "EUR", "fieldsMerged": [], "lastPrices": {"f": 1.5}},
    }  # fmt: skip
    return "<!-- NUMISMAT_ENRICHMENT_DATA\n" + json.dumps(metadata, indent=2) + "\n-->"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://en.numista.com/catalogue/pieces12345.html", 12345),
        ("https://fr.numista.com/catalogue/pieces420.html", 420),
        ("http://de.numista.com/catalogue/pieces7.html", 7),
        ("https://www.numista.com/catalogue/pieces99.html", 99),
        ("https://numista.com/catalogue/pieces99.html", 99),
        ("en.numista.com/catalogue/pieces5.html", 5),
        ("  https://EN.NUMISTA.COM/catalogue/pieces31.html  ", 31),
        ("https://en.numista.com/catalogue/pieces12345.html#issue-3", 12345),
        ("https://en.numista.com/catalogue/pieces12345.html?ct=coin", 12345),
        ("https://en.numista.com/catalogue/note204474.html", 204474),
        ("https://en.numista.com/catalogue/exonumia242820.html", 242820),
        ("https://es.numista.com/404044", 404044),
        ("https://pt-br.numista.com/404044/", 404044),
        ("https://en.numista.com/L100183", None),
        ("https://en.numista.com/catalogue/pieces.html", None),
        ("https://en.numista.com/catalogue/pieces0.html", None),
        ("https://en.numista.com/forum/topic12345.html", None),
        ("https://colnect.com/en/coins/coin/12345", None),
        ("https://evil.example/numista.com/catalogue/pieces1.html", None),
        ("https://en.numista.com.evil.example/catalogue/pieces1.html", None),
        ("C:/Collections/numista/pieces1.html", None),
        ("https://en.numista.com/catalogue/pieces١٢.html", None),
        ("", None),
        (None, None),
        (12345, None),
    ],
)
def test_type_id_from_url(url, expected):
    assert numista_type_id_from_url(url) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12345", 12345), (" 420 ", 420), (12345, 12345), (420.0, 420), ("KM# 123", None), ("N# 123", None),
     ("12a", None), ("", None), (None, None), ("0", None), (-5, None), (True, None), (1.5, None),
     ("99999999999", None), ("١٢٣", None)],
)  # fmt: skip
def test_type_id_from_catalognum(value, expected):
    assert numista_type_id_from_catalognum(value) == expected


def test_numisync_block_is_stripped_and_user_text_kept():
    user = "Bought from grandfather's box.\n  Second line with  spaces."
    note, metadata = split_numisync_note(user + "\n\n" + numisync_block())
    assert note == user
    assert metadata is not None and metadata["basicData"]["numistaId"] == 12345
    assert metadata["pricingData"]["currency"] == "EUR"


def test_note_that_is_only_a_block_becomes_none():
    note, metadata = split_numisync_note(numisync_block())
    assert note is None and metadata is not None


def test_note_without_block_is_unchanged():
    text = "  indented first line\nsecond line\n"
    assert split_numisync_note(text) == (text, None)
    assert split_numisync_note("   ") == (None, None)
    assert split_numisync_note(None) == (None, None)


def test_block_in_the_middle_and_unterminated_block():
    note, metadata = split_numisync_note("before\n\n" + numisync_block() + "\n\nafter")
    assert note == "before\n\nafter" and metadata is not None
    unterminated = 'text <!-- NUMISMAT_ENRICHMENT_DATA {"version": "2.0"'
    assert split_numisync_note(unterminated) == (unterminated, None)


def test_malformed_json_is_still_stripped_without_ids():
    note, metadata = split_numisync_note("mine\n\n<!-- NUMISMAT_ENRICHMENT_DATA\n{not json\n-->")
    assert (note, metadata) == ("mine", None)
    link = extract_numista_link(note="mine\n\n<!-- NUMISMAT_ENRICHMENT_DATA\n[1, 2]\n-->")
    assert (link.note, link.type_id, link.numisync) == ("mine", None, None)


def test_html_escaped_block_in_rich_text_note():
    block = numisync_block().replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    note = "<html><body><p>Mine</p><p>" + block + "</p></body></html>"
    link = extract_numista_link(note=note)
    assert link.type_id == 12345 and link.issue_id == 67890
    assert link.note == "<html><body><p>Mine</p><p></p></body></html>"


def test_extract_precedence_and_conflicts():
    url = "https://en.numista.com/catalogue/pieces222.html"
    note = "x\n\n" + numisync_block(numista_id="111", issue_id=None, pricing_issue=333)
    link = extract_numista_link(url=url, catalognum4="111", note=note)
    assert (link.type_id, link.issue_id, link.source, link.note) == (111, 333, "numisync", "x")
    assert link.conflict
    by_url = extract_numista_link(url=url, catalognum4="222")
    assert (by_url.type_id, by_url.issue_id, by_url.source, by_url.conflict) == (222, None, "url", False)
    by_catalog = extract_numista_link(catalognum4="444", note="plain")
    assert (by_catalog.type_id, by_catalog.source, by_catalog.note) == (444, "catalognum4", "plain")
    assert extract_numista_link(catalognum4="444", use_catalognum4=False).type_id is None
    nothing = extract_numista_link(url="https://example.com", catalognum4="KM# 5", note=None)
    assert nothing == NumistaLink()


def test_block_without_numista_id_gives_no_issue():
    link = extract_numista_link(note=numisync_block(numista_id=None, issue_id=5))
    assert link.type_id is None and link.issue_id is None and link.note is None
    assert link.numisync is not None


def test_find_numista_ids_matches_extract():
    args = ("https://en.numista.com/catalogue/pieces9.html", "9", "n\n\n" + numisync_block(9, 8))
    link = extract_numista_link(url=args[0], catalognum4=args[1], note=args[2])
    assert find_numista_ids(*args)[:5] == (link.type_id, link.issue_id, link.source, link.note, link.conflict)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.text(max_size=40), st.text(max_size=40))
def test_links_never_raise_and_keep_text_without_a_block(note, url, catalog):
    link = extract_numista_link(url=url, catalognum4=catalog, note=note)
    assert link.type_id is None or link.type_id > 0
    if "NUMISMAT_ENRICHMENT_DATA" not in note:
        assert link.note == (note if note.strip() else None)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=120).filter(lambda t: "NUMISMAT_ENRICHMENT_DATA" not in t and "-->" not in t),
    st.integers(min_value=1, max_value=2_000_000_000),
)
def test_user_text_round_trips_around_a_block(user, type_id):
    note = (user.strip() + "\n\n" if user.strip() else "") + numisync_block(type_id, None)
    link = extract_numista_link(note=note)
    assert link.type_id == type_id and link.source == "numisync"
    assert link.note == (user.strip() or None)
