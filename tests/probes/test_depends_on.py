"""depends_on: declared names of other dependencies, checked (unknown names, cycles named by
their chain), stored, and shown: a child "affected by" its parent that is down, and the
dependency page linking both ways."""

from __future__ import annotations

import pytest
from django.utils import timezone

from probes.models import Dependency
from probes.sync import sync
from tests.factories import make_dependency
from tests.probes.declaration_files import declared, entry, refusal, specs_of

pytestmark = pytest.mark.no_database  # its django_db tests run in both passes all the same

URL = "http://127.0.0.1:9/"


def node(name: str, depends_on=None) -> dict:
    fields = {"url": URL}
    if depends_on is not None:
        fields["depends_on"] = depends_on
    return entry(name, **fields)


def test_names_one_or_several_dependencies() -> None:
    vpn, dns, api = specs_of(node("vpn"), node("dns", "vpn"), node("api", ["vpn", "dns", "vpn"]))
    assert (vpn.depends_on, dns.depends_on, api.depends_on) == ((), ("vpn",), ("vpn", "dns"))


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (
            [node("api", ["nope"])],
            "entry 1 'api', field 'depends_on': 'nope' is not a declared dependency",
        ),
        ([node("api", ["api"])], "entry 1 'api', field 'depends_on': a cycle: api -> api"),
        (
            [node("a", ["b"]), node("b", ["c"]), node("c", ["a"])],
            "entry 1 'a', field 'depends_on': a cycle: a -> b -> c -> a",
        ),
        ([node("api", [1])], "expected a dependency's name or a list of names"),
        ([node("api", ["Not A Name"])], "'Not A Name' is not a declared dependency"),
        ([node("api", [f"d{n}" for n in range(51)])], "lists more than 50 names"),
    ],
)
def test_unknown_names_and_cycles_are_refused_with_the_chain(entries, problem) -> None:
    assert problem in str(refusal(declared(*entries)))


def test_a_long_chain_without_a_cycle_is_accepted_in_linear_time() -> None:
    # 2,000 in a line, each depending on the one before and the first: no cycle.
    nodes = [node("n0")] + [node(f"n{i}", [f"n{i - 1}", "n0"]) for i in range(1, 2000)]
    assert len(specs_of(*nodes)) == 2000


@pytest.mark.django_db
def test_is_stored_and_an_unchanged_file_changes_nothing() -> None:
    specs = specs_of(node("vpn"), node("api", ["vpn"]))
    sync(specs)
    assert Dependency.objects.get(name="api").depends_on == ["vpn"]
    assert not sync(specs_of(node("vpn"), node("api", ["vpn"]))).changed


@pytest.mark.django_db
def test_a_child_is_shown_affected_by_its_parent_that_is_down(viewer) -> None:
    now = timezone.now()
    make_dependency("vpn", status="down", status_since=now, last_error="connect: refused")
    make_dependency("api", status="down", status_since=now, depends_on=["vpn"])
    make_dependency("calm", status="up", depends_on=["vpn"])

    board = viewer.get("/").content.decode()
    assert 'affected by <a href="/dependencies/vpn/">vpn</a>' in board

    child = viewer.get("/dependencies/api/").content.decode()
    assert "Affected by" in child
    assert 'depends on <a href="/dependencies/vpn/">vpn</a> (down)' in child
    parent = viewer.get("/dependencies/vpn/").content.decode()
    assert 'depended on by <a href="/dependencies/api/">api</a> (down)' in parent
    assert '<a href="/dependencies/calm/">calm</a> (up)' in parent
