"""Discogs' command-line grammar, registered by services/integrations/registry.py: it adds ``discogs`` to
``connect``, ``import``, ``catalog search``, ``export`` and ``prices refresh --kind record``.

Imports nothing but argparse and the vocabularies: building ``--help`` must not load the OAuth and HTTP
stack; the handlers (commands.py) are named by path and imported when a command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from services.cli_parsers import subcommands
from services.states import DiscogsTarget

HANDLERS = "services.integrations.discogs.commands"


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the Discogs sub-commands to ``connect``, ``import``, ``catalog search``, ``export`` and ``prices``."""
    connect = subcommands(commands.choices["connect"]).add_parser(
        "discogs", parents=[common], help="OAuth: prints the authorize URL, reads the verifier from stdin")
    how = connect.add_mutually_exclusive_group()
    how.add_argument("--personal-token", action="store_true", help="a Discogs personal access token from stdin")
    how.add_argument("--disconnect", action="store_true", help="forget your Discogs tokens")
    connect.set_defaults(handler=f"{HANDLERS}:cmd_connect_discogs")

    imports = subcommands(commands.choices["import"])
    account = imports.add_parser("discogs", parents=[common], help="your Discogs collection (resumable)")
    account.add_argument("--folder", type=int, default=0, metavar="ID", help="one folder (default 0: all)")
    account.set_defaults(handler=f"{HANDLERS}:cmd_import_discogs")
    csv_file = imports.add_parser("discogs-csv", parents=[common], help="a Discogs collection CSV export")
    csv_file.add_argument("file", metavar="FILE")
    csv_file.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    csv_file.set_defaults(handler=f"{HANDLERS}:cmd_import_discogs_csv")

    search = subcommands(subcommands(commands.choices["catalog"]).choices["search"]).add_parser(
        "discogs", parents=[common], help="Discogs releases (your account) to link records")
    search.add_argument("query", metavar="QUERY", nargs="?", default="")
    search.add_argument("--barcode", metavar="B")
    search.add_argument("--catno", metavar="C", help="catalogue number")
    search.add_argument("--link", type=int, metavar="ITEM", help="link this record to the release picked")
    search.add_argument("--pick", type=int, metavar="N", help="with --link: the N-th result (default: the only one)")
    search.set_defaults(handler=f"{HANDLERS}:cmd_catalog_search_discogs")

    export = subcommands(commands.choices["export"]).add_parser(
        "discogs", parents=[common], help="push records to your Discogs collection, wantlist or marketplace")
    export.add_argument("--target", choices=tuple(DiscogsTarget), required=True)
    chosen = export.add_mutually_exclusive_group()
    chosen.add_argument("--all", action="store_true", help="every record (those that cannot go are skipped)")
    chosen.add_argument("--item", type=int, action="append", metavar="ID", help="this record (repeatable)")
    export.add_argument("--folder", type=int, default=1, metavar="ID", help="collection folder (default 1)")
    export.add_argument("--another-copy", action="store_true", help="add a copy even if the release is there")
    export.add_argument("--price", help="marketplace: the price of every listing (default: Discogs' suggestion)")
    export.add_argument("--for-sale", action="store_true", help="marketplace: list For Sale instead of Draft")
    export.add_argument("--dry-run", action="store_true", help="show what would be sent; queue and send nothing")
    export.add_argument("--no-wait", action="store_true", help="queue the job and return (a worker pushes it)")
    export.set_defaults(handler=f"{HANDLERS}:cmd_export_discogs")

    refresh = subcommands(commands.choices["prices"]).choices["refresh"]
    refresh.set_defaults(handler=f"{HANDLERS}:cmd_prices_refresh", other_kinds_handler=refresh.get_default("handler"))
