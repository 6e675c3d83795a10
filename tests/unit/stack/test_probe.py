"""A readiness probe that reaches something other than an HTTP server says "not ready";
it crashed ``hearth up`` with a traceback when another program (a NATS server, which
greets every connection with ``INFO {...}``) held a service's port."""

from __future__ import annotations

import socket
import threading

from hearth.stack.probe import probe


def test_a_port_answered_by_something_that_is_not_http_is_not_ready() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def greet_like_nats() -> None:
        conn, _ = server.accept()
        conn.sendall(b'INFO {"server_id":"N","version":"2.15.1"}\r\n')
        conn.recv(1024)
        conn.close()

    greeter = threading.Thread(target=greet_like_nats, daemon=True)
    greeter.start()
    try:
        assert probe(f"http://127.0.0.1:{port}/readyz", timeout=5) == (0, {})
    finally:
        greeter.join(5)
        server.close()
