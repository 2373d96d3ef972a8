"""TCP_NODELAY on the server's listening socket, so no answer waits ~40 ms in the kernel.

Why: Streamlit binds its listening socket itself as ``socket.socket(family=...)`` (protocol 0), and asyncio sets
TCP_NODELAY only on connections whose socket names IPPROTO_TCP, so it never does on ours. The server writes an
answer's headers and body separately; Nagle's algorithm then holds the body until the client's delayed
acknowledgement: about 40 ms on every request after the first on a keep-alive connection (bench/api.py, one
client: p50 51 ms with the delay, 3 ms without). A listening socket's TCP_NODELAY is inherited by every
connection it accepts (Linux, macOS), and app.py is imported between Streamlit's bind and uvicorn's start, so
setting it there covers every connection. Streamlit gives no hook to set socket options, hence the search.
"""

from __future__ import annotations

import gc
import socket

_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def enable_nodelay_on_listening_sockets() -> int:
    """Set TCP_NODELAY on this process's listening TCP sockets; returns how many were set."""
    count = 0
    for candidate in gc.get_objects():
        if not isinstance(candidate, socket.socket) or candidate.fileno() < 0:
            continue
        if candidate.family not in _TCP_FAMILIES or candidate.type != socket.SOCK_STREAM:
            continue
        try:
            if not candidate.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                continue
            candidate.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # closed meanwhile, or not a TCP socket after all
            continue
        count += 1
    return count
