"""Every refusal of the `notifications:` section, located at its file:line, never quoting
the secret it found."""

from __future__ import annotations

import pytest

from probes.declarations import DeclarationError, parse_document
from tests.notifications.declared import DEPENDENCIES, SOURCE, line_of, problems

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
        "'sideways' is not one of: down, degraded, up, slo_burn",
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
