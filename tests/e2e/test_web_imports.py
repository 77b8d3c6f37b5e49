"""A web process never loads the probe kinds' client libraries (boto3, botocore, web3): each
costs a third of a second and tens of megabytes in every gunicorn worker, and none is used
there. Checked in a fresh interpreter that serves every page of a dependency of each kind."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from probes.kinds import KINDS
from tests.conftest import ROOT
from tests.databases import subprocess_env
from tests.factories import make_dependency

pytestmark = pytest.mark.django_db(transaction=True)

HEAVY = ("boto3", "botocore", "web3")
SPECS = {
    "http": {"url": "https://api.example.com/health"},
    "rpc": {"url": "https://node.example.com", "chain_id": 1, "max_block_age": 60.0},
    "smtp": {"host": "mail.example.com", "port": 587, "tls": "starttls"},
    "s3": {"bucket": "documents", "region": "eu-west-1"},
    "heartbeat": {"token": "${TOKEN}", "expect_every": 3600.0},
    "webhook": {"signature": {"scheme": "standard-webhooks", "secret": "${S}"}, "up": ["ok"]},
}
SERVE = """
import json, sys
import django
django.setup()
from django.test import Client
client = Client()
answers = {}
heavy, *pages = sys.argv[1:]
for path in pages:
    for accept in ("text/html", "application/health+json"):
        answers[f"{path} {accept}"] = client.get(path, HTTP_ACCEPT=accept).status_code
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(heavy.split(",")))
print(json.dumps({"answers": answers, "loaded": loaded}))
"""


def test_serving_every_page_loads_no_client_library_of_a_kind() -> None:
    assert set(SPECS) == set(KINDS)  # a new kind is added here too
    pages = ["/", "/?kind=s3", "/health/dependencies", "/health/ready", "/metrics"]
    for name, spec in SPECS.items():
        make_dependency(f"a-{name}", kind=name, spec=spec, status="up", last_result="success")
        pages += [f"/dependencies/a-{name}/", f"/health/dependencies/a-{name}"]

    served = subprocess.run(
        [sys.executable, "-c", SERVE, ",".join(HEAVY), *pages],
        cwd=ROOT,
        env=subprocess_env(SEAHEALTH_PUBLIC_DASHBOARD="true", ALLOWED_HOSTS="testserver"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    found = json.loads(served.stdout.splitlines()[-1])
    assert set(found["answers"].values()) <= {200, 503}, found["answers"]
    assert found["loaded"] == []
