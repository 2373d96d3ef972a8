"""Remove credentials from anything we show or log.

Error messages reach the UI and log files, and servers echo requests back (URLs, form bodies,
OAuth parameters), so every string that leaves this package passes through here. Two layers:
name-based (a query parameter, header or JSON field whose *name* looks secret) and value-based
(the exact secrets this request carried, in their raw and URL-encoded spellings).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import httpx

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mangle ordinary text and are not real credentials

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "numista-api-key",
        "x-api-key",
        "api-key",
    }
)
_SENSITIVE_NAME_PARTS = (
    "key",
    "token",
    "secret",
    "signature",
    "password",
    "passwd",
    "verifier",
    "credential",
    "nonce",
)
_SENSITIVE_EXACT_NAMES = frozenset({"code", "sig", "auth", "authorization", "session", "sessionid", "cookie"})
_NAME = r"[A-Za-z0-9_.\-]+"


def is_sensitive_name(name: str) -> bool:
    """True for parameter/field names that usually carry a credential (api_key, oauth_signature...)."""
    lowered = name.lower()
    if lowered in _SENSITIVE_EXACT_NAMES or lowered in SENSITIVE_HEADERS:
        return True
    return any(part in lowered for part in _SENSITIVE_NAME_PARTS)


def _sub_if_sensitive(pattern: re.Pattern[str], text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        if not is_sensitive_name(match.group("name")):
            return match.group(0)
        start, end = match.span("value")
        base = match.start(0)
        whole = match.group(0)
        return whole[: start - base] + MASK + whole[end - base :]

    return pattern.sub(repl, text)


# name=value as in query strings, form bodies and OAuth header parameters (quoted or not).
_KV_QUOTED = re.compile(rf'(?P<name>{_NAME})\s*=\s*"(?P<value>[^"]*)"')
_KV_PLAIN = re.compile(rf"(?P<name>{_NAME})=(?P<value>[^&\s\"'<>,;)]+)")
# "name": "value" (JSON) and 'name': 'value' (Python reprs).
_JSON_DQ = re.compile(rf'"(?P<name>{_NAME})"\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)"')
_JSON_SQ = re.compile(rf"'(?P<name>{_NAME})'\s*:\s*'(?P<value>[^']*)'")
# (b'Name', b'value') header tuples as printed by httpcore's debug log.
_BYTES_TUPLE = re.compile(rf"\(b'(?P<name>{_NAME})',\s*b'(?P<value>[^']*)'\)")
# "Header-Name: value" lines.
_HEADER_LINE = re.compile(rf"(?im)^(?P<name>{_NAME}):[ \t]*(?P<value>[^\r\n]+)")
# A known credential header named mid-sentence ("... Numista-API-Key: abc ...").
_HEADER_ANY = re.compile(
    r"(?i)\b(?P<name>proxy-authorization|authorization|numista-api-key|x-api-key|api-key|set-cookie|cookie)"
    r"\s*:\s*(?P<value>[^\s,;]+)"
)
# Authorization schemes wherever they appear.
_SCHEME = re.compile(r"(?i)\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9\-._~+/=%]{4,}")


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values, then anything that looks like a credential by its name."""
    text = scrub_values(text, secrets)
    text = _SCHEME.sub(lambda m: f"{m.group(1)} {MASK}", text)
    for pattern in (_KV_QUOTED, _JSON_DQ, _JSON_SQ, _BYTES_TUPLE, _HEADER_LINE, _HEADER_ANY, _KV_PLAIN):
        text = _sub_if_sensitive(pattern, text)
    return text


def secret_variants(secret: str) -> set[str]:
    """The spellings a secret takes on the wire: raw, percent-encoded, form-encoded, decoded."""
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return set()
    variants = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), unquote(secret)}
    variants.add(unquote_plus(secret))
    return {v for v in variants if len(v) >= MIN_SECRET_LENGTH and v.strip("*")}


def scrub_values(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (longest first, so prefixes cannot leave tails)."""
    variants: set[str] = set()
    for secret in secrets:
        variants |= secret_variants(secret)
    for value in sorted(variants, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_url(url: str | httpx.URL) -> str:
    """The URL with user-info and every sensitive query value masked (names stay, for debugging)."""
    try:
        parsed = httpx.URL(str(url))
    except (httpx.InvalidURL, TypeError, ValueError):
        return redact_text(str(url))
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    items: list[tuple[str, str | int | float | bool | None]] = [
        (k, MASK if is_sensitive_name(k) else v) for k, v in parsed.params.multi_items()
    ]
    if items:
        parsed = parsed.copy_with(params=httpx.QueryParams(items))
    return str(parsed).replace(quote(MASK, safe=""), MASK)


def redact_headers(headers: Mapping[str, str] | httpx.Headers) -> dict[str, str]:
    """A loggable copy of headers, sensitive values masked."""
    items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
    return {k: (MASK if is_sensitive_name(k) else v) for k, v in items}


# name="value" (OAuth) or name=value (Discogs' "Discogs key=..., secret=...") inside an Authorization value.
_OAUTH_PARAM = re.compile(r'(?P<name>[A-Za-z0-9_]+)\s*=\s*(?:"(?P<quoted>[^"]*)"|(?P<value>[^",\s]+))')


def secrets_from_headers(headers: Mapping[str, str] | httpx.Headers | None) -> set[str]:
    """Values of credential headers, plus the token/OAuth parameters inside Authorization values."""
    found: set[str] = set()
    if not headers:
        return found
    items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
    for name, value in items:
        if not is_sensitive_name(name) or not isinstance(value, str):
            continue
        found.add(value)
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() in {"bearer", "basic", "token", "oauth", "digest", "discogs"}:
            found.add(rest.strip())
            for match in _OAUTH_PARAM.finditer(rest):
                if is_sensitive_name(match.group("name")):
                    value = (
                        match.group("quoted") if match.group("quoted") is not None else match.group("value")
                    )
                    found |= {value, unquote(value)}
    return {s for s in found if len(s) >= MIN_SECRET_LENGTH}


def secrets_from_request(request: httpx.Request | None) -> set[str]:
    """Every credential a request as sent carries: credential headers (signed ones too), query values."""
    if request is None:
        return set()
    found = secrets_from_headers(request.headers)
    for name, value in request.url.params.multi_items():
        if is_sensitive_name(name) and len(value) >= MIN_SECRET_LENGTH:
            found.add(value)
    return found


def secrets_from_auth(auth: object) -> set[str]:
    """Credentials held by an httpx auth object (authlib OAuth1Auth, httpx.BasicAuth...)."""
    found: set[str] = set()
    if auth is None:
        return found
    for attr in (
        "client_id",
        "client_secret",
        "token",
        "token_secret",
        "verifier",
        "password",
        "_auth_header",
    ):
        value = getattr(auth, attr, None)
        if isinstance(value, bytes):
            value = value.decode("latin-1", "replace")
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            found.add(value)
            if attr == "_auth_header":  # httpx.BasicAuth keeps "Basic <b64>"
                found.add(value.partition(" ")[2])
    return found


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites a record's message with credentials masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; never block the record
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        return True


_LOGGERS_TO_GUARD = (
    "services.http",
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)


def install_log_redaction() -> None:
    """Attach the filter to our logger and httpx/httpcore's (httpx logs full URLs at INFO). Idempotent."""
    for name in _LOGGERS_TO_GUARD:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
