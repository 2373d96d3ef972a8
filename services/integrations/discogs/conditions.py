"""Discogs' grading strings, exactly as the API accepts them (notes/discogs.md §2.7), and the one place
that turns what a member typed or a CSV holds ("VG+", "NM", "M-") into them.

Why strict: the marketplace and the collection's dropdown fields accept only these exact strings; a
near miss is a 422, so nothing is guessed: an unknown grade stays unmapped and is reported.
"""

from __future__ import annotations

MEDIA_CONDITIONS = (
    "Mint (M)", "Near Mint (NM or M-)", "Very Good Plus (VG+)", "Very Good (VG)", "Good Plus (G+)", "Good (G)",
    "Fair (F)", "Poor (P)",
)  # fmt: skip
SLEEVE_EXTRA = ("Generic", "Not Graded", "No Cover")
SLEEVE_CONDITIONS = (*MEDIA_CONDITIONS, *SLEEVE_EXTRA)

_ALIASES = {
    "m": "Mint (M)", "mint": "Mint (M)",
    "nm": "Near Mint (NM or M-)", "m-": "Near Mint (NM or M-)", "near mint": "Near Mint (NM or M-)",
    "nm or m-": "Near Mint (NM or M-)",
    "vg+": "Very Good Plus (VG+)", "very good plus": "Very Good Plus (VG+)",
    "vg": "Very Good (VG)", "very good": "Very Good (VG)",
    "g+": "Good Plus (G+)", "good plus": "Good Plus (G+)",
    "g": "Good (G)", "good": "Good (G)",
    "f": "Fair (F)", "fair": "Fair (F)",
    "p": "Poor (P)", "poor": "Poor (P)",
    "generic": "Generic", "not graded": "Not Graded", "no cover": "No Cover",
}  # fmt: skip


def _lookup(text: str | None, allowed: tuple[str, ...]) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(str(text).split())
    if not cleaned:
        return None
    for exact in allowed:
        if cleaned.lower() == exact.lower():
            return exact
    found = _ALIASES.get(cleaned.lower())
    return found if found in allowed else None


def media_condition(text: str | None) -> str | None:
    """The exact media condition for a grade as written ("VG+", "Near Mint (NM or M-)"); None if unknown."""
    return _lookup(text, MEDIA_CONDITIONS)


def sleeve_condition(text: str | None) -> str | None:
    """The exact sleeve condition (media grades plus Generic, Not Graded, No Cover); None if unknown."""
    return _lookup(text, SLEEVE_CONDITIONS)
