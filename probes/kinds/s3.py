"""S3 buckets (AWS or S3-compatible): HeadBucket, and optionally a canary object written,
read back and deleted."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
import ssl
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConfigParseError,
    ConnectionError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    HTTPClientError,
    InvalidConfigError,
    InvalidRegionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSLError,
    SSOError,
    TokenRetrievalError,
)

from probes import tls
from probes.classify import classify_network_error
from probes.context import ProbeContext
from probes.durations import format_duration
from probes.fields import Fields
from probes.kinds.http import check_url
from probes.outcomes import ErrorClass, Outcome, ProbeError
from probes.placeholders import PLACEHOLDER
from probes.redaction import redact_url

log = logging.getLogger(__name__)
T = TypeVar("T")

ADDRESSING_STYLES = ("auto", "path", "virtual")
CANARY_PREFIX = "seahealth-canary/"

# The naming rules for general purpose buckets: 3-63 characters, no '..', not an IP address.
_BUCKET = re.compile(r"(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_AUTH_CODES = {
    "AccessDenied",
    "AccountProblem",
    "AllAccessDisabled",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidToken",
    "SignatureDoesNotMatch",
    "TokenRefreshRequired",
}
_CONFIG_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ConfigParseError,
    InvalidConfigError,
    InvalidRegionError,
    # A bucket name from ${VAR} that botocore refuses.
    ParamValidationError,
)
_CREDENTIAL_ERRORS = (CredentialRetrievalError, TokenRetrievalError, SSOError)


@dataclass(frozen=True, kw_only=True)
class Spec:
    bucket: str
    region: str | None = None
    endpoint_url: str | None = None
    write_check: bool = False
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    profile: str | None = None
    addressing_style: str = "auto"


def parse(fields: Fields) -> Spec:
    bucket = fields.string("bucket")
    if isinstance(bucket, str) and not _BUCKET.fullmatch(bucket) and not _from_environment(bucket):
        fields.problem(
            "bucket",
            f"{bucket!r} is not an S3 bucket name: 3-63 lowercase letters, digits, '.' "
            "and '-', starting and ending with a letter or digit",
        )
    region = fields.string("region", None)
    if isinstance(region, str) and not _REGION.fullmatch(region) and not _from_environment(region):
        fields.problem("region", f"{region!r} is not a region name (like eu-west-1)")
    endpoint_url = check_url(fields, "endpoint_url", ("http", "https"), required=False)
    access_key_id = fields.string("access_key_id", None)
    secret_access_key = fields.secret("secret_access_key", None)
    session_token = fields.secret("session_token", None)
    if access_key_id is not None and secret_access_key is None:
        fields.problem("secret_access_key", "required when access_key_id is set")
    if secret_access_key is not None and access_key_id is None:
        fields.problem("access_key_id", "required when secret_access_key is set")
    if session_token is not None and access_key_id is None and secret_access_key is None:
        fields.problem("session_token", "needs access_key_id and secret_access_key")
    profile = fields.string("profile", None)
    if profile is not None and (access_key_id is not None or secret_access_key is not None):
        fields.problem(
            "profile", "set either profile or access_key_id and secret_access_key, not both"
        )
    return Spec(
        bucket=bucket,
        region=region,
        endpoint_url=endpoint_url,
        write_check=fields.boolean("write_check", False),
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        session_token=session_token,
        profile=profile,
        addressing_style=fields.string("addressing_style", "auto", choices=ADDRESSING_STYLES),
    )


def _from_environment(value: str) -> bool:
    """Whether `value` comes from the environment (${VAR}), to be checked when probed."""
    return bool(PLACEHOLDER.search(value))


def describe(spec: Spec) -> str:
    details = []
    if spec.endpoint_url:
        details.append(f"endpoint {redact_url(spec.endpoint_url)}")
    if spec.region:
        details.append(f"region {spec.region}")
    if spec.profile:
        details.append(f"profile {spec.profile}")
    if spec.write_check:
        details.append("write check")
    return f"s3://{spec.bucket}" + (f" ({', '.join(details)})" if details else "")


# --- clients --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientKey:
    """Everything that shapes a client; the bucket does not, so buckets share clients."""

    endpoint_url: str | None
    region: str | None
    profile: str | None
    addressing_style: str
    ca_file: str | None
    # The probe's timeout, as botocore's socket timeouts: the engine's deadline ends the
    # wait, these end the worker thread soon after.
    timeout: float
    access_key_id: str | None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)


# Sessions are not thread-safe; clients are. One build at a time, and one per key.
_BUILDING = threading.Lock()


def client(key: ClientKey) -> BaseClient:
    with _BUILDING:
        return shared_client(key)


@functools.lru_cache(maxsize=8)
def shared_session(profile: str | None) -> botocore.session.Session:
    return botocore.session.Session(profile=profile)


@functools.lru_cache(maxsize=32)
def shared_client(key: ClientKey) -> BaseClient:
    """Built once per process and configuration: a client costs tens of milliseconds."""
    session = shared_session(key.profile)
    # Not cached without credentials: they may appear later (instance metadata, a file).
    if key.access_key_id is None and session.get_credentials() is None:
        raise NoCredentialsError()
    built = session.create_client(
        "s3",
        region_name=key.region,
        endpoint_url=key.endpoint_url,
        verify=key.ca_file,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        aws_session_token=key.session_token,
        config=Config(
            connect_timeout=key.timeout,
            read_timeout=key.timeout,
            # One probe is one try.
            retries={"total_max_attempts": 1, "mode": "standard"},
            # "auto" leaves the profile's choice, if it makes one.
            s3=None
            if key.addressing_style == "auto"
            else {"addressing_style": key.addressing_style},
            # Checksums by default broke several S3-compatible stores; the canary is
            # compared whole anyway.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            user_agent_extra="seahealth",
        ),
    )
    built.meta.events.register("before-send.s3", _close_connection)
    return built


def _close_connection(request: Any, **kwargs: Any) -> None:
    # No keep-alive: every probe measures a full connect, as the http kind does, and never
    # fails on a pooled connection the server closed while it sat idle (no retries here).
    request.headers["Connection"] = "close"


def _client_key(spec: Spec, ctx: ProbeContext) -> ClientKey:
    return ClientKey(
        endpoint_url=spec.endpoint_url or None,
        region=spec.region or None,
        profile=spec.profile or None,
        addressing_style=spec.addressing_style,
        ca_file=ctx.ca_file or None,
        timeout=ctx.timeout,
        access_key_id=spec.access_key_id or None,
        secret_access_key=spec.secret_access_key or None,
        session_token=spec.session_token or None,
    )


# --- probing --------------------------------------------------------------------------


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    s3 = await _client(spec, ctx)
    observations: dict[str, Any] = {}
    warnings: list[str] = []
    endpoint = urlsplit(s3.meta.endpoint_url)
    tls_check = None
    if endpoint.scheme == "https":
        # boto3 hides its socket: the certificate is observed on a connection of our own,
        # at the same time.
        tls_check = asyncio.ensure_future(_observe_tls(endpoint, ctx, ctx.ssl_context))
    try:
        with ctx.step("HeadBucket"):
            head = await _call(ctx, spec, "HeadBucket", s3.head_bucket, Bucket=spec.bucket)
    except BaseException:
        if tls_check is not None:
            tls_check.cancel()
        raise
    region = head.get("BucketRegion") or _header(head, "x-amz-bucket-region")
    if region:
        observations["bucket_region"] = region
    if tls_check is not None:
        found, warning = await tls_check
        observations.update(found)
        if warning:
            warnings.append(warning)
    if spec.write_check:
        try:
            await _write_check(s3, spec, ctx)
        except ProbeError as exc:
            exc.observations = {**observations, **exc.observations}
            raise
        observations["write_check"] = "ok"
    return Outcome(observations=observations, warnings=tuple(warnings))


async def _client(spec: Spec, ctx: ProbeContext) -> BaseClient:
    try:
        return await ctx.run_blocking(client, _client_key(spec, ctx))
    except _CONFIG_ERRORS as exc:
        raise _config_error(exc) from exc
    except _CREDENTIAL_ERRORS as exc:
        raise ProbeError(ErrorClass.AUTH, f"cannot get credentials: {exc}") from exc
    except ValueError as exc:
        # botocore's word for an endpoint_url (from ${VAR}) that is not a URL.
        raise ProbeError(ErrorClass.CONFIG, "endpoint_url is not a valid URL") from exc


async def _observe_tls(
    endpoint: SplitResult, ctx: ProbeContext, ssl_context: ssl.SSLContext
) -> tuple[dict[str, Any], str | None]:
    """The certificate's observations, or why it could not be observed (a warning)."""
    host = endpoint.hostname or ""
    try:
        with ctx.step("TLS handshake"):
            return await tls.handshake(host, endpoint.port or 443, ssl_context), None
    except OSError as exc:  # ssl.SSLError included
        found = classify_network_error(exc)
        reason = found.detail if found else str(exc) or type(exc).__name__
        return {}, f"TLS certificate of {host} not observed: {reason}"


async def _call(
    ctx: ProbeContext, spec: Spec, operation: str, function: Callable[..., T], **params: Any
) -> T:
    """`function(**params)` in a worker thread, its failures as ProbeErrors."""
    try:
        return await ctx.run_blocking(functools.partial(function, **params))
    except ClientError as exc:
        raise _client_error(exc, spec, operation) from exc
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        raise ProbeError(
            ErrorClass.TIMEOUT, f"{operation}: no answer within {format_duration(ctx.timeout)}"
        ) from exc
    except SSLError as exc:
        found = classify_network_error(exc)
        raise found or ProbeError(ErrorClass.TLS, str(exc)) from exc
    except (ConnectionError, HTTPClientError) as exc:
        found = classify_network_error(exc)
        if found is None:
            error = ErrorClass.CONNECT if isinstance(exc, ConnectionError) else ErrorClass.PROTOCOL
            found = ProbeError(error, f"{operation}: {exc}")
        raise found from exc
    except _CONFIG_ERRORS as exc:
        raise _config_error(exc) from exc
    except _CREDENTIAL_ERRORS as exc:
        raise ProbeError(ErrorClass.AUTH, f"cannot get credentials: {exc}") from exc


def _config_error(exc: BotoCoreError) -> ProbeError:
    if isinstance(exc, NoCredentialsError):
        return ProbeError(
            ErrorClass.CONFIG,
            "no AWS credentials found: set access_key_id and secret_access_key (as ${VAR}), "
            "a profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
        )
    return ProbeError(ErrorClass.CONFIG, str(exc))


def _client_error(exc: ClientError, spec: Spec, operation: str) -> ProbeError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    region = _header(exc.response, "x-amz-bucket-region") or error.get("Region")
    observations = {"bucket_region": region} if region else {}
    if code == str(status):
        # A HEAD has no body: its code is the status, its message the reason phrase.
        answer = f"HTTP {status} {message}".strip()
    else:
        answer = f"HTTP {status} {code}" + (f": {message}" if message else "")
    if status in (401, 403) or code in _AUTH_CODES:
        return ProbeError(ErrorClass.AUTH, f"{operation}: {answer}", observations)
    if code == "NoSuchKey":
        return ProbeError(
            ErrorClass.UNEXPECTED_RESPONSE,
            f"{operation}: the canary object just written is not there ({answer})",
            observations,
        )
    if status == 404 or code == "NoSuchBucket":
        return ProbeError(
            ErrorClass.NOT_FOUND, f"bucket '{spec.bucket}' does not exist ({answer})", observations
        )
    if status == 301 or code == "PermanentRedirect":
        where = f"is in region {region}: set region: {region}" if region else "is elsewhere"
        return ProbeError(
            ErrorClass.UNEXPECTED_STATUS,
            f"bucket '{spec.bucket}' {where} ({operation}: {answer})",
            observations,
        )
    return ProbeError(ErrorClass.UNEXPECTED_STATUS, f"{operation}: {answer}", observations)


def _header(response: dict[str, Any], name: str) -> str | None:
    return response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(name)


# --- the write check ------------------------------------------------------------------

# Deletes of canaries whose probe gave up (its deadline) while it was being written.
_CLEANUP = ThreadPoolExecutor(max_workers=4, thread_name_prefix="seahealth-s3-cleanup")


async def _write_check(s3: BaseClient, spec: Spec, ctx: ProbeContext) -> None:
    canary = _Canary(s3, spec.bucket)
    try:
        with ctx.step("PutObject"):
            await _call(ctx, spec, "PutObject", canary.put)
        with ctx.step("GetObject"):
            found = await _call(ctx, spec, "GetObject", canary.read)
    except asyncio.CancelledError:
        canary.abandon()
        raise
    except ProbeError:
        # The first failure is the one to report; the delete is only tidying up.
        try:
            with ctx.step("DeleteObject"):
                await _call(ctx, spec, "DeleteObject", canary.delete)
        except ProbeError as exc:
            # Only the class: the log is not scrubbed of what came from ${VAR}.
            log.warning(
                "could not delete canary s3://%s/%s: %s", spec.bucket, canary.key, exc.error_class
            )
        raise
    with ctx.step("DeleteObject"):
        await _call(ctx, spec, "DeleteObject", canary.delete)
    if found != canary.body:
        raise ProbeError(
            ErrorClass.UNEXPECTED_RESPONSE,
            f"GetObject returned {len(found)} bytes that differ from the {len(canary.body)} "
            "written by PutObject",
        )


class _Canary:
    """A small object under CANARY_PREFIX, deleted even when the probe gives up on it."""

    def __init__(self, s3: BaseClient, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = f"{CANARY_PREFIX}{uuid.uuid4().hex}"
        self.body = secrets.token_hex(16).encode()
        self._lock = threading.Lock()
        self._put_over = False
        self._abandoned = False

    def put(self) -> None:
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=self.key, Body=self.body, ContentType="text/plain"
            )
        finally:
            with self._lock:
                self._put_over = True
                abandoned = self._abandoned
            if abandoned:
                self._delete_quietly()

    def read(self) -> bytes:
        body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"]
        try:
            # Never more than the canary, whatever the key holds.
            return body.read(len(self.body) + 1)
        finally:
            body.close()

    def delete(self) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.key)

    def abandon(self) -> None:
        """The probe gave up: delete once the put is over, by whoever sees it last."""
        with self._lock:
            self._abandoned = True
            put_over = self._put_over
        if put_over:
            _CLEANUP.submit(self._delete_quietly)

    def _delete_quietly(self) -> None:
        try:
            self.delete()
        except (BotoCoreError, ClientError) as exc:
            log.warning(
                "could not delete canary s3://%s/%s: %s", self.bucket, self.key, type(exc).__name__
            )
