"""The `notifications:` section of dependencies.yaml, read through the whole file's parser:
what a good section declares, and that a refused one changes nothing in the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifications.declaration import ChannelSpec, NotificationsSpec, RouteSpec
from notifications.models import Channel, Route
from probes.declaration_watcher import DeclarationWatcher
from tests.notifications.declared import DEPENDENCIES, EXAMPLE, notifications
from tests.probes.declaration_files import snapshot, write

DAY, HOUR = 86400.0, 3600.0


# --- what a good section declares --------------------------------------------------------


def test_the_issues_example_declares_its_channels_and_routes() -> None:
    assert notifications(EXAMPLE) == NotificationsSpec(
        channels=(
            ChannelSpec(
                "ops-hook",
                "webhook",
                {"url": "https://hooks.example.com/seahealth", "secret": "${HOOK_SECRET}"},
                0.0,
                DAY,
            ),
            ChannelSpec("ops-mail", "email", {"to": ["ops@example.com"]}, 0.0, DAY),
            ChannelSpec("chat", "slack", {"url": "${SLACK_WEBHOOK_URL}"}, 0.0, DAY),
            ChannelSpec(
                "pager",
                "pagerduty",
                {
                    "routing_key": "${PD_ROUTING_KEY}",
                    "url": "https://events.pagerduty.com/v2/enqueue",
                },
                0.0,
                DAY,
            ),
        ),
        routes=(
            RouteSpec({"critical": True}, ("pager", "ops-hook"), ("down", "up"), 0.0, 4 * HOUR),
            RouteSpec(
                {"group": ["payments"]},
                ("ops-mail", "chat"),
                ("down", "degraded", "up"),
                0.0,
                4 * HOUR,
            ),
        ),
    )


def test_a_file_without_notifications_declares_none() -> None:
    assert notifications("") == NotificationsSpec()


def test_settings_left_out_take_the_documented_defaults() -> None:
    spec = notifications(
        "notifications:\n"
        "  channels: {hook: {type: webhook, url: 'https://h.example.com/'}}\n"
        "  routes: [{channels: [hook]}]\n"
    )

    [channel], [route] = spec.channels, spec.routes
    assert (channel.group_wait, channel.give_up_after) == (0.0, DAY)
    assert route == RouteSpec({}, ("hook",), ("down", "up"), 0.0, 4 * HOUR)


def test_defaults_reach_every_route_and_channel_unless_they_set_their_own() -> None:
    spec = notifications(
        "notifications:\n"
        "  defaults: {notify_after: 2m, repeat_every: 1h, group_wait: 30s, give_up_after: 6h,\n"
        "             on: [down, degraded, up]}\n"
        "  channels:\n"
        "    hook: {type: webhook, url: 'https://h.example.com/'}\n"
        "    mail: {type: email, to: ops@example.com, group_wait: 0s, give_up_after: 1d}\n"
        "    pager: {type: pagerduty, routing_key: '${PD_KEY}'}\n"
        "  routes:\n"
        "    - channels: [hook]\n"
        "    - {channels: mail, on: down, notify_after: 0s, repeat_every: never}\n"
        "    - {channels: [pager], match: {name: search, kind: http, critical: false}}\n"
    )

    hook, mail, pager = spec.channels
    assert (hook.group_wait, hook.give_up_after) == (30.0, 6 * HOUR)
    assert (mail.config, mail.group_wait, mail.give_up_after) == (
        {"to": ["ops@example.com"]},
        0,
        DAY,
    )
    # PagerDuty takes one event per request: the default group_wait is not for it.
    assert pager.group_wait == 0.0
    assert spec.routes == (
        RouteSpec({}, ("hook",), ("down", "degraded", "up"), 120.0, HOUR),
        RouteSpec({}, ("mail",), ("down",), 0.0, None),
        RouteSpec(
            {"critical": False, "name": ["search"], "kind": ["http"]},
            ("pager",),
            ("down", "degraded", "up"),
            120.0,
            HOUR,
        ),
    )


@pytest.mark.parametrize("key", ["on", '"on"', "'on'"])
def test_on_is_read_quoted_or_not(key: str) -> None:
    # YAML 1.1 reads a bare `on` key as the boolean true: it must still mean `on`.
    spec = notifications(
        "notifications:\n"
        f"  defaults: {{{key}: [up]}}\n"
        "  channels: {hook: {type: webhook, url: 'https://h.example.com/'}}\n"
        "  routes:\n"
        "    - channels: [hook]\n"
        "    - channels: [hook]\n"
        f"      {key}: [down, degraded]\n"
    )

    assert [route.on for route in spec.routes] == [("up",), ("down", "degraded")]


def test_a_route_may_ask_for_slo_burn_alerts_with_or_without_statuses() -> None:
    spec = notifications(
        "notifications:\n"
        "  channels: {hook: {type: webhook, url: 'https://h.example.com/'}}\n"
        "  routes:\n"
        "    - {channels: [hook], on: [slo_burn]}\n"
        "    - {channels: [hook], on: [down, up, slo_burn]}\n"
        "    - {channels: [hook]}\n"
    )

    assert [route.on for route in spec.routes] == [
        ("slo_burn",),
        ("down", "up", "slo_burn"),
        ("down", "up"),  # the default: no burn alerts
    ]


def test_a_webhook_keeps_its_declared_headers_with_their_placeholders() -> None:
    spec = notifications(
        "notifications:\n"
        "  channels:\n"
        "    hook:\n"
        "      type: webhook\n"
        "      url: https://h.example.com/in\n"
        "      headers: {Authorization: 'Bearer ${HOOK_TOKEN}', X-Team: ops}\n"
    )

    assert spec.channels[0].config == {
        "url": "https://h.example.com/in",
        "headers": {"Authorization": "Bearer ${HOOK_TOKEN}", "X-Team": "ops"},
    }


# --- a refused file changes nothing ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "broken",
    [
        EXAMPLE.replace("channels: [pager, ops-hook]", "channels: [pagr, ops-hook]"),
        EXAMPLE.replace('"${HOOK_SECRET}"', "hunter2-hunter2"),
        EXAMPLE.replace("{group: payments}", "{group: paymnts}"),
        EXAMPLE.replace("type: email", "type: fax"),
    ],
    ids=["undeclared channel", "secret written out", "unmatched group", "unknown type"],
)
def test_a_refused_notifications_section_changes_nothing_in_the_database(
    declaration: Path, broken: str
) -> None:
    write(declaration, DEPENDENCIES + EXAMPLE)
    watcher = DeclarationWatcher(declaration)
    assert watcher.sync_if_changed() is not None
    before = (snapshot(), list(Channel.objects.values()), list(Route.objects.values()))
    assert len(before[1]) == 4
    assert len(before[2]) == 2

    # The dependencies change too: nothing of the file is taken.
    write(declaration, DEPENDENCIES.replace("critical: true", "critical: false") + broken)

    assert watcher.sync_if_changed() is None
    assert "declaration refused" in watcher.last_problem
    assert (snapshot(), list(Channel.objects.values()), list(Route.objects.values())) == before
