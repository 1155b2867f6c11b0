"""The test servers' ports: a port taken between picking and binding is picked again."""

from __future__ import annotations

import errno
import socket

import pytest

from tests import ports


async def test_a_server_whose_port_was_taken_starts_on_another(monkeypatch) -> None:
    taken = ports.listening_socket()
    picks = iter([ports.port_of(taken), ports.unused_port()])
    monkeypatch.setattr(ports, "unused_port", lambda host=ports.HOST: next(picks))
    tried: list[int] = []

    async def start(port: int) -> int:
        tried.append(port)
        with socket.socket() as sock:
            sock.bind((ports.HOST, port))  # EADDRINUSE on the taken port
        return port

    try:
        assert await ports.on_free_port(start) == tried[1] != ports.port_of(taken)
    finally:
        taken.close()


async def test_other_errors_are_not_retried() -> None:
    async def start(port: int) -> None:
        raise OSError(errno.EACCES, "denied")

    with pytest.raises(OSError, match="denied"):
        await ports.on_free_port(start)
