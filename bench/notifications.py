"""Notifications under a storm: --dependencies dependencies go down at once, each told to a
webhook receiver that answers in --delay (50 ms): how long until the last one is delivered.

For each shape of the prober (--shapes):

- embedded: `manage.py runprobes` on SQLite, what `make run` starts (it sends every second);
- celery: Celery beat and one worker of two processes, on PostgreSQL (--database-url) with
  Redis (--broker-url), as docker-compose.yml runs it (beat sends send_notifications every
  2 s);

it declares the dependencies (http, every --interval, down at their first failure) on a
loopback peer and one webhook channel routed every change, waits until every one is up, then
turns the peer to 503 for all of them at once. It prints when the down events were recorded
(spread over one interval: each is seen at its next probe), when the receiver answered the
first and the last notification, the last one's time after the last event, each event's
time from recorded to delivered (p50, p99), what the receiver counted (messages,
dependencies told down, ids delivered twice), the messages left unsent, and the probes that
failed otherwise than with the peer's 503 (timeouts: the prober fell behind, and the times
above measure that too).

The peer and the receiver run on one event loop in a thread of this process; the receiver
answers each request --delay after reading it, and a notification counts as delivered then.

Run it by hand, from the repository's root (never part of the tests):

    .venv/bin/python bench/notifications.py
    .venv/bin/python bench/notifications.py --shapes embedded --group-wait 10s

PostgreSQL gets a database of its own (`seahealth_bench_notifications`, dropped after); Redis
the database 12 (flushed). Every process it started and its temporary directory go when it
ends.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.databases import database_url, drop_postgres  # noqa: E402
from bench.processes import spawn, stop  # noqa: E402

BENCH_DATABASE = "seahealth_bench_notifications"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="embedded,celery")
    parser.add_argument("--dependencies", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=5, help="seconds")
    parser.add_argument("--delay", type=float, default=0.05, help="the receiver's, seconds")
    parser.add_argument("--group-wait", default="0s", help="the channel's group_wait")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per phase")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/12")
    return parser.parse_args()


# --- the peer and the receiver -----------------------------------------------------------


@dataclass
class Answered:
    at: float  # time.time() when the receiver answered
    id: str  # webhook-id
    events: list[tuple[str, str]]  # (dependency, status)


@dataclass
class Peers:
    """The dependencies' peer (200, or 503 once `down`) and the webhook receiver (204 after
    `delay`), HTTP/1.1 with keep-alive, on one event loop in a daemon thread."""

    delay: float
    down: bool = False
    answered: list[Answered] = field(default_factory=list)
    peer_port: int = 0
    receiver_port: int = 0

    def start(self) -> None:
        ready = threading.Event()
        threading.Thread(target=lambda: asyncio.run(self._serve(ready)), daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("the peers did not start")

    async def _serve(self, ready: threading.Event) -> None:
        peer = await asyncio.start_server(self._peer, "127.0.0.1", 0, backlog=4096)
        receiver = await asyncio.start_server(self._receiver, "127.0.0.1", 0, backlog=4096)
        self.peer_port = peer.sockets[0].getsockname()[1]
        self.receiver_port = receiver.sockets[0].getsockname()[1]
        ready.set()
        await asyncio.Event().wait()

    async def _peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async for _ in requests(reader, writer):
            answer = b"503 Service Unavailable" if self.down else b"200 OK"
            writer.write(b"HTTP/1.1 " + answer + b"\r\nContent-Length: 0\r\n\r\n")

    async def _receiver(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async for headers, body in requests(reader, writer):
            await asyncio.sleep(self.delay)
            events = [(e["dependency"], e["status"]) for e in json.loads(body)["events"]]
            self.answered.append(Answered(time.time(), headers.get("webhook-id", ""), events))
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")


async def requests(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    """Each request on a connection, as (headers, body), until the client closes it."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            headers = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length") or 0))
            yield headers, body
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


# --- one shape ---------------------------------------------------------------------------


@dataclass
class Figures:
    shape: str
    events: list[float] = field(default_factory=list)  # recorded, seconds after going down
    delivered: list[float] = field(default_factory=list)  # each down event's, likewise
    latencies: list[float] = field(default_factory=list)  # each from recorded to delivered
    messages: int = 0
    told: int = 0  # dependencies told down
    twice: int = 0  # ids delivered more than once
    unsent: int = 0  # messages not sent when it ended
    # Failures other than the peer's 503 (timeouts): the prober fell behind, and the figures
    # measure that too.
    other_failures: int = 0


def run(shape: str, args: argparse.Namespace, workdir: Path) -> Figures:
    print(f"\n{shape}: declaring {args.dependencies:,} dependencies, migrating")
    peers = Peers(args.delay)
    peers.start()
    declaration = workdir / f"{shape}.yaml"
    declaration.write_text(declared(args, peers))
    database = database_url(shape, workdir, args.database_url, BENCH_DATABASE)
    env = environment(database, declaration, args.broker_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    processes = start_prober(shape, env, workdir)
    try:
        up = "SELECT COUNT(*) FROM probes_dependency WHERE status = 'up'"
        wait(lambda: scalar(database, up) == args.dependencies, args.timeout, "all up", workdir)
        print(f"  all up; the peer goes down for all of them at once ({shape})")
        went_down = time.time()
        peers.down = True
        wait(lambda: told_down(peers) >= args.dependencies, args.timeout, "all told", workdir)
        pending = "SELECT COUNT(*) FROM notifications_message WHERE state != 'sent'"
        wait(lambda: scalar(database, pending) == 0, args.timeout, "all marked sent", workdir)
    finally:
        for process in reversed(processes):
            stop(process)
    figures = measure(shape, database, peers, went_down)
    if database.startswith("postgres"):
        drop_postgres(args.database_url, BENCH_DATABASE)
    return figures


def declared(args: argparse.Namespace, peers: Peers) -> str:
    lines = [
        "notifications:",
        "  channels:",
        f"    hook: {{type: webhook, url: 'http://127.0.0.1:{peers.receiver_port}/hook',",
        f"           secret: '${{HOOK_SECRET}}', group_wait: {args.group_wait}}}",
        "  routes: [{channels: [hook]}]",
        f"defaults: {{kind: http, interval: {args.interval}s, timeout: {min(args.interval, 5)}s,",
        "  breaker: {failure_threshold: 1, recovery_timeout: 1h}}",
        "dependencies:",
    ]
    lines += [
        f"  - {{name: dep-{n}, url: 'http://127.0.0.1:{peers.peer_port}/{n}'}}"
        for n in range(args.dependencies)
    ]
    return "\n".join(lines) + "\n"


def told_down(peers: Peers) -> int:
    return len(
        {name for a in list(peers.answered) for name, status in a.events if status == "down"}
    )


def measure(shape: str, database: str, peers: Peers, went_down: float) -> Figures:
    figures = Figures(shape)
    recorded = dict(
        rows(
            database,
            "SELECT d.name, e.created_at FROM notifications_event e "
            "JOIN probes_dependency d ON d.id = e.dependency_id WHERE e.status = 'down'",
        )
    )
    figures.events = sorted(stamp(at) - went_down for at in recorded.values())
    delivered: dict[str, float] = {}
    seen: dict[str, int] = {}
    for answer in peers.answered:
        seen[answer.id] = seen.get(answer.id, 0) + 1
        for name, status in answer.events:
            if status == "down":
                delivered.setdefault(name, answer.at)
    figures.messages = len(seen)
    figures.twice = sum(1 for count in seen.values() if count > 1)
    figures.told = len(delivered)
    figures.delivered = sorted(at - went_down for at in delivered.values())
    figures.latencies = sorted(
        at - stamp(recorded[name]) for name, at in delivered.items() if name in recorded
    )
    figures.other_failures = scalar(
        database,
        "SELECT COUNT(*) FROM probes_proberesult "
        "WHERE result = 'failure' AND error_class != 'unexpected_status'",
    )
    figures.unsent = scalar(
        database, "SELECT COUNT(*) FROM notifications_message WHERE state != 'sent'"
    )
    return figures


# --- the database --------------------------------------------------------------------------


def rows(database: str, query: str) -> list[tuple[Any, ...]]:
    if database.startswith("sqlite"):
        path = database.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
            return db.execute(query).fetchall()
    import psycopg

    with psycopg.connect(database) as db:
        return db.execute(query).fetchall()


def scalar(database: str, query: str) -> Any:
    return rows(database, query)[0][0]


def stamp(value: str | datetime) -> float:
    """A time the database stored (SQLite: UTC text), as time.time() does."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.timestamp()


def postgres_version(url: str) -> str:
    try:
        return "PostgreSQL " + scalar(url, "SELECT current_setting('server_version')")
    except Exception as exc:  # noqa: BLE001 - only printed: the bench runs without it
        return f"PostgreSQL unreachable ({type(exc).__name__})"


# --- processes -----------------------------------------------------------------------------


def environment(database: str, declaration: Path, broker: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEAHEALTH_", "DATABASE"))}
    return env | {
        "DJANGO_SETTINGS_MODULE": "seahealth.settings",
        "DATABASE_URL": database,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SEAHEALTH_DEPENDENCIES": str(declaration),
        "CELERY_BROKER_URL": broker,
        "HOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        "LOG_LEVEL": "WARNING",
    }


def start_prober(shape: str, env: dict[str, str], workdir: Path) -> list[subprocess.Popen]:
    if shape == "embedded":
        return [spawn([sys.executable, "manage.py", "runprobes"], env, workdir / "runprobes.log")]
    subprocess.run(["redis-cli", "-u", env["CELERY_BROKER_URL"], "flushdb"], capture_output=True)
    celery = [sys.executable, "-m", "celery", "-A", "seahealth"]
    worker = ["worker", "--pool=prefork", "--concurrency=2", "--without-mingle", "--without-gossip"]
    beat = ["beat", f"--schedule={workdir / 'beat-schedule'}"]
    return [
        spawn([*celery, *worker, "--loglevel=WARNING"], env, workdir / "worker.log"),
        spawn([*celery, *beat, "--loglevel=WARNING"], env, workdir / "beat.log"),
    ]


def wait(condition, seconds: float, what: str, workdir: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"not {what} within {seconds:g}s: see the logs in {workdir}")
        time.sleep(0.2)


# --- the report ----------------------------------------------------------------------------


def hardware(postgres: str) -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown CPU",
    )
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    kib = next((int(line.split()[1]) for line in meminfo.splitlines() if "MemTotal" in line), 0)
    return (
        f"{model}, {os.cpu_count()} CPUs, {kib / 1024**2:.1f} GiB RAM; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {postgres_version(postgres)}; "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(args: argparse.Namespace, results: list[Figures]) -> None:
    print(
        f"\n{args.dependencies:,} dependencies (every {args.interval}s) down at once; a webhook "
        f"receiver answering in {args.delay * 1000:.0f} ms; group_wait {args.group_wait}; "
        "seconds after they went down:"
    )
    lines = [
        (
            "shape",
            "events recorded",
            "first delivered",
            "last delivered",
            "after last event",
            "event->delivered p50",
            "p99",
            "messages",
            "told down",
            "twice",
            "unsent",
            "not 503",
        )
    ]
    for x in results:
        latencies = x.latencies
        lines.append(
            (
                x.shape,
                f"{x.events[0]:.1f} .. {x.events[-1]:.1f}",
                f"{x.delivered[0]:.1f}",
                f"{x.delivered[-1]:.1f}",
                f"{x.delivered[-1] - x.events[-1]:.1f}",
                f"{statistics.median(latencies):.2f}",
                f"{percentile(latencies, 99):.2f}",
                f"{x.messages:,}",
                f"{x.told:,}",
                f"{x.twice}",
                f"{x.unsent}",
                f"{x.other_failures}",
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    for row in lines:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> int:
    args = parse_args()
    print(hardware(args.database_url))
    workdir = Path(tempfile.mkdtemp(prefix="seahealth-bench-notifications-"))
    try:
        results = [run(shape, args, workdir) for shape in args.shapes.split(",")]
        report(args, results)
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("kept", workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
