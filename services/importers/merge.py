"""The one rule for re-imports, used by every importer (OpenNumismat, cards CSV, Discogs): the member's own
edits survive, the file's changes win.

Each imported entry keeps what the file said about it at its last import: ``details["_imported"]``, a flat
``{field: value}`` snapshot (item columns by name, entries of ``details`` as ``"details.<key>"``). On a new
import a field is overwritten only when the file's value differs from that snapshot, so a field the member
edited while the file kept it as it was stays the member's. A field the file no longer gives counts as
changed too (the file cleared it): an item column becomes empty, a ``details`` entry is removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.store.models import Item

SNAPSHOT_KEY = "_imported"
DETAILS_PREFIX = "details."


def changed_fields(previous: Mapping[str, Any], snapshot: Mapping[str, Any]) -> list[str]:
    """The fields the file changed since the import that left ``previous``: new or different values, and
    values it no longer gives (cleared), sorted."""
    changed = {name for name, value in snapshot.items() if previous.get(name) != value}
    changed.update(name for name in previous if name not in snapshot)
    return sorted(changed)


def merge_keeping_edits(item: Item, mapped: Mapping[str, Any], snapshot: dict[str, Any], *, dry_run: bool,
                        kept_elsewhere: frozenset[str] = frozenset()) -> list[str]:  # fmt: skip
    """Apply to ``item`` the fields the file changed since its last import (``mapped``: the item's columns by
    name plus a ``details`` dict; ``snapshot``: what this import says); return their names. A dry run only
    names them. Fields in ``kept_elsewhere`` (a value stored as a price observation, say) are named but left
    to the caller."""
    details = dict(item.details or {})
    changed = changed_fields(details.get(SNAPSHOT_KEY, {}), snapshot)
    if not changed or dry_run:
        return changed
    mapped_details: Mapping[str, Any] = mapped.get("details") or {}
    for name in changed:
        if name in kept_elsewhere:
            continue
        if name.startswith(DETAILS_PREFIX):
            key = name.removeprefix(DETAILS_PREFIX)
            if key in mapped_details:
                details[key] = mapped_details[key]
            else:
                details.pop(key, None)
        else:
            setattr(item, name, mapped.get(name))
    details[SNAPSHOT_KEY] = snapshot
    item.details = details
    return changed
