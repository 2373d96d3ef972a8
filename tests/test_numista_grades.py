"""Per-user grade overrides: stored normalized, validated, applied by the OpenNumismat importer (service and
CLI), re-applied to coins already imported, and never leaking to another user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from services.collection import add_item, list_items
from services.context import open_context
from services.errors import InvalidInput
from services.grades import GradeMapper
from services.importers.opennumismat_import import import_opennumismat
from services.integrations.numista.grade_overrides import (
    apply_grade_overrides,
    delete_grade_override,
    grade_overrides,
    grade_rows,
    save_grade_overrides,
    set_grade_override,
)
from services.store.models import User
from tests.fixture_files import opennumismat_file

ROOT = Path(__file__).resolve().parents[1]
EDGE = opennumismat_file()


def _grades_by_row(session: Session, owner_id: int) -> dict[int, str | None]:
    return {int(i.origin_row_id): i.grade_code for i in list_items(session, owner_id)}


def test_overrides_are_normalized_validated_and_per_user(session: Session, owner: User, other_owner: User) -> None:
    assert save_grade_overrides(session, owner.id, {" VZ ": "AU", "65": "unmapped", "SPL": "xf"}) == 3
    assert grade_overrides(session, owner.id) == {"vz": "au", "65": None, "spl": "xf"}
    assert grade_overrides(session, other_owner.id) == {}
    set_grade_override(session, owner.id, "vz", "unc")
    delete_grade_override(session, owner.id, "SPL")
    assert grade_overrides(session, owner.id) == {"vz": "unc", "65": None}
    with pytest.raises(InvalidInput):
        save_grade_overrides(session, owner.id, {"vz": "ms"})
    with pytest.raises(InvalidInput):
        set_grade_override(session, owner.id, "   ", "f")
    assert grade_overrides(session, owner.id) == {"vz": "unc", "65": None}  # a refused save changes nothing


def test_importer_applies_the_users_overrides(session: Session, owner: User, other_owner: User) -> None:
    save_grade_overrides(session, owner.id, {"vz": "au", "65": "unmapped"})
    report = import_opennumismat(session, owner.id, EDGE, grade_overrides=grade_overrides(session, owner.id))
    theirs = import_opennumismat(
        session, other_owner.id, EDGE, grade_overrides=grade_overrides(session, other_owner.id)
    )
    mine = _grades_by_row(session, owner.id)
    assert (mine[12], mine[10]) == ("au", None)  # "vz" → au (automatic: xf); "65" → unmapped (automatic: unc)
    assert (_grades_by_row(session, other_owner.id)[12], _grades_by_row(session, other_owner.id)[10]) == ("xf", "unc")
    assert report.by_numista_grade["au"] == theirs.by_numista_grade["au"] + 1
    assert report.by_numista_grade["unmapped"] == theirs.by_numista_grade["unmapped"] + 1


def test_saving_overrides_remaps_coins_already_imported(session: Session, owner: User) -> None:
    import_opennumismat(session, owner.id, EDGE)
    assert _grades_by_row(session, owner.id)[12] == "xf"
    save_grade_overrides(session, owner.id, {"vz": "vf"})
    assert apply_grade_overrides(session, owner.id) == 1
    assert _grades_by_row(session, owner.id)[12] == "vf"
    assert apply_grade_overrides(session, owner.id) == 0
    # the push mapping builds its GradeMapper from the same table
    assert GradeMapper(grade_overrides(session, owner.id))("VZ") == "vf"


def test_editor_rows_list_unmapped_texts_first(session: Session, owner: User) -> None:
    import_opennumismat(session, owner.id, EDGE)
    save_grade_overrides(session, owner.id, {"gvf": "vf"})
    rows = grade_rows(session, owner.id)
    by_text = {r.raw: r for r in rows}
    assert by_text["xf"].coins == 3 and by_text["xf"].automatic == "xf" and by_text["xf"].override is None
    assert by_text["gvf"].coins == 0 and by_text["gvf"].override == "vf"
    assert {r.raw for r in rows} >= {"unc", "au", "vf", "f", "xf", "vz", "65", "ms-63"}
    add_item(session, owner.id, kind="coin", title="5 lire", grade="SPL")  # French au or Italian xf: unmapped
    first = grade_rows(session, owner.id)[0]
    assert (first.raw, first.coins, first.automatic, first.override) == ("spl", 1, "unmapped", None)
    save_grade_overrides(session, owner.id, {"spl": "xf"})
    assert grade_rows(session, owner.id)[0].raw != "spl"  # settled: no longer listed first


def test_cli_import_uses_the_overrides(app_env: str) -> None:
    context = open_context()
    with context.session() as session:
        from services.accounts import ensure_local_user

        owner = ensure_local_user(session)
        save_grade_overrides(session, owner.id, {"vz": "au"})
    result = subprocess.run(
        [sys.executable, "-m", "services", "import", "opennumismat", str(EDGE), "--dry-run", "--json"],
        capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    by_grade = json.loads(result.stdout)["byNumistaGrade"]
    # automatic: 4 coins read xf (XF, XF, xf, vz); with the override vz counts as au
    assert (by_grade["xf"], by_grade["au"]) == (3, 2)
