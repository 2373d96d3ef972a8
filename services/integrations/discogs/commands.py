"""Command-line handlers for Discogs, named by its grammar in cli_parsers.py (imported when a command runs):

    connect discogs [--personal-token | --disconnect]
    import discogs [--folder ID]            import discogs-csv FILE [--dry-run]
    catalog search discogs QUERY [--barcode B] [--catno C] [--link ITEM [--pick N]]
    export discogs --target collection|wantlist|marketplace [--folder ID] [--all | --item ID ...] [--dry-run]
    prices refresh --kind record            (Discogs price suggestions; other kinds keep their handler)

They follow the cli.py handler contract ``(context, session, actor, args) -> (document, summary, status)``;
those that talk to Discogs commit the command's session first, like the Numista and sync commands: every
request takes a slot of the installation-wide budget through its own database connection, and on SQLite an
open write in the command's session would block it. Their own writes come after the calls.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from services.context import AppContext, CommandResult
from services.errors import InvalidInput, VitrineError
from services.http import AuthError, RateLimitedError, ServiceError
from services.integrations import registry
from services.integrations.discogs import oauth
from services.integrations.discogs.catalog import (
    link_release,
    refresh_record_values,
    search_releases,
)
from services.integrations.discogs.importer import import_discogs_csv, import_from_account
from services.integrations.discogs.pusher import ExportOptions, dry_run_document, plan_export, start_export
from services.states import DiscogsTarget, ListingStatus, RowAction
from services.store.models import User
from services.validation import parse_money

EXIT_OK, EXIT_PARTIAL = 0, 1


def as_vitrine_error(error: ServiceError) -> VitrineError:
    code = ("DISCOGS_AUTH" if isinstance(error, AuthError) else
            "DISCOGS_RATE_LIMITED" if isinstance(error, RateLimitedError) else "DISCOGS_ERROR")  # fmt: skip
    return VitrineError(error.message, code=code)


# ------------------------------------------------------------------------------------------ connect
def cmd_connect_discogs(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    settings, vault = context.settings, context.vault
    if args.disconnect:
        oauth.disconnect(session, actor.id)
        return {"connected": False}, "Discogs disconnected: its tokens are deleted.", EXIT_OK
    if args.personal_token:
        token = sys.stdin.readline().strip()
        if not token:
            raise InvalidInput("Give your Discogs personal access token on the first line of standard input.",
                               code="TOKEN_REQUIRED")  # fmt: skip
        connection = oauth.connect_personal_token(session, settings, vault, actor.id, token)
    else:
        if not oauth.oauth_configured(settings):
            raise InvalidInput(
                f"No Discogs application is configured: register one at {oauth.REGISTER_URL} and set "
                "DISCOGS_CONSUMER_KEY/DISCOGS_CONSUMER_SECRET, or run `connect discogs --personal-token`.",
                code="DISCOGS_NOT_CONFIGURED")  # fmt: skip
        try:
            pending = oauth.start_authorization(session, settings, vault, actor.id)
        except ServiceError as error:
            raise as_vitrine_error(error) from None
        session.commit()  # the request token must outlive this command if it fails later
        out = sys.stderr if args.json else sys.stdout
        print(f"Open this page, approve Vitrine, then paste the verification code here:\n{pending.authorize_url}",
              file=out, flush=True)  # fmt: skip
        verifier = sys.stdin.readline().strip()
        connection = oauth.finish_authorization(session, settings, vault, actor.id, pending.request_token, verifier)
    document = connection.to_json()
    return document, f"Connected to Discogs as {connection.username} (user {connection.user_id}).", EXIT_OK


# ------------------------------------------------------------------------------------------ imports
def _import_summary(document: dict[str, Any], verb: str) -> str:
    text = (f"{verb}: {document['created']} new, {document['updated']} updated, {document['unchanged']} unchanged, "
            f"{document['skipped']} skipped.")  # fmt: skip
    return text + "".join(f"\n  row {e['row']}: {e['reason']}" for e in document["errors"])


def cmd_import_discogs_csv(
    context: AppContext, session: Session, actor: User, args: argparse.Namespace
) -> CommandResult:
    report = import_discogs_csv(session, actor.id, Path(args.file), dry_run=args.dry_run,
                                max_rows=context.settings.import_max_rows)  # fmt: skip
    document = report.to_json()
    verb = f"Would import {Path(args.file).name}" if args.dry_run else f"Imported {Path(args.file).name}"
    return document, _import_summary(document, verb), EXIT_PARTIAL if report.errors else EXIT_OK


def cmd_import_discogs(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    oauth.load_credentials(session, context.vault, actor.id)  # DiscogsNotConnected: one clear line
    session.commit()

    def show(page: int, pages: int) -> None:
        print(f"\rpage {page}/{pages}", end="", file=sys.stderr, flush=True)

    report = import_from_account(context.engine, context.settings, context.vault, actor.id, folder_id=args.folder,
                                 progress=show if sys.stderr.isatty() and not args.json else None)  # fmt: skip
    document = report.to_json()
    summary = _import_summary(document, f"Imported from Discogs (job {report.job}, {report.calls} calls)")
    if report.stopped:
        summary += f"\nStopped: {report.stopped}"
    return document, summary, EXIT_PARTIAL if report.stopped else EXIT_OK


# ------------------------------------------------------------------------------------------ search
def cmd_catalog_search_discogs(
    context: AppContext, session: Session, actor: User, args: argparse.Namespace
) -> CommandResult:
    session.commit()  # the shared request budget writes through its own connection (see the module docstring)
    api = oauth.member_api(session, context.settings, context.vault, actor.id)
    linked: dict[str, Any] | None = None
    try:
        with api:
            hits = search_releases(api, args.query, barcode=args.barcode, catno=args.catno)
            if args.link is not None:
                if not hits:
                    raise InvalidInput("Nothing found to link.", code="NOTHING_FOUND")
                if args.pick is None and len(hits) > 1:
                    raise InvalidInput(f"{len(hits)} releases match: choose one with --pick N.", code="AMBIGUOUS")
                pick = args.pick or 1
                if not 1 <= pick <= len(hits):
                    raise InvalidInput(f"--pick is between 1 and {len(hits)}.", code="INVALID_PICK")
                item, details, cached = link_release(session, api, actor.id, args.link, hits[pick - 1].release_id)
                linked = {"item": item.id, "releaseId": item.discogs_release_id, "artist": details["artist"],
                          "title": details["title"], "fromCache": cached}  # fmt: skip
    except ServiceError as error:
        raise as_vitrine_error(error) from None
    document: dict[str, Any] = {"count": len(hits), "results": [h.to_json() for h in hits], "calls": api.calls}
    lines = [f"{n:>3}. r{h.release_id:<9} {h.title}  ({h.year or '?'}, {', '.join(h.labels[:2]) or '?'}, "
             f"{h.catno or '-'}, {', '.join(h.formats[:3])})" for n, h in enumerate(hits, start=1)]  # fmt: skip
    if linked is not None:
        document["linked"] = linked
        lines.append(f"Linked item {linked['item']} to release {linked['releaseId']} ({linked['artist']} – "
                     f"{linked['title']}).")  # fmt: skip
    lines.append(f"{len(hits)} release(s); {api.calls} call(s).")
    return document, "\n".join(lines), EXIT_OK


# ------------------------------------------------------------------------------------------ export
def cmd_export_discogs(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    from services.sync.commands import job_result, run_job

    if not args.all and not args.item:
        raise InvalidInput("Choose the records: --all, or --item ID (repeatable).", code="NOTHING_SELECTED")
    status = ListingStatus.FOR_SALE if args.for_sale else ListingStatus.DRAFT
    options = ExportOptions(args.target, args.folder, args.another_copy, status,
                            parse_money(args.price, name="--price"))  # > 0: ExportOptions.validate
    plan = plan_export(session, actor.id, None if args.all else args.item, options)
    if args.dry_run:
        document = dry_run_document(plan)
        counts = document["counts"]
        summary = f"Dry run: {counts['queued']} to push, {counts['skipped']} skipped. Nothing was sent."
        summary += "".join(f"\n  item {row.item_id}: skipped, {row.reason}"
                           for row in plan if row.action == RowAction.SKIP)  # fmt: skip
        return document, summary, EXIT_OK
    oauth.load_credentials(session, context.vault, actor.id)
    if args.target == DiscogsTarget.COLLECTION:
        session.commit()
        try:
            with oauth.member_api(session, context.settings, context.vault, actor.id) as api:
                folders = {int(f["id"]): f.get("name") for f in api.folders()}
        except ServiceError as error:
            raise as_vitrine_error(error) from None
        if args.folder not in folders or args.folder == 0:
            known = ", ".join(f"{fid} ({name})" for fid, name in folders.items() if fid) or "none"
            raise InvalidInput(f"Folder {args.folder} is not one of yours; your folders: {known}.",
                               code="UNKNOWN_FOLDER")  # fmt: skip
    job_id = start_export(session, actor.id, plan, options)
    session.commit()
    if args.no_wait:
        document, _summary, _status = job_result(session, actor, job_id)
        return document, f"Queued job {job_id}; a worker pushes it.", EXIT_OK
    return run_job(context, session, actor, job_id)


# ------------------------------------------------------------------------------------------ prices
def cmd_prices_refresh(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    """``prices refresh``: Discogs' price suggestions for ``--kind record``; other kinds keep their handler."""
    if args.kind == "record":
        return cmd_prices_refresh_records(context, session, actor, args)
    other_kinds: CommandResult = registry.resolve(args.other_kinds_handler)(context, session, actor, args)
    return other_kinds


def cmd_prices_refresh_records(
    context: AppContext, session: Session, actor: User, args: argparse.Namespace
) -> CommandResult:
    session.commit()  # the shared request budget writes through its own connection (see the module docstring)
    api = oauth.member_api(session, context.settings, context.vault, actor.id)
    with api:
        report = refresh_record_values(session, api, actor.id, force=args.force)
    summary = (f"Priced {len(report.refreshed)} release(s), {report.fresh} still fresh, {len(report.without_price)} "
               f"without any price, {len(report.failed)} failed; {report.calls} call(s).")  # fmt: skip
    if report.stopped:
        summary += f"\nStopped: {report.stopped}"
    return report.to_json(), summary, EXIT_PARTIAL if report.stopped or report.failed else EXIT_OK
