"""Query parameters, parsed in one place: the API filters, the console pages and the event stream.

``str.isdigit()`` is not a parser: it accepts "³" and "²" (``int()`` then raises) and any number
of digits (the database then overflows a bigint). Everything that reads an id from a request goes
through :func:`parse_id`; a bad value is an :class:`InvalidParameter`, which the API answers with
``400 {"error": "invalid_parameter", "parameter": <name>}`` and the pages treat as no filter.
"""

import re

from django.utils.dateparse import parse_datetime

BIGINT_MAX = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")  # ASCII only: re's [0-9] is not \d, which matches "٣"
_INT = re.compile(r"-?[0-9]{1,19}")


class InvalidParameter(ValueError):
    """A query parameter that cannot mean anything: ``name`` is the parameter, ``message`` says why."""

    def __init__(self, name: str, message: str):
        self.name = name
        self.message = message
        super().__init__(f"{name}: {message}")


def parse_id(value: str | None, *, name: str) -> int | None:
    """An object id from ASCII digits that fits a bigint; None when absent or empty."""
    if value is None or value == "":
        return None
    if not _ID.fullmatch(value) or int(value) > BIGINT_MAX:
        raise InvalidParameter(name, "A valid integer is required.")
    return int(value)


def id_or_none(value: str | None) -> int | None:
    """:func:`parse_id` for the pages: a value that is not an id is the same as no filter."""
    try:
        return parse_id(value, name="id")
    except InvalidParameter:
        return None


def parse_int(
    value: str | None, *, name: str, minimum: int = -BIGINT_MAX, maximum: int = BIGINT_MAX
) -> int | None:
    """A whole number within ``minimum..maximum`` (a bigint by default); None when absent or empty."""
    if value is None or value == "":
        return None
    if not _INT.fullmatch(value) or not minimum <= int(value) <= maximum:
        raise InvalidParameter(name, f"A whole number from {minimum} to {maximum} is required.")
    return int(value)


def parse_choice(value: str | None, *, name: str, choices) -> str | None:
    """One of ``choices``; None when absent or empty."""
    if value is None or value == "":
        return None
    allowed = list(choices)
    if value not in allowed:
        raise InvalidParameter(name, f"Use one of {', '.join(allowed)}.")
    return value


def parse_choices(value: str | None, *, name: str, choices) -> list[str]:
    """A comma-separated list of ``choices`` (``failed,aborted``); empty when absent."""
    wanted = [v for v in (value or "").split(",") if v]
    allowed = list(choices)
    bad = [v for v in wanted if v not in allowed]
    if bad:
        raise InvalidParameter(name, f"Unknown value '{bad[0]}'; use one of {', '.join(allowed)}.")
    return wanted


def parse_flag(value: str | None, *, name: str) -> bool | None:
    """``true``/``false`` (or ``1``/``0``, ``yes``/``no``); None when absent or empty."""
    raw = (value or "").strip().lower()
    if not raw:
        return None
    if raw in {"1", "true", "yes"}:
        return True
    if raw in {"0", "false", "no"}:
        return False
    raise InvalidParameter(name, "Use true or false.")


EARLIEST_YEAR, LATEST_YEAR = 1970, 9000  # far inside what datetime and the schedules can compute with


def parse_moment(value: str | None, *, name: str):
    """An ISO 8601 date-time with a zone, between 1970 and 9000; None when absent or empty."""
    if value is None or value == "":
        return None
    moment = parse_datetime(value.replace(" ", "+"))  # a '+' in a query string arrives as a space
    if moment is None or moment.tzinfo is None:
        raise InvalidParameter(name, "An ISO 8601 date-time with a zone, e.g. 2026-03-29T00:00:00Z.")
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise InvalidParameter(name, f"A date between the years {EARLIEST_YEAR} and {LATEST_YEAR}.")
    return moment


def param(params, name: str, parse=parse_id, **kwargs):
    """``parse(params.get(name), name=name, ...)``: read one parameter of a query dict."""
    return parse(params.get(name), name=name, **kwargs)
