"""All ORM models: `models.py` plus every `models_<area>.py` module an integration adds.

Importing this module registers every table on `Base.metadata`, which is what migrations, the engine's
first start and the tests compare against.
"""

from __future__ import annotations

import importlib
import pkgutil

import services.store as _package
from services.store.models import Base

for _module in pkgutil.iter_modules(_package.__path__):
    if _module.name.startswith("models_"):
        importlib.import_module(f"{_package.__name__}.{_module.name}")

metadata = Base.metadata
