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

from inbound.models import InboundState
from probes import placeholders
from probes.dependency_spec import DependencySpec
from probes.models import Dependency
from probes.row_updates import update_rows

log = logging.getLogger(__name__)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A random slug, 128 bits: safe in a URL and a crontab line."""
    return secrets.token_urlsafe(16)


def store(dependency: Dependency, token: str) -> None:
    store_hashes({dependency.id: token_hash(token)})


def store_hashes(hashes: Mapping[int, str]) -> None:
    """Each dependency's token hash, by its id, in a few queries whatever their number:
    only the states that lack one or hold another are written."""
    states = {s.dependency_id: s for s in InboundState.objects.filter(dependency_id__in=hashes)}
    changed = [s for s in states.values() if s.token_hash != hashes[s.dependency_id]]
    for state in changed:
        state.token_hash = hashes[state.dependency_id]
    update_rows(InboundState, changed, ["token_hash"])
    InboundState.objects.bulk_create(
        InboundState(dependency_id=dependency_id, token_hash=hashed)
        for dependency_id, hashed in hashes.items()
        if dependency_id not in states
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
    hashes = {}
    for dependency_id, name in rows.values_list("id", "name"):
        try:
            token, _ = placeholders.resolve(declared[name], environ)
        except placeholders.UnsetVariable as exc:
            log.warning("heartbeat %s: %s: its pings cannot be matched until it is", name, exc)
            continue
        hashes[dependency_id] = token_hash(token)
    store_hashes(hashes)
