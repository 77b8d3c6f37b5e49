"""manage.py probe: one probe now, printed for a person, recorded nowhere."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from probes.models import Dependency, ProbeResult
from tests.servers import Route, unused_port

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("probe", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    return 0, out.getvalue()


def declare(path, url: str, **fields: str) -> None:
    extra = "".join(f", {key}: {value}" for key, value in fields.items())
    path.write_text(f"dependencies:\n  - {{name: api, kind: http, url: '{url}'{extra}}}\n")


def test_an_up_dependency_prints_its_steps_and_observations_and_exits_0(
    declaration, http_server
) -> None:
    declare(declaration, http_server.url(), critical="true")
    code, out = run("api", "--file", str(declaration))
    assert code == 0
    assert out.startswith("api (http, critical)\n")
    assert f"  target   GET {http_server.url()}\n" in out
    for step in ("connect", "send the request", "wait for the answer"):
        assert f"ok      {step}" in out
    assert "  status_code  200\n" in out
    assert "outcome  SUCCESS  in " in out
    assert Dependency.objects.count() == 0  # --file syncs nothing


def test_a_failing_dependency_from_the_database_exits_1_and_records_nothing(declaration) -> None:
    declare(declaration, f"http://127.0.0.1:{unused_port()}/health")
    call_command("sync_dependencies", stdout=StringIO())
    before = list(Dependency.objects.values())
    code, out = run("api")
    assert code == 1
    assert "outcome  FAILURE  connect: connection refused\n" in out
    assert "error class: connect" in out
    assert ProbeResult.objects.count() == 0
    assert list(Dependency.objects.values()) == before


def test_the_target_is_resolved_with_its_secrets_redacted(
    declaration, http_server, monkeypatch
) -> None:
    monkeypatch.setenv("API_KEY", "k-secret-0042")
    declare(declaration, http_server.url("/health?api_key=${API_KEY}&region=eu"))
    code, out = run("api", "--file", str(declaration))
    assert code == 0
    assert f"target   GET {http_server.url('/health')}?api_key=***&region=eu" in out
    assert "k-secret-0042" not in out
    assert http_server.requests[0][1] == "/health?api_key=k-secret-0042&region=eu"


def test_a_degraded_dependency_exits_1_with_its_warnings(declaration, http_server) -> None:
    http_server.routes["/health"] = Route(delay=0.2)
    declare(declaration, http_server.url(), max_latency="50ms")
    code, out = run("api", "--file", str(declaration))
    assert code == 1
    assert "outcome  DEGRADED  in " in out
    assert "over max_latency 50ms" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope",), "no dependency named 'nope' in the database (known: none)"),
        (("nope", "--file", "{file}"), "declares no dependency named 'nope'"),
    ],
)
def test_an_unknown_name_is_a_clear_error(declaration, args, message) -> None:
    declare(declaration, "http://127.0.0.1:9/")
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("probe", *(a.format(file=declaration) for a in args))


def test_the_target_shows_what_a_short_secret_also_spells(declaration, monkeypatch) -> None:
    # DEMO_S3_SECRET=demo once made the target `s3://***-documents`.
    monkeypatch.setenv("DEMO_S3_KEY_ID", "demo")
    monkeypatch.setenv("DEMO_S3_SECRET", "demo")
    declaration.write_text(
        "dependencies:\n  - {name: demo-documents, kind: s3, bucket: demo-documents,"
        f" endpoint_url: 'http://127.0.0.1:{unused_port()}', access_key_id: '${{DEMO_S3_KEY_ID}}',"
        " secret_access_key: '${DEMO_S3_SECRET}', timeout: 1s}\n"
    )

    _, out = run("demo-documents", "--file", str(declaration))

    assert "  target   s3://demo-documents (endpoint http://127.0.0.1:" in out
