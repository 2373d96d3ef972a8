"""Importing records from Discogs: from the member's account (paged, resumable) or from the collection CSV
export. One record item per Discogs instance (a release owned twice is two copies).

Re-importing updates the items an import brought in (account: by instance id; CSV: by release id and the
copy's position among that release's rows) and keeps the member's own edits, with the OpenNumismat merge
rule: a field is only overwritten when Discogs changed it since the last import.

Bad values, by the rule of every importer (services/validation.py, services/importers/cards_csv.py): a
value that cannot be right (a release id that is no id or does not fit its column, a year outside
-5000..2100, a rating outside 0..5) rejects its row (CSV) or copy (account), reported as ``{row, reason}``
while the others import; what makes the whole file unreadable, or more rows than the import limit
(services/importers/row_limit.py), refuses the file in one line.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from services.accounts.vault import Vault
from services.config import Settings
from services.errors import InvalidInput
from services.http import ServiceError
from services.importers.merge import SNAPSHOT_KEY, merge_keeping_edits
from services.importers.row_limit import DEFAULT_MAX_ROWS, check_row_count
from services.input_file import input_file
from services.integrations.discogs.api import PER_PAGE
from services.integrations.discogs.catalog import cache_releases
from services.integrations.discogs.mapping import (
    discogs_year,
    instance_field_values,
    record_fields,
    release_summary,
)
from services.integrations.discogs.oauth import member_api
from services.states import ItemKind, ItemStatus, JobStatus, SyncService
from services.store.db import session_scope
from services.store.models import Item, Job, table_of, utcnow
from services.validation import OutOfRange, check_id, check_rating

ACCOUNT_SOURCE = SyncService.DISCOGS
CSV_SOURCE = "discogs-csv"
IMPORT_KIND = "import"
SNAPSHOT_FIELDS = ("title", "quantity", "grade", "grade_code", "status", "country", "year", "series", "notes",
                   "discogs_release_id")  # fmt: skip
CSV_COLUMNS = ("Catalog#", "Artist", "Title", "Label", "Format", "Rating", "Released", "release_id",
               "CollectionFolder", "Date Added", "Collection Media Condition", "Collection Sleeve Condition",
               "Collection Notes")  # fmt: skip
CSV_REQUIRED = ("Artist", "Title", "release_id")
MAX_CSV_BYTES = 50 * 1024 * 1024


@dataclass
class RecordImportReport:
    """The import JSON document (DESIGN.md), with records' media conditions instead of Numista grades."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    by_condition: Counter[str] = field(default_factory=Counter)
    changes: list[dict[str, Any]] = field(default_factory=list)
    job: int | None = None
    pages: tuple[int, int] | None = None  # (pages done, pages) of an account import
    stopped: str | None = None
    calls: int = 0

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged, "skipped": self.skipped,
            "errors": self.errors, "byStatus": {ItemStatus.OWNED: self.created + self.updated + self.unchanged},
            "byMediaCondition": dict(self.by_condition),
        }  # fmt: skip
        if self.job is not None:
            document.update(job=self.job, pages={"done": self.pages[0], "total": self.pages[1]} if self.pages else None,
                            stopped=self.stopped, calls=self.calls)  # fmt: skip
        return document


def _snapshot(mapped: dict[str, Any]) -> dict[str, Any]:
    flat = {name: mapped[name] for name in SNAPSHOT_FIELDS}
    for key, value in mapped["details"].items():
        flat[f"details.{key}"] = value
    return flat


class _Upserter:
    """Creates or merges record items of one import source, a batch at a time (bounded memory)."""

    def __init__(self, session: Session, owner_id: int, source: str, report: RecordImportReport, dry_run: bool):
        self.session, self.owner_id, self.source, self.report, self.dry_run = session, owner_id, source, report, dry_run

    def apply(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        ids = [row_id for row_id, _ in batch]
        existing = {
            item.origin_row_id: item
            for item in self.session.scalars(select(Item).where(
                Item.owner_id == self.owner_id, Item.origin_source == self.source, Item.origin_row_id.in_(ids)))
        }  # fmt: skip
        new_rows = []
        for row_id, mapped in batch:
            self.report.by_condition[mapped["grade_code"] or "unmapped"] += 1
            snapshot = _snapshot(mapped)
            item = existing.get(row_id)
            if item is None:
                self.report.created += 1
                details = mapped["details"] | {SNAPSHOT_KEY: snapshot}
                new_rows.append(mapped | {"details": details, "owner_id": self.owner_id, "kind": ItemKind.RECORD,
                                          "version": 1, "origin_source": self.source,
                                          "origin_row_id": row_id})  # fmt: skip
                continue
            changed = merge_keeping_edits(item, mapped, snapshot, dry_run=self.dry_run)
            if changed:
                self.report.updated += 1
                self.report.changes.append({"row": row_id, "item": item.id, "fields": changed})
            else:
                self.report.unchanged += 1
        if new_rows and not self.dry_run:
            self.session.execute(insert(table_of(Item)), new_rows)
        self.session.flush()


# ------------------------------------------------------------------------------------------ CSV
def _csv_mapped(row: dict[str, str]) -> dict[str, Any]:
    """Our item's fields for one CSV row; OutOfRange names the first value that cannot be right."""

    def cell(name: str) -> str | None:
        return (row.get(name) or "").strip() or None

    release_id = check_id(cell("release_id") or "", name="release_id")
    labels = [{"name": name.strip(), "catno": ""} for name in (cell("Label") or "").split(",") if name.strip()]
    if labels:
        labels[0]["catno"] = cell("Catalog#") or ""
    fmt = cell("Format")
    summary = {
        "release_id": release_id, "title": cell("Title") or "", "artist": cell("Artist") or "",
        "year": discogs_year(cell("Released")), "labels": labels,
        "formats": [{"name": fmt, "qty": "1", "descriptions": []}] if fmt else [],
        "country": None, "genres": [], "styles": [], "thumb": None,
    }  # fmt: skip
    rating = cell("Rating")
    custom = {name: cell(name) for name in row if name and name.startswith("Collection ") and name not in CSV_COLUMNS}
    extra = {
        "release_id": release_id, "folder": cell("CollectionFolder"),
        "rating": check_rating(rating),
        "date_added": cell("Date Added"), "released": cell("Released"), "catno": cell("Catalog#"),
        "fields": {k: v for k, v in custom.items() if v} or None,
    }  # fmt: skip
    return record_fields(summary, media=cell("Collection Media Condition"), sleeve=cell("Collection Sleeve Condition"),
                         notes=cell("Collection Notes"), extra=extra)  # fmt: skip


def _csv_summary(mapped: dict[str, Any]) -> dict[str, Any]:
    """The release facts a CSV row gives (artist, title, labels, format, year), for the release cache."""
    details = mapped["details"]
    return {"release_id": mapped["discogs_release_id"], "title": details.get("release_title", ""),
            "artist": details.get("artist", ""), "year": mapped["year"], "labels": details.get("labels", []),
            "formats": details.get("formats", []), "country": None}  # fmt: skip


def _open_csv(path: Path) -> io.TextIOWrapper:
    input_file(path)
    if path.stat().st_size > MAX_CSV_BYTES:
        raise InvalidInput(f"{path.name}: larger than 50 MB; is it a Discogs collection export?", code="INVALID_FILE")
    return path.open("r", encoding="utf-8-sig", newline="")


def import_discogs_csv(session: Session, owner_id: int, path: str | Path, *, dry_run: bool = False,
                       max_rows: int = DEFAULT_MAX_ROWS, batch_size: int = 500) -> RecordImportReport:  # fmt: skip
    """Preview (dry_run) or apply a Discogs collection CSV export; the caller owns the one transaction.

    A file that is not a Discogs collection export raises InvalidInput (one line) before anything is read
    into the collection; so does one with more than `max_rows` rows, when that row is reached (the caller
    then rolls back the rows written so far). A row with a value out of range is reported and skipped."""
    path = Path(path)
    report = RecordImportReport()
    upserter = _Upserter(session, owner_id, CSV_SOURCE, report, dry_run)
    seen: Counter[int] = Counter()
    try:
        with _open_csv(path) as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [name for name in CSV_REQUIRED if name not in header]
            if missing:
                raise InvalidInput(f"{path.name}: not a Discogs collection export (no column {', '.join(missing)}).",
                                   code="INVALID_FILE")  # fmt: skip
            batch: list[tuple[str, dict[str, Any]]] = []
            summaries: list[dict[str, Any]] = []
            for number, row in enumerate(reader, start=2):
                check_row_count(number - 1, max_rows)
                if None in row:
                    raise InvalidInput(f"{path.name}, line {number}: more fields than the header has.",
                                       code="INVALID_FILE")  # fmt: skip
                try:
                    mapped = _csv_mapped(row)
                except OutOfRange as error:
                    report.errors.append({"row": number, "reason": error.message})
                    report.skipped += 1
                    continue
                release_id = mapped["discogs_release_id"]
                if not dry_run and release_id not in seen:
                    summaries.append(_csv_summary(mapped))
                seen[release_id] += 1
                batch.append((f"{release_id}#{seen[release_id]}", mapped))
                if len(batch) >= batch_size:
                    upserter.apply(batch)
                    cache_releases(session, summaries, only_new=True)
                    batch, summaries = [], []
            if batch:
                upserter.apply(batch)
            cache_releases(session, summaries, only_new=True)
    except UnicodeDecodeError:
        raise InvalidInput(f"{path.name}: not a UTF-8 text file; is it a Discogs CSV export?",
                           code="INVALID_FILE") from None  # fmt: skip
    except csv.Error as error:
        raise InvalidInput(f"{path.name}: not a readable CSV file ({error}).", code="INVALID_FILE") from None
    return report


# ------------------------------------------------------------------------------------------ account
def _instance_mapped(instance: dict[str, Any], fields: dict[int, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    info = instance.get("basic_information") or {"id": instance["id"]}
    summary = release_summary(info)
    values = instance_field_values(instance, fields)
    extra = {
        "release_id": summary["release_id"], "instance_id": int(instance["instance_id"]),
        "folder_id": instance.get("folder_id"), "rating": check_rating(instance.get("rating")) or None,
        "date_added": instance.get("date_added"), "fields": dict(values.other) or None,
    }  # fmt: skip
    mapped = record_fields(summary, media=values.media, sleeve=values.sleeve, notes=values.notes, extra=extra)
    return summary, mapped


def _open_import_job(session: Session, owner_id: int, folder_id: int) -> Job:
    """The member's unfinished import of this folder (resume it), or a new one."""
    job = session.scalar(
        select(Job).where(Job.owner_id == owner_id, Job.kind == IMPORT_KIND, Job.service == ACCOUNT_SOURCE,
                          Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PAUSED)))
        .order_by(Job.id.desc()))  # fmt: skip
    if job is not None and (job.params or {}).get("folder") == folder_id:
        return job
    job = Job(owner_id=owner_id, kind=IMPORT_KIND, service=ACCOUNT_SOURCE, status=JobStatus.QUEUED,
              params={"folder": folder_id, "nextPage": 1, "pages": None, "created": 0, "updated": 0,
                      "unchanged": 0})  # fmt: skip
    session.add(job)
    session.flush()
    return job


def import_from_account(engine: Engine, settings: Settings, vault: Vault, owner_id: int, *, folder_id: int = 0,
                        progress: Callable[[int, int], None] | None = None,
                        api_options: dict[str, Any] | None = None) -> RecordImportReport:  # fmt: skip
    """Page through the member's collection (folder 0 = all) at the rate limit, one transaction per page.

    Resumable: the job remembers the next page, so after an interruption (a network failure, a killed
    process) running the import again continues where it stopped; pages already imported are not read again.
    Commits on its own (engine mode), because each page must stay imported even if a later one fails."""
    if folder_id < 0:
        raise InvalidInput("A folder id is 0 (all) or a folder of yours.", code="INVALID_FOLDER")
    with session_scope(engine) as session:
        job = _open_import_job(session, owner_id, folder_id)
        job.status, job.started_at, job.message = JobStatus.RUNNING, job.started_at or utcnow(), None
        job_id, params = job.id, dict(job.params or {})
        api = member_api(session, settings, vault, owner_id, **(api_options or {}))
    report = RecordImportReport(job=job_id, created=params.get("created", 0), updated=params.get("updated", 0),
                                unchanged=params.get("unchanged", 0))  # fmt: skip
    first_page = int(params.get("nextPage") or 1)
    page, pages = first_page, int(params.get("pages") or 0)
    try:
        with api:
            fields = {int(f["id"]): str(f.get("name")) for f in api.collection_fields()}
            for page, pages, entries in api.collection_pages(folder_id, start_page=first_page):
                with session_scope(engine) as session:
                    batch = []
                    summaries = []
                    for index, instance in enumerate(entries):
                        try:
                            summary, mapped = _instance_mapped(instance, fields)
                        except OutOfRange as error:
                            report.errors.append({"row": (page - 1) * PER_PAGE + index + 1, "reason":
                                                  f"copy {instance.get('instance_id')}: {error.message}"})  # fmt: skip
                            report.skipped += 1
                            continue
                        summaries.append(summary)
                        batch.append((str(instance["instance_id"]), mapped))
                    cache_releases(session, summaries)
                    _Upserter(session, owner_id, ACCOUNT_SOURCE, report, False).apply(batch)
                    stored = session.get(Job, job_id)
                    assert stored is not None
                    stored.params = {**(stored.params or {}), "nextPage": page + 1, "pages": pages,
                                     "created": report.created, "updated": report.updated,
                                     "unchanged": report.unchanged}  # fmt: skip
                if progress is not None:
                    progress(page, pages)
            report.calls = api.calls
    except ServiceError as error:
        report.stopped = f"{error.message} Run the import again to continue from page {page}."
        report.calls = api.calls
        with session_scope(engine) as session:
            stored = session.get(Job, job_id)
            if stored is not None:
                stored.status, stored.message = JobStatus.PAUSED, report.stopped
        report.pages = (page - 1, pages)
        return report
    with session_scope(engine) as session:
        stored = session.get(Job, job_id)
        if stored is not None:
            stored.status, stored.finished_at = JobStatus.DONE, utcnow()
    report.pages = (pages, pages)
    return report


def import_summaries(rows: Iterable[RecordImportReport]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for report in rows:
        total.update({"created": report.created, "updated": report.updated, "unchanged": report.unchanged})
    return dict(total)
