"""Ports for the servers tests start, safe while several pytest-xdist workers start theirs.

Picking a port by binding to port 0 and closing the socket leaves a moment in which another
worker's server, or any outgoing connection, may take the same port before the test's server
binds it. A server that accepts a socket gets one that stays bound from the start
(`listening_socket`); a server that only takes a port number is started again on another port
when its port was taken meanwhile (`on_free_port`)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
HOST = "127.0.0.1"
ATTEMPTS = 20


def listening_socket(host: str = HOST) -> socket.socket:
    """A non-blocking TCP socket listening on a port the system chose, kept open for the
    server to accept on (aiohttp's `web.SockSite`, tornado's `add_socket`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def unused_port(host: str = HOST) -> int:
    """A port nobody listens on right now; it may be taken before it is used."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return port_of(sock)


async def on_free_port(start: Callable[[int], Awaitable[T]], host: str = HOST) -> T:
    """`await start(port)` on an unused port, again on another one while it fails because
    its port was taken meanwhile (EADDRINUSE). `start` releases what it built before it
    raises."""
    for attempt in range(ATTEMPTS):
        try:
            return await start(unused_port(host))
        except OSError as error:
            if error.errno != errno.EADDRINUSE or attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
