"""``export numista`` on the command line: choose coins, dry run or queue a push job, push it in the foreground."""

from __future__ import annotations

import argparse

from sqlalchemy.orm import Session

from services.accounts import connections
from services.context import AppContext, CommandResult
from services.errors import InvalidInput, NotFound
from services.http import ServiceError
from services.integrations.numista.api import numista_api
from services.integrations.numista.commands import as_vitrine_error
from services.integrations.numista.pusher import (
    dry_run_document,
    export_options,
    get_preferences,
    plan_export,
    plan_summary,
    quota_cost,
    start_export,
)
from services.store.models import User
from services.sync.commands import EXIT_OK, job_result, run_job


def cmd_export_numista(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    if not args.all and not args.item:
        raise InvalidInput("Choose the coins: --all, or --item ID (repeatable).", code="NOTHING_SELECTED")
    preferences = get_preferences(session, actor.id)
    on_synced = args.on_synced or preferences["on_synced"]
    options = export_options(
        session, actor.id, collection_id=args.collection, use_internal_id=False if args.no_internal_id else None
    )
    plan = plan_export(session, actor.id, None if args.all else args.item, options, on_synced=on_synced)
    if args.dry_run:
        document = dry_run_document(plan)
        counts = plan_summary(plan)
        summary = (
            f"Dry run: {counts['create']} to add, {counts['update']} to update, {counts['copy']} extra copies, "
            f"{counts['skip']} skipped; about {document['quotaCost']} Numista calls. Nothing was sent."
        )
        summary += "".join(f"\n  item {row.item_id}: skipped, {row.reason}" for row in plan if row.action == "skip")
        return document, summary, EXIT_OK
    if connections.read_secret(session, context.vault, actor.id, "numista") is None:
        raise NotFound(
            "Numista is not connected: run `python -m services connect numista` with your API key on stdin.",
            code="NUMISTA_NOT_CONNECTED",
        )
    collection_name = None
    session.commit()
    if args.collection is not None:
        try:
            with numista_api(context, actor.id) as api:
                collections = {int(c["id"]): c.get("name") for c in api.list_collections()}
        except ServiceError as error:
            raise as_vitrine_error(error) from None
        if args.collection not in collections:
            known = ", ".join(f"{cid} ({name})" for cid, name in collections.items()) or "none"
            raise InvalidInput(
                f"Numista collection {args.collection} is not yours; your collections: {known}.",
                code="UNKNOWN_COLLECTION",
            )
        collection_name = collections[args.collection]
    job_id = start_export(session, actor.id, plan, options, on_synced=on_synced, collection_name=collection_name)
    session.commit()
    if args.no_wait:
        document, _summary, _status = job_result(session, actor, job_id)
        return document, f"Queued job {job_id} (about {quota_cost(plan)} Numista calls); a worker pushes it.", EXIT_OK
    return run_job(context, session, actor, job_id)
