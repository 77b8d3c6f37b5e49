"""The S3 probe against moto's S3-compatible server on loopback, run as the prober runs it.

The server enforces IAM: requests signed with unknown keys, or by a user whose policy
denies the action, get a real 403.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import boto3
import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from probes import tls
from probes.declarations import parse_declaration
from probes.engine import run_batch_sync
from probes.kinds import s3, s3_client
from probes.models import Dependency
from probes.outcomes import ErrorClass, Outcome, Result
from tests.certificates import self_signed, server_context
from tests.conftest import entry_problems
from tests.factories import make_job
from tests.servers import (
    DrippingServer,
    HangingServer,
    LoopbackServer,
    Route,
    pump,
    unused_port,
)
from tests.threads import busy_probe_threads

pytestmark = pytest.mark.no_database  # its django_db tests run in both passes all the same

BUCKET = "sea-documents"  # in eu-west-1
CANARIES = "sea-canaries"
CREDENTIALS = {"access_key_id": "${S3_KEY_ID}", "secret_access_key": "${S3_SECRET}"}
ALLOW_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
DENY_PUT = {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}


@dataclass(frozen=True)
class Keys:
    id: str
    secret: str

    @property
    def environ(self) -> dict[str, str]:
        return {"S3_KEY_ID": self.id, "S3_SECRET": self.secret}


@dataclass(frozen=True)
class Moto:
    url: str
    prober: Keys  # may do anything
    no_writer: Keys  # may do anything but PutObject
    nobody: Keys  # may do nothing

    def admin(self) -> boto3.client:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.prober.id,
            aws_secret_access_key=self.prober.secret,
        )

    def canaries_left(self, bucket: str = CANARIES) -> list[str]:
        listed = self.admin().list_objects_v2(Bucket=bucket, Prefix=s3.CANARY_PREFIX)
        return [item["Key"] for item in listed.get("Contents", [])]


def _user(iam, name: str, *statements: dict) -> Keys:
    iam.create_user(UserName=name)
    if statements:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Keys(key["AccessKeyId"], key["SecretAccessKey"])


def _enforce_iam(url: str, after: str) -> str:
    """Enforce IAM after `after` more unchecked requests ("inf": never); the previous value."""
    answer = requests.post(f"{url}/moto-api/reset-auth", data=after.encode(), timeout=5)
    answer.raise_for_status()
    return answer.json()["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its state per process, not per server: this module's fixture is set up
    # again when pytest-django runs its transactional test apart from the others.
    requests.post(f"{url}/moto-api/reset", timeout=5).raise_for_status()
    before = _enforce_iam(url, "inf")  # set up unchecked, then enforce
    setup = {"endpoint_url": url, "region_name": "us-east-1"}
    setup |= {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", **setup)
    moto = Moto(
        url=url,
        prober=_user(iam, "prober", ALLOW_ALL),
        no_writer=_user(iam, "no-writer", ALLOW_ALL, DENY_PUT),
        nobody=_user(iam, "nobody"),
    )
    admin = boto3.client("s3", **setup)
    admin.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    admin.create_bucket(Bucket=CANARIES)
    _enforce_iam(url, "0")
    yield moto
    _enforce_iam(url, before)
    server.stop()
    werkzeug_log.setLevel(level)


@pytest.fixture(autouse=True)
def isolated_aws(monkeypatch, tmp_path: Path) -> Iterator[None]:
    """No credentials or config from the host, no instance metadata, and fresh clients."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CA_BUNDLE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3_client.shared_client.cache_clear()
    s3_client.shared_session.cache_clear()
    yield
    s3_client.shared_client.cache_clear()
    s3_client.shared_session.cache_clear()


def probe(
    spec: dict, environ: dict | None = None, timeout: float = 3.0, ca_file: str = ""
) -> Outcome:
    job = make_job("s3", spec, name="documents", timeout=timeout, ca_file=ca_file)
    [(_, outcome)] = run_batch_sync([job], environ=environ or {})
    return outcome


def steps(outcome: Outcome) -> list[tuple[str, bool]]:
    return [(step.name, step.ok) for step in outcome.steps]


def test_an_existing_bucket_is_up(moto: Moto) -> None:
    outcome = probe(
        {"bucket": BUCKET, "endpoint_url": moto.url, **CREDENTIALS}, moto.prober.environ
    )
    assert outcome.result is Result.SUCCESS, outcome.error
    # moto sends no x-amz-bucket-region with a listing (AWS does: tested below on a peer).
    assert outcome.observations == {}
    assert steps(outcome) == [("ListObjectsV2", True)]
    # ListObjectsV2's wait for its answer: not the signing before it.
    [head] = outcome.steps
    assert 0 < outcome.latency_ms <= head.ms


LISTING = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>'
    + BUCKET.encode()
    + b"</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>0</MaxKeys>"
    b"<IsTruncated>false</IsTruncated></ListBucketResult>"
)


@pytest.mark.parametrize(
    ("route", "detail"),
    [
        (
            Route(
                200, b"<!doctype html><p>Welcome to nginx!", headers={"Content-Type": "text/html"}
            ),
            "ListObjectsV2: not an S3 answer",
        ),
        (
            Route(
                200, b"<html><body>It works</body></html>", headers={"Content-Type": "text/html"}
            ),
            "ListObjectsV2: not an S3 answer (no bucket listing): is endpoint_url an S3 store?",
        ),
        (
            Route(200, b"", headers={}),
            "ListObjectsV2: not an S3 answer (no bucket listing): is endpoint_url an S3 store?",
        ),
    ],
    ids=["html", "well-formed-xml", "empty"],
)
def test_a_web_server_answering_200_is_not_taken_for_s3(http_server, route, detail) -> None:
    http_server.routes["*"] = route
    spec = {"bucket": BUCKET, "endpoint_url": http_server.url(""), **CREDENTIALS}
    outcome = probe(spec, {"S3_KEY_ID": "AKIAPOSING", "S3_SECRET": "posing"})
    assert (outcome.error_class, outcome.detail) == (ErrorClass.PROTOCOL, detail)


def test_a_listing_is_s3_and_its_region_header_is_observed(http_server) -> None:
    # As AWS answers a listing: with the bucket's region (moto leaves the header out).
    headers = {"Content-Type": "application/xml", "x-amz-bucket-region": "eu-north-1"}
    http_server.routes["*"] = Route(200, LISTING, headers=headers)
    spec = {"bucket": BUCKET, "endpoint_url": http_server.url(""), **CREDENTIALS}
    outcome = probe(spec, {"S3_KEY_ID": "AKIAPOSING", "S3_SECRET": "posing"})
    assert outcome.result is Result.SUCCESS, outcome.error
    assert outcome.observations == {"bucket_region": "eu-north-1"}
    [(method, path, _)] = http_server.requests
    assert (method, path) == ("GET", f"/{BUCKET}?list-type=2&max-keys=0&encoding-type=url")


def test_a_missing_bucket_is_not_found(moto: Moto) -> None:
    spec = {"bucket": "no-such-bucket", "endpoint_url": moto.url, **CREDENTIALS}
    outcome = probe(spec, moto.prober.environ)
    assert outcome.error_class is ErrorClass.NOT_FOUND
    assert outcome.detail == (
        "bucket 'no-such-bucket' does not exist "
        "(HTTP 404 NoSuchBucket: The specified bucket does not exist)"
    )
    assert steps(outcome) == [("ListObjectsV2", False)]


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("unknown key id", "InvalidAccessKeyId"),
        ("wrong secret", "SignatureDoesNotMatch"),
        ("a user allowed nothing", "AccessDenied"),
    ],
)
def test_a_refused_request_is_an_auth_error(moto: Moto, who: str, code: str) -> None:
    keys = {
        "unknown key id": Keys("AKIAUNKNOWNUNKNOWN00", moto.prober.secret),
        "wrong secret": Keys(moto.prober.id, "not-the-secret-key-at-all"),
        "a user allowed nothing": moto.nobody,
    }[who]
    outcome = probe({"bucket": BUCKET, "endpoint_url": moto.url, **CREDENTIALS}, keys.environ)
    assert outcome.error_class is ErrorClass.AUTH
    assert outcome.detail.startswith(f"ListObjectsV2: HTTP 403 {code}")


def test_the_write_check_puts_reads_and_deletes_a_canary(moto: Moto) -> None:
    spec = {"bucket": CANARIES, "endpoint_url": moto.url, "write_check": True, **CREDENTIALS}
    outcome = probe(spec, moto.prober.environ)
    assert outcome.result is Result.SUCCESS, outcome.error
    assert outcome.observations == {"write_check": "ok"}
    assert steps(outcome) == [
        ("ListObjectsV2", True),
        ("PutObject", True),
        ("GetObject", True),
        ("DeleteObject", True),
    ]
    assert moto.canaries_left() == []


def test_a_denied_put_is_an_auth_error_and_the_delete_is_still_tried(moto: Moto) -> None:
    spec = {"bucket": CANARIES, "endpoint_url": moto.url, "write_check": True, **CREDENTIALS}
    outcome = probe(spec, moto.no_writer.environ)
    assert outcome.error_class is ErrorClass.AUTH
    assert outcome.detail.startswith("PutObject: HTTP 403 AccessDenied")
    assert outcome.observations == {}
    assert steps(outcome) == [("ListObjectsV2", True), ("PutObject", False), ("DeleteObject", True)]
    assert moto.canaries_left() == []


def test_an_endpoint_where_nothing_listens_is_a_connect_error(moto: Moto) -> None:
    spec = {"bucket": BUCKET, "endpoint_url": f"http://127.0.0.1:{unused_port()}", **CREDENTIALS}
    outcome = probe(spec, moto.prober.environ)
    assert (outcome.error_class, outcome.detail) == (ErrorClass.CONNECT, "connection refused")
    assert steps(outcome) == [("ListObjectsV2", False)]


def test_a_peer_that_accepts_and_never_answers_is_a_timeout_at_the_deadline(
    hanging_server: HangingServer,
) -> None:
    spec = {"bucket": BUCKET, "endpoint_url": hanging_server.url(path=""), **CREDENTIALS}
    started = time.monotonic()
    # Long enough for boto3 to build its client on a loaded machine: the peer is asked
    # only then.
    outcome = probe(spec, {"S3_KEY_ID": "AKIAHANGING", "S3_SECRET": "hanging"}, timeout=2)
    elapsed = time.monotonic() - started
    assert outcome.error_class is ErrorClass.TIMEOUT
    assert outcome.detail == "no answer within 2s (ListObjectsV2)"
    assert elapsed < 2 + 1.5  # the deadline, not the client's own read timeout
    # No thread waited on the peer: the exchange ran on the event loop.
    assert busy_probe_threads() == []


class ThreadPeak:
    """The most threads this process ran at once while it was open."""

    def __init__(self) -> None:
        self.peak = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stopped.wait(0.005):
            self.peak = max(self.peak, threading.active_count())

    def __enter__(self) -> ThreadPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join()


@pytest.mark.django_db(transaction=True)
def test_200_dripping_peers_beside_a_healthy_bucket_leave_it_up_and_use_few_threads(
    moto: Moto, declaration: Path, settings, monkeypatch
) -> None:
    # The fault matrix of issue 9: a thread per dripping probe, then healthy buckets timed
    # out queued behind 100 of them.
    settings.SEAHEALTH_MAX_IN_FLIGHT = 300  # all in one go
    for name, value in moto.prober.environ.items():
        monkeypatch.setenv(name, value)
    dripping = DrippingServer()
    keys = "access_key_id: '${S3_KEY_ID}', secret_access_key: '${S3_SECRET}'"
    entries = [
        f"  - {{name: healthy, kind: s3, bucket: {BUCKET}, endpoint_url: '{moto.url}', {keys}}}\n"
    ]
    entries += [
        f"  - {{name: dripping-{n}, kind: s3, bucket: documents, "
        f"endpoint_url: '{dripping.url('')}', {keys}}}\n"
        for n in range(200)
    ]
    declaration.write_text(
        "defaults: {timeout: 2s, interval: 30s}\ndependencies:\n" + "".join(entries)
    )
    call_command("sync_dependencies", stdout=StringIO())
    # The healthy bucket goes last, after every dripping peer has taken what it takes.
    now = timezone.now()
    Dependency.objects.update(next_due_at=now - timedelta(minutes=1))
    Dependency.objects.filter(name="healthy").update(next_due_at=now - timedelta(seconds=1))
    before = threading.active_count()
    try:
        with ThreadPeak() as threads:
            call_command("runprobes", once=True)
        left_open = dripping.wait_until_closed(1)
    finally:
        dripping.stop()
    assert Dependency.objects.get(name="healthy").status == "up"
    errors = Dependency.objects.exclude(name="healthy").values_list("last_error", flat=True)
    assert set(errors) == {"timeout: no answer within 2s (ListObjectsV2)"}
    assert len(dripping.connections) == 200
    assert left_open == []
    assert busy_probe_threads() == []
    # The old probe held a thread per dripping peer, up to its pool of 100 (105 threads here,
    # and the healthy bucket timed out). Now none waits on a peer: a few workers for
    # signing, the database's thread, moto's request threads, this test's sampler.
    assert threads.peak - before < 30, (before, threads.peak)


class DelayingProxy(LoopbackServer):
    """Forwards connections to `port`, holding back the answer to each PUT for `delay` seconds."""

    def __init__(self, port: int, delay: float) -> None:
        self.target = port
        self.delay = delay
        self.requests: list[str] = []  # request lines, in the order they were forwarded
        super().__init__()
        self.url = self.url_base

    def handle(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.target)) as upstream:
            first = client.recv(65536)
            self.requests.append(first.split(b"\r\n", 1)[0].decode())
            upstream.sendall(first)
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            if first.startswith(b"PUT "):
                time.sleep(self.delay)
            pump(upstream, client)


def test_a_canary_whose_probe_timed_out_during_the_put_is_deleted_all_the_same(
    moto: Moto,
) -> None:
    # The PUT held past the deadline; the deadline long enough for ListObjectsV2 before it on a
    # loaded machine (at 1 s, CI's once ran out during ListObjectsV2).
    proxy = DelayingProxy(int(moto.url.rsplit(":", 1)[1]), delay=5)
    spec = {"bucket": CANARIES, "endpoint_url": proxy.url, "write_check": True, **CREDENTIALS}
    try:
        outcome = probe(spec, moto.prober.environ, timeout=3)
        assert outcome.error_class is ErrorClass.TIMEOUT
        assert outcome.detail == "no answer within 3s (PutObject)"
        started = time.monotonic()
        while not any(line.startswith("DELETE ") for line in proxy.requests):
            assert time.monotonic() - started < 20, proxy.requests
            time.sleep(0.05)
    finally:
        proxy.stop()
    listing, put, delete = proxy.requests
    assert listing.startswith(f"GET /{CANARIES}?list-type=2&max-keys=0")
    assert put.startswith(f"PUT /{CANARIES}/{s3.CANARY_PREFIX}")
    assert delete == put.replace("PUT", "DELETE", 1)
    assert moto.canaries_left() == []


class RegionCheckingProxy(LoopbackServer):
    """Forwards connections to `port`, as AWS does to requests signed for the bucket's
    region; to a request signed for another it answers 301 and the bucket's region.

    `regions`: the bucket's region as each request finds it (the last one stays).
    """

    def __init__(self, port: int, *regions: str) -> None:
        self.target = port
        self.regions = list(regions)
        self.signed_for: list[str] = []  # the region of each request, in order
        super().__init__()
        self.url = self.url_base

    def handle(self, client: socket.socket) -> None:
        with client:
            first = client.recv(65536)
            found = re.search(rb"Credential=[^/]+/\d+/([^/]+)/s3/", first)
            self.signed_for.append(found[1].decode() if found else "")
            region = self.regions.pop(0) if len(self.regions) > 1 else self.regions[0]
            if self.signed_for[-1] != region:
                client.sendall(
                    b"HTTP/1.1 301 Moved Permanently\r\nx-amz-bucket-region: "
                    + region.encode()
                    + b"\r\nContent-Length: 0\r\n\r\n"
                )
                return
            with socket.create_connection(("127.0.0.1", self.target)) as upstream:
                upstream.sendall(first)
                threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
                pump(upstream, client)


def test_a_bucket_in_another_region_is_asked_there_and_the_region_remembered(moto: Moto) -> None:
    proxy = RegionCheckingProxy(int(moto.url.rsplit(":", 1)[1]), "eu-west-1")
    spec = {"bucket": BUCKET, "endpoint_url": proxy.url, **CREDENTIALS}  # region: us-east-1
    try:
        first = probe(spec, moto.prober.environ)
        second = probe(spec, moto.prober.environ)
    finally:
        proxy.stop()
    assert first.ok, first.error
    assert first.observations == {"bucket_region": "eu-west-1"}
    assert second.ok, second.error
    # As boto3 would: asked once where it was told, then there from the start.
    assert proxy.signed_for == ["us-east-1", "eu-west-1", "eu-west-1"]


def test_a_bucket_redirected_twice_in_one_probe_is_an_unexpected_status(moto: Moto) -> None:
    proxy = RegionCheckingProxy(int(moto.url.rsplit(":", 1)[1]), "eu-west-1", "eu-central-1")
    spec = {"bucket": BUCKET, "endpoint_url": proxy.url, **CREDENTIALS}
    try:
        outcome = probe(spec, moto.prober.environ)
    finally:
        proxy.stop()
    assert outcome.error_class is ErrorClass.UNEXPECTED_STATUS
    assert outcome.detail == (
        f"bucket '{BUCKET}' is in region eu-central-1: set region: eu-central-1 "
        "(ListObjectsV2: HTTP 301 Moved Permanently)"
    )
    assert proxy.signed_for == ["us-east-1", "eu-west-1"]


@pytest.mark.parametrize("case", ["success", "write check", "refused", "unreachable"])
def test_the_secret_key_never_appears_in_the_outcome(moto: Moto, case: str) -> None:
    secret = moto.prober.secret if case != "refused" else "a-wrong-secret-that-must-not-leak"
    environ = {"S3_KEY_ID": moto.prober.id, "S3_SECRET": secret}
    endpoint = moto.url if case != "unreachable" else f"http://127.0.0.1:{unused_port()}"
    spec = {"bucket": CANARIES, "endpoint_url": endpoint, **CREDENTIALS}
    outcome = probe({**spec, "write_check": case == "write check"}, environ)
    assert outcome.ok is (case in {"success", "write check"})
    shown = repr((outcome.detail, outcome.warnings, outcome.observations, outcome.steps))
    assert secret not in shown
    assert secret not in s3.describe(s3.Spec(**spec))


def test_one_client_serves_every_probe_and_bucket_of_the_same_configuration(moto: Moto) -> None:
    spec = {"bucket": BUCKET, "endpoint_url": moto.url, **CREDENTIALS}
    for bucket in (BUCKET, BUCKET, CANARIES):
        assert probe({**spec, "bucket": bucket}, moto.prober.environ).ok
    info = s3_client.shared_client.cache_info()
    assert (info.misses, info.hits, info.currsize) == (1, 2, 1)

    assert probe({**spec, "region": "eu-west-1"}, moto.prober.environ).ok
    assert probe({**spec, "region": "eu-west-1"}, moto.prober.environ).ok
    assert s3_client.shared_client.cache_info().misses == 2
    assert s3_client.shared_client.cache_info().currsize == 2


def test_credentials_come_from_the_environment_by_default(moto: Moto, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.prober.id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.prober.secret)
    outcome = probe({"bucket": BUCKET, "endpoint_url": moto.url})
    assert outcome.ok, outcome.error


def test_credentials_come_from_a_profile_of_the_shared_files(
    moto: Moto, monkeypatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[monitoring]\n"
        f"aws_access_key_id = {moto.no_writer.id}\n"
        f"aws_secret_access_key = {moto.no_writer.secret}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    spec = {"bucket": CANARIES, "endpoint_url": moto.url, "profile": "monitoring"}
    assert probe(spec).ok
    # The profile's user, not another: this one may not write.
    assert probe({**spec, "write_check": True}).error_class is ErrorClass.AUTH


@pytest.mark.parametrize(
    ("environ", "profile", "detail"),
    [
        ({}, None, "no AWS credentials found"),
        ({"AWS_ACCESS_KEY_ID": "AKIAONLYTHEKEY"}, None, "Partial credentials found in env"),
        ({}, "nowhere", "The config profile (nowhere) could not be found"),
    ],
)
def test_missing_credentials_are_a_config_error(
    moto: Moto, monkeypatch, environ: dict, profile: str | None, detail: str
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    spec = {"bucket": BUCKET, "endpoint_url": moto.url, "profile": profile}
    outcome = probe(spec)
    assert outcome.error_class is ErrorClass.CONFIG
    assert outcome.detail.startswith(detail)
    assert s3_client.shared_client.cache_info().currsize == 0  # tried again at the next probe


@pytest.mark.parametrize(
    ("environ", "detail"),
    [
        ({"BUCKET": "Not A Bucket!"}, "Invalid bucket name"),
        ({"BUCKET": BUCKET, "ENDPOINT": "not a url"}, "endpoint_url is not a valid URL"),
    ],
)
def test_values_from_the_environment_that_do_not_fit_are_a_config_error(
    moto: Moto, environ: dict, detail: str
) -> None:
    spec = {"bucket": "${BUCKET}", "endpoint_url": "${ENDPOINT}", **CREDENTIALS}
    outcome = probe(spec, {"ENDPOINT": moto.url, **environ, **moto.prober.environ})
    assert outcome.error_class is ErrorClass.CONFIG
    assert detail in outcome.detail


# --- an https endpoint: moto's application behind TLS -----------------------------------


@pytest.fixture(scope="module")
def tls_moto(moto: Moto, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """moto over https, with a self-signed certificate that ends in 5 days.

    The same process, so the same users and buckets as `moto`, which sets them up.
    """
    cert = self_signed(tmp_path_factory.mktemp("moto-tls"), days=5)
    server = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
        ssl_context=server_context(cert),
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_port}", cert
    server.shutdown()
    server.server_close()


def test_an_https_endpoint_reports_its_certificate_and_its_coming_expiry(
    moto: Moto, tls_moto: tuple[str, Path]
) -> None:
    url, cert = tls_moto
    spec = {"bucket": BUCKET, "endpoint_url": url, **CREDENTIALS}
    outcome = probe(spec, moto.prober.environ, ca_file=str(cert))
    assert outcome.ok, outcome.error
    assert outcome.observations[tls.SUBJECT] == "127.0.0.1"
    assert outcome.observations[tls.VERSION].startswith("TLSv1.")
    expires = tls.not_after(outcome.observations)
    assert expires is not None
    assert abs(expires - (datetime.now(UTC) + timedelta(days=5))) < timedelta(hours=1)
    assert outcome.result is Result.DEGRADED  # within the default cert_expiry_warn, 14 days
    assert outcome.warnings[0].startswith("TLS certificate expires in 5 days")
    # The certificate is read off ListObjectsV2's own connection: no handshake of its own.
    assert steps(outcome) == [("ListObjectsV2", True)]


def test_an_untrusted_certificate_is_a_tls_error(moto: Moto, tls_moto: tuple[str, Path]) -> None:
    url, _ = tls_moto
    outcome = probe({"bucket": BUCKET, "endpoint_url": url, **CREDENTIALS}, moto.prober.environ)
    assert outcome.error_class is ErrorClass.TLS
    assert outcome.detail == "certificate verify failed: self-signed certificate"


# --- the declaration ------------------------------------------------------------------


def parse(fields: str) -> list[str]:
    return entry_problems(f"name: docs, kind: s3, {fields}")


def test_reads_every_field_and_keeps_placeholders() -> None:
    text = """
dependencies:
  - name: documents
    kind: s3
    bucket: sea-documents
    region: eu-west-1
    endpoint_url: ${S3_ENDPOINT}
    write_check: true
    access_key_id: ${S3_KEY_ID}
    secret_access_key: ${S3_SECRET}
    session_token: ${S3_TOKEN}
    addressing_style: path
"""
    [spec] = parse_declaration(text, "d.yaml")
    assert spec.target == s3.Spec(
        bucket="sea-documents",
        region="eu-west-1",
        endpoint_url="${S3_ENDPOINT}",
        write_check=True,
        access_key_id="${S3_KEY_ID}",
        secret_access_key="${S3_SECRET}",
        session_token="${S3_TOKEN}",
        addressing_style="path",
    )
    assert spec.row_values()["spec"]["secret_access_key"] == "${S3_SECRET}"


def test_a_bucket_alone_is_enough() -> None:
    [spec] = parse_declaration("dependencies: [{name: d, kind: s3, bucket: docs}]\n", "d.yaml")
    assert spec.target == s3.Spec(bucket="docs")
    assert (spec.target.write_check, spec.target.addressing_style) == (False, "auto")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ("region: eu-west-1", "bucket: required"),
        ("bucket: My_Bucket", "bucket: 'My_Bucket' is not an S3 bucket name"),
        ("bucket: ab", "bucket: 'ab' is not an S3 bucket name"),
        ("bucket: docs.", "bucket: 'docs.' is not an S3 bucket name"),
        ("bucket: a..b", "bucket: 'a..b' is not an S3 bucket name"),
        ("bucket: 192.168.10.1", "bucket: '192.168.10.1' is not an S3 bucket name"),
        ("bucket: docs, region: 'eu west 1'", "region: 'eu west 1' is not a region name"),
        (
            "bucket: docs, endpoint_url: 'minio:9000'",
            "endpoint_url: 'minio:9000' is not an http:// or https:// URL",
        ),
        (
            "bucket: docs, endpoint_url: 'https://key:secret@minio.example.com'",
            "endpoint_url: the credentials in the URL must not be written out",
        ),
        (
            "bucket: docs, access_key_id: AKIAEXAMPLE, secret_access_key: wJalrXUtnFEMI",
            "secret_access_key: holds a credential written out: write it as ${VAR}",
        ),
        (
            "bucket: docs, session_token: FwoGZXIvYXdzE, "
            "access_key_id: '${K}', secret_access_key: '${S}'",
            "session_token: holds a credential written out: write it as ${VAR}",
        ),
        ("bucket: docs, access_key_id: '${K}'", "secret_access_key: required when access_key_id"),
        ("bucket: docs, secret_access_key: '${S}'", "access_key_id: required when secret_access"),
        ("bucket: docs, session_token: '${T}'", "session_token: needs access_key_id and secret"),
        (
            "bucket: docs, profile: ops, access_key_id: '${K}', secret_access_key: '${S}'",
            "profile: set either profile or access_key_id and secret_access_key, not both",
        ),
        (
            "bucket: docs, addressing_style: dns",
            "addressing_style: 'dns' is not one of: auto, path, virtual",
        ),
        ("bucket: docs, write_check: sometimes", "write_check: expected true or false"),
        ("bucket: docs, buckett: docs", "buckett: unknown field (did you mean 'bucket'?)"),
    ],
)
def test_refuses(fields: str, problem: str) -> None:
    problems = parse(fields)
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize(
    ("spec", "described"),
    [
        (s3.Spec(bucket="docs"), "s3://docs"),
        (
            s3.Spec(
                bucket="docs",
                endpoint_url="http://127.0.0.1:9000",
                region="eu-west-1",
                write_check=True,
                **CREDENTIALS,
            ),
            "s3://docs (endpoint http://127.0.0.1:9000, region eu-west-1, write check)",
        ),
        (
            s3.Spec(bucket="docs", endpoint_url="https://${MINIO_AUTH}@minio.example.com"),
            "s3://docs (endpoint https://${MINIO_AUTH}@minio.example.com)",
        ),
        (s3.Spec(bucket="docs", profile="monitoring"), "s3://docs (profile monitoring)"),
    ],
)
def test_describes_the_bucket_without_secrets(spec: s3.Spec, described: str) -> None:
    assert s3.describe(spec) == described
