"""Pictures: fetched once through the HTTP layer and kept as thumbnails on disk (bounded, least recently used
evicted), shown from the cache with no network, and a drawn placeholder where there is no picture."""

from __future__ import annotations

import base64
import io
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from services.collection import add_item
from services.config import load_settings
from services.images import ImageCache, cached_uri, fetch_images, item_pictures, placeholder, remote_picture_urls
from services.integrations.discogs.mapping import record_fields, release_summary
from services.store.models import ItemImage, User


def _png(colour: str = "red", size: int = 600, *, noisy: bool = False) -> bytes:
    out = io.BytesIO()
    image = Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)) if noisy else Image.new(
        "RGB", (size, size), colour)
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def image_server():  # type: ignore[no-untyped-def]
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = _png("blue") if self.path.endswith(".png") else b"not found"
            self.send_response(200 if self.path.endswith(".png") else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def test_a_picture_is_fetched_once_and_then_shown_offline(tmp_path: Path, image_server) -> None:  # type: ignore[no-untyped-def]
    base, hits = image_server
    cache = ImageCache(tmp_path, 10_000_000)
    settings = load_settings({"HTTP_MAX_RETRIES": "0"})
    url = f"{base}/cards/base1-4.png"
    assert cached_uri(cache, url) is None
    assert fetch_images(cache, [url, url], settings) == 1
    assert fetch_images(cache, [url], settings) == 0 and hits == ["/cards/base1-4.png"]  # once
    uri = cached_uri(cache, url)
    assert uri and uri.startswith("data:image/")
    small = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert max(small.size) <= 160  # a thumbnail, not the 600 px original


def test_an_unreachable_host_is_not_asked_again_for_a_while(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once we leave: connection refused, like offline
    cache = ImageCache(tmp_path, 10_000_000)
    settings = load_settings({"HTTP_MAX_RETRIES": "0"})
    urls = [f"http://127.0.0.1:{port}/{n}.png" for n in range(20)]
    started = time.monotonic()
    assert fetch_images(cache, urls, settings, timeout=1) == 0
    assert cache.host_down("127.0.0.1")
    assert time.monotonic() - started < 5  # one failure, not twenty


def test_the_cache_is_bounded_and_evicts_the_least_recently_used(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path, 3 * 1024)
    for name in ("a", "b", "c", "d"):
        cache.put(name, b"\x89PNG" + bytes(1000))
        time.sleep(0.02)
    assert cache.size() <= 3 * 1024
    assert cache.get("a") is None and cache.get("d") is not None
    old = time.time() - 100
    for path in tmp_path.glob("*/*"):
        os.utime(path, (old, old))
    assert cache.get("b") is not None  # b is used now: c goes first
    cache.put("e", b"\x89PNG" + bytes(1000))
    assert cache.get("b") is not None and cache.get("c") is None


def test_every_item_gets_a_picture_never_a_broken_one(session: Session, owner: User, tmp_path: Path) -> None:
    photographed = add_item(session, owner.id, kind="coin", title="1 Sol 1864")
    session.add(ItemImage(item_id=photographed.id, position=0, role="photo", mime="image/png", data=_png(noisy=True)))
    bare = add_item(session, owner.id, kind="record", title="Kind of Blue")
    session.flush()
    pictures = item_pictures(session, ImageCache(tmp_path, 1_000_000), [photographed, bare], {bare.id: "12"})
    assert pictures[photographed.id].startswith("data:image/jpeg;base64,")  # the imported photo, made small
    assert pictures[bare.id] == placeholder("Kind of Blue", "12", "record")
    svg = base64.b64decode(pictures[bare.id].split(",", 1)[1]).decode()
    assert "Kind of Blue" in svg and ">12<" in svg


def test_a_discogs_record_shows_its_cover_from_the_cache_and_a_drawing_offline(
    session: Session, owner: User, tmp_path: Path, image_server  # type: ignore[no-untyped-def]
) -> None:
    base, hits = image_server
    info = {"id": 249504, "title": "Kind of Blue", "artists": [{"name": "Miles Davis"}], "year": 1959,
            "thumb": f"{base}/discogs/R-249504.png", "formats": [{"name": "Vinyl", "qty": "1"}]}  # fmt: skip
    fields = record_fields(release_summary(info), media="Mint (M)", sleeve=None, notes=None, extra={})
    record = add_item(session, owner.id, kind="record", **{k: v for k, v in fields.items() if k != "grade_code"})
    session.flush()
    assert remote_picture_urls(session, [record]) == {record.id: f"{base}/discogs/R-249504.png"}
    cache = ImageCache(tmp_path, 1_000_000)
    offline = item_pictures(session, cache, [record])[record.id]  # not fetched yet: drawn, never broken
    assert offline == placeholder("Miles Davis – Kind of Blue", None, "record") and not hits
    settings = load_settings({"HTTP_MAX_RETRIES": "0"})
    assert fetch_images(cache, remote_picture_urls(session, [record]).values(), settings) == 1
    cover = item_pictures(session, cache, [record])[record.id]
    assert cover.startswith("data:image/") and not cover.startswith("data:image/svg")
    red, green, blue = Image.open(io.BytesIO(base64.b64decode(cover.split(",", 1)[1]))).convert("RGB").getpixel((2, 2))
    assert red < 10 and green < 10 and blue > 240  # the served (blue) cover, made small
    assert fetch_images(cache, remote_picture_urls(session, [record]).values(), settings) == 0 and len(hits) == 1
