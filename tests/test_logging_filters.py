"""Credentials never reach the log, at any LOG_LEVEL: client libraries that print whole
requests stay above DEBUG and INFO, and a filter on the handler blanks what still looks
like a credential."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from seahealth.logging_filters import REDACTED, RedactCredentialsFilter, redact_credentials
from tests.conftest import ROOT

pytestmark = pytest.mark.no_database

SIGNATURE = "0123456789abcdef" * 4
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENvalue0123"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        # botocore.endpoint at DEBUG: the signed request as a dict of bytes.
        (
            "Sending http request: <AWSPreparedRequest method=HEAD, headers={'X-Amz-Date': "
            f"b'20260101T000000Z', 'X-Amz-Security-Token': b'{TOKEN}', 'Authorization': "
            "b'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/s3/aws4_request, "
            f"SignedHeaders=host;x-amz-date, Signature={SIGNATURE}'}}>",
            [TOKEN, SIGNATURE, "AKIAEXAMPLE"],
        ),
        # botocore.auth at DEBUG: the canonical request and the signature.
        (f"CanonicalRequest:\nHEAD\n/b\n\nx-amz-security-token:{TOKEN}\n", [TOKEN]),
        (f"Signature:\n{SIGNATURE}", [SIGNATURE]),
        # A presigned URL.
        (
            f"GET /b/k?X-Amz-Credential=AKIAEXAMPLE%2F2026&X-Amz-Signature={SIGNATURE}"
            f"&X-Amz-Security-Token={TOKEN} HTTP/1.1",
            [TOKEN, SIGNATURE, "AKIAEXAMPLE"],
        ),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", ["eyJhbGciOiJIUzI1NiJ9"]),
        ("headers {'authorization': 'Basic dXNlcjpwYXNz'}", ["dXNlcjpwYXNz"]),
        ("sent with Bearer abc123def456", ["abc123def456"]),
        ("Cookie: sessionid=s3ss10nk3y; csrftoken=csrfvalue", ["s3ss10nk3y", "csrfvalue"]),
        ("AWS_SESSION_TOKEN=tok3n aws_secret_access_key = 'k3y'", ["tok3n", "k3y"]),
        ("connecting to postgres://seahealth:hunter2@db:5432/seahealth", ["hunter2"]),
    ],
)
def test_credential_looking_values_are_blanked(line: str, secret: list[str]) -> None:
    redacted = redact_credentials(line)
    assert REDACTED in redacted
    for value in secret:
        assert value not in redacted


@pytest.mark.parametrize(
    "line",
    [
        "Found credentials in environment variables.",
        "payments-api: up -> down (auth: token rejected by the server)",
        "GET /health/dependencies 200",
        "postgres://db:5432/seahealth",
    ],
)
def test_ordinary_lines_are_left_alone(line: str) -> None:
    assert redact_credentials(line) == line


def test_the_filter_blanks_arguments_and_tracebacks() -> None:
    try:
        raise ValueError(f"Authorization: Bearer {TOKEN}")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "headers=%s", ({"Authorization": TOKEN},), True
        )
        record.exc_info = sys.exc_info()
    assert RedactCredentialsFilter().filter(record)
    written = logging.Formatter().format(record)
    assert TOKEN not in written
    assert "ValueError" in written


def run_logged(code: str, **env: str) -> str:
    """Python `code` after django.setup(), with LOG_LEVEL=DEBUG: all it wrote, both streams."""
    completed = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "seahealth.settings",
            "LOG_LEVEL": "DEBUG",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout + completed.stderr


def test_client_libraries_stay_quiet_and_the_handler_redacts_whatever_logs() -> None:
    output = run_logged(
        "import logging\n"
        "logging.getLogger('botocore.endpoint').debug('botocore debug line')\n"
        "logging.getLogger('urllib3.connectionpool').info('urllib3 info line')\n"
        "logging.getLogger('django.db.backends').debug('sql debug line')\n"
        "logging.getLogger('seahealth.anything').debug('own debug line')\n"
        f"logging.getLogger('seahealth.anything').debug('sent %s', {{'X-Amz-Security-Token': "
        f"b'{TOKEN}'}})\n"
        "logging.getLogger('botocore.endpoint').warning('botocore warning line')\n"
    )
    assert "own debug line" in output  # LOG_LEVEL=DEBUG took effect
    assert "botocore warning line" in output
    for quiet in ("botocore debug line", "urllib3 info line", "sql debug line"):
        assert quiet not in output
    assert TOKEN not in output
    assert f"'X-Amz-Security-Token': b'{REDACTED}'" in output


@dataclass
class SignedMoto:
    """moto's S3 server on loopback (it takes any credentials by default), noting the
    signatures of the requests it is sent."""

    url: str
    signatures: list[str] = field(default_factory=list)

    def app(self, wsgi):
        def noting(environ, start_response):
            found = re.search(r"Signature=([0-9a-f]+)", environ.get("HTTP_AUTHORIZATION", ""))
            if found:
                self.signatures.append(found[1])
            return wsgi(environ, start_response)

        return noting


@pytest.fixture
def signed_moto() -> Iterator[SignedMoto]:
    moto = SignedMoto("")
    server = make_server(
        "127.0.0.1",
        0,
        moto.app(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    moto.url = f"http://127.0.0.1:{server.server_port}"
    yield moto
    server.shutdown()
    server.server_close()


def test_an_s3_probe_at_debug_logs_no_key_token_or_signature(
    signed_moto: SignedMoto, tmp_path: Path
) -> None:
    moto_url = signed_moto.url
    # moto keeps its buckets per process, where other tests made theirs: a name of its own.
    bucket = f"sea-log-test-{uuid.uuid4().hex[:12]}"
    keys = {"aws_access_key_id": "AKIAEXAMPLEKEYID0001", "aws_secret_access_key": "setup"}
    boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1", **keys).create_bucket(
        Bucket=bucket
    )
    declaration = tmp_path / "dependencies.yaml"
    declaration.write_text(
        "dependencies:\n"
        "  - name: documents\n"
        "    kind: s3\n"
        f"    bucket: {bucket}\n"
        "    region: us-east-1\n"
        f"    endpoint_url: {moto_url}\n"
        "    write_check: true\n"
        "    access_key_id: ${S3_KEY_ID}\n"
        "    secret_access_key: ${S3_SECRET}\n"
        "    session_token: ${S3_TOKEN}\n"
    )
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLESECRETKEY"
    completed = subprocess.run(
        [sys.executable, "manage.py", "probe", "documents", "--file", str(declaration)],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "DJANGO_SETTINGS_MODULE": "seahealth.settings",
            "LOG_LEVEL": "DEBUG",
            "PYTHONASYNCIODEBUG": "1",  # something certain to log at DEBUG
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "S3_KEY_ID": "AKIAEXAMPLEKEYID0001",
            "S3_SECRET": secret,
            "S3_TOKEN": TOKEN,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output  # the probe ran and succeeded: it signed requests
    assert "outcome  SUCCESS" in output
    assert " DEBUG asyncio: " in output  # and LOG_LEVEL=DEBUG was in force
    assert TOKEN not in output
    assert secret not in output
    # ListObjectsV2, and the canary's put, get and delete, each signed.
    assert len(signed_moto.signatures) >= 4
    for signature in signed_moto.signatures:
        assert signature not in output
