"""S3 requests that botocore prepares and reads, and that an httpx client sends on the
event loop.

botocore would send them itself, with urllib3, from a worker thread the engine's deadline
cannot reach: a peer that drips its answer resets the read timeout with every byte and
keeps the thread, and its socket, for good. So botocore does only what it does well, in a
thread that is free again at once: the credential chain, the endpoint and addressing, the
signature (prepare()), and later the parsing of the answer. The bytes move on the event
loop (send()), where the deadline cancels the exchange and closes its socket.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from botocore import xform_name
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.endpoint import convert_to_response_dict
from botocore.exceptions import ClientError
from botocore.model import OperationModel
from botocore.parsers import create_parser

from probes.http_peers import FirstByte, read_limited, tls_observations

# An answer to these operations is an error document or a canary: a few hundred bytes.
MAX_ANSWER_SIZE = 1024 * 1024


class _Prepared(Exception):
    """Not an error: how a request prepared by botocore leaves it unsent."""

    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__(request.method, request.url)
        self.request = request


def stop_before_sending(client: BaseClient) -> None:
    """Every call of `client` raises, at the moment botocore would send, the request it
    prepared and signed (prepare() catches it). No call of `client` reaches the network."""
    client.meta.events.register("before-send.s3", _raise_prepared)


def _raise_prepared(request: AWSPreparedRequest, **kwargs: Any) -> None:
    # botocore passes what a before-send handler raises through its retry check (one
    # attempt: no retry) and re-raises it from the call.
    raise _Prepared(request)


@dataclass(frozen=True)
class Request:
    client: BaseClient
    operation: OperationModel
    method: str
    url: str
    headers: list[tuple[str, Any]] = field(repr=False)  # signed: no logs
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class Answer:
    parsed: dict[str, Any]  # as botocore's call would return it
    body: bytes  # as read, at most the limit send() was given
    tls: dict[str, Any]  # what the connection showed of its certificate
    first_byte_ms: float | None  # from the request sent to the answer's headers
    redirected_to: str | None = None  # the region S3 sent the bucket's requests to


def prepare(client: BaseClient, operation: str, params: dict[str, Any]) -> Request:
    """Blocking (CPU, and credentials on first use): `operation` built and signed."""
    try:
        getattr(client, xform_name(operation))(**params)
    except _Prepared as prepared:
        request = prepared.request
    else:
        raise RuntimeError(f"{operation} went out without stop_before_sending()")
    body = request.body
    if hasattr(body, "read"):
        # botocore wraps a bytes body in a file; the canary is small.
        body.seek(0)
        body = body.read()
    headers = [
        (name, value)
        for name, value in request.headers.items()
        # httpx sends the body at once; a server that honours Expect might answer twice.
        if name.lower() != "expect"
    ]
    # botocore reads bodies as they come; httpx would ask for them compressed.
    headers.append(("Accept-Encoding", "identity"))
    return Request(
        client=client,
        operation=client.meta.service_model.operation_model(operation),
        method=request.method,
        url=request.url,
        headers=headers,
        body=body or b"",
    )


async def send(http: httpx.AsyncClient, request: Request, limit: int = MAX_ANSWER_SIZE) -> Answer:
    """Send on the event loop; read at most `limit` bytes of a successful answer's body.

    An answer of 300 or more raises botocore's ClientError (NoSuchKey, ...), as the call
    would have; what httpx raises passes through.
    """
    timer = FirstByte()
    async with http.stream(
        request.method,
        request.url,
        headers=request.headers,
        content=request.body or None,
        extensions={"trace": timer.trace},
    ) as response:
        tls = tls_observations(response)
        # An error document is read whole (up to the bound): it says what went wrong.
        body, _ = await read_limited(response, limit if response.is_success else MAX_ANSWER_SIZE)
    return Answer(_parse(request, response, body), body, tls, timer.ms)


def _parse(request: Request, response: httpx.Response, body: bytes) -> dict[str, Any]:
    operation = request.operation
    answer = AWSResponse(request.url, response.status_code, response.headers.items(), _Body(body))
    parser = create_parser(operation.service_model.metadata["protocol"])
    parsed = parser.parse(convert_to_response_dict(answer, operation), operation.output_shape)
    if response.status_code >= 300:
        code = parsed.get("Error", {}).get("Code")
        raise request.client.exceptions.from_code(code)(parsed, operation.name)
    return parsed


class _Body:
    """A body read already, as botocore reads a response from urllib3."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, amt: int | None = None) -> bytes:
        return self._data.read(amt)

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._data.read()


def redirect_region(error: ClientError) -> str | None:
    """The bucket's region, when S3 answered that the request went to the wrong one.

    botocore's own redirect handling (S3RegionRedirectorv2), which send() bypasses: the
    same answers, the region from the same places.
    """
    response = error.response
    code = response.get("Error", {}).get("Code")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    operation = error.operation_name
    wrong_region = (
        # A HEAD has no body: its code is its status.
        (code in ("301", "400") and operation == "HeadBucket" and "x-amz-bucket-region" in headers)
        or (code == "AuthorizationHeaderMalformed" and "Region" in response.get("Error", {}))
        or status in (301, 302, 307)
        or code == "PermanentRedirect"
        or code == "IllegalLocationConstraintException"
    )
    if not wrong_region:
        return None
    return headers.get("x-amz-bucket-region") or response.get("Error", {}).get("Region")
