"""The prober under load, side by side with blackbox_exporter, in one run on one machine.

Starts on loopback nginx (Debian's nginx-light: `return 200`, the target every dependency
probes), a peer that answers in --slow-delay (100 ms; bench/slow_peer.py) and
prometheus-blackbox-exporter. Then, for each shape of the prober (--shapes):

- embedded: `manage.py runprobes` on SQLite, what `make run` starts;
- celery1, celery2: Celery beat and one worker of 1 or 2 processes, on PostgreSQL
  (--database-url) with Redis (--broker-url), as docker-compose.yml runs it;

it declares --dependencies http dependencies on nginx every --interval (10,000 every 30 s:
333 probes/s) and --slow on the slow peer, runs the prober for --duration seconds after
two intervals of warm-up (first probes set a random phase), and reads what it recorded.
Once more with far more demanded than it can do (--max-dependencies every --max-interval),
for the most it sustains. Meanwhile a
thread asks blackbox_exporter to probe the slow peer every 0.2 s, and wrk loads
blackbox_exporter's /probe on nginx for its throughput.

It prints, per shape: probes/s demanded and recorded, the gap between consecutive checks of
a dependency (p50, p99) against the interval, the median and p99 latency recorded on the
slow peer against blackbox_exporter's probe_duration_seconds, CPU per probe (the prober's
processes, all of them), the database's size per 10,000 results; and the most probes/s
sustained against blackbox_exporter's /probe rate, with the issue's goals.

Run it by hand, from the repository's root (never part of the tests):

    .venv/bin/python bench/prober.py
    .venv/bin/python bench/prober.py --shapes embedded --duration 60
    .venv/bin/python bench/prober.py --database-url postgres://postgres@127.0.0.1:5432/postgres

PostgreSQL gets a database of its own (`seahealth_bench_prober`, dropped after); Redis the
database 13 (flushed). Every process it started and its temporary directory go when it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.databases import database_url, drop_postgres  # noqa: E402
from bench.processes import spawn, stop  # noqa: E402

BENCH_DATABASE = "seahealth_bench_prober"
NGINX_PORT, SLOW_PORT, BLACKBOX_PORT = 18480, 18481, 18482
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="embedded,celery1,celery2")
    parser.add_argument("--dependencies", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=30, help="seconds")
    parser.add_argument("--slow", type=int, default=20, help="dependencies on the slow peer")
    parser.add_argument("--slow-interval", type=int, default=5, help="seconds")
    parser.add_argument("--slow-delay", type=float, default=0.1, help="seconds")
    parser.add_argument("--duration", type=int, default=90, help="seconds measured")
    parser.add_argument("--max-dependencies", type=int, default=10_000)
    parser.add_argument("--max-interval", type=int, default=5, help="seconds")
    parser.add_argument("--max-duration", type=int, default=30, help="seconds measured")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the prober's processes"
    )
    return parser.parse_args()


@dataclass
class Figures:
    shape: str
    demanded: float = 0.0
    recorded: float = 0.0
    gap_p50: float | None = None
    gap_p99: float | None = None
    latency_p50: float | None = None
    latency_p99: float | None = None
    blackbox_p50: float | None = None
    blackbox_p99: float | None = None
    cpu_ms: float | None = None
    bytes_per_10k: float | None = None


def main() -> int:
    args = parse_args()
    for tool in ("nginx", "prometheus-blackbox-exporter", "wrk"):
        if shutil.which(tool) is None:
            print(
                f"{tool} is missing: apt-get install nginx-light prometheus-blackbox-exporter wrk",
                file=sys.stderr,
            )
            return 2
    workdir = Path(tempfile.mkdtemp(prefix="seahealth-bench-prober-"))
    started: list[subprocess.Popen] = []
    try:
        start_peers(workdir, started, args.slow_delay)
        blackbox_rate = blackbox_throughput()
        print(f"blackbox_exporter through /probe on nginx: {blackbox_rate:,.0f} probes/s")
        steady, most = [], []
        for shape in args.shapes.split(","):
            steady.append(run(shape, args, workdir, args.dependencies, args.interval))
            most.append(
                run(shape, args, workdir, args.max_dependencies, args.max_interval, most=True)
            )
        report(args, steady, most, blackbox_rate)
    finally:
        for process in reversed(started):
            stop(process)
        if not os.environ.get("KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("kept", workdir)
    return 0


# --- the peers and blackbox_exporter ---------------------------------------------------


def start_peers(workdir: Path, started: list[subprocess.Popen], delay: float) -> None:
    conf = workdir / "nginx.conf"
    temp = workdir / "nginx"
    temp.mkdir()
    conf.write_text(
        f"worker_processes 1; pid {workdir}/nginx.pid; error_log {workdir}/nginx.log;\n"
        "daemon off; events { worker_connections 8192; }\n"
        f"http {{ access_log off; client_body_temp_path {temp}; proxy_temp_path {temp};\n"
        f"  fastcgi_temp_path {temp}; uwsgi_temp_path {temp}; scgi_temp_path {temp};\n"
        f'  server {{ listen 127.0.0.1:{NGINX_PORT}; location / {{ return 200 "ok\\n"; }} }} }}\n'
    )
    started.append(spawn(["nginx", "-c", str(conf)]))
    started.append(
        spawn(
            [
                sys.executable,
                str(ROOT / "bench" / "slow_peer.py"),
                "--port",
                str(SLOW_PORT),
                "--delay",
                str(delay),
            ]
        )
    )
    blackbox = workdir / "blackbox.yml"
    blackbox.write_text(
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
        "    http: {preferred_ip_protocol: ip4}\n"
    )
    started.append(
        spawn(
            [
                "prometheus-blackbox-exporter",
                f"--config.file={blackbox}",
                f"--web.listen-address=127.0.0.1:{BLACKBOX_PORT}",
            ]
        )
    )
    for port in (NGINX_PORT, SLOW_PORT, BLACKBOX_PORT):
        wait_for_port(port)


def blackbox_probe_url(target: str) -> str:
    return f"http://127.0.0.1:{BLACKBOX_PORT}/probe?module=http_2xx&target={target}"


def blackbox_throughput() -> float:
    """blackbox_exporter's /probe on nginx under wrk: probes per second."""
    url = blackbox_probe_url(f"http://127.0.0.1:{NGINX_PORT}/")
    subprocess.run(["wrk", "-t2", "-c16", "-d2s", url], capture_output=True, check=True)
    out = subprocess.run(
        ["wrk", "-t2", "-c16", "-d10s", url], capture_output=True, text=True, check=True
    ).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])


class BlackboxSampler(threading.Thread):
    """Asks blackbox_exporter to probe the slow peer every 0.2 s: its probe_duration_seconds."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        url = blackbox_probe_url(f"http://127.0.0.1:{SLOW_PORT}/")
        while not self.stopped.wait(0.2):
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback
                found = re.search(rb"^probe_duration_seconds ([\d.e+-]+)$", answer.read(), re.M)
            if found:
                self.samples.append(float(found[1]) * 1000)


# --- one shape of the prober -------------------------------------------------------------


def run(
    shape: str,
    args: argparse.Namespace,
    workdir: Path,
    count: int,
    interval: int,
    most: bool = False,
) -> Figures:
    label = f"{shape}, {count:,} every {interval}s" + (" (the most)" if most else "")
    print(f"\n{label}: declaring, migrating")
    declaration = workdir / f"{shape}-{count}.yaml"
    slow = 0 if most else args.slow
    declaration.write_text(declared(count, interval, slow, args.slow_interval))
    database = database_url(shape, workdir, args.database_url, BENCH_DATABASE)
    env = environment(database, declaration, args.broker_url)
    env |= dict(pair.split("=", 1) for pair in args.env)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    processes = start_prober(shape, env, workdir)
    sampler = BlackboxSampler()
    # A first probe sets a random phase one to two intervals ahead: two intervals settle it.
    warmup = 10 if most else 2 * interval + 5
    duration = args.max_duration if most else args.duration
    try:
        print(f"  warming up for {warmup}s, then measuring for {duration}s")
        time.sleep(warmup)
        sampler.start()
        cpu_before, begun = cpu_seconds(processes), datetime.now(UTC)
        time.sleep(duration)
        cpu_after, ended = cpu_seconds(processes), datetime.now(UTC)
        sampler.stopped.set()
    finally:
        for process in reversed(processes):
            stop(process)
    figures = measure(shape, database, begun, ended, count, interval, slow, args)
    if not figures.recorded:
        print(f"  nothing recorded: see the logs in {workdir}", file=sys.stderr)
    figures.cpu_ms = (cpu_after - cpu_before) * 1000 / max(figures.recorded * duration, 1)
    figures.blackbox_p50, figures.blackbox_p99 = percentiles(sampler.samples)
    if database.startswith("postgres"):
        drop_postgres(args.database_url, BENCH_DATABASE)
    return figures


def declared(count: int, interval: int, slow: int, slow_interval: int) -> str:
    lines = [f"defaults: {{kind: http, timeout: {min(5, interval)}s}}", "dependencies:"]
    lines += [
        f"  - {{name: dep-{n}, url: 'http://127.0.0.1:{NGINX_PORT}/{n}', interval: {interval}s}}"
        for n in range(count)
    ]
    lines += [
        f"  - {{name: slow-{n}, url: 'http://127.0.0.1:{SLOW_PORT}/{n}', "
        f"interval: {slow_interval}s}}"
        for n in range(slow)
    ]
    return "\n".join(lines) + "\n"


def environment(database: str, declaration: Path, broker: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEAHEALTH_", "DATABASE"))}
    return env | {
        "DJANGO_SETTINGS_MODULE": "seahealth.settings",
        "DATABASE_URL": database,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SEAHEALTH_DEPENDENCIES": str(declaration),
        "CELERY_BROKER_URL": broker,
        "LOG_LEVEL": "WARNING",
    }


def start_prober(shape: str, env: dict[str, str], workdir: Path) -> list[subprocess.Popen]:
    if shape == "embedded":
        return [
            spawn(
                [sys.executable, "manage.py", "runprobes"], env=env, log=workdir / "runprobes.log"
            )
        ]
    subprocess.run(["redis-cli", "-u", env["CELERY_BROKER_URL"], "flushdb"], capture_output=True)
    workers = {"celery1": 1, "celery2": 2}[shape]
    celery = [sys.executable, "-m", "celery", "-A", "seahealth"]
    return [
        spawn(
            [
                *celery,
                "worker",
                "--pool=prefork",
                f"--concurrency={workers}",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=WARNING",
            ],
            env=env,
            log=workdir / "worker.log",
        ),
        spawn(
            [*celery, "beat", f"--schedule={workdir / 'beat-schedule'}", "--loglevel=WARNING"],
            env=env,
            log=workdir / "beat.log",
        ),
    ]


# --- what was recorded ---------------------------------------------------------------------


def measure(
    shape: str,
    database: str,
    begun: datetime,
    ended: datetime,
    count: int,
    interval: int,
    slow: int,
    args: argparse.Namespace,
) -> Figures:
    rows, size = read_results(database, begun)
    window = (ended - begun).total_seconds()
    figures = Figures(shape, demanded=count / interval + slow / args.slow_interval)
    inside = [row for row in rows if row[1] <= ended]
    figures.recorded = len(inside) / window
    checks: dict[str, list[datetime]] = defaultdict(list)
    slow_latencies = []
    for name, at, latency in rows:
        checks[name].append(at)
        if name.startswith("slow-") and latency is not None and at <= ended:
            slow_latencies.append(latency)
    gaps = [
        (later - earlier).total_seconds()
        for name, times in checks.items()
        if name.startswith("dep-")
        for earlier, later in zip(sorted(times), sorted(times)[1:], strict=False)
    ]
    figures.gap_p50, figures.gap_p99 = percentiles(gaps)
    figures.latency_p50, figures.latency_p99 = percentiles(slow_latencies)
    worst = sorted(
        (
            (latency, (at - begun).total_seconds())
            for name, at, latency in rows
            if name.startswith("slow-") and latency is not None and at <= ended
        ),
        reverse=True,
    )[:5]
    if worst:
        print(
            "  slowest on the slow peer: "
            + ", ".join(f"{ms:.0f} ms at +{t:.0f}s" for ms, t in worst)
        )
    total = len(rows)
    figures.bytes_per_10k = size / total * 10_000 if total else None
    return figures


def read_results(database: str, since: datetime) -> tuple[list[tuple[str, datetime, float]], int]:
    query = (
        "SELECT d.name, r.checked_at, r.latency_ms FROM probes_proberesult r "
        "JOIN probes_dependency d ON d.id = r.dependency_id WHERE r.checked_at >= {}"
    )
    if database.startswith("sqlite"):
        path = database.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            stamp = since.strftime("%Y-%m-%d %H:%M:%S.%f")
            found = db.execute(query.format("?"), [stamp]).fetchall()
            rows = [(n, datetime.fromisoformat(at).replace(tzinfo=UTC), ms) for n, at, ms in found]
            count = db.execute("SELECT COUNT(*) FROM probes_proberesult").fetchone()[0]
            # The history's tables and their indexes: results and rollups.
            size = db.execute(
                "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'probes_proberesult%' "
                "OR name LIKE 'probes_rollup%' OR name LIKE 'probes_result%'"
            ).fetchone()[0]
        return rows, size * len(rows) // max(count, 1)
    import psycopg

    with psycopg.connect(database) as db:
        rows = db.execute(query.format("%s"), [since]).fetchall()
        size = db.execute(
            "SELECT pg_total_relation_size('probes_proberesult') "
            "+ pg_total_relation_size('probes_rollup')"
        ).fetchone()[0]
        count = db.execute("SELECT COUNT(*) FROM probes_proberesult").fetchone()[0]
    return rows, size * len(rows) // max(count, 1)


def percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if len(values) < 2:
        return None, None
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[98]


def report(
    args: argparse.Namespace, steady: list[Figures], most: list[Figures], blackbox_rate: float
) -> None:
    def f(value: float | None, unit: str = "", digits: int = 1) -> str:
        return "-" if value is None else f"{value:,.{digits}f}{unit}"

    print(
        f"\n{args.dependencies:,} dependencies every {args.interval}s, and {args.slow} on a "
        f"{args.slow_delay * 1000:.0f} ms peer every {args.slow_interval}s:"
    )
    header = (
        "shape",
        "demanded/s",
        "recorded/s",
        "gap p50",
        "gap p99",
        "latency p50",
        "p99",
        "blackbox p50",
        "p99",
        "CPU/probe",
        "DB/10k results",
    )
    lines = [header]
    for x in steady:
        lines.append(
            (
                x.shape,
                f(x.demanded),
                f(x.recorded),
                f(x.gap_p50, " s", 2),
                f(x.gap_p99, " s", 2),
                f(x.latency_p50, " ms"),
                f(x.latency_p99, " ms"),
                f(x.blackbox_p50, " ms"),
                f(x.blackbox_p99, " ms"),
                f(x.cpu_ms, " ms", 2),
                f(x.bytes_per_10k and x.bytes_per_10k / 1024**2, " MiB", 2),
            )
        )
    print(table(lines))
    print(
        f"\nthe most sustained, against blackbox_exporter's {blackbox_rate:,.0f} probes/s "
        "(goal: at least 0.2x; celery2 at least 1.6x celery1):"
    )
    lines = [("shape", "demanded/s", "recorded/s", "x blackbox", "CPU/probe")]
    for x in most:
        lines.append(
            (
                x.shape,
                f(x.demanded),
                f(x.recorded),
                f(x.recorded / blackbox_rate, "", 2),
                f(x.cpu_ms, " ms", 2),
            )
        )
    print(table(lines))
    print(
        f"\ngoals at {args.interval}s: gap p99 within {args.interval} s ± 1 s; latency p50 "
        "within 5 ms and p99 within 20 ms of blackbox_exporter's"
    )


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


# --- processes ----------------------------------------------------------------------------


def cpu_seconds(processes: list[subprocess.Popen]) -> float:
    """User and system time of every process in the sessions of `processes` (children too)."""
    sessions = {process.pid for process in processes}
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) in sessions:  # the session id
                total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def wait_for_port(port: int, seconds: float = 30) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
