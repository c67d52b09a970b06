"""Write conflicts: a deadlock or serialization failure is a reason to try again, not an outage.

PostgreSQL picks one transaction of a deadlock (SQLSTATE 40P01) or of a serialization failure
(40001) and rolls it back; repeating the whole transaction is the documented answer. Services wrap
their outermost transaction in :func:`retrying`: it runs the function in a fresh transaction up to
``attempts`` times with a short jittered pause. Called inside someone else's transaction it runs
once and lets the conflict rise, because only the outermost block can be repeated. A conflict that
survives every attempt (or reaches the API from elsewhere) answers ``503 write_conflict`` with
``Retry-After``: nothing was written, so the client repeats the same request.
"""

import functools
import logging
import random
import time

from django.db import OperationalError, connection, transaction

from mission_control.api.errors import WriteConflict, is_write_conflict

logger = logging.getLogger(__name__)


def retrying(func=None, *, attempts: int = 4):
    """Run ``func`` in its own transaction, repeating it when it loses a deadlock.

    Use on services whose whole effect is their transaction (a repeat is the same request again).
    """

    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            if connection.in_atomic_block:
                return fn(*args, **kwargs)  # an outer transaction owns the retry
            for attempt in range(1, attempts + 1):
                try:
                    with transaction.atomic():
                        return fn(*args, **kwargs)
                except OperationalError as exc:
                    if not is_write_conflict(exc):
                        raise
                    if attempt == attempts:
                        logger.warning("%s lost %d write conflicts in a row", fn.__qualname__, attempts)
                        raise WriteConflict() from exc
                    logger.info("%s lost a write conflict (attempt %d); repeating", fn.__qualname__, attempt)
                    time.sleep(random.uniform(0.01, 0.05) * attempt)
            raise AssertionError("unreachable")

        return run

    return wrap(func) if func is not None else wrap
