"""gunicorn on a database that refuses connections: /metrics and the health endpoints that
read the state answer 503 "database unavailable", never a 500 and never the database's
address; the driver's text goes to the log, once; /health/live still answers 200."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.site import Site
from tests.servers import unused_port

pytestmark = pytest.mark.django_db(transaction=True)

SCRAPES = 5  # each endpoint asked this often: the log says it once all the same


def down_databases() -> list[tuple[str, str, list[str]]]:
    port = unused_port()  # nobody listens there
    return [
        (
            "postgres",
            f"postgres://seahealth:hunter2@127.0.0.1:{port}/seahealth_prod",
            ["127.0.0.1", str(port), "seahealth_prod", "hunter2"],
        ),
        (
            "sqlite",
            "sqlite:////nonexistent-seahealth-dir/seahealth.sqlite3",
            ["nonexistent-seahealth-dir", "seahealth.sqlite3"],
        ),
    ]


@pytest.mark.parametrize(
    ("kind", "url", "hidden"), down_databases(), ids=["refused-postgresql", "unopenable-sqlite"]
)
def test_a_refused_database_is_a_503_with_the_reason_and_its_text_is_logged_once(
    site: Site, kind: str, url: str, hidden: list[str]
) -> None:
    site.start(DATABASE_URL=url)  # it waits for /health/live: 200 without a database
    with httpx.Client(base_url=site.url, timeout=10, trust_env=False) as http:
        for _ in range(SCRAPES):
            metrics = http.get("/metrics")
            assert metrics.status_code == 503
            assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert metrics.headers["Cache-Control"] == "no-store"
            assert metrics.text == "# database unavailable: no metrics can be read\n"
            for path in ("/health/dependencies", "/health/ready", "/health/dependencies/x"):
                answer = http.get(path)
                assert answer.status_code == 503, path
                assert answer.json() == {"status": "fail", "error": "database unavailable"}
                for word in hidden:
                    assert word not in answer.text
            assert http.get("/health/live").status_code == 200

    log = site.processes[-1].output()
    failures = [line for line in log.splitlines() if "ERROR" in line]
    # One worker, one failure: one line, with the driver's reason, and no 500 logged.
    assert len(failures) == 1, log
    assert "database unavailable: OperationalError" in failures[0]
    reason = "Connection refused" if kind == "postgres" else "unable to open database file"
    assert reason in failures[0]
    assert '" 500 ' not in log
