"""The charts' geometry: scales, round ticks, bars from the zero line, lines with gaps."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from analytics import charts
from analytics.charts import Scale, bar_list, column_chart, line_chart, nice_step, nice_ticks

D = Decimal


# Scales and ticks ---------------------------------------------------------------------------


def test_a_scale_maps_the_domain_onto_the_span_linearly() -> None:
    scale = Scale(domain=(0, 100), span=(200, 0))  # y grows downwards in SVG

    assert scale(0) == 200
    assert scale(100) == 0
    assert scale(25) == 150
    assert scale(D("-10")) == 220  # below the domain: beyond the span, not clamped


def test_a_scale_of_one_value_puts_everything_at_the_start() -> None:
    assert Scale(domain=(5, 5), span=(10, 90))(5) == 10


@pytest.mark.parametrize(
    ("span", "count", "step"),
    [
        (D("1234.56"), 4, D(500)),
        (D(100), 4, D(25)),
        (D(10), 5, D(2)),
        (D("0.3"), 4, D("0.1")),
        (D(9), 4, D("2.5")),
    ],
)
def test_steps_are_one_two_two_and_a_half_or_five_times_a_power_of_ten(
    span: Decimal, count: int, step: Decimal
) -> None:
    assert nice_step(span, count) == step


def test_counts_never_get_a_step_below_one_nor_a_half() -> None:
    assert nice_step(D(2), 4, integers=True) == 1
    assert nice_step(D(9), 4, integers=True) == 5  # not 2.5: half a visit is no tick


def test_ticks_start_at_zero_and_cover_the_largest_value() -> None:
    assert nice_ticks(0, D("1234.56")) == [D(0), D(500), D(1000), D(1500)]
    assert nice_ticks(3, 23) == [D(0), D(10), D(20), D(30)]


def test_ticks_reach_below_zero_for_negative_values() -> None:
    ticks = nice_ticks(D(-35), D(120))

    assert ticks == [D(-50), D(0), D(50), D(100), D(150)]
    assert D(0) in ticks


def test_ticks_of_nothing_still_make_an_axis() -> None:
    assert nice_ticks(0, 0) == [D(0), D(1)]


def test_tick_values_carry_no_float_noise() -> None:
    ticks = nice_ticks(0, D("0.3"))

    assert [str(t) for t in ticks] == ["0.00", "0.10", "0.20", "0.30"]
    assert all(isinstance(t, Decimal) for t in ticks)


def test_count_ticks_are_whole_numbers() -> None:
    ticks = nice_ticks(0, 3, integers=True)

    assert ticks == [D(0), D(1), D(2), D(3)]
    assert all(t == t.to_integral_value() for t in ticks)


# Column charts ------------------------------------------------------------------------------


def _days(*values: int | Decimal) -> list[tuple[str, int | Decimal]]:
    return [(f"Day {i + 1}", value) for i, value in enumerate(values)]


def test_bars_grow_up_from_the_zero_line_in_proportion() -> None:
    chart = column_chart(_days(10, 20, 0, 5), integers=True)

    ten, twenty, zero, five = chart.columns
    assert chart.baseline == chart.plot.bottom  # no negative value: zero is the bottom
    assert twenty.height == pytest.approx(2 * ten.height, abs=0.02)
    assert five.height == pytest.approx(ten.height / 2, abs=0.02)
    assert zero.height == 0
    for column in chart.columns:
        assert column.y + column.height == pytest.approx(chart.baseline)
    # The top tick is at or above the largest value, so no bar leaves the plot.
    assert twenty.y >= chart.plot.top


def test_bars_share_the_plot_width_in_order_without_overlapping() -> None:
    chart = column_chart(_days(*range(1, 31)))

    xs = [column.x for column in chart.columns]
    assert xs == sorted(xs)
    for left, right in zip(chart.columns, chart.columns[1:], strict=False):
        assert left.x + left.width < right.x
    assert chart.columns[0].x >= chart.plot.left
    last = chart.columns[-1]
    assert last.x + last.width <= chart.plot.right


def test_a_day_of_refunds_hangs_below_the_axis() -> None:
    chart = column_chart(_days(D("100.00"), D("-40.00"), D("60.00")))

    sale, refund, _ = chart.columns
    assert chart.plot.top < chart.baseline < chart.plot.bottom
    assert refund.negative
    assert not sale.negative
    assert refund.y == chart.baseline  # a negative bar starts at zero and goes down
    assert refund.y + refund.height <= chart.plot.bottom + 0.01
    assert sale.y + sale.height == pytest.approx(chart.baseline)
    assert refund.height == pytest.approx(sale.height * 0.4, abs=0.05)
    assert chart.ticks[0].value < 0 <= chart.ticks[-1].value


def test_ticks_are_placed_on_the_value_axis_and_formatted() -> None:
    chart = column_chart(_days(D("80.00")), tick_format=lambda value: f"${value}")

    assert [tick.label for tick in chart.ticks] == ["$0", "$20", "$40", "$60", "$80"]
    positions = [tick.position for tick in chart.ticks]
    assert positions[0] == chart.plot.bottom
    assert positions[-1] == chart.plot.top
    assert positions == sorted(positions, reverse=True)


def test_a_chart_of_zeros_or_of_nothing_is_empty() -> None:
    assert column_chart(_days(0, 0, 0)).empty
    assert column_chart([]).empty
    assert column_chart([]).columns == []
    assert not column_chart(_days(0, D("-1.00"))).empty


def test_bucket_labels_are_thinned_to_fit_and_stay_inside_the_picture() -> None:
    values = [(f"Nov {day}", day) for day in range(1, 31)]
    chart = column_chart(values)

    assert 2 < len(chart.labels) < 30
    xs = [label.x for label in chart.labels]
    assert xs == sorted(xs)
    gap = min(b - a for a, b in itertools.pairwise(xs))
    assert gap >= len("Nov 30") * charts.CHAR_WIDTH  # no two labels overlap
    for label in chart.labels:
        half = len(label.text) * charts.CHAR_WIDTH / 2
        assert half <= label.x <= chart.width - half


def test_a_few_buckets_show_every_label() -> None:
    chart = column_chart(_days(1, 2, 3))

    assert [label.text for label in chart.labels] == ["Day 1", "Day 2", "Day 3"]


def test_bars_carry_their_formatted_value() -> None:
    chart = column_chart(_days(D("12.50")), value_format=lambda value: f"${value}")

    assert chart.columns[0].text == "$12.50"
    assert chart.columns[0].label == "Day 1"


def test_the_picture_is_narrow_enough_for_a_phone() -> None:
    chart = column_chart(_days(1))

    assert chart.width <= 400  # at 390 px a unit stays near a pixel and 12-unit text readable
    assert chart.plot.left > 0
    assert chart.plot.right < chart.width


# Line charts --------------------------------------------------------------------------------


def test_a_line_breaks_where_a_bucket_has_no_value() -> None:
    chart = line_chart(
        [("a", D("4.5")), ("b", D("4.0")), ("c", None), ("d", D("3.0")), ("e", D("5.0"))],
        domain=(0, 5),
    )

    assert len(chart.segments) == 2
    assert [point.label for point in chart.points] == ["a", "b", "d", "e"]
    first, second = chart.segments
    assert first.count(",") == 2
    assert second.count(",") == 2


def test_a_lonely_value_is_a_dot_not_a_line() -> None:
    chart = line_chart([("a", None), ("b", D(4)), ("c", None)], domain=(0, 5))

    assert chart.segments == []
    assert len(chart.points) == 1
    assert not chart.empty


def test_a_rating_is_read_against_zero_to_five() -> None:
    chart = line_chart([("a", D(5)), ("b", D("2.5"))], domain=(0, 5))

    assert [tick.value for tick in chart.ticks] == [D(v) for v in range(6)]
    five, half = chart.points
    assert five.y == chart.plot.top
    assert half.y == pytest.approx((chart.plot.top + chart.plot.bottom) / 2)


def test_points_sit_at_the_centre_of_their_bucket_like_the_bars() -> None:
    values = [("a", D(1)), ("b", D(2))]
    line = line_chart(values)
    bars = column_chart(values)

    for point, column in zip(line.points, bars.columns, strict=True):
        assert point.x == pytest.approx(column.x + column.width / 2, abs=0.02)


def test_a_line_without_any_value_is_empty() -> None:
    chart = line_chart([("a", None), ("b", None)], domain=(0, 5))

    assert chart.empty
    assert chart.points == []
    assert chart.segments == []


# Horizontal bars ----------------------------------------------------------------------------


def test_horizontal_bars_are_proportional_to_their_count() -> None:
    chart = bar_list([("Champions", 10), ("Loyal", 5), ("Lost", 0)])

    champions, loyal, lost = chart.rows
    assert loyal.bar_width == pytest.approx(champions.bar_width / 2, abs=0.02)
    assert lost.bar_width == 0
    assert champions.bar_width + chart.left + charts.ROW_VALUE_SPACE <= chart.width
    assert chart.track_width == champions.bar_width  # every row's track is the longest bar
    assert [row.share for row in chart.rows] == [D("66.7"), D("33.3"), D("0.0")]
    # Each count is written just after its bar.
    assert champions.value_x > chart.left + champions.bar_width


def test_rows_stack_downwards_and_the_picture_fits_them() -> None:
    chart = bar_list([(f"Segment {n}", n) for n in range(11)])

    tops = [row.label_y for row in chart.rows]
    assert tops == sorted(tops)
    assert chart.rows[-1].bar_y + chart.bar_height <= chart.height
    for row in chart.rows:
        assert row.label_y < row.bar_y  # the label above its bar


def test_a_tiny_count_still_shows_a_bar() -> None:
    chart = bar_list([("Big", 10_000), ("Small", 1)])

    assert chart.rows[1].bar_width >= charts.MIN_BAR


def test_long_labels_are_cut_to_the_picture() -> None:
    name = "Gold (The Very Long Name Of A Coffee Shop Cashback Programme Of Ours)"
    chart = bar_list([(name, 3)])

    label = chart.rows[0].label
    assert label.endswith("…")
    assert len(label) * charts.CHAR_WIDTH <= chart.width


def test_no_count_at_all_is_empty() -> None:
    assert bar_list([("Champions", 0), ("Lost", 0)]).empty
    assert bar_list([]).empty
    assert not bar_list([("Lost", 1)]).empty


def test_the_text_after_a_bar_is_the_callers() -> None:
    chart = bar_list([("A", 1), ("B", 3)], value_format=lambda count, share: f"{count}|{share}")

    assert [row.text for row in chart.rows] == ["1|25.0", "3|75.0"]
