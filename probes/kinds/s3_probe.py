"""The s3 kind's probe: ListObjectsV2 of no keys, whose answer must be an S3 bucket listing
(any web server answers a HEAD with 200; only S3 answers this), and the write check's
canary (put, read back, deleted, and deleted later when the deadline cut the probe short)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from probes import leftovers
from probes.context import ProbeContext, new_http_client
from probes.durations import format_duration
from probes.kinds.s3 import CANARY_PREFIX, Spec
from probes.kinds.s3_client import call, header
from probes.outcomes import ErrorClass, Outcome, ProbeError

log = logging.getLogger(__name__)
# Keys per listing page: S3's most (a page of them is some 300 KB of XML).
PAGE_SIZE = 1000


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    observations: dict[str, Any] = {}
    # The same permission as HeadBucket (s3:ListBucket), and an answer only S3 gives; with
    # newest_object, the first page of the keys it looks through.
    newest = spec.newest_object
    page = {"Prefix": newest["prefix"], "MaxKeys": PAGE_SIZE} if newest else {"MaxKeys": 0}
    with ctx.step("ListObjectsV2"):
        listing = await call(ctx, spec, "ListObjectsV2", Bucket=spec.bucket, **page)
    observations.update(listing.tls)
    if not listing.parsed.get("Name"):
        raise ProbeError(
            ErrorClass.PROTOCOL,
            "ListObjectsV2: not an S3 answer (no bucket listing): is endpoint_url an S3 store?",
            observations,
        )
    region = header(listing.parsed, "x-amz-bucket-region") or listing.redirected_to
    if region:
        observations["bucket_region"] = region
    latency = listing.first_byte_ms  # the peer's latency: the listing's, request to answer
    warnings = []
    if newest:
        stale = await _newest_object(spec, ctx, listing.parsed, observations)
        if stale and newest["stale_is"] == "down":
            raise ProbeError(ErrorClass.UNEXPECTED_RESPONSE, stale, observations)
        warnings += [stale] if stale else []
    if spec.write_check:
        try:
            await _write_check(spec, ctx)
        except ProbeError as exc:
            exc.observations = {**observations, **exc.observations}
            raise
        observations["write_check"] = "ok"
    return Outcome(observations=observations, warnings=tuple(warnings), latency_ms=latency)


async def _newest_object(
    spec: Spec, ctx: ProbeContext, parsed: dict[str, Any], observations: dict[str, Any]
) -> str | None:
    """Why the newest object under the prefix is too old (or missing); None when it is
    fresh. S3 lists keys by name, not by time: every page is read, up to max_pages."""
    newest = spec.newest_object
    assert newest is not None
    latest: datetime | None = None
    listed = pages = 0
    while True:
        pages += 1
        for item in parsed.get("Contents", []):
            modified = item.get("LastModified")
            listed += 1
            if isinstance(modified, datetime) and (latest is None or modified > latest):
                latest = modified
        token = parsed.get("NextContinuationToken")
        if not parsed.get("IsTruncated") or not token or pages >= newest["max_pages"]:
            break
        with ctx.step(f"ListObjectsV2 page {pages + 1}"):
            answer = await call(
                ctx,
                spec,
                "ListObjectsV2",
                Bucket=spec.bucket,
                Prefix=newest["prefix"],
                MaxKeys=PAGE_SIZE,
                ContinuationToken=token,
            )
        parsed = answer.parsed
    unlisted = bool(parsed.get("IsTruncated"))
    observations["objects_listed"] = listed
    where = f"under '{newest['prefix']}'" if newest["prefix"] else "in the bucket"
    more = f" (of the first {listed} keys: raise max_pages to list more)" if unlisted else ""
    if latest is None:
        return f"no object {where}{more}"
    age = (datetime.now(UTC) - latest).total_seconds()
    observations["newest_object_modified"] = latest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    observations["newest_object_age_seconds"] = round(age)
    if age <= newest["max_age"]:
        return None
    return (
        f"stale: the newest object {where} is {format_duration(round(age))} old, "
        f"over max_age {format_duration(newest['max_age'])}{more}"
    )


async def _write_check(spec: Spec, ctx: ProbeContext) -> None:
    key = f"{CANARY_PREFIX}{uuid.uuid4().hex}"
    body = secrets.token_hex(16).encode()
    at = {"Bucket": spec.bucket, "Key": key}
    deleted = False
    try:
        try:
            with ctx.step("PutObject"):
                await call(ctx, spec, "PutObject", Body=body, ContentType="text/plain", **at)
            with ctx.step("GetObject"):
                # Never more than the canary, whatever the key holds.
                got = await call(ctx, spec, "GetObject", limit=len(body) + 1, **at)
        except ProbeError:
            # The first failure is the one to report; the delete is only tidying up.
            try:
                with ctx.step("DeleteObject"):
                    await call(ctx, spec, "DeleteObject", **at)
            except ProbeError as exc:
                # Only the class: the log is not scrubbed of what came from ${VAR}.
                log.warning(
                    "could not delete canary s3://%s/%s: %s", spec.bucket, key, exc.error_class
                )
            raise
        with ctx.step("DeleteObject"):
            await call(ctx, spec, "DeleteObject", **at)
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
            await call(ctx, spec, "DeleteObject", http=http, Bucket=spec.bucket, Key=key)
    except (TimeoutError, ProbeError) as exc:
        reason = "timeout" if isinstance(exc, TimeoutError) else exc.error_class
        # Only the class: the log is not scrubbed of what came from ${VAR}.
        log.warning("could not delete canary s3://%s/%s: %s", spec.bucket, key, reason)
