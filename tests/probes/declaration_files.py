"""Declarations and rows for the tests of reading, syncing and watching dependencies.yaml:
a good file, entries, and snapshots of every table a declaration reaches."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test.utils import CaptureQueriesContext

from probes.declarations import DeclarationError, parse_declaration
from probes.models import BreakerTransition, Dependency, ProbeResult
from probes.recording import STATE_FIELDS

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SOURCE = "dependencies.yaml"

GOOD = """\
defaults:
  interval: 30s
dependencies:
  - name: payments-api
    kind: http
    critical: true
    group: payments
    url: https://api.example.com/health
    headers: {Authorization: "Bearer ${PAYMENTS_TOKEN}"}
    expect_status: [200]
  - name: search
    kind: http
    url: https://search.example.com/health
"""

# The columns the recorder owns (but the schedule, which sync may move): sync never writes them.
CURRENT_STATE = [field for field in STATE_FIELDS if field != "next_due_at"]


def entry(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": "http", "url": f"https://{name}.example.com/health", **fields}


def declared(*entries: dict[str, Any], defaults: dict[str, Any] | None = None) -> str:
    document: dict[str, Any] = {"dependencies": list(entries)}
    if defaults is not None:
        document["defaults"] = defaults
    return yaml.safe_dump(document, sort_keys=False)


def specs_of(*entries: dict[str, Any], defaults: dict[str, Any] | None = None):
    return parse_declaration(declared(*entries, defaults=defaults), SOURCE)


def refusal(text: str) -> DeclarationError:
    with pytest.raises(DeclarationError) as refused:
        parse_declaration(text, SOURCE)
    return refused.value


def write(path: Path, text: str | bytes) -> None:
    """A new version of the file, as an editor saves it."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    # A coarse file-system clock can stamp two quick writes alike; an editor's saves are not.
    if path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def add_history(name: str = "payments-api") -> None:
    """A probe result, a breaker transition and a current state, as the recorder leaves them."""
    dependency = Dependency.objects.get(name=name)
    ProbeResult.objects.create(
        dependency=dependency,
        checked_at=T0,
        result="failure",
        latency_ms=12.5,
        error_class="connect",
        detail="connection refused",
    )
    BreakerTransition.objects.create(
        dependency=dependency,
        at=T0,
        from_state="closed",
        to_state="open",
        reason="3 consecutive failures, last: connect: connection refused",
    )
    Dependency.objects.filter(pk=dependency.pk).update(
        status="down",
        status_since=T0,
        breaker_state="open",
        breaker_failures=3,
        breaker_opened_at=T0,
        last_checked_at=T0,
        last_result="failure",
        last_error_class="connect",
        last_error="connection refused",
        last_observations={"status_code": 503},
    )


def snapshot() -> list[list[dict[str, Any]]]:
    """Every row of every table the declaration reaches, in full."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (Dependency, ProbeResult, BreakerTransition)
    ]


def row(name: str) -> dict[str, Any]:
    return Dependency.objects.values().get(name=name)


def current_state(name: str) -> dict[str, Any]:
    return Dependency.objects.values(*CURRENT_STATE).get(name=name)


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
