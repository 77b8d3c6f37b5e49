"""Keeping secrets out of what people and machines read: URLs, headers and free text."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit, urlunsplit

from probes import json_values
from probes.placeholders import PLACEHOLDER, begins_with_placeholder, holds_placeholder

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
    if not url or PLACEHOLDER.fullmatch(url):  # nothing to see but the placeholder
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
        shown = password if holds_placeholder(password) else REDACTED
        netloc = f"{user}{colon}{shown}@{host}"
    path = "/".join(
        REDACTED if _KEYLIKE_SEGMENT.match(segment) else segment
        for segment in parts.path.split("/")
    )
    query = urlencode(
        [
            (key, REDACTED if is_secret_name(key) and not holds_placeholder(value) else value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="${}*",
    )
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def literal_secrets_in_url(url: str) -> list[str]:
    """What in a declared URL is a credential written out instead of a `${VAR}`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo and not holds_placeholder(userinfo):
        # user:password@ or a token as the user (https://<token>@host): credentials either way.
        found.append("the credentials in the URL")
    found += [
        f"the query parameter '{key}'"
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if is_secret_name(key) and value and not holds_placeholder(value)
    ]
    return found


def redact_spec(value: Any) -> Any:
    """A declared spec, for display: credentials written out (there should be none) hidden,
    URLs without their secret parts; placeholders shown as they are."""

    def leaf(item: Any, path: json_values.Path) -> Any:
        if not isinstance(item, str):
            return item
        if is_secret_name(json_values.key_of(path)) and not holds_placeholder(item):
            return REDACTED
        return redact_url(item) if "://" in item else item

    return json_values.transform(value, leaf)


def shown_resolved(declared: Any, resolved: Any) -> Any:
    """A resolved spec for display, redacted by its structure: a value that held a ${VAR}
    is shown resolved, but a credential keeps its placeholder, a URL that a ${VAR} begins is
    shown up to its host, and in one with a ${VAR} further on each ${VAR} is `***`."""

    def leaf(item: Any, path: json_values.Path) -> Any:
        before = json_values.at(declared, path)
        if not isinstance(before, str) or not holds_placeholder(before):
            return item
        if is_secret_name(json_values.key_of(path)) or not isinstance(item, str):
            return before
        if "://" in item:
            return (
                _up_to_host(item)
                if begins_with_placeholder(before)
                else PLACEHOLDER.sub(REDACTED, before)
            )
        return item

    return json_values.transform(resolved, leaf)


def _up_to_host(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return REDACTED
    host = f"[{host}]" if ":" in host else host
    userinfo = f"{REDACTED}@" if "@" in parts.netloc else ""
    rest = f"/{REDACTED}" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{userinfo}{host}{port}{rest}"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, in every form a peer may echo it in, replaced."""
    return Secrets(secrets).scrub(text)


# A secret this long is replaced wherever it appears; a shorter one only where it stands
# alone, so that DEMO_S3_SECRET=demo leaves `s3://demo-documents` as it is.
_SUBSTRING_LENGTH = 8
# What continues a word around a short secret: letters, digits, `_` and `-`, and `.` inside
# a dotted name (not at the end of a sentence).
_NOT_AFTER_WORD = r"(?<![\w.-])"
_NOT_BEFORE_WORD = r"(?![\w-]|\.\w)"
# Where an excerpt was cut: a secret cut there survives as its first characters.
_CUT = re.compile(r"\.\.\.|\u2026")


class Secrets:
    """The secret values one probe uses, in every form a peer may echo them in: as they are,
    base64 (alone, and as basic auth or SASL PLAIN send them with a user name),
    percent-encoded, JSON- and HTML-escaped."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        forms = {form for value in values if value for form in encodings(value)}
        self.forms = sorted(
            (form for form in forms if len(form) >= _MIN_SCRUB_LENGTH), key=len, reverse=True
        )
        patterns = [
            re.escape(form)
            if len(form) >= _SUBSTRING_LENGTH
            else _NOT_AFTER_WORD + re.escape(form) + _NOT_BEFORE_WORD
            for form in self.forms
        ]
        self._pattern = re.compile("|".join(patterns)) if patterns else None

    @classmethod
    def of_spec(
        cls, declared: Mapping[str, Any], resolved: Mapping[str, Any], substituted: Iterable[str]
    ) -> Secrets:
        """The secrets of a spec: the values its placeholders took, the credentials built
        from them, and every part after the host of a URL that a placeholder begins."""
        values = set(substituted)
        for path, before in json_values.walk(declared):
            after = json_values.at(resolved, path)
            if (
                isinstance(before, str)
                and isinstance(after, str)
                and "://" in after
                and holds_placeholder(before)
            ):
                values |= _url_secrets(after, whole=begins_with_placeholder(before))
        for _, mapping in json_values.walk(resolved):
            if isinstance(mapping, Mapping):
                user, password = mapping.get("username"), mapping.get("password")
                if isinstance(user, str) and isinstance(password, str) and password:
                    values |= _credentials(user, password)
        return cls(values)

    def scrub(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        text = self._pattern.sub(REDACTED, text)
        return self._scrub_cut(text) if _CUT.search(text) else text

    def scrub_value(self, value: Any) -> Any:
        """A JSON-like value with every string in it scrubbed."""
        return json_values.transform(
            value, lambda item, path: self.scrub(item) if isinstance(item, str) else item
        )

    def _scrub_cut(self, text: str) -> str:
        """A secret's beginning, where an excerpt was cut short after it."""
        pieces = []
        start = 0
        for cut in _CUT.finditer(text):
            before = text[start : cut.start()]
            for form in self.forms:
                kept = next(
                    (
                        n
                        for n in range(len(form) - 1, _MIN_SCRUB_LENGTH - 1, -1)
                        if before.endswith(form[:n])
                    ),
                    0,
                )
                if kept:
                    before = before[:-kept] + REDACTED
                    break
            pieces.append(before + cut[0])
            start = cut.end()
        return "".join(pieces) + text[start:]


# The characters a URL keeps as they are in a query (and in a path, but `?`), by RFC 3986;
# clients percent-encode the rest of a secret put there.
_QUERY_SAFE = "!$&'()*+,;=:@/?"


def encodings(secret: str) -> set[str]:
    """`secret` in the forms it takes on the wire and in echoes of it."""
    raw = secret.encode()
    b64 = base64.b64encode(raw).decode()
    forms = {
        secret,
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        html.escape(secret),
    }
    for safe in ("", "/", _QUERY_SAFE[:-1], _QUERY_SAFE):
        percent = quote(secret, safe=safe)
        forms |= {percent, re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), percent)}
    return {form for form in forms if form}


def _credentials(user: str, password: str) -> set[str]:
    """What is sent when logging in as `user`: basic auth's `user:password`, SASL PLAIN's
    `\\0user\\0password` (and with the user as the authorization identity too)."""
    return {password, f"{user}:{password}", f"\0{user}\0{password}", f"{user}\0{user}\0{password}"}


def _url_secrets(url: str, whole: bool) -> set[str]:
    """The userinfo of `url` and, when the URL came whole from a placeholder, every part
    after its host: the path and its segments, the query and its values, the fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    found: set[str] = set()
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        user, _, password = userinfo.partition(":")
        found |= {userinfo, unquote(user), unquote(password)}
        if password:
            found |= _credentials(unquote(user), unquote(password))
    if whole:
        found |= {parts.path, parts.query, parts.fragment}
        found |= {segment for segment in parts.path.split("/")}
        for _, value in parse_qsl(parts.query, keep_blank_values=True):
            found.add(value)
        found |= {unquote(piece) for piece in list(found)}
    return {piece for piece in found if piece and piece != "/"}
