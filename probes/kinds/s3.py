"""S3 buckets (AWS or S3-compatible): HeadBucket, and optionally a canary object written,
read back and deleted."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
import secrets
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import httpx
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConfigParseError,
    CredentialRetrievalError,
    InvalidConfigError,
    InvalidRegionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)
from botocore.parsers import ResponseParserError

from probes import leftovers
from probes.context import ProbeContext, new_http_client
from probes.fields import Fields
from probes.kinds import s3_exchange
from probes.kinds.http import check_url, classify_httpx_error
from probes.outcomes import ErrorClass, Outcome, ProbeError
from probes.placeholders import holds_placeholder
from probes.redaction import redact_url

log = logging.getLogger(__name__)

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
    if isinstance(bucket, str) and not _BUCKET.fullmatch(bucket) and not holds_placeholder(bucket):
        fields.problem(
            "bucket",
            f"{bucket!r} is not an S3 bucket name: 3-63 lowercase letters, digits, '.' "
            "and '-', starting and ending with a letter or digit",
        )
    region = fields.string("region", None)
    if isinstance(region, str) and not _REGION.fullmatch(region) and not holds_placeholder(region):
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
    """Everything that shapes a client; the bucket does not, so buckets share clients.

    No timeout and no CA bundle: the client never sends (s3_exchange.py), the batch's HTTP
    client does, under the engine's deadline.
    """

    endpoint_url: str | None
    region: str | None
    profile: str | None
    addressing_style: str
    access_key_id: str | None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)


# Sessions are not thread-safe; clients are. One build at a time, and one per key.
_BUILDING = threading.Lock()
# Where S3 redirected each bucket, per client it was asked through (as botocore remembers
# it): later probes go there at once.
_REDIRECTS: weakref.WeakKeyDictionary[BaseClient, dict[str, str]] = weakref.WeakKeyDictionary()


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
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        aws_session_token=key.session_token,
        config=Config(
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
    s3_exchange.stop_before_sending(built)
    return built


def _client_key(spec: Spec) -> ClientKey:
    return ClientKey(
        endpoint_url=spec.endpoint_url or None,
        region=spec.region or None,
        profile=spec.profile or None,
        addressing_style=spec.addressing_style,
        access_key_id=spec.access_key_id or None,
        secret_access_key=spec.secret_access_key or None,
        session_token=spec.session_token or None,
    )


# --- probing --------------------------------------------------------------------------


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    observations: dict[str, Any] = {}
    with ctx.step("HeadBucket"):
        head = await _call(ctx, spec, "HeadBucket", Bucket=spec.bucket)
    region = head.parsed.get("BucketRegion") or _header(head.parsed, "x-amz-bucket-region")
    if region:
        observations["bucket_region"] = region
    observations.update(head.tls)
    if spec.write_check:
        try:
            await _write_check(spec, ctx)
        except ProbeError as exc:
            exc.observations = {**observations, **exc.observations}
            raise
        observations["write_check"] = "ok"
    return Outcome(observations=observations)


async def _client(ctx: ProbeContext, key: ClientKey) -> BaseClient:
    try:
        return await ctx.run_blocking(client, key)
    except _CONFIG_ERRORS as exc:
        raise _config_error(exc) from exc
    except _CREDENTIAL_ERRORS as exc:
        raise ProbeError(ErrorClass.AUTH, f"cannot get credentials: {exc}") from exc
    except ValueError as exc:
        # botocore's word for an endpoint_url (from ${VAR}) that is not a URL.
        raise ProbeError(ErrorClass.CONFIG, "endpoint_url is not a valid URL") from exc


async def _call(
    ctx: ProbeContext,
    spec: Spec,
    operation: str,
    *,
    http: httpx.AsyncClient | None = None,
    limit: int = s3_exchange.MAX_ANSWER_SIZE,
    **params: Any,
) -> s3_exchange.Answer:
    """One S3 operation, prepared in a worker thread and sent with `http` (the batch's
    client by default); a bucket in another region is asked again there, once."""
    key = _client_key(spec)
    declared = await _client(ctx, key)
    redirects = _REDIRECTS.setdefault(declared, {})
    region = redirects.get(spec.bucket)
    redirected = False
    while True:
        s3 = (
            declared
            if region is None
            else await _client(ctx, dataclasses.replace(key, region=region))
        )
        try:
            request = await ctx.run_blocking(s3_exchange.prepare, s3, operation, params)
            return await s3_exchange.send(http or ctx.http, request, limit)
        except ClientError as exc:
            found = s3_exchange.redirect_region(exc)
            if (
                redirected
                or found is None
                or found == s3.meta.region_name
                or not _REGION.fullmatch(found)
            ):
                raise _client_error(exc, spec, operation) from exc
            # One redirect per call, as botocore follows them.
            redirects[spec.bucket] = region = found
            redirected = True
        except httpx.HTTPError as exc:
            raise classify_httpx_error(exc) from exc
        except ResponseParserError as exc:
            raise ProbeError(ErrorClass.PROTOCOL, f"{operation}: not an S3 answer") from exc
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


async def _write_check(spec: Spec, ctx: ProbeContext) -> None:
    key = f"{CANARY_PREFIX}{uuid.uuid4().hex}"
    body = secrets.token_hex(16).encode()
    at = {"Bucket": spec.bucket, "Key": key}
    deleted = False
    try:
        try:
            with ctx.step("PutObject"):
                await _call(ctx, spec, "PutObject", Body=body, ContentType="text/plain", **at)
            with ctx.step("GetObject"):
                # Never more than the canary, whatever the key holds.
                got = await _call(ctx, spec, "GetObject", limit=len(body) + 1, **at)
        except ProbeError:
            # The first failure is the one to report; the delete is only tidying up.
            try:
                with ctx.step("DeleteObject"):
                    await _call(ctx, spec, "DeleteObject", **at)
            except ProbeError as exc:
                # Only the class: the log is not scrubbed of what came from ${VAR}.
                log.warning(
                    "could not delete canary s3://%s/%s: %s", spec.bucket, key, exc.error_class
                )
            raise
        with ctx.step("DeleteObject"):
            await _call(ctx, spec, "DeleteObject", **at)
        deleted = True
    except asyncio.CancelledError:
        # The deadline (or a prober stopping) cut the probe short: the canary may exist.
        if not deleted:
            leftovers.leave(
                _delete_abandoned(spec, ctx, key), name=f"delete canary s3://{spec.bucket}/{key}"
            )
        raise
    if got.body != body:
        raise ProbeError(
            ErrorClass.UNEXPECTED_RESPONSE,
            f"GetObject returned {len(got.body)} bytes that differ from the {len(body)} "
            "written by PutObject",
        )


async def _delete_abandoned(spec: Spec, ctx: ProbeContext, key: str) -> None:
    """Delete the canary of a probe cut short, best effort, within the probe's timeout again.

    The batch's HTTP client may be closed by now: this brings its own. What it guarantees:
    a canary the store holds when the DELETE arrives is gone if the store answers in time.
    A PUT the store applies only after that (held up on the way) leaves its canary behind,
    under CANARY_PREFIX, where a lifecycle rule can expire it.
    """
    try:
        async with (
            asyncio.timeout(ctx.timeout),
            new_http_client(ctx.ssl_context, max_connections=1) as http,
        ):
            await _call(ctx, spec, "DeleteObject", http=http, Bucket=spec.bucket, Key=key)
    except (TimeoutError, ProbeError) as exc:
        reason = "timeout" if isinstance(exc, TimeoutError) else exc.error_class
        # Only the class: the log is not scrubbed of what came from ${VAR}.
        log.warning("could not delete canary s3://%s/%s: %s", spec.bucket, key, reason)
