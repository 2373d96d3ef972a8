"""Numista's command-line grammar (``export numista``), registered by services/integrations/registry.py.

Imports nothing but argparse and the vocabularies: building ``--help`` must not load the Numista client; the
handler is named by path and imported when the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from services.states import ON_SYNCED


def add_export_parser(export: Any, common: argparse.ArgumentParser) -> None:
    """``export numista``: registered on the ``export`` subcommand by the integrations registry."""
    numista = export.add_parser("numista", parents=[common], help="push coins to your Numista collection")
    chosen = numista.add_mutually_exclusive_group()
    chosen.add_argument("--all", action="store_true", help="every coin (those that cannot go are skipped)")
    chosen.add_argument("--item", type=int, action="append", metavar="ID", help="this coin (repeatable)")
    numista.add_argument("--collection", type=int, metavar="ID", help="target Numista collection (remembered)")
    numista.add_argument("--dry-run", action="store_true", help="show the exact bodies; queue and send nothing")
    numista.add_argument("--on-synced", choices=ON_SYNCED, help="coins already on Numista (default: remembered)")
    numista.add_argument("--no-internal-id", action="store_true", help="do not mark items with vitrine:<install>:<id>")
    numista.add_argument("--no-wait", action="store_true", help="queue the job and return (a worker pushes it)")
    numista.set_defaults(handler="services.integrations.numista.export_commands:cmd_export_numista")
