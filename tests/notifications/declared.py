"""Declarations with a notifications: section, for the tests of reading it: dependencies
that routes may match, the issue's example, and the section's problems as text."""

from __future__ import annotations

import pytest

from notifications.declaration import NotificationsSpec
from probes.declarations import DeclarationError, parse_document

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
# The example, as a user writes it: `on:` unquoted.
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
