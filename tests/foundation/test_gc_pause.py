"""The batch view's collector pause: held by several requests at once, the collector comes back
when the last one ends (and only if it was on)."""

import gc
import threading

from mission_control.gc_pause import collector_paused


def test_the_collector_comes_back_after_the_last_holder():
    assert gc.isenabled()
    first_in, second_done = threading.Event(), threading.Event()
    seen = []

    def other():
        with collector_paused():
            first_in.set()
            second_done.wait(5)
            seen.append(gc.isenabled())

    thread = threading.Thread(target=other)
    thread.start()
    first_in.wait(5)
    with collector_paused():
        seen.append(gc.isenabled())
    seen.append(gc.isenabled())  # the other request still holds it
    second_done.set()
    thread.join(5)
    assert seen == [False, False, False]
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
