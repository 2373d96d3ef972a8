"""The one HTTP layer of Vitrine: per-service clients with User-Agent, timeouts, retries, a shared
rate limiter and typed, credential-free errors. Integrations import from here only.

    from services.http import numista_client, NotFoundError
    with numista_client(settings, api_key=key) as api:
        data = api.get_json("/types", params={"q": "dupondius"})
"""

from services.http.client import ServiceClient
from services.http.errors import (
    AuthError,
    BadRequestError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    ServiceError,
    ServiceUnavailableError,
)
from services.http.factory import (
    SERVICES,
    create_client,
    discogs_client,
    numista_client,
    pokemontcg_client,
    shared_limiter,
    user_agent,
)
from services.http.ratelimit import SlidingWindowLimiter, limiter_for, reset_limiters
from services.http.redact import install_log_redaction, redact_text, redact_url
from services.http.retry import RetryPolicy

install_log_redaction()

__all__ = [
    "SERVICES",
    "AuthError",
    "BadRequestError",
    "NotFoundError",
    "QuotaExceededError",
    "RateLimitedError",
    "RetryPolicy",
    "ServiceClient",
    "ServiceError",
    "ServiceUnavailableError",
    "SlidingWindowLimiter",
    "create_client",
    "discogs_client",
    "install_log_redaction",
    "limiter_for",
    "numista_client",
    "pokemontcg_client",
    "redact_text",
    "redact_url",
    "reset_limiters",
    "shared_limiter",
    "user_agent",
]
