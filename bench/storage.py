"""What history costs on disk and in time: bytes per result, the size of 1,000 dependencies
kept 30 days, the 30-day uptime of all of them, and whether pruning keeps up at 10,000.

1. Records probes of --dependencies http dependencies every 30 s for --hours (as recording
   does: a result, its minute, hour and day rollups, the row's state), at that size and
   again at twice it, and reads each table's size (SQLite's dbstat; PostgreSQL's
   pg_total_relation_size). Equal bytes per result at both sizes: it grows linearly.
2. From those figures, the size of 1,000 dependencies probed every 30 s for 30 days, as
   retention keeps them: raw results and minute rollups for 7 days (SEAHEALTH_RAW_RETENTION),
   hour and day rollups for the 30 days.
3. Loads 30 days of minute, hour and day rollups for 1,000 dependencies, each with a 99.9%
   SLO, and times rollups.refresh_uptimes() (the 24h, 7d and 30d uptime of every one of them)
   and error_budgets.refresh() (every SLO's figures and burn rates).
4. Loads --prune-rows results and minute rollups past their retention and times
   retention.prune(): rows deleted per second, against what 10,000 dependencies every
   30 s write (333 results and 167 minute rollups a second).

    .venv/bin/python bench/storage.py
    .venv/bin/python bench/storage.py --database-url postgres://postgres@127.0.0.1:5432/postgres

A fresh database: SQLite in a temporary directory, or `seahealth_bench_storage` on the
PostgreSQL server (dropped after).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INTERVAL = timedelta(seconds=30)
TABLES = ("probes_proberesult", "probes_rollup")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dependencies", type=int, default=100)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--prune-rows", type=int, default=300_000)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    return parser.parse_args()


ARGS = parse_args()
sys.path.insert(0, str(ROOT))
from bench import in_process  # noqa: E402

WORKDIR = in_process.start(ARGS.database_url)

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from probes import error_budgets, recording, retention, rollups  # noqa: E402
from probes.dependency_spec import DependencySpec  # noqa: E402
from probes.engine import Job  # noqa: E402
from probes.kinds import http  # noqa: E402
from probes.models import Dependency, Period, ProbeResult, Rollup  # noqa: E402
from probes.outcomes import Outcome  # noqa: E402


def main() -> int:
    with in_process.fresh_database(WORKDIR, "seahealth_bench_storage"):
        print(f"database: {connection.vendor}")
        sizes = [growth(ARGS.dependencies * scale) for scale in (1, 2)]
        project(sizes[-1])
        uptimes()
        pruning()
    return 0


def declare(count: int, first: int = 0) -> list[Job]:
    rows = [
        Dependency(
            name=f"dep-{first + n}",
            next_due_at=datetime.now(UTC),
            **DependencySpec(
                name=f"dep-{first + n}",
                kind="http",
                target=http.Spec(url=f"https://api-{first + n}.example.com/health"),
            ).row_values(),
        )
        for n in range(count)
    ]
    Dependency.objects.bulk_create(rows, batch_size=1000)
    created = Dependency.objects.filter(name__in=[row.name for row in rows]).order_by("id")
    return [Job(row.id, DependencySpec.from_row(row)) for row in created]


def growth(count: int) -> tuple[float, float]:
    """Record `count` dependencies every 30 s for --hours; bytes per result row and per
    rollup row, indexes included."""
    Dependency.objects.all().delete()
    jobs = declare(count)
    steps = int(timedelta(hours=ARGS.hours) / INTERVAL)
    start = datetime.now(UTC) - timedelta(hours=ARGS.hours)
    began = time.perf_counter()
    for step in range(steps):
        at = start + INTERVAL * step
        recording.record([(job, outcome(at, job.dependency_id, step)) for job in jobs])
    took = time.perf_counter() - began
    results, buckets = ProbeResult.objects.count(), Rollup.objects.count()
    sizes = table_sizes()
    per_result = sizes["probes_proberesult"] / results
    per_rollup = sizes["probes_rollup"] / buckets
    print(
        f"{count:,} dependencies, {ARGS.hours} h every 30 s: {results:,} results recorded in "
        f"{took:.0f} s ({results / took:,.0f}/s); {per_result:,.0f} bytes a result, "
        f"{per_rollup:,.0f} a rollup ({buckets:,} rollups), indexes included"
    )
    return per_result, per_rollup


def outcome(at: datetime, salt: int, step: int) -> Outcome:
    """An answer as the http kind records it: its status and timings."""
    latency = 20 + (salt * 7 + step * 13) % 60
    return Outcome(
        observations={
            "status_code": 200,
            "timings_ms": {"connect": 0.412, "first_byte": float(latency)},
        },
        latency_ms=float(latency),
        checked_at=at,
    )


def table_sizes() -> dict[str, int]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            sizes = {}
            for table in TABLES:
                cursor.execute(
                    "SELECT SUM(s.pgsize) FROM dbstat s JOIN sqlite_schema m ON s.name = m.name "
                    "WHERE m.tbl_name = %s",
                    [table],
                )
                sizes[table] = cursor.fetchone()[0] or 0
            return sizes
        sizes = {}
        for table in TABLES:
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            sizes[table] = cursor.fetchone()[0]
        return sizes


def project(sizes: tuple[float, float]) -> None:
    """1,000 dependencies every 30 s, 30 days, as retention keeps them."""
    per_result, per_rollup = sizes
    raw_days = settings.SEAHEALTH_RAW_RETENTION.days
    results = 1000 * raw_days * 24 * 60 * 2  # two a minute
    buckets = 1000 * (raw_days * 24 * 60 + 30 * 24 + 30)  # minutes kept raw_days; hours, days
    raw, kept = per_result * results, per_rollup * buckets
    print(
        f"\n1,000 dependencies every 30 s, 30 days kept ({raw_days} d raw): "
        f"{results / 1e6:.1f} M results, {raw / 1024**3:.2f} GiB; {buckets / 1e6:.1f} M "
        f"rollups, {kept / 1024**3:.2f} GiB; in all {(raw + kept) / 1024**3:.2f} GiB"
    )


def uptimes() -> None:
    Dependency.objects.all().delete()
    jobs = declare(1000)
    Dependency.objects.update(slo={"objective": 0.999, "window": 30 * 86400.0, "min_checks": 3})
    now = datetime.now(UTC)
    rows = []
    for job in jobs:
        for period, count in (
            (Period.MINUTE, 25 * 60),  # as far back as the 24h window reads them
            (Period.HOUR, 24 * 31),
            (Period.DAY, 31),
        ):
            length = rollups.PERIOD_LENGTH[period]
            start = rollups.bucket_start(now, period)
            checks = max(1, int(length / INTERVAL))
            rows += [
                Rollup(
                    dependency_id=job.dependency_id,
                    period=period,
                    start=start - length * i,
                    count=checks,
                    failures=i % 3 and 1,
                    latency_count=checks,
                    latency_sum=25.0 * checks,
                    histogram=[0] * 15,
                    up_seconds=length.total_seconds() - (i % 3) * 30,
                    down_seconds=(i % 3) * 30,
                )
                for i in range(count)
            ]
    Rollup.objects.bulk_create(rows, batch_size=5000)
    began = time.perf_counter()
    changed = rollups.refresh_uptimes(now)
    print(
        f"\nthe 24h, 7d and 30d uptime of 1,000 dependencies ({len(rows):,} minute, hour and "
        f"day rollups): {(time.perf_counter() - began) * 1000:,.0f} ms ({changed} rows stored)"
    )
    logging.disable(logging.WARNING)  # a line per burn alert raised, a thousand of them
    began = time.perf_counter()
    error_budgets.refresh(now)
    logging.disable(logging.NOTSET)
    print(
        f"the SLO figures of the same 1,000 (30d window, burn over 5m to 3d; every 15 s): "
        f"{(time.perf_counter() - began) * 1000:,.0f} ms"
    )


def pruning() -> None:
    Dependency.objects.all().delete()
    jobs = declare(100)
    old = datetime.now(UTC) - settings.SEAHEALTH_RAW_RETENTION - timedelta(days=1)
    each = ARGS.prune_rows // len(jobs)
    results, minutes = [], []
    for job in jobs:
        for i in range(each):
            at = old - INTERVAL * i
            results.append(
                ProbeResult(
                    dependency_id=job.dependency_id,
                    checked_at=at,
                    result="success",
                    latency_ms=20.0,
                    observations={"status_code": 200},
                )
            )
            if i % 2 == 0:
                minutes.append(
                    Rollup(
                        dependency_id=job.dependency_id,
                        period=Period.MINUTE,
                        start=rollups.bucket_start(at, Period.MINUTE),
                        count=2,
                        histogram=[0] * 15,
                    )
                )
    ProbeResult.objects.bulk_create(results, batch_size=5000)
    Rollup.objects.bulk_create(minutes, batch_size=5000)
    began = time.perf_counter()
    deleted = retention.prune()
    took = time.perf_counter() - began
    rows = sum(deleted.values())
    need = 10_000 * 3 / 60  # 2 results and 1 minute rollup a minute each
    print(
        f"\npruning: {rows:,} rows past retention deleted in {took:.1f} s, {rows / took:,.0f}/s; "
        f"10,000 dependencies every 30 s write {need:,.0f}/s: pruning keeps up "
        f"{rows / took / need:.0f} times over"
    )


if __name__ == "__main__":
    sys.exit(main())
