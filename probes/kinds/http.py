"""HTTP(S) endpoints: a request, an expected status."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx

from probes.classify import classify_network_error
from probes.context import ProbeContext
from probes.fields import Fields
from probes.outcomes import ErrorClass, Outcome, ProbeError
from probes.placeholders import PLACEHOLDER
from probes.redaction import is_secret_name, literal_secrets_in_url, redact_url

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_HTTP_URL = re.compile(r"https?://[^/\s]+(/\S*)?", re.IGNORECASE)


@dataclass(frozen=True)
class Spec:
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    expect_status: list[int] | None = None  # None: any 2xx


def parse(fields: Fields) -> Spec:
    url = fields.string("url")
    if isinstance(url, str):
        _check_url(fields, url)
    headers = fields.string_map("headers", {}) or {}
    for name, value in headers.items():
        if is_secret_name(name) and not PLACEHOLDER.search(value):
            fields.problem(
                "headers",
                f"header '{name}' holds a literal credential: write it as ${{VAR}} "
                "and set VAR in the environment, so it never reaches the database",
            )
    expect_status = fields.integers("expect_status", None)
    for status in expect_status or ():
        if not 100 <= status <= 599:
            fields.problem("expect_status", f"{status} is not an HTTP status code (100-599)")
    return Spec(
        url=url,
        method=fields.string("method", "GET", choices=METHODS),
        headers=headers,
        expect_status=expect_status,
    )


def _check_url(fields: Fields, url: str) -> None:
    # A URL that starts from the environment (${RPC_URL}/v1) is checked when it is probed.
    if not url.startswith("${") and not _HTTP_URL.fullmatch(url):
        fields.problem("url", f"{url!r} is not an http:// or https:// URL")
    for secret in literal_secrets_in_url(url):
        fields.problem(
            "url",
            f"{secret} must not be written out: use ${{VAR}}, so it never reaches the database",
        )


def describe(spec: Spec) -> str:
    return f"{spec.method} {redact_url(spec.url)}"


def expected(spec: Spec, status: int) -> bool:
    if spec.expect_status is None:
        return 200 <= status < 300
    return status in spec.expect_status


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    try:
        # Streamed, and the body left unread: the status is the answer, and a huge body
        # must not cost memory.
        async with ctx.http.stream(spec.method, spec.url, headers=spec.headers) as response:
            observations = {"status_code": response.status_code}
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise ProbeError(ErrorClass.CONFIG, f"bad URL: {exc}") from exc
    except httpx.HTTPError as exc:
        raise classify_httpx_error(exc) from exc
    if not expected(spec, response.status_code):
        wanted = ", ".join(map(str, spec.expect_status)) if spec.expect_status else "2xx"
        status = f"{response.status_code} {response.reason_phrase}".strip()
        raise ProbeError(
            ErrorClass.UNEXPECTED_STATUS, f"HTTP {status}, expected {wanted}", observations
        )
    return Outcome(observations=observations)


def classify_httpx_error(exc: httpx.HTTPError) -> ProbeError:
    if isinstance(exc, httpx.TimeoutException):
        return ProbeError(ErrorClass.TIMEOUT, str(exc) or type(exc).__name__)
    found = classify_network_error(exc)
    if found is not None:
        return found
    # A protocol error, or a connection closed without a reason (a TLS handshake cut short).
    detail = str(exc) or f"{type(exc).__name__}: connection closed"
    if isinstance(exc, httpx.ConnectError | httpx.ProxyError):
        return ProbeError(ErrorClass.CONNECT, detail)
    return ProbeError(ErrorClass.PROTOCOL, detail)
