"""The signature check against hostile input: any headers and body are accepted only when
signed, refused with Refused and nothing else, and a signed body changed anywhere is refused."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from inbound import signatures
from notifications import signing

SECRET = "whsec_c2VjcmV0LWtleS1vZi10aGUtdGVzdHMtMzItYnl0ZXM="
STANDARD = {"scheme": "standard-webhooks", "secret": "${S}"}
GITHUB = {"scheme": "hmac-sha256", "header": "X-Hub-Signature-256", "prefix": "sha256="}
NOW = 1_767_225_600
header_values = st.text(max_size=120)


def refused(declared: dict, headers: dict, body: bytes) -> str | None:
    try:
        signatures.check(declared, SECRET, headers, body, NOW, 300)
    except signatures.Refused as exc:
        return str(exc)
    return None


@given(
    headers=st.dictionaries(
        st.sampled_from(
            ["webhook-id", "webhook-timestamp", "webhook-signature", "X-Hub-Signature-256"]
        ),
        header_values,
    ),
    body=st.binary(max_size=300),
    declared=st.sampled_from([STANDARD, GITHUB]),
)
def test_anything_unsigned_is_refused_and_nothing_else_is_raised(headers, body, declared) -> None:
    assert refused(declared, headers, body) is not None


@given(body=st.binary(min_size=1, max_size=300), data=st.data())
def test_a_signed_body_changed_anywhere_is_refused(body: bytes, data) -> None:
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": signing.signature(SECRET, "msg_1", NOW, body),
    }
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    github = {"X-Hub-Signature-256": f"sha256={digest}"}
    assert refused(STANDARD, headers, body) is None
    assert refused(GITHUB, github, body) is None
    at = data.draw(st.integers(0, len(body) - 1))
    changed = body[:at] + bytes([body[at] ^ data.draw(st.integers(1, 255))]) + body[at + 1 :]
    assert refused(STANDARD, headers, changed) == "the signature does not match the body"
    assert refused(GITHUB, github, changed) == "the signature does not match the body"


@given(skew=st.integers(-(10**6), 10**6))
def test_a_timestamp_is_taken_within_the_tolerance_only(skew: int) -> None:
    body = b"{}"
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": str(NOW + skew),
        "webhook-signature": signing.signature(SECRET, "m", NOW + skew, body),
    }
    assert (refused(STANDARD, headers, body) is None) == (abs(skew) <= 300)
