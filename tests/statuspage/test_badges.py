"""Badges: SVG drawn on the server and shields.io's endpoint JSON, for public entries only."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone

from dashboard.formatting import NO_VALUE
from statuspage import badge_drawing
from tests.statuspage.conftest import CANARIES, entry, leaked

pytestmark = pytest.mark.django_db

SVG_NS = "{http://www.w3.org/2000/svg}"
PUBLIC_NAME = CANARIES["internal name"]  # Payments


def badge(client, path: str) -> ET.Element:
    response = client.get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    return parse(response.content)


def parse(svg: bytes | str) -> ET.Element:
    """Well-formed XML, or this raises."""
    return ET.fromstring(svg)  # noqa: S314 - what the code under test wrote


def texts(svg: ET.Element) -> list[str]:
    """The label and the message, as drawn (each text is drawn twice: shadow, then text)."""
    return [text.text or "" for text in svg.iter(f"{SVG_NS}text")][1::2]


def test_the_status_badge_says_the_status_in_words_labelled_by_the_display_name(
    client, entries, settings
) -> None:
    settings.SEAHEALTH_PUBLIC_DASHBOARD = False  # no login for badges either

    svg = badge(client, f"/badges/{PUBLIC_NAME}/status.svg")

    assert texts(svg) == ["Payments", "down"]
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == "Payments: down"
    assert svg.find(f"{SVG_NS}title").text == "Payments: down"
    assert texts(badge(client, "/badges/search/status.svg")) == ["search", "operational"]


@pytest.mark.parametrize(
    ("window", "share", "message"),
    [
        ("24h", 0.99953, "99.95%"),
        ("7d", 1.0, "100%"),
        ("30d", 0.9, "90.00%"),
        ("30d", None, NO_VALUE),
    ],
)
def test_the_uptime_badges_read_as_the_pages_do(client, db, window, share, message) -> None:
    entry("api", public=True, display_name="API", **{f"uptime_{window}": share})

    svg = badge(client, f"/badges/api/uptime-{window}.svg")

    assert texts(svg) == [f"API uptime {window}", message]


@pytest.mark.parametrize(
    ("path", "label", "message"),
    [
        ("/badges/service.svg", "status", "major outage"),
        ("/badges/search/status.svg", "search", "operational"),
    ],
)
def test_the_service_badge_reads_the_public_entries_alone(client, db, path, label, message) -> None:
    entry("search", public=True)
    entry("payments", "down", public=True, critical=True)
    entry("private", "up", critical=True)

    assert texts(badge(client, path)) == [label, message]


def test_a_private_entry_down_does_not_move_the_service_badge(client, db) -> None:
    entry("search", public=True)
    entry("private", "down", critical=True)

    assert texts(badge(client, "/badges/service.svg")) == ["status", "all systems operational"]


def test_the_shields_endpoint_answers_its_schema(client, entries) -> None:
    response = client.get(f"/badges/{PUBLIC_NAME}.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "schemaVersion": 1,
        "label": "Payments",
        "message": "down",
        "color": "red",
    }


BADGE_PATHS = ["/badges/{}/status.svg", "/badges/{}/uptime-30d.svg", "/badges/{}.json"]


@pytest.mark.parametrize("path", BADGE_PATHS)
def test_private_missing_and_archived_names_get_the_same_404(client, entries, path) -> None:
    entry("gone", public=True, archived_at=timezone.now())
    answers = [
        client.get(path.format(name)) for name in (entries.private.name, "no-such-name", "gone")
    ]

    assert {response.status_code for response in answers} == {404}
    assert len({(r.content, r["Content-Type"]) for r in answers}) == 1
    assert leaked(answers[0].content.decode()) == []


@pytest.mark.parametrize("path", [*BADGE_PATHS, "/badges/service.svg", "/badges/{}/uptime-24h.svg"])
def test_every_badge_may_be_cached_for_a_minute_and_shows_nothing_internal(
    client, entries, path
) -> None:
    response = client.get(path.format(PUBLIC_NAME))

    assert response.status_code == 200
    assert set(response["Cache-Control"].split(", ")) == {"public", "max-age=60"}
    assert leaked(response.content.decode()) == []


def test_an_unknown_window_is_not_a_badge(client, entries) -> None:
    assert client.get(f"/badges/{PUBLIC_NAME}/uptime-90d.svg").status_code == 404


def test_display_names_are_escaped_in_every_form(client, db) -> None:
    name = "<script>&\"'Ünïcode 日本\x1b"
    entry("tricky", public=True, display_name=name)

    svg = badge(client, "/badges/tricky/status.svg")
    shields = json.loads(client.get("/badges/tricky.json").content)

    shown = name.replace("\x1b", "")  # XML cannot hold it
    assert texts(svg) == [shown, "operational"]
    assert svg.get("aria-label") == f"{shown}: operational"
    assert shields["label"] == name  # JSON holds it, escaped


def test_the_badge_is_as_wide_as_its_texts() -> None:
    narrow = parse(badge_drawing.draw("ok", "up", "brightgreen"))
    wide = parse(badge_drawing.draw("Payments and refunds", "operational", "red"))
    unlisted = parse(badge_drawing.draw("日本", "up", "brightgreen"))

    assert int(narrow.get("width")) < int(wide.get("width"))
    # Each part: its text and padding; an unlisted character is counted as a wide one.
    assert int(wide.get("width")) == round(
        badge_drawing.text_width("Payments and refunds") + 12
    ) + round(badge_drawing.text_width("operational") + 12)
    assert int(unlisted.get("width")) > int(narrow.get("width"))
