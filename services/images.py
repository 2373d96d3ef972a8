"""Pictures that work offline: a bounded on-disk cache of remote images, the photos imported from OpenNumismat,
and a drawn placeholder where there is neither, so a page never shows a broken-image icon.

Why a disk cache: card images and coin thumbnails live on other hosts; fetched once (through the HTTP layer,
never with a service's credentials) they are shown from disk afterwards, also with no network. The cache is
bounded (least recently used files go first) so it cannot fill the disk. A failed fetch is remembered for a
while, per host, so an offline page does not wait on every picture.

Pages get data URIs (``data:image/...;base64,...``) that st.image, st.dataframe's ImageColumn and HTML accept.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.config import Settings
from services.http import ServiceClient, ServiceError
from services.http.factory import user_agent
from services.http.retry import RetryPolicy
from services.store.models import Item, ItemImage, PokemonCard

THUMBNAIL_PX = 160
HOST_DOWN_SECONDS = 600  # after a failed fetch, a host is not asked again for this long
_MIME_BY_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"),
                  (b"RIFF", "image/webp"))  # fmt: skip
_PALETTE = {"coin": ("#f3e7c9", "#8a6d1d"), "card": ("#dde8f6", "#2c5282"), "record": ("#e9e3f3", "#553c9a")}


def sniff_mime(data: bytes) -> str | None:
    return next((mime for magic, mime in _MIME_BY_MAGIC if data.startswith(magic)), None)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def placeholder(title: str, number: str | None = None, kind: str | None = None) -> str:
    """A drawn stand-in (SVG data URI): the item's name and number on the kind's colours."""
    background, ink = _PALETTE.get(kind or "", ("#eeeeee", "#444444"))
    words = (title or "?").split()
    lines, line = [], ""
    for word in words:
        if line and len(line) + len(word) > 16:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    text = "".join(
        f'<text x="60" y="{70 + 16 * index}" font-size="13" text-anchor="middle">{html.escape(part[:20])}</text>'
        for index, part in enumerate(lines[:4])
    )
    badge = (f'<text x="60" y="40" font-size="20" font-weight="bold" text-anchor="middle">'
             f"{html.escape(str(number)[:10])}</text>") if number else ""  # fmt: skip
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="168" viewBox="0 0 120 168">'
        f'<rect x="2" y="2" width="116" height="164" rx="10" fill="{background}" stroke="{ink}" stroke-width="2"/>'
        f'<g fill="{ink}" font-family="sans-serif">{badge}{text}</g></svg>'
    )
    return data_uri(svg.encode(), "image/svg+xml")


def thumbnail(data: bytes, size: int = THUMBNAIL_PX) -> tuple[bytes, str] | None:
    """A small JPEG/PNG of an image (None when the bytes are no picture Pillow can read)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((size, size))
            keep_alpha = image.mode in ("RGBA", "LA", "P")
            out = io.BytesIO()
            if keep_alpha:
                image.convert("RGBA").save(out, "PNG", optimize=True)
                return out.getvalue(), "image/png"
            image.convert("RGB").save(out, "JPEG", quality=82)
            return out.getvalue(), "image/jpeg"
    except (UnidentifiedImageError, OSError, ValueError):
        return None


@dataclass
class ImageCache:
    """Files named by the URL's hash under ``root``; at most ``max_bytes`` in all, least recently used evicted."""

    root: Path
    max_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageCache:
        return cls(Path(settings.image_cache_dir), settings.image_cache_mb * 1024 * 1024)

    def _path(self, url: str, variant: str) -> Path:
        digest = hashlib.sha256(f"{variant}:{url}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.{variant}"

    def get(self, url: str, variant: str = "thumb") -> tuple[bytes, str] | None:
        path = self._path(url, variant)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        os.utime(path)  # recently used: kept longest
        mime = sniff_mime(data)
        return (data, mime) if mime else None

    def put(self, url: str, data: bytes, variant: str = "thumb") -> None:
        path = self._path(url, variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)
        self.evict()

    def size(self) -> int:
        return sum(path.stat().st_size for path in self._files())

    def _files(self) -> list[Path]:
        return [path for path in self.root.glob("*/*") if path.is_file() and path.suffix != ".part"]

    def evict(self) -> int:
        """Remove the least recently used files until the cache fits; returns how many were removed."""
        files = sorted(self._files(), key=lambda path: path.stat().st_mtime)
        total = sum(path.stat().st_size for path in files)
        removed = 0
        for path in files:
            if total <= self.max_bytes:
                break
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    # -- remote hosts that failed recently ---------------------------------------------------------
    def _down_marker(self, host: str) -> Path:
        return self.root / "hosts" / hashlib.sha256(host.encode()).hexdigest()[:24]

    def host_down(self, host: str) -> bool:
        try:
            return time.time() - self._down_marker(host).stat().st_mtime < HOST_DOWN_SECONDS
        except OSError:
            return False

    def mark_host_down(self, host: str) -> None:
        marker = self._down_marker(host)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


def cached_uri(cache: ImageCache, url: str | None) -> str | None:
    """The cached thumbnail of ``url`` as a data URI, or None (never a network call)."""
    if not url:
        return None
    found = cache.get(url)
    return data_uri(*found) if found else None


def fetch_images(cache: ImageCache, urls: Iterable[str], settings: Settings, *, timeout: float = 5.0) -> int:
    """Fetch the pictures not cached yet, once, and keep their thumbnails; returns how many were added.
    A host that fails is skipped for the rest of the run and for HOST_DOWN_SECONDS after."""
    added = 0
    clients: dict[str, ServiceClient] = {}
    try:
        for url in dict.fromkeys(urls):
            parsed = httpx.URL(url)
            if not parsed.host or cache.get(url) is not None or cache.host_down(parsed.host):
                continue
            origin = f"{parsed.scheme}://{parsed.netloc.decode()}"
            client = clients.get(origin) or clients.setdefault(origin, ServiceClient(
                "images", origin, user_agent=user_agent(), timeout=timeout,
                retry=RetryPolicy(max_retries=0, base_delay=0.1, max_sleep=1.0),
            ))  # fmt: skip
            try:
                response = client.get(url)
            except (ServiceError, ValueError):
                cache.mark_host_down(parsed.host)
                continue
            small = thumbnail(response.content)
            if small is not None:
                cache.put(url, small[0])
                added += 1
    finally:
        for client in clients.values():
            client.close()
    return added


def item_pictures(
    session: Session, cache: ImageCache, items: Iterable[Item], numbers: Mapping[int, str] | None = None
) -> dict[int, str]:
    """One picture per item as a data URI: the OpenNumismat thumbnail or first photo, the card's image or the
    record's cover from the cache, else a placeholder with its name and number. Never a network call."""
    items = list(items)
    numbers = numbers or {}
    ids = [item.id for item in items]
    stored: dict[int, tuple[bytes, str]] = {}
    for start in range(0, len(ids), 900):
        rows = session.execute(
            select(ItemImage.item_id, ItemImage.data, ItemImage.mime)
            .where(ItemImage.item_id.in_(ids[start : start + 900]))
            .order_by(ItemImage.item_id, (ItemImage.role != "thumbnail"), ItemImage.position)
        )
        for item_id, data, mime in rows:
            stored.setdefault(item_id, (data, mime))
    card_urls = remote_picture_urls(session, items)
    pictures = {}
    for item in items:
        if item.id in stored:
            data, mime = stored[item.id]
            small = thumbnail(data) if len(data) > 60_000 else (data, mime)
            if small is not None:
                pictures[item.id] = data_uri(*small)
                continue
        uri = cached_uri(cache, card_urls.get(item.id))
        pictures[item.id] = uri or placeholder(_short_title(item), numbers.get(item.id), item.kind)
    return pictures


def remote_picture_urls(session: Session, items: Iterable[Item]) -> dict[int, str]:
    """The remote picture of each item that has one: the card's image, the record's cover (Discogs data)."""
    items = list(items)
    card_ids = {item.pokemontcg_card_id for item in items if item.pokemontcg_card_id}
    images = dict(
        session.execute(select(PokemonCard.id, PokemonCard.image_small).where(PokemonCard.id.in_(card_ids))).all()
    ) if card_ids else {}  # fmt: skip
    urls = {}
    for item in items:
        url = images.get(item.pokemontcg_card_id) if item.pokemontcg_card_id else None
        url = url or (item.details or {}).get("cover_image") or (item.details or {}).get("thumb")
        if url:
            urls[item.id] = str(url)
    return urls


def _short_title(item: Item) -> str:
    return item.title.split(" (")[0] if item.kind == "card" else item.title
