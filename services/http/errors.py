"""Typed errors for every remote service, with messages safe to show a user.

Integrations catch these instead of httpx exceptions so pages and the push engine can react by
kind (reconnect, stop the batch, retry later) without parsing status codes, and so nothing that
reaches the UI, a log or the jobs table can carry a credential: messages are built here from
the server's own text after redaction, never from a request or its headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import httpx

from services.http.redact import redact_text, redact_url

SERVICE_NAMES = {"numista": "Numista", "discogs": "Discogs", "pokemontcg": "pokemontcg.io", "ecb": "The ECB"}
MAX_SERVER_MESSAGE = 300  # characters of the server's text kept in a user-facing message


class ServiceError(Exception):
    """Base: a remote service call failed. ``message`` is user-facing and credential-free."""

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status: int | None = None,
        server_message: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        url: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.status = status
        self.server_message = server_message
        self.retry_after = retry_after
        self.method = method
        self.url = url  # already redacted
        self.attempts = attempts

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(service={self.service!r}, status={self.status!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Keep the keyword-only fields when pickled (worker threads/processes hand errors around)."""
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[ServiceError], message: str, state: dict[str, Any]) -> ServiceError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class AuthError(ServiceError):
    """401/403: missing, invalid or expired key/token, or not allowed: the user must reconnect."""


class NotFoundError(ServiceError):
    """404: the catalogue entry, user or item does not exist (or is not visible to this user)."""


class BadRequestError(ServiceError):
    """400/422: the request was invalid; ``server_message`` says why (show it next to the item)."""


class RateLimitedError(ServiceError):
    """429 after retries, or a wait longer than we allow: try again after ``retry_after`` seconds."""


class QuotaExceededError(ServiceError):
    """Quota used up (Numista monthly quota): stop the whole batch, retrying only burns more calls."""


class ServiceUnavailableError(ServiceError):
    """5xx or network failure after retries: the service is down or unreachable; try later."""


def service_name(service: str) -> str:
    """Display name of a service key ("numista" -> "Numista")."""
    return SERVICE_NAMES.get(service, service)


def _from_json(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict):  # pokemontcg.io: {"error": {"message": ..., "code": 400}}
        inner = error.get("message")
        if isinstance(inner, str) and inner.strip():
            return inner
    # Numista: error_message; Discogs: message; OAuth-style: error_description / error.
    for key in ("error_message", "message", "error_description", "detail", "error"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


def parse_server_message(response: httpx.Response) -> str | None:
    """The server's human text from an error body: JSON of any of our services, plain text or HTML."""
    try:
        raw = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError, LookupError):
        return None
    text = raw.strip()
    if not text:
        return None
    try:
        message = _from_json(json.loads(text))
    except ValueError:
        message = None
        content_type = response.headers.get("content-type", "").lower()
        if "html" in content_type or text[:1] == "<":
            # e.g. Cloudflare's challenge page in front of Discogs: the page itself is noise.
            title = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
            label = _SPACES.sub(" ", _TAGS.sub("", title.group(1))).strip() if title else ""
            return f"HTML page instead of an API answer{': ' + label if label else ''}"
        message = text
    if message is None:
        return None
    # Not truncated here: a cut could leave half a secret that redaction would then miss.
    message = _SPACES.sub(" ", message).strip()
    return message or None


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_SERVER_MESSAGE else text[: MAX_SERVER_MESSAGE - 1] + "…"


def is_quota_message(message: str | None) -> bool:
    """Numista says "Quota exceeded" on a 429 that no amount of waiting within a run will fix."""
    return bool(message and re.search(r"(?i)\bquota\b", message))


def error_for_status(
    service: str,
    status: int,
    server_message: str | None,
    *,
    secrets: Iterable[str] = (),
    retry_after: float | None = None,
    method: str | None = None,
    url: str | httpx.URL | None = None,
    attempts: int = 1,
) -> ServiceError:
    """Build the typed error for an HTTP status; every string is redacted before it is stored."""
    secrets = tuple(secrets)
    name = service_name(service)
    said = _shorten(redact_text(server_message, secrets)) if server_message else None
    suffix = f" {name} said: {said}" if said else ""
    cls: type[ServiceError]
    if status in (400, 422):
        cls, text = BadRequestError, f"{name} rejected the request (HTTP {status})."
    elif status == 403 and (not server_message or server_message.startswith("HTML page")):
        # Discogs answers a bad User-Agent with an empty 403 and Cloudflare with an HTML page: not a
        # credentials problem, so do not send the user off to reconnect their account.
        cls, text = ServiceError, f"{name} blocked the request (HTTP 403); try again later."
    elif status in (401, 403):
        cls = AuthError
        text = f"{name} refused the credentials (HTTP {status}); check the API key or reconnect the account."
    elif status == 404:
        cls, text = NotFoundError, f"{name} has no such record (HTTP 404)."
    elif status == 429 and is_quota_message(server_message):
        cls = QuotaExceededError
        text = f"{name} quota exhausted (HTTP 429); further calls will fail until the quota resets."
    elif status == 429:
        cls = RateLimitedError
        wait = f" Try again in {retry_after:.0f} s." if retry_after is not None else " Try again later."
        text = f"{name} is limiting our request rate (HTTP 429).{wait}"
    elif status >= 500:
        cls = ServiceUnavailableError
        text = (
            f"{name} is unavailable (HTTP {status}) after {attempts} attempt{'s' if attempts != 1 else ''}."
        )
    else:
        cls, text = ServiceError, f"{name} could not complete the request (HTTP {status})."
    return cls(
        redact_text(text + suffix, secrets),
        service=service,
        status=status,
        server_message=said,
        retry_after=retry_after,
        method=method,
        url=redact_text(redact_url(url), secrets) if url is not None else None,
        attempts=attempts,
    )


def error_for_transport(
    service: str,
    exc: httpx.TransportError,
    *,
    method: str | None = None,
    url: str | httpx.URL | None = None,
    attempts: int = 1,
) -> ServiceUnavailableError:
    """A network failure (no HTTP answer) as a user-facing error; the exception text is not echoed."""
    name = service_name(service)
    if isinstance(exc, httpx.TimeoutException):
        what = "did not answer in time"
    elif isinstance(exc, httpx.ConnectError):
        what = "could not be reached"
    else:
        what = "dropped the connection"
    plural = "s" if attempts != 1 else ""
    return ServiceUnavailableError(
        f"{name} {what} ({type(exc).__name__}) after {attempts} attempt{plural}.",
        service=service,
        status=None,
        method=method,
        url=redact_url(url) if url is not None else None,
        attempts=attempts,
    )
