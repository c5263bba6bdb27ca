"""Imported first by the process local Dask workers fork from when a command
started it before parsing its command line (:mod:`satqkd.launch`): that
process then dies with the command (Linux's parent-death signal) instead of
finishing its imports (1.5 s of CPU) and holding the command's output open
after a command line the parser refused.  Nothing happens elsewhere."""

import os
import signal

PARENT_ENV = "SATQKD_SERVER_PARENT"


def _die_with_parent() -> None:
    parent = os.environ.pop(PARENT_ENV, None)
    if parent is None:
        return
    try:
        import ctypes

        if ctypes.CDLL(None).prctl(1, int(signal.SIGKILL)) != 0:  # PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):  # not Linux
        return
    if str(os.getppid()) != parent:  # the command ended before the signal was set
        os._exit(0)


_die_with_parent()
