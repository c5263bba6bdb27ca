"""Equipment blocks and files: reading YAML, presets with overrides, one-line errors.

The pieces every YAML reader of satqkd shares -- the scenario loader
(:mod:`satqkd.config`) and the network's (:mod:`satqkd.network.topology`) --
so that neither imports the other's module for them:

* :func:`read_yaml` -- a YAML mapping, refusing duplicate keys and impossible
  dates (``2026-02-30``) with one line naming the file and the line;
* :func:`build_block` -- one equipment block (``preset: NAME`` plus
  overrides) validated into its physics dataclass;
* :func:`format_validation_error` -- a pydantic error as
  ``FILE: field.path: expected ..., got X``;
* :func:`shipped` and :func:`find_config` -- the scenarios, equipment files
  and element sets installed with the package, by name or by their
  repository path (``configs/validation/...``), from any folder;
* :func:`load_system` -- an equipment file (source, detector, protocol,
  channel) for ``satqkd keyrate``.

Every failure is a :class:`~satqkd.errors.SatqkdError` with one line.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import SatqkdError

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = ["read_yaml", "build_block", "format_validation_error", "shipped", "find_config", "load_system"]


# Shipped files: kind -> (package, file patterns).  The repository's
# configs/ and ephemeris/ folders are installed as these packages.
_SHIPPED = {
    "scenarios": ("satqkd.configs", ("*.yaml",)),
    "systems": ("satqkd.configs.systems", ("*.yaml",)),
    "ephemeris": ("satqkd.ephemeris", ("*.tle", "*.json", "*.csv", "*.xml", "*.txt")),
    "profiles": ("satqkd.configs", ("profiles/*.csv",)),
}
_REPOSITORY_FOLDERS = {"configs": "satqkd.configs", "ephemeris": "satqkd.ephemeris"}
_WHAT = {"scenarios": "scenario", "systems": "equipment file", "ephemeris": "element set", "profiles": "pass profile"}


def _package_folder(package: str) -> Path:
    from importlib.resources import files

    return Path(str(files(package)))


def shipped(kind: str = "scenarios") -> dict[str, Path]:
    """The scenarios (``kind="scenarios"``), equipment files (``"systems"``)
    or element sets (``"ephemeris"``) installed with the package, by name
    (file stem; an element set in two formats is named by its first)."""
    package, patterns = _SHIPPED[kind]
    folder = _package_folder(package)
    found: dict[str, Path] = {}
    for pattern in patterns:
        for p in sorted(folder.glob(pattern)):
            found.setdefault(p.stem, p)
    return dict(sorted(found.items()))


def _installed_copy(path: Path) -> Path | None:
    """``configs/validation/x.yaml`` or ``ephemeris/x.tle`` (a repository
    path, as the README writes them) inside the installed package."""
    parts = path.parts
    if path.is_absolute() or len(parts) < 2 or parts[0] not in _REPOSITORY_FOLDERS or ".." in parts:
        return None
    candidate = _package_folder(_REPOSITORY_FOLDERS[parts[0]]).joinpath(*parts[1:])
    return candidate if candidate.is_file() else None


def find_config(value: str | Path, kind: str = "scenarios") -> Path:
    """A scenario, equipment file or element set (``kind``) by path, or by
    the name of a shipped one (``micius-2021-nanshan``, ``gys-2004``,
    ``micius-2016-12-18``): an existing path wins.  A repository path that
    does not exist here (``configs/validation/...``) is the installed copy,
    so the README's commands work from any folder after a pip install."""
    path = Path(value)
    if path.exists():
        return path
    copy = _installed_copy(path)
    if copy is not None:
        return copy
    known = shipped(kind)
    suffixes = {"ephemeris": (".tle", ".json", ".csv", ".xml", ".txt", ".3le"), "profiles": (".csv",)}.get(kind, (".yaml", ".yml"))
    stem = path.stem if path.suffix in suffixes and len(path.parts) == 1 else str(value)
    if stem in known:
        return known[stem]
    if len(path.parts) == 1 and path.suffix not in suffixes:
        expected = {"ephemeris": "an element file", "profiles": "a CSV path"}.get(kind, "a YAML path")
        raise SatqkdError(f"{value}: no such file or shipped {_WHAT[kind]}; expected {expected} or one of {', '.join(known)}")
    return path


# Parts of a pydantic error location that name a union member or a wrapper
# ("literal['a','b']", "constrained-float", "function-after[...]", "str", ...)
# rather than a field: dropped from the path the user sees.
_TAG_WORDS = {"str", "int", "float", "bool", "bytes", "date", "datetime", "time", "none", "list", "tuple", "dict", "set"}


def _is_tag(part) -> bool:
    return isinstance(part, str) and (part in _TAG_WORDS or bool(re.search(r"[\[\]'\-]", part)))


def _field_path(loc) -> str:
    out = ""
    for part in loc:
        if _is_tag(part):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _expected(err) -> str:
    """The message of one pydantic error, without its "Input should be" lead-in."""
    msg = err["msg"]
    if err["type"] in ("value_error", "assertion_error"):
        return re.sub(r"^(Value|Assertion) error, ", "", msg)
    msg = re.sub(r", unable to (parse|interpret) .*$", "", msg)
    msg = re.sub(r"^Input should be ", "", msg)
    if err["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        msg = f"a number {msg}"
    return msg


def format_validation_error(exc: ValidationError, where: str, field: str = "") -> str:
    """One line from a pydantic error: ``where: field.path: expected ..., got X``.

    ``field`` is a path that the error's own location is appended to (the
    block being validated, e.g. ``stations[0].telescope``).  When a value
    failed every member of a union (``night: nautical`` or ``night: -12``),
    the alternatives are joined with "or".
    """
    errors = exc.errors()
    first = errors[0]
    path = _field_path(first["loc"])
    if field:
        path = f"{field}.{path}" if path and not path.startswith("[") else f"{field}{path}"
    if first["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        msg = "unknown key"
    elif first["type"] in ("missing", "missing_argument"):
        msg = "required field is missing"
    else:
        # Errors at the same field (after dropping union tags) are one union failure.
        same = [e for e in errors if _field_path(e["loc"]) == _field_path(first["loc"])]
        alternatives = list(dict.fromkeys(_expected(e) for e in same))
        msg = " or ".join(alternatives)
        if first["type"] == "too_short":
            n = len(first["input"]) if hasattr(first["input"], "__len__") else 0
            msg = f"expected at least {first['ctx']['min_length']} item(s), got {n}"
        elif first["type"] == "too_long":
            msg = f"expected at most {first['ctx']['max_length']} item(s)"
        elif first["type"] not in ("value_error", "assertion_error"):
            msg = f"expected {msg}"
            if "input" in first:
                msg = f"{msg}, got {first['input']!r}"
    return f"{where}: {path}: {msg}" if path else f"{where}: {msg}"


class _PyUniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (PyYAML silently keeps the last).  ``text``
    is the document, for error messages."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", _PyUniqueKeyLoader)):
    """The same with libyaml's parser where PyYAML has it (ten times faster on the network
    scenarios); a document it refuses is read again by :class:`_PyUniqueKeyLoader`, whose
    messages say more (a tab that cannot start a token, the alias not defined)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def _construct_unique_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue  # the default constructor reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


for _loader in {_UniqueKeyLoader, _PyUniqueKeyLoader}:
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _construct_timestamp(loader, node):
    """A YAML date or time; one that is not in the calendar (``2026-02-30``)
    is a YAML error at its line, not a ValueError from deep inside PyYAML."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as exc:
        mark = node.start_mark
        # The key on the value's line ("start: 2026-02-30"), to name the field.
        lines = (getattr(loader, "text", None) or mark.buffer or "").splitlines()
        line = lines[mark.line] if mark.line < len(lines) else ""
        key = re.match(r"\s*-?\s*([A-Za-z_][\w.-]*)\s*:", line[:mark.column])
        field = f"{key.group(1)}: " if key else ""
        raise yaml.constructor.ConstructorError(
            None, None, f"{field}{node.value} is not a calendar date ({exc}); expected a real date such as 2026-02-28",
            mark) from None


for _loader in {_UniqueKeyLoader, _PyUniqueKeyLoader}:
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _load(loader_class, text: str):
    loader = loader_class(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, with one-line errors for every way it can fail."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SatqkdError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SatqkdError(f"{path}: is a folder, expected a YAML file") from None
    except OSError as exc:
        raise SatqkdError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise SatqkdError(f"{path}: not a UTF-8 text file (byte {exc.start}); expected YAML") from None
    try:
        try:
            data = _load(_UniqueKeyLoader, text)
        except yaml.YAMLError:
            if _UniqueKeyLoader is _PyUniqueKeyLoader:
                raise
            data = _load(_PyUniqueKeyLoader, text)  # its message (or, should it read it, its data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise SatqkdError(f"{where}: invalid YAML ({' '.join(str(problem).split())})") from None
    except (ValueError, OverflowError, RecursionError) as exc:  # any other constructor failure: still one line
        raise SatqkdError(f"{path}: invalid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise SatqkdError(f"{path}: expected a YAML mapping of keys to values at the top level, got {type(data).__name__}")
    return data


def build_block(cls, presets: dict, data: Any, where: str, *, default: str | None = None):
    """Validate one equipment block into dataclass ``cls``.

    ``data`` is ``None`` (use ``default``), a preset name, or a mapping with an
    optional ``preset`` key whose other keys override the preset's fields.
    """
    if data is None:
        data = {} if default is None else {"preset": default}
    if isinstance(data, str):
        data = {"preset": data}
    if not isinstance(data, dict):
        raise SatqkdError(f"{where}: expected a mapping of fields or a preset name, got {data!r}")
    data = dict(data)
    preset = data.pop("preset", default)
    base: dict = {}
    if preset is not None:
        if not presets:
            raise SatqkdError(f"{where}.preset: this block has no presets; give its fields instead")
        if not isinstance(preset, str) or preset not in presets:
            raise SatqkdError(f"{where}.preset: unknown preset {preset!r}; expected one of {', '.join(presets)}")
        base = dataclasses.asdict(presets[preset]())
    from pydantic import TypeAdapter, ValidationError  # (here: a plain pass search never pays for pydantic)

    try:
        return TypeAdapter(cls).validate_python({**base, **data})
    except ValidationError as exc:
        # ``where`` is "FILE: FIELD.PATH" (or just "FIELD"): the error's own
        # location is appended to the field path.  Field paths never contain
        # ": ", so the last one separates the file.
        file, sep, field = where.rpartition(": ")
        raise SatqkdError(format_validation_error(exc, file, field) if sep else format_validation_error(exc, where)) from None


def load_system(path: str | Path):
    """Read a YAML equipment file into a :class:`~satqkd.keyrate.System`.

    Top-level keys: ``source``, ``detector``, ``protocol`` (required) and
    ``channel`` (fibre loss per km, optional) — the same blocks a scenario
    uses, each a mapping of fields with an optional ``preset``.  Used by
    ``satqkd keyrate --system FILE``.
    """
    from . import keyrate
    from .detector import DETECTOR_PRESETS, Detector

    path = find_config(path, "systems")
    name = str(path)
    doc = read_yaml(path)
    blocks = ("source", "detector", "protocol", "channel")
    for key in doc:
        if key not in blocks:
            raise SatqkdError(f"{name}: {key}: unknown key; expected {', '.join(blocks)}")
    for key in blocks[:3]:
        if key not in doc:
            raise SatqkdError(f"{name}: {key}: missing block (a mapping of fields, or {{preset: NAME}})")
    return keyrate.System(
        source=build_block(keyrate.Source, keyrate.SOURCE_PRESETS, doc["source"], f"{name}: source"),
        detector=build_block(Detector, DETECTOR_PRESETS, doc["detector"], f"{name}: detector"),
        protocol=build_block(keyrate.Protocol, keyrate.PROTOCOL_PRESETS, doc["protocol"], f"{name}: protocol"),
        channel=build_block(keyrate.Channel, {}, doc.get("channel"), f"{name}: channel"),
    )
