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


def _serve(conn, fn, items):
    """A forked child's life: ``fn(items[i])`` for each index ``i`` the parent
    sends, each result (or exception) sent back, until the parent sends None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent stops a child with SIGTERM only when it abandons the child's work (interrupted, or an
    # error elsewhere): the child dies at once.  The handler inherited from a command raised inside
    # the item, which was then reported as the item's error while the parent waited for the child to
    # end: a hang.  What a child was filling (a reserved temporary file) is the parent's to remove.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.stdout, sys.stderr = _own_stream(1, sys.__stdout__), _own_stream(2, sys.__stderr__)
    parent = multiprocessing.parent_process()
    try:
        while True:
            # Until the parent sends the next item, or ends without a word (killed): then so does this child.
            if parent is not None and conn not in wait([conn, parent.sentinel]):
                break
            i = conn.recv()
            if i is None:
                break
            try:
                message = ("ok", fn(items[i]))
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
                conn.send(message)
            except Exception as exc:  # the result does not pickle: a program error
                conn.send(("error", None, f"the result of a forked worker process does not pickle: "
                                          f"{type(exc).__name__}: {exc}"))
        conn.close()
    except BaseException:  # the parent is gone: nothing to tell
        pass


def fork_map(fn: Callable, items: Sequence, processes: int | None = None, *,
             on_wait: Callable[[], None] | None = None, poll_s: float = 0.2, name: Callable = repr) -> list:
    """``[fn(x) for x in items]``, each call in a forked child process.

    ``processes``: at most this many children (default: the cores
    available), each forked once and given the next item whenever it is
    done with one (a child forked per item paid again, per item, for what
    this process had not built yet and for copying the pages it wrote:
    120 five-day units took 2.5 times longer on two cores than on one);
    ``on_wait()`` is called every ``poll_s`` seconds while the parent waits
    (to report progress); ``name(item)`` names an item in the error raised
    when its child dies without a result.
    """
    items = list(items)
    if processes is None:
        processes = available_cores()
    if processes <= 1 or len(items) <= 1 or not can_fork():
        return [fn(x) for x in items]
    results: list = [None] * len(items)
    children: list = []
    queue = iter(range(len(items)))
    try:
        for _ in range(min(processes, len(items))):
            try:
                children.append(_Forked(fn, items, name))
            except OSError:  # cannot fork now: the work goes to those that started
                break
        if not children:
            return [fn(x) for x in items]
        for child in children:
            child.give(next(queue))
        busy = {child.connection: child for child in children}
        while busy:
            for conn in wait(list(busy), timeout=poll_s):
                child = busy[conn]
                i = child.index
                results[i] = child.result()
                nxt = next(queue, None)
                if nxt is not None:
                    child.give(nxt)
                else:
                    del busy[conn]
                    child.finish()
            if on_wait is not None:
                on_wait()
    finally:
        for child in children:
            child.close()
    return results


class _Forked:
    """A forked child running ``fn(items[i])`` for each index it is given
    (:func:`fork_map`, :func:`fork_call`)."""

    def __init__(self, fn, items, name):
        ctx = multiprocessing.get_context("fork")
        self._items, self._name = items, name
        self.index = None
        self.connection, theirs = ctx.Pipe(duplex=True)  # readable when a result (or the child's end) comes
        self._proc = ctx.Process(target=_serve, args=(theirs, fn, items), daemon=True)
        try:
            self._proc.start()
        except OSError:  # no memory or no process left to fork: the caller runs it here
            self.connection.close()
            raise
        finally:
            theirs.close()

    def give(self, index):
        """Have the child run item ``index`` next (a child already gone is
        reported by :meth:`result`, naming the item)."""
        self.index = index
        try:
            self.connection.send(index)
        except OSError:
            pass

    def result(self):
        """The current item's return value (waits for it); its exception is raised here."""
        try:
            message = self.connection.recv()
        except EOFError:
            self._proc.join()
            raise SatqkdError(f"the worker process for {self._name(self._items[self.index])} ended without a "
                              f"result (exit code {self._proc.exitcode}: killed, or out of memory?)") from None
        except BaseException:
            self.close()
            raise
        if message[0] == "ok":
            return message[1]
        _, blob, text = message
        try:
            exc = pickle.loads(blob) if blob is not None else None
        except Exception:  # an exception that pickles but cannot be rebuilt here
            exc = None
        if exc is None:
            raise RuntimeError(f"the worker process for {self._name(self._items[self.index])} failed: {text}")
        raise exc

    def finish(self):
        """No more items: the child ends (waited for)."""
        try:
            self.connection.send(None)
        except OSError:  # it has ended already
            pass
        self._proc.join()
        self.connection.close()

    def close(self):
        """Stop the child if it still runs (its work is abandoned)."""
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self.connection.close()


class _Call:
    """:func:`fork_call`'s handle on its child."""

    def __init__(self, child):
        self._child = child

    def result(self):
        try:
            value = self._child.result()
        except BaseException:
            self._child.close()
            raise
        self._child.finish()
        return value

    def close(self):
        self._child.close()


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
        child = _Forked(fn, [item], lambda _: name)
    except OSError:  # cannot fork now
        return _Here(fn, item)
    child.give(0)
    return _Call(child)
