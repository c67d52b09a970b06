"""Small formatting filters for the pages: status badges, money, durations, relative times."""

import json
from datetime import UTC

from django import template
from django.utils.html import format_html

from mission_control import display

register = template.Library()


@register.filter
def badge(status) -> str:
    """A status pill whose colour follows the status (text says it too: colour is never the only cue)."""
    if status is None or status == "":
        return ""
    return format_html(
        '<span class="badge s-{}">{}</span>', str(status).lower(), str(status).replace("_", " ")
    )


@register.filter
def usd(value) -> str:
    """Dollars by the one rule (``mission_control.display.money``), the exact figure in the tooltip."""
    text = display.money(value)
    exact = display.money_exact(value)
    if not exact or exact == text:
        return text
    return format_html('<span class="money" title="{}">{}</span>', exact, text)


@register.filter
def duration(ms) -> str:
    if ms is None or ms == "":
        return "—"
    ms = int(ms)
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@register.filter
def ago(value) -> str:
    """How long ago, by the one rule (``mission_control.display.relative``): "40 s ago"."""
    return display.relative(value or None)


@register.filter
def when(value) -> str:
    """A moment as ``<time>``: how long ago, with the exact UTC time in its tooltip."""
    if not value:
        return "never"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        display.relative(value),
    )


@register.filter
def pct(value, places: int = 0) -> str:
    """A fraction (0..1) as a percentage."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(places)}f}%"


@register.filter
def number(value) -> str:
    if value is None or value == "":
        return "—"
    return f"{int(value):,}"


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def pretty_json(value) -> str:
    """JSON indented for reading (escaped by the template like any other text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@register.filter
def index(sequence, position):
    try:
        return sequence[int(position)]
    except (IndexError, TypeError, ValueError):
        return ""


@register.filter
def seconds(value) -> str:
    """A span in seconds, read as a person would say it."""
    if value is None or value == "":
        return "—"
    return duration(int(value) * 1000)


@register.filter
def compact_json(value) -> str:
    """JSON on one line, for a table cell."""
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False, default=str)
