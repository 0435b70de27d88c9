"""The charts' markup (the SVG and the table of its numbers), written in Python.

The page draws a few hundred shapes; through the template engine each attribute cost a
variable lookup and an escape, and the profile showed the SVGs taking most of the page's
time. Here every text is escaped once and every coordinate is a plain number (never
localized: a decimal comma is no decimal point in SVG).
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from analytics import charts


def _text(value: Any) -> str:
    return escape(str(value), quote=True)


def _open(chart: Any, kind: str) -> str:
    g, key = chart.geometry, _text(chart.key)
    return (
        f'<svg class="chart chart-{kind}" viewBox="0 0 {g.width} {g.height}" role="img" '
        f'aria-labelledby="chart-{key}-title chart-{key}-desc" data-chart-svg>\n'
        f'  <title id="chart-{key}-title">{_text(chart.title)}</title>\n'
        f'  <desc id="chart-{key}-desc">{_text(chart.description)}</desc>\n'
    )


def _axis(g: charts.ColumnChart | charts.LineChart) -> str:
    lines = "".join(
        f'\n    <line class="gridline" x1="{g.plot.left}" x2="{g.plot.right}" '
        f'y1="{tick.position}" y2="{tick.position}"/>'
        f'\n    <text class="tick" x="{g.tick_x}" y="{tick.position}" text-anchor="end" '
        f'dominant-baseline="middle">{_text(tick.label)}</text>'
        for tick in g.ticks
    )
    return f'  <g class="axis">{lines}\n  </g>\n'


def _labels(g: charts.ColumnChart | charts.LineChart) -> str:
    texts = "".join(
        f'\n    <text x="{label.x}" y="{g.label_y}" text-anchor="middle">{_text(label.text)}</text>'
        for label in g.labels
    )
    return f'  <g class="labels">{texts}\n  </g>\n'


def _group(name: str, items: Iterable[str]) -> str:
    return f'  <g class="{name}">{"".join(items)}\n  </g>\n'


def columns_svg(chart: Any) -> SafeString:
    g: charts.ColumnChart = chart.geometry
    bars = (
        f'\n    <rect class="bar{" negative" if column.negative else ""}" x="{column.x}" '
        f'y="{column.y}" width="{column.width}" height="{column.height}" '
        f'data-value="{column.value}"><title>{_text(column.label)}: {_text(column.text)}'
        "</title></rect>"
        for column in g.columns
    )
    baseline = (
        f'  <line class="baseline" x1="{g.plot.left}" x2="{g.plot.right}" '
        f'y1="{g.baseline}" y2="{g.baseline}"/>\n'
    )
    body = _open(chart, "columns") + _axis(g) + _group("bars", bars) + baseline + _labels(g)
    return mark_safe(body + "</svg>")  # noqa: S308 (every text above is escaped)


def line_svg(chart: Any) -> SafeString:
    g: charts.LineChart = chart.geometry
    segments = (
        f'\n    <polyline class="line" points="{_text(segment)}" fill="none"/>'
        for segment in g.segments
    )
    points = (
        f'\n    <circle class="point" cx="{point.x}" cy="{point.y}" r="3.5" '
        f'data-value="{point.value}"><title>{_text(point.label)}: {_text(point.text)}'
        "</title></circle>"
        for point in g.points
    )
    body = (
        _open(chart, "line")
        + _axis(g)
        + _group("lines", segments)
        + _group("points", points)
        + _labels(g)
    )
    return mark_safe(body + "</svg>")  # noqa: S308 (every text above is escaped)


def bars_svg(chart: Any) -> SafeString:
    g: charts.BarList = chart.geometry
    rows = "".join(
        '\n  <g class="row">'
        f'\n    <text class="row-label" x="{g.left}" y="{row.label_y}">{_text(row.label)}</text>'
        f'\n    <rect class="track" x="{g.left}" y="{row.bar_y}" width="{g.track_width}" '
        f'height="{g.bar_height}"/>'
        f'\n    <rect class="bar" x="{g.left}" y="{row.bar_y}" width="{row.bar_width}" '
        f'height="{g.bar_height}" data-value="{row.value}"/>'
        f'\n    <text class="row-value" x="{row.value_x}" y="{row.value_y}">'
        f"{_text(row.text)}</text>"
        "\n  </g>"
        for row in g.rows
    )
    return mark_safe(_open(chart, "bars") + rows + "\n</svg>")  # noqa: S308 (texts escaped)


RENDERERS = {"columns": columns_svg, "line": line_svg, "bars": bars_svg}


def chart_svg(chart: Any) -> SafeString:
    """The chart's picture, by its kind ("columns", "line" or "bars")."""
    return RENDERERS[chart.kind](chart)


def numbers_table(chart: Any) -> SafeString:
    """The chart's numbers as a table: its first column names each row. A table of more than
    two columns stacks on a phone (``table.stack``): each row a card, each number labelled with
    its column's heading; two columns fit as they are."""
    head = "".join(f'<th scope="col">{_text(header)}</th>' for header in chart.headers)
    labels = [_text(header) for header in chart.headers[1:]]
    body = "".join(
        f'<tr><th scope="row">{_text(row[0])}</th>'
        + "".join(
            f'<td data-label="{label}">{_text(cell)}</td>'
            for label, cell in zip(labels, row[1:], strict=True)
        )
        + "</tr>\n"
        for row in chart.rows
    )
    opening = '<table class="stack">' if len(chart.headers) > 2 else "<table>"
    return mark_safe(  # noqa: S308 (every text above is escaped)
        f"{opening}\n"
        f'<caption class="visually-hidden">{_text(chart.title)}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"
    )
