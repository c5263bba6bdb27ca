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

__all__ = ["write_atomic", "write_files", "write_table", "render_table", "prepare_dir"]


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


def _stage(path: Path, data: str | bytes) -> str:
    """Write ``data`` to a temporary file beside ``path``; return its name."""
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
    except OSError as exc:
        _discard([tmp])
        raise SatqkdError(f"{path}: cannot write ({exc.strerror})") from None
    except BaseException:
        _discard([tmp])
        raise
    return tmp


def _discard(tmps) -> None:
    for tmp in tmps:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def write_files(contents: dict) -> list[Path]:
    """Write several files all or nothing: every one is staged to a
    temporary file first, and only then are they renamed into place."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in contents.items():
            path = Path(path)
            staged.append((_stage(path, data), path))
    except BaseException:
        _discard(tmp for tmp, _ in staged)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)
    return [path for _, path in staged]


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    return write_files({Path(path): data})[0]


def render_table(frame, path: str | Path) -> str | bytes:
    """A DataFrame as CSV text or Parquet bytes, by the extension of ``path``."""
    path = Path(path)
    if path.suffix == ".parquet":
        import io

        buf = io.BytesIO()
        try:
            frame.to_parquet(buf, index=False)
        except ImportError:
            raise SatqkdError(f"{path}: writing Parquet needs pyarrow (pip install pyarrow); use csv instead") from None
        return buf.getvalue()
    return frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")


def write_table(frame, path: str | Path) -> Path:
    """Write a DataFrame as CSV or Parquet (by extension), atomically."""
    return write_atomic(path, render_table(frame, path))
