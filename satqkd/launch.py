"""The ``satqkd`` command's entry point, light to import: for ``satqkd run|sweep
... --workers N`` it starts the process local Dask workers are forked from
(:func:`satqkd.clusters.start_local_workers`) before the command line is
parsed, since that server's imports are what the first unit waits for: it
imports what the command and the workers both need, then forks the server,
which imports the rest while the command goes on; then it hands over to
:func:`satqkd.cli.entry`."""

from __future__ import annotations

import os
import signal
import sys

from .errors import SIGNAL_WORDS


def start_local_workers_early(argv: list[str]) -> bool:
    """Start the local workers' server if ``argv`` (the arguments after
    ``satqkd``) asks ``run`` or ``sweep`` for local workers; whether it did.
    The server is killed as this process ends, so a command line the parser
    then refuses leaves nothing behind (not even the command's output held
    open); it costs the imports the command shares with the workers (0.7 s:
    the command imports them anyway once its line is accepted)."""
    if not argv or argv[0] not in ("run", "sweep") or "--help" in argv or "-h" in argv:
        return False
    if any(a == "--scheduler" or a.startswith("--scheduler=") for a in argv[1:]):
        return False
    if not any(a == "--workers" or a.startswith("--workers=") for a in argv[1:]):
        return False
    from .clusters import start_local_workers

    start_local_workers(die_with_parent=True, from_here=True)
    return True


def _interrupted_at_start(signum, frame) -> None:
    """Ctrl-C (or SIGTERM) while the command starts (and ends): its one line,
    exit 130 (143), at once.  Not a KeyboardInterrupt: a library's bare
    ``except:`` around an import (skyfield's ``iokit`` has one) would turn
    that into an ImportError's traceback, and one raised before
    :func:`satqkd.cli.main`'s handling is in place would end Python with a
    SIGINT of its own (SIGTERM's default: no line at all).  Nothing is being
    written then, and the workers' server dies with this process."""
    os.write(2, f"satqkd: {SIGNAL_WORDS[signum]}\n".encode())
    os._exit(128 + signum)


def entry() -> None:
    # Not a signal that is ignored (SIGINT in a background job): it stays ignored.  The command's own
    # handling (satqkd.cli.main) takes over while it runs.
    for signum, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
        if signal.getsignal(signum) is default:
            signal.signal(signum, _interrupted_at_start)
    start_local_workers_early(sys.argv[1:])
    from .cli import entry as run_command

    run_command()
