"""Find the Numista type (and issue) an OpenNumismat record points at.

OpenNumismat has no Numista-id column (notes/opennumismat.md §0.9, §9.5). The id can only be recovered from:

1. the NumiSync-Wizard block appended to `note`: ``<!-- NUMISMAT_ENRICHMENT_DATA`` + JSON
   (``{"version", "basicData": {"numistaId"}, "issueData": {"issueId"}, "pricingData": {"issueId",
   "currency"}}``) + ``-->``, separated from the user's text by a blank line;
2. `url`: ``https://<lang>.numista.com/catalogue/pieces<ID>.html`` (also ``note<ID>`` for banknotes and
   ``exonumia<ID>`` for exonumia, which share the type-id space) or the short form
   ``https://<lang>.numista.com/<ID>`` (notes/numista.md §3.2);
3. a bare numeric id in `catalognum4` (NumiSync-Wizard's default target for the Numista id).

Precedence is that order: the NumiSync block is explicit and carries the issue id, a Numista URL is
unambiguous, a bare number in catalognum4 is the weakest signal. ``N# 123`` is deliberately NOT read as a
Numista id: Numista's own import writes ``<catalogue code># <number>`` and ``N`` is North's catalogue code.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

NUMISYNC_MARKER = "NUMISMAT_ENRICHMENT_DATA"
_START = "<!-- " + NUMISYNC_MARKER
_END = "-->"
_START_ESCAPED = "&lt;!-- " + NUMISYNC_MARKER
_END_ESCAPED = "--&gt;"
_MAX_ID = 2_000_000_000  # Numista ids are positive 32-bit integers

_URL = re.compile(
    r"^\s*(?:https?://)?(?:[a-z]{2,3}(?:-[a-z]{2,4})?\.|www\.)?numista\.com/"
    r"(?:catalogue/(?:pieces|note|exonumia)(?P<long>\d{1,10})\.html|(?P<short>\d{1,10}))"
    r"/?(?:[?#]\S*)?\s*$",
    re.IGNORECASE | re.ASCII,
)
_BARE_ID = re.compile(r"^\s*(\d{1,10})\s*$", re.ASCII)


@dataclass(frozen=True, slots=True)
class NumistaLink:
    """Numista ids found for one record, where they came from, and the note without the NumiSync block."""

    type_id: int | None = None
    issue_id: int | None = None
    source: str | None = None  # "numisync" | "url" | "catalognum4"
    note: str | None = None
    conflict: bool = False  # two sources named different type ids (the higher-precedence one won)
    numisync: Mapping[str, Any] | None = field(default=None, compare=False)


def _positive_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            return None
        number = int(value)
    elif isinstance(value, str) and _BARE_ID.match(value):
        number = int(value)
    else:
        return None
    return number if 0 < number <= _MAX_ID else None


def numista_type_id_from_url(url: object) -> int | None:
    """Type id from a Numista catalogue URL (long or short form, any language subdomain), else None."""
    if not isinstance(url, str) or "numista" not in url.lower():
        return None
    match = _URL.match(url)
    if not match:
        return None
    return _positive_id(match["long"] or match["short"])


def numista_type_id_from_catalognum(value: object) -> int | None:
    """A bare positive integer in catalognum4 (as NumiSync-Wizard writes it), else None."""
    if isinstance(value, str):
        match = _BARE_ID.match(value)
        return _positive_id(match.group(1)) if match else None
    return _positive_id(value)


def _join(before: str, after: str) -> str:
    if not after.strip():
        return before.rstrip()
    if not before.strip():
        return after.lstrip()
    return before.rstrip() + "\n\n" + after.lstrip()


def split_numisync_note(note: object) -> tuple[str | None, Mapping[str, Any] | None]:
    """(note without NumiSync blocks, parsed metadata of the first block or None).

    The user's text is kept as written; only the block and the blank-line separator NumiSync adds are
    removed. A block without its closing ``-->`` is left in place (it may be the user's own text). The
    HTML-escaped form (a block inside a rich-text note) is recognised too.
    """
    if not isinstance(note, str):
        return None, None
    if NUMISYNC_MARKER not in note:
        return (note if note.strip() else None), None
    text = note
    metadata: Mapping[str, Any] | None = None
    for start_tag, end_tag, escaped in ((_START, _END, False), (_START_ESCAPED, _END_ESCAPED, True)):
        while True:
            start = text.find(start_tag)
            if start < 0:
                break
            stop = text.find(end_tag, start + len(start_tag))
            if stop < 0:
                break
            body = text[start + len(start_tag) : stop]
            if metadata is None:
                metadata = _parse_metadata(html.unescape(body) if escaped else body)
            before, after = text[:start], text[stop + len(end_tag) :]
            text = before + after if escaped else _join(before, after)  # HTML: whitespace is not layout
    return (text if text.strip() else None), metadata


def _parse_metadata(body: str) -> Mapping[str, Any] | None:
    try:
        data = json.loads(body.strip())
    except (ValueError, RecursionError):
        return None
    return MappingProxyType(data) if isinstance(data, dict) else None


def _section(metadata: Mapping[str, Any] | None, name: str) -> Mapping[str, Any]:
    value = metadata.get(name) if metadata else None
    return value if isinstance(value, Mapping) else {}


def find_numista_ids(
    url: object = None, catalognum4: object = None, note: object = None, *, use_catalognum4: bool = True
) -> tuple[int | None, int | None, str | None, str | None, bool, Mapping[str, Any] | None]:
    """Tuple form of :func:`extract_numista_link` for hot loops:
    (type_id, issue_id, source, note_without_block, conflict, numisync_metadata)."""
    clean_note, metadata = split_numisync_note(note)
    first: tuple[str, int] | None = None
    conflict = False
    issue_id: int | None = None
    if metadata is not None:
        type_id = _positive_id(_section(metadata, "basicData").get("numistaId"))
        if type_id is not None:
            first = ("numisync", type_id)
            issue_id = _positive_id(_section(metadata, "issueData").get("issueId")) or _positive_id(
                _section(metadata, "pricingData").get("issueId")
            )
    for source, found in (
        ("url", numista_type_id_from_url(url)),
        ("catalognum4", numista_type_id_from_catalognum(catalognum4) if use_catalognum4 else None),
    ):
        if found is None:
            continue
        if first is None:
            first = (source, found)
        elif found != first[1]:
            conflict = True
    if first is None:
        return None, None, None, clean_note, False, metadata
    source, type_id = first
    return type_id, issue_id if source == "numisync" else None, source, clean_note, conflict, metadata


def extract_numista_link(
    *, url: object = None, catalognum4: object = None, note: object = None, use_catalognum4: bool = True
) -> NumistaLink:
    """Numista type/issue ids of one OpenNumismat record plus its note with the NumiSync block stripped.

    `use_catalognum4=False` ignores bare numbers in catalognum4 (for collections whose 4th catalogue
    column holds another catalogue's plain numbers).
    """
    type_id, issue_id, source, clean_note, conflict, metadata = find_numista_ids(
        url, catalognum4, note, use_catalognum4=use_catalognum4
    )
    return NumistaLink(type_id, issue_id, source, clean_note, conflict, metadata)
