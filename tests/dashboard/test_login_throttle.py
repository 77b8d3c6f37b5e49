"""Login throttling (django-axes): failed logins are counted per account and per address;
past the limit even the right password is refused, with a page that says why and for how
long, until the lockout has passed. The admin's login is the same door."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.test import Client
from freezegun import freeze_time

from dashboard.login_throttle import client_address
from tests.conftest import load_settings
from tests.factories import T0

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LIMIT = 5  # the default SEAHEALTH_LOGIN_FAILURE_LIMIT
# Documentation addresses (RFC 5737): only ever a value in REMOTE_ADDR here.
HOME, CAFE = "198.51.100.7", "203.0.113.9"


@pytest.fixture(autouse=True)
def accounts(django_user_model, settings) -> None:
    # A fast hash: these tests log in a hundred times, and the lock comes before the hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for name in ("ops", "other"):
        django_user_model.objects.create_user(name, password=PASSWORD)


def login(username: str, password: str, address: str = HOME, path: str = "/accounts/login/"):
    """A login from a browser of its own; the answer, and whether it is logged in after."""
    client = Client()
    answer = client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)
    logged_in = "_auth_user_id" in client.session
    return answer, logged_in


def fail(times: int, username: str = "ops", address: str = HOME, **kwargs) -> list[int]:
    return [login(username, "wrong", address, **kwargs)[0].status_code for _ in range(times)]


def test_past_the_limit_even_the_right_password_is_refused_saying_why_and_for_how_long() -> None:
    assert fail(LIMIT - 1) == [200] * (LIMIT - 1)  # the form again, with its error
    assert fail(1) == [429]  # the one that reaches the limit
    answer, logged_in = login("ops", PASSWORD)
    assert answer.status_code == 429
    assert not logged_in
    assert answer["Retry-After"] == "900"
    page = answer.content.decode()
    assert "Too many failed logins" in page
    assert "for this account or from this address" in page
    assert "15\xa0minutes" in page


def test_the_lock_is_per_account_and_per_address() -> None:
    fail(LIMIT, "ops", HOME)
    assert login("other", PASSWORD, CAFE)[1]  # another account from another address
    assert login("ops", PASSWORD, CAFE)[0].status_code == 429  # the account, from anywhere
    assert login("other", PASSWORD, HOME)[0].status_code == 429  # the address, any account


def test_a_success_resets_the_count() -> None:
    fail(LIMIT - 1)
    assert login("ops", PASSWORD)[1]
    assert fail(LIMIT - 1) == [200] * (LIMIT - 1)
    assert login("ops", PASSWORD)[1]


def test_the_lock_ends_a_lockout_after_the_last_counted_failure() -> None:
    with freeze_time(T0) as clock:
        fail(LIMIT)
        clock.tick(timedelta(minutes=10))
        # Refused, and not counted: the lock still ends 15 minutes after the last failure.
        assert fail(3) == [429] * 3
        clock.tick(timedelta(minutes=4, seconds=59))
        assert login("ops", PASSWORD)[0].status_code == 429
        clock.tick(timedelta(seconds=2))
        assert login("ops", PASSWORD)[1]


def test_the_admin_login_is_the_same_door() -> None:
    assert fail(LIMIT, path="/admin/login/")[-1] == 429
    answer, logged_in = login("ops", PASSWORD, path="/admin/login/")
    assert (answer.status_code, logged_in) == (429, False)
    assert login("ops", PASSWORD, CAFE)[0].status_code == 429  # and the dashboard's


def test_the_limit_and_lockout_are_settings(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(hours=1)
    assert fail(2) == [200, 429]
    answer, _ = login("ops", PASSWORD)
    assert answer["Retry-After"] == "3600"
    result = load_settings(
        "(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds())",
        SEAHEALTH_LOGIN_FAILURE_LIMIT="10",
        SEAHEALTH_LOGIN_LOCKOUT="1h",
    )
    assert result.stdout.strip() == "(10, 3600.0)", result.stderr


def test_successful_logins_leave_no_rows() -> None:
    fail(2)
    for _ in range(3):
        assert login("ops", PASSWORD)[1]
    assert AccessLog.objects.count() == 0
    assert AccessAttempt.objects.count() == 0  # the failures, reset by the success


def test_a_stored_attempt_keeps_no_password_or_csrf_token() -> None:
    Client().post(
        "/accounts/login/",
        {"username": "ops", "password": "hunter2-typo", "csrfmiddlewaretoken": "t0k3n"},
        REMOTE_ADDR=HOME,
    )
    [attempt] = AccessAttempt.objects.all()
    assert "hunter2-typo" not in attempt.post_data
    assert "t0k3n" not in attempt.post_data


class TestBehindAProxy:
    """With SEAHEALTH_TRUSTED_PROXY_HOPS (1 behind the TLS proxy), the address is the one the
    proxy appended to X-Forwarded-For; every login arrives from the proxy's REMOTE_ADDR."""

    PROXY = "192.0.2.1"

    @pytest.fixture(autouse=True)
    def _one_proxy(self, settings) -> None:
        settings.SEAHEALTH_TRUSTED_PROXY_HOPS = 1

    def via_proxy(self, username: str, password: str, forwarded: str):
        client = Client()
        return client.post(
            "/accounts/login/",
            {"username": username, "password": password},
            REMOTE_ADDR=self.PROXY,
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    def test_clients_behind_one_proxy_are_told_apart(self) -> None:
        for _ in range(LIMIT):
            self.via_proxy("ops", "wrong", HOME)
        assert self.via_proxy("other", PASSWORD, HOME).status_code == 429
        assert self.via_proxy("other", PASSWORD, CAFE).status_code == 302

    def test_a_forged_entry_does_not_choose_the_address(self) -> None:
        # The client wrote HOME itself; the proxy appended where it really came from.
        for _ in range(LIMIT):
            self.via_proxy("ops", "wrong", f"{HOME}, {CAFE}")
        assert self.via_proxy("other", PASSWORD, CAFE).status_code == 429
        assert self.via_proxy("other", PASSWORD, HOME).status_code == 302


@pytest.mark.parametrize(
    ("hops", "forwarded", "remote", "expected"),
    [
        (0, "203.0.113.9", "192.0.2.1", "192.0.2.1"),  # no proxy trusted: the header is a lie
        (1, "203.0.113.9", "192.0.2.1", "203.0.113.9"),
        (1, "198.51.100.7, 203.0.113.9", "192.0.2.1", "203.0.113.9"),
        (2, "198.51.100.7, 203.0.113.9", "192.0.2.1", "198.51.100.7"),
        (2, "203.0.113.9", "192.0.2.1", "203.0.113.9"),  # fewer entries: the one there is
        (1, "203.0.113.9:51234", "192.0.2.1", "203.0.113.9"),
        (1, "[2001:db8::5]:443", "192.0.2.1", "2001:db8::5"),
        (1, "2001:db8::5", "192.0.2.1", "2001:db8::5"),
        (1, "unknown", "192.0.2.1", "192.0.2.1"),  # not an address: the peer's
        (1, "", "192.0.2.1", "192.0.2.1"),
        (0, "", "not-an-address", None),
    ],
)
def test_client_address(rf, settings, hops, forwarded, remote, expected) -> None:
    settings.SEAHEALTH_TRUSTED_PROXY_HOPS = hops
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_behind_the_tls_proxy_one_hop_is_trusted() -> None:
    shown = "(s.SEAHEALTH_TRUSTED_PROXY_HOPS,)"
    assert load_settings(shown, SEAHEALTH_BEHIND_TLS_PROXY="true").stdout.strip() == "(1,)"
    assert load_settings(shown).stdout.strip() == "(0,)"
    both = load_settings(shown, SEAHEALTH_BEHIND_TLS_PROXY="true", SEAHEALTH_TRUSTED_PROXY_HOPS="2")
    assert both.stdout.strip() == "(2,)"


def test_a_username_longer_than_any_is_counted_cut_to_its_column() -> None:
    # Django's login form does not bound the username; PostgreSQL refuses a longer value.
    long = "x" * 3000
    assert fail(LIMIT - 1, long) == [200] * (LIMIT - 1)
    [attempt] = AccessAttempt.objects.all()
    assert attempt.username == "x" * 255
    assert fail(1, "x" * 255 + "y") == [429]  # the same account, as far as the lock knows
