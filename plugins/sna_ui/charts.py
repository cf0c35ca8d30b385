"""Chart geometry for inline SVG, computed on the server: the page needs no script and no CDN.

Functions return plain coordinates; the templates draw them (and escape every label).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bars: list[Bar]


def reason_bars(excluded: Mapping[str, int], width: int = 760, bar_height: int = 22) -> BarChart:
    """Horizontal bars, one per exclusion reason, largest first (room on the left for words and code)."""
    items = sorted(((str(k), int(v)) for k, v in excluded.items() if int(v) > 0), key=lambda i: (-i[1], i[0]))
    label_width, value_room = 300, 70
    largest = max((value for _, value in items), default=1)
    span = width - label_width - value_room
    bars = [
        Bar(label, value, label_width, index * (bar_height + 6) + 4,
            max(1.0, span * value / largest), bar_height)
        for index, (label, value) in enumerate(items)
    ]
    return BarChart(width, max(40, len(items) * (bar_height + 6) + 8), label_width, bars)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: int
    label: str


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str
    points: list[Point]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    top: int
    bottom: int
    maximum: int
    series: list[Series]
    first_label: str
    last_label: str


def size_history(
    labels: Sequence[str], rows: Sequence[int], scanned: Sequence[int], width: int = 640, height: int = 220
) -> LineChart:
    """Rows and scanned customers per export, oldest to newest, on one shared scale from zero."""
    left, right, top, bottom = 60, 10, 10, 30
    maximum = max([*rows, *scanned, 1])
    count = len(labels)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x_of(index: int) -> float:
        return left + (plot_w / 2 if count == 1 else plot_w * index / (count - 1))

    def y_of(value: int) -> float:
        return top + plot_h * (1 - value / maximum)

    series = [
        Series(name, css, [Point(x_of(i), y_of(v), int(v), labels[i]) for i, v in enumerate(values)])
        for name, css, values in (("scanned", "scanned", scanned), ("rows", "rows", rows))
    ]
    return LineChart(width, height, left, top, height - bottom, maximum, series,
                     labels[0] if labels else "", labels[-1] if labels else "")
