"""This machine's cores: independent pieces of one run in forked processes.

:func:`fork_map` is ``[fn(x) for x in items]`` with each call in a child
process forked from this one (so the child starts at once, with everything
already imported and built: no pickling of the inputs, only of the results),
at most ``processes`` at a time, results in the order of ``items``.  It is
what ``satqkd run`` and ``satqkd network`` use to spread a scenario's units
over the cores of one machine; :mod:`satqkd.study` runs them on a Dask
cluster instead (many machines, or workers that outlive one command).

Children ignore SIGINT: on Ctrl-C the parent stops them and re-raises.  An
exception in a child is raised again in the parent (with the child's
traceback as a note; one that cannot travel back becomes a RuntimeError
with its text); a child that dies without a result (killed, out of memory)
is a :class:`SatqkdError` naming the item.  Children write to their own
copies of stdout and stderr (a lock of the parent's streams may be held by
a thread that does not exist in the child).  Where fork is not used
(:func:`can_fork`: Windows, macOS) or cannot be (no memory for another
process), or one process is asked for, the calls run in this process, one
after another.

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
import sys
import traceback
from multiprocessing.connection import wait
from typing import Callable, Sequence

from .errors import SatqkdError

__all__ = ["available_cores", "can_fork", "fork_map", "fork_call", "counters"]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the CPU count)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)


def can_fork() -> bool:
    """Whether this process may fork workers: on Linux only (macOS's system libraries, its
    BLAS among them, are not safe in a forked child), and not from a daemonic process (such
    as one of our own children, or a Dask worker)."""
    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)


def counters(n: int):
    """``n`` integers (zero) shared with children forked after this call; None where fork is unavailable."""
    if n < 1 or not can_fork():
        return None
    return multiprocessing.get_context("fork").RawArray("q", n)


def _own_stream(fd: int, fallback):
    """A new text stream on a duplicate of ``fd``: none of its locks can be held by a thread
    of the parent that no longer exists here (a progress bar refreshing when we forked)."""
    try:
        return os.fdopen(os.dup(fd), "w", buffering=1, encoding=getattr(fallback, "encoding", None) or "utf-8",
                         errors="backslashreplace")
    except (OSError, ValueError):
        return open(os.devnull, "w")


def _child(conn, fn, item):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout, sys.stderr = _own_stream(1, sys.__stdout__), _own_stream(2, sys.__stderr__)
    try:
        message = ("ok", fn(item))
    except BaseException as exc:  # raised again in the parent, with where it happened here
        where = "in a forked worker process:\n" + traceback.format_exc()
        if not isinstance(exc, SatqkdError) and hasattr(exc, "add_note"):  # (Python 3.11+)
            exc.add_note(where)
        # The exception travels pickled on its own, with its text: the parent raises
        # that text if the exception cannot be rebuilt there.
        text = f"{type(exc).__name__}: {exc}\n{where}"
        try:
            message = ("error", pickle.dumps(exc), text)
        except Exception:
            message = ("error", None, text)
    try:
        try:
            conn.send(message)
        except Exception as exc:  # the result does not pickle: a program error
            conn.send(("error", None, f"the result of a forked worker process does not pickle: "
                                      f"{type(exc).__name__}: {exc}"))
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
    if processes <= 1 or len(items) <= 1 or not can_fork():
        return [fn(x) for x in items]
    results: list = [None] * len(items)
    running: dict = {}  # the child's connection -> (index, _Forked)
    queue = list(range(len(items)))[::-1]
    try:
        while queue or running:
            while queue and len(running) < processes:
                i = queue.pop()
                try:
                    child = _Forked(fn, items[i], name(items[i]))
                except OSError:  # cannot fork now: this one here
                    results[i] = fn(items[i])
                    continue
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
        try:
            self._proc.start()
        except OSError:  # no memory or no process left to fork: the caller runs it here
            self.connection.close()
            raise
        finally:
            send.close()

    def result(self):
        """The call's return value (waits for it); its exception is raised here."""
        try:
            message = self.connection.recv()
        except EOFError:
            self._proc.join()
            raise SatqkdError(f"the worker process for {self._name} ended without a result "
                              f"(exit code {self._proc.exitcode}: killed, or out of memory?)") from None
        except BaseException:
            self.close()
            raise
        self._proc.join()  # it has sent its result and is ending
        self.connection.close()
        if message[0] == "ok":
            return message[1]
        _, blob, text = message
        try:
            exc = pickle.loads(blob) if blob is not None else None
        except Exception:  # an exception that pickles but cannot be rebuilt here
            exc = None
        if exc is None:
            raise RuntimeError(f"the worker process for {self._name} failed: {text}")
        raise exc

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
    if available_cores() <= 1 or not can_fork():
        return _Here(fn, item)
    try:
        return _Forked(fn, item, name)
    except OSError:  # cannot fork now
        return _Here(fn, item)
