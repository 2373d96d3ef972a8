"""A minimal OpenNumismat collection file written from rows, for tests that need odd values in known cells."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

COIN_COLUMNS = ("title", "value", "unit", "country", "year", "quantity", "status", "grade", "payprice",
                "price1", "price2", "price3", "price4", "mintage", "url", "note", "obverseimg")  # fmt: skip


def write_collection(path: Path, coins: Iterable[Mapping[str, object]], *, photos: Iterable[bytes] = ()) -> Path:
    """An OpenNumismat schema-6 style file: `coins` (untyped columns, as the app's free_numeric allows any
    value in any cell), `settings`, and `photos` whose rows coins point at through `obverseimg`."""
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("CREATE TABLE settings (title TEXT, value TEXT)")
        connection.executemany("INSERT INTO settings VALUES (?, ?)", [("Version", "6"), ("Type", "OpenNumismat")])
        connection.execute(f"CREATE TABLE coins (id INTEGER PRIMARY KEY, {', '.join(COIN_COLUMNS)})")
        connection.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, title TEXT, url TEXT, image BLOB)")
        connection.executemany("INSERT INTO photos (image) VALUES (?)", [(data,) for data in photos])
        for coin in coins:
            names = [name for name in COIN_COLUMNS if name in coin]
            if not names:
                connection.execute("INSERT INTO coins DEFAULT VALUES")
                continue
            connection.execute(
                f"INSERT INTO coins ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [coin[name] for name in names],
            )
    connection.close()
    return path
