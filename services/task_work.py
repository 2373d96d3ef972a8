"""The work of each background task (services/tasks.py): an existing service call, its progress fed to the
task row, its result said in the lines the page shows. Each builder returns the function the task's thread
runs; none holds a transaction open across the work (the services commit their own progress)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from services.context import AppContext
from services.importers.cards_csv import import_cards_csv
from services.importers.opennumismat_import import import_opennumismat
from services.integrations.discogs.importer import import_discogs_csv
from services.integrations.numista.api import numista_api
from services.integrations.numista.bulk_link import link_choices, plan_bulk_link, run_searches
from services.integrations.numista.catalog import NumistaCatalog
from services.integrations.numista.grade_overrides import grade_overrides
from services.integrations.pokemontcg.sync import SyncProgress, sync_pokemon_for_user
from services.overview import overview
from services.store.db import session_scope
from services.store.models import User
from services.tasks import Level, TaskOutcome, TaskReporter, Work

log = logging.getLogger(__name__)


def catalogue_sync_work(context: AppContext, owner_id: int, set_ids: Sequence[str], force: bool) -> Work:
    """Sync the Pokémon catalogue (the chosen sets, or every set) with the member's key."""

    def work(report: TaskReporter) -> TaskOutcome:
        def show(progress: SyncProgress) -> None:
            report(progress.sets_done, progress.sets_total, progress.message or "Syncing…")

        result = sync_pokemon_for_user(
            context.engine, context.settings, context.vault, owner_id, set_ids=list(set_ids) or None, force=force,
            progress=show,
        )  # fmt: skip
        summary = (
            f"{len(result.synced_sets)} set(s) synced: {result.cards:,} cards, {result.prices:,} new prices "
            f"({result.requests} requests); {len(result.fresh_sets)} set(s) were still fresh."
        )
        if result.complete:
            return TaskOutcome(((Level.SUCCESS, summary),))
        reasons = " ".join(error["reason"] for error in result.errors[:3])
        stopped = f"The sync stopped: {reasons} {summary} Sync again to continue where it stopped."
        return TaskOutcome(((Level.WARNING, stopped),), complete=False)

    return _then_overview(context, owner_id, work)


def numista_search_work(context: AppContext, owner_id: int) -> Work:
    """Run the bulk-link plan's catalogue searches that are not cached (what is found stays cached)."""

    def work(report: TaskReporter) -> TaskOutcome:
        with numista_api(context, owner_id) as api:
            catalog = NumistaCatalog(api)
            plan = plan_bulk_link(catalog)
            total = len(plan.searches)
            report(0, total, "Searching Numista", force=True)
            run = run_searches(catalog, plan, progress=lambda done, _total: report(done, total, "Searching Numista"))
            report(run.searched + run.from_cache + len(run.failed), total, force=True)
        lines = [(Level.SUCCESS, f"{run.searched} search(es) done, {run.calls} call(s) spent, "
                                 f"{run.from_cache} reused from the cache.")]  # fmt: skip
        lines += [(Level.WARNING, message) for message in run.failed]
        if run.stopped:
            lines.append((Level.ERROR, f"Stopped: {run.stopped}"))
        return TaskOutcome(tuple(lines), complete=not (run.failed or run.stopped))

    return work


def numista_link_work(context: AppContext, owner_id: int, choices: Mapping[int, tuple[int, int]]) -> Work:
    """Link the chosen coins (item id → (type id, the version the member saw)) in one pass."""

    def work(report: TaskReporter) -> TaskOutcome:
        total = len(choices)
        with numista_api(context, owner_id) as api:
            report(0, total, "Linking", force=True)
            outcome = link_choices(
                NumistaCatalog(api), choices, progress=lambda done, _total: report(done, total, "Linking")
            )
        report(len(outcome.linked) + len(outcome.failed), total, force=True)
        lines = [(Level.SUCCESS, f"Linked {len(outcome.linked)} coin(s) ({outcome.calls} call(s)). "
                                 "They can now be priced and pushed from the Export page.")]  # fmt: skip
        lines += [(Level.WARNING, f"Coin #{item_id}: {message}") for item_id, message in outcome.failed]
        if outcome.stopped:
            lines.append((Level.ERROR, f"Stopped: {outcome.stopped}"))
        return TaskOutcome(tuple(lines), complete=not (outcome.failed or outcome.stopped))

    return _then_overview(context, owner_id, work)


def opennumismat_import_work(context: AppContext, owner_id: int, path: Path, *, source: str, currency: str) -> Work:
    """Import an OpenNumismat file (a private copy of the upload, removed afterwards) in one transaction."""

    def work(report: TaskReporter) -> TaskOutcome:
        try:
            with session_scope(context.engine) as session:  # one transaction: every coin or none
                done = import_opennumismat(
                    session, owner_id, path, currency=currency, source=source,
                    grade_overrides=grade_overrides(session, owner_id), max_rows=context.settings.import_max_rows,
                    progress=lambda read, total: report(read, total, "Importing coins"),
                )  # fmt: skip
        finally:
            path.unlink(missing_ok=True)
        return _file_import_outcome(report, done)

    return _then_overview(context, owner_id, work)


def cards_csv_import_work(
    context: AppContext, owner_id: int, data: bytes, *, choices: Mapping[int, str | None], currency: str
) -> Work:
    """Import a card export (the upload's bytes, held by this task only) with the rows the member decided, in one
    transaction."""

    def work(report: TaskReporter) -> TaskOutcome:
        # Counts are written to the task row as batches go in, in a transaction of their own; SQLite has one
        # writer at a time and the import holds it from its first batch, so there the count comes at the end.
        live = context.engine.dialect.name != "sqlite"
        with session_scope(context.engine) as session:  # one transaction: every row or none
            done = import_cards_csv(
                session, owner_id, data, choices=choices, currency=currency,
                max_rows=context.settings.import_max_rows,
                progress=(lambda read: report(read, None, "Importing cards")) if live else None,
            )  # fmt: skip
        read = sum(done.matching.values())
        report(read, read, force=True)
        summary = (f"Imported: {done.created} new, {done.updated} updated, {done.unchanged} unchanged, "
                   f"{done.skipped} skipped, {len(done.errors)} not imported.")  # fmt: skip
        return TaskOutcome(((Level.SUCCESS, summary), *_refused_rows(done.errors)))

    return _then_overview(context, owner_id, work)


def discogs_csv_import_work(context: AppContext, owner_id: int, path: Path) -> Work:
    """Import a Discogs collection export (a private copy of the upload, removed afterwards) in one transaction."""

    def work(report: TaskReporter) -> TaskOutcome:
        try:
            with session_scope(context.engine) as session:  # one transaction: every record or none
                done = import_discogs_csv(session, owner_id, path, max_rows=context.settings.import_max_rows)
        finally:
            path.unlink(missing_ok=True)
        return _file_import_outcome(report, done)

    return _then_overview(context, owner_id, work)


class _FileImportReport(Protocol):
    created: int
    updated: int
    unchanged: int
    skipped: int
    errors: list[dict[str, Any]]


def _file_import_outcome(report: TaskReporter, done: _FileImportReport) -> TaskOutcome:
    """The end of an import from a file: the final count, the summary line and one warning per refused row."""
    read = done.created + done.updated + done.unchanged + done.skipped
    report(read, read, force=True)
    summary = f"Imported: {done.created} new, {done.updated} updated, {done.unchanged} unchanged."
    return TaskOutcome(((Level.SUCCESS, summary), *_refused_rows(done.errors)))


def _refused_rows(errors: Sequence[Mapping[str, Any]]) -> list[tuple[Level, str]]:
    """One warning line per row an import refused (an import's error list is bounded)."""
    return [(Level.WARNING, f"Row {error['row']}: {error['reason']}") for error in errors]


def overview_work(context: AppContext, owner_id: int, currency: str) -> Work:
    """Compute the member's Overview and remember it (services/memo.py), off the page: the page shows the
    remembered figures meanwhile and reruns when this ends. It waits for SQLite's one writer to remember it
    (a page view would not); if an import holds the writer longer than the wait, it says so and stops."""

    def work(report: TaskReporter) -> TaskOutcome:
        report(0, 1, "Computing the Overview", force=True)
        try:
            _remember_overview(context, owner_id, currency)
        except OperationalError:
            log.exception("the Overview of member %s was not computed or not remembered", owner_id)
            busy = ("The database was busy (another task writing) or unreachable, so the new figures were not saved; "
                    "open the Overview again to retry.")
            return TaskOutcome(((Level.WARNING, busy),), complete=False)
        report(1, 1, force=True)
        return TaskOutcome(((Level.SUCCESS, "The Overview is up to date."),))

    return work


def _then_overview(context: AppContext, owner_id: int, work: Work) -> Work:
    """``work``, then the member's Overview computed again before the task says it ended: the task changed
    what the Overview remembers (services/memo.py), and recomputing it here, off the page, turns the next view
    into a lookup instead of seconds of work at 100,000 items. A failure here never spoils the task's result."""

    def then(report: TaskReporter) -> TaskOutcome:
        outcome = work(report)
        if outcome.complete:
            try:
                _remember_overview(context, owner_id, None)
            except Exception:
                log.exception("the Overview of member %s was not computed after a task", owner_id)
        return outcome

    return then


def _remember_overview(context: AppContext, owner_id: int, currency: str | None) -> None:
    """The member's Overview computed and remembered in a transaction of its own (in the member's currency when
    ``currency`` is None), waiting for SQLite's one writer: a background task can wait, a view must not."""
    with session_scope(context.engine) as session:
        if currency is None:
            own = session.scalar(select(User.currency).where(User.id == owner_id))
            currency = own or context.settings.currency
        overview(session, owner_id, currency, wait_for_writer=True)
