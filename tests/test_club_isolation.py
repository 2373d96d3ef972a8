"""Two members of one club, on SQLite and PostgreSQL: nothing one does or guesses reaches the other's items,
jobs or connections, whether through the services, the command line (--user), the pages or a cached value."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services import collection
from services.accounts import members
from services.context import open_context
from services.demo import load_demo
from services.errors import NotFound
from services.store.models import Job, User
from services.sync import engine as jobs
from tests.club_support import sign_in, start_club
from tests.test_cli import run, run_json

ROOT = Path(__file__).resolve().parents[1]


def _ann_job(session: Session, owner_id: int) -> Job:
    job = Job(owner_id=owner_id, kind=jobs.JOB_KIND, service="numista", status="paused", params={})
    session.add(job)
    session.flush()
    return job


def test_guessed_job_ids_of_another_member_are_not_found(session: Session, owner: User, other_owner: User) -> None:
    job = _ann_job(session, owner.id)
    for action in (jobs.get_job, jobs.pause_job, jobs.resume_job, jobs.retry_failed, jobs.cancel_job):
        with pytest.raises(NotFound):
            action(session, other_owner.id, job.id)
    assert jobs.list_jobs(session, other_owner.id) == []
    assert jobs.get_job(session, owner.id, job.id).status == "paused", "untouched"


def test_every_cached_read_is_keyed_by_the_member() -> None:
    """st.cache_data is shared by every session of a server: each cached function must take the owner's id."""
    cached = []
    for path in [*ROOT.joinpath("ui").glob("*.py"), *ROOT.joinpath("pages").glob("*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any("cache_data" in ast.unparse(d) for d in node.decorator_list):
                cached.append((path.name, node.name, [a.arg for a in node.args.args]))
    assert len(cached) >= 4, cached
    for file, name, args in cached:
        assert args and args[0] in {"owner_id", "user_id"}, f"{file}:{name} is cached without the member: {args}"


@pytest.fixture
def club_on_postgres(
    postgres_engine: Engine, club_app_env: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, int]:
    """The app and the CLI on the PostgreSQL test database, emptied, with ann (demo collection and a job) and bob."""
    from services.store.db import dispose_engine
    from tests.conftest import POSTGRES_URL, _truncate

    _truncate(postgres_engine)
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    dispose_engine(POSTGRES_URL)
    with open_context().session() as session:
        ann, _ = members.add_member(session, "ann", "ann's long password", admin=True)
        bob, _ = members.add_member(session, "bob", "bob's long password")
        load_demo(session, ann.id)
        job = _ann_job(session, ann.id)
        item = collection.list_items(session, ann.id)[0]
        return {"ann": ann.id, "bob": bob.id, "job": job.id, "item": item.id}


@pytest.mark.postgres
def test_cli_with_user_never_reaches_the_other_member(club_on_postgres: dict[str, int]) -> None:
    ids = club_on_postgres
    assert len(run_json("items", "list", "--user", "ann")) > 5
    assert run_json("items", "list", "--user", "bob") == []
    assert run_json("value", "--user", "bob")["totalItems"] == 0
    assert run_json("jobs", "list", "--user", "bob") == []
    for command in (("jobs", "cancel", str(ids["job"])), ("jobs", "resume", str(ids["job"]), "--no-wait")):
        guessed = run(*command, "--user", "bob", "--json")
        assert guessed.returncode == 2 and json.loads(guessed.stdout)["error"]["code"].endswith("NOT_FOUND"), command
    assert run_json("jobs", "list", "--user", "ann")[0]["status"] == "paused", "ann's job untouched"


@pytest.mark.postgres
def test_pages_and_caches_show_each_member_only_their_own(club_on_postgres: dict[str, int]) -> None:
    ann = sign_in(start_club(), "ann", "ann's long password")
    assert ann.metric and "empty" not in " ".join(i.value for i in ann.info)  # ann's valuation is now cached
    bob = sign_in(start_club(), "bob", "bob's long password")
    assert "empty" in bob.info[0].value, "bob gets his own (empty) valuation, not ann's cached one"
    bob.switch_page("pages/collection.py").run()
    assert not bob.exception and all(len(frame.value) == 0 for frame in bob.dataframe)
    bob.query_params["goto"] = "admin"  # a crafted URL cannot route a member to the admins' page
    bob.run()
    assert not bob.exception and "Admin" not in [t.value for t in bob.title]
    with open_context().session() as session, pytest.raises(NotFound):
        collection.get_item(session, club_on_postgres["bob"], club_on_postgres["item"])



@pytest.mark.postgres
def test_no_secret_in_clear_text_in_the_database_or_the_pages(
    club_on_postgres: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    """After sign-ins (right and wrong), a lockout, a reset and a stored Numista key, a dump of every table,
    every page an admin sees and every log record (any level) hold no password, key or token in clear text."""
    import logging

    from sqlalchemy import text

    from app import MEMBER_PAGES

    caplog.set_level(logging.DEBUG)

    from services.accounts import connections
    from services.store.registry import metadata
    from tests.club_support import COOKIE_KEY, submit_sign_in

    numista_key = "ann-numista-key-0123456789"
    context = open_context()
    with context.session() as session:
        connections.save_secret(session, context.vault, club_on_postgres["ann"], "numista", numista_key)
    at = start_club()
    for _ in range(5):
        submit_sign_in(at, "bob", "bob's guessed password")
    ann = sign_in(start_club(), "ann", "ann's long password")
    ann.switch_page("pages/admin.py").run()
    ann.selectbox(key="admin_member").select("bob").run()
    ann.button(key="admin_reset").click().run()
    temporary = ann.success[0].value.split("`")[1]
    shown = " ".join(str(element.value) for kind in ("markdown", "caption", "info", "success", "error", "metric")
                     for element in getattr(ann, kind))  # fmt: skip
    shown += " ".join(frame.value.to_string() for frame in ann.dataframe)
    for name, _title, _icon in MEMBER_PAGES:
        ann.switch_page(f"pages/{name}.py").run()
        shown += " ".join(str(element.value) for kind in ("markdown", "caption", "info", "success", "error",
                                                           "warning", "metric", "text_input", "code")
                          for element in getattr(ann, kind))  # fmt: skip
    with context.engine.connect() as connection:
        tables = [connection.execute(text(f"SELECT * FROM {table.name}")) for table in metadata.sorted_tables]
        dump = " ".join(str(row) for rows in tables for row in rows)
    assert "scrypt$" in dump and "locked_out" in dump and "password_reset" in dump, "the dump holds what was done"
    secrets = {
        "passwords": ["ann's long password", "bob's long password", "bob's guessed password", temporary],
        "keys": [COOKIE_KEY, context.settings.secret_key or "", numista_key],
    }
    for secret in [*secrets["passwords"], *secrets["keys"]]:
        assert secret not in dump, secret[:6]
    for secret in [*secrets["passwords"][:3], *secrets["keys"]]:
        assert secret not in shown, secret[:6]
    logged = caplog.text + " ".join(str(record.args) for record in caplog.records)
    assert caplog.records, "records were captured (sign-ins, lockout, page runs)"
    for secret in [*secrets["passwords"], *secrets["keys"]]:
        assert secret not in logged, secret[:6]
