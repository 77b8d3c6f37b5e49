"""Made-up dependencies for the benchmarks: declared, synced, their current state and history.

Import it once Django is set up (the benchmarks set it up from their arguments first).
"""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

import yaml
from django.db import transaction
from django.db.models import Max

from probes import exposition, recording, tls
from probes.declarations import load_declaration
from probes.models import Dependency, ProbeResult, Rollup, StateVersion
from probes.rollups import LATENCY_BOUNDS_MS, UPTIME_FIELDS, bucket_start
from probes.row_updates import update_rows
from probes.sync import sync

INTERVAL = timedelta(seconds=60)
RAW_RETENTION = timedelta(days=7)
KINDS = {"http": 0.55, "rpc": 0.15, "smtp": 0.15, "s3": 0.15}
GROUPS = ["payments", "identity", "search", "mail", "storage", "chain", "partners", "billing"]
# Cumulative: 2% down, 5% degraded, 1% never probed yet, the rest up.
STATUS_SHARES = [("down", 0.02), ("degraded", 0.07), ("unknown", 0.08), ("up", 1.0)]
# The current state, as recording keeps it (and rollups.refresh_uptimes, the uptimes).
# What recording writes (its metrics_text too: a row without it is rendered at every scrape),
# and the uptimes the prober's refresh would store.
STATE_FIELDS = [*recording.STATE_FIELDS, *UPTIME_FIELDS]
CHUNK = 20_000  # objects built, then written, at a time


def declare(
    count: int, *, seed: int, now: datetime, workdir: Path, critical_down: bool = True
) -> list[Profile]:
    """Declares `count` dependencies and sets the current state of those new to the database.

    The declaration depends only on `seed`: declaring more later keeps the first ones as they
    are. With `critical_down` false, a critical dependency drawn down is degraded instead,
    so that the service is degraded, not unhealthy (its /health/dependencies answers 200).
    """
    started = time.perf_counter()
    path = workdir / "dependencies.yaml"
    path.write_text(yaml.safe_dump(declaration(count, random.Random(seed)), sort_keys=False))
    newest = Dependency.objects.aggregate(id=Max("id"))["id"] or 0
    sync(load_declaration(path), now=now)
    rows = list(Dependency.objects.filter(id__gt=newest).order_by("id"))
    rng = random.Random(f"{seed}:{count}")
    profiles = [Profile(row, rng, now, critical_down=critical_down) for row in rows]
    for row in rows:
        row.metrics_text = exposition.render(row)
    write_state(rows, STATE_FIELDS)
    StateVersion.bump()  # as recording does: what /health/* shows has changed
    print(f"declared, synced and set {len(rows):,} dependencies in {since(started):.1f}s")
    statuses = {s: sum(r.status == s for r in rows) for s, _ in STATUS_SHARES}
    critical = sum(r.critical and r.status == "down" for r in rows)
    print(
        "  " + ", ".join(f"{n} {status}" for status, n in statuses.items()),
        f"({critical} of the down ones critical)",
    )
    return profiles


def write_state(rows: list[Dependency], fields: list[str]) -> None:
    """The rows' fields, as recording writes them (bulk_update's CASE takes a minute here
    for 10,000 rows)."""
    with transaction.atomic():
        update_rows(Dependency, rows, fields)


def declaration(count: int, rng: random.Random) -> dict:
    entries = []
    for i in range(count):
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        group = rng.choice([*GROUPS, ""])  # one in nine ungrouped
        name = f"{group or 'misc'}-{kind}-{i:04d}"
        entry = {"name": name, "kind": kind, "critical": rng.random() < 0.2}
        if group:
            entry["group"] = group
        entry |= {
            "http": {"url": f"https://{name}.example.com/health", "expect_status": [200]},
            "rpc": {"url": f"https://{name}.example.com/rpc", "max_block_age": "60s"},
            "smtp": {"host": f"{name}.example.com", "tls": "starttls"},
            "s3": {"bucket": name, "region": "eu-west-1"},
        }[kind]
        entries.append(entry)
    return {"defaults": {"interval": "60s", "timeout": "5s"}, "dependencies": entries}


class Profile:
    """One dependency's made-up behaviour: its state now, its latencies, how often it fails."""

    def __init__(
        self, row: Dependency, rng: random.Random, now: datetime, *, critical_down: bool = True
    ) -> None:
        self.row, self.rng, self.now = row, rng, now
        self.base = rng.choice([3, 12, 40, 90, 250]) * rng.uniform(0.7, 1.4)
        self.failure_rate = rng.choice([0.0, 0.0005, 0.002, 0.02])
        self.samples = sorted(round(self.base * rng.lognormvariate(0, 0.35), 1) for _ in range(400))
        self.shape = [0] * (len(LATENCY_BOUNDS_MS) + 1)
        for latency in self.samples:
            self.shape[bucket(latency)] += 1
        self._histograms: dict[int, list[int]] = {}
        self._set_state(critical_down)

    def _set_state(self, critical_down: bool) -> None:
        row, rng, now = self.row, self.rng, self.now
        draw = rng.random()
        row.status = next(status for status, below in STATUS_SHARES if draw < below)
        if row.status == "down" and row.critical and not critical_down:
            row.status = "degraded"
        if row.status == "unknown":
            return
        last = int(now.timestamp())
        recent = [[last - 60 * (39 - i), "s", self.latency()] for i in range(40)]
        row.status_since = now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
        row.last_result = "success"
        row.last_checked_at = now - timedelta(seconds=rng.randint(0, 59))
        row.last_observations = self._observations()
        if row.status == "down":
            for check in recent[-rng.randint(3, 20) :]:
                check[1:] = ["f", None]
            row.status_since = now - timedelta(minutes=rng.randint(1, 180))
            row.breaker_state, row.breaker_opened_at = "open", now - timedelta(seconds=20)
            row.last_result, row.last_error_class = "failure", "connect"
            row.last_error = "connect: connection refused"
            row.last_observations = {}
        elif row.status == "degraded":
            for check in recent[-3:]:
                check[1] = "d"
            row.last_result = "degraded"
            row.last_warnings = [f"slow: {self.base * 8:.0f} ms, over max_latency"]
        row.recent = recent
        row.last_latency_ms = recent[-1][2]
        row.totals = self._totals()
        # Close to what rollups.refresh_uptimes would find in this dependency's history.
        down_share = 0.05 if row.status == "down" else 0.0
        for name, days in zip(UPTIME_FIELDS, (1, 7, 30), strict=True):
            failing = self.failure_rate * rng.uniform(0.5, 1.5) + down_share / days
            setattr(row, name, max(0.0, 1 - failing))

    def _observations(self) -> dict:
        """What the last probe observed: the kind's figures, and the TLS fields every kind has."""
        kind, rng = self.row.kind, self.rng
        observations: dict = {}
        if kind == "http":
            connect = round(self.base * 0.2, 3)
            observations = {
                "status_code": 200,
                "timings_ms": {
                    "connect": connect,
                    "tls": round(connect * 2, 3),
                    "first_byte": round(self.base, 3),
                },
            }
        elif kind == "rpc":
            observations = {
                "chain_id": 1,
                "block_number": 21_000_000 + rng.randint(0, 500_000),
                "block_age_seconds": round(rng.uniform(1, 30), 1),
                "syncing": False,
            }
        # Every kind here speaks TLS: https URLs, STARTTLS, S3 over https.
        expires = self.now + timedelta(days=rng.uniform(20, 400))
        return observations | {
            tls.VERSION: "TLSv1.3",
            tls.NOT_AFTER: expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            tls.SUBJECT: f"{self.row.name}.example.com",
        }

    def _totals(self) -> dict:
        """Counts since the dependency was declared, shaped as recording.count_totals keeps them."""
        rng = self.rng
        probes = rng.randint(1_000, 40_000)
        failures = int(probes * self.failure_rate) + (20 if self.row.status == "down" else 0)
        degraded = int(probes * rng.choice([0.0, 0.001, 0.01]))
        answered = probes - failures
        results = {"success": answered - degraded, "degraded": degraded, "failure": failures}
        totals: dict = {"results": {result: n for result, n in results.items() if n}}
        if failures:
            connect = failures // 3
            totals["errors"] = {"connect": connect, "timeout": failures - connect}
            if failures >= 3:
                opened = max(1, failures // 10)
                moves = {"closed>open": opened, "open>half_open": opened - 1}
                moves["half_open>closed"] = opened - 1
                totals["transitions"] = {move: n for move, n in moves.items() if n}
        scaled = [n * answered // len(self.samples) for n in self.shape]
        scaled[scaled.index(max(scaled))] += answered - sum(scaled)
        totals["latency"] = {"buckets": scaled, "sum_ms": round(self.base * answered, 1)}
        return totals

    def latency(self) -> float:
        return self.rng.choice(self.samples)

    def tally(self, count: int) -> dict:
        """A bucket's figures for `count` checks, shaped like this dependency's latencies."""
        failures = min(count, int(count * self.failure_rate + self.rng.random()))
        answered = count - failures
        if answered not in self._histograms:
            scaled = [n * answered // len(self.samples) for n in self.shape]
            scaled[scaled.index(max(scaled))] += answered - sum(scaled)
            self._histograms[answered] = scaled
        return {
            "count": count,
            "failures": failures,
            "latency_count": answered,
            "latency_sum": self.base * answered,
            "latency_min": self.samples[0] if answered else None,
            "latency_max": self.samples[-1] if answered else None,
            "histogram": self._histograms[answered],
        }

    def minutes(self, count: int) -> Iterator[tuple[ProbeResult, Rollup]]:
        """The last `count` probes: a raw result and its minute rollup each."""
        latest = self.now.replace(second=0, microsecond=0)
        for i in range(count):
            start = latest - INTERVAL * i
            failed = self.rng.random() < self.failure_rate
            latency = None if failed else self.latency()
            histogram = [0] * len(self.shape)
            if latency is not None:
                histogram[bucket(latency)] = 1
            yield (
                ProbeResult(
                    dependency_id=self.row.id,
                    checked_at=start + timedelta(seconds=7),
                    result="failure" if failed else "success",
                    latency_ms=latency,
                    error_class="timeout" if failed else "",
                    detail="no answer within 5s (wait for the answer)" if failed else "",
                    observations={} if failed or self.row.kind != "http" else {"status_code": 200},
                ),
                Rollup(
                    dependency_id=self.row.id,
                    period="minute",
                    start=start,
                    count=1,
                    failures=int(failed),
                    latency_count=int(not failed),
                    latency_sum=latency or 0.0,
                    latency_min=latency,
                    latency_max=latency,
                    histogram=histogram,
                ),
            )


def bucket(latency: float) -> int:
    return bisect.bisect_left(LATENCY_BOUNDS_MS, latency)


def rollups(profiles: Iterable[Profile], period: str, days: int, now: datetime) -> Iterator[Rollup]:
    length = timedelta(days=1) if period == "day" else timedelta(hours=1)
    latest = bucket_start(now, period)
    for profile in profiles:
        for i in range(int(timedelta(days=days) / length)):
            tally = profile.tally(int(length / INTERVAL))
            start = latest - length * i
            yield Rollup(dependency_id=profile.row.id, period=period, start=start, **tally)


def write(objects: Iterable) -> int:
    written = 0
    iterator = iter(objects)
    while chunk := list(islice(iterator, CHUNK)):
        type(chunk[0]).objects.bulk_create(chunk, batch_size=2000)
        written += len(chunk)
    return written


def write_minutes(pairs: Iterable[tuple[ProbeResult, Rollup]]) -> int:
    """Raw results and their minute rollups: how many of each."""
    results, minutes = zip(*pairs, strict=True)
    ProbeResult.objects.bulk_create(results, batch_size=2000)
    Rollup.objects.bulk_create(minutes, batch_size=2000)
    return len(results)


def stage(what: str, load: Callable[[], int]) -> None:
    started = time.perf_counter()
    count = load()
    print(f"  {count:>9,} {what} in {since(started):.1f}s", flush=True)


def since(started: float) -> float:
    return time.perf_counter() - started
