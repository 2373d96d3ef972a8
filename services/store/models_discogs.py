"""Discogs tables: pending OAuth request tokens and the per-job view of the remote collection.

* ``discogs_request_tokens``: the OAuth 1.0a request token and its secret between "Connect Discogs" and
  the callback. The callback arrives in a new browser session (Discogs redirects the browser), so the pair
  lives server side, encrypted, bound to the member who asked, used once and valid for 15 minutes. The
  token is looked up by its SHA-256 digest, so the table holds no token in clear text.
* ``discogs_push_baselines``: the releases (and their instance ids) a member's collection, wantlist or
  inventory held when an export job first read it. Why persisted: a worker killed mid-job is replaced by
  another process, which must still tell "already there before this job" (DUPLICATE) from "created by an
  attempt of this job whose answer was lost" (adopt it, never add a second copy).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.store.models import Base, utcnow
from services.store.types import UtcDateTime


class DiscogsRequestToken(Base):
    """A pending OAuth request token (encrypted), bound to the member, single use, short-lived."""

    __tablename__ = "discogs_request_tokens"

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True, doc="sha256 of oauth_token")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary, doc="vault ciphertext of token + secret")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DiscogsPushBaseline(Base):
    """What the remote held for one release when the job first looked (instance / listing ids)."""

    __tablename__ = "discogs_push_baselines"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    release_id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="0: the 'baseline taken' marker")
    remote_ids: Mapped[list[Any] | None] = mapped_column(JSON)

