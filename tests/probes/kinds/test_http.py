"""The HTTP probe against real servers on loopback, run as the prober runs it (the engine)."""

from __future__ import annotations

import asyncio
import time

import pytest

from probes.engine import Job, run_batch
from probes.outcomes import ErrorClass, Outcome, Result
from tests.servers import Route, unused_port


def probe(spec: dict, timeout: float = 2.0, environ: dict | None = None) -> Outcome:
    job = Job(dependency_id=1, name="api", kind="http", interval=30, timeout=timeout, spec=spec)
    [(_, outcome)] = asyncio.run(run_batch([job], environ=environ or {}))
    return outcome


def test_a_200_is_up_with_its_status_code_and_latency(http_server) -> None:
    outcome = probe({"url": http_server.url()})
    assert outcome.result is Result.SUCCESS
    assert outcome.observations == {"status_code": 200}
    assert outcome.latency_ms is not None
    assert 0 < outcome.latency_ms < 2000
    assert outcome.checked_at is not None


@pytest.mark.parametrize(
    ("status", "expect_status", "ok", "detail"),
    [
        (204, None, True, ""),
        (503, None, False, "HTTP 503 Service Unavailable, expected 2xx"),
        (302, None, False, "HTTP 302 Found, expected 2xx"),
        (200, [204], False, "HTTP 200 OK, expected 204"),
        (401, [200, 401], True, ""),
    ],
)
def test_expected_statuses(http_server, status, expect_status, ok, detail) -> None:
    http_server.routes["/health"] = Route(status=status)
    outcome = probe({"url": http_server.url(), "expect_status": expect_status})
    assert outcome.ok is ok
    assert outcome.detail == detail
    assert outcome.observations == {"status_code": status}
    if not ok:
        assert outcome.error_class is ErrorClass.UNEXPECTED_STATUS
        assert outcome.latency_ms is None


def test_a_response_slower_than_the_timeout_is_a_timeout_that_ends_at_the_deadline(
    http_server,
) -> None:
    http_server.routes["/health"] = Route(delay=10)
    started = time.monotonic()
    outcome = probe({"url": http_server.url()}, timeout=0.5)
    elapsed = time.monotonic() - started
    assert outcome.error_class is ErrorClass.TIMEOUT
    assert outcome.detail == "no answer within 500ms"
    # The deadline was honoured: nowhere near the server's 10 s (a wide margin for slow hosts).
    assert elapsed < 3


def test_a_peer_that_accepts_and_never_answers_is_a_timeout(hanging_server) -> None:
    started = time.monotonic()
    outcome = probe({"url": hanging_server.url()}, timeout=0.5)
    assert outcome.error_class is ErrorClass.TIMEOUT
    assert time.monotonic() - started < 3


def test_connection_refused_is_a_connect_error() -> None:
    outcome = probe({"url": f"http://127.0.0.1:{unused_port()}/health"})
    assert outcome.error_class is ErrorClass.CONNECT
    assert outcome.detail == "connection refused"
    assert outcome.error == "connect: connection refused"


def test_a_self_signed_certificate_is_a_tls_error(https_server) -> None:
    outcome = probe({"url": https_server.url()})
    assert outcome.error_class is ErrorClass.TLS
    assert outcome.detail == "certificate verify failed: self-signed certificate"


def test_speaking_tls_to_a_plain_http_server_is_a_tls_error(http_server) -> None:
    outcome = probe({"url": http_server.url().replace("http://", "https://")})
    assert outcome.error_class is ErrorClass.TLS


def test_a_name_that_does_not_resolve_is_a_dns_error() -> None:
    # .invalid never resolves (RFC 6761), with or without a network.
    outcome = probe({"url": "http://seahealth-test.invalid/health"}, timeout=5)
    assert outcome.error_class is ErrorClass.DNS
    assert outcome.detail.startswith("cannot resolve host")


def test_method_and_headers_are_sent_with_placeholders_resolved(http_server) -> None:
    spec = {
        "url": http_server.url(),
        "method": "POST",
        "headers": {"Authorization": "Bearer ${API_TOKEN}", "X-Team": "payments"},
    }
    outcome = probe(spec, environ={"API_TOKEN": "s3cret-value"})
    assert outcome.ok
    [(method, path, headers)] = http_server.requests
    assert (method, path) == ("POST", "/health")
    assert headers["Authorization"] == "Bearer s3cret-value"
    assert headers["X-Team"] == "payments"
    assert headers["User-Agent"].startswith("seahealth/")


def test_an_unset_variable_is_a_config_error_naming_it_and_nothing_is_sent(http_server) -> None:
    spec = {"url": http_server.url(), "headers": {"Authorization": "Bearer ${API_TOKEN}"}}
    outcome = probe(spec, environ={})
    assert outcome.error_class is ErrorClass.CONFIG
    assert "API_TOKEN" in outcome.detail
    assert http_server.requests == []


def test_a_variable_can_come_from_a_file(http_server, tmp_path) -> None:
    (tmp_path / "token").write_text("from-a-file\n")
    spec = {"url": http_server.url(), "headers": {"Authorization": "Bearer ${API_TOKEN}"}}
    outcome = probe(spec, environ={"API_TOKEN_FILE": str(tmp_path / "token")})
    assert outcome.ok
    assert http_server.requests[0][2]["Authorization"] == "Bearer from-a-file"


def test_a_url_from_the_environment_that_is_not_a_url_is_a_config_error() -> None:
    outcome = probe({"url": "${RPC_URL}"}, environ={"RPC_URL": "not a url"})
    assert outcome.error_class is ErrorClass.CONFIG
    assert "not a url" not in outcome.detail  # the resolved value is a secret: scrubbed
