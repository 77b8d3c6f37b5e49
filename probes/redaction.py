"""Keeping secrets out of what people and machines read: URLs, headers and free text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from probes.placeholders import PLACEHOLDER

REDACTED = "***"

# Names of headers and query parameters whose values are credentials.
SECRET_NAME = re.compile(
    r"(?:^|[-_])auth(?:$|[-_])|authorization|token|secret|passw|pwd|^key$|api[-_]?key"
    r"|access[-_]?key|signature|^sig$|session|cookie|credential|private[-_]?key",
    re.IGNORECASE,
)
# A path segment that looks like an API key (Infura's /v3/<key>, Alchemy's /v2/<key>), not
# like words (/health-check-endpoint-v2): long, with letters and several digits.
_KEYLIKE_SEGMENT = re.compile(r"^(?=(?:.*\d){4})(?=.*[A-Za-z])[A-Za-z0-9_\-]{20,}$")
# A secret shorter than this is not scrubbed from free text: it would mangle ordinary words.
_MIN_SCRUB_LENGTH = 4


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact_url(url: str) -> str:
    """`url` without a password, secret-looking query values or key-like path segments.

    Placeholders (`${VAR}`) are shown as they are: they hold no secret.
    """
    if not url or PLACEHOLDER.fullmatch(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, password = userinfo.partition(":")
        if not colon:
            # No password: the userinfo is a token (https://<token>@host), or a username.
            user, password = "", userinfo
        shown = password if _is_placeholder(password) else REDACTED
        netloc = f"{user}{colon}{shown}@{host}"
    path = "/".join(
        REDACTED if _KEYLIKE_SEGMENT.match(segment) else segment
        for segment in parts.path.split("/")
    )
    query = urlencode(
        [
            (key, REDACTED if is_secret_name(key) and not _is_placeholder(value) else value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="${}*",
    )
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header values that are credentials, shown only as their placeholders."""
    return {
        name: value if not is_secret_name(name) or _is_placeholder(value) else REDACTED
        for name, value in headers.items()
    }


def literal_secrets_in_url(url: str) -> list[str]:
    """What in a declared URL is a credential written out instead of a `${VAR}`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo and not _is_placeholder(userinfo):
        # user:password@ or a token as the user (https://<token>@host): credentials either way.
        found.append("the credentials in the URL")
    found += [
        f"the query parameter '{key}'"
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if is_secret_name(key) and value and not _is_placeholder(value)
    ]
    return found


def redact_spec(value: Any, key: str = "") -> Any:
    """A declared spec, for display: credentials written out (there should be none) hidden,
    URLs without their secret parts; placeholders shown as they are."""
    if isinstance(value, Mapping):
        return {name: redact_spec(item, str(name)) for name, item in value.items()}
    if isinstance(value, list):
        return [redact_spec(item, key) for item in value]
    if isinstance(value, str):
        if is_secret_name(key) and not _is_placeholder(value):
            return REDACTED
        if "://" in value:
            return redact_url(value)
    return value


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value replaced; longest first, so none survives in part."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SCRUB_LENGTH:
            text = text.replace(secret, REDACTED)
    return text


def _is_placeholder(value: str) -> bool:
    """A value that holds a placeholder for its secret part (`Bearer ${TOKEN}`)."""
    return bool(PLACEHOLDER.search(value))
