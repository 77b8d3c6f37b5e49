from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from probes.models import BreakerTransition, ProbeResult
from tests.factories import make_dependency

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["dependency", "proberesult", "breakertransition", "rollup"])
def test_the_admin_lists_what_the_prober_keeps_and_changes_none_of_it(admin_client, model) -> None:
    row = make_dependency(
        "api", spec={"url": "https://x.example/v3/9aa3d95b3bc440fa88ea12eaa4456161"}
    )
    ProbeResult.objects.create(dependency=row, checked_at=timezone.now(), result="success")
    BreakerTransition.objects.create(
        dependency=row, at=timezone.now(), from_state="closed", to_state="open", reason="r"
    )
    assert admin_client.get(f"/admin/probes/{model}/").status_code == 200
    assert admin_client.get(f"/admin/probes/{model}/add/").status_code == 403


def test_the_admin_shows_a_dependency_with_its_spec_redacted(admin_client) -> None:
    row = make_dependency(
        "api", spec={"url": "https://x.example/v3/9aa3d95b3bc440fa88ea12eaa4456161"}
    )
    page = admin_client.get(f"/admin/probes/dependency/{row.pk}/change/").content.decode()
    assert "https://x.example/v3/***" in page
    assert "9aa3d95b3bc440fa88ea12eaa4456161" not in page


def test_demo_user_is_made_once_with_a_random_password(django_user_model, capsys) -> None:
    call_command("demo_user")
    printed = capsys.readouterr().out
    password = re.search(r"log in as demo / (\S+)", printed)[1]
    demo = django_user_model.objects.get(username="demo")
    assert demo.is_superuser
    assert demo.check_password(password)
    assert not demo.check_password("demo")
    call_command("demo_user")
    assert "Users exist already" in capsys.readouterr().out
    assert django_user_model.objects.count() == 1


def test_demo_user_passwords_differ(django_user_model, capsys) -> None:
    passwords = set()
    for _ in range(2):
        django_user_model.objects.all().delete()
        call_command("demo_user")
        passwords.add(re.search(r"log in as demo / (\S+)", capsys.readouterr().out)[1])
    assert len(passwords) == 2


@pytest.mark.parametrize("value", ["9" * 30, "-" + "9" * 20])
def test_an_id_past_64_bits_in_a_user_or_group_form_is_a_form_error(admin_client, value) -> None:
    # SQLite cannot bind it: it was a 500 there.
    def form_errors(path: str, data: dict) -> dict:
        response = admin_client.post(path, data)
        assert response.status_code == 200
        return response.context["adminform"].form.errors

    errors = form_errors("/admin/auth/group/add/", {"name": "g", "permissions": value})
    assert errors["permissions"] == [f"\u201c{value}\u201d is not a valid value."]
    user = admin_client.get("/admin/auth/user/").context["cl"].result_list[0]
    errors = form_errors(f"/admin/auth/user/{user.pk}/change/", {"username": "a", "groups": value})
    assert errors["groups"] == [f"\u201c{value}\u201d is not a valid value."]
