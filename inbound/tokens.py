"""Heartbeats' ping tokens: a ping finds its heartbeat by the token's SHA-256, kept in its
InboundState; the token itself is never stored.

A token comes from the declaration's `token: ${VAR}` (hashed when the declaration is synced,
from the syncing process's environment: the prober's), or from `manage.py heartbeat_token`,
which makes one and shows it once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterable, Mapping

from probes import placeholders
from probes.dependency_spec import DependencySpec
from probes.models import Dependency

log = logging.getLogger(__name__)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A random slug, 128 bits: safe in a URL and a crontab line."""
    return secrets.token_urlsafe(16)


def store(dependency: Dependency, token: str) -> None:
    from inbound.models import InboundState

    InboundState.objects.update_or_create(
        dependency=dependency, defaults={"token_hash": token_hash(token)}
    )


def store_declared(
    specs: Iterable[DependencySpec], environ: Mapping[str, str] = os.environ
) -> None:
    """Hash the tokens the heartbeats declare as ${VAR}, from `environ`; a variable not set
    here is said in the log (that heartbeat's pings cannot be matched until it is)."""
    declared = {spec.name: spec.target.token for spec in specs if getattr(spec.target, "token", "")}
    if not declared:
        return
    rows = Dependency.objects.filter(name__in=declared, archived_at__isnull=True)
    for row in rows:
        try:
            token, _ = placeholders.resolve(declared[row.name], environ)
        except placeholders.UnsetVariable as exc:
            log.warning("heartbeat %s: %s: its pings cannot be matched until it is", row.name, exc)
            continue
        store(row, token)
