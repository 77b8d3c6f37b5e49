"""The rpc probe against a real Ethereum JSON-RPC node (ganache) and scripted JSON-RPC peers."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from probes.declarations import DeclarationError, parse_declaration
from probes.engine import run_batch
from probes.outcomes import ErrorClass, Outcome, Result
from tests.certificates import self_signed, server_context
from tests.factories import make_job
from tests.ganache import CHAIN_ID, running
from tests.servers import LocalHTTPServer, Route, TLSProxy, unused_port

pytestmark = pytest.mark.no_database


def probe(spec: dict, timeout: float = 5.0, **job: object) -> Outcome:
    one = make_job("rpc", spec, name="node", timeout=timeout, **job)
    [(_, outcome)] = asyncio.run(run_batch([one], environ={"NODE_KEY": "k-0123456789"}))
    return outcome


@pytest.fixture(scope="module")
def ganache() -> Iterator[str]:
    with running(genesis=None) as url:
        yield url


def json_rpc(answers: dict[str, object]) -> Route:
    """A JSON-RPC peer answering each method with a scripted result, error or raw text."""

    def reply(request: bytes) -> bytes:
        call = json.loads(request)
        answer = answers.get(call["method"], {"error": {"code": -32601, "message": "no such"}})
        if isinstance(answer, bytes):
            return answer
        if not (isinstance(answer, dict) and "error" in answer):
            answer = {"result": answer}
        return json.dumps({"jsonrpc": "2.0", "id": call["id"], **answer}).encode()

    return Route(reply=reply)


def fresh_block(number: int = 7, age: float = 2) -> dict:
    return {
        "number": hex(number),
        "hash": "0x" + "ab" * 32,
        "parentHash": "0x" + "cd" * 32,
        "timestamp": hex(int(time.time() - age)),
        "transactions": [],
    }


HEALTHY = {
    "eth_chainId": hex(CHAIN_ID),
    "eth_getBlockByNumber": fresh_block(),
    "eth_syncing": False,
}


class TestAgainstGanache:
    def test_a_healthy_node_is_up_with_its_chain_block_and_sync_state(self, ganache) -> None:
        outcome = probe({"url": ganache, "chain_id": CHAIN_ID, "max_block_age": 3600})
        assert outcome.result is Result.SUCCESS, outcome.detail
        observations = outcome.observations
        assert (observations["chain_id"], observations["syncing"]) == (CHAIN_ID, False)
        assert observations["block_number"] >= 0
        assert 0 <= observations["block_age_seconds"] < 3600
        assert {step.name for step in outcome.steps} == {
            "eth_chainId",
            "eth_getBlockByNumber(latest)",
            "eth_syncing",
        }
        # The slowest call's wait for its answer.
        assert outcome.latency_ms == observations["timings_ms"]["first_byte"]
        assert 0 < outcome.latency_ms <= max(step.ms for step in outcome.steps)
        # Each method's own wait, and the node's software.
        latencies = observations["method_latency_ms"]
        assert set(latencies) == {
            "eth_chainId",
            "eth_getBlockByNumber",
            "eth_syncing",
            "web3_clientVersion",
            "eth_getBlockByNumber(finalized)",
        }
        assert outcome.latency_ms == max(
            latencies[method] for method in ("eth_chainId", "eth_getBlockByNumber", "eth_syncing")
        )
        assert observations["client_version"].startswith("Ganache/")
        # Its head, and its finalized block (ganache finalizes each block as it mines it).
        assert re.fullmatch("0x[0-9a-f]{64}", observations["block_hash"])
        assert isinstance(observations["block_timestamp"], int)
        assert observations["finalized_block"] == observations["block_number"]

    def test_an_archive_read_at_a_past_block_passes_on_an_archive_node(self, ganache) -> None:
        outcome = probe({"url": ganache, "archive_block": 0})
        assert outcome.result is Result.SUCCESS, outcome.detail
        assert "eth_getBalance(block 0)" in {step.name for step in outcome.steps}
        assert "eth_getBalance" in outcome.observations["method_latency_ms"]

    def test_the_same_node_over_websocket(self, ganache) -> None:
        outcome = probe({"url": ganache.replace("http://", "ws://"), "chain_id": CHAIN_ID})
        assert outcome.result is Result.SUCCESS, outcome.detail
        assert outcome.observations["chain_id"] == CHAIN_ID
        assert "tls_cert_not_after" not in outcome.observations

    @pytest.mark.parametrize(
        ("days", "result"), [(30, Result.SUCCESS), (3, Result.DEGRADED)], ids=["fresh", "expiring"]
    )
    def test_over_wss_the_certificate_is_observed_and_warned_of(
        self, ganache, tmp_path, days, result
    ) -> None:
        certificate = self_signed(tmp_path, days=days)
        proxy = TLSProxy(int(ganache.rsplit(":", 1)[1]), server_context(certificate))
        try:
            outcome = probe({"url": proxy.url(), "chain_id": CHAIN_ID}, ca_file=str(certificate))
        finally:
            proxy.stop()
        assert outcome.result is result, outcome.detail
        assert outcome.observations["chain_id"] == CHAIN_ID
        assert outcome.observations["tls_cert_subject"] == "127.0.0.1"
        assert "tls_cert_not_after" in outcome.observations
        if result is Result.DEGRADED:
            [warning] = outcome.warnings
            assert warning.startswith("TLS certificate expires in ")

    def test_over_wss_an_untrusted_certificate_is_a_tls_error(self, ganache, tmp_path) -> None:
        proxy = TLSProxy(int(ganache.rsplit(":", 1)[1]), server_context(self_signed(tmp_path)))
        try:
            outcome = probe({"url": proxy.url()})
        finally:
            proxy.stop()
        assert outcome.error_class is ErrorClass.TLS
        assert outcome.detail.startswith("certificate verify failed: ")

    def test_a_node_on_another_chain_is_down(self, ganache) -> None:
        outcome = probe({"url": ganache, "chain_id": 1})
        assert outcome.error_class is ErrorClass.UNEXPECTED_RESPONSE
        assert outcome.detail == f"chain id {CHAIN_ID}, expected 1: the node serves another network"
        assert outcome.observations["chain_id"] == CHAIN_ID

    def test_a_node_that_mines_nothing_goes_stale(self, ganache) -> None:
        # ganache mines only on transactions: its latest block ages from the start.
        genesis = probe({"url": ganache}).observations["block_age_seconds"]
        time.sleep(max(0.0, 2.5 - genesis))
        outcome = probe({"url": ganache, "max_block_age": 1})
        assert outcome.result is Result.DEGRADED
        [warning] = outcome.warnings
        assert warning.startswith("stale: latest block 0 is ")
        assert warning.endswith(" old, over max_block_age 1s")


class TestBrokenAnswers:
    @pytest.mark.parametrize(
        ("answers", "error_class", "detail"),
        [
            (
                {
                    **HEALTHY,
                    "eth_chainId": {"error": {"code": -32000, "message": "header not found"}},
                },
                ErrorClass.UNEXPECTED_RESPONSE,
                "eth_chainId: JSON-RPC error -32000: header not found",
            ),
            (
                {**HEALTHY, "eth_chainId": b"<html>Bad gateway</html>"},
                ErrorClass.PROTOCOL,
                "eth_chainId: the answer is not JSON: '<html>Bad gateway</html>'",
            ),
            (
                {**HEALTHY, "eth_chainId": b'{"hello": "world"}'},
                ErrorClass.PROTOCOL,
                "eth_chainId: not a JSON-RPC answer",
            ),
            (
                {**HEALTHY, "eth_chainId": {"odd": 1}},
                ErrorClass.UNEXPECTED_RESPONSE,
                'eth_chainId: an answer of the wrong shape: {"odd": 1}',
            ),
            (
                {**HEALTHY, "eth_getBlockByNumber": {"odd": 1}},
                ErrorClass.UNEXPECTED_RESPONSE,
                "eth_getBlockByNumber(latest): an answer of the wrong shape",
            ),
        ],
    )
    def test_a_broken_answer_is_a_classified_failure(
        self, http_server, answers, error_class, detail
    ) -> None:
        http_server.routes["/rpc"] = json_rpc(answers)
        outcome = probe({"url": http_server.url("/rpc")})
        assert outcome.error_class is error_class
        assert outcome.detail.startswith(detail)

    def test_a_pruned_node_fails_the_archive_read_with_its_own_message(self, http_server) -> None:
        pruned = {"code": -32000, "message": "missing trie node 9a8b7c (path ) state 0x9a8b7c"}
        http_server.routes["/rpc"] = json_rpc({**HEALTHY, "eth_getBalance": {"error": pruned}})
        outcome = probe({"url": http_server.url("/rpc"), "archive_block": 1_000_000})
        assert outcome.error_class is ErrorClass.UNEXPECTED_RESPONSE
        assert outcome.detail == (
            "eth_getBalance(block 1000000): JSON-RPC error -32000: missing trie node 9a8b7c "
            "(path ) state 0x9a8b7c"
        )

    def test_a_node_that_will_not_say_its_version_is_no_less_healthy(self, http_server) -> None:
        http_server.routes["/rpc"] = json_rpc(HEALTHY)  # web3_clientVersion: method not found
        outcome = probe({"url": http_server.url("/rpc")})
        assert outcome.result is Result.SUCCESS, outcome.detail
        assert "client_version" not in outcome.observations

    def test_the_version_is_observed_shortened(self, http_server) -> None:
        version = "Geth/v1.14.11-stable-f3c696fa/linux-amd64/go1.23.2" + "x" * 300
        http_server.routes["/rpc"] = json_rpc({**HEALTHY, "web3_clientVersion": version})
        outcome = probe({"url": http_server.url("/rpc")})
        observed = outcome.observations["client_version"]
        assert observed.startswith("Geth/v1.14.11-stable-f3c696fa/linux-amd64/go1.23.2")
        assert len(observed) <= 120

    def test_a_syncing_node_is_degraded(self, http_server) -> None:
        syncing = {"startingBlock": "0x0", "currentBlock": "0x10", "highestBlock": "0x20"}
        http_server.routes["/rpc"] = json_rpc({**HEALTHY, "eth_syncing": syncing})
        outcome = probe({"url": http_server.url("/rpc")})
        assert outcome.result is Result.DEGRADED
        assert outcome.warnings == ("the node is syncing (block 16 of 32)",)
        assert outcome.observations["syncing"] is True

    @pytest.mark.parametrize(
        ("status", "error_class"), [(401, ErrorClass.AUTH), (503, ErrorClass.UNEXPECTED_STATUS)]
    )
    def test_an_http_error_is_classified(self, http_server, status, error_class) -> None:
        http_server.routes["/rpc"] = Route(status=status, body=b"no")
        outcome = probe({"url": http_server.url("/rpc")})
        assert outcome.error_class is error_class
        assert f"HTTP {status}" in outcome.detail

    def test_headers_with_placeholders_reach_the_node(self, http_server) -> None:
        http_server.routes["/rpc"] = json_rpc(HEALTHY)
        assert probe({"url": http_server.url("/rpc"), "headers": {"X-Api-Key": "${NODE_KEY}"}}).ok
        assert {headers["X-Api-Key"] for _, _, headers in http_server.requests} == {"k-0123456789"}

    def test_over_https_the_certificate_is_observed(self, tls_certificate) -> None:
        server = LocalHTTPServer(ssl_context=server_context(tls_certificate)).start()
        server.routes["/rpc"] = json_rpc(HEALTHY)
        try:
            outcome = probe({"url": server.url("/rpc")}, ca_file=str(tls_certificate))
        finally:
            server.stop()
        assert outcome.ok, outcome.detail
        assert outcome.observations["tls_cert_subject"] == "127.0.0.1"
        assert "tls_cert_not_after" in outcome.observations


@pytest.mark.parametrize(
    ("route", "error_class", "detail"),
    [
        (
            Route(200, b"<html>a page</html>", headers={"Content-Type": "text/html"}),
            ErrorClass.PROTOCOL,
            "websocket handshake: HTTP 200 OK instead of 101: not a WebSocket endpoint",
        ),
        (
            Route(404, b"not found"),
            ErrorClass.UNEXPECTED_STATUS,
            "websocket handshake: HTTP 404 Not Found instead of 101: not a WebSocket endpoint",
        ),
        (
            Route(401, b"who are you"),
            ErrorClass.AUTH,
            "websocket handshake: HTTP 401 Unauthorized instead of 101: not a WebSocket endpoint",
        ),
    ],
    ids=["page", "404", "401"],
)
def test_ws_to_an_http_server_says_what_it_answered(
    http_server, route, error_class, detail
) -> None:
    http_server.routes["/rpc"] = route
    outcome = probe({"url": http_server.url("/rpc").replace("http://", "ws://")})
    assert (outcome.error_class, outcome.detail) == (error_class, detail)


def test_a_port_where_nothing_listens_is_a_connect_error() -> None:
    outcome = probe({"url": f"http://127.0.0.1:{unused_port()}"})
    assert (outcome.error_class, outcome.detail) == (ErrorClass.CONNECT, "connection refused")


@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_a_node_that_never_answers_is_a_timeout_at_the_deadline(hanging_server, scheme) -> None:
    started = time.monotonic()
    outcome = probe({"url": hanging_server.url("/", scheme=scheme)}, timeout=0.5)
    assert outcome.error_class is ErrorClass.TIMEOUT
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ("url: 'ftp://node'", "url: 'ftp://node' is not an http://, https://, ws:// or wss:// URL"),
        ("url: 'https://n/v3/x?apikey=abc'", "url: the query parameter 'apikey' must not be"),
        ("url: 'https://n', chain_id: 0", "chain_id: must be at least 1"),
        ("url: 'https://n', chain_id: mainnet", "chain_id: expected an integer"),
        ("url: 'https://n', max_block_age: old", "max_block_age: 'old' is not a duration"),
        ("url: 'https://n', archive_block: -1", "archive_block: must be at least 0"),
        ("url: 'https://n', archive_block: latest", "archive_block: expected an integer"),
    ],
)
def test_a_bad_declaration_names_the_field(fields, problem) -> None:
    text = f"dependencies:\n  - {{name: node, kind: rpc, {fields}}}\n"
    with pytest.raises(DeclarationError) as refused:
        parse_declaration(text, "deps.yaml")
    problems = [f"{p.field}: {p.message}" for p in refused.value.problems]
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize("scheme", ["ws", "http"])
def test_the_resolved_url_reaches_no_log_and_no_detail(caplog, scheme) -> None:
    url = f"{scheme}://127.0.0.1:{unused_port()}/v3/${{NODE_KEY}}"
    with caplog.at_level(logging.DEBUG):
        outcome = probe({"url": url})
    assert outcome.error_class is ErrorClass.CONNECT
    assert "k-0123456789" not in caplog.text
    assert "k-0123456789" not in outcome.detail


def test_web3_is_loaded_only_by_a_batch_with_an_rpc_probe() -> None:
    # Every process loads the registry; only a prober that probes a node pays for web3.
    script = (
        "import sys, django; django.setup(); import probes.kinds, probes.engine; "
        "print('web3' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "seahealth.settings"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False"
