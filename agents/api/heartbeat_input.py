"""The heartbeat's body validated in plain Python, with the answers of :class:`HeartbeatSerializer`.

A fleet beats hundreds of times a second and almost every body is the same small shape; building the
serializer (DRF deep-copies its declared fields for every instance) was an eighth of a beat. The fast
path accepts a body only when it is sure the serializer would accept it and produce the same validated
data; anything else (a wrong type, a bound crossed, an unknown field, text to trim) goes to the
serializer, which decides and words the errors. So a body the serializer refuses is never accepted.
"""

from agents.api.serializers import HeartbeatSerializer
from agents.models import ReportedStatus
from mission_control.json_limits import clean_text

STATUSES = frozenset(ReportedStatus.values)
# name -> (max length, blank allowed)
TEXT = {"version": (64, True), "runtime_location": (200, True)}
LISTS = {"capabilities": 50, "running": 1000}
CAPABILITY_MAX = 64
KNOWN = frozenset({"status", *TEXT, *LISTS})


def _text(value, max_length: int, blank: bool) -> bool:
    return (
        type(value) is str
        and len(value) <= max_length
        and (blank or value != "")
        and value == value.strip()  # the serializer would trim it
        and clean_text(value)
    )


def plain_heartbeat(data) -> dict | None:
    """The validated data, or None when the serializer must decide."""
    if type(data) is not dict or not data.keys() <= KNOWN:
        return None
    status = data.get("status")
    if type(status) is not str or status not in STATUSES:
        return None
    validated = {"status": status}
    for name, (max_length, blank) in TEXT.items():
        if name in data:
            if not _text(data[name], max_length, blank):
                return None
            validated[name] = data[name]
    if "capabilities" in data:
        capabilities = data["capabilities"]
        if type(capabilities) is not list or len(capabilities) > LISTS["capabilities"]:
            return None
        if not all(_text(c, CAPABILITY_MAX, False) for c in capabilities):
            return None
        validated["capabilities"] = list(capabilities)
    if "running" in data:
        running = data["running"]
        if type(running) is not list or len(running) > LISTS["running"]:
            return None
        if not all(type(n) is int and n >= 1 for n in running):
            return None
        validated["running"] = list(running)
    return validated


def validated_heartbeat(data) -> dict:
    """The heartbeat body's validated data; a ValidationError (400) as the serializer words it."""
    validated = plain_heartbeat(data)
    if validated is not None:
        return validated
    serializer = HeartbeatSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
