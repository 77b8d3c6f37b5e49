"""Secrets never leave in any form: peers that quote back everything they were sent (the
request line, the headers, the AUTH exchange), probed with canary secrets from ${VAR}s; then
every place seahealth writes or shows text is searched for each canary in every encoding."""

from __future__ import annotations

import base64
import html
import json
import logging
from io import StringIO
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from django.core.management import call_command
from django.test import Client

from probes.models import BreakerTransition, Dependency, ProbeResult
from tests.certificates import self_signed, server_context
from tests.servers import EchoingSMTPServer, LocalHTTPServer, Request, Route

pytestmark = pytest.mark.django_db(transaction=True)

# Each has characters that base64, percent-encoding and JSON escaping all change.
CANARIES = {
    "CANARY_PASSWORD": 'c4n4ry-P4ss/w0rd+"q"',
    "CANARY_TOKEN": "t0k3n-c4n4ry/ABC+d=f",
    "CANARY_QUERY": "q c4n4ry&v=é/x",
    "CANARY_KEY": "k3yc4n4ry0123456789abcdef",
    "CANARY_KEY_ID": "AKIAC4N4RY0123456789",
    "CANARY_S3_SECRET": "S3cr3t/K3y+c4n4ry0123456789",
    "CANARY_SESSION": "s3ss10n/T0k+n=c4n4ry",
}
USER = "monitor"


def s3_echo(request: Request) -> bytes:
    """S3's error document, its message quoting the whole request back."""
    return (
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
        f"<Message>{html.escape(request.text())}</Message></Error>"
    ).encode()


def rpc_echo(request: Request) -> bytes:
    """A JSON-RPC error to every call, quoting the whole request back."""
    calls = json.loads(request.body or b"{}")
    batch = calls if isinstance(calls, list) else [calls]
    errors = [
        {
            "jsonrpc": "2.0",
            "id": call.get("id"),
            "error": {"code": -32000, "message": request.text()},
        }
        for call in batch
    ]
    return json.dumps(errors if isinstance(calls, list) else errors[0]).encode()


@pytest.fixture
def echoing_peers(tmp_path: Path):
    http = LocalHTTPServer().start()
    http.routes["/json"] = Route(reply_to=lambda r: json.dumps({"echo": r.text()}).encode())
    http.routes["/reason"] = Route(status=500, reason=lambda r: r.text())
    http.routes[f"/v3/{CANARIES['CANARY_KEY']}"] = Route(reply_to=rpc_echo)
    # The listing passes; the canary's PUT (any other path) is refused, quoting it back.
    xml = {"Content-Type": "application/xml"}
    listing = b"<ListBucketResult><Name>docs</Name><MaxKeys>0</MaxKeys></ListBucketResult>"
    http.routes["/docs"] = Route(body=listing, headers=xml | {"x-amz-bucket-region": "eu-west-1"})
    http.routes["*"] = Route(status=403, headers=xml, reply_to=s3_echo)
    certificate = self_signed(tmp_path)
    smtp = EchoingSMTPServer(server_context(certificate))
    yield http, smtp, certificate
    http.stop()
    smtp.stop()


def textual_forms(value: str) -> set[str]:
    """`value` as an echo may quote it: written here, not taken from seahealth's code."""
    raw = value.encode()
    b64 = base64.b64encode(raw).decode()
    found = {value, b64, b64.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    for safe in ("", "/", "!$&'()*+,;=:@/?"):
        found |= {quote(value, safe=safe), quote(value, safe=safe).lower()}
    found |= {
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }
    found.add(html.escape(value))
    return found


def wire_forms(http: LocalHTTPServer, smtp: EchoingSMTPServer) -> set[str]:
    """The secret parts of what the peers received, exactly as they received them."""
    found = set()
    for _, path, headers in http.requests:
        if "token=" in path:
            found.add(path.split("token=", 1)[1].rsplit("&x=1", 1)[0])
        if "/v3/" in path:
            found.add(path.split("/v3/", 1)[1])
        authorization = headers.get("Authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256"):  # a signature is no secret
            found |= {authorization, authorization.partition(" ")[2]}
        found.add(headers.get("X-Amz-Security-Token", ""))
    found |= {line.split()[-1] for line in smtp.received if line.upper().startswith("AUTH PLAIN")}
    return {form for form in found if form}


def forms(http: LocalHTTPServer, smtp: EchoingSMTPServer) -> dict[str, set[str]]:
    """Every form of every canary, and of the credentials sent with one."""
    password = CANARIES["CANARY_PASSWORD"]
    found = {name: textual_forms(value) for name, value in CANARIES.items()}
    found["basic auth"] = textual_forms(f"{USER}:{password}")
    found["SASL PLAIN"] = textual_forms(f"\0{USER}\0{password}")
    found["on the wire"] = wire_forms(http, smtp)
    return found


def everything_shown(client: Client, names: list[str]) -> dict[str, str]:
    """What seahealth wrote or shows, by where."""
    shown = {
        "Dependency rows": repr(list(Dependency.objects.values())),
        "ProbeResult rows": repr(list(ProbeResult.objects.values())),
        "BreakerTransition rows": repr(list(BreakerTransition.objects.values())),
    }
    pages = ["/", "/health/dependencies", "/metrics", "/admin/probes/proberesult/"]
    pages += ["/status/", "/status/feed.atom", "/badges/service.svg"]
    for name in names:
        pages += [f"/dependencies/{name}/", f"/health/dependencies/{name}"]
        pages += [f"/badges/{name}/status.svg", f"/badges/{name}/uptime-24h.svg"]
        pages.append(f"/badges/{name}.json")
        pk = Dependency.objects.get(name=name).pk
        pages.append(f"/admin/probes/dependency/{pk}/change/")
    for page in pages:
        response = client.get(page, HTTP_ACCEPT="text/html")
        assert response.status_code in (200, 503), (page, response.status_code)
        shown[page] = response.content.decode()
    shown["health+json"] = client.get(
        "/health/dependencies", HTTP_ACCEPT="application/health+json"
    ).content.decode()
    for name in names:
        out = StringIO()
        with pytest.raises(SystemExit):
            call_command("probe", name, stdout=out, stderr=out)
        shown[f"manage.py probe {name}"] = out.getvalue()
    return shown


def test_no_canary_leaves_in_any_form(
    echoing_peers, declaration: Path, monkeypatch, caplog, admin_user
) -> None:
    http, smtp, certificate = echoing_peers
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CANARY_RPC_URL", f"{http.url('/v3/' + CANARIES['CANARY_KEY'])}?apikey=x")
    # Public, too: the public page, its feed and the badges are searched as well.
    common = "interval: 30s, timeout: 2s, breaker: {failure_threshold: 1}, public: true"
    declaration.write_text(
        f"""dependencies:
  - {{name: echo-json, kind: http, url: "{http.url("/json")}?token=${{CANARY_QUERY}}&x=1",
      basic_auth: {{username: {USER}, password: "${{CANARY_PASSWORD}}"}},
      expect_json: {{echo: never}}, {common}}}
  - {{name: echo-reason, kind: http, url: "{http.url("/reason")}",
      headers: {{Authorization: "Bearer ${{CANARY_TOKEN}}"}}, {common}}}
  - {{name: echo-rpc, kind: rpc, url: "${{CANARY_RPC_URL}}", {common}}}
  - {{name: echo-s3, kind: s3, bucket: docs, endpoint_url: "{http.url("")}", region: eu-west-1,
      addressing_style: path, write_check: true, access_key_id: "${{CANARY_KEY_ID}}",
      secret_access_key: "${{CANARY_S3_SECRET}}", session_token: "${{CANARY_SESSION}}", {common}}}
  - {{name: echo-smtp, kind: smtp, host: 127.0.0.1, port: {smtp.port}, tls: implicit,
      username: {USER}, password: "${{CANARY_PASSWORD}}", ca_file: "{certificate}", {common}}}
"""
    )
    client = Client()
    client.force_login(admin_user)

    with caplog.at_level(logging.DEBUG):
        call_command("runprobes", once=True)
        shown = everything_shown(
            client, ["echo-json", "echo-reason", "echo-rpc", "echo-s3", "echo-smtp"]
        )
    shown["logs"] = caplog.text

    # The peers did quote the secrets back, in the forms the canaries are looked for in.
    errors = dict(Dependency.objects.values_list("name", "last_error"))
    assert all("***" in error for error in errors.values()), errors
    assert any("AUTH PLAIN" in line for line in smtp.received)
    assert len(wire_forms(http, smtp)) >= 6
    leaks = [
        (where, canary, form)
        for where, text in shown.items()
        for canary, canary_forms in forms(http, smtp).items()
        for form in canary_forms
        if len(form) >= 4 and form in text
    ]
    assert leaks == []
