"""``robopass witness serve``: the tlog-witness HTTP endpoint ``POST /add-checkpoint``.

A small threaded HTTP/1.1 server from the standard library (keep-alive, one thread a
connection); all the protocol is in :mod:`robopass.witness.protocol`.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from robopass.ledger import note
from robopass.witness import protocol
from robopass.witness.keyfile import WitnessKey
from robopass.witness.state import FileState

MAX_BODY = 64 * 1024


def read_logs(path: Path) -> list[note.NoteKey]:
    """One log verifier key a line; blank lines and ``#`` comments are ignored."""
    keys = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(note.parse_vkey(line))
        except note.NoteError as exc:
            raise ValueError(f"{path}:{n}: {exc}") from None
    return keys


def make_server(key: WitnessKey, logs: list[note.NoteKey], state: FileState, host: str,
                port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def _send(self, answer: protocol.Answer) -> None:
            data = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.rstrip("/") != "/add-checkpoint":
                self._send(protocol.Answer(404, "not found\n"))
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.close_connection = True
                self._send(protocol.Answer(413, "request too large\n"))
                return
            body = self.rfile.read(length)
            self._send(protocol.add_checkpoint(body, logs=logs, name=key.name,
                                               private=key.private, state=state))

        def do_GET(self) -> None:  # noqa: N802
            self._send(protocol.Answer(200, key.vkey + "\n") if self.path == "/vkey"
                       else protocol.Answer(404, "not found\n"))

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def start_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="robopass-witness", daemon=True)
    thread.start()
    return thread
