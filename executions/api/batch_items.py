"""Batch items validated in plain Python, with the answers of :class:`ReportSerializer`.

DRF validates a field through several layers of calls (empty values, coercion, a validator list
with its own error collection); for 1,000 items of ~15 fields that was a third of a batch's time.
The fast path here accepts an item only when it is sure the serializer would accept it and
produces the same validated data (same values, same types, same defaults); anything else (a
wrong type, a bound crossed, an unknown field, a rare shape it does not handle) goes to the
serializer itself, which decides and words the errors. So the error codes, messages and field
names are DRF's, and an item the serializer refuses is never accepted here.

Fields it rarely sees (``cost_usd``, ``logs``, datetimes given as objects) are validated by the
serializer's own field objects, one field at a time.
"""

import json
from datetime import datetime

from rest_framework import serializers

from executions.api.serializers import MAX_DURATION_MS, MAX_TOKENS, ReportSerializer, body_hash
from mission_control.json_limits import clean_text

# name -> (trim whitespace, allow blank, max length or None)
TEXT = {
    "external_id": (True, False, 200),
    "prompt": (False, True, None),
    "error": (False, True, None),
    "error_type": (True, True, 80),
    "model": (True, True, 120),
    "model_provider": (True, True, 60),
    "session_key": (True, True, 200),
    "session_id": (True, True, 200),
}
NULLABLE_TEXT = {"external_id"}
COUNTS = {
    "input_tokens": MAX_TOKENS,
    "output_tokens": MAX_TOKENS,
    "cache_read_tokens": MAX_TOKENS,
    "total_tokens": MAX_TOKENS,
}
NULLABLE_COUNTS = {"duration_ms": MAX_DURATION_MS}
TIMES = ("started_at", "finished_at")
CHOICES = ("trigger", "status")
DOCUMENTS = {"input": False, "output": True}  # name -> null allowed
BY_FIELD = ("cost_usd", "logs")  # validated by the serializer's own field


class Unsure(Exception):
    """The fast path cannot vouch for this item: the serializer decides."""


class BatchValidator:
    """One per batch: the serializer (and its fields) built once, the fast path per item."""

    def __init__(self, *, parsed_json: bool = False):
        self.serializer = ReportSerializer()
        self.fields = self.serializer.fields
        self.known = frozenset(self.fields)
        self.choices = {name: self.fields[name].choice_strings_to_values for name in CHOICES}
        self.defaults = {name: self.fields[name].default for name in CHOICES}
        # A body the JSON parser produced holds nothing JSONField's serialisability check refuses.
        self.parsed_json = parsed_json
        # DateTimeField.enforce_timezone's zone (the request's current one): aware times move to it.
        clock = self.fields["started_at"]
        self.zone = clock.timezone if hasattr(clock, "timezone") else clock.default_timezone()

    def validate(self, item) -> dict:
        """Validated data, or :class:`serializers.ValidationError` exactly as the serializer raises it."""
        try:
            return self.fast(item)
        except Unsure:
            return self.serializer.run_validation(item)

    def fast(self, item) -> dict:
        if type(item) is not dict or not self.known.issuperset(item):
            raise Unsure
        data = {}
        for name, value in item.items():
            if name in TEXT:
                data[name] = self._text(name, value)
            elif name in COUNTS:
                if type(value) is not int or not 0 <= value <= COUNTS[name]:
                    raise Unsure
                data[name] = value
            elif name in NULLABLE_COUNTS:
                if value is not None and (type(value) is not int or not 0 <= value <= NULLABLE_COUNTS[name]):
                    raise Unsure
                data[name] = value
            elif name in TIMES:
                if value is None:
                    data[name] = None
                elif type(value) is str:
                    data[name] = self._time(name, value)
                else:
                    raise Unsure
            elif name in CHOICES:
                if type(value) is not str or value not in self.choices[name]:
                    raise Unsure
                data[name] = self.choices[name][value]
            elif name in DOCUMENTS:
                if value is None:
                    if not DOCUMENTS[name]:
                        raise Unsure
                elif not self.parsed_json:
                    try:
                        json.dumps(value)
                    except (TypeError, ValueError):
                        raise Unsure from None
                data[name] = value
            else:  # BY_FIELD
                data[name] = self._field(name, value, "run_validation")
        for name in CHOICES:
            if name not in data:
                data[name] = self.defaults[name]
        cache, given = data.get("cache_read_tokens"), data.get("input_tokens")
        if cache is not None and (cache > given if given is not None else cache):
            raise Unsure
        started, finished = data.get("started_at"), data.get("finished_at")
        if started and finished and finished < started:
            raise Unsure
        return data

    @staticmethod
    def _text(name: str, value):
        if type(value) is not str:
            if value is None and name in NULLABLE_TEXT:
                return None
            raise Unsure
        trim, blank, longest = TEXT[name]
        if trim:
            value = value.strip()
        if not value:
            if not blank:
                raise Unsure
            return ""
        if longest is not None and len(value) > longest:
            raise Unsure
        if not clean_text(value):
            raise Unsure
        return value

    def _time(self, name: str, value: str):
        """DateTimeField's parse (Django's ``parse_datetime`` tries ``fromisoformat`` first) and
        its move of an aware time to the zone; naive times and other spellings go to the field."""
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or self.zone is None or parsed.utcoffset() is None:
            return self._field(name, value, "to_internal_value")
        try:
            return parsed.astimezone(self.zone)
        except OverflowError:
            raise Unsure from None

    def _field(self, name: str, value, method: str):
        try:
            return getattr(self.fields[name], method)(value)
        except serializers.ValidationError:
            raise Unsure from None


def validate_reports(
    items: list, *, parsed_json: bool = False
) -> tuple[list[tuple[int, dict, str]], dict[int, dict]]:
    """Validate batch items: ``(valid (index, data, body hash), errors by index)``.

    ``parsed_json``: the items come from a JSON parser (the API), so their documents need no
    serialisability check.
    """
    validator = BatchValidator(parsed_json=parsed_json)
    valid, errors = [], {}
    for index, item in enumerate(items):
        try:
            valid.append((index, validator.validate(item), body_hash(item)))
        except serializers.ValidationError as exc:
            errors[index] = exc.detail
    return valid, errors
