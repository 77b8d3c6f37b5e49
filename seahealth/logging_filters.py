"""Logging filters named in settings.LOGGING (imported before the apps are ready: no models)."""

from __future__ import annotations

import logging
import re


class HealthAnswersFilter(logging.Filter):
    """Drops django.request's error line for a 503 that /health/* or /metrics meant to give
    (the view logs the database's failure itself, once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path", "")
        answer = path.startswith("/health/") or path == "/metrics"
        return not (getattr(record, "status_code", None) == 503 and answer)


REDACTED = "[redacted]"
# Credential-looking material in any log line: header values and signed-request parts, in
# the shapes client libraries print them (botocore's DEBUG log shows the signed request as a
# dict of bytes: {'Authorization': b'AWS4-HMAC-SHA256 Credential=..., Signature=...'}).
_CREDENTIAL_NAMES = (
    r"(?:[a-z0-9]+[-_])*(?:authorization|signature|credential|security-token|token|secret"
    r"|password|passwd|cookie|api[-_]?key|access[-_]?key|sessionid|csrftoken)"
)
_QUOTED_VALUE = re.compile(
    rf"""(?P<name>\b(?:{_CREDENTIAL_NAMES})\b['"]?\s*[:=]\s*b?)(?P<quote>['"])(?P<value>.*?)(?P=quote)""",
    re.IGNORECASE,
)
# Unquoted: a header line (to its end) or a query or key=value pair (to a separator).
_HEADER_LINE = re.compile(
    r"(?P<name>^\s*(?:proxy-)?(?:authorization|cookie|set-cookie|x-amz-security-token)"
    r"\s*:\s*)(?P<value>[^'\"\r\n].*)$",
    re.IGNORECASE | re.MULTILINE,
)
_PAIR = re.compile(
    rf"(?P<name>\b(?:{_CREDENTIAL_NAMES})\b\s*[:=]\s*)(?P<value>[^'\"\s,&;>)\[\]]+)", re.IGNORECASE
)
_BEARER = re.compile(r"\b(?P<name>Bearer\s+)(?P<value>[A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)
# A password in a URL: scheme://user:password@host.
_URL_PASSWORD = re.compile(r"(?P<name>[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<value>[^@\s/]+)(?=@)")


def redact_credentials(text: str) -> str:
    for pattern in (_QUOTED_VALUE, _HEADER_LINE, _BEARER, _PAIR, _URL_PASSWORD):
        text = pattern.sub(_blank, text)
    return text


def _blank(match: re.Match[str]) -> str:
    quote = match.groupdict().get("quote") or ""
    return f"{match['name']}{quote}{REDACTED}{quote}"


class RedactCredentialsFilter(logging.Filter):
    """Blanks credential-looking values in every record a handler writes.

    A second line of defence: settings.LOGGING keeps the client libraries that log whole
    requests (botocore, urllib3, ...) above DEBUG and INFO whatever LOG_LEVEL says.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call: let the handler report it
            return True
        record.msg, record.args = redact_credentials(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_credentials(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_credentials(record.stack_info)
        return True
