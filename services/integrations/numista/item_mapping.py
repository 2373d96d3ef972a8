"""Our coin → a Numista ``collected_item`` request body, validated against Numista's own swagger schema.

Why a module of its own: the push engine, the export wizard's preview and the CLI's ``--dry-run`` must
agree byte for byte on what is sent, and on why a field is left out. Field semantics (notes/numista.md §8):

* ``type``/``issue`` from the coin's Numista link; a coin without a type cannot be pushed (excluded).
* ``price`` is the **buying price** (OpenNumismat ``payprice``) in the currency it was paid in (the user's
  currency when unknown), never a catalogue estimate; ``acquisition_date``/``acquisition_place`` are
  ``paydate``/``payplace`` (never the *sale* fields); ``storage_location`` is ``storage``.
* ``grade``: a per-coin override first, then the grade text through the user's grade mapping, then the
  grade code stored on the coin; unmappable grades are omitted, never guessed.
* ``for_swap``: status ``sale`` or the per-coin "for swap" checkbox.
* ``private_comment``: the note without any NumiSync metadata block (and without HTML markup).
* ``internal_id`` = ``vitrine:<install id>:<item id>`` (services.sync.markers) unless the user opted out:
  it is how a retried push finds the copy an earlier, unconfirmed attempt may have created, and only this
  installation's copy: another Vitrine pushing to the same account has items with the same ids.
* ``weight``/``size`` only when the user *measured* them (``real_weight``/``real_diameter``); the
  catalogue's values describe the type, not this coin. ``axis`` only when it is an exact clock position.
* Items that are not held (wish, sold, pass, demo, bidding) are excluded with a reason.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from services.grades import GradeMapper, is_numista_grade
from services.importers.opennumismat_links import split_numisync_note
from services.states import NOT_HELD_STATUSES
from services.sync.markers import legacy_marker_for, marker_for, parse_marker

SWAGGER_FILE = Path(__file__).resolve().parent / "data" / "numista_swagger.yaml"
COLLECTED_ITEMS_PATH = "/users/{user_id}/collected_items"
COLLECTED_ITEM_PATH = "/users/{user_id}/collected_items/{item_id}"
NULLABLE_ON_PATCH = ("issue", "grade", "price")
FIELD_ORDER = (
    "type", "issue", "quantity", "grade", "for_swap", "price", "collection", "acquisition_date",
    "acquisition_place", "storage_location", "private_comment", "internal_id", "weight", "size", "axis",
)  # fmt: skip
NEVER_SENT = {
    "public_comment": "Vitrine has no public comment; the note stays private.",
    "serial_number": "OpenNumismat has no serial-number field.",
    "grading_details": "slab grades need Numista-internal ids that no endpoint lists.",
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_HTML_HINT = re.compile(r"(?is)<\s*(?:html|body|p|br|div|span|!doctype)\b")


# ------------------------------------------------------------------------------------------ schema
def _to_json_schema(node: Any, components: Mapping[str, Any], depth: int = 0) -> Any:
    """OpenAPI 3.0 schema → JSON Schema (draft 7): resolve $ref, turn ``nullable`` into a null type."""
    if depth > 25:
        raise ValueError("swagger schema nests too deep")
    if isinstance(node, list):
        return [_to_json_schema(value, components, depth + 1) for value in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _to_json_schema(components[node["$ref"].rsplit("/", 1)[-1]], components, depth + 1)
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in {"example", "examples", "description", "nullable", "default", "deprecated", "xml"}:
            continue
        if key == "properties":
            result[key] = {name: _to_json_schema(sub, components, depth + 1) for name, sub in value.items()}
        else:
            result[key] = _to_json_schema(value, components, depth + 1)
    if "properties" in result and "type" not in result:
        result["type"] = "object"  # OpenAPI implies it; JSON Schema would accept a string otherwise
    if node.get("nullable"):
        kinds = result.get("type")
        if isinstance(kinds, str):
            result["type"] = [kinds, "null"]
        if "enum" in result and None not in result["enum"]:
            result["enum"] = [*result["enum"], None]
    return result


@functools.lru_cache(maxsize=1)
def _swagger() -> dict[str, Any]:
    with SWAGGER_FILE.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.safe_load(handle)
    return document


@functools.lru_cache(maxsize=4)
def request_validator(method: str = "POST") -> jsonschema.Draft7Validator:
    """The validator of the POST (add) or PATCH (edit) body of a collected item, built once per process."""
    spec = _swagger()
    path = COLLECTED_ITEMS_PATH if method.upper() == "POST" else COLLECTED_ITEM_PATH
    operation = spec["paths"][path][method.lower()]
    schema = _to_json_schema(
        operation["requestBody"]["content"]["application/json"]["schema"], spec["components"]["schemas"]
    )
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def validate_collected_item(body: Mapping[str, Any], method: str = "POST") -> list[str]:
    """Every way `body` breaks Numista's schema (and the rules its prose adds); [] when it is valid."""
    problems = [
        f"{'.'.join(str(part) for part in error.absolute_path) or 'body'}: {error.message}"
        for error in sorted(request_validator(method).iter_errors(body), key=lambda e: list(e.absolute_path))
    ]
    axis = body.get("axis")
    if isinstance(axis, int) and not 1 <= axis <= 12:
        problems.append("axis: must be a clock hour from 1 to 12")
    quantity = body.get("quantity")
    if isinstance(quantity, int) and quantity < 1:
        problems.append("quantity: must be at least 1")
    currency = body["price"].get("currency") if isinstance(body.get("price"), Mapping) else None
    if isinstance(currency, str) and not _CURRENCY.match(currency):
        problems.append("price.currency: a 3-letter ISO 4217 code in capitals is expected")
    for name in ("weight", "size"):
        value = body.get(name)
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{name}: must be a finite number")
    return problems


# ------------------------------------------------------------------------------------------ mapping
@dataclass(frozen=True)
class ExportOptions:
    """Choices that apply to every coin of one export (the wizard's and the CLI's options)."""

    currency: str = "EUR"  # the user's currency: used when a price was recorded without one
    collection_id: int | None = None
    use_internal_id: bool = True
    grade_overrides: Mapping[str, str | None] | None = None  # the user's grade-text → Numista grade table
    copy_tag: str | None = None  # "add another copy": a distinct internal id for the extra copy
    install_id: str | None = None  # this installation's id: part of every internal id (services.sync.markers)


@dataclass(frozen=True)
class MappedCoin:
    """What would be sent for one coin, or why it is not sent at all."""

    item_id: int
    title: str
    payload: dict[str, Any] | None
    excluded: str | None = None
    omitted: dict[str, str] = field(default_factory=dict)  # field → why it is left out
    problems: tuple[str, ...] = ()  # schema violations (a bug if ever non-empty: the push refuses them)

    @property
    def exportable(self) -> bool:
        return self.payload is not None and not self.problems


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in {"br", "p", "div", "li", "tr"}:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def note_to_comment(note: str | None) -> str | None:
    """The note as a private comment: NumiSync metadata block removed, rich-text markup turned into text."""
    text, _metadata = split_numisync_note(note)
    if text is None:
        return None
    if _HTML_HINT.search(text):
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        text = html.unescape("".join(parser.parts))
        lines = [" ".join(line.split()) for line in text.splitlines()]
        text = "\n".join(line for line in lines if line)
    text = text.strip()
    return text or None


def _number(value: Any) -> float | int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    if not number.is_finite() or number <= 0:
        return None
    return int(number) if number == number.to_integral_value() else float(round(number, 4))


def _grade(
    item: Any, options: ExportOptions, item_options: Mapping[str, Any], mapper: GradeMapper
) -> tuple[str | None, str | None]:
    """(Numista grade, why omitted)."""
    override = item_options.get("grade")
    if is_numista_grade(override):
        return override, None
    mapped = mapper(item.grade) if item.grade else None
    if mapped:
        return mapped, None
    if is_numista_grade(item.grade_code):
        return item.grade_code, None
    if item.grade:
        return None, f"grade {item.grade!r} has no Numista equivalent; set one for this coin or map the text"
    return None, "no grade recorded"


def export_problem(item: Any) -> str | None:
    """Why one of our items cannot go to Numista (None: it can): the one home of the rule, for the push and
    for a Collection-page selection sent to the export wizard."""
    if item.kind != "coin":
        return f"a {item.kind} is not a coin; Numista holds coins"
    if item.status in NOT_HELD_STATUSES:
        return f"status '{item.status}' is not a coin you hold"
    if not item.numista_type_id:
        return "no Numista type (N#) is linked to this coin"
    return None


def map_coin(
    item: Any,
    options: ExportOptions,
    item_options: Mapping[str, Any] | None = None,
    *,
    mapper: GradeMapper | None = None,
) -> MappedCoin:
    """The collected_item body for one of our coins (an ``Item``), with the reason for every omission."""
    item_options = item_options or {}
    title = item.title
    excluded = export_problem(item)
    if excluded is not None:
        return MappedCoin(item.id, title, None, excluded=excluded)
    mapper = mapper or GradeMapper(options.grade_overrides)
    details: Mapping[str, Any] = item.details or {}
    body: dict[str, Any] = {"type": int(item.numista_type_id)}
    omitted: dict[str, str] = {}

    if item.numista_issue_id:
        body["issue"] = int(item.numista_issue_id)
    else:
        omitted["issue"] = "the issue (year/mint) is not linked; Numista records the type only"
    body["quantity"] = max(1, int(item.quantity or 1))
    grade, why = _grade(item, options, item_options, mapper)
    if grade:
        body["grade"] = grade
    else:
        omitted["grade"] = why or "no grade"
    body["for_swap"] = bool(item_options.get("for_swap")) or item.status == "sale"

    value = _number(item.acquired_price)
    currency = (item.acquired_currency or options.currency or "").upper()
    if value is not None and _CURRENCY.match(currency):
        body["price"] = {"value": value, "currency": currency}
    elif item.acquired_price is None:
        omitted["price"] = "no buying price recorded (catalogue estimates are never sent as a price)"
    elif value is None:
        omitted["price"] = "the buying price is 0"
    else:
        omitted["price"] = f"currency {currency!r} is not an ISO 4217 code"

    if options.collection_id:
        body["collection"] = int(options.collection_id)
    else:
        omitted["collection"] = "no target collection chosen: Numista files it in your default collection"
    if item.acquired_date:
        body["acquisition_date"] = item.acquired_date.isoformat()
    else:
        omitted["acquisition_date"] = "no purchase date recorded"
    for name, source in (("acquisition_place", item.acquired_place), ("storage_location", item.storage_location)):
        if source and source.strip():
            body[name] = source.strip()
        else:
            omitted[name] = "not recorded"
    comment = note_to_comment(item.notes)
    if comment:
        body["private_comment"] = comment
    else:
        omitted["private_comment"] = "no note"
    if options.use_internal_id:
        if options.install_id is None:
            raise ValueError("ExportOptions.install_id is required to mark items (services.sync.markers)")
        body["internal_id"] = marker_for(options.install_id, item.id, options.copy_tag)
    else:
        omitted["internal_id"] = "you opted out; a retried push then matches on type, issue, grade and price"

    for name, measured, catalogue in (("weight", "real_weight", "weight"), ("size", "real_diameter", "diameter")):
        number = _number(details.get(measured))
        if number is not None:
            body[name] = number
        elif _number(details.get(catalogue)) is not None:
            omitted[name] = f"only the catalogue {catalogue} is known; Numista's field is for your own measurement"
        else:
            omitted[name] = "not measured"
    axis = details.get("axis")
    if isinstance(axis, int) and not isinstance(axis, bool) and 0 <= axis < 360 and axis % 30 == 0:
        body["axis"] = axis // 30 or 12
    elif axis is not None:
        omitted["axis"] = f"{axis}° is not an exact clock position (Numista wants hours 1–12)"
    else:
        omitted["axis"] = "not recorded"
    omitted.update(NEVER_SENT)

    ordered = {name: body[name] for name in FIELD_ORDER if name in body}
    return MappedCoin(item.id, title, ordered, None, omitted, tuple(validate_collected_item(ordered, "POST")))


def payload_hash(payload: Mapping[str, Any]) -> str:
    """Stable fingerprint of a body: tells "changed since the last push" without calling Numista."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------------ remote side
def _id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, Mapping) else value


def remote_as_request(remote: Mapping[str, Any]) -> dict[str, Any]:
    """A collected_item as Numista returns it, in request shape (objects → ids) for comparison."""
    shaped: dict[str, Any] = {}
    for name in FIELD_ORDER:
        if name not in remote or remote[name] is None:
            continue
        value = remote[name]
        shaped[name] = _id_of(value) if name in ("type", "issue", "collection") else value
    return shaped


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return bool(left.keys() == right.keys() and all(_same(left[key], right[key]) for key in left))
    if isinstance(left, bool) or isinstance(right, bool):
        return bool(left == right)
    if isinstance(left, int | float) and isinstance(right, int | float):
        return math.isclose(float(left), float(right), rel_tol=0, abs_tol=1e-6)
    return bool(left == right)


@dataclass(frozen=True)
class FieldChange:
    field: str
    numista: Any  # what Numista has now (None: absent)
    vitrine: Any  # what would be sent (None with cleared=True: cleared)
    cleared: bool = False
    kept: bool = False  # differs, but the API cannot clear this field: Numista keeps its value


def field_changes(payload: Mapping[str, Any], remote: Mapping[str, Any] | None) -> list[FieldChange]:
    """Field-by-field differences between what we would send and what Numista holds."""
    current = remote_as_request(remote or {})
    changes: list[FieldChange] = []
    for name in FIELD_ORDER:
        ours, theirs = payload.get(name), current.get(name)
        if name in payload:
            if theirs is None or not _same(ours, theirs):
                changes.append(FieldChange(name, theirs, ours))
        elif theirs is not None and name not in ("collection", "internal_id"):
            if name in NULLABLE_ON_PATCH:
                changes.append(FieldChange(name, theirs, None, cleared=True))
            else:
                changes.append(FieldChange(name, theirs, None, kept=True))
    return changes


def patch_body(payload: Mapping[str, Any], remote: Mapping[str, Any] | None) -> dict[str, Any]:
    """The PATCH body that makes the remote item match `payload`: only changed fields (null clears)."""
    body: dict[str, Any] = {}
    for change in field_changes(payload, remote):
        if change.kept:
            continue
        body[change.field] = None if change.cleared else payload[change.field]
    if "issue" in body and "type" not in body and body["issue"] is not None:
        body["type"] = payload["type"]  # an issue only makes sense with its type
    return body


def _price_key(price: Any) -> tuple[Any, Any] | None:
    if not isinstance(price, Mapping):
        return None
    value = price.get("value")
    number = round(float(value), 4) if isinstance(value, int | float) and not isinstance(value, bool) else value
    return number, price.get("currency")


def match_key(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies "the same coin" without an internal id: type, issue, grade and price."""
    shaped = remote_as_request(body) if any(isinstance(body.get(k), Mapping) for k in ("type", "issue")) else body
    return shaped.get("type"), shaped.get("issue"), shaped.get("grade"), _price_key(shaped.get("price"))


def type_of(body: Mapping[str, Any] | None) -> int | None:
    """The Numista type id of a request body or of a collected item as Numista returns it."""
    value = _id_of((body or {}).get("type"))
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def find_remote_matches(
    payload: Mapping[str, Any],
    remote_items: Iterable[Mapping[str, Any]],
    *,
    exclude_ids: Iterable[Any] = (),
    also_ours: Iterable[str] = (),
) -> list[Mapping[str, Any]]:
    """The remote items that are this coin, oldest (lowest id) first; never one of another type, nor one
    already linked to another of our coins (`exclude_ids`).

    With an internal id: items carrying exactly it, or a marker in `also_ours` (a legacy marker our own
    records say we sent, services.sync.markers). Without (the user opted out): items with the same type,
    issue, grade and price that carry no internal id at all, since the push we look for sent none."""
    excluded = {str(remote_id) for remote_id in exclude_ids}
    wanted_type = type_of(payload)
    candidates = sorted(
        (item for item in remote_items if str(item.get("id")) not in excluded and type_of(item) == wanted_type),
        key=lambda item: int(item["id"]),
    )
    wanted_internal = payload.get("internal_id")
    if wanted_internal:
        markers = {wanted_internal, *also_ours}
        return [item for item in candidates if item.get("internal_id") in markers]
    wanted = match_key(payload)
    return [item for item in candidates if not item.get("internal_id") and match_key(item) == wanted]


def not_ours_to_change(payload: Mapping[str, Any], remote: Mapping[str, Any] | None, item_id: int) -> str | None:
    """Why the remote item linked to a coin must not be PATCHed to it, or None when it may be.

    Its type must be the coin's (a PATCH would otherwise turn some other coin into this one), and a Vitrine
    marker on it must be ours for this coin: the current one, or the legacy one (the ledger recorded this very
    remote id, which is the evidence a legacy marker needs). A remote item without a marker, or with text the
    user typed, stays updatable: we linked it ourselves."""
    if remote is None:
        return None
    remote_type, coin_type = type_of(remote), type_of(payload)
    if remote_type is not None and remote_type != coin_type:
        return (
            f"Numista #{remote.get('id')} is now type N# {remote_type}, not this coin's N# {coin_type}: left "
            "unchanged. Push the coin as a copy, or fix its Numista link."
        )
    marker = remote.get("internal_id")
    if parse_marker(marker) is not None and marker not in (payload.get("internal_id"), legacy_marker_for(item_id)):
        return (
            f"Numista #{remote.get('id')} carries the marker {marker}, which is not this coin's "
            f"(item {item_id} of this installation): left unchanged."
        )
    return None
