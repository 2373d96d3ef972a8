"""Helpers and fixtures shared by the push-engine tests (imported by tests/test_sync_*.py and
tests/test_numista_export*.py). No tests here: only real objects wired to the test database and emulator."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, update

from services.accounts.connections import save_secret
from services.accounts.vault import Vault
from services.collection import add_item
from services.config import Settings, load_settings
from services.integrations.numista.pusher import NumistaPusher, export_options, plan_export, start_export
from services.integrations.numista.quota import set_monthly_limit
from services.store.db import create_configured_engine, init_db, session_scope
from services.store.models import Job, JobItem, SyncLedger, User
from services.sync import engine as jobs
from services.sync.markers import SCHEME_PARAM, install_id, marker_for, parse_marker
from services.sync.worker import Worker, WorkerConfig
from tests.emulators.base import HTTPError, RecordedRequest, Response
from tests.emulators.numista import DEMO_API_KEY, DEMO_USER_ID, NumistaEmulator

FAST = WorkerConfig(poll_seconds=0.05, heartbeat_seconds=0.2, stale_after=1.0, settle_seconds=0.3, max_attempts=6)


class FlakyNumista(NumistaEmulator):
    """Numista answering some POSTs with 500: before acting (nothing created) or AFTER creating the item (the
    answer is lost on the way back, the case a blind retry would duplicate). Records every answer's status."""

    def __init__(self, *, fail_before: float = 0.0, fail_after: float = 0.0, seed: int = 6, **options: Any) -> None:
        self.fail_before, self.fail_after = fail_before, fail_after
        self.rng = random.Random(seed)
        self.acted_then_failed: set[int] = set()
        self.answers: list[tuple[str, str, int]] = []
        self.injected = {"before": 0, "after": 0}
        super().__init__(**options)

    def before_request(self, request: RecordedRequest) -> Response | None:
        early = super().before_request(request)
        if request.method == "POST" and request.path.endswith("/collected_items"):
            draw = self.rng.random()
            if draw < self.fail_before:
                self.injected["before"] += 1
                raise HTTPError(500, "Injected fault before acting")
            if draw < self.fail_before + self.fail_after:
                self.acted_then_failed.add(id(request))
        return early

    def after_response(self, request: RecordedRequest, response: Response) -> None:
        if id(request) in self.acted_then_failed and response.status == 201:
            self.acted_then_failed.discard(id(request))
            self.injected["after"] += 1
            response.status, response.body = 500, self.error_body(500, "Injected fault after acting")
        self.answers.append((request.method, request.path, response.status))


def numista_settings(emulator: NumistaEmulator, database_url: str = "sqlite://") -> Settings:
    """Settings pointing at the emulator, with no artificial client-side throttle."""
    return load_settings(
        {"NUMISTA_API_URL": emulator.base_url, "DATABASE_URL": database_url, "NUMISTA_RATE_LIMIT": "10000",
         "HTTP_BACKOFF_BASE": "0.01", "HTTP_TIMEOUT": "5"}
    )  # fmt: skip


@dataclass
class Env:
    """One owner with a Numista key, on a real database and a running emulator."""

    engine: Engine
    emulator: NumistaEmulator
    settings: Settings
    vault: Vault
    owner_id: int

    def pusher(self, settle_seconds: float = FAST.settle_seconds, **api_options: Any) -> NumistaPusher:
        return NumistaPusher(self.engine, self.settings, self.vault, settle_seconds=settle_seconds,
                             api_options=api_options)  # fmt: skip

    def worker(self, config: WorkerConfig = FAST, pusher: Callable[..., Any] | None = None, **kwargs: Any) -> Worker:
        return Worker(self.engine, {"numista": pusher or self.pusher(config.settle_seconds)}, config, **kwargs)

    @property
    def install_id(self) -> str:
        with session_scope(self.engine) as session:
            return install_id(session)

    def marker(self, item_id: int, copy_tag: str | None = None) -> str:
        """The internal id this installation writes on the Numista copy of `item_id`."""
        return marker_for(self.install_id, item_id, copy_tag)

    def remote(self) -> list[dict[str, Any]]:
        return self.emulator.collected_items_for(DEMO_USER_ID)

    def remote_ours(self) -> list[dict[str, Any]]:
        """The remote items carrying this installation's markers (not another installation's)."""
        install = self.install_id
        return [i for i in self.remote() if (parse_marker(i.get("internal_id")) or (None,))[0] == install]


def make_env(engine: Engine, emulator: NumistaEmulator, owner: User, *, quota: int = 100_000) -> Env:
    vault = Vault(Fernet.generate_key())
    with session_scope(engine) as session:
        save_secret(session, vault, owner.id, "numista", DEMO_API_KEY)
        set_monthly_limit(session, owner.id, quota)
    return Env(engine, emulator, numista_settings(emulator), vault, owner.id)


def prepare_env(engine: Engine, session: Any, owner: User, emulator: NumistaEmulator, **options: Any) -> Env:
    """For a test module's fixture: commit the fixture session (the worker uses its own connections)."""
    session.commit()
    return make_env(engine, emulator, owner, **options)


def type_issue_pairs(emulator: NumistaEmulator) -> list[tuple[int, int | None]]:
    """Every (type, issue) of the emulator's catalogue, plus each type without an issue."""
    pairs: list[tuple[int, int | None]] = []
    for type_id in sorted(emulator.state.types):
        pairs.append((type_id, None))
        pairs.extend((type_id, issue["id"]) for issue in emulator.state.issues.get(type_id, []))
    return pairs


GRADES = ("F", "VF", "XF", "AU", "UNC", "sehr schön", "Proof", None)


def add_coins(env: Env, count: int, *, offset: int = 0, **fields: Any) -> list[int]:
    """`count` varied, exportable coins (types, issues, grades, prices, places, notes, measurements);
    `offset` starts further along the catalogue's (type, issue) pairs."""
    pairs = itertools.islice(itertools.cycle(type_issue_pairs(env.emulator)), offset, None)
    ids: list[int] = []
    with session_scope(env.engine) as session:
        for number in range(count):
            type_id, issue_id = next(pairs)
            values: dict[str, Any] = {
                "numista_type_id": type_id, "numista_issue_id": issue_id, "grade": GRADES[number % len(GRADES)],
                "quantity": 1 + number % 3, "status": "sale" if number % 11 == 0 else "owned",
                "acquired_price": Decimal(number % 40) + Decimal("0.25") if number % 5 else None,
                "acquired_currency": "EUR" if number % 2 else None, "acquired_date": date(2020, 1, 1 + number % 28),
                "acquired_place": f"Fair {number % 7}" if number % 3 else None, "storage_location": f"Box {number % 4}",
                "notes": f"Coin {number}\n\n<!-- NUMISMAT_ENRICHMENT_DATA\n{{}}\n-->" if number % 4 == 0 else None,
                "details": {"weight": 5.0, "diameter": 20.0, **({"real_weight": 4.9} if number % 6 == 0 else {})},
            }  # fmt: skip
            values.update(fields)
            item = add_item(session, env.owner_id, kind="coin", title=f"Coin {number}", **values)
            ids.append(item.id)
    return ids


def queue_export(env: Env, item_ids: list[int] | None = None, *, collection: int | None = 1001,
                 on_synced: str = "skip", use_internal_id: bool | None = None) -> int:  # fmt: skip
    with session_scope(env.engine) as session:
        options = export_options(session, env.owner_id, collection_id=collection, use_internal_id=use_internal_id)
        plan = plan_export(session, env.owner_id, item_ids, options, on_synced=on_synced)
        return start_export(session, env.owner_id, plan, options, on_synced=on_synced)


def run_until_settled(worker: Worker, job_id: int, timeout: float = 120.0) -> None:
    """Run `worker` for one job in a thread; fail (not hang) if it does not settle in time."""
    thread = threading.Thread(target=worker.run, kwargs={"job_id": job_id}, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        worker.stop(timeout=10)
        raise AssertionError(f"job {job_id} did not settle within {timeout} s")


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


def job_status(engine: Engine, job_id: int) -> str:
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.status


def row_statuses(engine: Engine, job_id: int) -> dict[int, str]:
    with session_scope(engine) as session:
        return dict(session.execute(select(JobItem.item_id, JobItem.status).where(JobItem.job_id == job_id)).all())


def ledger(engine: Engine, item_ids: list[int]) -> dict[int, SyncLedger]:
    with session_scope(engine) as session:
        return jobs.ledger_rows(session, "numista", item_ids)


def assert_each_exactly_once(env: Env, item_ids: set[int]) -> None:
    """Every coin is on the server once (by internal id) and the ledger points at that very item."""
    by_internal: dict[str, list[int]] = {}
    for remote in env.remote_ours():
        by_internal.setdefault(remote["internal_id"], []).append(remote["id"])
    expected = {env.marker(item_id) for item_id in item_ids}
    assert set(by_internal) == expected, set(by_internal) ^ expected
    twins = {key: ids for key, ids in by_internal.items() if len(ids) != 1}
    assert not twins, twins
    rows = ledger(env.engine, list(item_ids))
    for item_id in item_ids:
        assert rows[item_id].status == "SYNCED", (item_id, rows[item_id].status, rows[item_id].last_error)
        assert [int(rows[item_id].remote_id)] == by_internal[env.marker(item_id)]


def wait_task(engine: Engine, task: str, timeout: float = 60.0) -> None:
    """Wait until the latest background task (services/tasks.py) of this name has ended."""

    def ended() -> bool:
        with session_scope(engine) as session:
            job = session.scalar(
                select(Job).where(Job.kind == "task", Job.service == task).order_by(Job.id.desc()).limit(1)
            )
            return job is not None and job.status not in ("queued", "running")

    wait_for(ended, timeout=timeout)


def second_install(path: Any) -> Engine:
    """Another installation's database (a SQLite file at `path`): its own install id, the same item ids as
    the test's database. Dispose of it after the test."""
    engine = create_configured_engine(f"sqlite:///{path}")
    init_db(engine)
    return engine


def mark_uncertain(engine: Engine, job_id: int, *, legacy: bool) -> None:
    """Every row of the job as after a push whose answers were lost (may have reached the service); `legacy`:
    the job was created by a Vitrine that wrote ``vitrine:<item id>`` markers (services.sync.markers)."""
    with session_scope(engine) as session:
        session.execute(update(JobItem).where(JobItem.job_id == job_id).values(status="retry", attempts=1))
        if legacy:
            job = session.get(Job, job_id)
            assert job is not None
            job.params = {k: v for k, v in (job.params or {}).items() if k != SCHEME_PARAM}
