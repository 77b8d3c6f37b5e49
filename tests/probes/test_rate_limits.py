"""A rate limit is its own error class (issue 16): a peer that answers 429, S3's SlowDown or a
JSON-RPC -32005 is there and asks for less. Degraded, not down (unless declared), counted
apart, and its Retry-After honoured: the next probe is not sooner. Real peers on loopback:
an HTTP server that throttles, posing as a web API, a JSON-RPC node and an S3 store."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.utils import timezone
from freezegun import freeze_time

from probes.declarations import DeclarationError, parse_declaration
from probes.engine import run_batch
from probes.http_peers import LONGEST_RETRY_AFTER, retry_after
from probes.models import Dependency
from probes.outcomes import ErrorClass, Outcome, Result
from probes.recording import record
from probes.scheduler import job_for
from tests.factories import make_dependency, make_job
from tests.servers import Route

S3_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
THROTTLED = Route(429, b"slow down", headers={"Content-Type": "text/plain", "Retry-After": "30"})


def probe(kind: str, spec: dict, **declared: object) -> Outcome:
    one = make_job(kind, spec, name="peer", timeout=5.0, **declared)
    environ = {"S3_KEY_ID": "AKIAEXAMPLEEXAMPLE00", "S3_SECRET": "s3cr3t-example"}
    [(_, outcome)] = asyncio.run(run_batch([one], environ=environ))
    return outcome


def s3_spec(url: str) -> dict:
    return {
        "bucket": "backups",
        "endpoint_url": url,
        "region": "us-east-1",
        "access_key_id": "${S3_KEY_ID}",
        "secret_access_key": "${S3_SECRET}",
    }


def json_rpc_error(code: int, message: str) -> Route:
    def reply(request: bytes) -> bytes:
        call = json.loads(request)
        error = {"code": code, "message": message}
        return json.dumps({"jsonrpc": "2.0", "id": call["id"], "error": error}).encode()

    return Route(reply=reply)


class TestEachHTTPKind:
    @pytest.mark.parametrize(
        ("kind", "route", "detail"),
        [
            ("http", THROTTLED, "HTTP 429 Too Many Requests, expected 2xx (retry after 30s)"),
            # The three calls go at once: whichever is refused first is the detail.
            ("rpc", THROTTLED, ": HTTP 429 Too Many Requests (retry after 30s)"),
            (
                "rpc",
                json_rpc_error(-32005, "daily request count exceeded, request rate limited"),
                "JSON-RPC error -32005: daily request count exceeded, request rate limited",
            ),
            (
                "s3",
                Route(503, S3_SLOW_DOWN, headers={"Content-Type": "application/xml"}),
                "ListObjectsV2: HTTP 503 SlowDown: Please reduce your request rate.",
            ),
            (
                "s3",
                Route(429, b"", headers={"Retry-After": "12"}),
                "ListObjectsV2: HTTP 429 Too Many Requests (retry after 12s)",
            ),
        ],
        ids=["http-429", "rpc-429", "rpc-32005", "s3-slowdown", "s3-429"],
    )
    def test_a_throttled_answer_is_rate_limited_and_degraded(
        self, http_server, kind, route, detail
    ) -> None:
        http_server.routes["*"] = route
        url = http_server.url("/peer")
        outcome = probe(kind, s3_spec(http_server.url("")) if kind == "s3" else {"url": url})

        assert outcome.error_class is ErrorClass.RATE_LIMITED, outcome.error
        assert detail in outcome.detail
        assert outcome.result is Result.DEGRADED
        assert outcome.warnings == (f"rate limited: {outcome.detail}",)
        assert outcome.latency_ms is None  # a refusal's speed is not the peer's latency

    def test_declared_down_it_fails(self, http_server) -> None:
        http_server.routes["*"] = THROTTLED
        outcome = probe("http", {"url": http_server.url("/peer")}, rate_limited_is="down")
        assert (outcome.error_class, outcome.result) == (ErrorClass.RATE_LIMITED, Result.FAILURE)
        assert outcome.warnings == ()

    def test_another_refusal_is_still_a_failure(self, http_server) -> None:
        http_server.routes["*"] = Route(503, b"down", headers={"Retry-After": "30"})
        outcome = probe("http", {"url": http_server.url("/peer")})
        assert (outcome.error_class, outcome.result) == (
            ErrorClass.UNEXPECTED_STATUS,
            Result.FAILURE,
        )
        assert "retry_after_seconds" not in outcome.observations


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        ("0", 0.0),
        (format_datetime(datetime(2026, 11, 23, 10, 2, tzinfo=UTC), usegmt=True), 120.0),
        (format_datetime(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), usegmt=True), 0.0),  # past
        ("86400", LONGEST_RETRY_AFTER),
        ("-5", None),
        ("soon", None),
        ("\u00b2", None),  # a digit to str.isdigit(), not to float()
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date_and_bounded(value, seconds) -> None:
    assert retry_after(value, now=datetime(2026, 11, 23, 10, 0, tzinfo=UTC)) == seconds


@pytest.mark.django_db
class TestRecorded:
    def record(self, row: Dependency, outcome: Outcome) -> Dependency:
        record([(job_for(row), outcome)])
        return Dependency.objects.get(pk=row.pk)

    def throttled(self, row: Dependency, http_server, at: datetime) -> Outcome:
        http_server.routes["*"] = THROTTLED
        [(_, outcome)] = asyncio.run(run_batch([job_for(row)], environ={}))
        return Outcome(**{**outcome.__dict__, "checked_at": at})

    def test_the_breaker_stays_closed_the_next_probe_waits_and_it_is_counted(
        self, http_server
    ) -> None:
        row = make_dependency(
            "api",
            spec={"url": http_server.url("/peer")},
            failure_threshold=1,
            interval=timedelta(seconds=10),
        )
        now = timezone.now()
        with freeze_time(now):
            for _ in range(3):
                row = self.record(row, self.throttled(row, http_server, now))

        assert (row.status, row.breaker_state) == ("degraded", "closed")
        assert row.last_error_class == "rate_limited"
        assert row.next_due_at >= now + timedelta(seconds=30)  # Retry-After, over the interval
        assert row.totals["errors"] == {"rate_limited": 3}
        assert row.totals["results"] == {"degraded": 3}

    def test_declared_down_it_opens_the_breaker(self, http_server) -> None:
        row = make_dependency(
            "api",
            spec={"url": http_server.url("/peer")},
            failure_threshold=1,
            rate_limited_is="down",
        )
        row = self.record(row, self.throttled(row, http_server, timezone.now()))
        assert (row.status, row.breaker_state) == ("down", "open")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{name: a, kind: http, url: 'http://a', rate_limited_is: up}", "is not one of"),
        (
            "{name: a, kind: smtp, host: mail, rate_limited_is: down}",
            "'rate_limited_is': only for the kinds http, rpc, s3",
        ),
    ],
)
def test_rate_limited_is_is_checked_where_it_is_declared(entry, problem) -> None:
    with pytest.raises(DeclarationError) as refused:
        parse_declaration(f"dependencies:\n  - {entry}\n", "deps.yaml")
    assert any(problem in str(p) for p in refused.value.problems), refused.value


def test_a_default_reaches_only_the_http_kinds() -> None:
    text = """
defaults: {rate_limited_is: down}
dependencies:
  - {name: api, kind: http, url: 'http://a'}
  - {name: mail, kind: smtp, host: mail}
"""
    api, mail = parse_declaration(text, "deps.yaml")
    assert api.rate_limited_is == "down"
    assert "rate_limited_is" in api.declaration()
    assert "rate_limited_is" not in mail.declaration()
