"""The command line (`python -m services ...`): a stable contract for users and scripts (DESIGN.md).

Every command prints a human summary, or one JSON document with --json. Exit status: 0 success,
1 when some items failed, 2 on bad arguments or bad input (one-line reason on stderr), 3 on an internal
error (one line on stderr; the traceback goes to data/vitrine.log, never to the user).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from services import __version__
from services.accounts import resolve_user
from services.accounts.commands import add_parsers as add_user_parsers
from services.api.commands import add_parsers as add_token_parsers
from services.card_printings import CARD_PRINTINGS
from services.collection import (
    CARD_CONDITIONS,
    DUPLICATE_STRATEGIES,
    ItemFilter,
    add_card,
    add_item,
    item_document,
    list_items,
    sync_statuses,
)
from services.config import DATA_DIR
from services.context import AppContext, CommandResult, open_context
from services.demo import load_demo
from services.errors import InvalidInput, VitrineError
from services.importers.opennumismat_import import import_opennumismat
from services.integrations import registry
from services.integrations.numista.commands import cmd_catalog_search_numista, cmd_connect_numista, cmd_prices_refresh
from services.integrations.numista.grade_overrides import grade_overrides
from services.pricing import valuation
from services.store.models import ITEM_KINDS, SYNC_STATUSES, User
from services.sync.commands import add_parsers as add_sync_parsers
from services.validation import check_money

EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
# Read here, not through Settings: the log must work even when the settings themselves are what failed.
LOG_FILE = Path(os.environ.get("VITRINE_LOG_FILE") or DATA_DIR / "vitrine.log")
log = logging.getLogger("vitrine.cli")


class UsageError(Exception):
    """argparse's complaints, raised instead of exiting so --json can still answer with a document."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _common() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("--user", help="act for this user (local mode: the implicit owner)")
    common.add_argument("--json", action="store_true", help="print one JSON document instead of a summary")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(prog="python -m services", description="Vitrine: your coins, records and cards.")
    parser.add_argument("--version", action="version", version=f"vitrine {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    add_user_parsers(commands, common)  # users add|list|disable|enable|passwd|role: services/accounts/commands.py

    items = commands.add_parser("items", help="list and add items").add_subparsers(
        dest="action", required=True
    )
    items_list = items.add_parser("list", parents=[common], help="list your items")
    items_list.add_argument("--kind", choices=ITEM_KINDS)
    items_list.add_argument("--sync-status", choices=SYNC_STATUSES)
    items_list.set_defaults(handler=cmd_items_list)
    items_add = items.add_parser("add", help="add an item").add_subparsers(dest="kind", required=True)
    add_card_parser = items_add.add_parser("card", parents=[common], help="add copies of a catalogue card")
    add_card_parser.add_argument("card_id", metavar="CARD_ID")
    add_card_parser.add_argument("--quantity", type=int, default=1)
    add_card_parser.add_argument("--condition", default="NM", type=str.upper, choices=CARD_CONDITIONS)
    add_card_parser.add_argument(
        "--printing",
        help=f"one the card has ({', '.join(CARD_PRINTINGS)}, ...); default: its only or first printing",
    )
    add_card_parser.add_argument("--strategy", default="increment", choices=DUPLICATE_STRATEGIES)
    add_card_parser.add_argument("--price", help="what you paid, e.g. 12.50")
    add_card_parser.add_argument("--currency", help="currency of --price (default: yours)")
    add_card_parser.add_argument("--acquired", help="acquisition date, YYYY-MM-DD")
    add_card_parser.set_defaults(handler=cmd_items_add_card)
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
        add_other.set_defaults(handler=cmd_items_add_other)

    imports = commands.add_parser("import", help="import a collection file").add_subparsers(
        dest="source", required=True
    )
    opennumismat = imports.add_parser("opennumismat", parents=[common], help="an OpenNumismat .db collection")
    opennumismat.add_argument("file", metavar="FILE")
    opennumismat.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    opennumismat.set_defaults(handler=cmd_import_opennumismat)
    cards_csv = imports.add_parser("cards-csv", parents=[common], help="a TCGplayer app or Collectr CSV export")
    cards_csv.add_argument("file", metavar="FILE")
    cards_csv.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    cards_csv.add_argument("--currency", type=str.upper, default="USD", help="currency of prices without a sign")
    cards_csv.set_defaults(handler=cmd_import_cards_csv)

    catalog = commands.add_parser("catalog", help="the card catalogue").add_subparsers(dest="action", required=True)
    catalog_sync = catalog.add_parser("sync", help="fetch sets, cards and prices").add_subparsers(
        dest="source", required=True
    )
    sync_pokemon = catalog_sync.add_parser("pokemon", parents=[common], help="from pokemontcg.io (resumable)")
    sync_pokemon.add_argument("--set", action="append", metavar="ID", help="only this set (repeatable)")
    sync_pokemon.add_argument("--force", action="store_true", help="fetch sets whose data is still fresh too")
    sync_pokemon.set_defaults(handler=cmd_catalog_sync_pokemon)
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
    search_pokemon.set_defaults(handler=cmd_catalog_search_pokemon)
    search_numista = catalog_search.add_parser("numista", parents=[common], help="Numista coin types (your key)")
    search_numista.add_argument("query", metavar="QUERY")
    search_numista.add_argument("--issuer", help="country name or Numista issuer code")
    search_numista.add_argument("--year", type=int)
    search_numista.add_argument("--number", help="catalogue number, e.g. 'KM# 2'")
    search_numista.add_argument("--page", type=int, default=1)
    search_numista.set_defaults(handler=cmd_catalog_search_numista)

    value = commands.add_parser("value", parents=[common], help="estimated value: totals, by kind, by set")
    value.set_defaults(handler=cmd_value)

    prices = commands.add_parser("prices", help="catalogue prices").add_subparsers(dest="action", required=True)
    prices_refresh = prices.add_parser("refresh", parents=[common], help="refresh stale prices (Numista for coins)")
    prices_refresh.add_argument("--kind", choices=ITEM_KINDS)
    prices_refresh.add_argument("--force", action="store_true", help="refresh prices that are still fresh too")
    prices_refresh.add_argument("--limit", type=int, help="spend at most this many Numista calls")
    prices_refresh.set_defaults(handler=cmd_prices_refresh)
    prices_rates = prices.add_parser("rates", parents=[common], help="the ECB exchange rates in use")
    prices_rates.add_argument("--refresh", action="store_true", help="download the latest ECB rates file")
    prices_rates.set_defaults(handler=cmd_prices_rates)

    connect = commands.add_parser("connect", help="connect an account").add_subparsers(dest="service", required=True)
    connect_numista = connect.add_parser("numista", parents=[common], help="API key read from stdin; tested")
    connect_numista.set_defaults(handler=cmd_connect_numista)

    demo = commands.add_parser("demo", help="the demo collection").add_subparsers(
        dest="action", required=True
    )
    demo_load = demo.add_parser("load", parents=[common], help="load the demo collection (idempotent)")
    demo_load.set_defaults(handler=cmd_demo_load)
    add_sync_parsers(commands, common)  # export <service> (from the registry), jobs, worker (services/sync/commands.py)
    registry.add_cli_parsers(commands, common)  # commands an integration adds itself (e.g. Discogs)
    add_token_parsers(commands, common)  # tokens create|list|revoke (services/api/commands.py)
    return parser


Handler = Callable[[AppContext, Session, User, argparse.Namespace], tuple[Any, str, int]]


def cmd_items_list(_context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    items = list_items(session, actor.id, ItemFilter(kind=args.kind, sync_status=args.sync_status))
    statuses = sync_statuses(session, [item.id for item in items])
    documents = [item_document(item, statuses.get(item.id)) for item in items]
    lines = [
        f"{d['id']:>6}  {d['kind']:<6} {d['quantity']:>3} × {d['title']}  [{d['grade'] or '-'}]"
        for d in documents
    ]
    lines.append(f"{len(documents)} item(s)")
    return documents, "\n".join(lines), EXIT_OK


def cmd_items_add_card(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    price = _decimal(args.price) if args.price else None
    acquired = _date(args.acquired) if args.acquired else None
    item, created = add_card(
        session, actor.id, args.card_id, quantity=args.quantity, condition=args.condition,
        printing=args.printing, strategy=args.strategy, price=price,
        currency=(args.currency or actor.currency or context.settings.currency).upper(), acquired=acquired,
    )  # fmt: skip
    document = item_document(item) | {"created": created}
    verb = "Added" if created else "Incremented"
    return (
        document,
        f"{verb} {item.title}: now {item.quantity} cop{'y' if item.quantity == 1 else 'ies'}.",
        EXIT_OK,
    )


def cmd_items_add_other(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    price = _decimal(args.price) if args.price else None
    item = add_item(
        session, actor.id, kind=args.kind, title=args.title, quantity=args.quantity, grade=args.grade,
        country=args.country, year=args.year, acquired_price=price,
        acquired_currency=(args.currency or actor.currency or context.settings.currency).upper() if price else None,
        acquired_date=_date(args.acquired) if args.acquired else None,
    )  # fmt: skip
    return item_document(item) | {"created": True}, f"Added {item.title}.", EXIT_OK


def cmd_import_opennumismat(
    context: AppContext, session: Session, actor: User, args: argparse.Namespace
) -> CommandResult:
    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"{args.file}: no such file.", code="FILE_NOT_FOUND")
    report = import_opennumismat(
        session, actor.id, path, currency=actor.currency or context.settings.currency, dry_run=args.dry_run,
        grade_overrides=grade_overrides(session, actor.id),
    )
    verb = "Would import" if args.dry_run else "Imported"
    summary = (
        f"{verb} {path.name} (OpenNumismat schema {report.schema_version}): {report.created} new, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.skipped} skipped."
    )
    for error in report.errors:
        summary += f"\n  row {error['row']}: {error['reason']}"
    return report.to_json(), summary, EXIT_PARTIAL if report.errors else EXIT_OK


def cmd_import_cards_csv(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    from services.importers.cards_csv import import_cards_csv
    from services.integrations.pokemontcg.catalog import ensure_offline_catalogue

    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"{args.file}: no such file.", code="FILE_NOT_FOUND")
    ensure_offline_catalogue(session)
    report = import_cards_csv(
        session, actor.id, path, dry_run=args.dry_run, currency=args.currency,
        max_rows=context.settings.import_max_rows,
    )  # fmt: skip
    document = report.to_json()
    matching = document["matching"]
    verb = "Would import" if args.dry_run else "Imported"
    summary = (
        f"{verb} {path.name} ({report.format} export): {report.created} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.skipped} skipped; rows matched {matching['matched']}, "
        f"ambiguous {matching['ambiguous']}, unmatched {matching['unmatched']}, invalid {matching['invalid']}."
    )
    for error in report.errors:
        summary += f"\n  row {error['row']}: {error['reason']}"
    if report.errors_omitted:
        summary += f"\n  ... and {report.errors_omitted:,} more rows not imported."
    return document, summary, EXIT_PARTIAL if report.errors else EXIT_OK


def cmd_catalog_sync_pokemon(
    context: AppContext, session: Session, actor: User, args: argparse.Namespace
) -> CommandResult:
    from services.integrations.pokemontcg.sync import SyncProgress, sync_pokemon_for_user

    def show(progress: SyncProgress) -> None:
        print(f"\r{progress.fraction:6.1%}  {progress.message[:70]:<70}", end="", file=sys.stderr, flush=True)

    session.commit()  # a long job: it commits page by page in units of work of its own
    report = sync_pokemon_for_user(
        context.engine, context.settings, context.vault, actor.id, set_ids=args.set, force=args.force,
        progress=show if sys.stderr.isatty() and not args.json else None,
    )  # fmt: skip
    if sys.stderr.isatty() and not args.json:
        print(file=sys.stderr)
    done = (
        f"{len(report.synced_sets)} set(s) synced: {report.cards} cards, {report.prices} new prices, "
        f"{report.requests} requests in {report.seconds:.1f} s; {len(report.fresh_sets)} set(s) still fresh."
    )
    if report.complete:
        return report.to_json(), done, EXIT_OK
    reasons = "\n".join(f"  {e['set']}: {e['reason']}" for e in report.errors)
    summary = (
        f"Sync {'stopped' if report.stopped else 'finished with errors'}.\n{reasons}\n{done}\n"
        "The catalogue stored so far is kept; run the command again to continue where it stopped."
    )
    return report.to_json(), summary, EXIT_PARTIAL


def cmd_catalog_search_pokemon(
    context: AppContext, session: Session, actor: User, args: argparse.Namespace
) -> CommandResult:
    from services.errors import NotFound
    from services.integrations.pokemontcg.catalog import ensure_offline_catalogue
    from services.integrations.pokemontcg.search import CardFilter, search_catalogue
    from services.store.models import PokemonSet

    ensure_offline_catalogue(session)
    if args.set and session.get(PokemonSet, args.set) is None:
        raise NotFound(f"No set {args.set!r} in the catalogue.", code="SET_NOT_FOUND")
    filters = CardFilter(set_id=args.set, number=args.number, rarity=args.rarity, type=args.type)
    page = search_catalogue(session, args.query, filters, sort=args.sort, limit=args.limit, offset=args.offset)
    lines = [f"{h.id:<14} {h.name[:36]:<36} {h.set_name[:28]:<28} #{h.number:<6} {h.rarity or ''}" for h in page.hits]
    lines.append(f"{len(page.hits)} of {page.total} card(s)")
    return page.to_json(), "\n".join(lines), EXIT_OK


def cmd_value(context: AppContext, session: Session, actor: User, _args: argparse.Namespace) -> CommandResult:
    document = valuation(session, actor.id, actor.currency or context.settings.currency).to_json()
    no_rate = (
        f", {document['itemsWithoutRate']} of them in a currency without an ECB rate: "
        + ", ".join(document["currenciesWithoutRate"])
        if document["itemsWithoutRate"]
        else ""
    )
    lines = [
        f"Estimated value: {document['totalEstimatedValue']:.2f} {document['currency']} "
        f"for {document['totalItems']} copies ({document['itemsWithoutPrice']} entries without a price{no_rate})",
        f"  at the ECB reference rates of {document['rateDate']}",
    ]
    lines += [
        f"  {kind:<7} {v['items']:>5} copies  {v['estimatedValue']:>10.2f}"
        for kind, v in document["byKind"].items()
    ]
    lines += [
        f"  {s['set']['name']:<30} {s['uniqueCards']:>3}/{s['setTotal']:<3} cards"
        f"  {s['estimatedValue']:>10.2f}"
        for s in document["bySet"]
    ]
    return document, "\n".join(lines), EXIT_OK


def cmd_prices_rates(context: AppContext, _session: Session, _actor: User, args: argparse.Namespace) -> CommandResult:
    from services.exchange_rates import current_rates, refresh_rates

    if args.refresh:
        result = refresh_rates(context.settings)
        return result.to_json(), result.message, EXIT_OK if result.refreshed else EXIT_PARTIAL
    rates = current_rates(context.settings)
    document = {
        "rateDate": rates.rate_date.isoformat(),
        "source": rates.source.value,
        "currencies": sorted(rates.currencies),
    }
    return document, f"Using the {rates.description}: {', '.join(sorted(rates.currencies))}.", EXIT_OK


def cmd_demo_load(_context: AppContext, session: Session, actor: User, _args: argparse.Namespace) -> CommandResult:
    result = load_demo(session, actor.id)
    return (
        result.to_json(),
        f"Demo collection: {result.created} added, {result.unchanged} already there.",
        EXIT_OK,
    )


def _decimal(text: str) -> Decimal:
    try:
        Decimal(text)
    except InvalidOperation:
        raise InvalidInput(
            f"{text!r} is not an amount (use digits and a dot, e.g. 12.50).", code="INVALID_PRICE"
        ) from None
    return check_money(text)  # type: ignore[return-value]  # never None for a given text


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date (use YYYY-MM-DD).", code="INVALID_DATE") from None


def _emit_error(error_code: str, message: str, as_json: bool, status: int = EXIT_BAD_INPUT) -> int:
    if as_json:
        print(json.dumps({"error": {"code": error_code, "message": message}}))
    print(message, file=sys.stderr)
    return status


def _log_internal_error(argv: list[str]) -> str:
    """Append the traceback of the exception being handled to the log file; return where it went.

    The user sees one line pointing here, never the traceback (it can name paths, SQL and values)."""
    handler: logging.Handler
    try:
        LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(LOG_FILE, encoding="utf-8")
        where = str(LOG_FILE)
    except OSError:
        handler, where = logging.StreamHandler(open(os.devnull, "w")), "(log file not writable)"  # noqa: SIM115
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    try:
        command = " ".join(arg for arg in argv[:3] if not arg.startswith("-"))
        log.exception("internal error in `%s`", command)
    finally:
        log.removeHandler(handler)
        handler.close()
    return where


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        return _emit_error("BAD_ARGUMENTS", str(error), as_json)
    try:
        context = open_context()
        with context.session() as session:
            # Operator commands (users ..., worker) act for nobody: no --user needed, in club mode too.
            operator = getattr(args, "operator", False)
            actor = None if operator else resolve_user(
                session, args.user, club_mode=context.settings.club_mode, currency=context.settings.currency
            )  # fmt: skip
            document, summary, status = args.handler(context, session, actor, args)
    except VitrineError as error:
        return _emit_error(error.code, error.message, as_json)
    except KeyboardInterrupt:
        return _emit_error("INTERRUPTED", "Interrupted; nothing of the unfinished command was saved.", as_json, 130)
    except Exception as error:  # the boundary: whatever slipped through is logged, never shown as a traceback
        where = _log_internal_error(argv)
        message = f"internal error ({type(error).__name__}); nothing was saved. Details: {where}"
        return _emit_error("INTERNAL_ERROR", message, as_json, EXIT_INTERNAL)
    print(json.dumps(document, ensure_ascii=False, default=str) if args.json else summary)
    return int(status)
