"""`slo:` as declared: read into an Slo on an entry or from `defaults`, stored and shown;
every bad value refused with its reason and line."""

from __future__ import annotations

import pytest

from probes.declarations import DeclarationError, parse_declaration
from probes.dependency_spec import DependencySpec
from probes.models import Dependency
from probes.slo import Slo, format_percent
from probes.sync import sync
from tests.factories import T0

pytestmark = pytest.mark.django_db

SOURCE = "dependencies.yaml"


def declare(slo: str, defaults: str = "") -> list[DependencySpec]:
    text = f"""
defaults:
  kind: http
{defaults}
dependencies:
  - name: payments
    url: https://payments.example/health
{slo}
  - name: search
    url: https://search.example/health
"""
    return parse_declaration(text, SOURCE)


def refusal(slo: str, defaults: str = "") -> str:
    with pytest.raises(DeclarationError) as refused:
        declare(slo, defaults)
    return str(refused.value)


@pytest.mark.parametrize(
    ("written", "objective"),
    [
        ("99.9%", 0.999),
        ("'99.95 %'", 0.9995),
        ("99.5", 0.995),
        ("99", 0.99),
        ("'99.999%'", 0.99999),
    ],
)
def test_the_objective_is_a_percentage(written: str, objective: float) -> None:
    payments, search = declare(f"    slo: {{objective: {written}}}")
    assert payments.slo == Slo(objective=objective, window=30 * 86400.0, min_checks=3)
    assert search.slo is None


def test_defaults_give_every_entry_an_slo_that_an_entry_may_change_in_part() -> None:
    payments, search = declare(
        "    slo: {objective: 99.99%}", defaults="  slo: {objective: 99.5%, window: 7d}"
    )
    assert payments.slo == Slo(objective=0.9999, window=7 * 86400.0)
    assert search.slo == Slo(objective=0.995, window=7 * 86400.0)


@pytest.mark.parametrize(
    ("slo", "reason"),
    [
        ("slo: {objective: 100%}", "below 100% (100% leaves no error budget), got '100%'"),
        ("slo: {objective: 0.999}", "got 0.999 (did you mean 99.9%?)"),
        ("slo: {objective: 40%}", "above 50%"),
        ("slo: {objective: high}", "expected a percentage such as 99.9%, got 'high'"),
        ("slo: {objective: true}", "expected a percentage such as 99.9%, got True"),
        ("slo: {window: 30d}", "field 'objective': required"),
        ("slo: {objective: 99.9%, window: 2h}", "must be between 1d and 90d, got 2h"),
        ("slo: {objective: 99.9%, window: 365d}", "must be between 1d and 90d, got 365d"),
        ("slo: {objective: 99.9%, window: monthly}", "is not a duration"),
        ("slo: {objective: 99.9%, min_checks: 0}", "must be at least 1"),
        ("slo: {objective: 99.9%, objectif: 99%}", "unknown field (did you mean 'objective'?)"),
        ("slo: 99.9%", "expected a mapping"),
    ],
)
def test_a_bad_slo_is_refused_with_its_reason_and_line(slo: str, reason: str) -> None:
    message = refusal(f"    {slo}")
    assert reason in message
    assert f"{SOURCE}:8: entry 1 'payments', " in message


def test_a_bad_default_slo_is_reported_once_as_the_defaults() -> None:
    message = refusal("", defaults="  slo: {objective: 101%}")
    assert message.count("101%") == 1
    assert "defaults, slo, field 'objective'" in message


def test_stored_read_back_and_shown_as_declared() -> None:
    [payments, search] = declare("    slo: {objective: 99.95%, window: 28d, min_checks: 5}")
    sync([payments, search], now=T0)
    row = Dependency.objects.get(name="payments")
    assert row.slo == {"objective": 0.9995, "window": 28 * 86400.0, "min_checks": 5}
    assert DependencySpec.from_row(row) == payments
    assert payments.declaration()["slo"] == {
        "objective": "99.95%",
        "window": "28d",
        "min_checks": 5,
    }
    assert Dependency.objects.get(name="search").slo is None
    assert "slo" not in search.declaration()


@pytest.mark.parametrize(
    ("ratio", "shown"), [(0.999, "99.9%"), (0.9995, "99.95%"), (1.0, "100%"), (0.5, "50%")]
)
def test_percentages_are_written_without_noise(ratio: float, shown: str) -> None:
    assert format_percent(ratio) == shown
