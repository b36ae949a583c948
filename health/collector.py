"""The garbage collector's first threshold, raised while a run of checks probes.

A Run all keeps every probe's objects alive at once (a greenlet, a task, a connection, its
transport, the request and the answer: thousands of objects for 1,000 providers) for the
endpoints' latency. At CPython's default threshold (700 allocations) a run of 1,000 triggered
about 180 collections, and the objects surviving them filled the older generations until one
full collection over the whole heap (Django included) ran inside the run: 120-180 ms of the
run's 600-700 ms of CPU, 80-110 ms of it the full collection (measured on this 2-core machine).
At 5,000 a run triggers about 15 young collections and no full one, 30-50 ms; at 20,000, 3-4
young collections, 11-26 ms (a young collection of 20,000 objects is a pause of a few ms).

The threshold is the process's: it is raised for as long as any run probes (runs may overlap:
the API's test-all beside a single Test), then put back as it was. Other threads of the
process collect less often meanwhile, which costs memory for a second, not correctness:
reference counting frees everything without cycles as before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RUN_THRESHOLD = 20_000

_lock = threading.Lock()
_runs = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Young-generation collections every RUN_THRESHOLD allocations instead of the default, for
    the duration of the block (never lowered if it is higher already)."""
    global _runs, _saved
    with _lock:
        if _runs == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(RUN_THRESHOLD, _saved[0]), *_saved[1:])
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
