"""What every kind that speaks HTTP shares (http, rpc over HTTP, s3): reading a URL and
headers from a declaration, a bounded read of a body and an excerpt of it, the
classification of httpx's errors and of a refusing status, and the certificate of the
connection an answer came on."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from probes import tls
from probes.classify import classify_network_error
from probes.excerpts import excerpt
from probes.fields import WRITE_AS_PLACEHOLDER, Fields
from probes.outcomes import ErrorClass, ProbeError
from probes.placeholders import begins_with_placeholder, holds_placeholder
from probes.redaction import is_secret_name, literal_secrets_in_url

LONGEST_URL = 4096
LONGEST_HEADER = 8192  # what most servers take on one header line
_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://[^/\s]+(/\S*)?", re.IGNORECASE)
# Errors of httpx's that a request may raise: its own, and a URL it cannot even parse.
HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL)


def check_url(fields: Fields, name: str, schemes: tuple[str, ...], required: bool = True) -> Any:
    """A URL field: one of `schemes`, or from the environment; never a written-out secret."""
    url = fields.string(name, *(() if required else (None,)), longest=LONGEST_URL)
    if not isinstance(url, str):
        return url
    match = _URL.fullmatch(url)
    # A URL that starts from the environment (${RPC_URL}/v1) is checked when it is probed.
    if not begins_with_placeholder(url) and not (match and match["scheme"].lower() in schemes):
        *others, last = [f"{scheme}://" for scheme in schemes]
        wanted = f"{', '.join(others)} or {last}" if others else last
        fields.problem(name, f"{excerpt(url)} is not an {wanted} URL")
    for secret in literal_secrets_in_url(url):
        fields.problem(name, f"{secret} must not be written out: {WRITE_AS_PLACEHOLDER}")
    return url


def speaks_tls(url: str | None, schemes: tuple[str, ...] = ("https", "wss")) -> bool | None:
    """Whether a declared URL speaks TLS; None when the environment will tell."""
    if url is None or begins_with_placeholder(url):
        return None
    return url.lower().startswith(tuple(f"{scheme}://" for scheme in schemes))


def read_headers(fields: Fields) -> dict[str, str]:
    headers = fields.string_map("headers", {}, longest=LONGEST_HEADER) or {}
    for name, value in headers.items():
        if is_secret_name(name) and not holds_placeholder(value):
            fields.problem("headers", f"header '{name}' {WRITE_AS_PLACEHOLDER}")
    return headers


async def read_limited(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body, and whether there was more."""
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False


def excerpt_body(body: bytes, length: int = 60) -> str:
    """The body's beginning, quoted; `...` marks a cut (where scrubbing looks for secrets)."""
    text = body[:length].decode("utf-8", errors="replace")
    return repr(text + ("..." if len(body) > length else ""))


def tls_observations(response: httpx.Response) -> dict[str, Any]:
    """The certificate and TLS version of the connection that brought `response`."""
    stream = response.extensions.get("network_stream")
    return tls.observe(stream.get_extra_info("ssl_object")) if stream is not None else {}


class FirstByte:
    """How long a request waited for its answer: from sending its headers to the answer's
    headers, as httpx's trace tells it (`extensions={"trace": timer.trace}`). The latency
    of a peer that speaks HTTP, without the connect and TLS handshake before it."""

    def __init__(self) -> None:
        self.ms: float | None = None
        self._sent: float | None = None

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "http11.send_request_headers.started":
            self._sent = time.perf_counter()
        elif event == "http11.receive_response_headers.complete" and self._sent is not None:
            self.ms = round((time.perf_counter() - self._sent) * 1000, 3)


def refusal_class(status: int) -> ErrorClass:
    """The class of an answer with an unwanted status: 401 and 403 are `auth`, 429
    `rate_limited`."""
    if status == 429:
        return ErrorClass.RATE_LIMITED
    return ErrorClass.AUTH if status in (401, 403) else ErrorClass.UNEXPECTED_STATUS


def refusal(
    status: int,
    detail: str,
    headers: httpx.Headers | dict[str, str],
    observations: dict[str, Any] | None = None,
    error_class: ErrorClass | None = None,
) -> ProbeError:
    """The failure of an answer with an unwanted status; a rate limit's Retry-After observed
    as `retry_after_seconds` (recording holds the next probe back until then)."""
    error_class = error_class or refusal_class(status)
    observations = dict(observations or {})
    if error_class is ErrorClass.RATE_LIMITED:
        wait = retry_after(headers.get("retry-after"))
        if wait is not None:
            wait = round(wait, 3)
            observations["retry_after_seconds"] = wait
            detail = f"{detail} (retry after {wait:g}s)"
    return ProbeError(error_class, detail, observations)


# Past this, a peer's Retry-After is read as this: a peer must not stop a monitor probing it.
LONGEST_RETRY_AFTER = 3600.0
_SECONDS = re.compile(r"[0-9]{1,20}")


def retry_after(
    value: str | None, now: datetime | None = None, longest: float = LONGEST_RETRY_AFTER
) -> float | None:
    """Retry-After's wait in seconds (RFC 9110: seconds, or an HTTP date), at most
    `longest`; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    # ASCII digits alone: str.isdigit() takes "²" too, which float() refuses.
    if _SECONDS.fullmatch(value):
        return min(float(value), longest)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), longest)


def classify_httpx_error(exc: Exception) -> ProbeError:
    """One of HTTPX_ERRORS as a probe's failure."""
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return ProbeError(ErrorClass.CONFIG, f"bad URL: {exc}")
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
