"""Charts drawn on the server as SVG: no script, no request to another host.

Each status-page row carries a sparkline and a bar of its recent checks (from the row's
`recent`); a dependency's page carries its latency over a window (from rollups): the
min-max band, p50 and p95 lines, and the failures marked beneath, each point's figures on
hover; and, with an SLO, its error budget left over the SLO's window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from dashboard.formatting import ms
from probes.models import RECENT_CHECKS
from probes.rollups import Tally

RESULT_CLASSES = {"s": "ok", "d": "warn", "f": "fail"}


# Drawn in whole numbers on a fine grid: a thousand rows of them on every poll, and integer
# formatting is several times cheaper than decimal.
SPARK_WIDTH, SPARK_HEIGHT = 1000, 240
BAR_CELLS = RECENT_CHECKS
_CELL_PATHS = [f"M{i * 3} 0h2v14h-2z" for i in range(BAR_CELLS)]


def sparkline(recent: Sequence[Sequence]) -> SafeString:
    """The latencies of the recent checks that answered; an empty box without two of them."""
    latencies = [(i, check[2]) for i, check in enumerate(recent) if check[2] is not None]
    box = f'<svg class="sparkline" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" aria-hidden="true">'
    if len(latencies) < 2:
        return mark_safe(box + "</svg>")  # noqa: S308 - numbers only
    scale = (SPARK_HEIGHT - 40) / (max(latency for _, latency in latencies) or 1)
    step = SPARK_WIDTH // max(len(recent) - 1, 1)
    points = " ".join(
        f"{i * step},{SPARK_HEIGHT - 20 - int(latency * scale)}" for i, latency in latencies
    )
    return mark_safe(f'{box}<polyline points="{points}"/></svg>')  # noqa: S308 - numbers only


def check_bar(recent: Sequence[Sequence]) -> SafeString:
    """A cell per recent check (the last BAR_CELLS), newest on the right, with a summary for
    screen readers."""
    recent = recent[-BAR_CELLS:]
    paths: dict[str, list[str]] = {name: [] for name in RESULT_CLASSES.values()}
    offset = BAR_CELLS - len(recent)
    for i, check in enumerate(recent):
        paths[RESULT_CLASSES.get(check[1], "fail")].append(_CELL_PATHS[offset + i])
    counts = {name: len(items) for name, items in paths.items()}
    label = (
        f"last {len(recent)} checks: {counts['ok']} passed, {counts['warn']} degraded, "
        f"{counts['fail']} failed"
        if recent
        else "no checks yet"
    )
    drawn = "".join(
        f'<path class="{name}" d="{"".join(items)}"/>' for name, items in paths.items() if items
    )
    return mark_safe(  # noqa: S308 - numbers and our own words only
        f'<svg class="checks" viewBox="0 0 {BAR_CELLS * 3} 14" role="img" '
        f'aria-label="{label}"><title>{label}</title>{drawn}</svg>'
    )


@dataclass(frozen=True)
class _Frame:
    """Where a latency chart draws: its size, margins, and the scale of both axes."""

    width: int
    height: int
    points: int
    ceiling: float  # ms at the top of the plot
    left: int = 52
    right: int = 8
    top: int = 10
    bottom: int = 30

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom

    def x(self, i: int) -> float:
        step = (self.width - self.left - self.right) / max(self.points - 1, 1)
        return self.left + i * step

    def y(self, value: float) -> float:
        return self.top + self.plot_height - value / self.ceiling * self.plot_height


def latency_chart(
    points: Sequence[tuple[datetime, Tally]], window: str, width: int = 760, height: int = 220
) -> SafeString:
    """p50 and p95 lines over the min-max band, failures as red marks at the bottom, and
    each point's time and figures in its <title>, shown on hover."""
    stats = [
        (tally.percentile(0.5), tally.percentile(0.95), tally.latency_min, tally.latency_max)
        if tally.latency_count
        else None
        for _, tally in points
    ]
    ceiling = _nice_ceiling(max((s[1] for s in stats if s), default=0) * 1.15)
    frame = _Frame(width, height, len(points), ceiling)
    parts = [
        f'<svg class="latency-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="latency over the last {escape(window)}: p50 and p95">',
        *_grid(frame),
        *_latencies(frame, stats),
        *_failures(frame, points),
        *_time_axis(frame, points),
        *_point_titles(frame, points),
    ]
    if not any(stats):
        parts.append(
            f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">'
            "no answered checks in this window</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers, times and our own words only


def _grid(frame: _Frame) -> list[str]:
    """Lines at 0, half and the top, labelled on the left."""
    return [
        f'<line class="grid" x1="{frame.left}" x2="{frame.width - frame.right}" '
        f'y1="{frame.y(tick):.1f}" y2="{frame.y(tick):.1f}"/>'
        f'<text class="axis" x="{frame.left - 6}" y="{frame.y(tick) + 4:.1f}" '
        f'text-anchor="end">{_ms(tick)}</text>'
        for tick in (0, frame.ceiling / 2, frame.ceiling)
    ]


def _latencies(frame: _Frame, stats: list) -> list[str]:
    """Per run of points with data: the min-max band, and the p50 and p95 lines."""
    x, y = frame.x, frame.y
    parts = []
    for run in _runs(stats):
        band = [f"{x(i):.1f},{y(s[3]):.1f}" for i, s in run] + [
            f"{x(i):.1f},{y(s[2]):.1f}" for i, s in reversed(run)
        ]
        parts.append(f'<polygon class="band" points="{" ".join(band)}"/>')
        for index, name in ((0, "p50"), (1, "p95")):
            if len(run) == 1:  # a lone point draws no line: mark it
                i, s = run[0]
                parts.append(
                    f'<circle class="{name}" cx="{x(i):.1f}" cy="{y(s[index]):.1f}" r="2.5"/>'
                )
                continue
            line = " ".join(f"{x(i):.1f},{y(s[index]):.1f}" for i, s in run)
            parts.append(f'<polyline class="{name}" points="{line}"/>')
    return parts


def _failures(frame: _Frame, points: Sequence[tuple[datetime, Tally]]) -> list[str]:
    """A red mark per point with failures, as tall as their share."""
    parts = []
    bottom = frame.top + frame.plot_height
    for i, (_, tally) in enumerate(points):
        if tally.failures:
            mark = max(3.0, 14 * tally.failures / tally.count)
            parts.append(
                f'<rect class="failure" x="{frame.x(i) - 1.5:.1f}" y="{bottom - mark:.1f}" '
                f'width="3" height="{mark:.1f}"><title>{tally.failures} of {tally.count} '
                f"checks failed</title></rect>"
            )
    return parts


def _time_axis(frame: _Frame, points: Sequence[tuple[datetime, Tally]]) -> list[str]:
    """The dates and times of the first, middle and last points, the last with its zone."""
    if not points:
        return []
    last = len(points) - 1
    return [
        f'<text class="axis" x="{frame.x(i):.1f}" y="{frame.height - 10}" '
        f'text-anchor="{anchor}">{_moment(points[i][0])}{" UTC" if i == last else ""}</text>'
        for i, anchor in ((0, "start"), (len(points) // 2, "middle"), (last, "end"))
    ]


def _point_titles(frame: _Frame, points: Sequence[tuple[datetime, Tally]]) -> list[str]:
    """A transparent column over each point, its <title> the point's time and figures: a
    browser shows it on hover."""
    if not points:
        return []
    width = frame.x(1) - frame.x(0) if len(points) > 1 else frame.width - frame.left - frame.right
    parts = []
    for i, (moment, tally) in enumerate(points):
        left = max(frame.left, frame.x(i) - width / 2)
        right = min(frame.width - frame.right, frame.x(i) + width / 2)
        parts.append(
            f'<rect class="point" x="{left:.1f}" y="{frame.top}" width="{right - left:.1f}" '
            f'height="{frame.plot_height}"><title>{_moment(moment)} UTC: {_figures(tally)}'
            "</title></rect>"
        )
    return parts


def _figures(tally: Tally) -> str:
    """ "p50 40 ms, p95 120 ms, 1 of 12 checks failed", or "no checks"."""
    if not tally.count:
        return "no checks"
    said = []
    if tally.latency_count:
        said.append(f"p50 {ms(tally.percentile(0.5))}, p95 {ms(tally.percentile(0.95))}")
    if tally.failures:
        said.append(f"{tally.failures} of {tally.count} checks failed")
    else:
        said.append(f"{tally.count} check{'s' if tally.count != 1 else ''}")
    return ", ".join(said)


def _moment(moment: datetime) -> str:
    """ "Nov 23 10:00", in UTC."""
    moment = moment.astimezone(UTC)
    return f"{moment:%b} {moment.day} {moment:%H:%M}"


def _runs(stats: list) -> list[list[tuple[int, tuple]]]:
    """Stretches of consecutive points with data: lines break where no check answered."""
    runs: list[list[tuple[int, tuple]]] = [[]]
    for i, s in enumerate(stats):
        if s is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, s))
    return [run for run in runs if run]


LABEL_HEIGHT = 12  # px between two axis labels, at least


def budget_chart(
    points: Sequence[tuple[datetime, float]],
    now: datetime,
    window: timedelta,
    width: int = 760,
    height: int = 160,
) -> SafeString:
    """The error budget left at the end of each hour, over the whole SLO window ending now:
    100% at the top, 0 marked, below it when overspent."""
    lowest = min((remaining for _, remaining in points), default=0.0)
    frame = _Frame(width, height, 2, ceiling=1.0, bottom=24)
    floor = min(0.0, lowest)
    span = frame.ceiling - floor

    def x(moment: datetime) -> float:
        share = 1 - (now - moment) / window
        return frame.x(0) + max(0.0, min(1.0, share)) * (frame.x(1) - frame.x(0))

    def y(remaining: float) -> float:
        return frame.top + (frame.ceiling - remaining) / span * frame.plot_height

    parts = [
        f'<svg class="budget-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="error budget remaining over the last {_days(window)}">'
    ]
    labelled: list[float] = []
    for tick in sorted({1.0, 0.0, floor}, reverse=True):
        css = "grid zero" if tick == 0 else "grid"
        parts.append(
            f'<line class="{css}" x1="{frame.left}" x2="{width - frame.right}" '
            f'y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
        )
        # Far overspent, 0% lies a pixel under 100%: its line is drawn, its label would
        # print over the other.
        if all(abs(y(tick) - other) >= LABEL_HEIGHT for other in labelled):
            labelled.append(y(tick))
            parts.append(
                f'<text class="axis" x="{frame.left - 6}" y="{y(tick) + 4:.1f}" '
                f'text-anchor="end">{tick * 100:.0f}%</text>'
            )
    for moment, anchor in ((now - window, "start"), (now, "end")):
        parts.append(
            f'<text class="axis" x="{x(moment):.1f}" y="{height - 6}" '
            f'text-anchor="{anchor}">{moment:%m-%d %H:%M}</text>'
        )
    if len(points) == 1:
        ((moment, remaining),) = points
        parts.append(
            f'<circle class="budget" cx="{x(moment):.1f}" cy="{y(remaining):.1f}" r="2.5"/>'
        )
    elif points:
        line = " ".join(f"{x(moment):.1f},{y(remaining):.1f}" for moment, remaining in points)
        parts.append(f'<polyline class="budget" points="{line}"/>')
    else:
        parts.append(
            f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">'
            "no data yet</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers, times and our own words only


def _days(window: timedelta) -> str:
    days = window / timedelta(days=1)
    return f"{days:g} days" if days != 1 else "day"


def _nice_ceiling(value: float) -> float:
    """The next 1, 2 or 5 times a power of ten: a y axis people can read."""
    if value <= 0:
        return 10.0
    power = 10 ** math.floor(math.log10(value))
    return next(n * power for n in (1, 2, 5, 10) if n * power >= value)


def _ms(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"
