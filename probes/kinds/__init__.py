"""The registry of probe kinds: one module per kind, one line here.

A kind module provides:
  Spec                  a frozen dataclass of its declared fields (JSON-able, placeholders kept;
                        a field in seconds carries metadata={"duration": True}, for display)
  parse(fields) -> Spec read and validate its fields from a declaration entry
  probe(spec, ctx)      async; returns an Outcome or raises ProbeError (the engine enforces
                        the deadline from outside)
  describe(spec) -> str the target, secrets redacted, for tables and pages
  prepare()             optional: one-time work (a slow import) done before a batch's
                        probes start, so that no probe's latency pays for it
"""

from __future__ import annotations

from types import ModuleType

from probes.kinds import http, rpc, s3, smtp

KINDS: dict[str, ModuleType] = {
    "http": http,
    "rpc": rpc,
    "smtp": smtp,
    "s3": s3,
}
