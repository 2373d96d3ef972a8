"""The command line (`python -m services ...`): a stable contract for users and scripts (DESIGN.md).

Every command prints a human summary, or one JSON document with --json. Exit status: 0 success,
1 when some items failed, 2 on bad arguments or bad input (one-line reason on stderr), 3 on an internal
error (one line on stderr; the traceback goes to data/vitrine.log, never to the user).

Start-up stays cheap (issue 14): the grammar (services/cli_parsers.py) imports no database or HTTP code, and
the command's handler, the settings, the database and the accounts are imported only once a command runs,
so ``--help`` and a usage error never pay for them, and each command pays only for what it uses.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from services.cli_parsers import UsageError, build_parser
from services.errors import VitrineError
from services.integrations.registry import resolve

EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
log = logging.getLogger("vitrine.cli")


def _emit_error(error_code: str, message: str, as_json: bool, status: int = EXIT_BAD_INPUT) -> int:
    if as_json:
        print(json.dumps({"error": {"code": error_code, "message": message}}))
    print(message, file=sys.stderr)
    return status


def _log_file() -> Path:
    """Read here, not through Settings: the log must work even when the settings themselves are what failed."""
    configured = os.environ.get("VITRINE_LOG_FILE")
    if configured:
        return Path(configured)
    from services.config import DATA_DIR

    return DATA_DIR / "vitrine.log"


def _log_internal_error(argv: list[str]) -> str:
    """Append the traceback of the exception being handled to the log file; return where it went.

    The user sees one line pointing here, never the traceback (it can name paths, SQL and values)."""
    handler: logging.Handler
    try:
        log_file = _log_file()
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
        where = str(log_file)
    except (OSError, ImportError):
        handler, where = logging.StreamHandler(open(os.devnull, "w")), "(log file not writable)"  # noqa: SIM115
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    try:
        command = " ".join(arg for arg in argv[:3] if not arg.startswith("-"))
        log.exception("internal error in `%s`", command)
    finally:
        log.removeHandler(handler)
        handler.close()
    return where


def _started() -> None:
    """Collect garbage again once start-up's imports are done, if the process entry point (services/__main__.py)
    paused the collector for them. What start-up allocates (modules, classes, mappers, the first statements)
    lives as long as the process: the collector's passes over it while it grows were about a third of an empty
    `value --json` (issue 14). Frozen, it is never scanned again, so a long command's collections stay short too."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:
        return _emit_error("BAD_ARGUMENTS", str(error), as_json)
    try:
        from services.accounts.users import resolve_user
        from services.context import open_context

        context = open_context()
        with context.session() as session:
            # Operator commands (users ..., worker) act for nobody: no --user needed, in club mode too.
            operator = getattr(args, "operator", False)
            actor = None if operator else resolve_user(
                session, args.user, club_mode=context.settings.club_mode, currency=context.settings.currency
            )  # fmt: skip
            handler = resolve(args.handler)
            _started()
            document, summary, status = handler(context, session, actor, args)
    except VitrineError as error:
        return _emit_error(error.code, error.message, as_json)
    except KeyboardInterrupt:
        return _emit_error("INTERRUPTED", "Interrupted; nothing of the unfinished command was saved.", as_json, 130)
    except Exception as error:  # the boundary: whatever slipped through is logged, never shown as a traceback
        where = _log_internal_error(argv)
        message = f"internal error ({type(error).__name__}); nothing was saved. Details: {where}"
        return _emit_error("INTERNAL_ERROR", message, as_json, EXIT_INTERNAL)
    print(json.dumps(document, ensure_ascii=False, default=str) if args.json else summary)
    return int(status)
