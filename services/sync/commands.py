"""Command-line handlers of the push engine (registered in services/cli.py): ``export numista``,
``jobs list|resume|cancel`` and ``worker``.

They follow the cli.py contract ``(context, session, actor, args) -> (document, summary, exit status)``, but
commit the command's session before pushing: the worker writes every checkpoint in its own short
transaction (a pushed coin must stay recorded even if the command is interrupted), and on SQLite an open
write in the command's session would block those writes.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from typing import Any

from sqlalchemy.orm import Session

from services.accounts import connections
from services.context import AppContext
from services.errors import InvalidInput, NotFound
from services.http import ServiceError
from services.numista.api import numista_api
from services.numista.commands import as_vitrine_error
from services.store.models import User
from services.sync import engine as jobs
from services.sync.numista import (
    ON_SYNCED,
    dry_run_document,
    export_options,
    get_preferences,
    plan_export,
    plan_summary,
    quota_cost,
    start_export,
)
from services.sync.worker import Worker, WorkerConfig

EXIT_OK, EXIT_PARTIAL = 0, 1


def build_worker(context: AppContext, config: WorkerConfig | None = None) -> Worker:
    """A worker with every pusher this installation has (Numista today; Discogs joins here)."""
    from services.integrations.discogs.pusher import pushers as discogs_pushers
    from services.sync.numista import NumistaPusher

    config = config or WorkerConfig.from_env()
    pushers = {
        "numista": NumistaPusher(context.engine, context.settings, context.vault, settle_seconds=config.settle_seconds)
    }
    pushers.update(discogs_pushers(context.engine, context.settings, context.vault,
                                   settle_seconds=config.settle_seconds))  # fmt: skip
    return Worker(context.engine, pushers, config)


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register export/jobs/worker on the CLI's subcommand parser (kept here so cli.py stays small)."""
    export = commands.add_parser("export", help="push items to your accounts").add_subparsers(
        dest="service", required=True
    )
    numista = export.add_parser("numista", parents=[common], help="push coins to your Numista collection")
    chosen = numista.add_mutually_exclusive_group()
    chosen.add_argument("--all", action="store_true", help="every coin (those that cannot go are skipped)")
    chosen.add_argument("--item", type=int, action="append", metavar="ID", help="this coin (repeatable)")
    numista.add_argument("--collection", type=int, metavar="ID", help="target Numista collection (remembered)")
    numista.add_argument("--dry-run", action="store_true", help="show the exact bodies; queue and send nothing")
    numista.add_argument("--on-synced", choices=ON_SYNCED, help="coins already on Numista (default: remembered)")
    numista.add_argument("--no-internal-id", action="store_true", help="do not mark items with vitrine:<id>")
    numista.add_argument("--no-wait", action="store_true", help="queue the job and return (a worker pushes it)")
    numista.set_defaults(handler=cmd_export_numista)

    jobs_parser = commands.add_parser("jobs", help="export jobs").add_subparsers(dest="action", required=True)
    jobs_list = jobs_parser.add_parser("list", parents=[common], help="recent jobs with their progress")
    jobs_list.add_argument("--limit", type=int, default=20)
    jobs_list.set_defaults(handler=cmd_jobs_list)
    resume = jobs_parser.add_parser("resume", parents=[common], help="resume a paused job, retry failed items")
    resume.add_argument("job_id", type=int, metavar="ID")
    resume.add_argument("--no-wait", action="store_true", help="re-queue and return (a worker pushes it)")
    resume.set_defaults(handler=cmd_jobs_resume)
    cancel = jobs_parser.add_parser("cancel", parents=[common], help="cancel a job (items not yet pushed)")
    cancel.add_argument("job_id", type=int, metavar="ID")
    cancel.set_defaults(handler=cmd_jobs_cancel)

    worker = commands.add_parser("worker", parents=[common], help="push queued jobs until stopped")
    worker.add_argument("--once", action="store_true", help="stop when no job has work left")
    worker.set_defaults(handler=cmd_worker)


def _run_job(context: AppContext, session: Session, actor: User, job_id: int) -> tuple[dict[str, Any], str, int]:
    """Push the job in the foreground until it is finished, paused or cancelled; its document."""
    session.commit()
    worker = build_worker(context)
    with contextlib.suppress(KeyboardInterrupt):  # the row in hand is reclaimed later; `jobs resume` continues
        worker.run(job_id=job_id)
    return _job_result(session, actor, job_id)


def _job_result(session: Session, actor: User, job_id: int) -> tuple[dict[str, Any], str, int]:
    session.expire_all()
    document = jobs.job_document(session, actor.id, job_id)
    counts = document["counts"]
    lines = [
        f"Job {job_id} {document['status']}: {counts['synced']} synced, {counts['duplicate']} duplicate, "
        f"{counts['failed']} failed, {counts['skipped']} skipped, {counts['queued']} still queued."
    ]
    if document["message"]:
        lines.append(f"  {document['message']}")
    lines += [f"  item {i['id']}: {i['error']}" for i in document["items"] if i["status"] == "FAILED"]
    incomplete = counts["failed"] > 0 or document["status"] not in ("done", "done_with_errors", "cancelled")
    return document, "\n".join(lines), EXIT_PARTIAL if incomplete else EXIT_OK


def cmd_export_numista(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> tuple:
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
        document, _summary, _status = _job_result(session, actor, job_id)
        return document, f"Queued job {job_id} (about {quota_cost(plan)} Numista calls); a worker pushes it.", EXIT_OK
    return _run_job(context, session, actor, job_id)


def cmd_jobs_list(_context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> tuple:
    documents = [jobs.job_summary(session, job) for job in jobs.list_jobs(session, actor.id, limit=args.limit)]
    lines = []
    for d in documents:
        progress = d["progress"]
        eta = f", about {progress['etaSeconds']:.0f} s left" if progress["etaSeconds"] is not None else ""
        lines.append(
            f"{d['id']:>5}  {d['service']:<8} {d['status']:<17} {progress['total'] - progress['remaining']}/"
            f"{progress['total']} done, {progress['failed']} failed, {progress['remaining']} remaining{eta}"
            + (f"  ({d['message']})" if d["message"] else "")
        )
    return documents, "\n".join(lines) or "No export jobs yet.", EXIT_OK


def cmd_jobs_resume(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> tuple:
    job = jobs.resume_job(session, actor.id, args.job_id)
    session.commit()
    if args.no_wait or job.status not in jobs.ACTIVE_JOB:
        return _job_result(session, actor, job.id)
    return _run_job(context, session, actor, job.id)


def cmd_jobs_cancel(_context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> tuple:
    jobs.cancel_job(session, actor.id, args.job_id)
    session.commit()
    document, summary, _status = _job_result(session, actor, args.job_id)
    return document, summary, EXIT_OK


def cmd_worker(context: AppContext, session: Session, _actor: User, args: argparse.Namespace) -> tuple:
    """Push every user's queued jobs until SIGTERM/SIGINT (or, with --once, until there is no work)."""
    session.commit()
    worker = build_worker(context)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: worker.stop_event.set())
    worker.run(until_idle=args.once)
    return {"worker": worker.id, "processed": worker.processed}, f"Worker stopped after {worker.processed} item(s).", 0
