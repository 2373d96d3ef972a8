"""The shape the code keeps (issue 10): services never draw, the generic core never reaches into an integration,
and an item's state is one of its enum's values wherever it is written."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.collection import add_item, update_item
from services.errors import InvalidInput
from services.store.db import session_scope
from services.store.models import User

SERVICES = Path(__file__).resolve().parents[1] / "services"
CORE = ("store", "sync", "importers", "http", "collection.py", "pricing.py", "validation.py", "states.py")
"""Generic modules: an integration plugs into them through the registry, never the reverse."""
REGISTRY = {"services.integrations", "services.integrations.registry"}  # `from services.integrations import registry`


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function (lazy imports count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _files(*parts: str) -> list[Path]:
    found: list[Path] = []
    for part in parts:
        target = SERVICES / part
        found.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return found


def test_services_never_import_streamlit() -> None:
    offenders = [str(path.relative_to(SERVICES)) for path in _files(".")
                 if any(name == "streamlit" or name.startswith("streamlit.") for name in _imports(path))]  # fmt: skip
    assert offenders == []


def test_the_core_never_imports_an_integration() -> None:
    files = _files(*CORE)
    assert len(files) > 20  # the walk found the core
    offenders = {
        str(path.relative_to(SERVICES)): name
        for path in files
        for name in _imports(path)
        if name.startswith("services.integrations") and name not in REGISTRY
    }
    assert offenders == {}


def test_an_unknown_item_status_is_refused_by_the_service_and_by_the_database(
    engine: Engine, owner: User, session: Session
) -> None:
    item = add_item(session, owner.id, kind="coin", title="1 Euro 2002")
    session.commit()
    with pytest.raises(InvalidInput, match="status"):
        update_item(session, owner.id, item.id, item.version, status="lost")
    session.rollback()
    with pytest.raises(IntegrityError), session_scope(engine) as raw:  # a write around the service: the CHECK
        raw.execute(text("UPDATE items SET status = 'lost' WHERE id = :id"), {"id": item.id})
    with session_scope(engine) as fresh:
        assert fresh.execute(text("SELECT status FROM items WHERE id = :id"), {"id": item.id}).scalar() == "owned"
