"""A stand-in for a running stack: stack.json pointing at a small local HTTP answerer."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Answer = Callable[[str, dict[str, str]], tuple[int, object]]


@contextmanager
def fake_stack(root: Path, answer: Answer) -> Iterator[Path]:
    """``root`` with a stack.json whose query-api answers GETs with ``answer(path, headers)``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answer(self.path, dict(self.headers))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    state = {"nats_url": "nats://127.0.0.1:9", "services": {"query-api": {"url": url}}}
    (root / "stack.json").write_text(json.dumps(state))
    try:
        yield root
    finally:
        server.shutdown()
        server.server_close()
