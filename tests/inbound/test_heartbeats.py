"""Heartbeats: declared, pinged through the views, applied and judged by the prober's tick,
recorded as any dependency (breaker, history, status)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from freezegun import freeze_time

from inbound import applying, tokens
from inbound.models import InboundState, Signal
from inbound.views import PINGS_PER_MINUTE
from probes.declarations import DeclarationError, parse_declaration
from probes.models import Dependency, ProbeResult
from probes.sync import sync
from tests.factories import T0

TOKEN = "ping-0123456789abcdef"


def declare(entry: str) -> list:
    return parse_declaration(f"dependencies:\n  - {entry}\n", "deps.yaml")


class TestDeclaration:
    def test_every_field_is_read(self) -> None:
        [spec] = declare(
            "{name: backup, kind: heartbeat, token: '${BACKUP_TOKEN}', expect_every: 24h,"
            " grace: 30m}"
        )
        target = spec.target
        assert (target.token, target.expect_every, target.grace) == ("${BACKUP_TOKEN}", 86400, 1800)
        # It says it is down once: nothing comes to confirm it.
        assert spec.policy.failure_threshold == 1
        assert "token" in spec.declaration()

    def test_a_cron_schedule_with_its_time_zone(self) -> None:
        [spec] = declare(
            "{name: nightly, kind: heartbeat, schedule: '0 3 * * *', timezone: Europe/Paris}"
        )
        assert (spec.target.schedule, spec.target.timezone) == ("0 3 * * *", "Europe/Paris")

    @pytest.mark.parametrize(
        ("entry", "problem"),
        [
            ("{name: b, kind: heartbeat}", "field 'expect_every': required (or a cron"),
            (
                "{name: b, kind: heartbeat, expect_every: 1h, schedule: '0 3 * * *'}",
                "expect_every and schedule together",
            ),
            ("{name: b, kind: heartbeat, schedule: 'at three'}", "not a cron expression"),
            (
                "{name: b, kind: heartbeat, expect_every: 1h, timezone: Mars/Olympus}",
                "unknown time zone 'Mars/Olympus'",
            ),
            ("{name: b, kind: heartbeat, expect_every: 1h, token: plain}", "field 'token'"),
        ],
    )
    def test_a_heartbeat_declared_wrong_is_refused(self, entry, problem) -> None:
        with pytest.raises(DeclarationError) as refused:
            declare(entry)
        assert any(problem in str(p) for p in refused.value.problems), refused.value


@pytest.fixture
def heartbeat(monkeypatch) -> Dependency:
    """`backup`, pinged every hour with 10 minutes' grace, its token from the environment."""
    monkeypatch.setenv("BACKUP_TOKEN", TOKEN)
    with freeze_time(T0):
        sync(
            declare(
                "{name: backup, kind: heartbeat, token: '${BACKUP_TOKEN}', expect_every: 1h,"
                " grace: 10m}"
            )
        )
    return Dependency.objects.get(name="backup")


def tick(at) -> Dependency:
    with freeze_time(at):
        applying.tick()
    return Dependency.objects.get(name="backup")


@pytest.mark.django_db
class TestPings:
    def test_the_token_is_stored_hashed_never_itself(self, heartbeat) -> None:
        state = InboundState.objects.get(dependency=heartbeat)
        assert state.token_hash == tokens.token_hash(TOKEN)
        assert TOKEN not in str(list(InboundState.objects.values()))

    def test_unknown_before_the_first_ping_then_up_then_down_when_late(
        self, heartbeat, client
    ) -> None:
        assert tick(T0).status == "unknown"
        assert ProbeResult.objects.count() == 0
        with freeze_time(T0 + timedelta(minutes=1)):
            response = client.get(f"/ping/{TOKEN}")
        assert (response.status_code, response.content) == (200, b"OK\n")
        row = tick(T0 + timedelta(minutes=1))
        assert (row.status, row.last_result) == ("up", "success")
        assert row.last_observations["expected_by"] == "2026-11-23 11:11:00 UTC"
        # Past an hour and ten minutes without one: down, at the next judgement.
        row = tick(T0 + timedelta(minutes=71, seconds=30))
        assert (row.status, row.last_error_class) == ("down", "timeout")
        assert row.last_error == (
            "timeout: no ping since 2026-11-23 10:01:00 UTC: expected every 1h, grace 10m"
        )
        # And up again with the next ping.
        with freeze_time(T0 + timedelta(minutes=80)):
            client.post(f"/ping/{TOKEN}")
        assert tick(T0 + timedelta(minutes=80)).status == "up"

    def test_start_then_success_measures_the_run_as_latency(self, heartbeat, client) -> None:
        with freeze_time(T0):
            client.get(f"/ping/{TOKEN}/start")
        with freeze_time(T0 + timedelta(seconds=42)):
            client.get(f"/ping/{TOKEN}")
        row = tick(T0 + timedelta(seconds=43))
        assert row.last_latency_ms == 42000.0
        assert row.last_observations["run_time_ms"] == 42000.0

    def test_a_failure_reported_with_its_log_is_down_at_once(self, heartbeat, client) -> None:
        log = "pg_dump: error: connection to server failed\n" * 400  # 18 KB: 10 KB is kept
        with freeze_time(T0):
            client.post(f"/ping/{TOKEN}/fail", data=log, content_type="text/plain")
        signal = Signal.objects.get()
        assert len(signal.body) == 10 * 1024
        row = tick(T0 + timedelta(seconds=1))
        assert row.status == "down"
        assert row.last_error.startswith(
            "unexpected_response: the job reported a failure: pg_dump: error: connection"
        )

    @pytest.mark.parametrize(("code", "status"), [(0, "up"), (3, "down")])
    def test_an_exit_status(self, heartbeat, client, code, status) -> None:
        with freeze_time(T0):
            client.get(f"/ping/{TOKEN}/{code}")
        row = tick(T0 + timedelta(seconds=1))
        assert row.status == status
        if code:
            assert (
                row.last_error == "unexpected_response: the job reported a failure (exit status 3)"
            )

    def test_an_unknown_token_is_answered_alike_and_stores_nothing(self, heartbeat, client) -> None:
        known = client.get(f"/ping/{TOKEN}")
        for path in ("/ping/nobody", "/ping/nobody/fail", "/ping/" + "x" * 500):
            unknown = client.get(path)
            assert (unknown.status_code, unknown.content) == (known.status_code, known.content)
            assert unknown.headers == known.headers
        assert Signal.objects.count() == 1

    def test_a_flood_is_answered_and_stores_at_most_the_rate(self, heartbeat, client) -> None:
        with freeze_time(T0) as clock:
            for _ in range(PINGS_PER_MINUTE + 20):
                assert client.get(f"/ping/{TOKEN}").status_code == 200
            assert Signal.objects.count() == PINGS_PER_MINUTE
            clock.tick(61)
            client.get(f"/ping/{TOKEN}")
        assert Signal.objects.count() == PINGS_PER_MINUTE + 1
        # Applied in one tick, judged once.
        tick(T0 + timedelta(seconds=62))
        assert ProbeResult.objects.count() == 1

    def test_a_cron_heartbeat_is_late_after_its_next_run_and_grace(self, client) -> None:
        with freeze_time(T0):
            sync(
                declare(
                    "{name: backup, kind: heartbeat, schedule: '0 3 * * *', timezone: Europe/Paris,"
                    " grace: 30m}"
                )
            )
        row = Dependency.objects.get(name="backup")
        with freeze_time(T0):
            call_command("heartbeat_token", "backup", stdout=(out := _Capture()), stderr=_Capture())
        token = out.text.strip()
        ran = T0.replace(hour=2, minute=5)  # 03:05 in Paris, a run on time
        with freeze_time(ran):
            client.get(f"/ping/{token}")
        # The next run is 03:00 Paris (02:00 UTC) the day after; late past 02:30 UTC.
        assert tick(ran + timedelta(days=1, minutes=20)).status == "up"
        late = tick(ran + timedelta(days=1, minutes=26))
        assert late.status == "down"
        assert "expected cron '0 3 * * *' (Europe/Paris), grace 30m" in late.last_error
        assert row.id == late.id


class _Capture:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


@pytest.mark.django_db
def test_heartbeat_token_refuses_a_declared_token_and_other_kinds(heartbeat) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match=r"takes its token from \$\{BACKUP_TOKEN\}"):
        call_command("heartbeat_token", "backup")
    with pytest.raises(CommandError, match="no dependency named 'nothing'"):
        call_command("heartbeat_token", "nothing")


def test_the_readme_shows_the_crontab_line() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "curl -fsS -m 10 --retry 3 https://" in readme


@pytest.mark.django_db
def test_a_heartbeat_whose_judgement_crashes_fails_alone(monkeypatch, client) -> None:
    from probes.kinds import heartbeat as kind

    with freeze_time(T0):
        sync(
            parse_declaration(
                "dependencies:\n"
                "  - {name: good, kind: heartbeat, token: '${GOOD}', expect_every: 1h}\n"
                "  - {name: buggy, kind: heartbeat, token: '${BUGGY}', expect_every: 2h}\n",
                "deps.yaml",
            )
        )
    for name in ("good", "buggy"):
        tokens.store(Dependency.objects.get(name=name), f"token-of-{name}")
    judge = kind.judge

    def crashing(spec, reported, now):
        if spec.expect_every == 7200:
            raise RuntimeError("a bug")
        return judge(spec, reported, now)

    monkeypatch.setattr(kind, "judge", crashing)
    with freeze_time(T0):
        client.get("/ping/token-of-good")
        client.get("/ping/token-of-buggy")
        applying.tick()
    statuses = dict(Dependency.objects.values_list("name", "last_error_class"))
    assert statuses == {"good": "", "buggy": "internal"}
