"""The one row limit of every import file (`VITRINE_IMPORT_MAX_ROWS`): card CSVs, OpenNumismat files and
Discogs CSVs alike.

Why: an import is one transaction, previewed first; a file far bigger than any collection (a wrong file, or
a generated one) would hold the database and the machine for minutes. It is refused whole, with the same one
line at every door, before anything of it is written (a streaming reader raises when it reaches the row past
the limit, and its caller drops the transaction).
"""

from __future__ import annotations

from services.errors import InvalidInput

DEFAULT_MAX_ROWS = 1_000_000


def too_many_rows(max_rows: int) -> InvalidInput:
    return InvalidInput(
        f"The file has more than {max_rows:,} rows, the import limit (VITRINE_IMPORT_MAX_ROWS); "
        "split it or raise the limit.", code="TOO_MANY_ROWS",
    )  # fmt: skip


def check_row_count(rows: int, max_rows: int) -> None:
    """Refuse a file once `rows` data rows exceed the limit."""
    if rows > max_rows:
        raise too_many_rows(max_rows)
