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

from notifications.channels import CHANNEL_TYPES
from notifications.declaration import NotificationsSpec
from notifications.models import Channel, Route
from probes import declarations
from probes.declaration_watcher import DeclarationWatcher
from probes.declarations import COMMON_FIELDS, DeclarationError
from probes.kinds import KINDS, kind
from probes.models import Dependency
from probes.placeholders import holds_placeholder
from probes.sync import sync_declaration
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
    "pool": st.sampled_from(["main", "polygon"]),
    "grace": st.sampled_from(["10m", "1h"]),
    "schedule": st.sampled_from(["0 3 * * *", "*/5 * * * *"]),
    "timezone": st.sampled_from(["UTC", "Europe/Paris"]),
    "up": st.lists(st.sampled_from(["operational", "ok"]), max_size=2, unique=True),
    "status_path": st.sampled_from(["status", "component.status"]),
    "expect_json": st.dictionaries(
        st.sampled_from(["status", "a.b"]), st.none() | st.integers() | printable, max_size=2
    ),
}
REQUIRED = {
    "http": {"url": PLAUSIBLE["url"]},
    "rpc": {"url": PLAUSIBLE["url"]},
    "smtp": {"host": PLAUSIBLE["host"]},
    "s3": {"bucket": PLAUSIBLE["bucket"]},
    "heartbeat": {"expect_every": st.sampled_from(["1h", "24h"])},
    "webhook": {
        "signature": st.sampled_from(
            [
                {"scheme": "standard-webhooks", "secret": "${HOOK_SECRET}"},
                {"scheme": "hmac-sha256", "header": "X-Sig", "secret": "${HOOK_SECRET}"},
            ]
        )
    },
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


# The notifications section: plausible settings, channels of every type and routes between
# them, often with one hostile value; now and then anything at all.
SETTINGS = {
    "notify_after": st.sampled_from(["0s", "30s", "5m"]),
    "repeat_every": st.sampled_from(["4h", "never", "1m"]),
    "group_wait": st.sampled_from(["0s", "10s"]),
    "give_up_after": st.sampled_from(["1h", "24h"]),
    "on": st.lists(st.sampled_from(["down", "degraded", "up"]), min_size=1, max_size=3),
}
CHANNEL_NAMES = ["hook", "mail", "chat", "pager", "ops_2"]
CHANNELS = {
    "webhook": st.fixed_dictionaries(
        {"url": st.sampled_from(["https://hooks.example.com/in", "${HOOK_URL}"])},
        optional={
            "secret": st.sampled_from(["${HOOK_SECRET}", "whsec_${K}"]),
            "headers": st.just({"X-Team": "ops"}),
        },
    ),
    "email": st.fixed_dictionaries({"to": st.sampled_from(["ops@example.com", ["a@b.example"]])}),
    "slack": st.fixed_dictionaries({"url": st.just("${SLACK_WEBHOOK_URL}")}),
    "pagerduty": st.fixed_dictionaries({"routing_key": st.just("${PD_ROUTING_KEY}")}),
}
NOTIFICATION_FIELDS = [
    *SETTINGS,
    "type",
    "url",
    "secret",
    "to",
    "routing_key",
    "match",
    "channels",
    "headers",
    True,
    "\x00",
    "x" * 300,
]


def hostile(draw: st.DrawFn, mapping: dict[Any, Any]) -> dict[Any, Any]:
    """`mapping`, one time in six with a field set to any value."""
    if draw(st.integers(0, 5)) == 0:
        mapping[draw(st.sampled_from(NOTIFICATION_FIELDS))] = draw(values)
    return mapping


@st.composite
def notifications(draw: st.DrawFn) -> dict[str, Any]:
    section: dict[str, Any] = {}
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(sorted(SETTINGS)), unique=True, max_size=3))
        section["defaults"] = hostile(draw, {key: draw(SETTINGS[key]) for key in keys})
    channels = {}
    some = st.lists(st.sampled_from(CHANNEL_NAMES), unique=True, min_size=1, max_size=3)
    for name in draw(mostly(some, st.just([]))):
        type_name = draw(st.sampled_from(sorted(CHANNELS)))
        channels[name] = hostile(draw, {"type": type_name, **draw(CHANNELS[type_name])})
    section["channels"] = channels
    routes = []
    # Mostly routes to declared channels, matching what some dependency has, so that sections
    # are accepted often enough to reach sync; now and then a name nothing has.
    declared = st.sampled_from(sorted(channels)) if channels else st.just("hook")
    for _ in range(draw(st.integers(0, 3))):
        match = draw(
            mostly(
                st.fixed_dictionaries(
                    {}, optional={"critical": st.booleans(), "kind": st.sampled_from(sorted(KINDS))}
                ),
                st.fixed_dictionaries({"name": st.sampled_from(["api", ["api", "node"], "x"])}),
            )
        )
        names = draw(mostly(st.lists(declared, min_size=1, max_size=2), st.just(["nowhere"])))
        route: dict[Any, Any] = {"channels": names}
        if match:
            route["match"] = match
        keys = st.lists(st.sampled_from(["on", "notify_after", "repeat_every"]), unique=True)
        for key in draw(keys):
            # True: the key `on` as YAML 1.1 reads it when it is written unquoted.
            route[draw(st.sampled_from(["on", True])) if key == "on" else key] = draw(SETTINGS[key])
        routes.append(hostile(draw, route))
    section["routes"] = routes
    return section


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
        ),
        "notifications": mostly(notifications(), values),
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


# The declaration in the database before each example: channels and routes too, so that a
# refusal is seen to leave them, and an acceptance to archive or change them. Synced once per
# test (the `before` fixture); each example runs in a savepoint rolled back to it.
BEFORE = (
    GOOD
    + """\
notifications:
  channels:
    hook: {type: webhook, url: "https://hooks.example.com/in", secret: "${HOOK_SECRET}"}
    mail: {type: email, to: ops@example.com}
  routes:
    - {match: {critical: true}, channels: [hook, mail]}
"""
)


@pytest.fixture
def before() -> list[list[dict[str, Any]]]:
    """BEFORE synced, and every row it wrote."""
    path = DIRECTORY / "good.yaml"
    path.write_text(BEFORE)
    assert DeclarationWatcher(path).sync_if_changed() is not None
    return everything()


FUZZ = settings(
    derandomize=True,
    max_examples=400,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(document=documents, trick=mostly(st.just(""), st.sampled_from(TRICKS)))
def test_a_declaration_is_refused_cleanly_or_accepted_and_synced(
    document: dict[str, Any], trick: str, caplog: pytest.LogCaptureFixture, before: list
) -> None:
    text = trick + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    check_declaration(text, caplog, before)


# Dependencies that routes may match by name (api, node) and kind (http, rpc).
DEPENDENCIES = [
    {"name": "api", "kind": "http", "url": "https://api.example.com/health", "critical": True},
    {"name": "node", "kind": "rpc", "url": "${RPC_URL}"},
]


@FUZZ
@given(section=mostly(notifications(), values))
def test_a_notifications_section_is_refused_cleanly_or_accepted_and_synced(
    section: Any, caplog: pytest.LogCaptureFixture, before: list
) -> None:
    document = {"dependencies": DEPENDENCIES, "notifications": section}
    check_declaration(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), caplog, before)


def check_declaration(text: str, caplog: pytest.LogCaptureFixture, before: list) -> None:
    """`text` is refused with nothing written (`before` stays), or accepted, valid, and
    synced."""
    path = DIRECTORY / "dependencies.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))  # lone surrogates too
    caplog.clear()

    with transaction.atomic():
        watcher = DeclarationWatcher(path)
        try:
            declaration = declarations.load_document(path)
        except DeclarationError as refused:
            event("refused")
            assert watcher.sync_if_changed() is None
            assert everything() == before
            check_message(watcher.last_problem, path)
            check_message(str(refused), path)
        else:
            check_accepted(declaration)
            assert watcher.sync_if_changed() is not None
            assert watcher.last_problem is None
        assert not [record for record in caplog.records if record.exc_info], caplog.text
        assert not [
            r for r in caplog.records if r.levelno >= logging.ERROR and "database" in r.getMessage()
        ]
        transaction.set_rollback(True)


def check_accepted(declaration: declarations.Declaration) -> None:
    specs, spec = declaration.dependencies, declaration.notifications
    event(f"accepted {len(specs)} dependencies")
    event(f"accepted {len(spec.channels)} channels, {len(spec.routes)} routes")
    check_notifications(spec, specs)
    sync_declaration(declaration)  # raises nothing, on either database
    assert sorted(Dependency.objects.active().values_list("name", flat=True)) == sorted(
        dependency.name for dependency in specs
    )
    assert sorted(Channel.objects.filter(archived_at=None).values_list("name", flat=True)) == (
        sorted(channel.name for channel in spec.channels)
    )
    assert Route.objects.count() == len(spec.routes)


def everything() -> list[list[dict[str, Any]]]:
    """The rows of every table a declaration reaches: the dependencies' and whom to tell."""
    return [*snapshot(), *(list(m.objects.order_by("pk").values()) for m in (Channel, Route))]


def check_notifications(spec: NotificationsSpec, dependencies: list[Any]) -> None:
    """An accepted section holds only what can be sent: known types, routes to declared
    channels, statuses that can be told, credentials as placeholders."""
    names = {channel.name for channel in spec.channels}
    for channel in spec.channels:
        assert channel.type in CHANNEL_TYPES
        assert channel.group_wait >= 0
        assert channel.give_up_after > 0
        for key in ("secret", "routing_key"):
            assert key not in channel.config or holds_placeholder(channel.config[key])
        if channel.type == "slack":
            assert holds_placeholder(channel.config["url"])
    for route in spec.routes:
        assert route.channels
        assert set(route.channels) <= names
        assert route.on
        assert set(route.on) <= {"down", "degraded", "up"}
        assert route.repeat_every is None or route.repeat_every > 0
        assert set(route.match.get("name", [])) <= {d.name for d in dependencies}


def check_message(message: str | None, path: Path) -> None:
    """A refusal says why in a few short lines, with no raw control characters."""
    assert message
    for line in message.splitlines():
        assert len(line) < len(str(path)) + 400, line
    assert "\x00" not in message
