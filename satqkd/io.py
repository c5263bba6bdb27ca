"""Atomic file output: a reader never sees a half-written file.

Each writer renders to a temporary file in the destination folder and
renames it over the target (``os.replace`` is atomic on POSIX and Windows),
so an error, Ctrl-C or SIGTERM leaves either the old file or none, and
never a temporary file: every temporary name is registered until it is
renamed or removed, and :func:`remove_temporaries` (called by the CLI on
any exit) deletes what an interrupt left behind.

:func:`check_output_dir` and :func:`check_output_file` find an output that
cannot be written before any computation starts.

A reused output folder: :func:`previous_outputs` reads the files an earlier
satqkd run listed in its ``run.json`` (:data:`MANIFEST`), and
:func:`remove_previous_outputs` deletes those the new run did not write
again -- after the new files are in place.  A file satqkd did not list is
never touched, nor anything outside the folder.

:func:`render_table` is the one table writer.  A CSV is what pandas'
``to_csv(index=False)`` writes (the same bytes: floats as numpy's shortest
round-trip text, missing values empty, times in :data:`TIME_FORMAT`, fields
quoted only when they must be); frames of plain columns (numbers, booleans,
text, times) are formatted column by column (a long column's distinct
values once each) and joined in one pass, several times faster than pandas'
row writer on the network's million-row tables, and anything else goes
through pandas itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from pathlib import Path

from .errors import SatqkdError

__all__ = [
    "write_atomic", "write_files", "write_table", "render_table", "TIME_FORMAT", "prepare_dir",
    "check_output_dir", "check_output_file", "remove_temporaries", "MANIFEST", "previous_outputs", "remove_previous_outputs",
]

# How every table writes a time (UTC, microseconds).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# The sidecar that lists, relative to its folder, the files a run wrote.
MANIFEST = "run.json"

# Temporary files created and not yet renamed or removed (absolute names).
_LIVE: set[str] = set()
_SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM for a few microseconds of bookkeeping (POSIX only)."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe(folder: Path, shown: str) -> None:
    """Create and delete a file in ``folder``: the only test of writability
    that holds for every user (root included) and every file system."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".satqkd-probe.", dir=folder)
    except OSError as exc:
        raise SatqkdError(f"{shown}: cannot write in {folder} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(tmp)


def check_output_dir(path: str | Path, option: str = "") -> Path:
    """Fail now, not after the computation, if ``path`` cannot become an
    output folder: it is a file, something above it is a file, or the
    folder (or the nearest existing one above it) cannot be written.
    Creates nothing."""
    shown = f"{option} {path}" if option else str(path)
    if str(path).strip() == "":
        raise SatqkdError(f"{option or 'output folder'}: expected a folder name, got ''")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SatqkdError(f"{shown}: exists and is not a folder")
    base = _nearest_existing(path)
    if not base.is_dir():
        raise SatqkdError(f"{shown}: cannot create the folder, {base} is a file")
    _probe(base, shown)
    return path


def check_output_file(path: str | Path, option: str = "") -> Path:
    """Fail now if ``path`` cannot be written as a file: empty, a folder,
    or in a folder that is missing or read-only."""
    shown = f"{option} {str(path)!r}" if option else repr(str(path))
    if str(path).strip() == "":
        raise SatqkdError(f"{option or 'output file'}: expected a file name, got ''")
    path = Path(path)
    if path.is_dir():
        raise SatqkdError(f"{shown}: is a folder; expected a file name")
    if not path.parent.is_dir():
        raise SatqkdError(f"{shown}: cannot write, folder {path.parent} does not exist")
    _probe(path.parent, shown)
    return path


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


def _reserve(path: Path) -> str:
    """Create an empty temporary file beside ``path`` (registered for removal); return its name."""
    if path.is_dir():
        raise SatqkdError(f"{path}: is a folder; expected a file name")
    try:
        with _signals_deferred():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            tmp = os.path.abspath(tmp)
            _LIVE.add(tmp)
        os.close(fd)
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except OSError as exc:
        raise SatqkdError(f"{path}: cannot write ({exc.strerror})") from None
    return tmp


def _fill(tmp: str, path: Path, data: str | bytes) -> None:
    """Write ``data`` into the reserved temporary file ``tmp`` of ``path``."""
    mode = "wb" if isinstance(data, bytes) else "w"
    try:
        with open(tmp, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as fh:
            fh.write(data)
    except OSError as exc:
        raise SatqkdError(f"{path}: cannot write ({exc.strerror})") from None


def _stage(path: Path, data: str | bytes) -> str:
    """Write ``data`` to a temporary file beside ``path``; return its name."""
    tmp = _reserve(path)
    try:
        _fill(tmp, path, data)
    except BaseException:
        _discard([tmp])
        raise
    return tmp


def _discard(tmps) -> None:
    for tmp in list(tmps):
        try:
            os.unlink(tmp)
        except OSError:
            pass
        _LIVE.discard(tmp)


def remove_temporaries() -> None:
    """Delete every temporary file this process created and has not yet
    renamed (after an interrupt)."""
    _discard(sorted(_LIVE))


def write_files(contents: dict, processes: int | None = None) -> list[Path]:
    """Write several files all or nothing: every one is staged to a
    temporary file first, and only then are they renamed into place
    (with Ctrl-C and SIGTERM held for the renames, so an interrupt never
    leaves a mixed set).

    A content may be a function of no arguments that renders it (a large
    table, a report): those are rendered and staged side by side in forked
    processes (:func:`satqkd.parallel.fork_map`, at most ``processes`` at
    once, default the cores available) while this process stages the rest."""
    from .parallel import fork_map

    staged: list[tuple[str, Path]] = []
    try:
        # The temporary files of the rendered contents are made (and registered) here; the
        # forked processes only fill them, so whatever happens none is left behind.
        lazy = []
        for path, data in contents.items():
            if callable(data):
                path = Path(path)
                staged.append((_reserve(path), path))
                lazy.append((staged[-1][0], path, data))
        fork_map(lambda item: _fill(item[0], item[1], item[2]()), lazy, processes, name=lambda item: str(item[1]))
        for path, data in contents.items():
            if not callable(data):
                path = Path(path)
                staged.append((_stage(path, data), path))
        with _signals_deferred():
            for tmp, path in staged:
                try:
                    os.replace(tmp, path)
                except OSError as exc:
                    raise SatqkdError(f"{path}: cannot write ({exc.strerror})") from None
                _LIVE.discard(tmp)
    finally:
        _discard(tmp for tmp, _ in staged if tmp in _LIVE)
    order = {Path(path): k for k, path in enumerate(contents)}
    return sorted((path for _, path in staged), key=order.__getitem__)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    return write_files({Path(path): data})[0]


def render_table(frame, path: str | Path, metadata: dict | None = None) -> str | bytes:
    """A DataFrame as CSV text or Parquet bytes, by the extension of ``path``.

    ``metadata`` (text keys and values, e.g. the satqkd version and the
    scenario) goes into the Parquet schema's key-value metadata; a CSV
    stays plain (one header row, readable by any CSV reader), its
    provenance is in the ``run.json`` written beside it.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        import io

        buf = io.BytesIO()
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise SatqkdError(f"{path}: writing Parquet needs pyarrow (pip install pyarrow); use csv instead") from None
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if metadata:
            merged = dict(table.schema.metadata or {})
            merged.update({f"satqkd.{k}".encode(): str(v).encode() for k, v in metadata.items()})
            table = table.replace_schema_metadata(merged)
        pq.write_table(table, buf)
        return buf.getvalue()
    text = _csv_text(frame)
    return text if text is not None else frame.to_csv(index=False, date_format=TIME_FORMAT)


def _csv_text(frame) -> str | None:
    """``frame.to_csv(index=False, date_format=TIME_FORMAT)``, column by column; None when a
    column is not a plain one (then pandas writes it)."""
    import pandas as pd

    if frame.shape[1] < 2 or not all(isinstance(c, str) for c in frame.columns) or frame.columns.has_duplicates:
        return None  # (one column: csv quotes an empty field alone on its line; pandas knows that)
    if _csv_special("".join(frame.columns)):
        return None
    cols = []
    for _, col in frame.items():
        text = _csv_column(col, pd)
        if text is None:
            return None
        cols.append(text)
    header = ",".join(frame.columns)
    if not len(frame):
        return header + "\n"
    return header + "\n" + "\n".join(map(",".join, zip(*cols))) + "\n"


# A longer column whose values repeat (pool levels, times of hourly snapshots,
# demand names) has its distinct values formatted once.
_REPEATS_MIN_ROWS = 50_000


def _csv_repeated(col, pd) -> list | None:
    """The fields of ``col`` from its distinct values, or None when they hardly repeat (or
    a float column holds -0.0, which equals 0.0 but is written differently)."""
    import numpy as np

    if col.dtype.kind == "f":
        values = col.to_numpy()
        if (np.signbit(values) & (values == 0)).any():
            return None
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    if 4 * len(uniques) > len(col):
        return None
    names = _csv_column(pd.Series(uniques, dtype=col.dtype), pd, repeats=False)
    if names is None:
        return None
    names.append("")  # code -1: missing
    return np.array(names, dtype=object)[codes].tolist()


def _csv_column(col, pd, repeats: bool = True) -> list | None:
    """One column as its CSV fields, or None if it is not numbers, booleans, text or times."""
    import numpy as np

    dtype = col.dtype
    if repeats and len(col) >= _REPEATS_MIN_ROWS and not isinstance(dtype, pd.CategoricalDtype) and dtype != object:
        text = _csv_repeated(col, pd)
        if text is not None:
            return text
    if isinstance(dtype, pd.CategoricalDtype):
        names = _csv_column(pd.Series(dtype.categories), pd)
        if names is None:
            return None
        names.append("")  # code -1: missing
        return np.array(names, dtype=object)[col.cat.codes.to_numpy()].tolist()
    if isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind == "M":
        text = col.dt.strftime(TIME_FORMAT)
        return text.to_numpy(dtype=object, na_value="").tolist()
    if dtype.kind in "iub" and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return list(map(str, col.to_numpy().tolist()))
    if dtype.kind == "f" and dtype.itemsize == 8 and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        # pandas writes numpy's shortest round-trip text, which is Python's repr (same
        # digits, same switch to exponents), and repr is twice as fast.
        values = col.to_numpy()
        text = list(map(float.__repr__, values.tolist()))
        for i in np.flatnonzero(values != values).tolist():
            text[i] = ""  # NaN: empty
        return text
    if dtype == object or isinstance(dtype, pd.StringDtype):
        if pd.api.types.infer_dtype(col, skipna=True) not in ("string", "empty"):
            return None
        text = col.to_numpy(dtype=object, na_value="").tolist()
        if _csv_special("".join(text)):
            return None  # a field to quote: pandas (Python's csv module) knows its rules
        return text
    return None


def _csv_special(text: str) -> bool:
    """Whether ``text`` holds a character that may make the csv module quote a field."""
    return any(c in text for c in ',"\r\n')


def write_table(frame, path: str | Path, metadata: dict | None = None) -> Path:
    """Write a DataFrame as CSV or Parquet (by extension), atomically."""
    return write_atomic(path, render_table(frame, path, metadata))


def previous_outputs(folder: str | Path) -> list[Path]:
    """The files an earlier satqkd run wrote in ``folder``, as its
    ``run.json`` lists them (paths inside the folder only; an older run.json
    listed Parquet parts without their ``seconds/`` folder).  Empty when
    there is no run.json, or it is not satqkd's."""
    import json

    folder = Path(folder)
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(doc, dict) or not str(doc.get("generator", "")).startswith("satqkd"):
        return []
    root = folder.resolve()
    found = []
    for name in doc.get("files", []) if isinstance(doc.get("files"), list) else []:
        if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
            continue
        path = folder / name
        if not path.exists() and Path(name).parent == Path(".") and name.startswith("part-") and name.endswith(".parquet"):
            path = folder / "seconds" / name
        try:
            inside = path.resolve().parent == root or root in path.resolve().parents
        except OSError:
            continue
        if inside and path.is_file() and not path.is_symlink():
            found.append(path)
    return found


def remove_previous_outputs(folder: str | Path, previous: list[Path], written: list[Path]) -> list[Path]:
    """Delete the files of ``previous`` (from :func:`previous_outputs` of
    ``folder``) that are not in ``written``, then any sub-folder of theirs
    left empty (``seconds/``); returns what was removed."""
    root = Path(folder).resolve()
    keep = {Path(p).resolve() for p in written}
    removed = []
    for path in previous:
        if path.resolve() in keep:
            continue
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise SatqkdError(f"{path}: cannot remove the earlier run's file ({exc.strerror})") from None
        parent = path.parent.resolve()
        with contextlib.suppress(OSError):
            if root in parent.parents and not any(parent.iterdir()):
                parent.rmdir()
    return removed


def read_text(path, expected: str) -> str:
    """The text of a UTF-8 file (a BOM is dropped), or a one-line error that
    names the file and says what was ``expected`` there ("an element file",
    "a CCSDS OEM file"): missing, a folder, unreadable, not UTF-8."""
    p = Path(path)
    source = str(path)
    if not p.exists():
        raise SatqkdError(f"{source}: no such file")
    if p.is_dir():
        raise SatqkdError(f"{source}: is a directory, expected {expected}")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SatqkdError(f"{source}: cannot read the file: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SatqkdError(f"{source}: not a UTF-8 text file (byte {exc.start}): expected {expected}") from None
