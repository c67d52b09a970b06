"""How money and moments read to a person: one rule for every page, message and admin column.

Money: cents for anything from one cent up ("$16.88", "$0.93"), two significant digits below a cent
("$0.0007", "$0.00071", exactly as many digits as matter), the exact figure kept for tooltips and exports. Moments: "just now" under
ten seconds, then "40 s ago", "12 min ago", "3 h ago", "2 d ago", and the date past a week.
"""

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils import timezone

CENT = Decimal("0.01")


def _amount(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def money(value) -> str:
    """``value`` dollars as a person reads them at a glance ("—" for none)."""
    amount = _amount(value)
    if amount is None:
        return "—" if value in (None, "") else str(value)
    sign, amount = ("-", -amount) if amount < 0 else ("", amount)
    if amount == 0:
        return "$0.00"
    if amount >= CENT:
        return f"{sign}${amount.quantize(CENT, rounding=ROUND_HALF_UP):,}"
    # Below a cent: two significant digits, so a cheap call still reads as what it cost.
    places = -amount.adjusted() + 1
    digits = f"{amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}".rstrip("0")
    return f"{sign}${digits}"


def money_exact(value) -> str:
    """The exact figure, trailing zeros dropped ("$0.928481"), for a tooltip."""
    amount = _amount(value)
    if amount is None:
        return ""
    text = f"{abs(amount):,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if "." not in text or len(text.split(".")[1]) < 2:
        text = f"{abs(amount):,.2f}"
    return f"{'-' if amount < 0 else ''}${text}"


def relative(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago (or until) ``moment``, in one short phrase."""
    if moment is None:
        return "never"
    now = now or timezone.now()
    delta = now - moment
    future = delta < timedelta(0)
    seconds = abs(delta.total_seconds())
    if seconds < 10:
        return "just now"
    if seconds < 60:
        span = f"{int(seconds)} s"
    elif seconds < 3600:
        span = f"{int(seconds // 60)} min"
    elif seconds < 86400:
        span = f"{int(seconds // 3600)} h"
    elif seconds < 7 * 86400:
        span = f"{int(seconds // 86400)} d"
    else:
        return timezone.localtime(moment).strftime("%Y-%m-%d")
    return f"in {span}" if future else f"{span} ago"
