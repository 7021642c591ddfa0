"""The SVG charts: every value one element, scaled to the axis, escaped, reducible."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from odoo_ops.serve.charts import Point, bar_chart, nice_max, phase_bar, reduce_points, time_chart

NS = {"s": "http://www.w3.org/2000/svg"}
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def test_time_chart_has_one_point_per_value_in_time_order() -> None:
    points = [Point(T0 + dt.timedelta(minutes=10 * i), float(v)) for i, v in enumerate([5, 50, 20])]
    root = parse(time_chart(list(reversed(points)), label="latency", unit="ms"))
    circles = root.findall(".//s:circle[@class='point']", NS)
    assert [float(c.get("data-value", "")) for c in circles] == [5.0, 50.0, 20.0]
    xs = [float(c.get("cx", "")) for c in circles]
    assert xs == sorted(xs) and xs[0] < xs[-1]
    ys = {float(c.get("data-value", "")): float(c.get("cy", "")) for c in circles}
    assert ys[50.0] < ys[20.0] < ys[5.0]  # higher value, higher on the page (smaller y)
    assert root.find(".//s:polyline", NS) is not None
    assert "50 ms" in ET.tostring(root, encoding="unicode")  # the axis top: nice_max(50)


def test_points_only_chart_and_empty_chart() -> None:
    root = parse(time_chart([Point(T0, 1.0), Point(T0 + dt.timedelta(hours=1), 0.0)],
                            label="failures", line=False))  # fmt: skip
    assert root.find(".//s:polyline", NS) is None
    assert len(root.findall(".//s:circle", NS)) == 2
    empty = parse(time_chart([], label="nothing"))
    assert empty.findall(".//s:circle", NS) == [] and "no data" in ET.tostring(empty, "unicode")
    assert "no data" in bar_chart([], label="nothing")


def test_reduce_points_keeps_the_mean_and_the_count() -> None:
    points = [Point(T0 + dt.timedelta(minutes=i), float(i)) for i in range(1000)]
    reduced = reduce_points(points, 100)
    assert len(reduced) == 100
    assert sum(p.count for p in reduced) == 1000
    assert reduced[0].value == pytest.approx(4.5)  # mean of 0..9
    assert reduce_points(points[:5], 100) == points[:5]
    with pytest.raises(ValueError):
        reduce_points(points, 0)
    root = parse(time_chart(points, label="x", max_points=50))
    circles = root.findall(".//s:circle", NS)
    assert len(circles) == 50 and {c.get("data-count") for c in circles} == {"20"}


def test_bar_chart_heights_are_proportional_and_names_escaped() -> None:
    root = parse(bar_chart([("a<b>", 10.0), ("c&d", 5.0), ("e", 0.0)], label="size", unit="MiB",
                           highlight=[False, True, False]))  # fmt: skip
    bars = root.findall(".//s:rect[@class='bar']", NS)
    assert [b.get("data-name") for b in bars] == ["a<b>", "c&d", "e"]
    heights = [float(b.get("height", "")) for b in bars]
    assert heights[0] == pytest.approx(2 * heights[1]) and heights[2] == 0
    assert bars[1].get("fill") != bars[0].get("fill")  # the highlighted one


def test_phase_bar_widths_follow_the_seconds_and_the_scale() -> None:
    svg = phase_bar([("code", "ok", 3.0), ("verify", "failed", 1.0)], scale_seconds=8.0, width=400)
    bars = parse(svg).findall(".//s:rect", NS)
    assert [b.get("data-name") for b in bars] == ["code", "verify"]
    assert [float(b.get("width", "")) for b in bars] == [150.0, 50.0]
    assert float(bars[1].get("x", "")) == 150.0
    assert "phase-failed" in (bars[1].get("class") or "")


@pytest.mark.parametrize(("value", "top"), [(0.0, 1.0), (0.7, 1.0), (1.0, 1.0), (1.2, 2.0),
                                            (3.0, 5.0), (7.0, 10.0), (120.0, 200.0)])  # fmt: skip
def test_nice_max(value: float, top: float) -> None:
    assert nice_max(value) == top
