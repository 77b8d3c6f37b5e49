"""What a receiver answered, and what it means for the message: sent, tried again (and
when), or dead at once. The same for every channel type."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

import httpx

from probes import http_peers
from probes.classify import classify_network_error
from probes.excerpts import shorten

# The receiver is busy or away: tried again. Any other refusal is for good.
RETRIED_STATUSES = {408, 429}
# What is read of an answer's body: enough for the reason a refusal gives.
BODY_READ = 1024
# The longest Retry-After honoured as given: a day is past any message's give_up_after.
LONGEST_RETRY_AFTER = 86400.0


@dataclass(frozen=True)
class Reply:
    status_code: int | None = None
    error: str = ""  # empty when sent
    retry_after: float | None = None  # seconds the receiver asked to wait
    permanent: bool = False  # refused for good: dead at once, not retried

    @property
    def sent(self) -> bool:
        return not self.error


async def post(http: httpx.AsyncClient, url: str, content: bytes, headers: dict[str, str]) -> Reply:
    """POST `content`, read at most BODY_READ bytes of the answer: the Reply. The caller
    bounds it in time (the sender's timeout)."""
    try:
        async with http.stream("POST", url, content=content, headers=headers) as response:
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= BODY_READ:
                    break
            return from_response(response, body[:BODY_READ])
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        return from_error(exc)


def from_response(response: httpx.Response, body: bytes = b"") -> Reply:
    """2xx: sent. 408, 429, 5xx: tried again (Retry-After honoured). Any other: dead."""
    code = response.status_code
    if 200 <= code < 300:
        return Reply(status_code=code)
    error = f"HTTP {code} {response.reason_phrase}".rstrip()
    text = body.decode("utf-8", errors="replace").strip()
    if text:
        error += f": {shorten(text, 200)}"
    if code in RETRIED_STATUSES or code >= 500:
        return Reply(code, error, retry_after(response.headers.get("retry-after")))
    if 300 <= code < 400:
        location = shorten(response.headers.get("location", "?"), 200)
        error += f" (redirected to {location}: declare that URL)"
    return Reply(code, error, permanent=True)


def from_error(exc: BaseException) -> Reply:
    """A request that got no answer: a timeout, a refused connection, a TLS failure."""
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return Reply(error=f"bad URL: {exc}", permanent=True)
    if isinstance(exc, httpx.TimeoutException):
        return Reply(error=f"timeout: {exc or type(exc).__name__}")
    found = classify_network_error(exc)
    if found is not None:
        return Reply(error=f"{found.error_class.value}: {found.detail}")
    return Reply(error=f"{type(exc).__name__}: {shorten(str(exc), 200)}")


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (seconds, or an HTTP date), at most a day."""
    return http_peers.retry_after(value, now, LONGEST_RETRY_AFTER)


def backoff(attempts: int, first: float, longest: float) -> float:
    """Seconds before the next attempt: exponential with full jitter (uniform from zero), so
    that the messages a receiver's outage held back do not all come back at once."""
    ceiling = min(longest, first * 2 ** min(attempts - 1, 30))
    return random.uniform(0, ceiling)
