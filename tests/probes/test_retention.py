from __future__ import annotations

import asyncio
import itertools
import random
import threading
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from probes import retention, rollups
from probes.declaration_watcher import DeclarationWatcher
from probes.embedded import EmbeddedProber, Every
from probes.management.commands.prune_history import Command as PruneHistory
from probes.models import BreakerTransition, Dependency, Period, ProbeResult, Rollup
from probes.outcomes import ErrorClass, Outcome, Result
from probes.status_time import Span
from probes.tasks import prune_history
from tests.conftest import load_settings, wait_for
from tests.factories import T0, make_dependency

pytestmark = pytest.mark.no_database  # its django_db tests run in both passes all the same

# What the retention settings load as, in seconds.
RETENTIONS = (
    "s.SEAHEALTH_RAW_RETENTION.total_seconds(), s.SEAHEALTH_ROLLUP_RETENTION.total_seconds()"
)
NOW = T0 + timedelta(seconds=30)
DAY = timedelta(days=1)


def result(dependency: Dependency, checked_at: datetime) -> ProbeResult:
    return ProbeResult.objects.create(
        dependency=dependency, checked_at=checked_at, result="success", latency_ms=10.0
    )


def bucket(dependency: Dependency, period: Period, start: datetime) -> Rollup:
    return Rollup.objects.create(dependency=dependency, period=period, start=start, count=1)


def history(dependency: Dependency, outcomes: list[Outcome]) -> None:
    """What recording stores for these checks, in bulk: the raw results and their rollups."""
    ProbeResult.objects.bulk_create(
        ProbeResult(
            dependency=dependency,
            checked_at=outcome.checked_at,
            result=outcome.result,
            latency_ms=outcome.latency_ms,
        )
        for outcome in outcomes
    )
    # Each check's result held until the next, as a status would (the breaker aside), but
    # for two minutes at most: a status held for all of a half-hour interval makes 30
    # minute buckets, and forty days of them make this test slow.
    status = {Result.SUCCESS: "up", Result.DEGRADED: "degraded", Result.FAILURE: "down"}
    held = timedelta(minutes=2)
    spans = [
        (
            dependency.id,
            Span(status[a.result], a.checked_at, min(b.checked_at, a.checked_at + held)),
        )
        for a, b in itertools.pairwise(outcomes)
    ]
    rollups.add([(dependency.id, outcome) for outcome in outcomes], spans)


def checks(since: datetime, until: datetime, every: timedelta, rng: random.Random) -> list[Outcome]:
    """A check every `every`: about one in ten fails, one in twenty is slow."""
    outcomes = []
    moment = since
    while moment <= until:
        draw = rng.random()
        if draw < 0.1:
            outcomes.append(Outcome(error_class=ErrorClass.TIMEOUT, checked_at=moment))
        else:
            latency = rng.lognormvariate(3.5, 1.2)
            warnings = ("slow",) if draw > 0.95 else ()
            outcomes.append(Outcome(latency_ms=latency, warnings=warnings, checked_at=moment))
        moment += every
    return outcomes


def figures(dependency_ids: list[int]) -> tuple[object, ...]:
    """Everything a reader is shown from rollups at NOW: uptimes and every chart."""
    charts = [
        rollups.series(i, window, now=NOW)
        for i in dependency_ids
        for window in rollups.CHART_WINDOWS
    ]
    return rollups.uptimes(now=NOW), charts


@pytest.mark.django_db
class TestPrune:
    @pytest.mark.parametrize("raw", [timedelta(days=7), timedelta(hours=1)], ids=["7d", "1h"])
    def test_never_changes_an_uptime_figure_or_a_chart(self, settings, raw) -> None:
        settings.SEAHEALTH_RAW_RETENTION = raw
        rng = random.Random(11)
        rows = [make_dependency("api"), make_dependency("rpc")]
        for row in rows:
            # Forty days every half hour, then the last two hours every minute.
            history(
                row, checks(NOW - 40 * DAY, NOW - timedelta(hours=2), timedelta(minutes=30), rng)
            )
            history(
                row,
                checks(
                    NOW - timedelta(hours=2) + timedelta(seconds=7), NOW, timedelta(minutes=1), rng
                ),
            )
        ids = [row.id for row in rows]
        before = figures(ids)
        api = rollups.uptimes(now=NOW)[ids[0]]
        # What is pruned counts in the figures: the month and the week differ.
        assert api["30d"] != api["7d"]
        past = ProbeResult.objects.filter(checked_at__lt=NOW - raw).count()
        assert past > 0

        counts = retention.prune(now=NOW)

        assert figures(ids) == before
        assert counts["probe_results"] == past
        assert counts["minute_rollups"] > 0
        assert (counts["hour_rollups"], counts["day_rollups"]) == (0, 0)
        assert not ProbeResult.objects.filter(checked_at__lt=NOW - raw).exists()
        assert ProbeResult.objects.filter(checked_at__gte=NOW - raw).exists()

    def test_results_past_the_raw_retention_go_and_younger_ones_stay(self) -> None:
        row = make_dependency()
        cutoff = NOW - django_settings.SEAHEALTH_RAW_RETENTION
        for age in (timedelta(days=30), timedelta(seconds=1), timedelta(microseconds=1)):
            result(row, cutoff - age)
        kept = [
            result(row, cutoff).id,
            result(row, cutoff + timedelta(seconds=1)).id,
            result(row, NOW).id,
        ]
        counts = retention.prune(now=NOW)
        assert counts == {
            "probe_results": 3,
            "minute_rollups": 0,
            "hour_rollups": 0,
            "day_rollups": 0,
            "incidents": 0,
            "status_transitions": 0,
            "notification_messages": 0,
            "notification_events": 0,
            "pings": 0,
            "webhook_events": 0,
        }
        assert sorted(ProbeResult.objects.values_list("id", flat=True)) == sorted(kept)

    def test_minute_rollups_go_with_the_raw_results_once_their_whole_minute_is_past(self) -> None:
        row = make_dependency()
        cutoff = NOW - django_settings.SEAHEALTH_RAW_RETENTION  # 30s into a minute
        week_ago = rollups.bucket_start(cutoff, Period.MINUTE)
        gone = bucket(row, Period.MINUTE, week_ago - timedelta(minutes=1))  # ended at 30s before
        bucket(row, Period.MINUTE, week_ago - timedelta(days=3))
        straddling = bucket(row, Period.MINUTE, week_ago)
        hour = bucket(row, Period.HOUR, week_ago - timedelta(days=3, hours=1))
        day = bucket(row, Period.DAY, week_ago.replace(hour=0) - timedelta(days=3))
        counts = retention.prune(now=NOW)
        assert counts["minute_rollups"] == 2
        assert not Rollup.objects.filter(id=gone.id).exists()
        assert set(Rollup.objects.values_list("id", flat=True)) == {straddling.id, hour.id, day.id}

    def test_hour_and_day_rollups_go_after_the_rollup_retention(self) -> None:
        row = make_dependency()
        cutoff = T0 - django_settings.SEAHEALTH_ROLLUP_RETENTION  # 10:00, 400 days ago
        hours_gone = [bucket(row, Period.HOUR, cutoff - timedelta(hours=h)).id for h in (1, 30)]
        hours_kept = [bucket(row, Period.HOUR, cutoff + timedelta(hours=h)).id for h in (0, 1)]
        midnight = cutoff.replace(hour=0)
        days_gone = [bucket(row, Period.DAY, midnight - DAY * d).id for d in (1, 9)]
        day_kept = bucket(row, Period.DAY, midnight).id  # holds checks after the cutoff
        counts = retention.prune(now=T0)
        assert (counts["hour_rollups"], counts["day_rollups"]) == (2, 2)
        remaining = set(Rollup.objects.values_list("id", flat=True))
        assert remaining == {*hours_kept, day_kept}
        assert not remaining & {*hours_gone, *days_gone}

    def test_deletes_in_batches_each_in_its_own_transaction(self) -> None:
        row = make_dependency()
        for n in range(7):
            result(row, NOW - 8 * DAY - timedelta(minutes=n))
        for n in range(6):
            bucket(row, Period.MINUTE, T0 - 8 * DAY - timedelta(minutes=n))
        young = result(row, NOW - DAY)
        with CaptureQueriesContext(connection) as captured:
            counts = retention.prune(now=NOW, batch_size=3)
        statements = [query["sql"] for query in captured]
        deletes = [sql for sql in statements if sql.startswith("DELETE")]
        assert sum('"probes_proberesult"' in sql for sql in deletes) == 3  # 3 + 3 + 1
        assert sum('"probes_rollup"' in sql for sql in deletes) == 2  # 3 + 3, then none left
        assert counts == {
            "probe_results": 7,
            "minute_rollups": 6,
            "hour_rollups": 0,
            "day_rollups": 0,
            "incidents": 0,
            "status_transitions": 0,
            "notification_messages": 0,
            "notification_events": 0,
            "pings": 0,
            "webhook_events": 0,
        }
        assert list(ProbeResult.objects.values_list("id", flat=True)) == [young.id]
        # One savepoint (the test's transaction holds the real one) around each batch.
        batches = [sql for sql in statements if sql.startswith("SAVEPOINT")]
        # Results (3, 3, 1), minute rollups (3, 3, 0), one empty batch for each other kind.
        assert len(batches) == 3 + 3 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1

    def test_breaker_transitions_are_kept(self) -> None:
        row = make_dependency()
        BreakerTransition.objects.create(
            dependency=row, at=NOW - 1000 * DAY, from_state="closed", to_state="open", reason="x"
        )
        result(row, NOW - 1000 * DAY)
        retention.prune(now=NOW)
        assert BreakerTransition.objects.count() == 1
        assert ProbeResult.objects.count() == 0

    def test_nothing_to_prune_deletes_nothing(self) -> None:
        row = make_dependency()
        result(row, NOW)
        with CaptureQueriesContext(connection) as captured:
            counts = retention.prune(now=NOW)
        assert not [q for q in captured if q["sql"].startswith("DELETE")]
        assert set(counts.values()) == {0}


def test_minute_rollups_outlive_a_raw_retention_shorter_than_the_24h_chart(settings) -> None:
    settings.SEAHEALTH_RAW_RETENTION = timedelta(hours=1)
    assert retention.kept() == {
        "probe_results": timedelta(hours=1),
        "minute_rollups": timedelta(hours=25),  # the 24h window reads an hour more
        "hour_rollups": timedelta(days=400),
        "day_rollups": timedelta(days=400),
        "incidents": timedelta(days=400),
        "status_transitions": timedelta(days=400),
        "notification_messages": timedelta(days=30),
        "notification_events": timedelta(days=30),
        "pings": timedelta(hours=1),
        "webhook_events": timedelta(hours=25),
    }


class TestSettings:
    @pytest.mark.parametrize(
        ("env", "seconds"),
        [
            ({}, (7 * 86400, 400 * 86400)),
            (
                {"SEAHEALTH_RAW_RETENTION": "36h", "SEAHEALTH_ROLLUP_RETENTION": "30d"},
                (36 * 3600, 30 * 86400),
            ),
            (
                {"SEAHEALTH_RAW_RETENTION": "90d", "SEAHEALTH_ROLLUP_RETENTION": "90d"},
                (90 * 86400, 90 * 86400),
            ),
        ],
    )
    def test_retentions_are_durations(self, env, seconds) -> None:
        loaded = load_settings(RETENTIONS, **env)
        assert loaded.returncode == 0, loaded.stderr
        assert tuple(float(s) for s in loaded.stdout.split()) == seconds

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({"SEAHEALTH_RAW_RETENTION": "7"}, "SEAHEALTH_RAW_RETENTION: '7' is not a duration"),
            (
                {"SEAHEALTH_RAW_RETENTION": "a week"},
                "SEAHEALTH_RAW_RETENTION: 'a week' is not a duration",
            ),
            (
                {"SEAHEALTH_RAW_RETENTION": "0d"},
                "SEAHEALTH_RAW_RETENTION must be greater than zero, got '0d'",
            ),
            (
                {"SEAHEALTH_ROLLUP_RETENTION": "1y"},
                "SEAHEALTH_ROLLUP_RETENTION: '1y' is not a duration",
            ),
            (
                {"SEAHEALTH_ROLLUP_RETENTION": "29d"},
                "SEAHEALTH_ROLLUP_RETENTION (29d) must be at least 30d",
            ),
            (
                {"SEAHEALTH_RAW_RETENTION": "60d", "SEAHEALTH_ROLLUP_RETENTION": "45d"},
                "SEAHEALTH_ROLLUP_RETENTION (45d) must be at least SEAHEALTH_RAW_RETENTION (60d)",
            ),
        ],
    )
    def test_a_bad_retention_fails_at_start_with_its_name(self, env, message) -> None:
        loaded = load_settings(RETENTIONS, **env)
        assert loaded.returncode != 0
        assert "ImproperlyConfigured" in loaded.stderr
        assert message in loaded.stderr


def old_history() -> Dependency:
    row = make_dependency()
    result(row, NOW - 8 * DAY)
    result(row, NOW - 9 * DAY)
    result(row, NOW - DAY)
    bucket(row, Period.MINUTE, T0 - 8 * DAY)
    bucket(row, Period.DAY, T0.replace(hour=0) - 500 * DAY)
    return row


@pytest.mark.django_db
@freeze_time(NOW)
def test_the_command_prints_what_it_deleted() -> None:
    old_history()
    out = StringIO()
    call_command("prune_history", stdout=out)
    assert out.getvalue().splitlines() == [
        "deleted 2 probe results older than 7d",
        "deleted 1 minute rollups older than 7d",
        "deleted 0 hour rollups older than 400d",
        "deleted 1 day rollups older than 400d",
        "deleted 0 incidents older than 400d",
        "deleted 0 status transitions older than 400d",
        "deleted 0 notification messages older than 30d",
        "deleted 0 notification events older than 30d",
        "deleted 0 pings older than 1h",
        "deleted 0 webhook events older than 25h",
    ]
    assert ProbeResult.objects.count() == 1


def test_the_command_explains_itself() -> None:
    text = PruneHistory().create_parser("manage.py", "prune_history").format_help()
    assert "SEAHEALTH_RAW_RETENTION" in text
    assert "SEAHEALTH_ROLLUP_RETENTION" in text


@pytest.mark.django_db
@freeze_time(NOW)
def test_the_task_prunes() -> None:
    old_history()
    assert prune_history() == {
        "probe_results": 2,
        "minute_rollups": 1,
        "hour_rollups": 0,
        "day_rollups": 1,
        "incidents": 0,
        "status_transitions": 0,
        "notification_messages": 0,
        "notification_events": 0,
        "pings": 0,
        "webhook_events": 0,
    }
    assert ProbeResult.objects.count() == 1


def test_beat_sends_the_task_every_ten_minutes() -> None:
    entry = django_settings.CELERY_BEAT_SCHEDULE["prune-history"]
    assert entry["task"] == prune_history.name == "probes.tasks.prune_history"
    assert entry["schedule"] == retention.EVERY_SECONDS == 600
    # A prune left waiting for a worker expires before the next one is sent.
    assert 0 < entry["options"]["expires"] < entry["schedule"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now


@pytest.mark.parametrize(
    "readings",
    [
        [
            (0, True),
            (1, False),
            (599.9, False),
            (600, True),
            (900, False),
            (1199.9, False),
            (1200, True),
        ],
        # Late (the loop was busy): the next one is an interval after this start.
        [(0, True), (1300, True), (1899, False), (1900, True)],
    ],
)
def test_every_is_due_at_once_then_an_interval_after_each_start(readings) -> None:
    clock = FakeClock()
    every = Every(600, clock=clock)
    for reading, due in readings:
        clock.now = reading
        assert every.due() is due, reading


@pytest.mark.django_db(transaction=True)
def test_runprobes_prunes_when_it_starts_and_every_interval_after(declaration) -> None:
    # The prober reaches the database from its own thread: the test's rows are committed.
    now = timezone.now()
    row = make_dependency(next_due_at=now + 365 * DAY)
    old = [result(row, now - 8 * DAY).id, bucket(row, Period.MINUTE, now - 9 * DAY).id]
    young = result(row, now - DAY).id
    clock = FakeClock()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    prober = EmbeddedProber(
        DeclarationWatcher(declaration),
        tick=0.02,
        claim_limit=100,
        max_in_flight=100,
        prune=Every(600, clock=clock),
    )

    def run() -> None:
        try:
            loop.run_until_complete(prober.run(stop))
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: not ProbeResult.objects.filter(id=old[0]).exists())
        wait_for(lambda: not Rollup.objects.filter(id=old[1]).exists())
        late = result(row, timezone.now() - 8 * DAY).id
        clock.now = 599.0
        # Two looks at the clock: the first would have started a prune the second waits for.
        seen = clock.calls
        wait_for(lambda: clock.calls >= seen + 2)
        assert ProbeResult.objects.filter(id=late).exists()
        clock.now = 600.0
        wait_for(lambda: not ProbeResult.objects.filter(id=late).exists())
        assert ProbeResult.objects.filter(id=young).exists()
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
    assert not thread.is_alive()
