"""The one re-import rule of every importer (services/importers/merge.py): the file's changes win, values it
cleared are cleared, the member's own edits to other fields survive."""

from __future__ import annotations

from services.importers.merge import SNAPSHOT_KEY, changed_fields, merge_keeping_edits
from services.store.models import Item


def test_changed_fields_names_new_different_and_cleared_values() -> None:
    previous = {"quantity": 1, "notes": "mint", "details.mint": "Paris", "grade": "XF"}
    snapshot = {"quantity": 2, "notes": None, "grade": "XF", "details.weight": 7.5}
    assert changed_fields(previous, snapshot) == ["details.mint", "details.weight", "notes", "quantity"]
    assert changed_fields(snapshot, dict(snapshot)) == []


def test_merge_applies_the_files_changes_and_keeps_the_members_edits() -> None:
    imported = {"quantity": 1, "notes": "mint", "country": "France", "details.mint": "Paris"}
    item = Item(title="5 francs", quantity=1, notes="mint", country="France",
                details={"mint": "Paris", "mine": "kept", SNAPSHOT_KEY: imported})  # fmt: skip
    item.country = "FR"  # the member's edit of a field the file did not change
    mapped = {"quantity": 2, "notes": None, "country": "France", "details": {}}
    snapshot = {"quantity": 2, "notes": None, "country": "France"}
    assert merge_keeping_edits(item, mapped, snapshot, dry_run=True) == ["details.mint", "notes", "quantity"]
    assert item.quantity == 1  # a dry run changes nothing
    assert merge_keeping_edits(item, mapped, snapshot, dry_run=False) == ["details.mint", "notes", "quantity"]
    assert (item.quantity, item.notes, item.country) == (2, None, "FR")
    assert item.details == {"mine": "kept", SNAPSHOT_KEY: snapshot}  # the cleared detail is gone


def test_fields_kept_elsewhere_are_named_but_left_to_the_caller() -> None:
    item = Item(title="Pikachu", quantity=1, details={SNAPSHOT_KEY: {"quantity": 1, "estimate": "500.00"}})
    changed = merge_keeping_edits(item, {"quantity": 1, "estimate": None}, {"quantity": 1, "estimate": None},
                                  dry_run=False, kept_elsewhere=frozenset({"estimate"}))  # fmt: skip
    assert changed == ["estimate"] and not hasattr(Item, "estimate")
