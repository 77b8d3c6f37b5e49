"""Turning what sockets and TLS raise into error classes, whatever client library wrapped it."""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator

from probes.outcomes import ErrorClass, ProbeError

_CONNECT_ERRNOS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by peer",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connection timed out",
    errno.EPIPE: "connection closed by peer",
}


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it was raised from, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify_network_error(exc: BaseException) -> ProbeError | None:
    """The DNS, TLS or connection failure at the root of `exc`, if there is one."""
    for cause in causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ProbeError(ErrorClass.TLS, _tls_reason(cause))
        if isinstance(cause, ssl.SSLError):
            return ProbeError(ErrorClass.TLS, cause.reason or str(cause))
        if isinstance(cause, socket.gaierror):
            return ProbeError(ErrorClass.DNS, f"cannot resolve host: {cause.strerror or cause}")
        if isinstance(cause, TimeoutError):
            return ProbeError(ErrorClass.TIMEOUT, "timed out")
        if isinstance(cause, OSError) and cause.errno in _CONNECT_ERRNOS:
            return ProbeError(ErrorClass.CONNECT, _CONNECT_ERRNOS[cause.errno])
    for cause in causes(exc):
        if isinstance(cause, OSError):
            return ProbeError(
                ErrorClass.CONNECT, cause.strerror or str(cause) or type(cause).__name__
            )
    return None


def _tls_reason(exc: ssl.SSLCertVerificationError) -> str:
    # verify_message is OpenSSL's own words: "self-signed certificate", "certificate has expired".
    return f"certificate verify failed: {exc.verify_message or exc.reason}"
