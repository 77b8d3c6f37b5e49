"""TLS certificates, for every kind that speaks TLS: what the peer presented, and when it ends.

The earliest expiry in the verified chain is what counts: an intermediate that expires
before the leaf breaks clients just the same.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from typing import Any

# Observation keys, shared by every kind (and read by the pages and /metrics).
VERSION = "tls_version"
NOT_AFTER = "tls_cert_not_after"
SUBJECT = "tls_cert_subject"


def observe(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, Any]:
    """The TLS version, and the subject and earliest expiry of the verified chain."""
    if ssl_object is None:
        return {}
    leaf = ssl_object.getpeercert() or {}
    chain = [leaf]
    # Public as get_verified_chain() from Python 3.13; the C method is there since 3.10.
    verified = getattr(getattr(ssl_object, "_sslobj", None), "get_verified_chain", None)
    if verified is not None:
        chain = [certificate.get_info() for certificate in verified()] or chain
    expiries = [ssl.cert_time_to_seconds(c["notAfter"]) for c in chain if c.get("notAfter")]
    observations: dict[str, Any] = {VERSION: ssl_object.version()}
    if expiries:
        earliest = datetime.fromtimestamp(min(expiries), UTC)
        observations[NOT_AFTER] = earliest.strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = dict(pair for rdn in leaf.get("subject", ()) for pair in rdn)
    if "commonName" in subject:
        observations[SUBJECT] = subject["commonName"]
    return observations


def not_after(observations: dict[str, Any]) -> datetime | None:
    value = observations.get(NOT_AFTER)
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if value else None


def expiry_warning(observations: dict[str, Any], warn_seconds: float, now: datetime) -> str | None:
    """Why the dependency is degraded, when its certificate ends within `warn_seconds`."""
    expires = not_after(observations)
    if expires is None:
        return None
    left = (expires - now).total_seconds()
    if left > warn_seconds:
        return None
    days = left / 86400
    when = f"in {days:.0f} days" if days >= 2 else f"in {left / 3600:.0f} hours"
    return f"TLS certificate expires {when} ({expires:%Y-%m-%d %H:%M} UTC)"
