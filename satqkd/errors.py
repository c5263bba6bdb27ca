"""The one exception type users see.

Every error caused by the user's input (a file, a field, a value) is raised as
:class:`SatqkdError` with a one-line message that names the file, the field
and what was expected.  The CLI prints that line and exits with status 2; it
never shows a traceback for one of these.
"""

__all__ = ["SatqkdError"]


class SatqkdError(ValueError):
    """Bad input: the message is one line, ready to show to the user."""
