"""Handlers of the generic commands (items, imports, catalogue, value, prices, demo), named by
services/cli_parsers.py and imported by services/cli.py only when one of them runs.

Each follows the contract ``(context, session, actor, args) -> (document, summary, exit status)``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from sqlalchemy.orm import Session

from services.collection import ItemFilter, add_card, add_item, item_document, list_items, sync_statuses
from services.context import AppContext, CommandResult
from services.errors import Conflict, InvalidInput
from services.input_file import input_file
from services.store.models import User
from services.validation import check_currency, parse_money

EXIT_OK, EXIT_PARTIAL = 0, 1


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
    from services.integrations.pokemontcg.catalog import ensure_offline_catalogue

    ensure_offline_catalogue(session)  # a fresh install's first command may be this one, as for search and import
    price = parse_money(args.price, name="--price")
    acquired = _date(args.acquired) if args.acquired else None
    try:
        added = add_card(
            session, actor.id, args.card_id, quantity=args.quantity, condition=args.condition,
            printing=args.printing, strategy=args.strategy, price=price,
            currency=args.currency or actor.currency or context.settings.currency, acquired=acquired,
        )  # fmt: skip
    except Conflict as refused:
        if refused.code != "DUPLICATE_ENTRY":
            raise
        raise Conflict(f"{refused.message} (--strategy increment)", code=refused.code) from None
    document = item_document(added.item) | {
        "created": added.created, "keptApartFrom": added.kept_apart_from, "message": added.message,
    }  # fmt: skip
    return document, added.message, EXIT_OK


def cmd_items_add_other(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    price = parse_money(args.price, name="--price")
    # a wrong code is refused even without --price, as for `items add card`
    currency = check_currency(args.currency) or actor.currency or context.settings.currency
    item = add_item(
        session, actor.id, kind=args.kind, title=args.title, quantity=args.quantity, grade=args.grade,
        country=args.country, year=args.year, acquired_price=price,
        acquired_currency=currency.upper() if price is not None else None,
        acquired_date=_date(args.acquired) if args.acquired else None,
    )  # fmt: skip
    return item_document(item) | {"created": True}, f"Added {item.title}.", EXIT_OK


def cmd_import_opennumismat(
    context: AppContext, session: Session, actor: User, args: argparse.Namespace
) -> CommandResult:
    from services.importers.opennumismat_import import import_opennumismat
    from services.integrations.numista.grade_overrides import grade_overrides

    path = input_file(args.file)
    report = import_opennumismat(
        session, actor.id, path, currency=actor.currency or context.settings.currency, dry_run=args.dry_run,
        grade_overrides=grade_overrides(session, actor.id), max_rows=context.settings.import_max_rows,
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

    path = input_file(args.file)
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
    from services.pricing import valuation

    report = valuation(session, actor.id, actor.currency or context.settings.currency)
    document = report.to_json()  # its numbers: 0.0 where nothing is priced (a contract); the text says "no price"

    def shown(value: float, counted: int) -> str:
        return f"{value:.2f}" if counted else "no price"

    no_rate = (
        f", {document['itemsWithoutRate']} of them in a currency without an ECB rate: "
        + ", ".join(document["currenciesWithoutRate"])
        if document["itemsWithoutRate"]
        else ""
    )
    total = f"{report.value:.2f} {report.currency}" if report.priced else "no price"
    lines = [
        f"Estimated value: {total} for {document['totalItems']} copies "
        f"({document['itemsWithoutPrice']} entries without a price{no_rate})",
        f"  at the ECB reference rates of {document['rateDate']}",
    ]
    lines += [
        f"  {kind.kind:<7} {kind.copies:>5} copies  {shown(float(kind.value), kind.priced):>10}"
        for kind in report.kinds
    ]
    lines += [
        f"  {s.name:<30} {s.unique_cards:>3}/{s.set_total:<3} cards  {shown(float(s.value), s.priced):>10}"
        for s in report.sets
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
    from services.demo import load_demo

    result = load_demo(session, actor.id)
    return (
        result.to_json(),
        f"Demo collection: {result.created} added, {result.unchanged} already there.",
        EXIT_OK,
    )


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date (use YYYY-MM-DD).", code="INVALID_DATE") from None
