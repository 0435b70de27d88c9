"""The home page's charts as geometry: what to draw where, for an SVG template to write out.

Pure Python over plain values (no models, no queries, no HTML): a linear ``Scale`` maps values
to the chart's coordinates, ``nice_ticks`` picks round axis values, and three builders return
frozen dataclasses holding every rectangle, line and label:

- ``column_chart``: one vertical bar per bucket of the period (revenue, visits, new cards);
  negative values (a day of refunds) hang below the zero line;
- ``line_chart``: a line through the buckets that have a value, broken where one has none (the
  average rating of days without ratings);
- ``bar_list``: one horizontal bar per category, longest for the largest count (segments,
  tiers), each with its label above it so long names fit a phone.

Coordinates are viewBox units. The viewBox is narrow (360 wide) so that a 390 px phone shows a
unit at about 0.9 px and 13-unit text stays readable; the stylesheet sets a smaller font where
wider screens scale the picture up. Sizes that depend on text assume the largest font.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

Number = Decimal | int

WIDTH = 360
HEIGHT = 200
BAR_LIST_WIDTH = 340
FONT_SIZE = 13
# Space for the value axis' labels on the left (at least this, more for long labels), the
# bucket labels below.
MARGIN_LEFT = 32
MARGIN_RIGHT = 8
MARGIN_TOP = 12
MARGIN_BOTTOM = 26
# An average glyph of the chart's font is about 0.6 em wide: enough to keep labels apart.
CHAR_WIDTH = FONT_SIZE * 0.6
LABEL_GAP = 10
# Each bar fills this share of its slot; the rest is the gap to its neighbours.
BAR_FILL = 0.7
# Horizontal bars: a row is a label line and a bar; the count is written after the bar.
ROW_HEIGHT = 40
ROW_BAR_HEIGHT = 14
ROW_VALUE_SPACE = 100
# A count above zero stays visible however small next to the largest.
MIN_BAR = 2.0

NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


def _plain(value: Number) -> str:
    return str(value)


def _count_and_share(count: int, share: Decimal) -> str:
    return f"{count} ({share} %)"


def fit(text: str, width: float) -> str:
    """``text`` cut with an ellipsis to about ``width`` units (the table keeps it whole)."""
    room = max(int(width / CHAR_WIDTH), 2)
    return text if len(text) <= room else text[: room - 1].rstrip() + "…"


def _round(value: float) -> float:
    # Two decimals are finer than any screen; shorter numbers make a lighter page.
    return round(value, 2)


@dataclass(frozen=True)
class Scale:
    """A linear map from the values' ``domain`` onto the chart's ``span`` of coordinates."""

    domain: tuple[float, float]
    span: tuple[float, float]

    def __call__(self, value: Number | float) -> float:
        low, high = self.domain
        start, end = self.span
        if high == low:
            return start
        return _round(start + (float(value) - low) / (high - low) * (end - start))


def nice_step(span: Decimal, count: int, *, integers: bool = False) -> Decimal:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that cuts ``span`` in about
    ``count`` parts; at least 1 for ``integers`` (half a visit is no tick)."""
    if span <= 0:
        return Decimal(1)
    raw = span / count
    exponent = raw.adjusted()  # the power of ten of the leading digit
    magnitude = Decimal(1).scaleb(exponent)
    for factor in NICE_STEPS:
        if integers and exponent == 0 and factor == Decimal("2.5"):
            continue
        step = factor * magnitude
        if step >= raw:
            break
    if integers and step < 1:
        return Decimal(1)
    return step


def nice_ticks(
    low: Number, high: Number, *, count: int = 4, integers: bool = False
) -> list[Decimal]:
    """Round values from at or below ``min(low, 0)`` to at or above ``max(high, 0)``.

    Zero is always among them (bars grow from it); an empty range still gets an axis from
    0 to 1 step, so a chart of zeros is a flat line on a readable axis.
    """
    bottom = min(Decimal(low), Decimal(0))
    top = max(Decimal(high), Decimal(0))
    step = nice_step(top - bottom, count, integers=integers)
    first = (bottom / step).to_integral_value(rounding=ROUND_FLOOR) * step
    last = (top / step).to_integral_value(rounding=ROUND_CEILING) * step
    if last == first:
        last = first + step
    # As many decimals as the step has, none for a whole step ("0E+1" reads as 0).
    places = Decimal(1).scaleb(min(int(step.as_tuple().exponent), 0))
    ticks = []
    value = first
    while value <= last:
        ticks.append(value.quantize(places))
        value += step
    return ticks


# ---------------------------------------------------------------------------------------------
# Pieces


@dataclass(frozen=True)
class Plot:
    """The rectangle inside the axes."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class Tick:
    """A value axis line at ``position`` (a y coordinate) labelled ``label``."""

    value: Decimal
    position: float
    label: str


@dataclass(frozen=True)
class AxisLabel:
    """A bucket's name under the chart, centred on ``x``."""

    x: float
    text: str


@dataclass(frozen=True)
class Column:
    """One bucket's bar; ``y`` is its top edge whether it stands up or hangs down."""

    x: float
    y: float
    width: float
    height: float
    value: Number
    label: str
    text: str

    @property
    def negative(self) -> bool:
        return self.value < 0


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    plot: Plot
    columns: list[Column]
    ticks: list[Tick]
    labels: list[AxisLabel]
    baseline: float  # the y of zero
    empty: bool  # nothing but zeros: the page says so instead of drawing a flat line

    @property
    def tick_x(self) -> float:
        return self.plot.left - 6  # the value labels end just left of the axis

    @property
    def label_y(self) -> float:
        return self.height - 8


@dataclass(frozen=True)
class LinePoint:
    x: float
    y: float
    value: Number
    label: str
    text: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    plot: Plot
    # Runs of consecutive buckets with a value, each an SVG ``points`` list ("x,y x,y").
    segments: list[str]
    points: list[LinePoint]
    ticks: list[Tick]
    labels: list[AxisLabel]
    empty: bool

    @property
    def tick_x(self) -> float:
        return self.plot.left - 6

    @property
    def label_y(self) -> float:
        return self.height - 8


@dataclass(frozen=True)
class BarRow:
    """A category: its label on top, its bar below, its count after the bar."""

    label: str  # cut to fit the picture
    value: int
    text: str
    share: Decimal  # percent of the chart's total, one decimal
    label_y: float
    bar_y: float
    bar_width: float
    value_x: float
    value_y: float


@dataclass(frozen=True)
class BarList:
    width: int
    height: int
    left: float
    track_width: float  # the longest bar's length: a faint track shows the scale on every row
    bar_height: float
    rows: list[BarRow]
    empty: bool


# ---------------------------------------------------------------------------------------------
# Builders


def _value_axis(
    ticks: Sequence[Decimal], tick_format: Callable[[Decimal], str], width: int, height: int
) -> tuple[Plot, Scale, list[Tick]]:
    """The plot, left of it room for the longest tick label, and the value axis along it."""
    labels = [tick_format(t) for t in ticks]
    left = max(MARGIN_LEFT, math.ceil(max(len(label) for label in labels) * CHAR_WIDTH) + 10)
    plot = Plot(
        left=left, top=MARGIN_TOP, right=width - MARGIN_RIGHT, bottom=height - MARGIN_BOTTOM
    )
    scale = Scale(domain=(float(ticks[0]), float(ticks[-1])), span=(plot.bottom, plot.top))
    axis = [
        Tick(value=t, position=scale(t), label=label)
        for t, label in zip(ticks, labels, strict=True)
    ]
    return plot, scale, axis


def _slot_labels(labels: Sequence[str], plot: Plot, total_width: int) -> list[AxisLabel]:
    """Every k-th bucket's label, k chosen so that the longest label fits between two."""
    count = len(labels)
    if not count:
        return []
    slot = plot.width / count
    longest = max(len(label) for label in labels) * CHAR_WIDTH
    every = max(1, math.ceil((longest + LABEL_GAP) / slot))
    shown = []
    for index in range(0, count, every):
        centre = plot.left + slot * (index + 0.5)
        # Keep the first and the last label inside the picture.
        half = len(labels[index]) * CHAR_WIDTH / 2
        x = min(max(centre, half), total_width - half)
        shown.append(AxisLabel(x=_round(x), text=labels[index]))
    return shown


def column_chart(
    values: Sequence[tuple[str, Number]],
    *,
    value_format: Callable[[Number], str] = _plain,
    tick_format: Callable[[Decimal], str] = _plain,
    integers: bool = False,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> ColumnChart:
    """Vertical bars, one per ``(label, value)`` in order, from the zero line."""
    numbers = [value for _, value in values]
    ticks = nice_ticks(min(numbers, default=0), max(numbers, default=0), integers=integers)
    plot, scale, axis = _value_axis(ticks, tick_format, width, height)
    baseline = scale(0)
    slot = plot.width / len(values) if values else plot.width
    bar_width = _round(slot * BAR_FILL)
    columns = []
    for index, (label, value) in enumerate(values):
        top = scale(value)
        columns.append(
            Column(
                x=_round(plot.left + slot * index + (slot - bar_width) / 2),
                y=min(top, baseline),
                width=bar_width,
                height=_round(abs(baseline - top)),
                value=value,
                label=label,
                text=value_format(value),
            )
        )
    return ColumnChart(
        width=width,
        height=height,
        plot=plot,
        columns=columns,
        ticks=axis,
        labels=_slot_labels([label for label, _ in values], plot, width),
        baseline=baseline,
        empty=not any(numbers),
    )


def line_chart(
    values: Sequence[tuple[str, Number | None]],
    *,
    domain: tuple[Number, Number] | None = None,
    value_format: Callable[[Number], str] = _plain,
    tick_format: Callable[[Decimal], str] = _plain,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> LineChart:
    """A line through the values at their buckets' centres, broken at every None.

    ``domain`` fixes the value axis (a rating is always read against 0 to 5); ticks then step
    by one.
    """
    present = [value for _, value in values if value is not None]
    if domain is not None:
        ticks = [Decimal(v) for v in range(int(domain[0]), int(domain[1]) + 1)]
    else:
        ticks = nice_ticks(min(present, default=0), max(present, default=0))
    plot, scale, axis = _value_axis(ticks, tick_format, width, height)
    slot = plot.width / len(values) if values else plot.width
    points: list[LinePoint] = []
    segments: list[str] = []
    run: list[str] = []
    for index, (label, value) in enumerate(values):
        if value is None:
            if run:
                segments.append(" ".join(run))
            run = []
            continue
        point = LinePoint(
            x=_round(plot.left + slot * (index + 0.5)),
            y=scale(value),
            value=value,
            label=label,
            text=value_format(value),
        )
        points.append(point)
        run.append(f"{point.x},{point.y}")
    if run:
        segments.append(" ".join(run))
    return LineChart(
        width=width,
        height=height,
        plot=plot,
        segments=[segment for segment in segments if " " in segment],  # one point is a dot
        points=points,
        ticks=axis,
        labels=_slot_labels([label for label, _ in values], plot, width),
        empty=not points,
    )


def bar_list(
    values: Sequence[tuple[str, int]],
    *,
    value_format: Callable[[int, Decimal], str] = _count_and_share,
    width: int = BAR_LIST_WIDTH,
) -> BarList:
    """Horizontal bars, one row per ``(label, count)`` in order, the largest the longest.

    ``value_format(count, share)`` writes what follows a bar (the share in % of the total).
    """
    total = sum(count for _, count in values)
    largest = max((count for _, count in values), default=0)
    left = 4.0
    scale = Scale(domain=(0, largest or 1), span=(0, width - left - ROW_VALUE_SPACE))
    rows = []
    for index, (label, count) in enumerate(values):
        top = index * ROW_HEIGHT
        length = scale(count)
        if count > 0:
            length = max(length, MIN_BAR)
        share = Decimal(0)
        if total:
            share = (Decimal(count) * 100 / total).quantize(Decimal("0.1"), ROUND_HALF_UP)
        bar_y = top + FONT_SIZE + 6
        rows.append(
            BarRow(
                label=fit(label, width - left),
                value=count,
                text=value_format(count, share),
                share=share,
                label_y=top + FONT_SIZE + 1,
                bar_y=bar_y,
                bar_width=_round(length),
                value_x=_round(left + length + 6),
                value_y=bar_y + ROW_BAR_HEIGHT - 3,
            )
        )
    return BarList(
        width=width,
        height=max(len(values), 1) * ROW_HEIGHT,
        left=left,
        track_width=scale(largest or 1),
        bar_height=ROW_BAR_HEIGHT,
        rows=rows,
        empty=total == 0,
    )
