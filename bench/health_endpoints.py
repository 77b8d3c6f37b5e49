"""Requests per second of the health endpoints under gunicorn, against a bare Django view.

Loads N dependencies (default 1,000; bench/loading.py: mixed kinds, some down or degraded,
open breakers, totals, uptimes, rpc and TLS observations: all that /health/* and /metrics
read) into a fresh database. No critical dependency is down, so the service is degraded and
/health/dependencies answers 200; with --unhealthy some are, it answers 503, and the table
shows those answers as the non-2xx that wrk counts. Then it serves, one at a time (two at
once would share the two cores a small machine has), under the same gunicorn settings:

- bare: bench/bare_django.py, one view answering {"status": "pass"}, no database (the
  reference), and one answering a constant as large as /health/dependencies' answer: what
  moving those bytes costs by itself, the most the full answer can reach;
- seahealth itself (seahealth.wsgi, DEBUG off);
- django-health-check: bench/health_check_django.py, its view with its database check, a
  row only when django-health-check 4 or newer is installed (it is not a dependency of
  seahealth: `.venv/bin/pip install django-health-check`, and uninstall it after).

The two reference apps have the middleware of `django-admin startproject` (--plain-middleware
none: none); seahealth has its own (whitenoise, gzip, htmx besides). Before an endpoint is
loaded, one request checks its answer (the status code the data implies, the JSON, one entry
per dependency), so that a fast wrong answer cannot win. Each endpoint is warmed up, then
loaded with `wrk -t2 -c16 -d10s --latency`. The table gives requests/s, p50 and p99 latency,
the ratio to the bare view's requests/s against the goal (at least 0.8 for seahealth's
health endpoints), the non-2xx answers and socket errors wrk counted, and the answer's size.

Then it times GET /metrics through a plain HTTP client (median and max of a few requests),
as is and gzipped (as Prometheus asks for it), at N dependencies and, once more are loaded
and seahealth restarted, at --metrics-dependencies (default 10,000), against the goal: under
0.5 s at 10,000. It prints the size of the answer and its samples.

Run it by hand (it is never part of the test run), from the repository's root; it needs
wrk (Debian's `wrk` package):

    .venv/bin/python bench/health_endpoints.py                    # SQLite
    .venv/bin/python bench/health_endpoints.py --duration 5 --connections 32 --rounds 3
    .venv/bin/python bench/health_endpoints.py --workers 4 --threads 4
    .venv/bin/python bench/health_endpoints.py --database-url postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/health_endpoints.py --profile          # + where a request's time goes

Flags (--help for all): --dependencies, --metrics-dependencies (0: skip), --database-url;
gunicorn's --workers, --threads, --worker-class, --access-log; wrk's --duration,
--connections, --wrk-threads, and --warmup seconds; --rounds (each serves every app again;
the table gives medians); --metrics-requests; --plain-middleware; --unhealthy; --profile.

SQLite goes to a file in a temporary directory. With a PostgreSQL URL, the benchmark creates
the database `seahealth_bench_health` on that server (dropping one left behind) and drops it
after. Every server it started and its temporary directory go when it ends, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gzip
import http.client
import importlib.metadata
import io
import json
import os
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from wsgiref.util import setup_testing_defaults

import django

ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "seahealth_bench_health"
RATIO_GOAL = 0.8
METRICS_GOAL_S = 0.5
# Every wait has a limit: a server's start and stop, one HTTP answer, one wrk run past its own.
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
ANSWER_TIMEOUT_S = 120
WRK_GRACE_S = 60
HEALTH_JSON = "application/health+json"
# Memory, not disk, for the heartbeat file a gunicorn worker touches on every request.
SHM = "/dev/shm"  # noqa: S108 - not a temporary file: gunicorn's --worker-tmp-dir


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dependencies", type=int, default=1000)
    parser.add_argument(
        "--metrics-dependencies",
        type=int,
        default=10_000,
        help="time /metrics again with this many in all (0: do not)",
    )
    parser.add_argument("--database-url", help="a PostgreSQL server to use (default: SQLite)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--worker-class", help="gunicorn's (default: sync, or gthread)")
    parser.add_argument(
        "--access-log", action="store_true", help="gunicorn logs every request, as in Docker"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per endpoint")
    parser.add_argument("--connections", type=int, default=16, help="wrk's open connections")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load, not counted")
    parser.add_argument("--rounds", type=int, default=1, help="serve and load everything again")
    parser.add_argument("--metrics-requests", type=int, default=5, help="timed, per figure")
    parser.add_argument(
        "--plain-middleware",
        choices=["startproject", "none"],
        default="startproject",
        help="of the bare and django-health-check apps",
    )
    parser.add_argument(
        "--unhealthy", action="store_true", help="let critical dependencies be down (503s)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile seahealth's endpoints, in process"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if min(args.dependencies, args.duration, args.rounds, args.metrics_requests) < 1:
        parser.error("--dependencies, --duration, --rounds, --metrics-requests: at least 1")
    if args.connections < args.wrk_threads:
        parser.error("wrk wants at least as many --connections as --wrk-threads")
    return args


# Django reads its settings from the environment as it starts, and models can be imported only
# once it has: the arguments come first.
ARGS = parse_args()
WORKDIR = Path(tempfile.mkdtemp(prefix="seahealth-bench-health-"))
sys.path.insert(0, str(ROOT))
os.environ.pop("DATABASE_URL_FILE", None)
os.environ.pop("SECRET_KEY_FILE", None)
os.environ.update(
    DJANGO_SETTINGS_MODULE="seahealth.settings",
    DATABASE_URL=ARGS.database_url or f"sqlite:///{WORKDIR / 'bench.sqlite3'}",
    DEBUG="false",
    SECRET_KEY="bench-only-not-a-secret",  # noqa: S106 - required with DEBUG off
    ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
    LOG_LEVEL="WARNING",
    # No prober runs: the loaded state must not turn /health/ready to 503 as it ages.
    SEAHEALTH_READY_MAX_AGE="1d",
    SEAHEALTH_METRICS_TOKEN="",
)
django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench.loading import declare, since  # noqa: E402
from probes.models import Dependency  # noqa: E402


class BenchError(Exception):
    """The benchmark cannot go on: a server that does not start, a wrong answer."""


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    # Django's test database machinery creates a fresh database by this name, and drops it.
    settings = connection.settings_dict
    sqlite = connection.vendor == "sqlite"
    settings["TEST"]["NAME"] = settings["NAME"] if sqlite else BENCH_DATABASE
    try:
        database = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            print(f"database: {connection.vendor} {database}")
            run(database_url(database))
        finally:
            connection.creation.destroy_test_db(database, verbosity=0)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, database dropped", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"\nbench stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(WORKDIR, ignore_errors=True)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def database_url(database: str) -> str:
    """The URL of the bench database, for the servers."""
    if connection.vendor == "sqlite":
        return f"sqlite:///{database}"
    return urlsplit(ARGS.database_url)._replace(path=f"/{database}").geturl()


# --- the run ---------------------------------------------------------------------------


def run(url: str) -> None:
    now = datetime.now(UTC)
    declare(
        ARGS.dependencies, seed=ARGS.seed, now=now, workdir=WORKDIR, critical_down=ARGS.unhealthy
    )
    analyze()
    expected = Expected.from_database()
    print(f"the service is {expected.service}: /health/dependencies should answer {expected.code}")
    sized = len(Client().get("/health/dependencies").content)
    apps = [App("bare", "bench.bare_django:application", bare_targets(sized))]
    apps.append(App("seahealth", "seahealth.wsgi:application", seahealth_targets(expected)))
    health_check = health_check_missing()
    if health_check:
        print(f"django-health-check row skipped: {health_check}")
    else:
        apps.append(
            App("django-health-check", "bench.health_check_django:application", hc_targets())
        )
    print(
        f"\ngunicorn {' '.join(gunicorn_flags())}; wrk -t{ARGS.wrk_threads} -c{ARGS.connections} "
        f"-d{ARGS.duration}s after {ARGS.warmup}s of warm-up; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    metrics: list[MetricsTiming] = []
    for round_ in range(ARGS.rounds):
        if ARGS.rounds > 1:
            print(f"round {round_ + 1}, load average {os.getloadavg()[0]:.2f}:")
        for app in apps:
            with Server(app.name, app.module, server_env(app.name, url, sized)) as server:
                for target in app.targets:
                    target.runs.append(load(server, target))
                if app.name == "seahealth" and round_ == 0:
                    metrics += time_metrics(server, expected.count)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    report([target for app in apps for target in app.targets])
    if ARGS.profile:
        paths = ["/health/dependencies", f"/health/dependencies/{expected.up_name}"]
        profile([*paths, "/health/ready", "/health/live"], requests=200)

    if ARGS.metrics_dependencies > expected.count:
        print(f"\nloading up to {ARGS.metrics_dependencies:,} dependencies for /metrics:")
        declare(
            ARGS.metrics_dependencies,
            seed=ARGS.seed,
            now=now,
            workdir=WORKDIR,
            critical_down=ARGS.unhealthy,
        )
        analyze()
        count = Dependency.objects.active().count()
        with Server("seahealth", "seahealth.wsgi:application", server_env("seahealth", url)) as s:
            metrics += time_metrics(s, count)
    report_metrics(metrics)
    if ARGS.profile:
        profile(["/metrics"], requests=3)


def analyze() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum does soon after a bulk load


@dataclass
class Expected:
    """What seahealth should answer, worked out from the rows here, not by its code."""

    count: int
    service: str
    code: int
    up_name: str

    @classmethod
    def from_database(cls) -> Expected:
        rows = list(Dependency.objects.active().values("name", "status", "critical"))
        if any(row["critical"] and row["status"] == "down" for row in rows):
            service = "unhealthy"
        elif any(row["status"] in ("down", "degraded") for row in rows):
            service = "degraded"
        else:
            service = "healthy"
        up = min((row["name"] for row in rows if row["status"] == "up"), default=None)
        if up is None:
            raise BenchError("no dependency is up, for /health/dependencies/<one>: load more")
        return cls(len(rows), service, 503 if service == "unhealthy" else 200, up)


# --- what is loaded, and how its answer is checked ------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise BenchError(f"not JSON ({exc}): {self.body[:200]!r}") from exc


@dataclass
class Target:
    label: str
    path: str
    check: Callable[[Answer], None]
    headers: dict[str, str] = field(default_factory=dict)
    expected_code: int = 200
    goal: bool = False  # a seahealth health endpoint, held to the ratio goal
    size: int = 0
    runs: list[Run] = field(default_factory=list)


@dataclass
class App:
    name: str
    module: str
    targets: list[Target]


def expect(condition: bool, problem: str) -> None:
    if not condition:
        raise BenchError(problem)


def bare_targets(sized: int) -> list[Target]:
    def check(answer: Answer) -> None:
        expect(answer.status == 200, f"answered {answer.status}")
        expect(answer.json() == {"status": "pass"}, f"answered {answer.body[:200]!r}")

    def check_sized(answer: Answer) -> None:
        expect(answer.status == 200, f"answered {answer.status}")
        expect(len(answer.body) == sized, f"{len(answer.body)} bytes, not {sized}")

    return [
        Target("bare Django view", "/health", check),
        # Not the reference: what the bytes of /health/dependencies cost by themselves.
        Target("bare view, as many bytes", "/health/sized", check_sized),
    ]


def seahealth_targets(expected: Expected) -> list[Target]:
    code, count, name = expected.code, expected.count, expected.up_name
    draft = {"healthy": "pass", "degraded": "warn", "unhealthy": "fail"}[expected.service]

    def dependencies(answer: Answer) -> None:
        expect(answer.status == code, f"answered {answer.status}, not {code}")
        expect(answer.headers.get("content-type") == "application/json", "not application/json")
        body = answer.json()
        expect(body["status"] == expected.service, f"says {body['status']}")
        expect(len(body["dependencies"]) == count, f"{len(body['dependencies'])} dependencies")

    def health_json(answer: Answer) -> None:
        expect(answer.status == code, f"answered {answer.status}, not {code}")
        kind = answer.headers.get("content-type")
        expect(kind == HEALTH_JSON, f"content type {kind}, not {HEALTH_JSON}")
        body = answer.json()
        expect(body["status"] == draft, f"says {body['status']}, not {draft}")
        expect(len(body["checks"]) == count, f"{len(body['checks'])} checks")

    def one(answer: Answer) -> None:
        expect(answer.status == 200, f"answered {answer.status}")
        body = answer.json()
        expect((body["name"], body["status"]) == (name, "up"), f"answered {body}")

    def passing(answer: Answer) -> None:
        expect(answer.status == 200, f"answered {answer.status}")
        expect(answer.json()["status"] == "pass", f"answered {answer.body[:200]!r}")

    return [
        Target("/health/dependencies", "/health/dependencies", dependencies, {}, code, True),
        Target(
            "/health/dependencies (health+json)",
            "/health/dependencies",
            health_json,
            {"Accept": HEALTH_JSON},
            code,
            True,
        ),
        Target("/health/dependencies/<one>", f"/health/dependencies/{name}", one, goal=True),
        Target("/health/live", "/health/live", passing, goal=True),
        Target("/health/ready", "/health/ready", passing, goal=True),
    ]


def hc_targets() -> list[Target]:
    def check(answer: Answer) -> None:
        expect(answer.status == 200, f"answered {answer.status}")
        body = answer.json()
        expect(bool(body) and set(body.values()) == {"OK"}, f"answered {body}")

    accept = {"Accept": "application/json"}
    return [Target("django-health-check (database)", "/health", check, accept)]


def health_check_missing() -> str | None:
    """Why the django-health-check row cannot run, or None when it can."""
    install = "to add it: .venv/bin/pip install django-health-check (not a seahealth dependency)"
    try:
        version = importlib.metadata.version("django-health-check")
    except importlib.metadata.PackageNotFoundError:
        return f"django-health-check is not installed; {install}"
    if int(version.split(".")[0]) < 4:
        return f"django-health-check {version} is older than 4 (its checks are in URLs from 4)"
    return None


# --- gunicorn --------------------------------------------------------------------------


def gunicorn_flags() -> list[str]:
    flags = ["--workers", str(ARGS.workers), "--threads", str(ARGS.threads)]
    if ARGS.worker_class:
        flags += ["--worker-class", ARGS.worker_class]
    if Path(SHM).is_dir():
        flags += ["--worker-tmp-dir", SHM]  # as the Dockerfile has it
    if ARGS.access_log:
        flags += ["--access-logfile", "-"]
    return flags


def server_env(app: str, url: str, sized: int = 0) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SEAHEALTH_"))}
    env |= {"DATABASE_URL": url, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    if app == "seahealth":
        env |= {
            "DJANGO_SETTINGS_MODULE": "seahealth.settings",
            "SEAHEALTH_READY_MAX_AGE": os.environ["SEAHEALTH_READY_MAX_AGE"],
        }
    else:
        env["BENCH_PLAIN_MIDDLEWARE"] = ARGS.plain_middleware
        env["BENCH_SIZED_BYTES"] = str(sized)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One app under gunicorn on a port of 127.0.0.1, for the length of a `with` block."""

    def __init__(self, name: str, module: str, env: dict[str, str]) -> None:
        self.name, self.module, self.env = name, module, env
        self.port = free_port()
        self.log_path = WORKDIR / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        command = [sys.executable, "-m", "gunicorn", self.module]
        command += ["--bind", f"127.0.0.1:{self.port}", "--timeout", str(ANSWER_TIMEOUT_S)]
        command += ["--log-level", "warning", *gunicorn_flags()]
        with self.log_path.open("ab") as log:
            # A session of its own: Ctrl-C reaches this script, which stops gunicorn in order.
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        try:
            self._wait_until_answering()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"{self.name}: gunicorn exited, {self.process.returncode}" + self.tail()
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise BenchError(f"{self.name}: gunicorn not listening after {START_TIMEOUT_S}s")
        # Listening is the master; a first answer means a worker has loaded the app.
        self.get("/health/live" if self.name == "seahealth" else "/health")

    def __exit__(self, *exc_info: object) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()  # the master stops its workers gracefully
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                print(f"{self.name}: gunicorn still up after {STOP_TIMEOUT_S}s, killed")
        # Whatever of its session is left, a worker that outlived its master included.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT_S)

    def tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()[-15:]
        return "".join(f"\n  | {line}" for line in lines)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=ANSWER_TIMEOUT_S)
        try:
            client.request("GET", path, headers=headers or {})
            response = client.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise BenchError(f"{self.name}: GET {path}: {exc}" + self.tail()) from exc
        finally:
            client.close()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


# --- wrk -------------------------------------------------------------------------------


@dataclass
class Run:
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def wrk(url: str, headers: dict[str, str], seconds: int) -> Run:
    command = ["wrk", f"-t{ARGS.wrk_threads}", f"-c{ARGS.connections}", f"-d{seconds}s"]
    command += ["--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + WRK_GRACE_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not end within {seconds + WRK_GRACE_S}s") from exc
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def parse_wrk(output: str) -> Run:
    def number(pattern: str, default: str | None = None) -> str:
        found = re.search(pattern, output, re.MULTILINE)
        if found is None:
            if default is None:
                raise BenchError(f"wrk's output has no {pattern!r}:\n{output}")
            return default
        return found.group(1)

    def percentile(which: int) -> float:
        found = re.search(rf"^\s+{which}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
        if found is None:
            raise BenchError(f"wrk's output has no {which}% latency:\n{output}")
        return float(found.group(1)) * UNITS_MS[found.group(2)]

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Run(
        requests=int(number(r"^\s*(\d+) requests in")),
        per_second=float(number(r"^Requests/sec:\s+([\d.]+)")),
        p50_ms=percentile(50),
        p99_ms=percentile(99),
        non_2xx=int(number(r"Non-2xx or 3xx responses: (\d+)", "0")),
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
    )


def load(server: Server, target: Target) -> Run:
    answer = server.get(target.path, target.headers)
    try:
        target.check(answer)
    except (BenchError, KeyError, TypeError) as exc:
        raise BenchError(f"{server.name} {target.label}: a wrong answer: {exc!r}") from exc
    target.size = len(answer.body)
    if ARGS.warmup:
        wrk(server.url(target.path), target.headers, ARGS.warmup)
    done = wrk(server.url(target.path), target.headers, ARGS.duration)
    print(
        f"  {target.label:<36} {done.per_second:6.0f} req/s "
        f"p99 {done.p99_ms:6.1f} ms" + (f", {done.non_2xx} non-2xx" if done.non_2xx else ""),
        flush=True,
    )
    return done


def report(targets: list[Target]) -> None:
    bare = statistics.median(run.per_second for run in targets[0].runs)
    rounds = f"median of {ARGS.rounds} rounds; " if ARGS.rounds > 1 else ""
    print(f"\nRequests/s under load ({rounds}p50 and p99 latency in ms; size: the body, bytes):")
    header = f"{'endpoint':<36} {'req/s':>7} {'p50':>6} {'p99':>6} {'ratio':>6} {'goal':<14}"
    print(f"{header} {'non-2xx':>8} {'errors':>7} {'size':>8}")
    problems = []
    for target in targets:
        per_second = statistics.median(run.per_second for run in target.runs)
        p50 = statistics.median(run.p50_ms for run in target.runs)
        p99 = statistics.median(run.p99_ms for run in target.runs)
        non_2xx = sum(run.non_2xx for run in target.runs)
        errors = sum(run.socket_errors for run in target.runs)
        ratio = per_second / bare
        goal = "reference" if target is targets[0] else ""
        if target.goal:
            goal = f">= {RATIO_GOAL}: " + ("met" if ratio >= RATIO_GOAL else "MISSED")
        print(
            f"{target.label:<36} {per_second:7.0f} {p50:6.1f} {p99:6.1f} {ratio:6.3f} "
            f"{goal:<14} {non_2xx:8d} {errors:7d} {target.size:8,d}"
        )
        if non_2xx and target.expected_code < 300:
            problems.append(f"{target.label}: {non_2xx} non-2xx answers, where 200 was checked")
        elif target.expected_code >= 300:
            problems.append(f"{target.label}: answers {target.expected_code}, as the data says")
        if errors:
            problems.append(f"{target.label}: {errors} socket errors (wrk)")
    if ARGS.rounds > 1:
        print("requests/s per round:")
        for target in targets:
            figures = ", ".join(f"{run.per_second:.0f}" for run in target.runs)
            print(f"  {target.label:<36} {figures}")
    for problem in problems:
        print(f"note: {problem}")


# --- /metrics --------------------------------------------------------------------------


@dataclass
class MetricsTiming:
    dependencies: int
    encoding: str
    times: list[float]
    size: int
    lines: int
    samples: int


def time_metrics(server: Server, count: int) -> list[MetricsTiming]:
    timings = []
    for encoding in ("identity", "gzip"):
        headers = {"Accept-Encoding": encoding}
        answer = server.get("/metrics", headers)  # checked, and warms the worker up
        expect(answer.status == 200, f"/metrics answered {answer.status}")
        text = answer.body
        if encoding == "gzip":
            used = answer.headers.get("content-encoding")
            expect(used == "gzip", f"/metrics asked for gzip, got {used}")
            text = gzip.decompress(text)
        lines = text.decode().splitlines()
        samples = [line for line in lines if line and not line.startswith("#")]
        named = re.compile(r'^seahealth_dependency_status\{dependency="([^"]+)"')
        found = {m.group(1) for line in samples if (m := named.match(line))}
        expect(len(found) == count, f"/metrics has {len(found)} dependencies, not {count}")
        times = []
        for _ in range(ARGS.metrics_requests):
            started = time.perf_counter()
            server.get("/metrics", headers)
            times.append(since(started))
        timings.append(
            MetricsTiming(count, encoding, times, len(answer.body), len(lines), len(samples))
        )
        print(
            f"  /metrics at {count:,} ({encoding}): median {statistics.median(times):.3f}s",
            flush=True,
        )
    return timings


def report_metrics(timings: list[MetricsTiming]) -> None:
    n = ARGS.metrics_requests
    print(f"\nGET /metrics, seconds: median and max of {n} timed, after one to check the answer:")
    header = f"{'dependencies':>12} {'encoding':<9} {'median':>7} {'max':>7} {'size':>13}"
    print(f"{header} {'lines':>9} {'samples':>9}  goal")
    for t in timings:
        median = statistics.median(t.times)
        goal = ""
        if t.dependencies >= 10_000:
            goal = f"< {METRICS_GOAL_S} s: " + ("met" if median < METRICS_GOAL_S else "MISSED")
        print(
            f"{t.dependencies:12,d} {t.encoding:<9} {median:7.3f} {max(t.times):7.3f} "
            f"{t.size:13,d} {t.lines:9,d} {t.samples:9,d}  {goal}"
        )
    print("(gzip: as Prometheus asks; the size is then the compressed one)")


# --- profile ---------------------------------------------------------------------------


def profile(paths: list[str], requests: int) -> None:
    """Where a request's time goes: seahealth's WSGI handler called in this process."""
    handler = WSGIHandler()
    count = Dependency.objects.active().count()
    for path in paths:
        environ: dict[str, Any] = {"PATH_INFO": path, "HTTP_HOST": "127.0.0.1"}
        setup_testing_defaults(environ)

        def call(environ: dict[str, Any] = environ) -> None:
            body = handler(dict(environ, **{"wsgi.input": io.BytesIO()}), lambda *a: None)
            b"".join(body)
            body.close()

        call()
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(requests):
            call()
        profiler.disable()
        each = since(started) / requests * 1000
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(15)
        print(
            f"\ncProfile of {requests} requests to {path} at {count:,} dependencies "
            f"({each:.2f} ms each, profiled), by own time:"
        )
        print(out.getvalue().strip("\n"))


if __name__ == "__main__":
    sys.exit(main())
