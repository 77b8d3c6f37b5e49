"""NUL and other control characters are a 400 with the reason, before any view or query; a
name no declaration could hold is a 404 without a query."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_dependency

pytestmark = pytest.mark.django_db


@pytest.fixture
def public(settings) -> Client:
    settings.SEAHEALTH_PUBLIC_DASHBOARD = True
    return Client(raise_request_exception=False)


@pytest.mark.parametrize(
    ("request_args", "where"),
    [
        (("get", "/dependencies/a%00b/"), "the path"),
        (("get", "/health/dependencies/a%1Bb"), "the path"),
        (("get", "/metrics%7F"), "the path"),
        (("get", "/admin/probes/dependency/", {"kind": "a\x00b"}), "the query string"),
        (("get", "/", {"q\x00": "x"}), "the query string"),
        (("get", "/", {"q": "line\nbreak"}), "the query string"),
        (("get", "/", {"group": "\u0085"}), "the query string"),  # C1: NEL
        (("post", "/accounts/login/", {"username": "ops\x00", "password": "x"}), "the form"),
        (("post", "/admin/login/", {"username": "ops", "password": "\x08"}), "the form"),
    ],
)
def test_a_control_character_is_a_400_naming_where(public, request_args, where) -> None:
    method, path, *data = request_args
    response = getattr(public, method)(path, *data)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == f"control characters are not allowed in {where}\n"


def test_a_multipart_form_is_checked_too(public) -> None:
    # The test client posts multipart/form-data by default; urlencoded is checked above.
    response = public.post("/accounts/login/", {"username": "a\x00", "password": "x"})
    assert response.status_code == 400
    encoded = "username=a%00&password=x"
    response = public.post(
        "/accounts/login/", encoded, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400


@pytest.mark.parametrize("header", ["HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_X_FORWARDED_FOR"])
def test_a_control_character_in_a_header_is_a_400(public, header) -> None:
    response = public.post("/accounts/login/", {"username": "ops"}, **{header: "a\x00b"})
    assert response.status_code == 400
    assert response.content.decode() == "control characters are not allowed in a header\n"


def test_a_form_may_hold_tabs_and_line_breaks(public, django_user_model) -> None:
    django_user_model.objects.create_user("ops", password="right")
    response = public.post("/accounts/login/", {"username": "ops", "password": "a\tb\r\nc"})
    assert response.status_code == 200  # the form again: a wrong password, not a 400
    assert b"do not match" in response.content


@pytest.mark.parametrize(
    "name", ["Api", "a%20b", "-api", "_api", "a.b", "%C3%A9t%C3%A9", "a" * 101, "..", "a%2Fb"]
)
def test_a_name_no_declaration_could_hold_is_a_404_without_a_query(
    public, django_assert_num_queries, name
) -> None:
    with django_assert_num_queries(0):
        assert public.get(f"/dependencies/{name}/").status_code == 404


def test_a_declarable_name_reaches_the_page(public) -> None:
    make_dependency("a" * 100)
    assert public.get(f"/dependencies/{'a' * 100}/").status_code == 200
    assert public.get("/dependencies/b_0-9/").status_code == 404  # declarable, not declared
