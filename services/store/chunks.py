"""Long ``IN (...)`` lists in slices: SQLite allows 999 bound parameters per statement (older builds), and
a few hundred ids per query keeps PostgreSQL's plans and memory small too."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

IN_CHUNK = 900

_T = TypeVar("_T")


def in_chunks(values: Iterable[_T], size: int = IN_CHUNK) -> Iterator[list[_T]]:
    """``values`` in consecutive lists of at most ``size``."""
    chunk: list[_T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
