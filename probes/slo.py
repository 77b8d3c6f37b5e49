"""A dependency's service level objective, as declared: `slo: {objective: 99.9%, window: 30d}`.

The figures that follow from it (availability, error budget, burn rates, alerts) are
probes/error_budgets.py's. No Django here: the declaration and the engine read it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from probes.durations import format_duration
from probes.excerpts import excerpt
from probes.fields import Fields

DEFAULT_WINDOW = 30 * 86400.0
SHORTEST_WINDOW = 86400.0
# Rollups are kept SEAHEALTH_ROLLUP_RETENTION (at least 30d, 400d unless set otherwise).
LONGEST_WINDOW = 90 * 86400.0
# Checks a burn-rate window must hold before its rate is told (README, "SLOs"): at one probe
# a minute, one failure in 5 minutes is a 200x burn of a 99.9% objective.
DEFAULT_MIN_CHECKS = 3
# An objective of 50% or less is a typo for a ratio (0.999); 100% leaves no budget to burn.
LOWEST_OBJECTIVE = 50.0
_PERCENT = re.compile(r"^\s*(\d{1,3}(?:\.\d{1,6})?)\s*%\s*$")


@dataclass(frozen=True)
class Slo:
    objective: float  # a ratio: 0.999 for 99.9%
    window: float = DEFAULT_WINDOW  # seconds
    min_checks: int = DEFAULT_MIN_CHECKS

    @property
    def budget(self) -> float:
        """The share of the window that may be down: 0.001 for 99.9%."""
        return 1 - self.objective

    def declared(self) -> dict[str, Any]:
        """As dependencies.yaml writes it, for the dependency's page."""
        return {
            "objective": format_percent(self.objective),
            "window": format_duration(self.window),
            "min_checks": self.min_checks,
        }

    def stored(self) -> dict[str, Any]:
        return {"objective": self.objective, "window": self.window, "min_checks": self.min_checks}

    @classmethod
    def from_stored(cls, value: dict[str, Any] | None) -> Slo | None:
        return cls(**value) if value else None


def format_percent(ratio: float) -> str:
    """99.9%, 99.95%, 100%: no trailing zeros, no float noise."""
    text = f"{ratio * 100:.6f}".rstrip("0").rstrip(".")
    return f"{text}%"


def read(fields: Fields) -> Slo | None:
    """The entry's `slo:` (or the defaults'), None when it has none."""
    if fields.value("slo", None) is None:
        return None
    section = fields.section("slo")
    if section is None:
        return None
    objective = _objective(section)
    window = section.duration("window", DEFAULT_WINDOW)
    if isinstance(window, float) and not SHORTEST_WINDOW <= window <= LONGEST_WINDOW:
        section.problem(
            "window",
            f"must be between {format_duration(SHORTEST_WINDOW)} and "
            f"{format_duration(LONGEST_WINDOW)}, got {format_duration(window)}",
        )
        window = None
    min_checks = section.integer("min_checks", DEFAULT_MIN_CHECKS, minimum=1, maximum=10_000)
    section.reject_unread(("objective", "window", "min_checks"))
    if objective is None or window is None or min_checks is None:
        return None
    return Slo(objective=objective, window=window, min_checks=min_checks)


def _objective(section: Fields) -> float | None:
    value = section.value("objective")
    if value is None:
        return None
    if isinstance(value, str) and (match := _PERCENT.match(value)):
        percent = float(match[1])
    elif isinstance(value, int | float) and not isinstance(value, bool):
        percent = float(value)
    else:
        section.problem("objective", f"expected a percentage such as 99.9%, got {excerpt(value)}")
        return None
    if not LOWEST_OBJECTIVE < percent < 100:
        hint = f" (did you mean {format_percent(percent)}?)" if 0.5 < percent < 1 else ""
        section.problem(
            "objective",
            f"must be a percentage above {LOWEST_OBJECTIVE:g}% and below 100% (100% leaves no "
            f"error budget), got {excerpt(value)}{hint}",
        )
        return None
    # Rounded as written: 99.9% is 0.999, not 0.9990000000000001.
    return round(percent / 100, 8)
