"""Benchmark: what a command line call costs before and around its work (issue 14: `--help` ≤ 0.3 s and
`value --json` on an empty database ≤ 0.6 s of process time).

Runs each command N times, round robin, in a fresh `python -m services` process and prints the median process time
(user + system CPU of the child, from os.wait4: what the call costs whatever else the machine is doing) and
the median wall time, next to a bare `python -c pass` (the interpreter's own start, the floor):

- `--help`: builds the whole command grammar, imports no database or HTTP stack;
- `value --json` on a migrated, empty database (the first, unmeasured run creates and migrates it);
- `items list --json` on the same database;
- `import sqlalchemy.orm` alone, in a plain interpreter: the ORM's own import, the bulk of every database
  command's start.

Bytecode is cached in a private folder (PYTHONPYCACHEPREFIX) and warmed by an unmeasured first run, as it
is on a user's machine (a sandbox that sets PYTHONDONTWRITEBYTECODE would otherwise recompile every module
of the project on every call). Numbers only: the machine may be shared.

    python bench/cli_start.py [--runs 15]

bench/scale.py prints the same lines in its report (its `cli` section).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
SECRET_KEY = Fernet.generate_key().decode()  # this run's installation only
COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "--help": ["-m", "services", "--help"],
    "value --json": ["-m", "services", "value", "--json"],
    "items list --json": ["-m", "services", "items", "list", "--json"],
    "import sqlalchemy.orm": ["-c", "import sqlalchemy.orm"],
}


def run_once(arguments: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(process seconds, wall seconds) of one child; fails loudly when the command fails."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, *arguments], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    errors = child.stderr.read().decode() if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(arguments)} exited {child.returncode}: {errors.strip()}")
    return usage.ru_utime + usage.ru_stime, wall


def report(runs: int) -> None:
    """Print each command's median process and wall time over `runs` fresh processes (+ one warm-up each)."""
    print(f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="vitrine-cli-start-") as folder:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env |= {
            "DATABASE_URL": f"sqlite:///{Path(folder) / 'empty.db'}",
            "VITRINE_SECRET_KEY": SECRET_KEY,
            "VITRINE_MODE": "local",
            "VITRINE_LOG_FILE": str(Path(folder) / "vitrine.log"),
            "PYTHONPYCACHEPREFIX": str(Path(folder) / "pycache"),
        }
        for arguments in COMMANDS.values():
            run_once(arguments, env)  # warms the bytecode cache; the first `value` creates and migrates the db
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
        for _ in range(runs):  # round robin: a burst of load on a shared machine falls on every command alike
            for name, arguments in COMMANDS.items():
                samples[name].append(run_once(arguments, env))
        print(f"{'command':<22} {'process s':>10} {'wall s':>8}   (median of {runs} runs)")
        for name, timings in samples.items():
            process = statistics.median(t[0] for t in timings)
            wall = statistics.median(t[1] for t in timings)
            print(f"{name:<22} {process:>10.3f} {wall:>8.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    report(parser.parse_args().runs)


if __name__ == "__main__":
    main()
