"""A user's own grade readings: raw grade text → Numista grade (g..unc) or "unmapped".

Why per user: grade text is free and localized (``SPL`` is au in French and xf in Italian; ``gVF`` is a
British habit), and the automatic mapping refuses to guess. The user's table settles it for them, and it wins
everywhere a grade is mapped: the OpenNumismat importer (``import_opennumismat(..., grade_overrides=...)``),
the re-mapping of coins already imported, and the Numista push mapping (``GradeMapper(grade_overrides(...))``).
Keys are stored normalized (services.grades.normalize_grade_text), so ``" vz "`` and ``"VZ"`` are one row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.errors import InvalidInput
from services.grades import NUMISTA_GRADES, UNMAPPED, GradeMapper, normalize_grade_text
from services.store.models import Item
from services.store.models_numista import NumistaGradeOverride

CHOICES: tuple[str, ...] = (*NUMISTA_GRADES, UNMAPPED)
"""What the Settings editor offers per row."""


@dataclass(frozen=True)
class GradeRow:
    """One grade text of the user's coins: how often it occurs, what it maps to now, whether overridden."""

    raw: str
    coins: int
    automatic: str  # the mapping without overrides (a grade or "unmapped")
    override: str | None  # the user's choice (a grade or "unmapped"), None = no override


def grade_overrides(session: Session, owner_id: int) -> dict[str, str | None]:
    """The owner's overrides as ``{normalized raw: grade or None}``: pass to GradeMapper / import_opennumismat."""
    rows = session.execute(
        select(NumistaGradeOverride.raw, NumistaGradeOverride.grade).where(NumistaGradeOverride.owner_id == owner_id)
    )
    return {raw: grade for raw, grade in rows}


def _clean(raw: object, grade: object) -> tuple[str, str | None]:
    key = normalize_grade_text(raw)
    if not key:
        raise InvalidInput("A grade override needs the grade text it applies to.", code="INVALID_GRADE_OVERRIDE")
    if len(key) > 120:
        raise InvalidInput("A grade text longer than 120 characters is a remark, not a grade.",
                           code="INVALID_GRADE_OVERRIDE")  # fmt: skip
    value = str(grade).strip().casefold() if isinstance(grade, str) else grade
    if value in (None, "", UNMAPPED):
        return key, None
    if value not in NUMISTA_GRADES:
        raise InvalidInput(
            f"{grade!r} is not a Numista grade; choose one of {', '.join(CHOICES)}.", code="INVALID_GRADE_OVERRIDE"
        )
    return key, str(value)


def save_grade_overrides(session: Session, owner_id: int, overrides: Mapping[str, str | None]) -> int:
    """Replace the owner's whole override table (what the Settings editor saves); returns the row count.

    A value of None, "" or "unmapped" forces "unmapped". Invalid rows raise InvalidInput and change nothing."""
    cleaned: dict[str, str | None] = {}
    for raw, grade in overrides.items():
        key, value = _clean(raw, grade)
        cleaned[key] = value
    session.execute(delete(NumistaGradeOverride).where(NumistaGradeOverride.owner_id == owner_id))
    session.add_all(NumistaGradeOverride(owner_id=owner_id, raw=key, grade=value) for key, value in cleaned.items())
    session.flush()
    return len(cleaned)


def set_grade_override(session: Session, owner_id: int, raw: str, grade: str | None) -> None:
    """Add or change one override (None / "unmapped" = force unmapped)."""
    key, value = _clean(raw, grade)
    row = session.scalar(
        select(NumistaGradeOverride).where(NumistaGradeOverride.owner_id == owner_id, NumistaGradeOverride.raw == key)
    )
    if row is None:
        session.add(NumistaGradeOverride(owner_id=owner_id, raw=key, grade=value))
    else:
        row.grade = value
    session.flush()


def delete_grade_override(session: Session, owner_id: int, raw: str) -> None:
    session.execute(
        delete(NumistaGradeOverride).where(
            NumistaGradeOverride.owner_id == owner_id, NumistaGradeOverride.raw == normalize_grade_text(raw)
        )
    )
    session.flush()


def grade_rows(session: Session, owner_id: int) -> list[GradeRow]:
    """Every distinct grade text of the owner's coins plus every override, for the Settings editor:
    unmapped ones first, then by frequency."""
    overrides = grade_overrides(session, owner_id)
    automatic = GradeMapper()
    counts: dict[str, int] = {}
    for grade, coins in session.execute(
        select(Item.grade, func.count()).where(
            Item.owner_id == owner_id, Item.kind == "coin", Item.grade.is_not(None)
        ).group_by(Item.grade)
    ):
        key = normalize_grade_text(grade)
        if key:
            counts[key] = counts.get(key, 0) + int(coins)
    keys = set(counts) | set(overrides)
    rows = [
        GradeRow(key, counts.get(key, 0), automatic(key) or UNMAPPED,
                 (overrides[key] or UNMAPPED) if key in overrides else None)
        for key in keys
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (r.automatic != UNMAPPED or r.override is not None, -r.coins, r.raw))


def apply_grade_overrides(session: Session, owner_id: int, *, kinds: Iterable[str] = ("coin",)) -> int:
    """Re-map the Numista grade (``grade_code``) of the owner's coins from their grade text with the current
    overrides, so values and pushes follow a new override at once; returns how many coins changed."""
    mapper = GradeMapper(grade_overrides(session, owner_id))
    changed = 0
    for item in session.scalars(
        select(Item).where(Item.owner_id == owner_id, Item.kind.in_(tuple(kinds)), Item.grade.is_not(None))
    ):
        code = mapper(item.grade)
        if code != item.grade_code:
            item.grade_code = code
            changed += 1
    session.flush()
    return changed
