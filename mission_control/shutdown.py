"""The process is stopping: waits inside requests (an agent's long-poll) end now, not when they would.

``manage.py serve`` calls ``begin()`` the moment it starts to stop, before it lets the requests in
flight finish; a view that waits calls ``wait(seconds)`` instead of sleeping and returns what it has.
"""

import threading

_stopping = threading.Event()
_callbacks: list = []


def when_stopping(callback) -> None:
    """Call ``callback()`` when the process begins to stop (waits on their own events use it)."""
    _callbacks.append(callback)


def begin() -> None:
    _stopping.set()
    for callback in list(_callbacks):
        callback()


def requested() -> bool:
    return _stopping.is_set()


def wait(seconds: float) -> bool:
    """Sleep up to ``seconds``; True at once when the process is stopping."""
    return _stopping.wait(seconds)
