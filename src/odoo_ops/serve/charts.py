"""Charts drawn on the server as SVG: a time line, bars, and a deploy's phase bar.

No JavaScript and no asset from elsewhere: each chart is a self-contained
``<svg>`` element placed in the page. Every plotted point or bar is one
element with ``class="point"`` / ``class="bar"`` and its value in
``data-value`` (and a ``<title>`` a browser shows on hover), so what a chart
shows can be counted and read back.

Long series are reduced to at most ``max_points`` points, each the mean of a
run of consecutive values (their count in ``data-count``), keeping the shape
of a year of health rounds without drawing thousands of circles.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

#: Colours of the phase statuses (and of failures in any chart).
STATUS_COLOURS = {"ok": "#2e7d32", "failed": "#c62828", "skipped": "#9e9e9e"}
LINE = "#1565c0"
BAR = "#5c6bc0"
FAIL = "#c62828"
AXIS = "#666"


@dataclass(frozen=True)
class Point:
    """One plotted value: ``at`` (x), ``value`` (y), how many values it stands for."""

    at: dt.datetime
    value: float
    count: int = 1


def reduce_points(points: Sequence[Point], max_points: int) -> list[Point]:
    """At most ``max_points`` points: runs of consecutive points replaced by their mean."""
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    if len(points) <= max_points:
        return list(points)
    size = math.ceil(len(points) / max_points)
    out: list[Point] = []
    for start in range(0, len(points), size):
        run = points[start : start + size]
        count = sum(p.count for p in run)
        mean = sum(p.value * p.count for p in run) / count
        out.append(Point(run[len(run) // 2].at, mean, count))
    return out


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^n at or above ``value`` (an axis top)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top = step * 10**exponent
        if top >= value * (1 - 1e-9):
            return float(top)
    return float(10 ** (exponent + 1))  # pragma: no cover - the loop returns first


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _svg_open(width: int, height: int, label: str, kind: str) -> str:
    return (
        f'<svg class="chart chart-{kind}" xmlns="http://www.w3.org/2000/svg" role="img"'
        f' width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
    )


def _axes(left: int, top: int, right: int, bottom: int, y_max: float, unit: str) -> list[str]:
    parts = [
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS}"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="{AXIS}"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - (bottom - top) * fraction
        text = f"{_fmt(y_max * fraction)}{(' ' + unit) if unit and fraction == 1.0 else ''}"
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{escape(text)}</text>"
        )
        if fraction:
            parts.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" class="grid"'
                ' stroke="#ddd" stroke-dasharray="2,3"/>'
            )
    return parts


def _time_labels(left: int, right: int, bottom: int, first: dt.datetime, last: dt.datetime) -> str:
    span = last - first
    fmt = "%Y-%m-%d" if span >= dt.timedelta(days=2) else "%m-%d %H:%M"
    return (
        f'<text x="{left}" y="{bottom + 16}" class="tick">{first:{fmt}}</text>'
        f'<text x="{right}" y="{bottom + 16}" text-anchor="end" class="tick">{last:{fmt}}</text>'
    )


def time_chart(
    points: Sequence[Point],
    *,
    label: str,
    unit: str = "",
    width: int = 720,
    height: int = 200,
    max_points: int = 360,
    line: bool = True,
    colour: str = LINE,
) -> str:
    """A chart of values over time (a line through points, or points only)."""
    left, top, right, bottom = 56, 12, width - 12, height - 24
    if not points:
        return (
            _svg_open(width, height, label, "empty")
            + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
            "no data</text></svg>"
        )
    shown = reduce_points(sorted(points, key=lambda p: p.at), max_points)
    first, last = shown[0].at, shown[-1].at
    seconds = max((last - first).total_seconds(), 1.0)
    y_max = nice_max(max(p.value for p in shown))
    parts = [_svg_open(width, height, label, "time"), *_axes(left, top, right, bottom, y_max, unit)]

    def xy(p: Point) -> tuple[float, float]:
        x = left + (right - left) * ((p.at - first).total_seconds() / seconds)
        if len(shown) == 1:
            x = (left + right) / 2
        y = bottom - (bottom - top) * (p.value / y_max)
        return x, y

    coords = [xy(p) for p in shown]
    if line and len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
        )
    for p, (x, y) in zip(shown, coords, strict=True):
        tip = f"{p.at:%Y-%m-%d %H:%M} UTC: {_fmt(p.value)}{(' ' + unit) if unit else ''}"
        if p.count > 1:
            tip += f" (mean of {p.count})"
        parts.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"'
            f' data-value="{p.value:g}" data-count="{p.count}"'
            f' data-at="{p.at.isoformat()}"><title>{escape(tip)}</title></circle>'
        )
    parts.append(_time_labels(left, right, bottom, first, last))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    label: str,
    unit: str = "",
    width: int = 720,
    height: int = 200,
    colour: str = BAR,
    highlight: Sequence[bool] | None = None,
) -> str:
    """Vertical bars, one per ``(name, value)``, in the given order."""
    left, top, right, bottom = 56, 12, width - 12, height - 24
    if not bars:
        return (
            _svg_open(width, height, label, "empty")
            + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
            "no data</text></svg>"
        )
    y_max = nice_max(max(v for _, v in bars))
    parts = [_svg_open(width, height, label, "bars"), *_axes(left, top, right, bottom, y_max, unit)]
    slot = (right - left) / len(bars)
    bar_width = max(1.0, min(slot * 0.8, 48.0))
    for i, (name, value) in enumerate(bars):
        h = (bottom - top) * (value / y_max)
        x = left + i * slot + (slot - bar_width) / 2
        fill = FAIL if highlight and highlight[i] else colour
        tip = f"{name}: {_fmt(value)}{(' ' + unit) if unit else ''}"
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{bottom - h:.1f}" width="{bar_width:.1f}"'
            f' height="{h:.1f}" fill="{fill}" data-value="{value:g}"'
            f' data-name="{escape(name)}"><title>{escape(tip)}</title></rect>'
        )
    parts.append(
        f'<text x="{left}" y="{bottom + 16}" class="tick">{escape(bars[0][0])}</text>'
        f'<text x="{right}" y="{bottom + 16}" text-anchor="end" class="tick">'
        f"{escape(bars[-1][0])}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def phase_bar(
    phases: Sequence[tuple[str, str, float]], *, scale_seconds: float, width: int = 320
) -> str:
    """One deploy's phases ``(name, status, seconds)`` as consecutive segments.

    ``scale_seconds`` is the duration the full width stands for (the longest
    deploy of the page), so bars of different deploys compare.
    """
    height = 18
    total = sum(s for _, _, s in phases)
    label = f"phases: {_fmt(round(total, 1))} s"
    parts = [_svg_open(width, height, label, "phases")]
    scale = max(scale_seconds, total, 1e-9)
    x = 0.0
    for name, status, seconds in phases:
        w = width * seconds / scale
        fill = STATUS_COLOURS.get(status, BAR)
        tip = f"{name}: {status}, {seconds:.2f} s"
        parts.append(
            f'<rect class="bar phase phase-{escape(status)}" x="{x:.2f}" y="1"'
            f' width="{max(w, 0.5):.2f}" height="{height - 2}" fill="{fill}" stroke="#fff"'
            f' stroke-width="0.5" data-value="{seconds:g}" data-name="{escape(name)}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        x += w
    parts.append("</svg>")
    return "".join(parts)
