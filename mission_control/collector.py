"""CPython's cyclic garbage collector in the web process (daphne), where a thousand long-polls wait,
and in the ``agents`` WSGI workers (``mission_control/wsgi.py``), where a full pass stops every
thread serving beats.

A full collection (of the oldest generation) stops the whole process, daphne's event loop
included, for as long as it walks every object it tracks: a claim rung during one waits for it.
CPython 3.11 runs one when ``threshold2`` collections of the middle generation have run since the
last one *and* the objects promoted into the oldest generation since then exceed a quarter of it.
Long-polls renew every 30 s, so a thousand waiting claims promote a quarter of their own number
every ~7 s; with CPython's thresholds (700, 10, 10) the younger collections came so often (16 and
1.5 a second under ``bench claims``) that a full pass followed every 5-9 s, whatever the number of
waiters (docs/scaling.md, *claims*).

``settle`` (called once the ASGI application is loaded):

* freezes the start-up heap (modules, settings, URL patterns...): it lives as long as the process,
  and full passes no longer walk it;
* sets the thresholds from ``MC_WEB_GC_THRESHOLD`` (default 10000,10,10): a young collection every
  10,000 net allocations of tracked objects instead of 700. A pass through Django allocates
  thousands, so with 700 a request's objects were caught alive by young collections and promoted
  towards the oldest generation, to die there as garbage only a full pass frees, and the middle
  generation's collections (the clock full passes wait for) came 1.4-1.5 times a second. With
  10,000, under ``bench claims`` (1,000 waiting): young collections 16/s -> 0.8/s, middle 1.5/s ->
  0.1/s, full passes every 5-9 s -> every ~2 min, each freeing 15-17k objects of garbage and
  walking ~100k live ones (110-150 ms of CPU instead of 75-85 ms). Nothing but the start-up heap
  is frozen and no collection is switched off: cyclic garbage is still freed, young by the young
  collections (each walks at most ~10,000 new objects, a few ms) and old by every full pass; what
  waits longer for a full pass is bounded by what the middle generation promotes in 10 of its
  collections. RSS over a long run: docs/scaling.md.
"""

import gc

from django.conf import settings


def settle() -> None:
    gc.set_threshold(*settings.MC_WEB_GC_THRESHOLD)
    gc.collect()
    gc.freeze()
