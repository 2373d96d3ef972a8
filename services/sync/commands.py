"""Command-line handlers of the push engine (named in services/cli_parsers.py): ``export <service>`` (each
integration adds its own through the registry), ``jobs list|resume|cancel`` and ``worker``.

They follow the cli.py contract ``(context, session, actor, args) -> (document, summary, exit status)``, but
commit the command's session before pushing: the worker writes every checkpoint in its own short
transaction (a pushed item must stay recorded even if the command is interrupted), and on SQLite an open
write in the command's session would block those writes.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from typing import Any

from sqlalchemy.orm import Session

from services.context import AppContext, CommandResult
from services.integrations import registry
from services.store.models import User
from services.sync import engine as jobs
from services.sync.worker import Worker, WorkerConfig

EXIT_OK, EXIT_PARTIAL = 0, 1


def build_worker(context: AppContext, config: WorkerConfig | None = None) -> Worker:
    """A worker with the pusher of every integration that has one (services.integrations.registry)."""
    config = config or WorkerConfig.from_settings(context.settings)
    return Worker(context.engine, registry.pushers(context, settle_seconds=config.settle_seconds), config)


def run_job(context: AppContext, session: Session, actor: User, job_id: int) -> tuple[dict[str, Any], str, int]:
    """Push the job in the foreground until it is finished, paused or cancelled; its document."""
    session.commit()
    worker = build_worker(context)
    with contextlib.suppress(KeyboardInterrupt):  # the row in hand is reclaimed later; `jobs resume` continues
        worker.run(job_id=job_id)
    return job_result(session, actor, job_id)


def job_result(session: Session, actor: User, job_id: int) -> tuple[dict[str, Any], str, int]:
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
    incomplete = counts["failed"] > 0 or document["status"] not in jobs.FINISHED_JOB
    return document, "\n".join(lines), EXIT_PARTIAL if incomplete else EXIT_OK


def cmd_jobs_list(_context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    documents = jobs.recent_job_summaries(session, actor.id, limit=args.limit)
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


def cmd_jobs_resume(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    job = jobs.resume_job(session, actor.id, args.job_id)
    session.commit()
    if args.no_wait or job.status not in jobs.ACTIVE_JOB:
        return job_result(session, actor, job.id)
    return run_job(context, session, actor, job.id)


def cmd_jobs_cancel(_context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    jobs.cancel_job(session, actor.id, args.job_id)
    session.commit()
    document, summary, _status = job_result(session, actor, args.job_id)
    return document, summary, EXIT_OK


def cmd_worker(context: AppContext, session: Session, _actor: User, args: argparse.Namespace) -> CommandResult:
    """Push every user's queued jobs until SIGTERM/SIGINT (or, with --once, until there is no work)."""
    session.commit()
    worker = build_worker(context)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: worker.stop_event.set())
    worker.run(until_idle=args.once)
    return {"worker": worker.id, "processed": worker.processed}, f"Worker stopped after {worker.processed} item(s).", 0
