"""The web front: a tiny HTTP server on $PORT that queues jobs for the queue worker.

    GET  /             queue counts as JSON
    POST /jobs?kind=K  queue a job of kind K (default "report"), answer its id
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from workers import jobqueue


class Handler(BaseHTTPRequestHandler):
    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if urlsplit(self.path).path != "/":
            self._reply(404, {"error": "not found"})
            return
        self._reply(200, {"app": os.environ.get("PLATFORM_APPLICATION_NAME"),
                          "jobs": jobqueue.counts()})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/jobs":
            self._reply(404, {"error": "not found"})
            return
        kind = parse_qs(url.query).get("kind", ["report"])[0]
        self._reply(201, {"id": jobqueue.enqueue(kind)})

    def log_message(self, fmt: str, *args: object) -> None:
        sys.stderr.write(f"web: {self.address_string()} {fmt % args}\n")
        sys.stderr.flush()


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # requests are short: just go
    print(f"web: listening on http://127.0.0.1:{port}/", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
