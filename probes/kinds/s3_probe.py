"""The s3 kind's probe: ListObjectsV2 of no keys, whose answer must be an S3 bucket listing
(any web server answers a HEAD with 200; only S3 answers this), and the write check's
canary (put, read back, deleted, and deleted later when the deadline cut the probe short)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from typing import Any

from probes import leftovers
from probes.context import ProbeContext, new_http_client
from probes.kinds.s3 import CANARY_PREFIX, Spec
from probes.kinds.s3_client import call, header
from probes.outcomes import ErrorClass, Outcome, ProbeError

log = logging.getLogger(__name__)


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    observations: dict[str, Any] = {}
    # The same permission as HeadBucket (s3:ListBucket), and an answer only S3 gives.
    with ctx.step("ListObjectsV2"):
        listing = await call(ctx, spec, "ListObjectsV2", Bucket=spec.bucket, MaxKeys=0)
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
    if spec.write_check:
        try:
            await _write_check(spec, ctx)
        except ProbeError as exc:
            exc.observations = {**observations, **exc.observations}
            raise
        observations["write_check"] = "ok"
    return Outcome(observations=observations, latency_ms=latency)


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
