"""Connections to the server answer without Nagle's delay (services/api/nodelay.py): a listening socket bound
the way Streamlit binds it gets TCP_NODELAY, and the connections it accepts inherit it."""

from __future__ import annotations

import socket

from services.api.nodelay import enable_nodelay_on_listening_sockets


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_accepted_connections_of_a_streamlit_like_listener_have_tcp_nodelay() -> None:
    listener = socket.socket(family=socket.AF_INET)  # protocol 0, as Streamlit's _bind_socket makes it
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    client = socket.create_connection(listener.getsockname())
    before, _ = listener.accept()
    assert _nodelay(before) == 0  # what asyncio then leaves as it is
    try:
        assert enable_nodelay_on_listening_sockets() >= 1
        second = socket.create_connection(listener.getsockname())
        after, _ = listener.accept()
        assert _nodelay(listener) == 1 and _nodelay(after) == 1
        assert _nodelay(client) == 0 and _nodelay(second) == 0  # client sockets are not touched
    finally:
        for sock in (listener, client, before, second, after):
            sock.close()
