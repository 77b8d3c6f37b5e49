"""`/status/feed.atom`: the public entries' status changes, read by feedparser as a feed
reader would."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from probes.models import StatusTransition
from statuspage.feed import ENTRIES
from tests.statuspage.conftest import changed, entry, leaked

pytestmark = pytest.mark.django_db

URL = "/status/feed.atom"


def parsed(client) -> feedparser.FeedParserDict:
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


def test_is_valid_atom_with_the_feed_elements(client, entries, settings) -> None:
    settings.SEAHEALTH_PUBLIC_DASHBOARD = False  # no login for it either

    feed = parsed(client)

    assert feed.version == "atom10"
    assert feed.feed.title == "Service status"
    assert feed.feed.id.startswith("tag:testserver,")
    assert feed.feed.updated_parsed is not None
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"alternate": "http://testserver/status/", "self": "http://testserver" + URL}


def test_lists_the_public_changes_newest_first(client, entries) -> None:
    feed = parsed(client)

    assert [item.title for item in feed.entries] == [
        "Payments is down",  # 3 min ago
        "Payments recovered after 12 min",  # 2 h ago, for 12 min
        "Payments is down",  # 2 h 12 min ago
    ]
    for item in feed.entries:
        assert item.link == "http://testserver/status/"
        assert item.id.startswith("tag:testserver,")
        assert item.updated_parsed is not None
    newest = StatusTransition.objects.filter(dependency=entries.payments).latest("at")
    assert feed.entries[0].updated_parsed[:6] == newest.at.utctimetuple()[:6]


def test_says_degraded_and_an_operational_first_check_is_no_news(client, db) -> None:
    row = entry("mail", public=True, display_name="Mail")
    now = timezone.now()
    changed(row, now - timedelta(minutes=30), "unknown", "up")
    changed(row, now - timedelta(minutes=20), "up", "degraded")
    changed(row, now - timedelta(minutes=10), "degraded", "down")
    changed(row, now - timedelta(minutes=5), "down", "up")

    assert [item.title for item in parsed(client).entries] == [
        "Mail recovered after 15 min",  # from the first change away from up
        "Mail is down",
        "Mail is degraded",
    ]


def test_entry_ids_are_stable_and_distinct(client, entries) -> None:
    first = [item.id for item in parsed(client).entries]
    changed(entries.search, timezone.now(), "up", "down")
    second = [item.id for item in parsed(client).entries]

    assert len(set(first)) == len(first)
    assert second[1:] == first  # the new one on top, the others unchanged


def test_shows_nothing_internal(client, entries) -> None:
    response = client.get(URL)

    assert leaked(response.content.decode()) == []


def test_display_names_are_text_however_they_read(client, db) -> None:
    row = entry("tricky", "down", public=True, display_name='<b>Ünïcode & "q"</b>')
    changed(row, timezone.now(), "up", "down")

    feed = parsed(client)

    [item] = feed.entries
    assert item.title == '<b>Ünïcode & "q"</b> is down'
    assert "<b>" not in item.summary  # an HTML summary holds the name as text, escaped
    assert "&lt;b&gt;Ünïcode &amp;" in item.summary


def test_holds_at_most_the_newest_entries_at_a_constant_query_count(client, db) -> None:
    start = timezone.now() - timedelta(days=10)

    def queries_with(count: int) -> int:
        for n in range(count):
            row = entry(f"p-{count}-{n}", public=True)
            at = start + timedelta(minutes=n)
            changed(row, at, "up", "down")
            changed(row, at + timedelta(seconds=30), "down", "up")
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    assert queries_with(2) == queries_with(60)
    assert len(parsed(client).entries) == ENTRIES
