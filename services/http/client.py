"""ServiceClient: one httpx.Client wrapped with User-Agent, rate limiting, retries and typed errors.

Every integration sends through ``ServiceClient.request`` so the rules of retry.py, the shared
limiter of ratelimit.py and the redaction of redact.py apply to all of them the same way.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from services.http.errors import (
    RateLimitedError,
    ServiceError,
    error_for_status,
    error_for_transport,
    is_quota_message,
    parse_server_message,
    service_name,
)
from services.http.ratelimit import LimiterTimeout, SlidingWindowLimiter
from services.http.redact import (
    redact_text,
    redact_url,
    secrets_from_auth,
    secrets_from_headers,
    secrets_from_request,
)
from services.http.retry import (
    RetryPolicy,
    backoff_delay,
    is_idempotent,
    parse_retry_after,
    retryable_exception,
    retryable_status,
)

log = logging.getLogger("services.http")

AuthArg = httpx.Auth | None


class _ClientDefault:
    """Sentinel: use the client's own auth (``None`` must stay expressible as 'no auth')."""


CLIENT_AUTH = _ClientDefault()


class ServiceClient:
    """A synchronous client of one service (thread-safe for concurrent requests, like httpx.Client)."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        user_agent: str,
        headers: Mapping[str, str] | None = None,
        auth: AuthArg = None,
        timeout: httpx.Timeout | float = 20.0,
        retry: RetryPolicy | None = None,
        limiter: SlidingWindowLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not user_agent.strip():
            raise ValueError("a User-Agent is mandatory (Discogs silently blocks requests without one)")
        self.service = service
        self.user_agent = user_agent
        self.retry = retry or RetryPolicy()
        self.limiter = limiter
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._auth = auth
        self._secrets = secrets_from_headers(headers) | secrets_from_auth(auth)
        base = httpx.URL(base_url)
        self._origin = (base.scheme, base.host, base.port)
        self._http = httpx.Client(
            base_url=base,
            headers={**(headers or {}), "User-Agent": user_agent},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,  # a redirect must not carry our key to another host
        )

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ServiceClient(service={self.service!r}, base_url={redact_url(self._http.base_url)!r})"

    @property
    def base_url(self) -> httpx.URL:
        """The service root every relative path is joined to."""
        return self._http.base_url

    # -- requests ----------------------------------------------------------------------------------
    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET and decode JSON; a non-JSON success body becomes a ServiceError, not a ValueError."""
        response = self.request("GET", url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ServiceError(
                f"{service_name(self.service)} answered with something that is not JSON.",
                service=self.service,
                status=response.status_code,
                method="GET",
                url=redact_url(response.request.url),
            ) from None

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        auth: AuthArg | _ClientDefault = CLIENT_AUTH,
        timeout: httpx.Timeout | float | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send with limiter, retries and error mapping; returns the 2xx/3xx response or raises ServiceError.

        ``headers``/``auth`` are per call (e.g. one user's Numista key or Discogs OAuth1Auth) on top of
        the client's. ``idempotent=True`` lets a caller vouch that repeating a POST/PATCH is harmless.
        """
        method = method.upper()
        call_auth = self._auth if isinstance(auth, _ClientDefault) else auth
        secrets = self._secrets | secrets_from_auth(call_auth) | secrets_from_headers(headers)
        safe_to_repeat = is_idempotent(method, self.retry, idempotent)
        attempt = 0
        while True:
            request = self._build(method, url, params, json, data, content, headers, timeout)
            shown_url = redact_text(redact_url(request.url), secrets)
            started = time.monotonic()
            try:
                response = self._send_once(request, call_auth, method, shown_url)
            except httpx.TransportError as exc:
                if attempt < self.retry.max_retries and retryable_exception(exc, safe_to_repeat):
                    delay = backoff_delay(attempt, self.retry, self._rng)
                    self._log_retry(method, shown_url, type(exc).__name__, attempt, delay)
                    self._sleep(delay)
                    attempt += 1
                    continue
                log.warning("%s %s %s failed: %s", self.service, method, shown_url, type(exc).__name__)
                raise error_for_transport(
                    self.service, exc, method=method, url=shown_url, attempts=attempt + 1
                ) from exc
            elapsed_ms = (time.monotonic() - started) * 1000
            status = response.status_code
            log.debug("%s %s %s -> %s (%.0f ms)", self.service, method, shown_url, status, elapsed_ms)
            if status < 400:
                return response
            secrets |= secrets_from_request(response.request)
            server_message = parse_server_message(response)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            quota = status == 429 and is_quota_message(server_message)
            if retry_after is not None and status in (429, 503) and self.limiter is not None:
                self.limiter.pause_for(min(retry_after, self.retry.max_limiter_wait))
            can_retry = (
                not quota and attempt < self.retry.max_retries and retryable_status(status, safe_to_repeat)
            )
            if can_retry:
                delay = (
                    retry_after if retry_after is not None else backoff_delay(attempt, self.retry, self._rng)
                )
                if delay <= self.retry.max_sleep:
                    self._log_retry(method, shown_url, f"HTTP {status}", attempt, delay)
                    self._sleep(delay)
                    attempt += 1
                    continue
                log.warning(
                    "%s %s %s -> %s; Retry-After %.0f s exceeds the %.0f s cap, giving up",
                    self.service,
                    method,
                    shown_url,
                    status,
                    delay,
                    self.retry.max_sleep,
                )
            else:
                log.info("%s %s %s -> %s", self.service, method, shown_url, status)
            raise error_for_status(
                self.service,
                status,
                server_message,
                secrets=secrets,
                retry_after=retry_after,
                method=method,
                url=shown_url,
                attempts=attempt + 1,
            )

    # -- internals ---------------------------------------------------------------------------------
    def _build(
        self,
        method: str,
        url: str,
        params: Any,
        json: Any,
        data: Mapping[str, Any] | None,
        content: bytes | str | None,
        headers: Mapping[str, str] | None,
        timeout: httpx.Timeout | float | None,
    ) -> httpx.Request:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        request = self._http.build_request(
            method, url, params=params, json=json, data=data, content=content, headers=headers, **extra
        )
        if (request.url.scheme, request.url.host, request.url.port) != self._origin:
            # e.g. a pagination link pointing elsewhere: never send this service's credentials there.
            raise ValueError(f"refusing to send {self.service} credentials to {redact_url(request.url)}")
        request.headers["User-Agent"] = self.user_agent  # callers cannot drop or blank it
        return request

    def _send_once(
        self, request: httpx.Request, auth: AuthArg, method: str, shown_url: str
    ) -> httpx.Response:
        """One attempt inside one limiter slot; the slot is released whatever happens (even Ctrl-C)."""
        self._acquire(method, shown_url)
        response: httpx.Response | None = None
        try:
            response = self._http.send(request, auth=auth)
            return response
        finally:
            self._release(response)

    def _acquire(self, method: str, shown_url: str) -> None:
        if self.limiter is None:
            return
        try:
            waited = self.limiter.acquire(self.retry.max_limiter_wait)
        except LimiterTimeout as exc:
            raise RateLimitedError(
                f"{service_name(self.service)} request budget is used up; try again in {exc.wait:.0f} s.",
                service=self.service,
                retry_after=exc.wait,
                method=method,
                url=shown_url,
                attempts=0,
            ) from None
        if waited > 1.0:
            log.info("%s %s %s waited %.1f s for the rate limiter", self.service, method, shown_url, waited)

    def _release(self, response: httpx.Response | None) -> None:
        if self.limiter is None:
            return
        self.limiter.release()
        if response is not None:
            self.limiter.observe(response.headers)

    def _log_retry(self, method: str, shown_url: str, why: str, attempt: int, delay: float) -> None:
        log.warning(
            "%s %s %s: %s; retry %d/%d in %.2f s",
            self.service,
            method,
            shown_url,
            why,
            attempt + 1,
            self.retry.max_retries,
            delay,
        )
