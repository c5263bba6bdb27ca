"""Atomic file output: a reader never sees a half-written file.

Each writer renders to a temporary file in the destination folder and
renames it over the target (``os.replace`` is atomic on POSIX and Windows),
so an error or an interrupt leaves either the old file or none.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import SatqkdError

__all__ = ["write_atomic", "write_table", "prepare_dir"]


def prepare_dir(path: str | Path) -> Path:
    """Create an output folder (and parents), with a one-line error if impossible."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SatqkdError(f"{path}: output path exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SatqkdError(f"{path}: cannot create output folder ({exc.strerror})") from None
    return path


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SatqkdError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_table(frame, path: str | Path) -> Path:
    """Write a DataFrame as CSV or Parquet (by extension), atomically."""
    path = Path(path)
    if path.suffix == ".parquet":
        import io

        buf = io.BytesIO()
        try:
            frame.to_parquet(buf, index=False)
        except ImportError:
            raise SatqkdError(f"{path}: writing Parquet needs pyarrow (pip install pyarrow); use csv instead") from None
        return write_atomic(path, buf.getvalue())
    return write_atomic(path, frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ"))
