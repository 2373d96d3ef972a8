"""The integrations of this installation, by name: the one place generic code (the push worker, the command
line) learns which external services exist.

Each entry names functions by module path and imports them only when called, so a command that touches no
integration (``--help``, ``value``) does not pay for importing their HTTP stacks. Adding a service: a package
under ``services/integrations/`` and one ``Integration`` line here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.context import AppContext
    from services.sync.worker import PusherFactory


@dataclass(frozen=True)
class Integration:
    """An external service and the hooks it offers (``module:function`` paths, or None)."""

    name: str
    pusher: str | None = None  # (context, settle_seconds=...) -> PusherFactory
    export_parser: str | None = None  # (export subparsers, common parser) -> None


INTEGRATIONS: tuple[Integration, ...] = (
    Integration(
        "numista",
        pusher="services.integrations.numista.pusher:pusher_for",
        export_parser="services.integrations.numista.export_commands:add_export_parser",
    ),
    Integration("pokemontcg"),
)


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    function: Callable[..., Any] = getattr(import_module(module), name)
    return function


def pushers(context: AppContext, *, settle_seconds: float) -> Mapping[str, PusherFactory]:
    """One pusher factory per integration that pushes, for the worker."""
    return {
        entry.name: _resolve(entry.pusher)(context, settle_seconds=settle_seconds)
        for entry in INTEGRATIONS
        if entry.pusher is not None
    }


def add_export_parsers(export: Any, common: argparse.ArgumentParser) -> None:
    """``export <service>`` subcommands of every integration that pushes."""
    for entry in INTEGRATIONS:
        if entry.export_parser is not None:
            _resolve(entry.export_parser)(export, common)
