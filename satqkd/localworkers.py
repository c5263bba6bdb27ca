"""Starting local Dask worker processes early and cheaply (kept light to
import: ``satqkd sweep --workers`` calls :func:`start_local_workers` before
it imports anything heavy).

Local workers are forked from a server process (multiprocessing's
forkserver) that imports what a unit needs once, instead of each worker
being a fresh interpreter importing distributed, numpy, pandas, scipy and
skyfield (1.5 s of CPU each, on the cores the units need).  Started first
thing, the server's imports run on another core while the command reads
the scenario.
"""

from __future__ import annotations

import contextlib

__all__ = ["UNIT_MODULES", "forkserver_usable", "start_local_workers", "sigint_blocked"]

# What a unit imports, loaded once by the server local workers are forked from.
UNIT_MODULES = ["distributed", "satqkd.study", "satqkd.schedule", "satqkd.weather", "satqkd.stations",
                "threadpoolctl"]


def forkserver_usable() -> bool:
    import multiprocessing

    return "forkserver" in multiprocessing.get_all_start_methods()


def start_local_workers() -> None:
    """Start, now, the process local Dask workers will be forked from: it
    imports what a unit needs (about 1.5 s of CPU) while this process goes
    on.  Idempotent; :func:`satqkd.study.cluster` calls it when it starts a
    local cluster.  SIGINT stays blocked in the server and so in the workers
    (see :func:`satqkd.study.cluster`)."""
    if not forkserver_usable():
        return
    import multiprocessing
    from multiprocessing import forkserver

    with sigint_blocked():
        multiprocessing.get_context("forkserver").set_forkserver_preload(UNIT_MODULES)
        forkserver.ensure_running()


@contextlib.contextmanager
def sigint_blocked():
    """SIGINT blocked in this thread, and in the threads and processes it
    starts meanwhile (POSIX, main thread only); delivered when the block ends."""
    import signal
    import threading

    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    # multiprocessing's resource tracker, started on first use, unblocks
    # SIGINT in the thread that starts it: started now, before the block.
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
