"""The `notifications:` section of dependencies.yaml, read through the whole file's parser:
what a good section declares, and every refusal located at its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifications.declaration import ChannelSpec, NotificationsSpec, RouteSpec
from notifications.models import Channel, Route
from probes.declaration_watcher import DeclarationWatcher
from probes.declarations import DeclarationError, parse_document
from tests.probes.declaration_files import snapshot, write

SOURCE = "dependencies.yaml"
DEPENDENCIES = """\
dependencies:
  - name: payments-api
    kind: http
    critical: true
    group: payments
    url: https://api.example.com/health
  - name: search
    kind: http
    url: https://search.example.com/health
"""
# The issue's example, as a user writes it: `on:` unquoted.
EXAMPLE = """\
notifications:
  defaults: {notify_after: 0s, repeat_every: 4h, group_wait: 0s, on: [down, up]}
  channels:
    ops-hook: {type: webhook, url: "https://hooks.example.com/seahealth", secret: "${HOOK_SECRET}"}
    ops-mail: {type: email, to: [ops@example.com]}
    chat:     {type: slack, url: "${SLACK_WEBHOOK_URL}"}
    pager:    {type: pagerduty, routing_key: "${PD_ROUTING_KEY}"}
  routes:               # every matching route notifies its channels
    - match: {critical: true}
      channels: [pager, ops-hook]
    - match: {group: payments}
      channels: [ops-mail, chat]
      on: [down, degraded, up]
"""
DAY, HOUR = 86400.0, 3600.0


def notifications(section: str) -> NotificationsSpec:
    return parse_document(DEPENDENCIES + section, SOURCE).notifications


def problems(section: str) -> list[str]:
    with pytest.raises(DeclarationError) as refused:
        parse_document(DEPENDENCIES + section, SOURCE)
    return [str(problem) for problem in refused.value.problems]


def line_of(section: str, needle: str) -> int:
    """The line of the whole file on which `needle` is first written."""
    text = DEPENDENCIES + section
    [line] = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line][:1]
    return line


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


# --- refusals ----------------------------------------------------------------------------

CHANNELS = (
    "  channels:\n"
    "    hook: {type: webhook, url: 'https://h.example.com/'}\n"
    "    pager: {type: pagerduty, routing_key: '${PD_KEY}'}\n"
)
# (section, where on the file the problem is: a needle on its line, field, message)
REFUSALS = {
    "unknown field in defaults": (
        "notifications:\n  defaults: {notify_afterr: 5s}\n",
        "notify_afterr",
        "notifications, defaults, field 'notify_afterr'",
        "unknown field (did you mean 'notify_after'?)",
    ),
    "unknown field in a channel": (
        "notifications:\n  channels:\n    hook:\n      type: webhook\n"
        "      url: 'https://h.example.com/'\n      sekret: '${S}'\n",
        "sekret",
        "channel 'hook', field 'sekret'",
        "unknown field (did you mean 'secret'?)",
    ),
    "unknown field in a route": (
        "notifications:\n"
        + CHANNELS
        + "  routes:\n    - channels: [hook]\n      notfy_after: 1m\n",
        "notfy_after",
        "route 1, field 'notfy_after'",
        "unknown field (did you mean 'notify_after'?)",
    ),
    "unknown field in a match": (
        "notifications:\n" + CHANNELS + "  routes:\n    - channels: [hook]\n"
        "      match: {groups: payments}\n",
        "groups",
        "route 1, match, field 'groups'",
        "unknown field (did you mean 'group'?)",
    ),
    "unknown field at the section's top": (
        "notifications:\n  channel: {}\n",
        "channel:",
        "notifications, field 'channel'",
        "unknown field (did you mean 'channels'?)",
    ),
    "unknown channel type": (
        "notifications:\n  channels:\n    text: {type: sms, to: '+15550100'}\n",
        "sms",
        "channel 'text', field 'type'",
        "'sms' is not one of: email, pagerduty, slack, webhook",
    ),
    "a URL of another scheme": (
        "notifications:\n  channels:\n    hook: {type: webhook, url: 'ftp://h.example.com/'}\n",
        "ftp://",
        "channel 'hook', field 'url'",
        "is not an http:// or https:// URL",
    ),
    "not a URL": (
        "notifications:\n  channels:\n    hook: {type: webhook, url: 'hooks.example.com'}\n",
        "hooks.example.com",
        "channel 'hook', field 'url'",
        "is not an http:// or https:// URL",
    ),
    "no URL": (
        "notifications:\n  channels:\n    hook: {type: webhook}\n",
        "hook:",
        "channel 'hook', field 'url'",
        "required",
    ),
    "a webhook secret written out": (
        "notifications:\n  channels:\n    hook:\n      type: webhook\n"
        "      url: 'https://h.example.com/'\n      secret: hunter2-hunter2\n",
        "secret:",
        "channel 'hook', field 'secret'",
        "holds a credential written out: write it as ${VAR}",
    ),
    "a pagerduty routing_key written out": (
        "notifications:\n  channels:\n    pager: {type: pagerduty, routing_key: R0UT1NGK3Y}\n",
        "routing_key",
        "channel 'pager', field 'routing_key'",
        "holds a credential written out: write it as ${VAR}",
    ),
    "a slack URL written out": (
        "notifications:\n  channels:\n"
        "    chat: {type: slack, url: 'https://hooks.slack.com/services/T0/B0/XyZsecret'}\n",
        "slack",
        "channel 'chat', field 'url'",
        "a Slack webhook URL is a secret: write it as ${VAR}",
    ),
    "a slack URL whose placeholder is not closed": (
        "notifications:\n  channels:\n"
        "    chat: {type: slack, url: 'https://hooks.slack.com/services/${SLACK'}\n",
        "slack",
        "channel 'chat', field 'url'",
        "a Slack webhook URL is a secret: write it as ${VAR}",
    ),
    "credentials in a webhook URL": (
        "notifications:\n  channels:\n"
        "    hook: {type: webhook, url: 'https://ops:pa55word@h.example.com/'}\n",
        "pa55word",
        "channel 'hook', field 'url'",
        "the credentials in the URL must not be written out",
    ),
    "a token in a webhook URL's query": (
        "notifications:\n  channels:\n"
        "    hook: {type: webhook, url: 'https://h.example.com/in?token=t0k3nvalue'}\n",
        "t0k3nvalue",
        "channel 'hook', field 'url'",
        "the query parameter 'token' must not be written out",
    ),
    "an authorization header written out": (
        "notifications:\n  channels:\n    hook:\n      type: webhook\n"
        "      url: 'https://h.example.com/'\n      headers: {Authorization: Bearer abc123xyz}\n",
        "headers:",
        "channel 'hook', field 'headers'",
        "header 'Authorization' holds a credential written out",
    ),
    "a header seahealth sets": (
        "notifications:\n  channels:\n    hook:\n      type: webhook\n"
        "      url: 'https://h.example.com/'\n      headers: {Webhook-Id: mine}\n",
        "headers:",
        "channel 'hook', field 'headers'",
        "header 'Webhook-Id' is set by seahealth: leave it out",
    ),
    "a route naming an undeclared channel": (
        "notifications:\n" + CHANNELS + "  routes:\n    - channels: [hook, pagr]\n",
        "pagr",
        "route 1, field 'channels'",
        "no channel is named 'pagr' (channels: hook, pager)",
    ),
    "a route matching a name no dependency has": (
        "notifications:\n" + CHANNELS + "  routes:\n    - channels: [hook]\n"
        "      match: {name: [search, payment-api]}\n",
        "payment-api",
        "route 1, match, field 'name'",
        "no dependency has the name 'payment-api'",
    ),
    "a route matching a group no dependency has": (
        "notifications:\n" + CHANNELS + "  routes:\n    - channels: [hook]\n"
        "      match: {group: paymnts}\n",
        "paymnts",
        "route 1, match, field 'group'",
        "no dependency has the group 'paymnts'",
    ),
    "a route matching an unknown kind": (
        "notifications:\n" + CHANNELS + "  routes:\n    - channels: [hook]\n"
        "      match: {kind: ftp}\n",
        "ftp",
        "route 1, match, field 'kind'",
        "unknown kind 'ftp'",
    ),
    "on with an unknown status": (
        "notifications:\n" + CHANNELS + "  routes:\n    - channels: [hook]\n"
        "      on: [down, sideways]\n",
        "sideways",
        "route 1, field 'on'",
        "'sideways' is not one of: down, degraded, up",
    ),
    "on with unknown in defaults": (
        "notifications:\n  defaults: {on: [unknown]}\n",
        "unknown",
        "defaults, field 'on'",
        "'unknown' is not one of: down, degraded, up",
    ),
    "group_wait on pagerduty": (
        "notifications:\n  channels:\n"
        "    pager: {type: pagerduty, routing_key: '${PD_KEY}', group_wait: 30s}\n",
        "pager:",
        "channel 'pager', field 'group_wait'",
        "a pagerduty channel takes one event per message",
    ),
    "a bad email address": (
        "notifications:\n  channels:\n    mail:\n      type: email\n"
        "      to: [ops@example.com, 'ops at example.com']\n",
        "to:",
        "channel 'mail', field 'to'",
        "'ops at example.com' is not an email address",
    ),
    "repeat_every neither a duration nor never": (
        "notifications:\n  defaults: {repeat_every: nevr}\n",
        "nevr",
        "defaults, field 'repeat_every'",
        "'nevr' is not a duration",
    ),
    "repeat_every of zero": (
        "notifications:\n" + CHANNELS + "  routes:\n    - channels: [hook]\n"
        "      repeat_every: 0s\n",
        "repeat_every",
        "route 1, field 'repeat_every'",
        "must be longer than zero",
    ),
    "a bad channel name": (
        "notifications:\n  channels:\n    Ops Hook: {type: webhook, url: 'https://h.example.com/'}\n",
        "Ops Hook",
        "notifications, field 'channels'",
        "'Ops Hook' is not a channel name",
    ),
    "a route's channels not names": (
        "notifications:\n" + CHANNELS + "  routes:\n    - channels: true\n",
        "channels: true",
        "route 1, field 'channels'",
        "expected a list of channel names, got True",
    ),
    "on written twice, quoted and not": (
        "notifications:\n" + CHANNELS + "  routes:\n    - channels: [hook]\n"
        "      on: [down]\n      'on': [up]\n",
        "'on': [up]",
        "route 1, field 'on'",
        "is written twice, quoted and not: keep one",
    ),
    "routes not a list": (
        "notifications:\n  routes: {channels: [hook]}\n",
        "routes:",
        "notifications, field 'routes'",
        "expected a list of routes",
    ),
}


@pytest.mark.parametrize(("section", "needle", "where", "message"), REFUSALS.values(), ids=REFUSALS)
def test_a_bad_section_is_refused_with_file_line_and_field(
    section: str, needle: str, where: str, message: str
) -> None:
    [problem] = problems(section)

    assert problem.startswith(f"{SOURCE}:{line_of(section, needle)}: top level, ")
    assert where in problem
    assert message in problem


@pytest.mark.parametrize(
    ("channel", "secret"),
    [
        ("type: webhook, url: 'https://h.example.com/', secret: hunter2-hunter2", "hunter2"),
        ("type: webhook, url: 'https://ops:pa55word@h.example.com/'", "pa55word"),
        ("type: webhook, url: 'https://h.example.com/?api_key=k3yk3yk3y'", "k3yk3yk3y"),
        ("type: pagerduty, routing_key: R0UT1NGK3Y", "R0UT1NGK3Y"),
        ("type: slack, url: 'https://hooks.slack.com/services/T0/B0/XyZs3cr3t'", "XyZs3cr3t"),
    ],
)
def test_a_refusal_never_repeats_the_secret_it_found(channel: str, secret: str) -> None:
    section = f"notifications:\n  channels:\n    leaky: {{{channel}}}\n"
    with pytest.raises(DeclarationError) as refused:
        parse_document(DEPENDENCIES + section, SOURCE)

    assert "leaky" in str(refused.value)
    assert secret not in str(refused.value)


def test_a_route_to_a_channel_refused_for_its_own_fields_is_not_a_second_problem() -> None:
    section = (
        "notifications:\n"
        "  channels:\n"
        "    hook: {type: webhook, url: 'https://h.example.com/', secret: written-out}\n"
        "  routes:\n"
        "    - channels: [hook]\n"
    )

    [problem] = problems(section)
    assert "channel 'hook', field 'secret'" in problem


def test_every_problem_of_the_section_is_listed_not_only_the_first() -> None:
    section = (
        "notifications:\n"
        "  defaults: {wait: 1s}\n"
        "  channels:\n"
        "    text: {type: sms}\n"
        "    mail: {type: email, to: nobody}\n"
        "  routes:\n"
        "    - channels: [nowhere]\n"
    )

    assert [problem.split(": ", 2)[1] for problem in problems(section)] == [
        "top level, notifications, defaults, field 'wait'",
        "top level, notifications, channel 'text', field 'type'",
        "top level, notifications, channel 'mail', field 'to'",
        "top level, notifications, route 1, field 'channels'",
    ]


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
