"""The registry of probe kinds: one module per kind, one line here, imported when first used.

A kind module is what `Kind` says. Its module imports nothing heavy (the web pages import
it to describe a dependency): a client library that takes long to load (botocore, web3) is
imported by the probe, and by `prepare()` before a batch's probes start. Optional parts,
read through the functions below:

  prepare()                  one-time work (a slow import) before a batch's probes start, so
                             that no probe's latency pays for it
  PASSIVE, judge(spec, reported, now) -> Outcome | None
                             for a kind that reports in (PASSIVE_KINDS): nothing is probed,
                             and inbound/applying.py judges what it last reported
  speaks_tls(spec)           whether it speaks TLS (True/False), or None when the environment
                             will tell (a URL from ${VAR}): the fields about certificates
                             apply only when it may
  COMPONENT_TYPE             its checks' componentType in application/health+json
                             ("component" unless said)
  judge_pool(jobs, outcomes, ask) -> list[Outcome]
                             its dependencies declared in one `pool`, probed at once, judged
                             against each other (rpc: lag, forks); `ask(job, call)` runs
                             another call on a member as the engine runs a probe
  METRIC_FAMILIES            families of /metrics of its own (exposition.Family), and
  metric_samples(name, observations) -> list[str]
                             a block of sample lines per family, from the last observations
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from probes.context import ProbeContext
    from probes.exposition import Family
    from probes.fields import Fields
    from probes.outcomes import Outcome

# A kind's module, by its import path (imported on first use) or as a module object.
KINDS: dict[str, Any] = {
    "http": "probes.kinds.http",
    "rpc": "probes.kinds.rpc",
    "smtp": "probes.kinds.smtp",
    "s3": "probes.kinds.s3",
    "heartbeat": "probes.kinds.heartbeat",
    "webhook": "probes.kinds.webhook",
}
# The kinds that report in rather than being probed (their module says PASSIVE = True): the
# scheduler leaves them to inbound/applying.py, which judges what they last reported.
PASSIVE_KINDS = ("heartbeat", "webhook")


class Kind(Protocol):
    # A frozen dataclass of the kind's declared fields, JSON-able, placeholders kept; a field
    # in seconds carries metadata={"duration": True}, for display.
    Spec: type[Any]

    def parse(self, fields: Fields) -> Any:
        """Read and check its fields of a declaration entry: a Spec."""

    async def probe(self, spec: Any, ctx: ProbeContext) -> Outcome:
        """Probe the peer: an Outcome, or ProbeError (the engine enforces the deadline)."""

    def describe(self, spec: Any) -> str:
        """The target in a line, secrets redacted, for tables and pages."""


def kind(name: str) -> Kind:
    """The kind's module, imported on first use; KeyError for a kind that does not exist."""
    module = KINDS[name]
    return cast(Kind, importlib.import_module(module) if isinstance(module, str) else module)


def prepare(name: str) -> None:
    found = getattr(kind(name), "prepare", None)
    if found is not None:
        found()


def speaks_tls(name: str, spec: Any) -> bool | None:
    found = getattr(kind(name), "speaks_tls", None)
    return found(spec) if found is not None else None


def pool_judge(name: str) -> Any:
    """The kind's judge_pool, or None when its pools are not judged."""
    return getattr(kind(name), "judge_pool", None)


def component_type(name: str) -> str:
    return getattr(kind(name), "COMPONENT_TYPE", "component")


def metric_families() -> list[Family]:
    """The families of /metrics that kinds add, in registry order."""
    return [family for name in KINDS for family in getattr(kind(name), "METRIC_FAMILIES", ())]


def metric_samples(name: str, dependency: str, observations: Mapping[str, Any]) -> list[str]:
    """A block of lines per family of metric_families(): the kind `name`'s own from its
    observations, empty for every other kind's."""
    blocks = []
    for other in KINDS:
        module = kind(other)
        families = getattr(module, "METRIC_FAMILIES", ())
        if other == name and families:
            blocks += module.metric_samples(dependency, observations)
        else:
            blocks += [""] * len(families)
    return blocks
