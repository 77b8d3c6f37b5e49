from __future__ import annotations

import pytest

from tests.factories import make_dependency

pytestmark = pytest.mark.django_db


def test_the_status_page_lists_dependencies_with_their_status_in_words(client) -> None:
    make_dependency("payments-api", status="up", critical=True)
    make_dependency(
        "mailer", status="down", breaker_state="open", last_error="connect: connection refused"
    )
    page = client.get("/").content.decode()
    assert "Service degraded" in page  # a non-critical dependency is down
    assert "payments-api" in page
    assert "mailer" in page
    assert ">down<" in page
    assert "connect: connection refused" in page


def test_the_status_page_says_what_to_do_when_nothing_is_declared(client) -> None:
    page = client.get("/").content.decode()
    assert "No dependencies declared" in page
    assert "dependencies.yaml" in page
