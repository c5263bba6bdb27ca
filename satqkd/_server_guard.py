"""The server local Dask workers are forked from dies with the command that
started it (:mod:`satqkd.launch`, before the command line is parsed)
instead of finishing its imports and holding the command's output open
after a command line the parser refused, or outliving a command that was
killed while its workers (which also keep the server's "alive" pipe open)
still ran.

:func:`die_with_parent` is called first thing in a server forked from the
command; a spawned one imports this module first (it is in the server's
preload list), which reads the command's pid from the environment.
Nothing happens elsewhere."""

import os
import signal

PARENT_ENV = "SATQKD_SERVER_PARENT"


def die_with_parent(parent: int) -> None:
    """Be killed when this process's parent, ``parent``, ends (Linux's
    parent-death signal); exit at once if it already has.  Nothing where
    the signal cannot be set (not Linux)."""
    try:
        import ctypes

        if ctypes.CDLL(None).prctl(1, int(signal.SIGKILL)) != 0:  # PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != parent:  # the command ended before the signal was set
        os._exit(0)


def _from_environment() -> None:
    parent = os.environ.pop(PARENT_ENV, None)
    if parent is not None:
        die_with_parent(int(parent))


_from_environment()
