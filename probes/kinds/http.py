"""HTTP(S) endpoints: a request, and what the answer must be (status, body, JSON)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from probes.context import ProbeContext
from probes.fields import LONGEST_LIST, Fields, text_problem
from probes.http_peers import (
    HTTPX_ERRORS,
    check_url,
    classify_httpx_error,
    excerpt_body,
    read_headers,
    read_limited,
    refusal,
    tls_observations,
)
from probes.http_peers import (
    speaks_tls as url_speaks_tls,
)
from probes.json_values import ABSENT, DOTTED_PATH, json_path
from probes.outcomes import ErrorClass, Outcome, ProbeError, Step
from probes.redaction import redact_url

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
LONGEST_BODY = 64 * 1024
LONGEST_JSON_PATH = 200
DEFAULT_MAX_BODY_SIZE = 1024 * 1024
MAX_REDIRECTS = 5


@dataclass(frozen=True, kw_only=True)
class Spec:
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    expect_status: list[int] | None = None  # None: any 2xx
    expect_body: str | None = None  # a substring of the body
    expect_json: dict[str, Any] | None = None  # dotted path -> expected value
    basic_auth: dict[str, str] | None = None  # username, password
    bearer_token: str | None = None
    follow_redirects: bool = False
    max_body_size: int = DEFAULT_MAX_BODY_SIZE  # bytes read at most


def parse(fields: Fields) -> Spec:
    url = check_url(fields, "url", ("http", "https"))
    headers = read_headers(fields)
    expect_status = fields.integers(
        "expect_status",
        None,
        minimum=100,
        maximum=599,
        out_of_range="is not an HTTP status code (100-599)",
    )
    basic_auth = None
    section = fields.section("basic_auth") if "basic_auth" in fields.data else None
    if section is not None:
        basic_auth = {
            "username": section.string("username"),
            "password": section.secret("password"),
        }
        section.reject_unread()
    bearer_token = fields.secret("bearer_token", None)
    if (basic_auth or bearer_token) and any(n.lower() == "authorization" for n in headers):
        fields.problem("headers", "an Authorization header as well as basic_auth/bearer_token")
    if basic_auth and bearer_token:
        fields.problem("bearer_token", "basic_auth and bearer_token together: choose one")
    return Spec(
        url=url,
        method=fields.string("method", "GET", choices=METHODS),
        headers=headers,
        body=fields.string("body", None, longest=LONGEST_BODY, lines=True),
        expect_status=expect_status,
        expect_body=fields.string("expect_body", None, lines=True),
        expect_json=_read_expect_json(fields),
        basic_auth=basic_auth,
        bearer_token=bearer_token,
        follow_redirects=fields.boolean("follow_redirects", False),
        max_body_size=fields.size("max_body_size", DEFAULT_MAX_BODY_SIZE),
    )


def _read_expect_json(fields: Fields) -> dict[str, Any] | None:
    expect_json = fields.value("expect_json", None)
    if expect_json is None:
        return None
    if not isinstance(expect_json, dict) or not all(
        isinstance(path, str)
        and not text_problem(path, LONGEST_JSON_PATH)
        and DOTTED_PATH.fullmatch(path)
        for path in expect_json
    ):
        fields.problem("expect_json", "expected a mapping of dotted paths to values (status: ok)")
        return None
    if len(expect_json) > LONGEST_LIST:
        fields.problem("expect_json", f"names more than {LONGEST_LIST} paths")
        return None
    for path, value in expect_json.items():
        if value is not None and not isinstance(value, str | int | float):
            fields.problem(
                "expect_json", "expected values are strings, numbers, true, false or null"
            )
            return None
        problem = _json_value_problem(value)
        if problem:
            fields.problem("expect_json", f"the value of {path} {problem}")
            return None
    return dict(expect_json)


def _json_value_problem(value: str | float | None) -> str | None:
    """Why a scalar cannot be an expected JSON value, or None."""
    if isinstance(value, str):
        return text_problem(value, lines=True)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if -(2**63) <= value < 2**63 else "is a number too large to compare"
    return None if math.isfinite(value) else "is not a finite number"


def describe(spec: Spec) -> str:
    return f"{spec.method} {redact_url(spec.url)}"


def speaks_tls(spec: Spec) -> bool | None:
    return url_speaks_tls(spec.url, ("https",))


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    headers = dict(spec.headers)
    if spec.bearer_token:
        headers["Authorization"] = f"Bearer {spec.bearer_token}"
    reads_body = spec.expect_body is not None or spec.expect_json is not None
    if reads_body:
        # Compressed bodies could inflate past max_body_size in one chunk.
        headers.setdefault("Accept-Encoding", "identity")
    auth = None
    if spec.basic_auth:
        auth = httpx.BasicAuth(spec.basic_auth["username"], spec.basic_auth["password"])
    phases = Phases(ctx)
    try:
        async with ctx.http.stream(
            spec.method,
            spec.url,
            headers=headers,
            content=spec.body,
            auth=auth,
            follow_redirects=spec.follow_redirects,
            extensions={"trace": phases.trace},
        ) as response:
            observations = answer_observations(response)
            body, truncated = b"", False
            if reads_body:
                with ctx.step("read the body"):
                    body, truncated = await read_limited(response, spec.max_body_size)
    except httpx.TooManyRedirects as exc:
        raise ProbeError(ErrorClass.PROTOCOL, f"more than {MAX_REDIRECTS} redirects") from exc
    except HTTPX_ERRORS as exc:
        raise classify_httpx_error(exc) from exc
    finally:
        phases.close()
    observations["timings_ms"] = phases.timings
    _check_status(spec, response, observations)
    if spec.expect_body is not None:
        _check_body(spec, body, truncated, observations)
    if spec.expect_json is not None:
        _check_json(spec, body, truncated, observations)
    # The peer's latency: from the request sent to the answer's headers.
    return Outcome(observations=observations, latency_ms=phases.timings.get("first_byte"))


def answer_observations(response: httpx.Response) -> dict[str, Any]:
    observations: dict[str, Any] = {"status_code": response.status_code}
    if response.history:
        observations["redirects"] = len(response.history)
    observations.update(tls_observations(response))
    return observations


def _check_status(spec: Spec, response: httpx.Response, observations: dict[str, Any]) -> None:
    code = response.status_code
    if code in spec.expect_status if spec.expect_status else 200 <= code < 300:
        return
    wanted = ", ".join(map(str, spec.expect_status)) if spec.expect_status else "2xx"
    status = f"{code} {response.reason_phrase}".strip()
    raise refusal(code, f"HTTP {status}, expected {wanted}", response.headers, observations)


def _check_body(spec: Spec, body: bytes, truncated: bool, observations: dict[str, Any]) -> None:
    if spec.expect_body in body.decode("utf-8", errors="replace"):
        return
    where = f"the first {spec.max_body_size} bytes of the body" if truncated else "the body"
    raise ProbeError(
        ErrorClass.UNEXPECTED_RESPONSE,
        f"{where} does not contain {spec.expect_body!r}",
        observations,
    )


def _check_json(spec: Spec, body: bytes, truncated: bool, observations: dict[str, Any]) -> None:
    if truncated:
        raise ProbeError(
            ErrorClass.UNEXPECTED_RESPONSE,
            f"the body is larger than max_body_size ({spec.max_body_size} bytes): JSON not checked",
            observations,
        )
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ProbeError(
            ErrorClass.UNEXPECTED_RESPONSE,
            f"the body is not JSON: {excerpt_body(body)}",
            observations,
        ) from exc
    for path, wanted in (spec.expect_json or {}).items():
        found = json_path(document, path)
        if found is ABSENT:
            detail = f"JSON has no {path}"
        elif _same(found, wanted):
            continue
        else:
            detail = f"JSON {path} is {json.dumps(found)}, expected {json.dumps(wanted)}"
        raise ProbeError(ErrorClass.UNEXPECTED_RESPONSE, detail, observations)


def _same(found: Any, wanted: Any) -> bool:
    """JSON equality: 1 and 1.0 are the same, true and 1 are not."""
    if isinstance(found, bool) or isinstance(wanted, bool):
        return found is wanted
    return found == wanted


class Phases:
    """httpx's trace events, as the probe's steps and as timings per phase."""

    NAMES = {
        "connection.connect_tcp": ("connect", "connect"),
        "connection.start_tls": ("TLS handshake", "tls"),
        "http11.send_request_headers": ("send the request", None),
        "http11.receive_response_headers": ("wait for the answer", "first_byte"),
    }

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.timings: dict[str, float] = {}
        self._open: dict[str, float] = {}
        self._request_started: float | None = None

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        phase, _, stage = event.rpartition(".")
        if phase not in self.NAMES:
            return
        now = time.perf_counter()
        if stage == "started":
            self._open[phase] = now
            if phase == "http11.send_request_headers":
                self._request_started = now
        elif phase in self._open:
            self._finish(phase, now, ok=stage == "complete")

    def _finish(self, phase: str, now: float, ok: bool) -> None:
        step, timing = self.NAMES[phase]
        started = self._open.pop(phase)
        self.ctx.steps.append(Step(step, (now - started) * 1000, ok))
        if timing == "first_byte" and self._request_started is not None:
            # Time to first byte: from sending the request to the answer's headers.
            self.timings[timing] = round((now - self._request_started) * 1000, 3)
        elif timing:
            self.timings[timing] = round((now - started) * 1000, 3)

    def close(self) -> None:
        """A phase still open when the probe ended (a deadline, an error) failed there."""
        now = time.perf_counter()
        for phase in list(self._open):
            self._finish(phase, now, ok=False)
