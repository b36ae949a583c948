"""The latency and success chart of a provider's last hour, as inline SVG.

Pure: plain data in, a string of SVG markup out; no database, no JavaScript, no chart library,
nothing from another host. The input is the 1-minute buckets of `health.metrics.series_for`
(the `series` of `GET /api/providers/{id}/metrics`): `{"start", "checks", "failures",
"latency_ms_avg", "latency_ms_p95"}`, `start` a datetime or its ISO form, oldest first,
minutes without checks included with `checks` 0 and both latencies null.

What is drawn: the average and p95 latency as two lines (a minute without a passing check is
a gap, never bridged; a lone minute is a dot), failed checks as red bars in a strip under them
(the bar's height is the minute's share of failed checks), the success rate of the hour in
words above, a y axis in ms with 3 or 4 labelled ticks and an x axis with UTC times every 15
minutes. The `<title>` and `aria-label` say the same in one sentence for screen readers.
Colours come from CSS classes (`static/css/site.css`, light and dark); the markup carries no
colour of its own, only `currentColor`. Width is fluid (a viewBox, width 100 %).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# The drawing, in viewBox units.
WIDTH = 600
HEIGHT = 250
LEFT = 62  # the y axis labels
RIGHT = 12
SUMMARY_Y = 14  # the success rate, then the legend under it
LEGEND_Y = 34
PLOT_TOP = 50
PLOT_BOTTOM = 180
FAIL_TOP = 188
FAIL_BOTTOM = 208
AXIS_LABEL_Y = 226
CAPTION_Y = 244
PLOT_WIDTH = WIDTH - LEFT - RIGHT

TICK_MINUTES = 15
EMPTY_TEXT = "No checks in the last hour"
_NICE_STEPS = (1, 2, 2.5, 5)


@dataclass(frozen=True)
class Bucket:
    start: datetime
    checks: int
    failures: int
    avg: float | None
    p95: float | None


def _as_utc_minute(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise ValueError(f"a bucket's start must be a datetime or an ISO 8601 string, not {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(second=0, microsecond=0)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _buckets(series: Iterable[Mapping[str, Any]]) -> list[Bucket]:
    buckets = [
        Bucket(
            start=_as_utc_minute(item["start"]),
            checks=int(item.get("checks") or 0),
            failures=int(item.get("failures") or 0),
            avg=_number(item.get("latency_ms_avg")),
            p95=_number(item.get("latency_ms_p95")),
        )
        for item in series
    ]
    return sorted(buckets, key=lambda b: b.start)


def nice_ticks(highest: float) -> list[float]:
    """0 and 2 or 3 evenly spaced round values, the last at or above `highest` (3–4 ticks)."""
    highest = max(highest, 3.0)
    magnitude = 10 ** math.floor(math.log10(highest / 3))
    for factor in (0.1, 1, 10):
        for base in _NICE_STEPS:
            step = base * magnitude * factor
            count = math.ceil(highest / step - 1e-9)
            if count <= 3:
                return [step * i for i in range(count + 1)]
    raise AssertionError("unreachable: a step of 10x the magnitude always fits in 3")


def _fmt(value: float) -> str:
    """A latency or tick label: whole milliseconds from 10 up, one decimal below."""
    if value >= 10 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.1f}"


def _success(passed: int, checks: int) -> str:
    rate = 100 * passed / checks
    # Rounded down, so an hour with a failure never reads "100 %".
    shown = math.floor(rate * 10) / 10
    return f"{shown:.0f} %" if shown.is_integer() else f"{shown:.1f} %"


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


class _Frame:
    """Where a minute and a latency go on the drawing."""

    def __init__(self, first: datetime, minutes: int, top_ms: float):
        self.first = first
        self.step = PLOT_WIDTH / minutes
        self.top_ms = top_ms

    def x_edge(self, moment: datetime) -> float:
        return LEFT + (moment - self.first) // timedelta(minutes=1) * self.step

    def x_mid(self, moment: datetime) -> float:
        return self.x_edge(moment) + self.step / 2

    def y(self, ms: float) -> float:
        return PLOT_BOTTOM - (ms / self.top_ms) * (PLOT_BOTTOM - PLOT_TOP)


def _runs(buckets: list[Bucket], field: str) -> list[list[Bucket]]:
    """Consecutive minutes with a value; a missing minute or a null value ends a run."""
    runs: list[list[Bucket]] = []
    previous: Bucket | None = None
    for bucket in buckets:
        if getattr(bucket, field) is None:
            previous = None
            continue
        if previous is not None and bucket.start - previous.start == timedelta(minutes=1):
            runs[-1].append(bucket)
        else:
            runs.append([bucket])
        previous = bucket
    return runs


def _line(buckets: list[Bucket], field: str, frame: _Frame, css: str) -> list[str]:
    parts = []
    for run in _runs(buckets, field):
        points = [(frame.x_mid(b.start), frame.y(getattr(b, field))) for b in run]
        if len(points) == 1:
            x, y = points[0]
            parts.append(f'<circle class="{css} chart-dot" cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="currentColor"/>')
            continue
        d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))
        parts.append(f'<path class="{css}" d="{d}" fill="none" stroke="currentColor" stroke-width="2"/>')
    return parts


def _text(x: float, y: float, text: str, css: str = "chart-text", anchor: str = "start") -> str:
    return f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="currentColor">{escape(text)}</text>'


def _x_axis(buckets: list[Bucket], frame: _Frame) -> list[str]:
    parts = []
    for bucket in buckets:
        if bucket.start.minute % TICK_MINUTES:
            continue
        x = frame.x_edge(bucket.start)
        anchor = "start" if x - LEFT < 16 else "end" if WIDTH - RIGHT - x < 16 else "middle"
        parts.append(
            f'<line class="chart-grid" x1="{x:.1f}" y1="{PLOT_TOP}" x2="{x:.1f}" y2="{FAIL_BOTTOM + 4}" stroke="currentColor"/>'
        )
        parts.append(_text(x, AXIS_LABEL_Y, _hhmm(bucket.start), "chart-text chart-time", anchor))
    parts.append(_text(WIDTH - RIGHT, CAPTION_Y, "time (UTC)", "chart-text chart-caption", "end"))
    return parts


def _describe(buckets: list[Bucket], name: str | None) -> str:
    first, last = buckets[0].start, buckets[-1].start
    subject = f"Latency and success of {name}" if name else "Latency and success"
    span = f"last hour ({_hhmm(first)}–{_hhmm(last + timedelta(minutes=1))} UTC)"
    checks = sum(b.checks for b in buckets)
    if not checks:
        return f"{subject}, {span}: no checks in the last hour."
    failures = sum(b.failures for b in buckets)
    sentence = [f"{subject}, {span}: {checks} check{'s' if checks != 1 else ''}, {failures} failed, success {_success(checks - failures, checks)}."]
    averages = [b.avg for b in buckets if b.avg is not None]
    if averages:
        mean = sum(averages) / len(averages)
        sentence.append(
            f"Average latency {_fmt(mean)} ms (per minute from {_fmt(min(averages))} to {_fmt(max(averages))} ms)"
        )
        p95s = [b.p95 for b in buckets if b.p95 is not None]
        sentence[-1] += f", p95 up to {_fmt(max(p95s))} ms." if p95s else "."
    else:
        sentence.append("No check passed, so there is no latency to show.")
    quiet = sum(1 for b in buckets if not b.checks)
    if quiet:
        sentence.append(f"No checks in {quiet} of {len(buckets)} minutes.")
    return " ".join(sentence)


def _hover(bucket: Bucket, frame: _Frame) -> str:
    words = [f"{_hhmm(bucket.start)} UTC", f"{bucket.checks} check{'s' if bucket.checks != 1 else ''}"]
    if bucket.failures:
        words.append(f"{bucket.failures} failed")
    if bucket.avg is not None:
        words.append(f"avg {_fmt(bucket.avg)} ms")
    if bucket.p95 is not None:
        words.append(f"p95 {_fmt(bucket.p95)} ms")
    return (
        f'<rect class="chart-hover" x="{frame.x_edge(bucket.start):.1f}" y="{PLOT_TOP}" width="{frame.step:.2f}" '
        f'height="{FAIL_BOTTOM - PLOT_TOP}" fill="currentColor" fill-opacity="0" pointer-events="all">'
        f"<title>{escape(' · '.join(words))}</title></rect>"
    )


def _legend(buckets: list[Bucket]) -> list[str]:
    parts = [
        f'<line class="chart-avg" x1="{LEFT}" y1="{LEGEND_Y - 4}" x2="{LEFT + 18}" y2="{LEGEND_Y - 4}" stroke="currentColor" stroke-width="2"/>',
        _text(LEFT + 22, LEGEND_Y, "average", "chart-text chart-legend"),
        f'<line class="chart-p95" x1="{LEFT + 100}" y1="{LEGEND_Y - 4}" x2="{LEFT + 118}" y2="{LEGEND_Y - 4}" stroke="currentColor" stroke-width="2"/>',
        _text(LEFT + 122, LEGEND_Y, "p95", "chart-text chart-legend"),
        f'<rect class="chart-fail" x="{LEFT + 170}" y="{LEGEND_Y - 10}" width="8" height="11" fill="currentColor"/>',
        _text(LEFT + 182, LEGEND_Y, "failed checks", "chart-text chart-legend"),
    ]
    checks = sum(b.checks for b in buckets)
    if checks:
        failures = sum(b.failures for b in buckets)
        css = "chart-text chart-success" + (" chart-has-failures" if failures else "")
        summary = f"Success {_success(checks - failures, checks)} · {failures} of {checks} failed"
        parts.append(_text(LEFT, SUMMARY_Y, summary, css))
    return parts


def latency_chart_svg(series: Iterable[Mapping[str, Any]], name: str | None = None) -> SafeString:
    """The chart of `series` (see the module's docstring) as one `<svg>` element.

    `name` (the provider's name, any text: it is escaped) goes into the title that screen
    readers read. A series without a check draws the empty state, "No checks in the last hour".
    """
    buckets = _buckets(series)
    if not buckets:
        label = f"Latency and success of {name}: no checks in the last hour." if name else f"{EMPTY_TEXT}."
        return _svg(label, [_empty_frame(), _text(WIDTH / 2, (PLOT_TOP + FAIL_BOTTOM) / 2, EMPTY_TEXT, "chart-text chart-empty", "middle")])

    minutes = (buckets[-1].start - buckets[0].start) // timedelta(minutes=1) + 1
    highest = max([v for b in buckets for v in (b.avg, b.p95) if v is not None], default=0.0)
    ticks = nice_ticks(highest)
    frame = _Frame(buckets[0].start, minutes, ticks[-1])
    label = _describe(buckets, name)
    parts = []

    for tick in ticks:
        y = frame.y(tick)
        parts.append(f'<line class="chart-grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="currentColor"/>')
        text = f"{_fmt(tick)} ms" if tick == ticks[-1] else _fmt(tick)
        parts.append(_text(LEFT - 6, y + 4, text, "chart-text chart-tick", "end"))
    parts += _x_axis(buckets, frame)
    parts.append(f'<line class="chart-axis" x1="{LEFT}" y1="{FAIL_BOTTOM}" x2="{WIDTH - RIGHT}" y2="{FAIL_BOTTOM}" stroke="currentColor"/>')
    parts.append(_text(LEFT - 6, FAIL_BOTTOM - 6, "failed", "chart-text chart-tick", "end"))

    if not any(b.checks for b in buckets):
        parts.insert(0, _empty_frame())
        parts.append(_text(WIDTH / 2, (PLOT_TOP + PLOT_BOTTOM) / 2, EMPTY_TEXT, "chart-text chart-empty", "middle"))
        return _svg(label, parts)

    parts += _legend(buckets)
    strip = FAIL_BOTTOM - FAIL_TOP
    for bucket in buckets:
        if bucket.failures and bucket.checks:
            height = max(strip * min(bucket.failures / bucket.checks, 1.0), 3.0)
            parts.append(
                f'<rect class="chart-fail" x="{frame.x_edge(bucket.start) + 0.5:.1f}" y="{FAIL_BOTTOM - height:.1f}" '
                f'width="{max(frame.step - 1, 1):.2f}" height="{height:.1f}" fill="currentColor"/>'
            )
    parts += _line(buckets, "p95", frame, "chart-p95")
    parts += _line(buckets, "avg", frame, "chart-avg")
    parts += [_hover(b, frame) for b in buckets if b.checks]
    return _svg(label, parts)


def _empty_frame() -> str:
    return (
        f'<rect class="chart-area chart-area-empty" x="{LEFT}" y="{PLOT_TOP}" width="{PLOT_WIDTH}" '
        f'height="{FAIL_BOTTOM - PLOT_TOP}" rx="4" fill="none" stroke="currentColor"/>'
    )


def _svg(label: str, parts: list[str]) -> SafeString:
    label = escape(label)
    return mark_safe(
        f'<svg class="latency-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{label}" focusable="false">'
        f"<title>{label}</title>{''.join(parts)}</svg>"
    )
