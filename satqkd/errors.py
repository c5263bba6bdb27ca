"""The one exception type users see.

Every error caused by the user's input (a file, a field, a value) is raised as
:class:`SatqkdError` with a one-line message that names the file, the field
and what was expected.  The CLI prints that line and exits with status 2; it
never shows a traceback for one of these.  A command ended by a signal says
so in one line too: ``satqkd: <SIGNAL_WORDS[signum]>``.
"""

import signal

__all__ = ["SatqkdError", "SIGNAL_WORDS"]

# What the command says it was, ended by a signal (exit status 128 + the signal's number).
SIGNAL_WORDS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class SatqkdError(ValueError):
    """Bad input: the message is one line, ready to show to the user."""
