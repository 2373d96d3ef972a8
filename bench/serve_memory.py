"""Benchmark (issue 14): the Streamlit server's resident memory after opening every page over a big collection
(target ≤ 500 MB).

Builds the bench/scale_fixture.py collection of --items entries in a temporary SQLite file, its member renamed
to the local owner so that local mode's pages show it, starts `streamlit run app.py` headless on a free port
(as tests/test_e2e_browser.py does), and opens every member page in one browser session, Chromium driven by
Playwright (the pages only run, and so only load their data, in a browser that holds the session's
websocket): the Overview first, then each page from the sidebar, waiting for its script run to end. After
each page it prints the resident memory (VmRSS from /proc) of the server process and of any children, and
at the end the server's peak (VmHWM). Numbers only: the machine may be shared.

    python bench/serve_memory.py [--items 100000] [--page-timeout 900]

bench/scale.py prints the same lines in its report (its `memory` section).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.scale_fixture import build  # noqa: E402
from services.accounts import LOCAL_USERNAME  # noqa: E402
from services.store.db import create_configured_engine, init_db  # noqa: E402
from services.store.models import User  # noqa: E402

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
SECRET_KEY = Fernet.generate_key().decode()  # this run's installation only
FIRST_PAGE = "overview"
CLUB_ONLY_PAGES = {"admin"}  # app.py shows it to club admins only; local mode has no Admin page
TARGET_MB = 500


def member_pages() -> list[str]:
    """The url paths of local mode's pages: app.py routes each page by its file's name."""
    names = sorted(path.stem for path in (ROOT / "pages").glob("*.py") if path.stem not in CLUB_ONLY_PAGES)
    return [FIRST_PAGE, *(name for name in names if name != FIRST_PAGE)]


def build_database(folder: Path, items: int) -> str:
    """A SQLite file holding the scale collection, owned by the local owner; its URL."""
    url = f"sqlite:///{folder / 'scale.db'}"
    engine = create_configured_engine(url)
    init_db(engine)
    with Session(engine) as session:
        collection = build(session, items)
        session.execute(update(User).where(User.id == collection.owner_id).values(username=LOCAL_USERNAME))
        session.commit()
    engine.dispose()
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(folder: Path, database_url: str) -> Iterator[tuple[str, int]]:
    """`streamlit run app.py` over `database_url`: (its URL, its process id), once healthy."""
    env = os.environ | {"DATABASE_URL": database_url, "VITRINE_MODE": "local", "VITRINE_SECRET_KEY": SECRET_KEY,
                        "VITRINE_LOG_FILE": str(folder / "vitrine.log")}  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("streamlit did not become healthy within 120 s")
            time.sleep(0.3)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def _status_kb(pid: int, field: str) -> int:
    """A memory line of /proc/<pid>/status in kB (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def resident_mb(pid: int) -> float:
    """VmRSS of the process and all its descendants, in MB."""
    return sum(_status_kb(each, "VmRSS") for each in [pid, *_descendants(pid)]) / 1024


def open_pages(url: str, pid: int, page_timeout: float) -> None:
    """Open every page in one browser session, printing the server's memory after each."""
    from playwright.sync_api import expect, sync_playwright

    print(f"  {'page':<14} {'load s':>7} {'server RSS':>11}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(page_timeout * 1000)
        title = tab.locator("[data-testid='stMain'] h1").first
        for name in member_pages():
            started = time.perf_counter()
            if name == FIRST_PAGE:
                tab.goto(url)
                title.wait_for()
            else:
                shown = title.inner_text()
                tab.locator(f"[data-testid='stSidebarNav'] a[href$='/{name}']").click()
                expect(title).not_to_have_text(shown, timeout=page_timeout * 1000)  # the new page's own title
            tab.wait_for_function(
                "document.querySelector(\"[data-testid='stApp']\")?.dataset.testScriptState !== 'running'"
            )
            if tab.locator("[data-testid='stException']").count():
                raise SystemExit(f"the {name} page shows an exception")
            print(f"  {name:<14} {time.perf_counter() - started:>7.1f} {resident_mb(pid):>8.0f} MB", flush=True)
        browser.close()


def report(items: int, page_timeout: float = 900) -> None:
    """Build the collection, serve it, open every page and print the server's memory."""
    if not CHROMIUM.exists():
        print(f"(no Chromium at {CHROMIUM}: not measured; apt-get install chromium, or set CHROMIUM_PATH)")
        return
    print(f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="vitrine-memory-") as name:
        folder = Path(name)
        started = time.perf_counter()
        database_url = build_database(folder, items)
        print(f"Streamlit server over {items:,} items in SQLite (built in {time.perf_counter() - started:.0f} s)")
        with serve(folder, database_url) as (url, pid):
            print(f"  {'(started)':<14} {'':>7} {resident_mb(pid):>8.0f} MB")
            open_pages(url, pid, page_timeout)
            peak = _status_kb(pid, "VmHWM") / 1024
            print(f"  server peak (VmHWM) {peak:.0f} MB, now {resident_mb(pid):.0f} MB (target ≤ {TARGET_MB} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="collection size (default 100000)")
    parser.add_argument("--page-timeout", type=float, default=900, help="seconds a page may take (default 900)")
    args = parser.parse_args()
    report(args.items, args.page_timeout)


if __name__ == "__main__":
    main()
