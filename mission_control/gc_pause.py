"""Hold the cyclic garbage collector off while one request builds a large batch.

A 1,000-item batch allocates ~100,000 objects (items, validated data, rows, events), and CPython
runs a collection every 700 net allocations, now and then a full one that walks the whole heap
(the framework and every loaded module, a million objects): a quarter of a batch's time went to
collections that found nothing, since all of it is still in use until the answer is sent.
Reference counting still frees everything as usual; only the cycle search waits until the last
paused request ends, and then runs as it would have. Process-wide, so it counts the requests
holding it: the collector is back as soon as none does.
"""

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collector_paused():
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
