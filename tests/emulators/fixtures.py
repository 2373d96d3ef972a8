"""Pytest fixtures that run the emulators; import them with ``from tests.emulators.fixtures import *``.

Why: every integration test should get a fresh, isolated emulator on its own free port. Start-up costs a
few milliseconds (reference data and the swagger schema are parsed once per process and cached), so the
fixtures are function-scoped and state never leaks between tests.

* ``numista_emulator`` -> :class:`NumistaEmulator` (``.base_url`` ends in ``/v3``)
* ``pokemontcg_emulator`` -> :class:`PokemonTcgEmulator` (``.base_url`` ends in ``/v2``)
* ``discogs_emulator`` -> :class:`DiscogsEmulator` (``.base_url`` is the server root)
* ``emulator_factory`` -> ``start(EmulatorClass, **options)`` for custom configurations, e.g.
  ``emulator_factory(DiscogsEmulator, rate_limit=3, rate_window=0.5)``; all are stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from tests.emulators.base import Emulator
from tests.emulators.discogs import DiscogsEmulator
from tests.emulators.numista import NumistaEmulator
from tests.emulators.pokemontcg import PokemonTcgEmulator

__all__ = ["discogs_emulator", "emulator_factory", "numista_emulator", "pokemontcg_emulator"]

E = TypeVar("E", bound=Emulator)


@pytest.fixture
def numista_emulator() -> Iterator[NumistaEmulator]:
    """A running Numista API v3 emulator with seed data; keys in ``tests.emulators.numista``."""
    with NumistaEmulator() as emulator:
        yield emulator


@pytest.fixture
def pokemontcg_emulator() -> Iterator[PokemonTcgEmulator]:
    """A running pokemontcg.io v2 emulator over the reference card files (API key optional)."""
    with PokemonTcgEmulator() as emulator:
        yield emulator


@pytest.fixture
def discogs_emulator() -> Iterator[DiscogsEmulator]:
    """A running Discogs emulator (OAuth 1.0a, 60 requests / 60 s moving window)."""
    with DiscogsEmulator() as emulator:
        yield emulator


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Any]]:
    """Start emulators with custom options; every one started is stopped when the test ends."""
    started: list[Emulator] = []

    def start(cls: type[E], **options: Any) -> E:
        emulator = cls(**options).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.stop()
