"""The client address per-IP API limits count (services.api.forwarded) and the VITRINE_TRUSTED_PROXIES setting.
The same rules against a live server: tests/test_api_limits.py."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from services.api.forwarded import client_address
from services.config import SettingsError, load_settings

PROXIES = (ip_network("10.0.0.0/24"), ip_network("2001:db8::/32"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.7", ["203.0.113.9"], "198.51.100.7"),  # an untrusted peer's header is not believed
        ("10.0.0.5", [], "10.0.0.5"),  # a proxy's own request
        ("10.0.0.5", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.5", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),  # the client's own left part is ignored
        ("10.0.0.5", ["203.0.113.9, 10.0.0.8"], "203.0.113.9"),  # a chain of trusted proxies is skipped
        ("10.0.0.5", ["203.0.113.9", "10.0.0.8"], "203.0.113.9"),  # the header repeated: one chain, in order
        ("10.0.0.5", ["10.0.0.7, 10.0.0.8"], "10.0.0.7"),  # all trusted: the farthest
        ("10.0.0.5", ["203.0.113.9:51234"], "203.0.113.9"),  # with a port
        ("10.0.0.5", ["[2001:db9::1]:443"], "2001:db9::1"),
        ("2001:db8::2", ["2001:db9::1"], "2001:db9::1"),
        ("::ffff:10.0.0.5", ["203.0.113.9"], "203.0.113.9"),  # IPv4-mapped peer
        ("10.0.0.5", ["203.0.113.9, unknown"], "10.0.0.5"),  # garbage where the proxy wrote: its own address
        ("10.0.0.5", ["garbage, 203.0.113.9"], "203.0.113.9"),
        (None, ["203.0.113.9"], "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_no_trusted_proxy_by_default_ignores_the_header() -> None:
    settings = load_settings(environ={}, secrets=[])
    assert settings.trusted_proxies == ()
    assert client_address("127.0.0.1", ["203.0.113.9"], settings.trusted_proxies) == "127.0.0.1"


def test_trusted_proxies_setting_takes_addresses_and_blocks() -> None:
    settings = load_settings(environ={"VITRINE_TRUSTED_PROXIES": "10.0.0.5, 172.16.0.0/12 ::1"}, secrets=[])
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.5/32", "172.16.0.0/12", "::1/128"]
    with pytest.raises(SettingsError) as refused:
        load_settings(environ={"VITRINE_TRUSTED_PROXIES": "10.0.0.5, proxy.local"}, secrets=[])
    assert "VITRINE_TRUSTED_PROXIES" in refused.value.message
