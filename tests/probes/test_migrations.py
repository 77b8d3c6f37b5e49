"""Data migrations, run forward on rows written by the release before them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import T0

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_TIME = [("probes", "0010_maintenance_window")]
WITH_TIME = [("probes", "0011_time_in_rollups_and_slos")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_buckets_counted_in_checks_get_their_length_shared_out_as_their_checks_were() -> None:
    apps = migrate(BEFORE_TIME)
    try:
        Dependency = apps.get_model("probes", "Dependency")
        Rollup = apps.get_model("probes", "Rollup")
        row = Dependency.objects.create(
            name="api",
            kind="http",
            critical=False,
            spec={"url": "http://127.0.0.1/"},
            interval=timedelta(seconds=30),
            timeout=timedelta(seconds=5),
            failure_threshold=3,
            recovery_timeout=timedelta(minutes=1),
            success_threshold=1,
            cert_expiry_warn=timedelta(days=14),
            depends_on=[],
            next_due_at=T0,
        )
        for period, count, failures, degraded in (
            ("minute", 2, 1, 0),
            ("hour", 120, 6, 12),
            ("day", 2880, 0, 0),
        ):
            Rollup.objects.create(
                dependency=row,
                period=period,
                start=T0,
                count=count,
                failures=failures,
                degraded=degraded,
            )
        Rollup.objects.create(dependency=row, period="hour", start=T0.replace(hour=11))

        apps = migrate(WITH_TIME)
        Rollup = apps.get_model("probes", "Rollup")
        seconds = {
            (r.period, r.start.hour): (r.up_seconds, r.degraded_seconds, r.down_seconds)
            for r in Rollup.objects.all()
        }
        assert seconds == {
            ("minute", 10): (30.0, 0.0, 30.0),
            ("hour", 10): (3060.0, 360.0, 180.0),  # 102, 12 and 6 of 120 checks
            ("day", 10): (86400.0, 0.0, 0.0),
            ("hour", 11): (0.0, 0.0, 0.0),  # no checks: unknown
        }
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
