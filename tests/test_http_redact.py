"""Redaction: credentials never survive into messages, URLs or log lines (names stay, values go)."""

from __future__ import annotations

import logging
import pickle
from urllib.parse import quote, quote_plus

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.http.errors import (
    AuthError,
    BadRequestError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    ServiceError,
    ServiceUnavailableError,
    error_for_status,
    parse_server_message,
)
from services.http.redact import (
    MASK,
    RedactingFilter,
    is_sensitive_name,
    redact_headers,
    redact_text,
    redact_url,
    secrets_from_auth,
    secrets_from_request,
)

SECRET_ALPHABET = st.characters(
    min_codepoint=33, max_codepoint=126, blacklist_characters="*"
)  # printable ASCII; '*' is the mask itself
secrets_st = st.text(SECRET_ALPHABET, min_size=8, max_size=40)
SENSITIVE_PARAMS = [
    "oauth_signature",
    "access_token",
    "client_secret",
    "api_key",
    "oauth_token",
    "code",
    "oauth_verifier",
    "key",
    "refresh_token",
    "password",
]


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(secret=secrets_st, name=st.sampled_from(SENSITIVE_PARAMS))
def test_redact_url_masks_sensitive_query_values(secret: str, name: str) -> None:
    url = httpx.URL("https://api.example.test/v3/oauth_token", params={name: secret, "lang": "en"})
    shown = redact_url(url)
    assert secret not in shown and quote(secret, safe="") not in shown and quote_plus(secret) not in shown
    assert f"{name}={MASK}" in shown and "lang=en" in shown


def test_redact_url_masks_userinfo() -> None:
    assert redact_url("postgresql://ann:hunter22@db/x") == "postgresql://db/x"


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(secret=secrets_st, prefix=st.text(max_size=30), suffix=st.text(max_size=30))
def test_known_secret_values_are_removed_in_every_spelling(secret: str, prefix: str, suffix: str) -> None:
    for spelling in {secret, quote(secret, safe=""), quote_plus(secret)}:
        text = f"{prefix}{spelling}{suffix}"
        assert secret not in redact_text(text, [secret])


@pytest.mark.parametrize(
    "text",
    [
        'Invalid signature: oauth_signature="abcd1234%26efgh" oauth_token="tok-123456"',
        "GET /oauth_token?grant_type=authorization_code&code=c0de9999&client_secret=sekret-42 failed",
        '{"access_token": "fake-access-77e1", "token_type": "bearer"}',
        "{'Numista-API-Key': 'abcd1234efgh'}",
        "Authorization: Bearer abc.def.ghi-123",
        "sent header Numista-API-Key: abcd1234efgh to server",
        "[(b'Set-Cookie', b'session=abcd1234efgh')]",
        "X-Api-Key: abcd1234efgh",
    ],
)
def test_pattern_redaction_without_knowing_the_secret(text: str) -> None:
    cleaned = redact_text(text)
    for needle in ("abcd1234", "tok-123456", "c0de9999", "sekret-42", "fake-access-77e1", "abc.def.ghi"):
        assert needle not in cleaned, cleaned


def test_harmless_text_is_untouched() -> None:
    text = "Release not found. page=2&per_page=50 status=For Sale"
    assert redact_text(text) == text


def test_name_classification() -> None:
    for name in ("oauth_signature", "Numista-API-Key", "X-Api-Key", "client_secret", "access_token", "code"):
        assert is_sensitive_name(name)
    for name in ("q", "page", "per_page", "lang", "currency", "status"):
        assert not is_sensitive_name(name)
    assert redact_headers({"Authorization": "Bearer x", "Accept": "a/b"}) == {
        "Authorization": MASK,
        "Accept": "a/b",
    }


def test_secrets_from_signed_request_and_auth() -> None:
    header = (
        'OAuth oauth_consumer_key="ckey1234", oauth_token="tok56789", '
        'oauth_signature="csecret1%26tsecret2", oauth_signature_method="PLAINTEXT"'
    )
    request = httpx.Request(
        "GET", "https://x.test/a?access_token=qtok9999&q=1", headers={"Authorization": header}
    )
    found = secrets_from_request(request)
    assert {"ckey1234", "tok56789", "csecret1%26tsecret2", "csecret1&tsecret2", "qtok9999"} <= found

    class FakeOAuth1:
        client_id, client_secret, token, token_secret = "ckey1234", "csecret1", "tok56789", "tsecret2"

    assert {"ckey1234", "csecret1", "tok56789", "tsecret2"} <= secrets_from_auth(FakeOAuth1())
    assert "YW5uOmh1bnRlcjItbG9uZw==" in secrets_from_auth(httpx.BasicAuth("ann", "hunter2-long"))


def test_logging_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test_http_redact.filter")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info('HTTP Request: GET %s "HTTP/1.1 200 OK"', "https://x.test/t?access_token=zz-secret-99")
    assert "zz-secret-99" not in caplog.text and "access_token=***" in caplog.text


def _response(status: int, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            b'{"error_message": "Invalid or missing API key"}',
            "application/json",
            "Invalid or missing API key",
        ),
        (b'{"message": "Release not found."}', "application/json", "Release not found."),
        (
            b'{"error": {"message": "Bad Request. Your request is malformed", "code": 400}}',
            "application/json",
            "Bad Request. Your request is malformed",
        ),
        (b"Invalid consumer.", "text/plain", "Invalid consumer."),
        (
            b"<html><title>Just a moment...</title><body>x</body></html>",
            "text/html",
            "HTML page instead of an API answer: Just a moment...",
        ),
        (b"", "application/json", None),
        (b"[1, 2]", "application/json", None),
    ],
)
def test_parse_server_message_shapes(body: bytes, content_type: str, expected: str | None) -> None:
    assert parse_server_message(_response(400, body, content_type)) == expected


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (400, "bad", BadRequestError),
        (422, "Invalid status", BadRequestError),
        (401, "Invalid or missing API key", AuthError),
        (403, "You don't have permission", AuthError),
        (403, None, ServiceError),  # empty 403: Discogs' User-Agent block, not a credentials problem
        (403, "HTML page instead of an API answer: Just a moment...", ServiceError),
        (404, "Release not found.", NotFoundError),
        (429, "Quota exceeded", QuotaExceededError),
        (429, "You are making requests too quickly.", RateLimitedError),
        (503, None, ServiceUnavailableError),
        (402, None, ServiceError),
    ],
)
def test_status_mapping(status: int, message: str | None, cls: type[ServiceError]) -> None:
    err = error_for_status("discogs", status, message)
    assert type(err) is cls and err.status == status and err.service == "discogs"
    assert str(err) == err.message and "Discogs" in err.message
    if message:
        assert message in err.message


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(tail=secrets_st)
def test_error_messages_never_echo_secrets(tail: str) -> None:
    secret = "Zq9#" + tail  # a prefix our own wording lacks: a secret "AuthErro" is in repr(err)'s class name
    server_said = f"Invalid token {secret} for client_secret={secret}"
    err = error_for_status(
        "numista",
        401,
        server_said,
        secrets=[secret],
        url=f"https://x.test/oauth_token?client_secret={quote(secret)}",
    )
    for text in (err.message, str(err), repr(err), err.server_message or "", err.url or ""):
        assert secret not in text


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(tail=secrets_st, pad=st.integers(250, 320))
def test_truncation_cannot_leave_part_of_a_secret(tail: str, pad: int) -> None:
    secret = "Zq9#" + tail  # a prefix that cannot occur in our own wording
    err = error_for_status("numista", 400, "." * pad + secret + " tail", secrets=[secret])
    assert "Zq9#" not in err.message and len(err.server_message or "") <= 300


def test_errors_survive_pickling() -> None:
    """The worker hands errors between threads/processes and may store them: keep the fields."""
    err = error_for_status(
        "discogs", 429, "slow down", retry_after=12.0, method="POST", url="https://x.test/a"
    )
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is RateLimitedError
    assert (copy.service, copy.status, copy.retry_after, copy.message) == ("discogs", 429, 12.0, err.message)
