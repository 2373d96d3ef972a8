"""Importers: parse a file from another collection tool → preview → commit (DESIGN.md, services/importers).

Readers here are pure and read-only; committing to our database is the caller's job.
"""

from services.importers.opennumismat import OpenNumismatImages, read_opennumismat
from services.importers.opennumismat_models import (
    CoinImage,
    ImageRef,
    OpenNumismatCoin,
    OpenNumismatCollection,
    OpenNumismatTag,
)
from services.importers.opennumismat_schema import STATUSES, UNKNOWN_STATUS, OpenNumismatError

__all__ = [
    "STATUSES",
    "UNKNOWN_STATUS",
    "CoinImage",
    "ImageRef",
    "OpenNumismatCoin",
    "OpenNumismatCollection",
    "OpenNumismatError",
    "OpenNumismatImages",
    "OpenNumismatTag",
    "read_opennumismat",
]
