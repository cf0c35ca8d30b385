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
class Column:
    """One export: a bar as high as its rows; its scanned count is only a label."""

    label: str
    rows: int
    scanned: int
    x: float
    y: float
    width: float
    height: float
    labelled: bool
    """Whether the row count is printed above the bar (not when bars are too narrow for it)."""

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class AxisLabel:
    x: float
    text: str
    anchor: str


@dataclass(frozen=True)
class SizeChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    maximum: int
    columns: list[Column]
    dates: list[AxisLabel]


def size_history(
    labels: Sequence[str], rows: Sequence[int], scanned: Sequence[int], width: int = 640, height: int = 220
) -> SizeChart:
    """Rows per export, one bar each, in the given order (the caller sorts by reference date), on a
    scale of their own from zero: scanned counts are far larger, so they are each bar's label, not a
    second series on the same axis. One export is one bar; every date shown is printed once."""
    left, right, top, bottom = 60, 10, 22, 30
    count = len(labels)
    maximum = max([*(int(r) for r in rows), 1])
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(count, 1)
    bar_width = max(2.0, min(48.0, slot * 0.7))
    columns = []
    for index, (label, row_count, scanned_count) in enumerate(zip(labels, rows, scanned, strict=True)):
        bar_height = plot_h * int(row_count) / maximum
        x = left + slot * index + (slot - bar_width) / 2
        columns.append(Column(str(label), int(row_count), int(scanned_count), x, top + plot_h - bar_height,
                              bar_width, bar_height, labelled=slot >= 28))
    shown = range(count) if count <= 6 else sorted({0, count // 2, count - 1})
    dates, seen = [], set()
    for index in shown:
        column = columns[index]
        if column.label in seen:
            continue
        seen.add(column.label)
        anchor = "middle"
        if count > 6 and index in (0, count - 1):  # the outer labels stay inside the chart
            anchor = "start" if index == 0 else "end"
        x = column.x if anchor == "start" else column.x + column.width if anchor == "end" else column.centre
        dates.append(AxisLabel(x, column.label, anchor))
    return SizeChart(width, height, left, width - right, top, top + plot_h, maximum, columns, dates)
