"""Hundreds of generated declarations, plausible and hostile: each is refused cleanly with
nothing written, or accepted and synced, on this pass's database; never a traceback, never
more than 5 s."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from probes import declarations
from probes.declaration_watcher import DeclarationWatcher
from probes.declarations import COMMON_FIELDS, DeclarationError
from probes.kinds import KINDS, kind
from probes.models import Dependency
from probes.sync import sync
from tests.probes.declaration_files import GOOD, snapshot

pytestmark = pytest.mark.django_db

KIND_FIELDS = sorted({f.name for name in KINDS for f in dataclasses.fields(kind(name).Spec)})
FIELDS = [*COMMON_FIELDS, *KIND_FIELDS, "breaker", "intervall", "\x00", "x" * 300]

hostile_text = st.text(max_size=30) | st.sampled_from(
    [
        "",
        "\x00",
        "a\x00b",
        "line\nbreak",
        "\x1b[31m",
        "x" * 5000,
        "${VAR}",
        "${VAR",
        "https://u:${P}@example.com/${KEY}?token=${T}",
        "http://127.0.0.1:9/health",
        "wss://node.example.com",
        "ftp://x",
        "5s",
        "0s",
        "0.0001ms",
        "400d",
        "1" + "0" * 50 + "s",
        "10MiB",
        "100GiB",
        "Bearer ${TOKEN}",
    ]
)
hostile_number = (
    st.integers()
    | st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**100])
    | st.floats()
)
scalars = st.none() | st.booleans() | hostile_number | hostile_text | st.dates()
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(hostile_text, children, max_size=5)
    ),
    max_leaves=12,
)
# Values that pass, so that generated entries are accepted often enough to reach sync.
printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=10)
PLAUSIBLE = {
    "interval": st.sampled_from(["1s", "30s", "5m"]),
    "timeout": st.sampled_from(["500ms", "1s"]),
    "critical": st.booleans(),
    "group": printable,
    "url": st.sampled_from(["http://127.0.0.1:9/", "https://api.example.com/h?x=1", "${URL}"]),
    "method": st.sampled_from(["GET", "HEAD"]),
    "expect_status": st.lists(st.integers(100, 599), max_size=3),
    "headers": st.dictionaries(
        st.sampled_from(["X-A", "Accept"]), st.text(max_size=10), max_size=2
    ),
    "breaker": st.fixed_dictionaries({}, optional={"failure_threshold": st.integers(1, 1000)}),
    "host": st.sampled_from(["mail.example.com", "127.0.0.1"]),
    "port": st.integers(1, 65535),
    "bucket": st.sampled_from(["docs", "sea-documents"]),
    "chain_id": st.integers(1, 2**53 - 1),
    "expect_json": st.dictionaries(
        st.sampled_from(["status", "a.b"]), st.none() | st.integers() | printable, max_size=2
    ),
}
REQUIRED = {
    "http": {"url": PLAUSIBLE["url"]},
    "rpc": {"url": PLAUSIBLE["url"]},
    "smtp": {"host": PLAUSIBLE["host"]},
    "s3": {"bucket": PLAUSIBLE["bucket"]},
}


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible entry of some kind, often with one hostile value in it."""
    name = draw(st.sampled_from(sorted(KINDS)))
    own = {f.name for f in dataclasses.fields(kind(name).Spec)} | set(COMMON_FIELDS)
    entry = {"name": draw(st.sampled_from(["api", "mailer", "node", "docs", "x-1"])), "kind": name}
    entry |= {field: draw(strategy) for field, strategy in REQUIRED[name].items()}
    optional = sorted(own & PLAUSIBLE.keys())
    for field in draw(st.lists(st.sampled_from(optional), max_size=3, unique=True)):
        entry[field] = draw(PLAUSIBLE[field])
    if draw(st.integers(0, 3)) == 0:
        entry[draw(st.sampled_from(FIELDS))] = draw(values)
    return entry


def mostly(
    likely: st.SearchStrategy[Any], rarely: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """`likely` nine times in ten (one_of would pick each half the time)."""
    return st.integers(0, 9).flatmap(lambda n: rarely if n == 0 else likely)


documents = st.fixed_dictionaries(
    {
        "dependencies": mostly(
            st.lists(entries(), max_size=4, unique_by=lambda e: repr(e["name"])), values
        )
    },
    optional={
        "defaults": mostly(
            st.fixed_dictionaries(
                {}, optional={"critical": st.booleans(), "interval": PLAUSIBLE["interval"]}
            ),
            st.dictionaries(st.sampled_from(FIELDS), values, max_size=3),
        )
    },
)
# What a person (or an attacker) can write that yaml.safe_dump never would.
TRICKS = [
    "",
    "x: &x [a, a, a, a, a, a, a, a, a, a]\ny: &y [*x, *x, *x, *x, *x, *x, *x, *x, *x, *x]\n",
    "deep: " + "[" * 60 + "]" * 60 + "\n",
    "self: &s [*s]\n",
    "a: !!python/object/apply:os.system [echo]\n",
    "dependencies: []\n",
    "\t\x00\n",
]

DIRECTORY = Path(tempfile.mkdtemp(prefix="seahealth-fuzz-"))


@settings(
    derandomize=True,
    max_examples=400,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(document=documents, trick=mostly(st.just(""), st.sampled_from(TRICKS)))
def test_a_declaration_is_refused_cleanly_or_accepted_and_synced(
    document: dict[str, Any], trick: str, caplog: pytest.LogCaptureFixture
) -> None:
    text = trick + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    path = DIRECTORY / "dependencies.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))  # lone surrogates too
    caplog.clear()

    with transaction.atomic():
        watcher = DeclarationWatcher(path)
        path_good = DIRECTORY / "good.yaml"
        path_good.write_text(GOOD)
        DeclarationWatcher(path_good).sync_if_changed()
        before = snapshot()
        try:
            specs = declarations.load_declaration(path)
        except DeclarationError as refused:
            event("refused")
            assert watcher.sync_if_changed() is None
            assert snapshot() == before
            check_message(watcher.last_problem, path)
            check_message(str(refused), path)
        else:
            event(f"accepted {len(specs)} dependencies")
            sync(specs)  # raises nothing, on either database
            assert sorted(Dependency.objects.active().values_list("name", flat=True)) == sorted(
                spec.name for spec in specs
            )
            assert watcher.sync_if_changed() is not None
            assert watcher.last_problem is None
        assert not [record for record in caplog.records if record.exc_info], caplog.text
        assert not [
            r for r in caplog.records if r.levelno >= logging.ERROR and "database" in r.getMessage()
        ]
        transaction.set_rollback(True)


def check_message(message: str | None, path: Path) -> None:
    """A refusal says why in a few short lines, with no raw control characters."""
    assert message
    for line in message.splitlines():
        assert len(line) < len(str(path)) + 400, line
    assert "\x00" not in message
