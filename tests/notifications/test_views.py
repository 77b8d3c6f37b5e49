"""/notifications/: every message and attempt, dead ones first; what was not sent and why;
the channels; a filter by channel; behind the login; no secret; few queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from notifications import views
from notifications.models import DeliveryState, MessageState
from tests.factories import T0, make_dependency
from tests.notifications.rows import (
    make_attempt,
    make_channel,
    make_delivery,
    make_event,
    make_message,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
KEY = "9aa3d95b3bc440fa88ea12eaa4456161"


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def message_ids(page: str) -> list[str]:
    return re.findall(r"<code>(msg_[a-z0-9_]+)</code>", page)


def text(html: str) -> str:
    """What a reader sees of `html`: its text, without the tags."""
    return re.sub(r"<[^>]+>", "", html).strip()


def section(page: str, heading: str) -> str:
    """The part of the page from `heading` to the next heading."""
    return page.split(f"<h2>{heading}")[1].split("<h2>")[0]


class TestAccess:
    def test_the_page_needs_a_login(self, client) -> None:
        response = client.get("/notifications/?channel=ops-hook")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/notifications/%3Fchannel%3Dops-hook"

    def test_a_poll_after_the_session_ended_sends_the_whole_page_to_the_login(self, client) -> None:
        response = client.get("/notifications/", **HTMX)
        assert response["HX-Redirect"] == "/accounts/login/?next=/notifications/"

    def test_a_public_dashboard_shows_it_without_a_login_and_read_only(
        self, client, settings
    ) -> None:
        settings.SEAHEALTH_PUBLIC_DASHBOARD = True
        assert client.get("/notifications/").status_code == 200
        assert client.post("/notifications/").status_code == 405

    def test_the_header_links_to_it_from_every_page(self, viewer) -> None:
        page = viewer.get("/").content.decode()
        assert '<a href="/notifications/">notifications</a>' in page
        here = viewer.get("/notifications/").content.decode()
        assert '<a href="/notifications/" aria-current="page">notifications</a>' in here


@freeze_time(at(3600))
class TestMessages:
    def test_dead_ones_come_first_then_pending_then_sent_each_newest_first(self, viewer) -> None:
        hook = make_channel()
        for name, state, seconds in [
            ("msg_sent_old", MessageState.SENT, 10),
            ("msg_dead_old", MessageState.DEAD, 20),
            ("msg_pending_new", MessageState.PENDING, 50),
            ("msg_sent_new", MessageState.SENT, 60),
            ("msg_dead_new", MessageState.DEAD, 30),
            ("msg_pending_old", MessageState.PENDING, 40),
        ]:
            make_message(hook, state, at(seconds), id=name)
        page = viewer.get("/notifications/").content.decode()
        assert message_ids(page) == [
            "msg_dead_new",
            "msg_dead_old",
            "msg_pending_new",
            "msg_pending_old",
            "msg_sent_new",
            "msg_sent_old",
        ]

    def test_a_message_shows_its_events_and_every_attempt_with_its_outcome(self, viewer) -> None:
        hook = make_channel()
        api = make_dependency("api")
        message = make_message(
            hook,
            MessageState.PENDING,
            at(0),
            (make_event(api, "down", at(-30)),),
            next_attempt_at=at(3700),
        )
        make_attempt(
            message, at(1), "failed", error="connect: connection refused", next_attempt_at=at(5)
        )
        make_attempt(
            message,
            at(5),
            "failed",
            status_code=503,
            error="HTTP 503 Service Unavailable: busy",
            next_attempt_at=at(3700),
        )
        row = section(viewer.get("/notifications/").content.decode(), "Messages")
        assert '<a href="/dependencies/api/">api</a>' in row
        assert '<span aria-hidden="true">✕</span> down</span> <small>was up</small>' in row
        assert "<small>was up</small> since <time" in row
        assert '</time>: <span class="problem">connect: connection refused</span>' in row
        attempts = re.findall(r'<li class="attempt-(\w+)">(.*?)</li>', row)
        assert [(outcome, text(shown)) for outcome, shown in attempts] == [
            (
                "failed",
                "59 min ago failed: HTTP 503 Service Unavailable: busy in 45 ms · next in 1 min",
            ),
            ("failed", "59 min ago failed: connect: connection refused in 45 ms · next 59 min ago"),
        ]
        # The message's own next attempt, in the last column.
        assert re.search(r'<td class="when"><time datetime="2026-11-23T11:01:40Z"', row)

    def test_a_sent_attempt_shows_the_status_code_the_receiver_gave(self, viewer) -> None:
        message = make_message(make_channel(), events=(make_event(make_dependency("api")),))
        make_attempt(message, at(1), "sent", status_code=202)
        row = section(viewer.get("/notifications/").content.decode(), "Messages")
        assert "<strong>sent</strong> (202)" in row

    def test_a_test_message_says_so(self, viewer) -> None:
        make_message(make_channel(), MessageState.SENT, at(0))
        assert "a test message" in viewer.get("/notifications/").content.decode()

    def test_a_reminder_says_the_status_still_holds(self, viewer) -> None:
        reminder = make_event(make_dependency("api"), "down", at(-7200), type="seahealth.reminder")
        make_message(make_channel(), MessageState.SENT, at(0), (reminder,))
        page = viewer.get("/notifications/").content.decode()
        assert "</span> still since <time" in page

    def test_text_from_a_receiver_is_escaped(self, viewer) -> None:
        message = make_message(make_channel(), MessageState.DEAD, at(0))
        make_attempt(message, at(1), "dead", status_code=400, error="HTTP 400: <script>x</script>")
        page = viewer.get("/notifications/").content.decode()
        assert "<script>x" not in page
        assert "HTTP 400: &lt;script&gt;x&lt;/script&gt;" in page

    def test_the_page_is_bounded_and_says_what_it_leaves_out(self, viewer, monkeypatch) -> None:
        monkeypatch.setattr(views, "MESSAGES_SHOWN", 3)
        monkeypatch.setattr(views, "EVENTS_SHOWN", 2)
        monkeypatch.setattr(views, "ATTEMPTS_SHOWN", 2)
        hook = make_channel()
        events = tuple(make_event(make_dependency(f"dep-{n}"), "down", at(n)) for n in range(5))
        big = make_message(hook, MessageState.DEAD, at(100), events, id="msg_big")
        for n in range(7):
            make_attempt(big, at(100 + n), "failed", error=f"timeout {n}")
        for n in range(4):
            make_message(hook, MessageState.SENT, at(n), id=f"msg_sent_{n}")
        page = viewer.get("/notifications/").content.decode()
        assert message_ids(page) == ["msg_big", "msg_sent_3", "msg_sent_2"]
        messages = section(page, "Messages")
        assert re.findall(r'href="/dependencies/(dep-\d)/"', messages) == ["dep-0", "dep-1"]
        assert "and 3 more" in messages
        assert re.findall(r"timeout \d", messages) == ["timeout 6", "timeout 5"]
        assert "and 5 earlier" in messages


@freeze_time(at(3600))
class TestNotSent:
    def test_cancelled_silent_and_waiting_events_say_why(self, viewer) -> None:
        hook = make_channel()
        api = make_dependency("api")
        make_delivery(
            make_event(api, "down", at(0)),
            hook,
            DeliveryState.CANCELLED,
            cancelled_because="the status ended before notify_after",
        )
        make_delivery(make_event(api, "up", at(10)), hook, DeliveryState.SILENT, tell=False)
        make_delivery(
            make_event(api, "down", at(3590)), hook, DeliveryState.WAITING, due_at=at(3650)
        )
        make_message(hook, MessageState.SENT, at(5), (make_event(api, "down", at(5)),))
        rows = re.findall(
            r"<tr>\s*<td>(.*?)</td>\s*<td>ops-hook</td>\s*<td>.*?>(\w+)</span></td>\s*<td>(.*?)</td>",
            section(viewer.get("/notifications/").content.decode(), "Events not sent"),
            flags=re.DOTALL,
        )
        assert [(state, text(why)) for _, state, why in rows] == [
            ("waiting", "due in 50 s"),
            (
                "silent",
                "its route does not tell up: not sent, but the next change is compared with it",
            ),
            ("cancelled", "the status ended before notify_after"),
        ]

    def test_with_nothing_left_unsent_it_says_so(self, viewer) -> None:
        make_channel()
        page = viewer.get("/notifications/").content.decode()
        assert "Every event was put in a message." in page


class TestChannels:
    def test_each_channel_with_its_type_target_and_counts(self, viewer) -> None:
        hook = make_channel("ops-hook", sent_total=12, failed_total=3, dead_total=1)
        make_channel("ops-mail", "email", config={"to": ["ops@example.com", "oncall@example.com"]})
        for n in range(2):
            make_message(hook, MessageState.PENDING, T0, id=f"msg_{n}")
        make_message(hook, MessageState.SENT, T0)
        make_delivery(make_event(make_dependency("api")), hook, DeliveryState.WAITING)
        channels = section(viewer.get("/notifications/").content.decode(), "Channels")
        rows = re.findall(r"<tr>(.*?)</tr>", channels.split("<tbody>")[1], flags=re.DOTALL)
        cells = [[text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in rows]
        assert cells == [
            ["ops-hook", "webhook", "http://127.0.0.1:9/hook", "2", "1", "12 · 3 · 1"],
            ["ops-mail", "email", "ops@example.com, oncall@example.com", "0", "0", "0 · 0 · 0"],
        ]

    def test_no_secret_reaches_the_page(self, viewer, monkeypatch) -> None:
        monkeypatch.setenv("HOOK_SECRET", "whsec_c2VjcmV0LXZhbHVlLTQy")
        make_channel(
            config={
                "url": f"https://bot:hunter2@hooks.example.com/v3/{KEY}?token=t0ken-123",
                "secret": "${HOOK_SECRET}",
                "headers": {"X-Api-Key": "${HOOK_KEY}"},
            }
        )
        page = viewer.get("/notifications/").content.decode()
        assert "https://bot:***@hooks.example.com/v3/***?token=***" in page
        for secret in (KEY, "hunter2", "t0ken-123", "whsec_", "c2VjcmV0"):
            assert secret not in page

    def test_an_archived_channel_stays_listed_last_and_can_be_chosen(self, viewer) -> None:
        old = make_channel("a-old", archived_at=T0)
        make_channel("b-new")
        make_message(old, MessageState.DEAD, T0, id="msg_from_before")
        page = viewer.get("/notifications/").content.decode()
        assert re.findall(r'<option value="([a-z-]+)"', page) == ["b-new", "a-old"]
        assert "a-old (archived)" in page
        chosen = viewer.get("/notifications/?channel=a-old").content.decode()
        assert message_ids(chosen) == ["msg_from_before"]


class TestFilter:
    def test_a_channel_chosen_shows_its_messages_and_events_alone(self, viewer) -> None:
        hook, mail = make_channel("ops-hook"), make_channel("ops-mail", "email", config={"to": []})
        api = make_dependency("api")
        make_message(hook, MessageState.SENT, T0, (make_event(api),), id="msg_to_hook")
        make_message(mail, MessageState.SENT, T0, (make_event(api),), id="msg_to_mail")
        make_delivery(
            make_event(api), hook, DeliveryState.CANCELLED, cancelled_because="for the hook"
        )
        make_delivery(
            make_event(api), mail, DeliveryState.CANCELLED, cancelled_because="for the mail"
        )
        page = viewer.get("/notifications/?channel=ops-mail").content.decode()
        assert message_ids(page) == ["msg_to_mail"]
        assert "for the mail" in page
        assert "for the hook" not in page
        assert '<option value="ops-mail" selected>ops-mail</option>' in page
        assert "<h2>Messages to ops-mail</h2>" in page

    def test_the_filter_works_without_javascript(self, viewer) -> None:
        page = viewer.get("/notifications/").content.decode()
        assert '<form class="filters" method="get" action="/notifications/"' in page
        assert '<select name="channel">' in page
        assert '<button type="submit">Apply</button>' in page

    def test_htmx_gets_the_log_alone_polling_the_filtered_url(self, viewer, settings) -> None:
        settings.SEAHEALTH_REFRESH_SECONDS = 7
        make_channel("ops-hook")
        page = viewer.get("/notifications/?channel=ops-hook", **HTMX).content.decode()
        assert page.lstrip().startswith(
            '<section id="log" hx-get="/notifications/?channel=ops-hook" hx-trigger="every 7s"'
        )
        assert "<html" not in page

    @pytest.mark.parametrize(
        "value", ["nope", "OPS-HOOK", "x" * 3000, "'; DROP TABLE notifications_channel; --"]
    )
    def test_an_unknown_channel_is_a_400_naming_the_declared_ones(self, viewer, value) -> None:
        make_channel("ops-hook")
        make_channel("ops-mail", "email", config={"to": []})
        response = viewer.get("/notifications/", {"channel": value})
        assert response.status_code == 400
        body = response.content.decode()
        assert body.startswith("bad filter: channel: no channel is named ")
        assert body.endswith("(channels: ops-hook, ops-mail)")
        assert len(body) < 200

    def test_a_control_character_is_a_400_before_the_view(self, viewer) -> None:
        response = viewer.get("/notifications/", {"channel": "ops\x00hook"})
        assert response.status_code == 400
        assert "control characters" in response.content.decode()


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_the_query_count_does_not_grow_with_the_rows(
    viewer, headers, django_assert_max_num_queries
) -> None:
    def queries_with(count: int) -> int:
        hook = make_channel(f"hook-{count}")
        for n in range(count):
            api = make_dependency(f"dep-{count}-{n}")
            events = (make_event(api, "down", at(n)), make_event(api, "up", at(n + 1)))
            state = [MessageState.DEAD, MessageState.PENDING, MessageState.SENT][n % 3]
            message = make_message(hook, state, at(n), events)
            for k in range(3):
                make_attempt(message, at(n + k), "failed", error="timeout")
            make_delivery(make_event(api), hook, DeliveryState.CANCELLED, cancelled_because="x")
        with CaptureQueriesContext(connection) as captured:
            assert viewer.get("/notifications/", **headers).status_code == 200
        return len(captured)

    assert queries_with(3) == queries_with(30)
    # The session and user; the channels; the ids of each state's newest messages; those
    # messages, their events and their attempts; the events not sent.
    with django_assert_max_num_queries(10):
        viewer.get("/notifications/?channel=hook-30", **headers)
