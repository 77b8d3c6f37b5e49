"""Standard Webhooks signatures, checked by an implementation that is not ours: the
`standardwebhooks` package (the spec's reference library), and the spec repository's own
known answer."""

from __future__ import annotations

import base64
import secrets
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from notifications import signing

MESSAGE_ID = "msg_2b1e8a4c9d7f40e1a3c5b6d7e8f90a1b"
BODY = b'{"id":"msg_2b1e8a4c9d7f40e1a3c5b6d7e8f90a1b","type":"seahealth.test","events":[]}'
WHSEC = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def receiver(secret: str) -> Webhook:
    """The reference library as a receiver holding `secret`. It reads a string secret as
    base64 always; a plain secret's key is its UTF-8 bytes, which it takes as bytes."""
    return Webhook(secret if secret.startswith("whsec_") else secret.encode())


def test_the_spec_repositorys_known_answer() -> None:
    # standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py,
    # test_sign_function: the same vector the other languages' libraries are tested with.
    signed = signing.signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )

    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize(
    "secret",
    [
        WHSEC,
        WHSEC.rstrip("="),  # the padding left off, as secrets get copied
        "whsec_" + base64.b64encode(b"k" * 64).decode(),
        "correct-horse-battery-staple",
        "pässwörd-ключ-🔑",  # UTF-8, not Latin-1
        "WHSEC_not-a-prefix-in-capitals",
    ],
    ids=["whsec", "whsec unpadded", "whsec 64 bytes", "plain", "plain unicode", "plain WHSEC_"],
)
def test_the_reference_library_verifies_our_signature(secret: str) -> None:
    headers = signing.headers(secret, MESSAGE_ID, int(time.time()), BODY)

    assert receiver(secret).verify(BODY, headers) == {
        "id": MESSAGE_ID,
        "type": "seahealth.test",
        "events": [],
    }
    assert headers["webhook-id"] == MESSAGE_ID
    assert headers["webhook-signature"].startswith("v1,")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body.replace(b"test", b"tost"), headers),
        lambda body, headers: (body, {**headers, "webhook-id": MESSAGE_ID + "x"}),
        lambda body, headers: (
            body,
            {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)},
        ),
    ],
    ids=["body", "id", "timestamp"],
)
def test_the_reference_library_refuses_a_tampered_message(tamper) -> None:
    headers = signing.headers(WHSEC, MESSAGE_ID, int(time.time()), BODY)
    body, headers = tamper(BODY, headers)

    with pytest.raises(WebhookVerificationError):
        receiver(WHSEC).verify(body, headers)


def test_another_secret_does_not_verify() -> None:
    headers = signing.headers(WHSEC, MESSAGE_ID, int(time.time()), BODY)

    with pytest.raises(WebhookVerificationError):
        receiver("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()).verify(
            BODY, headers
        )


def test_a_plain_secret_is_its_utf8_bytes_not_base64() -> None:
    # "abcd" is valid base64 too: read as base64, it would be another key.
    headers = signing.headers("abcd", MESSAGE_ID, int(time.time()), BODY)

    Webhook(b"abcd").verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("abcd").verify(BODY, headers)


@pytest.mark.parametrize("secret", [None, ""], ids=["none", "empty"])
def test_without_a_secret_there_is_no_signature_header(secret: str | None) -> None:
    assert signing.headers(secret, MESSAGE_ID, 1764581112, BODY) == {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": "1764581112",
    }


@pytest.mark.parametrize(
    "secret",
    ["whsec_", "whsec_***not-base64***", "whsec_Q", "whsec_c2VjcmV0==extra"],
    ids=["empty", "not base64", "one character", "data after padding"],
)
def test_a_whsec_secret_that_is_not_base64_is_refused_without_quoting_it(secret: str) -> None:
    with pytest.raises(signing.BadSecret) as refused:
        signing.signature(secret, MESSAGE_ID, 1764581112, BODY)

    rest = secret.removeprefix("whsec_")
    assert "whsec_ secret" in str(refused.value)
    assert not rest or rest not in str(refused.value)


@given(
    key=st.binary(min_size=1, max_size=64),
    message_id=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1),
    body=st.text(st.characters(exclude_categories=["Cs"])),
)
def test_any_key_id_and_body_verify_with_the_reference_library(
    key: bytes, message_id: str, body: str
) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    content = body.encode()
    headers = signing.headers(secret, message_id, int(time.time()), content)

    Webhook(secret).verify(content, headers, json_parse=False)
