"""Starting the real server for the REST API tests and the API benchmark: `streamlit run app.py` on a free port
(the same command a user runs), with its own database and settings, and the CLI beside it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.secret_key import SECRET_KEY

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a server and of the CLI run beside it (local mode, no Redis unless given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINE_") and k != "REDIS_URL"}
    return env | {"DATABASE_URL": database_url, "VITRINE_MODE": "local", "VITRINE_SECRET_KEY": SECRET_KEY} | settings


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"CLI {args} failed ({done.returncode}): {done.stdout} {done.stderr}")
    return done.stdout


def new_token(env: dict[str, str], user: str | None = None, name: str = "tests") -> str:
    document = json.loads(cli(env, "tokens", "create", "--name", name, "--json", *(["--user", user] if user else [])))
    assert set(document) == {"id", "name", "token"} and document["name"] == name
    return document["token"]


@contextmanager
def serve(env: dict[str, str], log: Path | None = None) -> Iterator[str]:
    """A running server's base URL; stopped (and waited for) on exit."""
    port = free_port()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise AssertionError(f"the server exited with {server.returncode}")
            time.sleep(0.3)
        else:
            raise AssertionError("streamlit did not become healthy within 90 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        if log:
            out.close()
