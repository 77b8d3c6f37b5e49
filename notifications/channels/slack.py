"""Slack: a readable message through an incoming webhook. Its URL is a secret (whoever has
it may post to the channel): it is declared as a ${VAR}.

    chat: {type: slack, url: "${SLACK_WEBHOOK_URL}"}
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from notifications import payloads
from notifications.channels import Outgoing
from notifications.models import EventType
from notifications.replies import Reply, post
from probes.fields import Fields
from probes.http_peers import check_url
from probes.placeholders import holds_placeholder

GROUPS = True
MARKS = {"down": ":red_circle:", "degraded": ":large_orange_circle:", "up": ":large_green_circle:"}


def parse(fields: Fields) -> dict[str, Any]:
    url = check_url(fields, "url", ("https", "http"))
    if isinstance(url, str) and not holds_placeholder(url):
        fields.problem("url", "a Slack webhook URL is a secret: write it as ${VAR}")
    return {"url": url}


def text(payload: dict[str, Any]) -> str:
    """The summary, then a line per event with its error and a link to its page."""
    lines = [f"*{_escape(payloads.summary(payload))}*"]
    if payload["type"] == EventType.SLO_BURN:
        for event in payload["events"]:
            lines += [_escape(line) for line in payloads.burn_details(event)]
            lines.append(f"<{_escape(event['url'])}|details>")
        return "\n".join(lines)
    for event in payload["events"]:
        line = (
            f"{MARKS.get(event['status'], '')} *{_escape(event['dependency'])}* {event['status']}"
        )
        line += f" since {event['since']}"
        if event["error"] and event["status"] != "up":
            line += f": {_escape(event['error'])}"
        if event["url"]:
            line += f" <{_escape(event['url'])}|details>"
        lines.append(line)
    return "\n".join(lines)


def _escape(text: str) -> str:
    # Slack's mrkdwn reads these three as markup.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def send(outgoing: Outgoing, config: dict[str, Any], http: httpx.AsyncClient) -> Reply:
    message = {"text": text(outgoing.payload)}
    content = json.dumps(message, ensure_ascii=False).encode()
    return await post(http, config["url"], content, {"content-type": "application/json"})
