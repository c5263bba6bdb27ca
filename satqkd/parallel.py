"""This machine's cores: independent pieces of one run in forked processes.

:func:`fork_map` is ``[fn(x) for x in items]`` with each call in a child
process forked from this one (so the child starts at once, with everything
already imported and built: no pickling of the inputs, only of the results),
at most ``processes`` at a time, results in the order of ``items``.  It is
what ``satqkd run`` and ``satqkd network`` use to spread a scenario's units
over the cores of one machine; :mod:`satqkd.study` runs them on a Dask
cluster instead (many machines, or workers that outlive one command).

Children ignore SIGINT: on Ctrl-C the parent stops them and re-raises.  An
exception in a child is raised again in the parent; a child that dies
without a result (killed, out of memory) is a :class:`SatqkdError` naming
the item.  Where fork does not exist (Windows) or one process is asked for,
the calls run in this process, one after another.

:func:`fork_call` starts one call in a forked child and returns at once;
its ``result()`` waits for it (work beside this process's own).

:func:`counters` gives integers shared with the children (each child writes
its own slot), for progress while they work.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import traceback
from multiprocessing.connection import wait
from typing import Callable, Sequence

from .errors import SatqkdError

__all__ = ["available_cores", "fork_map", "fork_call", "counters"]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the CPU count)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)


def _can_fork() -> bool:
    # (A daemonic process, such as one of our own children, may not start others.)
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def counters(n: int):
    """``n`` integers (zero) shared with children forked after this call; None where fork is unavailable."""
    if n < 1 or not _can_fork():
        return None
    return multiprocessing.get_context("fork").RawArray("q", n)


def _child(conn, fn, item):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        message = ("ok", fn(item))
    except BaseException as exc:  # raised again in the parent, with where it happened here
        if not isinstance(exc, SatqkdError):
            exc.add_note("in a forked worker process:\n" + "".join(traceback.format_exc()))
        message = ("error", exc)
    try:
        try:
            conn.send(message)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # the result or exception does not pickle
            conn.send(("error", SatqkdError(f"a worker process could not return its result: {exc}")))
        conn.close()
    except BaseException:  # the parent is gone or stopping us: nothing to tell
        pass
    # Done: a SIGTERM from now on (the parent stopping) ends the process quietly.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def fork_map(fn: Callable, items: Sequence, processes: int | None = None, *,
             on_wait: Callable[[], None] | None = None, poll_s: float = 0.2, name: Callable = repr) -> list:
    """``[fn(x) for x in items]``, each call in a forked child process.

    ``processes``: at most this many children at once (default: the cores
    available); ``on_wait()`` is called every ``poll_s`` seconds while the
    parent waits (to report progress); ``name(item)`` names an item in the
    error raised when its child dies without a result.
    """
    items = list(items)
    if processes is None:
        processes = available_cores()
    if processes <= 1 or len(items) <= 1 or not _can_fork():
        return [fn(x) for x in items]
    results: list = [None] * len(items)
    running: dict = {}  # the child's connection -> (index, _Forked)
    queue = list(range(len(items)))[::-1]
    try:
        while queue or running:
            while queue and len(running) < processes:
                i = queue.pop()
                child = _Forked(fn, items[i], name(items[i]))
                running[child.connection] = (i, child)
            for conn in wait(list(running), timeout=poll_s):
                i, child = running.pop(conn)
                results[i] = child.result()
            if on_wait is not None:
                on_wait()
    finally:
        for _, child in running.values():
            child.close()
    return results


class _Forked:
    """One call running in a forked child (:func:`fork_call`)."""

    def __init__(self, fn, item, name):
        ctx = multiprocessing.get_context("fork")
        self._name = name
        self.connection, send = ctx.Pipe(duplex=False)  # readable when the result (or the child's end) comes
        self._proc = ctx.Process(target=_child, args=(send, fn, item), daemon=True)
        self._proc.start()
        send.close()

    def result(self):
        """The call's return value (waits for it); its exception is raised here."""
        try:
            status, value = self.connection.recv()
        except EOFError:
            self._proc.join()
            raise SatqkdError(f"the worker process for {self._name} ended without a result "
                              f"(exit code {self._proc.exitcode})") from None
        except BaseException:
            self.close()
            raise
        self._proc.join()  # it has sent its result and is ending
        self.connection.close()
        if status == "error":
            raise value
        return value

    def close(self):
        """Stop the child if it still runs (its work is abandoned)."""
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self.connection.close()


class _Here:
    """A call run in this process, when ``result()`` asks for it (no fork)."""

    def __init__(self, fn, item):
        self._fn, self._item = fn, item

    def result(self):
        return self._fn(self._item)

    def close(self):
        pass


def fork_call(fn: Callable, item=None, *, name: str = "a call"):
    """Start ``fn(item)`` in a forked child now; ``.result()`` waits for its value, ``.close()``
    stops it.  Where fork does not exist, or only one core is available, ``fn(item)`` runs in
    this process when ``result()`` is called."""
    if available_cores() <= 1 or not _can_fork():
        return _Here(fn, item)
    return _Forked(fn, item, name)
