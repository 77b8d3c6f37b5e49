"""What a receiver's answer means for a message: sent, tried again (and when), or dead.
Every answer comes from a real peer on loopback."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.replies import BODY_READ, LONGEST_RETRY_AFTER, Reply, backoff, post, retry_after
from tests.servers import EndlessServer, HangingServer, LocalHTTPServer, Route, unused_port

pytestmark = pytest.mark.no_database

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def send(url: str, timeout: float = 5.0) -> Reply:
    async def go() -> Reply:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            return await post(http, url, b'{"id": "msg_1"}', {"content-type": "application/json"})

    return asyncio.run(go())


def answer(server: LocalHTTPServer, route: Route) -> Reply:
    server.routes["/hook"] = route
    return send(server.url("/hook"))


# --- a table of answers ------------------------------------------------------------------

# (status, headers, body) -> (sent, retried, permanent, retry_after)
ANSWERS = {
    "200": (200, {}, b"", (True, False, False, None)),
    "201": (201, {}, b"{}", (True, False, False, None)),
    "202 (PagerDuty's)": (202, {}, b'{"status":"success"}', (True, False, False, None)),
    "204": (204, {}, b"", (True, False, False, None)),
    "408": (408, {}, b"", (False, True, False, None)),
    "429": (429, {}, b"", (False, True, False, None)),
    "429 Retry-After seconds": (429, {"Retry-After": "120"}, b"", (False, True, False, 120.0)),
    "503 Retry-After seconds": (503, {"Retry-After": "7"}, b"", (False, True, False, 7.0)),
    "429 Retry-After too long": (
        429,
        {"Retry-After": "31536000"},
        b"",
        (False, True, False, LONGEST_RETRY_AFTER),
    ),
    "503 Retry-After not a number": (503, {"Retry-After": "soon"}, b"", (False, True, False, None)),
    "503 Retry-After a superscript digit": (
        503,
        {"Retry-After": "\u00b2"},  # str.isdigit() says yes; float() says no
        b"",
        (False, True, False, None),
    ),
    "500": (500, {}, b"oops", (False, True, False, None)),
    "502": (502, {}, b"", (False, True, False, None)),
    "504": (504, {}, b"", (False, True, False, None)),
    "301": (301, {"Location": "https://elsewhere.example.com/"}, b"", (False, False, True, None)),
    "302": (302, {"Location": "/other"}, b"", (False, False, True, None)),
    "307": (307, {"Location": "/other"}, b"", (False, False, True, None)),
    "400": (400, {}, b"invalid payload", (False, False, True, None)),
    "401": (401, {}, b"", (False, False, True, None)),
    "403": (403, {}, b"", (False, False, True, None)),
    "404": (404, {}, b"", (False, False, True, None)),
    "410": (410, {}, b"", (False, False, True, None)),
    "413": (413, {}, b"", (False, False, True, None)),
    "422": (422, {}, b"", (False, False, True, None)),
}


@pytest.mark.parametrize(("status", "headers", "body", "expected"), ANSWERS.values(), ids=ANSWERS)
def test_an_answer_means_sent_retried_or_dead(
    http_server: LocalHTTPServer, status: int, headers: dict, body: bytes, expected: tuple
) -> None:
    reply = answer(http_server, Route(status, body, headers=headers))

    sent, retried, permanent, wait = expected
    assert reply.status_code == status
    assert reply.sent is sent
    assert (not reply.sent and not reply.permanent) is retried
    assert reply.permanent is permanent
    assert reply.retry_after == wait
    assert (reply.error == "") is sent
    if not sent:
        assert reply.error.startswith(f"HTTP {status} ")


def test_a_retry_after_date_is_honoured_as_seconds_from_now(http_server: LocalHTTPServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)

    reply = answer(http_server, Route(503, b"", headers={"Retry-After": when}))

    assert reply.permanent is False
    assert 85 <= reply.retry_after <= 90


def test_a_refusal_says_why_with_the_start_of_its_body(http_server: LocalHTTPServer) -> None:
    reply = answer(http_server, Route(400, b'{"error": "routing_key is invalid"}'))

    assert reply.error == 'HTTP 400 Bad Request: {"error": "routing_key is invalid"}'


def test_a_redirect_is_not_followed_and_names_where_it_led(http_server: LocalHTTPServer) -> None:
    reply = answer(http_server, Route(308, b"", headers={"Location": "https://new.example.com/h"}))

    assert [path for _, path, _ in http_server.requests] == ["/hook"]
    assert reply.permanent is True
    assert "redirected to https://new.example.com/h: declare that URL" in reply.error


# --- no answer ---------------------------------------------------------------------------


def test_a_refused_connection_is_tried_again() -> None:
    reply = send(f"http://127.0.0.1:{unused_port()}/hook")

    assert reply == Reply(error=reply.error)
    assert reply.error.startswith("connect: ")
    assert "refused" in reply.error.lower()


def test_a_peer_that_never_answers_costs_the_timeout_and_is_tried_again(
    hanging_server: HangingServer,
) -> None:
    started = time.monotonic()

    reply = send(hanging_server.url("/hook"), timeout=0.5)

    assert 0.4 < time.monotonic() - started < 3
    assert reply.error.startswith("timeout: ")
    assert reply.permanent is False
    assert reply.status_code is None


def test_an_endless_body_is_read_only_up_to_body_read() -> None:
    server = EndlessServer(status=500)
    started = time.monotonic()
    try:
        # A read timeout never fires: bytes keep coming. Reading it all would never return.
        reply = send(server.url("/hook"), timeout=30)
    finally:
        server.stop()

    assert time.monotonic() - started < 10
    assert reply.status_code == 500
    assert reply.permanent is False
    assert "endless endless" in reply.error
    assert len(reply.error) < BODY_READ


def test_a_huge_error_body_leaves_a_short_error(http_server: LocalHTTPServer) -> None:
    reply = answer(http_server, Route(400, b"x" * 5_000_000))

    assert reply.permanent is True
    assert 200 < len(reply.error) < 300


@pytest.mark.parametrize("url", ["http://", "ftp://127.0.0.1/hook"], ids=["no host", "ftp"])
def test_a_url_that_cannot_be_sent_to_is_dead_at_once(url: str) -> None:
    reply = send(url)

    assert reply.permanent is True
    assert reply.error.startswith("bad URL: ")


# --- Retry-After ---------------------------------------------------------------------------

RETRY_AFTER = {
    "absent": (None, None),
    "empty": ("", None),
    "seconds": ("120", 120.0),
    "seconds with spaces": (" 120 ", 120.0),
    "zero": ("0", 0.0),
    "past a day": ("999999999999", LONGEST_RETRY_AFTER),
    "negative": ("-5", None),
    "a fraction": ("1.5", None),
    "arabic-indic digits": ("\u0661\u0662", None),
    "superscript": ("\u00b2", None),
    "a date in 30 s": ("Mon, 23 Nov 2026 10:00:30 GMT", 30.0),
    "a date past": ("Mon, 23 Nov 2026 09:00:00 GMT", 0.0),
    "a date next year": ("Tue, 23 Nov 2027 10:00:00 GMT", LONGEST_RETRY_AFTER),
    "a date without a zone": ("Mon, 23 Nov 2026 10:01:00", 60.0),
    "a year out of range": ("Mon, 01 Jan 99999 00:00:00 GMT", None),
    "words": ("later, please", None),
}


@pytest.mark.parametrize(("value", "seconds"), RETRY_AFTER.values(), ids=RETRY_AFTER)
def test_retry_after_reads_seconds_or_an_http_date(value: str | None, seconds: float) -> None:
    assert retry_after(value, now=NOW) == seconds


@given(st.text(max_size=60))
def test_retry_after_never_raises_and_stays_within_a_day(value: str) -> None:
    seconds = retry_after(value, now=NOW)

    assert seconds is None or 0 <= seconds <= LONGEST_RETRY_AFTER


# --- backoff -------------------------------------------------------------------------------


@given(
    attempts=st.integers(1, 200),
    first=st.floats(0.001, 3600),
    longest=st.floats(0.001, 86400),
)
def test_backoff_is_full_jitter_under_the_doubling_ceiling(
    attempts: int, first: float, longest: float
) -> None:
    wait = backoff(attempts, first, longest)

    assert 0 <= wait <= min(longest, first * 2.0 ** (attempts - 1))


def test_backoff_spreads_waits_and_its_ceiling_doubles_each_attempt() -> None:
    first = [backoff(1, 2.0, 600.0) for _ in range(300)]
    fourth = [backoff(4, 2.0, 600.0) for _ in range(300)]

    # Jitter: waits anywhere under the ceiling, not the ceiling each time.
    assert min(first) < 0.5 < 1.5 < max(first) <= 2.0
    assert max(fourth) > 8.0
    assert max(backoff(30, 2.0, 600.0) for _ in range(300)) <= 600.0
