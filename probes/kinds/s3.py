"""S3 buckets (AWS or S3-compatible): a listing of no keys (the answer proves the store is
S3), and optionally a canary object written, read back and deleted.

This module is what a declaration needs (Spec, parse, describe), light to import: the web
pages import it. The probe is in s3_probe.py, botocore's side in s3_client.py and
s3_exchange.py, imported when the first bucket is probed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from probes.durations import format_duration
from probes.excerpts import excerpt
from probes.fields import Fields
from probes.http_peers import check_url
from probes.http_peers import speaks_tls as url_speaks_tls
from probes.placeholders import holds_placeholder
from probes.redaction import redact_url

if TYPE_CHECKING:
    from probes.context import ProbeContext
    from probes.outcomes import Outcome

ADDRESSING_STYLES = ("auto", "path", "virtual")
STALE_IS = ("degraded", "down")
# newest_object lists at most this many pages of 1,000 keys per probe, unless declared.
DEFAULT_MAX_PAGES = 10
LARGEST_MAX_PAGES = 1000
CANARY_PREFIX = "seahealth-canary/"
# The draft health format's word for a store of data.
COMPONENT_TYPE = "datastore"

# The naming rules for general purpose buckets: 3-63 characters, no '..', not an IP address.
_BUCKET = re.compile(r"(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REGION = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


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
    # Backup freshness: {"prefix", "max_age" (seconds), "stale_is", "max_pages"}; None: off.
    newest_object: dict[str, Any] | None = None


def parse(fields: Fields) -> Spec:
    bucket = fields.string("bucket")
    if isinstance(bucket, str) and not _BUCKET.fullmatch(bucket) and not holds_placeholder(bucket):
        fields.problem(
            "bucket",
            f"{excerpt(bucket)} is not an S3 bucket name: 3-63 lowercase letters, digits, '.' "
            "and '-', starting and ending with a letter or digit",
        )
    region = fields.string("region", None)
    if isinstance(region, str) and not REGION.fullmatch(region) and not holds_placeholder(region):
        fields.problem("region", f"{excerpt(region)} is not a region name (like eu-west-1)")
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
        newest_object=_newest_object(
            fields.section("newest_object") if "newest_object" in fields.data else None
        ),
    )


def _newest_object(section: Fields | None) -> dict[str, Any] | None:
    """`newest_object: {prefix: backups/, max_age: 26h}`: is the backup running?"""
    if section is None:
        return None
    value = {
        "prefix": section.string("prefix", ""),
        "max_age": section.duration("max_age"),
        "stale_is": section.string("stale_is", "degraded", choices=STALE_IS),
        "max_pages": section.integer(
            "max_pages", DEFAULT_MAX_PAGES, minimum=1, maximum=LARGEST_MAX_PAGES
        ),
    }
    section.reject_unread(value)
    return value


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
    if spec.newest_object:
        newest = spec.newest_object
        age = format_duration(newest["max_age"])
        details.append(f"newest object under '{newest['prefix']}' within {age}")
    return f"s3://{spec.bucket}" + (f" ({', '.join(details)})" if details else "")


def speaks_tls(spec: Spec) -> bool | None:
    # Without an endpoint, AWS: over HTTPS.
    return True if spec.endpoint_url is None else url_speaks_tls(spec.endpoint_url, ("https",))


def prepare() -> None:
    """Import botocore (a third of a second) before the batch's probes start."""
    from probes.kinds import s3_probe  # noqa: F401


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    from probes.kinds import s3_probe

    return await s3_probe.probe(spec, ctx)
