"""Local demo peers for `make run`, so the dashboard shows something real with no internet.

  /payments/health  always 200
  /crm/health       up for 40 s, then 503 for 20 s, on a loop: a breaker opens and closes
  /search/health    200, but takes 50 ms to 1.5 s
  /ledger/health    accepts and never answers: a timeout
  /rpc              a JSON-RPC node (chain 1337, a block every 2 s) that stalls for 30 s
                    in every 90: a stale node, up to 15 blocks behind
  /rpc/backup       another node of that chain, which never stalls: its pool's best head
  /hooks/demo       a webhook receiver: prints each notification seahealth sends it
a job that reports in (with --ping URL): every JOB_EVERY s it pings URL/start, runs for
                    a second or two, and pings URL (every fifth run: URL/fail, with its log)
and, one port up each:
  :8901             an SMTP relay (aiosmtpd) that takes no mail
  :8902             an S3-compatible store (moto) holding the bucket `demo-documents`

python -m demo.peers [--port 8900] [--ping http://127.0.0.1:8000/ping/<token>]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CYCLE_UP = 40.0
CYCLE_DOWN = 20.0
BLOCK_TIME = 2.0
RPC_CYCLE, RPC_STALL = 90.0, 30.0
JOB_EVERY = 15.0
STARTED = time.monotonic()
STARTED_AT = time.time()


def crm_is_up(now: float | None = None) -> bool:
    elapsed = (now if now is not None else time.monotonic()) - STARTED
    return elapsed % (CYCLE_UP + CYCLE_DOWN) < CYCLE_UP


def latest_block(now: float | None = None, stalls: bool = True) -> int:
    """The demo chain's latest block number as a node sees it: a block every BLOCK_TIME; the
    node that stalls keeps the block it had when the stall at the end of each cycle began."""
    elapsed = (now if now is not None else time.time()) - STARTED_AT
    cycle, into = divmod(elapsed, RPC_CYCLE)
    if stalls and into >= RPC_CYCLE - RPC_STALL:
        elapsed = cycle * RPC_CYCLE + RPC_CYCLE - RPC_STALL
    return int(elapsed // BLOCK_TIME)


def block(number: int) -> dict[str, object]:
    """Block `number` of the demo chain: the same block whichever node serves it."""
    return {
        "number": hex(number),
        "timestamp": hex(int(STARTED_AT + number * BLOCK_TIME)),
        "hash": "0x" + f"{number:064x}",
        "parentHash": "0x" + f"{max(number - 1, 0):064x}",
        "transactions": [],
    }


def json_rpc(method: str, params: list, stalls: bool = True) -> object:
    if method == "eth_chainId":
        return hex(1337)
    if method == "eth_syncing":
        return False
    if method == "eth_getBlockByNumber":
        head = latest_block(stalls=stalls)
        tag = params[0] if params else "latest"
        # Finality two blocks behind the head, as a chain with finality has it (further).
        number = {"latest": head, "safe": head - 1, "finalized": head - 2}.get(tag)
        if number is None:
            number = int(tag, 16) if isinstance(tag, str) and tag.startswith("0x") else -1
            if not 0 <= number <= head:
                return None
        return block(max(number, 0))
    raise KeyError(method)


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

    def do_POST(self) -> None:
        if self.path == "/hooks/demo":
            self._print_notification()
            return
        if self.path not in ("/rpc", "/rpc/backup"):
            self._json(404, {"error": "no such demo endpoint"})
            return
        call = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        try:
            stalls = self.path == "/rpc"
            answer = {"result": json_rpc(call.get("method"), call.get("params") or [], stalls)}
        except KeyError:
            answer = {"error": {"code": -32601, "message": "the method does not exist"}}
        self._json(200, {"jsonrpc": "2.0", "id": call.get("id"), **answer})

    def _print_notification(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        told = ", ".join(f"{e['dependency']} {e['status']}" for e in body.get("events", []))
        print(f"demo webhook got {self.headers.get('webhook-id')}: {told or body.get('type')}")
        self._json(200, {"received": True})

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
    parser.add_argument("--ping", help="a heartbeat's ping URL, for the demo job to report in")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), DemoHandler)
    server.daemon_threads = True
    print(
        f"demo peers on http://127.0.0.1:{args.port}/ (crm: up {CYCLE_UP:g}s, down {CYCLE_DOWN:g}s)"
    )
    start_mail_relay(args.port + 1)
    start_object_store(args.port + 2)
    if args.ping:
        threading.Thread(target=run_job, args=(args.ping,), daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def run_job(ping: str) -> None:
    """A job run every JOB_EVERY s, as cron would, that reports in: its start, then its end
    (its run time is its heartbeat's latency); every fifth run fails, with its log."""
    import httpx

    for run in itertools.count(1):
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{ping}/start", timeout=5)
            time.sleep(random.uniform(0.5, 2.0))
            if run % 5:
                httpx.post(ping, timeout=5)
            else:
                log = f"demo job run {run}: backup failed: disk full\n"
                httpx.post(f"{ping}/fail", content=log.encode(), timeout=5)
        time.sleep(JOB_EVERY)


def start_mail_relay(port: int) -> None:
    # aiosmtpd and moto come with the development extras, which make run installs.
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    Controller(Sink(), hostname="127.0.0.1", port=port).start()
    print(f"demo SMTP relay on 127.0.0.1:{port}")


def start_object_store(port: int) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",  # noqa: S106 - moto takes any key
    ).create_bucket(Bucket="demo-documents")
    print(f"demo S3 store on {endpoint} (bucket demo-documents)")


if __name__ == "__main__":
    main()
