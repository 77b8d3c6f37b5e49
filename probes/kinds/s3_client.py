"""botocore's side of the s3 kind: one client per configuration, and each S3 operation
prepared and signed by it, sent by httpx (s3_exchange.py), its failures classified."""

from __future__ import annotations

import dataclasses
import functools
import threading
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

from probes.context import ProbeContext
from probes.http_peers import HTTPX_ERRORS, classify_httpx_error, refusal
from probes.kinds import s3_exchange
from probes.kinds.s3 import REGION, Spec
from probes.outcomes import ErrorClass, ProbeError

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
# What S3 and S3-compatible stores answer when asked too often (503 SlowDown, mostly).
_THROTTLE_CODES = {"SlowDown", "TooManyRequests", "RequestLimitExceeded", "Throttling"}
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


async def call(
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
            answer = await s3_exchange.send(http or ctx.http, request, limit)
            return dataclasses.replace(answer, redirected_to=region)
        except ClientError as exc:
            found = s3_exchange.redirect_region(exc)
            if (
                redirected
                or found is None
                or found == s3.meta.region_name
                or not REGION.fullmatch(found)
            ):
                raise _client_error(exc, spec, operation) from exc
            # One redirect per call, as botocore follows them.
            redirects[spec.bucket] = region = found
            redirected = True
        except HTTPX_ERRORS as exc:
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
    region = header(exc.response, "x-amz-bucket-region") or error.get("Region")
    observations = {"bucket_region": region} if region else {}
    if code == str(status):
        # A HEAD has no body: its code is the status, its message the reason phrase.
        answer = f"HTTP {status} {message}".strip()
    else:
        answer = f"HTTP {status} {code}" + (f": {message}" if message else "")
    if status == 429 or code in _THROTTLE_CODES:
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return refusal(
            status or 429, f"{operation}: {answer}", headers, observations, ErrorClass.RATE_LIMITED
        )
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


def header(response: dict[str, Any], name: str) -> str | None:
    return response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(name)
