"""A Collection-page selection sent to the export wizards: which of the chosen items each service can take, and
why the others cannot go (a record without a Discogs release id, a coin without a Numista type, a card: no
service holds cards).

Why here and not in a page: the rule of what can be pushed belongs to each integration (its
``export_problem``, found through the registry); this module only splits a selection by it, owner-scoped, so
the Collection page and the Export page agree and tests read a typed result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.collection import list_items_by_id
from services.integrations.registry import exporters
from services.labels import SERVICE_LABELS, kind_label


@dataclass(frozen=True)
class Ineligible:
    """A chosen item that cannot be pushed, with the reason in words."""

    item_id: int
    title: str
    reason: str


@dataclass(frozen=True)
class ServiceSelection:
    """The chosen items of the kind one service holds: those it can take, and the others with the reason."""

    service: str  # the integration's name (numista, discogs)
    eligible: tuple[int, ...]
    ineligible: tuple[Ineligible, ...]


@dataclass(frozen=True)
class ExportSelection:
    """A selection split by service; ``unsupported``: items of a kind no service holds. Ids the member does
    not own are not found and left out."""

    services: tuple[ServiceSelection, ...]
    unsupported: tuple[Ineligible, ...] = ()

    def for_service(self, service: str) -> ServiceSelection:
        found = next((entry for entry in self.services if entry.service == service), None)
        return found if found is not None else ServiceSelection(service, (), ())

    @property
    def eligible_count(self) -> int:
        return sum(len(entry.eligible) for entry in self.services)


def split_for_export(session: Session, owner_id: int, item_ids: Iterable[int]) -> ExportSelection:
    """The owner's chosen items, split by the service that can take each (in the order chosen)."""
    wanted = list(dict.fromkeys(item_ids))
    by_id = {item.id: item for item in list_items_by_id(session, owner_id, wanted)}
    rules = exporters()
    eligible: dict[str, list[int]] = {name: [] for name, _rule in rules.values()}
    ineligible: dict[str, list[Ineligible]] = {name: [] for name, _rule in rules.values()}
    unsupported: list[Ineligible] = []
    takers = " and ".join(f"{kind_label(kind).lower()}s to {SERVICE_LABELS.get(name, name)}"
                          for kind, (name, _rule) in rules.items())  # fmt: skip
    for item_id in wanted:
        item = by_id.get(item_id)
        if item is None:
            continue
        if item.kind not in rules:
            unsupported.append(Ineligible(item.id, item.title, f"no service takes a {kind_label(item.kind).lower()} "
                                                               f"(Vitrine exports {takers})"))  # fmt: skip
            continue
        name, problem_of = rules[item.kind]
        problem = problem_of(item)
        if problem is None:
            eligible[name].append(item.id)
        else:
            ineligible[name].append(Ineligible(item.id, item.title, problem))
    services = tuple(ServiceSelection(name, tuple(eligible[name]), tuple(ineligible[name])) for name in eligible
                     if eligible[name] or ineligible[name])  # fmt: skip
    return ExportSelection(services, tuple(unsupported))
