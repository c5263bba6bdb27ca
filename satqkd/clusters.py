"""Dask clusters for studies: a local one, started early and cheaply, or an
existing one by address (kept light to import: ``satqkd sweep --workers``
starts its cluster before it imports anything heavy).

:func:`cluster` is a context manager giving a Dask ``Client``: a local
cluster of ``workers`` processes with one thread each, or the existing
cluster at ``scheduler`` (what dask-jobqueue on Slurm/PBS or dask-kubernetes
gives), or ``None`` (serial) when neither is given.
:func:`starting_local_cluster` starts a local cluster in the background and
hands over its client when asked, so a command reads its scenario (and
imports what it needs for that) while the workers start.

Local workers are forked from a server process (multiprocessing's
forkserver) that imports what a unit needs once, instead of each worker
being a fresh interpreter importing distributed, numpy, pandas, scipy and
skyfield (1.5 s of CPU each, on the cores the units need).  The ``satqkd``
command forks that server from itself once it has imported what both need
(:data:`SHARED_MODULES`), so that is imported once; the server imports the
rest on another core while the command parses its command line and reads
the scenario.  Elsewhere the server is a fresh interpreter, started first
thing.
"""

from __future__ import annotations

import contextlib
import logging

from .errors import SatqkdError

__all__ = ["UNIT_MODULES", "SHARED_MODULES", "LOCAL_SETTINGS", "cluster", "starting_local_cluster", "forkserver_usable",
           "start_local_workers", "sigint_blocked"]

# What a unit imports, loaded once by the server local workers are forked from.
UNIT_MODULES = ["distributed", "satqkd.study", "satqkd.schedule", "satqkd.weather", "satqkd.stations",
                "threadpoolctl", "scipy.optimize"]

# What of them a command with local workers imports too: imported before the server is forked from the
# command (the server imports the rest, scipy.optimize the largest).  Traced on a year-long sweep of 4
# combinations, 6 alternating pairs: the client had its 2 workers 0.25-0.55 s sooner than with a spawned
# server importing all (1.34 s), and the command ended 0.2-0.8 s sooner; with scipy.optimize imported
# before the fork too, later (the command imports it on its own critical path).
SHARED_MODULES = ["satqkd.study", "distributed"]

# Dask's settings for our local clusters.
# * Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536 (to hand
#   memory back to the OS early), which makes glibc unmap and re-fault the
#   large per-second arrays of every unit: measured on 12 satellites x 10
#   stations x 30 days, 5.5 s of system time in the workers instead of 0.8 s
#   serially.  Our workers keep glibc's own (adaptive) threshold.
# * Every process of a cluster wakes its event loop for bookkeeping that
#   nobody reads here (no dashboard): the statistical profiler samples each
#   worker's stack every 10 ms from a second thread, the event-loop
#   watchdog ticks every 20 ms, the system monitor every 500 ms; the memory
#   monitor polls every 100 ms.  Each wake-up takes the GIL from the unit
#   (or the core from the other worker): a year's unit saw 600-1,100
#   involuntary context switches instead of 7 serially, and the 4 units of
#   a year-long sweep took 0.2-0.3 s longer on 2 workers.  The profiler is
#   off, the watchdog ticks every second, the system monitor every 5 s, and
#   memory is polled every 0.5 s (a worker near its limit is still paused
#   or restarted, half a second later at most).
LOCAL_SETTINGS = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                  "distributed.worker.profile.enabled": False,
                  "distributed.admin.tick.interval": "1s",
                  "distributed.admin.system-monitor.interval": "5s",
                  "distributed.worker.memory.monitor-interval": "500ms"}


def forkserver_usable() -> bool:
    import multiprocessing

    return "forkserver" in multiprocessing.get_all_start_methods()


def start_local_workers(*, die_with_parent: bool = False, from_here: bool = False) -> str | None:
    """Start, now, the process local Dask workers will be forked from: it
    imports what a unit needs (about 1.5 s of CPU) while this process goes
    on.  Idempotent; :func:`starting_local_cluster` calls it.  SIGINT stays
    blocked in the server and so in the workers (see :func:`cluster`).
    ``die_with_parent``: the server is killed when this thread ends (Linux;
    for a command's main thread, see :mod:`satqkd._server_guard`).

    ``from_here``: import :data:`SHARED_MODULES` here, then fork the server
    from this process (it then dies with this process), so that neither
    imports them again; for a process with no other Python thread (a
    command's start: :mod:`satqkd.launch`).  The server is spawned as a
    fresh interpreter instead where that cannot be done safely: another
    Python thread running (a lock it holds would stay held in the server), or a
    multiprocessing whose private forkserver state is not the one this was
    written against (CPython 3.10-3.13 on Linux).

    Returns how the server was started: ``"forked"``, ``"spawned"`` (or
    found running), or None (no forkserver on this platform)."""
    if not forkserver_usable():
        return None
    if from_here and _fork_server():
        return "forked"
    import multiprocessing
    import os
    from multiprocessing import forkserver

    from ._server_guard import PARENT_ENV

    with sigint_blocked():
        multiprocessing.get_context("forkserver").set_forkserver_preload(
            (["satqkd._server_guard"] if die_with_parent else []) + UNIT_MODULES)
        if die_with_parent:
            os.environ[PARENT_ENV] = str(os.getpid())  # read and removed by the server
        try:
            forkserver.ensure_running()
        finally:
            os.environ.pop(PARENT_ENV, None)
    return "spawned"


# multiprocessing.forkserver.main's parameters, and the state of its ForkServer, this was written against.
_FORKSERVER_MAIN = ("listener_fd", "alive_r", "preload", "main_path", "sys_path")
_FORKSERVER_STATE = ("_lock", "_forkserver_address", "_forkserver_alive_fd", "_forkserver_pid")


def _fork_server() -> bool:
    """:func:`start_local_workers` ``from_here``: multiprocessing's own
    forkserver loop (``forkserver.main``), run in a child forked from this
    process instead of in a fresh interpreter, and recorded as this
    process's forkserver as ``ensure_running`` records the one it spawns
    (which then finds it running).  Whether it was started."""
    import importlib
    import inspect
    import os
    import signal
    import socket
    import sys
    import threading
    import traceback
    import warnings
    from multiprocessing import connection, forkserver, util

    from ._server_guard import die_with_parent

    server = getattr(forkserver, "_forkserver", None)
    if (not sys.platform.startswith("linux") or server is None
            or tuple(inspect.signature(forkserver.main).parameters) != _FORKSERVER_MAIN
            or not all(hasattr(server, name) for name in _FORKSERVER_STATE) or server._forkserver_pid is not None):
        return False
    for name in SHARED_MODULES:
        importlib.import_module(name)
    # No other Python thread: a lock it held would stay held in the server.  The native threads those
    # imports start (OpenBLAS's pool, pyarrow's jemalloc) have at-fork handlers of their own, as for
    # any forked process (satqkd.parallel, multiprocessing's fork).
    if threading.active_count() != 1:
        return False
    parent = os.getpid()
    # Not under the server's lock: held when forking, it would stay held in the server and its workers.
    with sigint_blocked():  # (which starts the resource tracker first, as ensure_running does)
        with socket.socket(socket.AF_UNIX) as listener:
            address = connection.arbitrary_address("AF_UNIX")
            listener.bind(address)
            if not util.is_abstract_socket_namespace(address):
                os.chmod(address, 0o600)
            listener.listen()
            alive_r, alive_w = os.pipe()
            for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice
                if stream is not None:
                    stream.flush()
            with warnings.catch_warnings():
                # Python 3.12+ warns when a process with native threads forks (see above): as an error
                # (-W error) it would leave the server started and unrecorded.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:  # the server: never returns
                code = 0
                try:
                    os.close(alive_w)
                    die_with_parent(parent)
                    # The workers get the handlers a fresh interpreter has (SIGINT stays blocked), not the
                    # command's (satqkd.launch's: its one line is the command's to write).
                    signal.signal(signal.SIGINT, signal.default_int_handler)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    forkserver.main(listener.fileno(), alive_r, UNIT_MODULES)  # SystemExit once the command ends
                except SystemExit:
                    pass
                except BaseException:  # noqa: BLE001 - as a spawned server would: its traceback, then exit 1
                    code = 1
                    traceback.print_exc()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
            os.close(alive_r)
        with server._lock:
            server._forkserver_address, server._forkserver_alive_fd, server._forkserver_pid = address, alive_w, pid
    return True


@contextlib.contextmanager
def sigint_blocked():
    """Ctrl-C held back until the block ends (POSIX, main thread only): SIGINT
    is blocked in this thread and in the threads and processes it starts
    meanwhile, and one that another thread receives (a progress bar's, for
    one) is only noted; either is raised as KeyboardInterrupt once the block
    ends."""
    import signal
    import threading

    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    # multiprocessing's resource tracker, started on first use, unblocks
    # SIGINT in the thread that starts it: started now, before the block.
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    caught = []
    handler = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a pending SIGINT is noted now
        signal.signal(signal.SIGINT, handler)
        if caught and callable(handler):
            handler(signal.SIGINT, None)  # Python's own: KeyboardInterrupt


@contextlib.contextmanager
def cluster(workers: int | None = None, scheduler: str | None = None, *, processes: bool = True):
    """A Dask client for the duration of the block (``None``: run serially).

    ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``) connects to an
    existing cluster; ``workers`` starts a local cluster of that many worker
    processes with one thread each (``processes=False``: threads in this
    process, quicker to start, for tests).
    """
    if workers is not None and scheduler is not None:
        raise SatqkdError("give either --workers N (a local cluster) or --scheduler ADDRESS, not both")
    if workers is None and scheduler is None:
        yield None
        return
    if scheduler is not None:
        from dask.distributed import Client

        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise SatqkdError(f"--scheduler {scheduler}: cannot connect ({' '.join(str(exc).split())})") from None
        with client:
            _warm_workers(client)
            yield client
        return
    with starting_local_cluster(workers, processes=processes) as client:
        yield client()


@contextlib.contextmanager
def starting_local_cluster(workers: int, *, processes: bool = True):
    """Start a local cluster of ``workers`` processes (one thread each) now,
    in a background thread; the block gets a function that waits for the
    cluster and returns its ``Client`` (raising what its start raised).  The
    cluster is closed when the block ends (after its start has finished, if
    the block ends first).

    Ctrl-C reaches every process of the terminal's foreground group: the
    workers would each die with a traceback (and their nannies log one).
    SIGINT is blocked while the start begins, so the thread that starts the
    cluster, the threads it starts, and the workers inherit the block; this
    thread alone gets Ctrl-C and closes them.  Dask's logs are off below
    CRITICAL: a task's error reaches the client as an exception, and a
    worker that outlives the scheduler by a heartbeat while the cluster
    closes has nothing to tell the user.
    """
    if workers < 1:
        raise SatqkdError(f"--workers: expected at least 1, got {workers}")
    import concurrent.futures

    method = "forkserver" if processes and forkserver_usable() else None
    with sigint_blocked():
        if method == "forkserver":
            start_local_workers()
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="satqkd-cluster")
        started = pool.submit(_start_local, workers, processes, method)
    pool.shutdown(wait=False)
    try:
        yield lambda: started.result()[1]
    except BaseException as exc:
        if not isinstance(exc, Exception):  # interrupted: close without the workers' farewells
            _silence_dask()
        raise
    finally:
        # A Ctrl-C while the start finishes or the cluster closes is raised once it is closed (it had been
        # lost, and the cluster left unclosed, when it came during an error's wait for the start).
        with sigint_blocked():
            try:
                local, client, settings = started.result()
            except Exception:  # the start failed: raised to whoever asked for the client
                pass
            else:
                with settings:  # Dask's own settings come back once the cluster is closed
                    try:
                        client.close()
                    finally:
                        local.close()


def _start_local(workers: int, processes: bool, method: str | None):
    import dask
    from dask.distributed import Client, LocalCluster  # first: its defaults are in Dask's config before ours

    settings = dict(LOCAL_SETTINGS)
    if method is not None:
        settings["distributed.worker.multiprocessing-method"] = method
    settings = dask.config.set(settings)
    try:
        local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=":0",
                             silence_logs=logging.CRITICAL)
    except BaseException:
        with settings:
            raise
    try:
        return local, Client(local), settings
    except BaseException:
        with settings:
            local.close()
        raise


def _import_unit_modules() -> None:
    import importlib

    for name in UNIT_MODULES:
        importlib.import_module(name)


def _warm_workers(client) -> None:
    """Have every worker of an existing cluster import what a unit needs now
    (1.2 s of CPU each the first time), while this process goes on reading the
    scenario (``satqkd sweep --scheduler`` connects first), instead of when
    the first unit arrives.  Fire and forget: a worker that leaves meanwhile
    costs nothing; one that joins later imports with its first unit."""
    from dask.distributed import fire_and_forget

    try:
        workers = list(client.scheduler_info()["workers"])
    except Exception:  # pragma: no cover - an odd scheduler: no warm-up, same results
        return
    fire_and_forget([client.submit(_import_unit_modules, pure=False, workers=[w], allow_other_workers=False,
                                   priority=10) for w in workers])


def _silence_dask() -> None:
    """No log lines from Dask while an interrupted run closes its cluster."""
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
