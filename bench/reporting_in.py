"""Server time of what reports in: a heartbeat's ping and a provider's signed event, among
many heartbeats, against the goal (a ping answered in under 10 ms).

Declares N heartbeats (default 10,000, each with a token from the environment) and a few
webhooks (the timed events spread over them, each under its rate of 120 a minute) into a
fresh database, then times requests through Django's test client: the whole
Django stack (middleware, view, queries), no web server and no network. Per request kind it
prints the median and p95 server time, and the queries:

- `/ping/<token>`: a known token (found by its hash's index among N, its rate counted,
  stored);
- `/ping/<token>` over its rate: counted, not stored;
- `/ping/<unknown>`: the same answer, after the same look-up;
- `/ping/<token>/fail` with a 10 KB log;
- `/hooks/<name>`: a Standard Webhooks event checked and stored (a new id each time);
- `/hooks/<name>` replayed: checked, refused by the unique constraint, answered;
- and the prober's side: one tick applying the pings stored and judging every heartbeat due.

Run it by hand (it is never part of the test run), from the repository's root:

    .venv/bin/python bench/reporting_in.py
    .venv/bin/python bench/reporting_in.py --heartbeats 1000 --requests 200
    .venv/bin/python bench/reporting_in.py --database-url postgres://postgres@127.0.0.1:5432/postgres

SQLite goes to a file in a temporary directory; with a PostgreSQL URL, the database
`seahealth_bench` is created on that server and dropped after. DEBUG is off.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 10.0
SECRET = "whsec_" + base64.b64encode(b"bench-only-key-of-32-bytes-long!").decode()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heartbeats", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per kind")
    parser.add_argument("--database-url", help="a PostgreSQL server to use (default: SQLite)")
    return parser.parse_args()


ARGS = parse_args()
sys.path.insert(0, str(ROOT))
from bench import in_process  # noqa: E402

WORKDIR = in_process.start(
    ARGS.database_url,
    LOG_LEVEL="ERROR",
    HOOK_SECRET=SECRET,
    **{f"HB_TOKEN_{n}": f"token-{n:06}-0123456789" for n in range(ARGS.heartbeats)},
)

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from inbound import applying  # noqa: E402
from inbound.models import Signal  # noqa: E402
from inbound.views import EVENTS_PER_MINUTE  # noqa: E402
from notifications import signing  # noqa: E402
from probes.declarations import parse_declaration  # noqa: E402
from probes.models import Dependency  # noqa: E402
from probes.sync import sync  # noqa: E402


def main() -> None:
    with in_process.fresh_database(WORKDIR, "seahealth_bench"):
        print(f"database: {connection.vendor}; {ARGS.heartbeats:,} heartbeats, {hooks()} webhooks")
        declare()
        measure()


def declare() -> None:
    entries = [
        f"  - {{name: hb-{n}, kind: heartbeat, token: '${{HB_TOKEN_{n}}}', expect_every: 1h}}\n"
        for n in range(ARGS.heartbeats)
    ]
    entries += [
        f"  - {{name: provider-{k}, kind: webhook, signature: {{scheme: standard-webhooks,"
        " secret: '${HOOK_SECRET}'}, status_path: status, up: [ok], down: [outage]}\n"
        for k in range(hooks())
    ]
    started = time.perf_counter()
    sync(parse_declaration("dependencies:\n" + "".join(entries), "bench.yaml"))
    print(f"declared and synced in {time.perf_counter() - started:.1f} s")


def hooks() -> int:
    """Webhooks enough that the timed events stay under each one's rate."""
    return ARGS.requests // (EVENTS_PER_MINUTE // 2) + 1


def timed(request: Callable[[int], object], count: int) -> tuple[list[float], int]:
    """Server times in ms of `count` calls, and the queries of the last."""
    times = []
    for n in range(count):
        started = time.perf_counter()
        request(n)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        request(count)
    return times, len(queries)


def ping_path(n: int) -> str:
    return f"/ping/token-{n:06}-0123456789"


def event(client: Client, n: int) -> object:
    """The event `msg-n`, to a webhook of its own among HOOKS: each stays under its rate."""
    message_id = f"msg-{n}"
    body = json.dumps({"status": "ok"}).encode()
    at = int(datetime.now(UTC).timestamp())
    return client.post(
        f"/hooks/provider-{n % hooks()}",
        data=body,
        content_type="application/json",
        HTTP_WEBHOOK_ID=message_id,
        HTTP_WEBHOOK_TIMESTAMP=str(at),
        HTTP_WEBHOOK_SIGNATURE=signing.signature(SECRET, message_id, at, body),
    )


def measure() -> None:
    client = Client()
    count = ARGS.requests
    middle = ARGS.heartbeats // 2
    log = "x" * 10 * 1024
    rows = [
        # A token per request, each under its rate: found, counted, stored.
        ("/ping/<token>", lambda n: client.get(ping_path(n % ARGS.heartbeats))),
        # One token, far over its rate (30 a minute): found, counted, dropped.
        (
            "/ping/<token> (over its rate)",
            lambda n: client.get(ping_path(middle)),
        ),
        ("/ping/<unknown>", lambda n: client.get(f"/ping/no-such-token-{n}")),
        (
            "/ping/<token>/fail (10 KB)",
            lambda n: client.post(
                ping_path((n + 7) % ARGS.heartbeats) + "/fail",
                data=log,
                content_type="text/plain",
            ),
        ),
        ("/hooks/<name>", lambda n: event(client, n)),
        ("/hooks/<name> (a replay)", lambda n: event(client, 0)),
    ]
    print(f"\n{'request':<32} {'median ms':>10} {'p95 ms':>8} {'queries':>8}   goal")
    for label, request in rows:
        times, queries = timed(request, count)
        median = statistics.median(times)
        p95 = statistics.quantiles(times, n=20)[-1]
        goal = (
            f"< {GOAL_MS:g} ms: {'met' if median < GOAL_MS else 'MISSED'}"
            if "/ping" in label
            else ""
        )
        print(f"{label:<32} {median:>10.2f} {p95:>8.2f} {queries:>8}   {goal}")
    stored = Signal.objects.count()
    started = time.perf_counter()
    applying.apply_signals(datetime.now(UTC))
    applied = time.perf_counter() - started
    now, judged, ticks = datetime.now(UTC), 0, 0
    started = time.perf_counter()
    while batch := applying.judge_due(now):
        judged, ticks = judged + batch, ticks + 1
    took = time.perf_counter() - started
    recorded = Dependency.objects.exclude(last_checked_at=None).count()
    print(
        f"\nthe prober's side: {stored:,} signals applied in {applied * 1000:.0f} ms; "
        f"{judged:,} dependencies judged in {ticks} batches, {took * 1000:.0f} ms "
        f"({recorded:,} had reported, and were recorded)"
    )


if __name__ == "__main__":
    main()
