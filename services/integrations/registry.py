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

from services.states import ItemKind

if TYPE_CHECKING:
    from services.context import AppContext
    from services.sync.worker import PusherFactory


@dataclass(frozen=True)
class Integration:
    """An external service and the hooks it offers (``module:function`` paths, or None)."""

    name: str
    pushers: str | None = None  # (context, settle_seconds=...) -> {service: PusherFactory}
    export_parser: str | None = None  # (export subparsers, common parser) -> None
    cli: str | None = None  # (command subparsers, common parser) -> None: its own subcommands
    export_kind: str | None = None  # the item kind it pushes (one integration per kind)
    export_problem: str | None = None  # (item) -> why it cannot be pushed, or None


INTEGRATIONS: tuple[Integration, ...] = (
    Integration(
        "numista",
        pushers="services.integrations.numista.pusher:pushers_for",
        export_parser="services.integrations.numista.cli_parsers:add_export_parser",
        export_kind=ItemKind.COIN,
        export_problem="services.integrations.numista.item_mapping:export_problem",
    ),
    Integration(
        "discogs",
        pushers="services.integrations.discogs.pusher:pushers_for",
        cli="services.integrations.discogs.cli_parsers:add_parsers",
        export_kind=ItemKind.RECORD,
        export_problem="services.integrations.discogs.mapping:export_problem",
    ),
    Integration("pokemontcg"),
)


def resolve(path: str) -> Callable[..., Any]:
    """The function a ``"module:function"`` path names, importing its module now (the first time)."""
    module, _, name = path.partition(":")
    function: Callable[..., Any] = getattr(import_module(module), name)
    return function


def pushers(context: AppContext, *, settle_seconds: float) -> Mapping[str, PusherFactory]:
    """The pusher factory of every service a job can target (one integration may serve several), for the
    worker."""
    found: dict[str, PusherFactory] = {}
    for entry in INTEGRATIONS:
        if entry.pushers is not None:
            found.update(resolve(entry.pushers)(context, settle_seconds=settle_seconds))
    return found


def add_export_parsers(export: Any, common: argparse.ArgumentParser) -> None:
    """``export <service>`` subcommands of every integration that pushes."""
    for entry in INTEGRATIONS:
        if entry.export_parser is not None:
            resolve(entry.export_parser)(export, common)


def exporters() -> dict[str, tuple[str, Callable[[Any], str | None]]]:
    """Item kind -> (integration name, its "why this item cannot be pushed" rule), for every pushing one."""
    return {entry.export_kind: (entry.name, resolve(entry.export_problem)) for entry in INTEGRATIONS
            if entry.export_kind is not None and entry.export_problem is not None}  # fmt: skip


def add_cli_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Subcommands an integration adds itself (after the generic ones exist, which it may extend)."""
    for entry in INTEGRATIONS:
        if entry.cli is not None:
            resolve(entry.cli)(commands, common)
