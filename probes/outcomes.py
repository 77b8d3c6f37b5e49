"""What a probe found: an Outcome, and the small set of error classes a failure falls into."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ErrorClass(StrEnum):
    TIMEOUT = "timeout"
    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    PROTOCOL = "protocol"
    UNEXPECTED_STATUS = "unexpected_status"
    UNEXPECTED_RESPONSE = "unexpected_response"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    # The peer refused to answer this often (HTTP 429, S3's SlowDown, JSON-RPC -32005): it is
    # there, and says so. Degraded, not down, unless the entry declares rate_limited_is: down.
    RATE_LIMITED = "rate_limited"
    # The declaration cannot be probed as it stands (an unset ${VAR}, say).
    CONFIG = "config"
    # A bug in seahealth's probe code, not a fault of the dependency.
    INTERNAL = "internal"


class ProbeError(Exception):
    """Raised by a probe when the dependency failed the check."""

    def __init__(
        self,
        error_class: ErrorClass,
        detail: str,
        observations: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{error_class}: {detail}")
        self.error_class = error_class
        self.detail = detail
        self.observations = dict(observations or {})


@dataclass(frozen=True)
class Step:
    """One step of a probe (connect, EHLO, HeadBucket, ...), for people debugging it."""

    name: str
    ms: float
    ok: bool


class Result(StrEnum):
    """One probe's verdict, as stored in its history row."""

    SUCCESS = "success"
    DEGRADED = "degraded"
    FAILURE = "failure"


@dataclass(frozen=True)
class Outcome:
    error_class: ErrorClass | None = None
    detail: str = ""
    # Why a dependency that answered is nonetheless degraded (slow, stale, ...).
    warnings: tuple[str, ...] = ()
    observations: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None
    checked_at: datetime | None = None
    steps: tuple[Step, ...] = ()
    # False for an error that only degrades (rate_limited, as declared by default): its class
    # is counted and shown, but the breaker takes it as an answer.
    failing: bool = True

    @property
    def ok(self) -> bool:
        return self.error_class is None

    @property
    def result(self) -> Result:
        if not self.ok and self.failing:
            return Result.FAILURE
        return Result.DEGRADED if self.warnings or not self.ok else Result.SUCCESS

    @property
    def error(self) -> str:
        """`class: detail` for a failure, as shown to people; empty on success."""
        return f"{self.error_class}: {self.detail}" if self.error_class else ""

    @classmethod
    def failure(cls, error: ProbeError) -> Outcome:
        return cls(
            error_class=error.error_class, detail=error.detail, observations=error.observations
        )
