"""Small formatting filters for the pages: status badges, money, durations, relative times."""

import json
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

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
def usd(value, places: int = 0) -> str:
    """Dollars: cents for sums of a dollar or more, up to six decimals below (an LLM call costs little)."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if places:
        return f"${amount:,.{int(places)}f}"
    if amount == 0:
        return "$0.00"
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.6f}".rstrip("0").rstrip(".") if abs(amount) >= Decimal("0.000001") else "<$0.000001"


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
    """ "3 minutes ago" with the exact time in a tooltip-friendly form left to the template."""
    if not value:
        return "never"
    now = timezone.now()
    if value > now:
        return f"in {timesince(now, value).split(',')[0]}"
    delta = now - value
    if delta.total_seconds() < 45:
        return "just now"
    return f"{timesince(value, now).split(',')[0]} ago"


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
