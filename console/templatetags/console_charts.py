"""`{% load console_charts %}`: the provider's latency and success chart in a page.

    {% latency_chart series %}                  the 1-minute buckets of health.metrics
    {% latency_chart series name=provider.name %}
    {{ series|latency_chart }}
"""

from __future__ import annotations

from django import template

from console.charts import latency_chart_svg

register = template.Library()


@register.simple_tag(name="latency_chart")
def latency_chart_tag(series, name=None):
    return latency_chart_svg(series or [], name=name)


@register.filter(name="latency_chart")
def latency_chart_filter(series, name=None):
    return latency_chart_svg(series or [], name=name)
