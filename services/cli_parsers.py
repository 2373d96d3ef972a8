"""The command line's grammar: every command, flag and help text of ``python -m services`` (services/cli.py).

Why a module of its own, importing nothing but argparse and the domain's vocabularies (services/states.py):
``--help`` and a mistyped flag must answer without loading the database layer, the HTTP stack or any
integration (issue 14: a call costs no more than the command needs). Each command names its handler as a
``"module:function"`` path (``handler=`` default); services/cli.py imports that module only when the command
runs. Integrations add their own commands through services/integrations/registry.py, the same way.
"""

from __future__ import annotations

import argparse
from typing import Any

from services import __version__
from services.integrations import registry
from services.states import (
    CARD_CONDITIONS,
    CARD_PRINTINGS,
    DUPLICATE_STRATEGIES,
    ROLES,
    ItemKind,
    SyncStatus,
    values,
)

HANDLERS = "services.cli_commands"  # the generic commands' handlers
ACCOUNTS = "services.accounts.commands"
TOKENS = "services.api.commands"
JOBS = "services.sync.commands"
NUMISTA = "services.integrations.numista.commands"


class UsageError(Exception):
    """argparse's complaints, raised instead of exiting so --json can still answer with a document."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def subcommands(parser: argparse.ArgumentParser) -> Any:
    """The sub-command table of an existing command (for an integration adding ``discogs`` beside ``numista``)."""
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))


def _common() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--user", help="act for this user (local mode: the implicit owner)")
    common.add_argument("--json", action="store_true", help="print one JSON document instead of a summary")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = Parser(prog="python -m services", description="Vitrine: your coins, records and cards.")
    parser.add_argument("--version", action="version", version=f"vitrine {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _add_users(commands, common)
    _add_items(commands, common)
    _add_imports(commands, common)
    _add_catalog(commands, common)
    value = commands.add_parser("value", parents=[common], help="estimated value: totals, by kind, by set")
    value.set_defaults(handler=f"{HANDLERS}:cmd_value")
    _add_prices(commands, common)
    connect = commands.add_parser("connect", help="connect an account").add_subparsers(dest="service", required=True)
    connect_numista = connect.add_parser("numista", parents=[common], help="API key read from stdin; tested")
    connect_numista.set_defaults(handler=f"{NUMISTA}:cmd_connect_numista")
    demo = commands.add_parser("demo", help="the demo collection").add_subparsers(dest="action", required=True)
    demo_load = demo.add_parser("load", parents=[common], help="load the demo collection (idempotent)")
    demo_load.set_defaults(handler=f"{HANDLERS}:cmd_demo_load")
    _add_push(commands, common)
    registry.add_cli_parsers(commands, common)  # commands an integration adds itself (e.g. Discogs)
    _add_tokens(commands, common)
    return parser


def _add_users(commands: Any, common: argparse.ArgumentParser) -> None:
    """The operator's commands: whoever runs them holds the database, so no --user (services/accounts/commands.py)."""
    users = commands.add_parser("users", help="manage members (the operator; no --user needed)").add_subparsers(
        dest="action", required=True
    )
    add = users.add_parser("add", parents=[common], help="add a member; password read from stdin")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--temporary", action="store_true", help="the member must choose a new password at sign-in")
    add.set_defaults(handler=f"{ACCOUNTS}:cmd_users_add", operator=True)
    listing = users.add_parser("list", parents=[common], help="members with role, state and last sign-in")
    listing.set_defaults(handler=f"{ACCOUNTS}:cmd_users_list", operator=True)
    for action, active in (("disable", False), ("enable", True)):
        toggle = users.add_parser(action, parents=[common], help=f"{action} a member (disabling signs them out)")
        toggle.add_argument("name")
        toggle.set_defaults(handler=f"{ACCOUNTS}:cmd_users_active", operator=True, active=active)
    passwd = users.add_parser("passwd", parents=[common], help="set a member's password from stdin")
    passwd.add_argument("name")
    passwd.add_argument("--temporary", action="store_true", help="the member must choose a new one at sign-in")
    passwd.set_defaults(handler=f"{ACCOUNTS}:cmd_users_passwd", operator=True)
    role = users.add_parser("role", parents=[common], help="make a member admin or member")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(handler=f"{ACCOUNTS}:cmd_users_role", operator=True)


def _add_items(commands: Any, common: argparse.ArgumentParser) -> None:
    items = commands.add_parser("items", help="list and add items").add_subparsers(dest="action", required=True)
    items_list = items.add_parser("list", parents=[common], help="list your items")
    items_list.add_argument("--kind", choices=values(ItemKind))
    items_list.add_argument("--sync-status", choices=values(SyncStatus))
    items_list.set_defaults(handler=f"{HANDLERS}:cmd_items_list")
    items_add = items.add_parser("add", help="add an item").add_subparsers(dest="kind", required=True)
    add_card = items_add.add_parser("card", parents=[common], help="add copies of a catalogue card")
    add_card.add_argument("card_id", metavar="CARD_ID")
    add_card.add_argument("--quantity", type=int, default=1)
    add_card.add_argument("--condition", default="NM", type=str.upper, choices=CARD_CONDITIONS)
    add_card.add_argument(
        "--printing",
        help=f"one the card has ({', '.join(CARD_PRINTINGS)}, ...); default: its only or first printing",
    )
    add_card.add_argument(
        "--strategy", default="increment", choices=DUPLICATE_STRATEGIES,
        help="increment: add to the entry you hold (another price, date or notes: a new entry); "
        "separate: refuse when you hold one",
    )  # fmt: skip
    add_card.add_argument("--price", help="what you paid, e.g. 12.50")
    add_card.add_argument("--currency", help="currency of --price (default: yours)")
    add_card.add_argument("--acquired", help="acquisition date, YYYY-MM-DD")
    add_card.set_defaults(handler=f"{HANDLERS}:cmd_items_add_card")
    for kind in ("coin", "record"):
        add_other = items_add.add_parser(kind, parents=[common], help=f"add a {kind} by hand")
        add_other.add_argument("title", metavar="TITLE")
        add_other.add_argument("--quantity", type=int, default=1)
        add_other.add_argument("--grade", help="on the native scale (coins: e.g. XF; records: Discogs media)")
        add_other.add_argument("--country")
        add_other.add_argument("--year", type=int)
        add_other.add_argument("--price", help="what you paid, e.g. 12.50")
        add_other.add_argument("--currency", help="currency of --price (default: yours)")
        add_other.add_argument("--acquired", help="acquisition date, YYYY-MM-DD")
        add_other.set_defaults(handler=f"{HANDLERS}:cmd_items_add_other")


def _add_imports(commands: Any, common: argparse.ArgumentParser) -> None:
    imports = commands.add_parser("import", help="import a collection file").add_subparsers(
        dest="source", required=True
    )
    opennumismat = imports.add_parser("opennumismat", parents=[common], help="an OpenNumismat .db collection")
    opennumismat.add_argument("file", metavar="FILE")
    opennumismat.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    opennumismat.set_defaults(handler=f"{HANDLERS}:cmd_import_opennumismat")
    cards_csv = imports.add_parser("cards-csv", parents=[common], help="a TCGplayer app or Collectr CSV export")
    cards_csv.add_argument("file", metavar="FILE")
    cards_csv.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    cards_csv.add_argument("--currency", type=str.upper, default="USD", help="currency of prices without a sign")
    cards_csv.set_defaults(handler=f"{HANDLERS}:cmd_import_cards_csv")


def _add_catalog(commands: Any, common: argparse.ArgumentParser) -> None:
    catalog = commands.add_parser("catalog", help="the card catalogue").add_subparsers(dest="action", required=True)
    catalog_sync = catalog.add_parser("sync", help="fetch sets, cards and prices").add_subparsers(
        dest="source", required=True
    )
    sync_pokemon = catalog_sync.add_parser("pokemon", parents=[common], help="from pokemontcg.io (resumable)")
    sync_pokemon.add_argument("--set", action="append", metavar="ID", help="only this set (repeatable)")
    sync_pokemon.add_argument("--force", action="store_true", help="fetch sets whose data is still fresh too")
    sync_pokemon.set_defaults(handler=f"{HANDLERS}:cmd_catalog_sync_pokemon")
    catalog_search = catalog.add_parser("search", help="search the stored catalogue").add_subparsers(
        dest="source", required=True
    )
    search_pokemon = catalog_search.add_parser("pokemon", parents=[common], help="Pokémon cards (works offline)")
    search_pokemon.add_argument("query", metavar="QUERY")
    search_pokemon.add_argument("--set", metavar="ID")
    search_pokemon.add_argument("--number")
    search_pokemon.add_argument("--rarity")
    search_pokemon.add_argument("--type", help="energy type, e.g. Fire")
    search_pokemon.add_argument("--sort", choices=("relevance", "number"), default="relevance")
    search_pokemon.add_argument("--limit", type=int, default=24, help="1 to 100 (default 24)")
    search_pokemon.add_argument("--offset", type=int, default=0)
    search_pokemon.set_defaults(handler=f"{HANDLERS}:cmd_catalog_search_pokemon")
    search_numista = catalog_search.add_parser("numista", parents=[common], help="Numista coin types (your key)")
    search_numista.add_argument("query", metavar="QUERY")
    search_numista.add_argument("--issuer", help="country name or Numista issuer code")
    search_numista.add_argument("--year", type=int)
    search_numista.add_argument("--number", help="catalogue number, e.g. 'KM# 2'")
    search_numista.add_argument("--page", type=int, default=1)
    search_numista.set_defaults(handler=f"{NUMISTA}:cmd_catalog_search_numista")


def _add_prices(commands: Any, common: argparse.ArgumentParser) -> None:
    prices = commands.add_parser("prices", help="catalogue prices").add_subparsers(dest="action", required=True)
    prices_refresh = prices.add_parser("refresh", parents=[common], help="refresh stale prices (Numista for coins)")
    prices_refresh.add_argument("--kind", choices=values(ItemKind))
    prices_refresh.add_argument("--force", action="store_true", help="refresh prices that are still fresh too")
    prices_refresh.add_argument("--limit", type=int, help="spend at most this many Numista calls")
    prices_refresh.set_defaults(handler=f"{NUMISTA}:cmd_prices_refresh")
    prices_rates = prices.add_parser("rates", parents=[common], help="the ECB exchange rates in use")
    prices_rates.add_argument("--refresh", action="store_true", help="download the latest ECB rates file")
    prices_rates.set_defaults(handler=f"{HANDLERS}:cmd_prices_rates")


def _add_push(commands: Any, common: argparse.ArgumentParser) -> None:
    """``export <service>`` (each integration adds its own through the registry), ``jobs`` and ``worker``."""
    export = commands.add_parser("export", help="push items to your accounts").add_subparsers(
        dest="service", required=True
    )
    registry.add_export_parsers(export, common)
    jobs = commands.add_parser("jobs", help="export jobs").add_subparsers(dest="action", required=True)
    jobs_list = jobs.add_parser("list", parents=[common], help="recent jobs with their progress")
    jobs_list.add_argument("--limit", type=int, default=20)
    jobs_list.set_defaults(handler=f"{JOBS}:cmd_jobs_list")
    resume = jobs.add_parser("resume", parents=[common], help="resume a paused job, retry failed items")
    resume.add_argument("job_id", type=int, metavar="ID")
    resume.add_argument("--no-wait", action="store_true", help="re-queue and return (a worker pushes it)")
    resume.set_defaults(handler=f"{JOBS}:cmd_jobs_resume")
    cancel = jobs.add_parser("cancel", parents=[common], help="cancel a job (items not yet pushed)")
    cancel.add_argument("job_id", type=int, metavar="ID")
    cancel.set_defaults(handler=f"{JOBS}:cmd_jobs_cancel")
    worker = commands.add_parser("worker", parents=[common], help="push queued jobs until stopped")
    worker.add_argument("--once", action="store_true", help="stop when no job has work left")
    worker.set_defaults(handler=f"{JOBS}:cmd_worker", operator=True)  # acts for every member: no --user


def _add_tokens(commands: Any, common: argparse.ArgumentParser) -> None:
    tokens = commands.add_parser("tokens", help="REST API tokens").add_subparsers(dest="action", required=True)
    create = tokens.add_parser("create", parents=[common], help="create a token (shown once)")
    create.add_argument("--name", metavar="LABEL", help="what the token is for, e.g. 'spreadsheet'")
    create.set_defaults(handler=f"{TOKENS}:cmd_tokens_create")
    listing = tokens.add_parser("list", parents=[common], help="your active tokens (never the secret)")
    listing.set_defaults(handler=f"{TOKENS}:cmd_tokens_list")
    revoke = tokens.add_parser("revoke", parents=[common], help="revoke a token by its id")
    revoke.add_argument("token_id", metavar="ID", type=int)
    revoke.set_defaults(handler=f"{TOKENS}:cmd_tokens_revoke")
