"""Local demo peers for `make run`, so the dashboard shows something real with no internet.

  /payments/health  always 200
  /crm/health       up for 40 s, then 503 for 20 s, on a loop: a breaker opens and closes
  /search/health    200, but takes 50 ms to 1.5 s
  /ledger/health    accepts and never answers: a timeout

python -m demo.peers [--port 8900]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CYCLE_UP = 40.0
CYCLE_DOWN = 20.0
STARTED = time.monotonic()


def crm_is_up(now: float | None = None) -> bool:
    elapsed = (now if now is not None else time.monotonic()) - STARTED
    return elapsed % (CYCLE_UP + CYCLE_DOWN) < CYCLE_UP


class DemoHandler(BaseHTTPRequestHandler):
    server_version = "seahealth-demo/1"

    def do_GET(self) -> None:
        if self.path == "/payments/health":
            self._json(200, {"status": "ok"})
        elif self.path == "/crm/health":
            up = crm_is_up()
            self._json(200 if up else 503, {"status": "ok" if up else "maintenance"})
        elif self.path == "/search/health":
            time.sleep(random.uniform(0.05, 1.5))
            self._json(200, {"status": "ok"})
        elif self.path == "/ledger/health":
            threading.Event().wait()  # never answers
        else:
            self._json(404, {"error": "no such demo endpoint"})

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per probe would drown the prober's log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8900)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), DemoHandler)
    server.daemon_threads = True
    print(
        f"demo peers on http://127.0.0.1:{args.port}/ (crm: up {CYCLE_UP:g}s, down {CYCLE_DOWN:g}s)"
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
