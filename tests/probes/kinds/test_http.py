"""The HTTP probe against real servers on loopback, run as the prober runs it (the engine)."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, datetime, timedelta

import pytest

from probes.declarations import parse_declaration
from probes.engine import run_batch
from probes.outcomes import ErrorClass, Outcome, Result
from tests.certificates import self_signed, server_context
from tests.conftest import entry_problems
from tests.factories import make_job
from tests.servers import LocalHTTPServer, Route, unused_port

pytestmark = pytest.mark.no_database


def probe(spec: dict, timeout: float = 2.0, environ: dict | None = None, **job: object) -> Outcome:
    one = make_job("http", spec, name="api", timeout=timeout, **job)
    [(_, outcome)] = asyncio.run(run_batch([one], environ=environ or {}))
    return outcome


def test_a_200_is_up_with_its_status_code_latency_and_timings(http_server) -> None:
    outcome = probe({"url": http_server.url()})
    assert outcome.result is Result.SUCCESS
    assert outcome.observations["status_code"] == 200
    assert set(outcome.observations["timings_ms"]) == {"connect", "first_byte"}
    assert "tls_version" not in outcome.observations  # plain HTTP
    assert 0 < outcome.latency_ms < 2000
    assert outcome.checked_at is not None
    assert [step.name for step in outcome.steps] == [
        "connect",
        "send the request",
        "wait for the answer",
    ]


@pytest.mark.parametrize(
    ("status", "expect_status", "error_class", "detail"),
    [
        (204, None, None, ""),
        (503, None, ErrorClass.UNEXPECTED_STATUS, "HTTP 503 Service Unavailable, expected 2xx"),
        (302, None, ErrorClass.UNEXPECTED_STATUS, "HTTP 302 Found, expected 2xx"),
        (200, [204], ErrorClass.UNEXPECTED_STATUS, "HTTP 200 OK, expected 204"),
        (401, None, ErrorClass.AUTH, "HTTP 401 Unauthorized, expected 2xx"),
        (403, [200], ErrorClass.AUTH, "HTTP 403 Forbidden, expected 200"),
        (401, [200, 401], None, ""),
    ],
)
def test_expected_statuses(http_server, status, expect_status, error_class, detail) -> None:
    http_server.routes["/health"] = Route(status=status)
    outcome = probe({"url": http_server.url(), "expect_status": expect_status})
    assert (outcome.error_class, outcome.detail) == (error_class, detail)
    assert outcome.observations["status_code"] == status
    if error_class:
        assert outcome.latency_ms is None


def test_a_response_slower_than_the_timeout_is_a_timeout_that_ends_at_the_deadline(
    http_server,
) -> None:
    http_server.routes["/health"] = Route(delay=10)
    started = time.monotonic()
    outcome = probe({"url": http_server.url()}, timeout=0.5)
    elapsed = time.monotonic() - started
    assert outcome.error_class is ErrorClass.TIMEOUT
    assert outcome.detail == "no answer within 500ms (wait for the answer)"
    # The deadline was honoured: nowhere near the server's 10 s (a wide margin for slow hosts).
    assert elapsed < 3


def test_a_peer_that_accepts_and_never_answers_is_a_timeout(hanging_server) -> None:
    started = time.monotonic()
    outcome = probe({"url": hanging_server.url()}, timeout=0.5)
    assert outcome.error_class is ErrorClass.TIMEOUT
    assert time.monotonic() - started < 3


def test_slower_than_max_latency_is_degraded(http_server) -> None:
    http_server.routes["/health"] = Route(delay=0.3)
    outcome = probe({"url": http_server.url()}, max_latency=0.1)
    assert outcome.result is Result.DEGRADED
    [warning] = outcome.warnings
    assert warning.startswith("slow: answered in ")
    assert warning.endswith(" ms, over max_latency 100ms")


def test_the_latency_is_the_wait_for_the_answer_not_the_connect(http_server) -> None:
    http_server.routes["/health"] = Route(delay=0.2)
    outcome = probe({"url": http_server.url()})
    timings = outcome.observations["timings_ms"]
    assert outcome.latency_ms == timings["first_byte"]
    assert outcome.latency_ms >= 200
    # The connect is its own timing, not part of the latency.
    assert outcome.latency_ms < sum(step.ms for step in outcome.steps)


def test_connection_refused_is_a_connect_error() -> None:
    outcome = probe({"url": f"http://127.0.0.1:{unused_port()}/health"})
    assert outcome.error_class is ErrorClass.CONNECT
    assert outcome.detail == "connection refused"
    assert outcome.error == "connect: connection refused"


def test_a_name_that_does_not_resolve_is_a_dns_error() -> None:
    # .invalid never resolves (RFC 6761), with or without a network.
    outcome = probe({"url": "http://seahealth-test.invalid/health"}, timeout=5)
    assert outcome.error_class is ErrorClass.DNS
    assert outcome.detail.startswith("cannot resolve host")


class TestTLS:
    def test_a_self_signed_certificate_is_a_tls_error(self, https_server) -> None:
        outcome = probe({"url": https_server.url()})
        assert outcome.error_class is ErrorClass.TLS
        assert outcome.detail == "certificate verify failed: self-signed certificate"

    def test_speaking_tls_to_a_plain_http_server_is_a_tls_error(self, http_server) -> None:
        outcome = probe({"url": http_server.url().replace("http://", "https://")})
        assert outcome.error_class is ErrorClass.TLS

    @staticmethod
    def serve(tmp_path, days: int) -> tuple[LocalHTTPServer, str]:
        certificate = self_signed(tmp_path, days=days)
        return LocalHTTPServer(ssl_context=server_context(certificate)).start(), str(certificate)

    def test_a_certificate_trusted_through_ca_file_is_up_with_its_expiry(self, tmp_path) -> None:
        server, ca_file = self.serve(tmp_path, days=90)
        try:
            outcome = probe({"url": server.url()}, ca_file=ca_file)
        finally:
            server.stop()
        assert outcome.result is Result.SUCCESS
        observations = outcome.observations
        assert observations["tls_version"] in {"TLSv1.2", "TLSv1.3"}
        assert observations["tls_cert_subject"] == "127.0.0.1"
        expires = datetime.strptime(observations["tls_cert_not_after"], "%Y-%m-%dT%H:%M:%SZ")
        days_left = expires.replace(tzinfo=UTC) - datetime.now(UTC)
        assert timedelta(days=89) < days_left <= timedelta(days=90)
        assert set(observations["timings_ms"]) == {"connect", "tls", "first_byte"}
        assert "TLS handshake" in [step.name for step in outcome.steps]

    def test_a_certificate_close_to_expiry_is_degraded(self, tmp_path) -> None:
        server, ca_file = self.serve(tmp_path, days=3)
        try:
            outcome = probe({"url": server.url()}, ca_file=ca_file, cert_expiry_warn=14 * 86400)
        finally:
            server.stop()
        assert outcome.result is Result.DEGRADED
        [warning] = outcome.warnings
        assert warning.startswith("TLS certificate expires in 3 days (")

    def test_an_expired_certificate_is_a_tls_error(self, tmp_path) -> None:
        server, ca_file = self.serve(tmp_path, days=-2)
        try:
            outcome = probe({"url": server.url()}, ca_file=ca_file)
        finally:
            server.stop()
        assert outcome.error_class is ErrorClass.TLS
        assert outcome.detail == "certificate verify failed: certificate has expired"

    def test_a_missing_ca_file_is_a_config_error(self, https_server, tmp_path) -> None:
        outcome = probe({"url": https_server.url()}, ca_file=str(tmp_path / "missing.pem"))
        assert outcome.error_class is ErrorClass.CONFIG
        assert outcome.detail.startswith(f"ca_file {tmp_path / 'missing.pem'}: ")


class TestBody:
    @pytest.mark.parametrize(
        ("body", "expect_body", "ok", "detail"),
        [
            (b'{"status": "ok"}', '"ok"', True, ""),
            (b"all good", "bad", False, "the body does not contain 'bad'"),
        ],
    )
    def test_expect_body(self, http_server, body, expect_body, ok, detail) -> None:
        http_server.routes["/health"] = Route(body=body)
        outcome = probe({"url": http_server.url(), "expect_body": expect_body})
        assert (outcome.ok, outcome.detail) == (ok, detail)
        if not ok:
            assert outcome.error_class is ErrorClass.UNEXPECTED_RESPONSE

    @pytest.mark.parametrize(
        ("expect_json", "detail"),
        [
            ({"status": "ok", "checks.db.up": True, "version": 2}, ""),
            ({"checks.db.latency": 1.5, "nodes.1.name": "b"}, ""),
            ({"status": "degraded"}, 'JSON status is "ok", expected "degraded"'),
            ({"checks.db.up": 1}, "JSON checks.db.up is true, expected 1"),
            ({"checks.cache.up": True}, "JSON has no checks.cache.up"),
            ({"nodes.5.name": "b"}, "JSON has no nodes.5.name"),
        ],
    )
    def test_expect_json(self, http_server, expect_json, detail) -> None:
        http_server.routes["/health"] = Route(
            body=b'{"status": "ok", "version": 2.0, "checks": {"db": {"up": true, '
            b'"latency": 1.5}}, "nodes": [{"name": "a"}, {"name": "b"}]}'
        )
        outcome = probe({"url": http_server.url(), "expect_json": expect_json})
        assert outcome.detail == detail
        assert outcome.ok is (detail == "")

    def test_a_body_that_is_not_json_fails_expect_json(self, http_server) -> None:
        http_server.routes["/health"] = Route(body=b"<html>maintenance</html>")
        outcome = probe({"url": http_server.url(), "expect_json": {"status": "ok"}})
        assert outcome.error_class is ErrorClass.UNEXPECTED_RESPONSE
        assert outcome.detail == "the body is not JSON: '<html>maintenance</html>'"

    def test_no_more_than_max_body_size_is_read(self, http_server) -> None:
        http_server.routes["/health"] = Route(body=b"x" * 5_000_000 + b"needle")
        outcome = probe(
            {"url": http_server.url(), "expect_body": "needle", "max_body_size": 1024}, timeout=5
        )
        assert outcome.detail == "the first 1024 bytes of the body does not contain 'needle'"
        json_outcome = probe(
            {"url": http_server.url(), "expect_json": {"a": 1}, "max_body_size": 1024}, timeout=5
        )
        assert "larger than max_body_size (1024 bytes)" in json_outcome.detail

    def test_the_body_is_not_read_unless_it_is_checked(self, http_server) -> None:
        http_server.routes["/health"] = Route(body=b"x" * 5_000_000)
        outcome = probe({"url": http_server.url(), "max_body_size": 1024})
        assert outcome.ok
        assert "read the body" not in [step.name for step in outcome.steps]


class TestRequest:
    def test_method_headers_and_body_are_sent_with_placeholders_resolved(self, http_server) -> None:
        spec = {
            "url": http_server.url(),
            "method": "POST",
            "headers": {"X-Api-Key": "${API_KEY}", "X-Team": "payments"},
            "body": '{"query": "{ health }"}',
        }
        outcome = probe(spec, environ={"API_KEY": "s3cret-value"})
        assert outcome.ok
        [(method, path, headers)] = http_server.requests
        assert (method, path) == ("POST", "/health")
        assert headers["X-Api-Key"] == "s3cret-value"
        assert headers["X-Team"] == "payments"
        assert headers["Content-Length"] == str(len(spec["body"]))
        assert headers["User-Agent"].startswith("seahealth/")

    def test_basic_auth(self, http_server) -> None:
        spec = {
            "url": http_server.url(),
            "basic_auth": {"username": "monitor", "password": "${API_PASSWORD}"},
        }
        assert probe(spec, environ={"API_PASSWORD": "pa55-word"}).ok
        expected = base64.b64encode(b"monitor:pa55-word").decode()
        assert http_server.requests[0][2]["Authorization"] == f"Basic {expected}"

    def test_bearer_token(self, http_server) -> None:
        spec = {"url": http_server.url(), "bearer_token": "${API_TOKEN}"}
        assert probe(spec, environ={"API_TOKEN": "tok-123456"}).ok
        assert http_server.requests[0][2]["Authorization"] == "Bearer tok-123456"

    def test_redirects_are_followed_only_when_asked(self, http_server) -> None:
        http_server.routes["/old"] = Route(status=302, headers={"Location": "/health"})
        assert probe({"url": http_server.url("/old")}).error_class is ErrorClass.UNEXPECTED_STATUS
        followed = probe({"url": http_server.url("/old"), "follow_redirects": True})
        assert followed.ok
        assert (followed.observations["status_code"], followed.observations["redirects"]) == (
            200,
            1,
        )

    def test_a_redirect_loop_is_a_protocol_error(self, http_server) -> None:
        http_server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
        outcome = probe({"url": http_server.url("/loop"), "follow_redirects": True})
        assert (outcome.error_class, outcome.detail) == (
            ErrorClass.PROTOCOL,
            "more than 5 redirects",
        )

    def test_an_unset_variable_is_a_config_error_naming_it_and_nothing_is_sent(
        self, http_server
    ) -> None:
        spec = {"url": http_server.url(), "bearer_token": "${API_TOKEN}"}
        outcome = probe(spec, environ={})
        assert outcome.error_class is ErrorClass.CONFIG
        assert "API_TOKEN" in outcome.detail
        assert http_server.requests == []

    def test_a_variable_can_come_from_a_file(self, http_server, tmp_path) -> None:
        (tmp_path / "token").write_text("from-a-file\n")
        spec = {"url": http_server.url(), "bearer_token": "${API_TOKEN}"}
        outcome = probe(spec, environ={"API_TOKEN_FILE": str(tmp_path / "token")})
        assert outcome.ok
        assert http_server.requests[0][2]["Authorization"] == "Bearer from-a-file"

    def test_a_url_from_the_environment_that_is_not_a_url_is_a_config_error(self) -> None:
        outcome = probe({"url": "${RPC_URL}"}, environ={"RPC_URL": "not a url"})
        assert outcome.error_class is ErrorClass.CONFIG
        assert "not a url" not in outcome.detail  # the resolved value is a secret: scrubbed


class TestDeclaration:
    @staticmethod
    def parse(fields: str) -> list[str]:
        return entry_problems(f"name: api, kind: http, url: 'https://x.example/h', {fields}")

    def test_every_field_read(self) -> None:
        text = """
dependencies:
  - name: api
    kind: http
    url: https://x.example/h
    method: POST
    body: '{}'
    expect_body: ok
    expect_json: {status: ok, checks.db.up: true}
    basic_auth: {username: monitor, password: "${PW}"}
    follow_redirects: true
    max_body_size: 64KiB
    max_latency: 800ms
    ca_file: /etc/ssl/internal-ca.pem
    cert_expiry_warn: 30d
"""
        [spec] = parse_declaration(text, "deps.yaml")
        assert spec.target.expect_json == {"status": "ok", "checks.db.up": True}
        assert spec.target.basic_auth == {"username": "monitor", "password": "${PW}"}
        assert (spec.target.max_body_size, spec.target.follow_redirects) == (65536, True)
        assert (spec.max_latency, spec.ca_file, spec.cert_expiry_warn) == (
            0.8,
            "/etc/ssl/internal-ca.pem",
            30 * 86400,
        )

    @pytest.mark.parametrize(
        ("fields", "problem"),
        [
            ("bearer_token: abc123", "bearer_token: holds a credential written out"),
            (
                "basic_auth: {username: u, password: hunter2}",
                "password: holds a credential written out",
            ),
            ("basic_auth: {username: u}", "password: required"),
            (
                "bearer_token: '${T}', basic_auth: {username: u, password: '${P}'}",
                "bearer_token: basic_auth and bearer_token together: choose one",
            ),
            (
                "bearer_token: '${T}', headers: {Authorization: '${A}'}",
                "headers: an Authorization header as well as basic_auth/bearer_token",
            ),
            ("expect_json: [status]", "expect_json: expected a mapping of dotted paths"),
            ("expect_json: {status: {a: 1}}", "expect_json: expected values are strings"),
            ("max_body_size: lots", "max_body_size: 'lots' is not a size"),
            ("max_latency: 10s", "max_latency: must be shorter than the timeout"),
            ("follow_redirects: sometimes", "follow_redirects: expected true or false"),
        ],
    )
    def test_refuses(self, fields, problem) -> None:
        problems = self.parse(fields)
        assert any(p.startswith(problem) for p in problems), problems
