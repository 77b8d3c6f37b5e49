"""API tokens: made at random and shown once, kept as their SHA-256, found by it."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from api import audit
from api.models import ApiToken, Scope

# A prefix says what a leaked string is (secret scanners match on it); 32 random bytes.
PREFIX = "sh_"
# last_used_at is written at most this often per token: not one UPDATE per request.
USE_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    pass


def digest(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough, no salt or stretching to add.
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def create(name: str, scope: Scope) -> tuple[ApiToken, str]:
    """A new token named `name`, and its value: the only time the value is known."""
    if ApiToken.objects.filter(name=name).exists():
        raise TokenError(f"a token named {name!r} exists already")
    value = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(name=name, scope=scope, digest=digest(value))
        audit.record("command", "CLI", "create_api_token", f"created {scope} token {name!r}")
    return token, value


def revoke(tokens: list[ApiToken], who: str, method: str, path: str) -> int:
    """Revokes the tokens not revoked yet; how many were."""
    now = timezone.now()
    with transaction.atomic():
        live = [token for token in tokens if token.revoked_at is None]
        ApiToken.objects.filter(pk__in=[t.pk for t in live]).update(revoked_at=now)
        for token in live:
            audit.record(who, method, path, f"revoked token {token.name!r}")
    return len(live)


def authenticate(value: str) -> ApiToken | None:
    """The live token whose value this is; None for any other string."""
    # The database compares digests, not tokens: how long it takes tells nothing of a token.
    token = ApiToken.objects.filter(digest=digest(value), revoked_at__isnull=True).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= USE_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
