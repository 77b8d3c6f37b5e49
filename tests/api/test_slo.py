"""A dependency's SLO through /api/v1/dependencies (issues 13 and 14): the objective, the
availability over its window, the error budget left and the burn rates, as last refreshed;
the uptime windows' coverage. Real scheduling and recording in frozen time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from probes import error_budgets, rollups
from probes.models import Dependency
from probes.slo import Slo
from tests.factories import T0, make_dependency
from tests.probes import simulation

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def declare(name: str, slo: Slo | None) -> Dependency:
    return make_dependency(
        name,
        interval=timedelta(seconds=30),
        failure_threshold=1,
        recovery_timeout=timedelta(seconds=30),
        slo=slo.stored() if slo else None,
    )


def probed(peer_up, until: datetime) -> None:
    simulation.run(peer_up, T0, until)
    rollups.refresh_uptimes(until)
    error_budgets.refresh(until)


def test_one_dependency_carries_its_slo_as_last_refreshed(reader: Client) -> None:
    declare("api", Slo(objective=0.99, window=86400.0))
    # Up for 40 minutes, then down for the last twenty: the 1h and 5m windows burn fast,
    # and a day's 14.4 minutes of budget are overspent.
    probed(lambda name, at: at < T0 + timedelta(minutes=40), T0 + HOUR)
    figures = Dependency.objects.get(name="api").slo_figures

    body = reader.get("/api/v1/dependencies/api").json()

    slo = body["slo"]
    assert (slo["objective"], slo["window"], slo["min_checks"]) == (0.99, "1d", 3)
    assert slo["availability"] == pytest.approx(4 / 6, abs=0.01)
    assert slo["error_budget_remaining"] == figures["remaining"] < 0
    assert slo["error_budget_remaining_minutes"] == pytest.approx(
        figures["remaining"] * 0.01 * 86400 / 60
    )
    assert slo["error_budget_remaining_minutes"] == pytest.approx(14.4 - 20, abs=0.6)
    assert list(slo["burn_rates"]) == list(error_budgets.BURN_WINDOWS)
    assert slo["burn_rates"]["5m"] == pytest.approx(100.0)
    assert slo["checks"]["5m"] >= 10
    assert (slo["alert"], slo["alert_rule"]) == ("page", figures["rule"])
    assert slo["coverage"] == pytest.approx(3600, abs=1)
    assert body["uptime_coverage"]["24h"] == pytest.approx(3600, abs=1)
    assert body["error_budget_remaining"] == figures["remaining"]


def test_a_window_with_too_few_checks_has_a_null_rate(reader: Client) -> None:
    declare("api", Slo(objective=0.99, window=86400.0, min_checks=20))
    probed(lambda name, at: True, T0 + HOUR)

    slo = reader.get("/api/v1/dependencies/api").json()["slo"]

    assert slo["burn_rates"]["5m"] is None  # 10 or 11 checks
    assert slo["checks"]["5m"] < 20
    assert slo["burn_rates"]["30m"] == 0.0
    assert (slo["error_budget_remaining"], slo["alert"]) == (1.0, None)


def test_an_slo_without_data_yet_is_all_nulls(reader: Client) -> None:
    declare("api", Slo(objective=0.999, window=30 * 86400.0))
    error_budgets.refresh(T0)

    body = reader.get("/api/v1/dependencies/api").json()

    assert body["slo"] == {
        "objective": 0.999,
        "window": "30d",
        "min_checks": 3,
        "availability": None,
        "coverage": 0.0,
        "error_budget_remaining": None,
        "error_budget_remaining_minutes": None,
        "burn_rates": dict.fromkeys(error_budgets.BURN_WINDOWS),
        "checks": dict.fromkeys(error_budgets.BURN_WINDOWS, 0),
        "alert": None,
        "alert_rule": None,
    }
    assert (body["uptime_coverage"], body["error_budget_remaining"]) == ({}, None)


def test_without_an_slo_it_is_null(reader: Client) -> None:
    declare("api", None)
    probed(lambda name, at: True, T0 + timedelta(minutes=10))

    body = reader.get("/api/v1/dependencies/api").json()

    assert body["slo"] is None
    assert body["error_budget_remaining"] is None
    assert body["uptime_coverage"]["24h"] == pytest.approx(600, abs=1)


def test_the_list_carries_each_budget_left_in_the_same_two_queries(reader: Client) -> None:
    declare("flaky", Slo(objective=0.99, window=86400.0))
    declare("plain", None)
    probed(lambda name, at: name != "flaky" or at < T0 + timedelta(minutes=55), T0 + HOUR)
    reader.get("/api/v1/dependencies")  # the token's last use is written once a minute

    with CaptureQueriesContext(connection) as queries:
        listed = reader.get("/api/v1/dependencies").json()["dependencies"]

    budgets = {row["name"]: row["error_budget_remaining"] for row in listed}
    flaky = Dependency.objects.get(name="flaky").slo_figures["remaining"]
    assert budgets == {"flaky": flaky, "plain": None}
    assert flaky < 1
    assert len(queries) == 2
