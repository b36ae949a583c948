"""The latency and success chart on plain data: where points go, gaps, words, escaping, speed."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template

from console import charts
from console.charts import latency_chart_svg, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2025, 3, 4, 11, 5, tzinfo=UTC)  # an hour from 11:05 to 12:04


def hour(values: dict[int, tuple] | None = None, minutes: int = 60) -> list[dict]:
    """`minutes` buckets from START; `values[i] = (checks, failures, avg, p95)`, else empty."""
    values = values or {}
    series = []
    for i in range(minutes):
        checks, failures, avg, p95 = values.get(i, (0, 0, None, None))
        series.append(
            {"start": START + timedelta(minutes=i), "checks": checks, "failures": failures,
             "latency_ms_avg": avg, "latency_ms_p95": p95}
        )
    return series


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # also proves the markup is well-formed XML


def paths(root: ET.Element, css: str) -> list[list[tuple[str, float, float]]]:
    """Each `<path class=css>` as its list of (command, x, y)."""
    found = []
    for path in root.iter(f"{SVG}path"):
        if css in path.get("class", "").split():
            found.append([(c, float(x), float(y)) for c, x, y in re.findall(r"([ML])([\d.]+),([\d.]+)", path.get("d"))])
    return found


def texts(root: ET.Element, css: str | None = None) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text") if css is None or css in t.get("class", "").split()]


def expected_x(minute: int, minutes: int = 60) -> float:
    step = charts.PLOT_WIDTH / minutes
    return round(charts.LEFT + (minute + 0.5) * step, 1)


def expected_y(ms: float, top: float) -> float:
    return round(charts.PLOT_BOTTOM - ms / top * (charts.PLOT_BOTTOM - charts.PLOT_TOP), 1)


def test_points_are_placed_by_minute_and_latency():
    svg = latency_chart_svg(hour({0: (2, 0, 100, 150), 1: (2, 0, 200, 200), 59: (1, 0, 50, 50), 58: (1, 0, 60, 80)}))
    root = parse(svg)
    # The y axis ends at a round value at or above the highest latency: 0, 100, 200 ms.
    assert texts(root, "chart-tick") == ["0", "100", "200 ms", "failed"]
    avg = paths(root, "chart-avg")
    assert avg == [
        [("M", expected_x(0), expected_y(100, 200)), ("L", expected_x(1), expected_y(200, 200))],
        [("M", expected_x(58), expected_y(60, 200)), ("L", expected_x(59), expected_y(50, 200))],
    ]
    p95 = paths(root, "chart-p95")
    assert p95[0] == [("M", expected_x(0), expected_y(150, 200)), ("L", expected_x(1), expected_y(200, 200))]
    assert charts.LEFT < expected_x(0) < expected_x(59) < charts.WIDTH - charts.RIGHT


def test_minutes_without_checks_are_gaps_never_bridged():
    values = {i: (1, 0, 100 + i, 120 + i) for i in (0, 1, 2, 6, 7, 20)}
    root = parse(latency_chart_svg(hour(values)))
    runs = paths(root, "chart-avg")
    assert [[round(x, 1) for _, x, _ in run] for run in runs] == [
        [expected_x(0), expected_x(1), expected_x(2)],
        [expected_x(6), expected_x(7)],
    ]
    assert all(run[0][0] == "M" and all(c == "L" for c, _, _ in run[1:]) for run in runs)
    # The lone minute 20 is a dot, not a segment to anywhere.
    dots = [(float(c.get("cx")), c.get("class")) for c in root.iter(f"{SVG}circle")]
    assert (expected_x(20), "chart-avg chart-dot") in dots
    assert (expected_x(20), "chart-p95 chart-dot") in dots


def test_a_sparse_series_is_not_bridged_across_missing_minutes_either():
    series = [b for b in hour({i: (1, 0, 100, 100) for i in (0, 1, 5, 6)}) if b["checks"]]
    root = parse(latency_chart_svg(series))
    runs = paths(root, "chart-avg")
    assert len(runs) == 2 and all(len(run) == 2 for run in runs)


def test_a_minute_whose_checks_all_failed_is_a_gap_in_latency_and_a_full_red_bar():
    root = parse(latency_chart_svg(hour({0: (1, 0, 100, 100), 1: (2, 2, None, None), 2: (4, 1, 100, 100)})))
    assert paths(root, "chart-avg") == []  # no two consecutive passing minutes
    bars = sorted(
        ((float(r.get("x")), float(r.get("height"))) for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-fail"
         and float(r.get("y")) > charts.PLOT_BOTTOM),
    )
    step = charts.PLOT_WIDTH / 60
    strip = charts.FAIL_BOTTOM - charts.FAIL_TOP
    assert bars == [(round(charts.LEFT + step + 0.5, 1), strip), (round(charts.LEFT + 2 * step + 0.5, 1), strip / 4)]
    assert "Success 57.1 % · 3 of 7 failed" in texts(root, "chart-success")


def test_success_rate_and_the_hour_are_said_in_words():
    svg = latency_chart_svg(hour({i: (2, 1 if i == 30 else 0, 120, 180) for i in range(10, 60)}), name="OpenAI production")
    root = parse(svg)
    label = root.get("aria-label")
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == label
    assert label.startswith("Latency and success of OpenAI production, last hour (11:05–12:05 UTC): 100 checks, 1 failed, success 99 %.")
    assert "Average latency 120 ms" in label and "p95 up to 180 ms" in label
    assert "No checks in 10 of 60 minutes." in label
    # Never "100 %" when something failed.
    assert "Success 99 % · 1 of 100 failed" in texts(root, "chart-success")


def test_time_axis_is_labelled_every_15_minutes_in_utc():
    root = parse(latency_chart_svg(hour({0: (1, 0, 10, 10)})))
    assert texts(root, "chart-time") == ["11:15", "11:30", "11:45", "12:00"]
    assert texts(root, "chart-caption") == ["time (UTC)"]


def test_y_axis_has_three_or_four_round_ticks():
    for highest in (1, 3, 7, 42, 99, 100, 101, 250, 301, 999, 1000, 4321, 30_000):
        ticks = nice_ticks(highest)
        assert 3 <= len(ticks) <= 4, (highest, ticks)
        # Never a taller axis than needed; below 3 ms the axis reads 0, 1, 2, 3 ms.
        assert ticks[0] == 0 and ticks[-1] >= highest and ticks[-2] < max(highest, 3)


def test_iso_strings_as_the_api_returns_them_draw_the_same_chart():
    series = hour({3: (1, 0, 80, 90), 4: (1, 0, 85, 95)})
    as_json = [dict(b, start=b["start"].isoformat().replace("+00:00", "Z")) for b in series]
    assert latency_chart_svg(as_json) == latency_chart_svg(series)


def test_every_text_is_escaped():
    name = '<script>alert("x")</script> & "co" \'quoted\''
    svg = latency_chart_svg(hour({0: (1, 0, 10, 10)}), name=name)
    assert "<script" not in svg and 'alert("x")' not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;co&quot; &#x27;quoted&#x27;" in svg
    root = parse(svg)
    assert name in root.get("aria-label") and name in root.find(f"{SVG}title").text
    empty = latency_chart_svg([], name=name)
    assert "<script" not in empty and name in parse(empty).get("aria-label")


def test_no_checks_in_the_hour_is_the_empty_state():
    for series in ([], hour()):
        root = parse(latency_chart_svg(series, name="p1"))
        assert "No checks in the last hour" in texts(root, "chart-empty")
        assert "no checks in the last hour" in root.get("aria-label")
        assert not list(root.iter(f"{SVG}path")) and not list(root.iter(f"{SVG}circle"))


def test_the_chart_is_fluid_and_takes_its_colours_from_css():
    svg = latency_chart_svg(hour({i: (1, i % 7 == 0, 100 + i, 150 + i) for i in range(60)}))
    root = parse(svg)
    assert root.get("viewBox") == f"0 0 {charts.WIDTH} {charts.HEIGHT}" and root.get("width") == "100%"
    assert root.get("height") is None
    assert not re.search(r"#[0-9a-fA-F]{3,6}\b|rgb\(|style=", svg)
    assert "latency-chart" in root.get("class")
    # Nothing to load: no script, no link, no image, no other host.
    assert not re.search(r"<script|<image|<use|href=|https?://(?!www\.w3\.org/2000/svg)", svg)


def test_sixty_buckets_render_in_well_under_50_ms():
    series = hour({i: (3, i % 9 == 0, 100 + (i * 37) % 250, 200 + (i * 53) % 400) for i in range(60) if i % 11})
    latency_chart_svg(series)
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        latency_chart_svg(series, name="bench")
        timings.append((time.perf_counter() - started) * 1000)
    print(f"latency chart, 60 buckets: best {min(timings):.2f} ms, worst {max(timings):.2f} ms (limit 50 ms)")
    assert max(timings) < 50


def test_the_template_tag_and_filter_render_the_chart():
    series = hour({0: (1, 0, 10, 12), 1: (1, 0, 11, 13)})
    html = Template("{% load console_charts %}{% latency_chart series name=name %}").render(
        Context({"series": series, "name": "<b>p1</b>"})
    )
    assert html.startswith('<svg class="latency-chart"') and "&lt;b&gt;p1&lt;/b&gt;" in html and "<b>" not in html
    assert Template("{% load console_charts %}{{ series|latency_chart }}").render(Context({"series": series})).startswith("<svg")
    empty = Template("{% load console_charts %}{% latency_chart missing %}").render(Context({}))
    assert "No checks in the last hour" in empty


@pytest.mark.django_db
def test_the_metrics_series_of_a_provider_draws_as_it_is(provider_factory):
    from health.metrics import series_for
    from health.models import HealthCheck

    provider = provider_factory(id="p1")
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    for minutes_ago, ok, latency in ((3, True, 120), (3, False, None), (2, True, 80), (0, True, 100)):
        HealthCheck.objects.create(
            provider=provider, checked_at=now - timedelta(minutes=minutes_ago), ok=ok, latency_ms=latency,
            error_code=None if ok else "timeout", provider_status="active",
        )
    root = parse(latency_chart_svg(series_for("p1", now=now), name="p1"))
    assert len(paths(root, "chart-avg")) == 1 and len(paths(root, "chart-avg")[0]) == 2  # minutes -3 and -2
    assert "4 checks, 1 failed, success 75 %" in root.get("aria-label")
