"""Server time of the status page, its htmx partial and a dependency page, at scale.

Loads N dependencies (default 1,000; mixed kinds and groups, some down or degraded, their
current state filled as the prober keeps it: bench/loading.py) with D days (default 30) of
history into a fresh database, then times requests through Django's test client, logged
in: the whole Django stack (middleware, session, view, queries, template), no web server and
no network. Per page it prints the median and p95 server time, the queries and the response
size, then a table of the goals: `/` and its htmx partial under 100 ms at 1,000 dependencies
(under 400 ms at 10,000), a poll of an unchanged live part (`/ (poll, unchanged)`: the
stamp of a partial just rendered sent back, answered 204) under 5 ms, and a search by name
under 100 ms. `/ (poll, shared)` is a poll after a change that another viewer's poll of
the same view rendered a moment before (dashboard/live_state.py): what the tenth tab on a
wall costs while the prober runs. Then it splits the time of `/` into the database,
building the board and rendering the template; --profile adds a cProfile of `/`.

History is loaded as the product keeps it: hour and day rollups for all D days (every uptime
figure and the 7d and 30d charts come from them), and minute rollups and raw results (one
per probe, every 60 s) for --raw-hours (default 24) for every dependency, and for the whole
raw retention (7 days) for the dependency whose page is timed. Seven days of raw results for
every dependency (10 million rows, and as many minute rollups) would take too long to load;
no timed page reads another dependency's raw rows or minute rollups. The script prints
exactly what it loaded.

Run it by hand (it is never part of the test run), from the repository's root:

    .venv/bin/python bench/status_page.py                    # 1,000 dependencies, SQLite
    .venv/bin/python bench/status_page.py --dependencies 10000 --raw-hours 1
    .venv/bin/python bench/status_page.py --dependencies 200 --days 7 --requests 50
    .venv/bin/python bench/status_page.py --database-url postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/status_page.py --profile

SQLite goes to a file in a temporary directory. With a PostgreSQL URL, the benchmark creates
the database `seahealth_bench` on that server (dropping one left behind) and drops it after.
DEBUG is off, as in production.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The goals, in ms of server time: the page and its partial by size (1,000 and fewer,
# or more), the unchanged poll and the search at any size.
PAGE_GOAL_MS = {1000: 100.0, 10_000: 400.0}
POLL_GOAL_MS = 5.0
SEARCH_GOAL_MS = 100.0
SEARCH = "-http-012"  # a name's part: a few rows at any size (bench/loading.py's names)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dependencies", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30, help="of hour and day rollups")
    parser.add_argument(
        "--raw-hours", type=int, default=24, help="of raw results and minute rollups, for all"
    )
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--database-url", help="a PostgreSQL server to use (default: SQLite)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of `/`")
    parser.add_argument("--keep", action="store_true", help="keep the database, to explore it")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


# Django reads its settings from the environment as it starts, and models can be imported only
# once it has: the arguments come first.
ARGS = parse_args()
sys.path.insert(0, str(ROOT))
from bench import in_process  # noqa: E402

WORKDIR = in_process.start(ARGS.database_url)

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import AbstractBaseUser  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.loading import (  # noqa: E402
    INTERVAL,
    RAW_RETENTION,
    declare,
    rollups,
    since,
    stage,
    write,
    write_minutes,
)
from dashboard import board, live_state  # noqa: E402
from probes.rollups import refresh_uptimes  # noqa: E402


def main() -> None:
    with in_process.fresh_database(WORKDIR, "seahealth_bench", keep=ARGS.keep) as database:
        print(f"database: {connection.vendor} {database}")
        name = load()
        measure(name)


# --- loading ---------------------------------------------------------------------------


def load() -> str:
    """Declares the dependencies, sets their state, loads their history; the timed one's name."""
    now = datetime.now(UTC)
    profiles = declare(ARGS.dependencies, seed=ARGS.seed, now=now, workdir=WORKDIR)
    probed = [profile for profile in profiles if profile.row.status != "unknown"]
    # The timed dependency page: an http dependency that is up, with the whole raw retention.
    timed = next(p for p in probed if p.row.kind == "http" and p.row.status == "up")
    print(
        f"history of the {len(probed):,} probed: hour and day rollups for {ARGS.days} days; "
        f"raw results and minute rollups (one per {INTERVAL.seconds} s) for {ARGS.raw_hours} h, "
        f"and for {RAW_RETENTION.days} days (the raw retention) for {timed.row.name}:"
    )
    started = time.perf_counter()
    stage("day rollups", lambda: write(rollups(probed, "day", ARGS.days, now)))
    stage("hour rollups", lambda: write(rollups(probed, "hour", ARGS.days, now)))

    def raw_history() -> int:
        written = 0
        for profile in probed:
            hours = RAW_RETENTION / timedelta(hours=1) if profile is timed else ARGS.raw_hours
            written += write_minutes(profile.minutes(int(hours * 60)))
        return written

    stage("raw results, and as many minute rollups", raw_history)
    # As runprobes does every minute: the rows' uptimes, from the rollups just loaded.
    stage("rows' uptimes refreshed from the rollups", lambda: refresh_uptimes(now))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum does soon after a bulk load
    print(f"history loaded in {since(started):.0f}s")
    return timed.row.name


# --- measuring -------------------------------------------------------------------------


def measure(name: str) -> None:
    user = get_user_model().objects.create_user("bench")
    client = Client()
    client.force_login(user)
    htmx = {"HX-Request": "true"}
    pages = [
        ("/", "/", {}, "render"),
        ("/ (htmx partial)", "/", htmx, "render"),
        ("/ (poll, unchanged)", "/", htmx, "unchanged"),
        ("/ (poll, shared)", "/", htmx, "shared"),
        (f"/?q={SEARCH}", f"/?q={SEARCH}", {}, "render"),
        ("/?status=down", "/?status=down", {}, "render"),
        ("/?kind=http", "/?kind=http", {}, "render"),
        ("/?sort=budget", "/?sort=budget", {}, "render"),
        ("dependency 24h", f"/dependencies/{name}/", {}, "render"),
        ("dependency 30d", f"/dependencies/{name}/?window=30d", {}, "render"),
    ]
    print(f"\n{ARGS.requests} timed requests per page after 3 to warm up; server time in ms:")
    print(f"{'page':<22} {'median':>8} {'p95':>8} {'min':>8} {'queries':>8} {'size':>9}")
    medians = {}
    for label, path, headers, kind in pages:
        times, queries, size = time_page(client, path, headers, kind)
        medians[label] = statistics.median(times)
        print(
            f"{label:<22} {medians[label]:8.1f} {percentile(times, 0.95):8.1f} "
            f"{min(times):8.1f} {queries:8d} {size / 1024:8.0f}K"
        )
    page_goal = PAGE_GOAL_MS[1000 if ARGS.dependencies <= 1000 else 10_000]
    goals = {
        "/": page_goal,
        "/ (htmx partial)": page_goal,
        "/ (poll, unchanged)": POLL_GOAL_MS,
        f"/?q={SEARCH}": SEARCH_GOAL_MS,
    }
    print(f"\nGoals at {ARGS.dependencies:,} dependencies (median server time, ms):")
    print(f"{'page':<22} {'goal':>8} {'median':>8}")
    for label, goal in goals.items():
        verdict = "within" if medians[label] < goal else "OVER"
        print(f"{label:<22} {'< ' + format(goal, 'g'):>8} {medians[label]:8.1f}  {verdict}")
    phases(client, user)
    if ARGS.profile:
        profile(client)


def time_page(
    client: Client, path: str, headers: dict, kind: str = "render"
) -> tuple[list[float], int, int]:
    """`kind`: "render" (each request builds and renders: no render of before is shared),
    "unchanged" (a poll sending the stamp of a partial rendered just before it, untimed:
    answered 204), or "shared" (a poll with an old stamp just after another viewer's render
    of the same view, untimed: answered with that render). Stamps are fresh for each: one
    expires within a minute, and every second while the prober's silence is under one."""
    expected = 204 if kind == "unchanged" else 200

    def prepare() -> dict:
        live_state.forget()
        if kind == "render":
            return headers
        shown = stamp(client, path)  # rendered, and kept for the other viewers
        return {**headers, live_state.HEADER: shown if kind == "unchanged" else "0.0"}

    def get() -> HttpResponse:
        sent = prepare()
        started = time.perf_counter()
        response = client.get(path, headers=sent)
        times.append(since(started) * 1000)
        assert response.status_code == expected, (path, kind, response.status_code)
        return response

    times: list[float] = []
    for _ in range(3):
        get()
    times.clear()
    for _ in range(ARGS.requests):
        get()
    sent = prepare()
    with CaptureQueriesContext(connection) as queries:  # the timed request's alone
        response = client.get(path, headers=sent)
    return times, len(queries), len(response.content)


def stamp(client: Client, path: str) -> str:
    page = client.get(path, headers={"HX-Request": "true"}).content.decode()
    return re.search(r'"X-Seahealth-Shown": "([0-9.]+)"', page).group(1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def phases(client: Client, user: AbstractBaseUser) -> None:
    """Where the time of `/` goes: the database, building the board, rendering the page."""
    statements: list[tuple[str, tuple]] = []

    def remember(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(remember):
        built = board.build({})

    def run(sql: str, params: tuple) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    def database() -> None:
        for sql, params in statements:
            run(sql, params)

    request = RequestFactory().get("/")
    request.user, request.htmx = user, False
    context = {"board": built, "form": board.FilterForm({}), "refresh": 5}
    database_ms = median_ms(database)
    build_ms = median_ms(lambda: board.build({}))
    render_ms = median_ms(lambda: render_to_string("dashboard/status.html", context, request))
    request_ms = median_ms(lambda: client.get("/"))
    print(f"\nWhere the time of / goes (median of 10 runs each, ms; {len(statements)} queries):")
    print(f"  {request_ms:7.1f}  the whole request")
    print(f"  {build_ms:7.1f}    board.build(), of which")
    print(f"  {database_ms:7.1f}      the database: its queries run raw, every row fetched")
    for sql, params in statements:
        print(f"  {median_ms(partial(run, sql, params)):7.1f}        {sql[:70]}...")
    print(f"  {build_ms - database_ms:7.1f}      making models of the rows, grouping, sorting")
    print(f"  {render_ms:7.1f}    rendering status.html from the built board")
    rest = request_ms - build_ms - render_ms
    print(f"  {rest:7.1f}    the rest: middleware, session and user, the form")


def median_ms(work: Callable[[], object], runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(since(started) * 1000)
    return statistics.median(times)


def profile(client: Client) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        client.get("/")
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    print("\ncProfile of 5 requests to /, by own time:\n" + out.getvalue())


if __name__ == "__main__":
    main()
