"""The process is stopping: waits inside requests (an agent's long-poll) end now, not when they would.

``manage.py serve`` calls ``begin()`` the moment it starts to stop, before it lets the requests in
flight finish; a view that waits calls ``wait(seconds)`` instead of sleeping and returns what it has.
"""

import threading

_stopping = threading.Event()


def begin() -> None:
    _stopping.set()


def requested() -> bool:
    return _stopping.is_set()


def wait(seconds: float) -> bool:
    """Sleep up to ``seconds``; True at once when the process is stopping."""
    return _stopping.wait(seconds)
