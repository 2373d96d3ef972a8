"""Helpers shared by the Discogs tests and bench/push_discogs.py: settings pointing at the emulator and a
connected member. No tests here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine

from services.accounts.vault import Vault
from services.config import Settings, load_settings
from services.http import reset_limiters
from services.integrations.discogs.oauth import connect_personal_token
from services.store.db import session_scope
from tests.emulators.discogs import CONSUMER_KEY, CONSUMER_SECRET, PERSONAL_TOKEN, DiscogsEmulator


def discogs_settings(emulator: DiscogsEmulator, database_url: str = "sqlite://", **extra: str) -> Settings:
    """Settings pointing at the emulator (its rate limit is the client's too, unless overridden)."""
    reset_limiters()
    return load_settings({
        "DISCOGS_API_URL": emulator.base_url, "DISCOGS_AUTHORIZE_URL": emulator.authorize_url,
        "DISCOGS_CONSUMER_KEY": CONSUMER_KEY, "DISCOGS_CONSUMER_SECRET": CONSUMER_SECRET,
        "DISCOGS_RATE_LIMIT": str(emulator.rate_limit), "DISCOGS_RATE_WINDOW": str(emulator.rate_window),
        "DATABASE_URL": database_url, "HTTP_BACKOFF_BASE": "0.01", "HTTP_TIMEOUT": "5", **extra,
    })  # fmt: skip


@dataclass
class DiscogsEnv:
    engine: Engine
    emulator: DiscogsEmulator
    settings: Settings
    vault: Vault
    owner_id: int


def connected_env(engine: Engine, emulator: DiscogsEmulator, owner_id: int, **extra: Any) -> DiscogsEnv:
    """A member connected with the emulator's personal token (tests that are not about OAuth)."""
    settings = discogs_settings(emulator, **extra)
    vault = Vault(Fernet.generate_key())
    with session_scope(engine) as session:
        connect_personal_token(session, settings, vault, owner_id, PERSONAL_TOKEN)
    return DiscogsEnv(engine, emulator, settings, vault, owner_id)


def seed_releases(emulator: DiscogsEmulator, count: int, start: int = 900_001) -> list[int]:
    """Add ``count`` releases to the emulator's catalogue (distinct artists, labels, barcodes)."""
    ids = []
    for n in range(count):
        release_id = start + n
        emulator.add_release({
            "id": release_id, "title": f"Album {n}", "year": 1970 + n % 50, "country": "UK", "status": "Accepted",
            "artists": [{"name": f"Band {n % 17} (2)", "anv": "", "join": "", "id": 5000 + n % 17}],
            "labels": [{"name": f"Label {n % 7}", "catno": f"CAT-{n:04d}", "entity_type": "1"}],
            "formats": [{"name": "Vinyl", "qty": "1", "descriptions": ["LP", "Album"]}],
            "identifiers": [{"type": "Barcode", "value": f"5 012345 {n:06d}"}],
            "genres": ["Rock"], "styles": ["Prog Rock"], "thumb": "", "resource_url": f"/releases/{release_id}",
        })  # fmt: skip
        ids.append(release_id)
    return ids


def discogs_csv(rows: list[dict[str, Any]]) -> str:
    """A Discogs collection export (the site's column order) for these rows."""
    import csv
    import io

    from services.integrations.discogs.importer import CSV_COLUMNS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def add_records(env: DiscogsEnv, release_ids: list[int], **fields: Any) -> list[int]:
    """One record item per release id (media condition, sleeve and notes unless overridden)."""
    from services.collection import add_item
    from services.store.models import Item

    ids = []
    grade_code = fields.pop("grade_code", "Very Good Plus (VG+)")
    with session_scope(env.engine) as session:
        for n, release_id in enumerate(release_ids):
            values = {"grade": "Very Good Plus (VG+)", "notes": f"copy {n}", **fields}
            item = add_item(session, env.owner_id, kind="record", title=f"Record {n}", **values)
            stored = session.get(Item, item.id)
            assert stored is not None
            stored.discogs_release_id = release_id
            stored.grade_code = grade_code
            stored.details = {"sleeve_condition": "Generic"}
            ids.append(item.id)
    return ids


def queue_discogs_export(env: DiscogsEnv, item_ids: list[int] | None, **options: Any) -> int:
    from services.integrations.discogs.pusher import ExportOptions, plan_export, start_export

    with session_scope(env.engine) as session:
        chosen = ExportOptions(**options)
        return start_export(session, env.owner_id, plan_export(session, env.owner_id, item_ids, chosen), chosen)


def discogs_worker(env: DiscogsEnv, config: Any = None, **kwargs: Any) -> Any:
    from services.integrations.discogs.pusher import pushers
    from services.sync.worker import Worker
    from tests.sync_support import FAST

    config = config or FAST
    return Worker(env.engine, pushers(env.engine, env.settings, env.vault, settle_seconds=config.settle_seconds),
                  config, **kwargs)  # fmt: skip
