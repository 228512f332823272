"""Strict dict <-> dataclass conversion for configs read from TOML or JSON.

A typo'd key must fail loudly, naming the key and its closest valid spelling, instead of being
ignored and silently leaving a default in place.
"""

import ast
import dataclasses
import difflib
import inspect
import io
import json
import math
import textwrap
import tokenize
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Self

from foundation.errors import InputError


def dataclass_from_dict(cls: type, values: dict, source: str) -> Any:
    """Builds `cls` from `values`, recursing into nested dataclass fields and turning lists into tuples."""
    if not isinstance(values, dict):
        raise InputError(f"{source}: expected a table of keys, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(sorted(fields))}"
            raise InputError(f"{source}: unknown key {key!r}; {hint}")
    missing = [
        name
        for name, f in fields.items()
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise InputError(f"{source}: missing required key(s) {', '.join(missing)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            value = dataclass_from_dict(kind, value, f"{source} [{key}]")
        elif not _matches(kind, value):
            raise InputError(f"{source}: {key} must be {_describe(kind)}, got {value!r}; correct or remove it")
        elif typing.get_origin(kind) is tuple or (isinstance(value, list) and _admits_tuple(kind)):
            value = (value,) if isinstance(value, str) else tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def _matches(kind, value) -> bool:
    """Whether a value read from TOML or JSON fits the field type `kind` (ints pass for floats, text for paths
    and for lists of one; types this rule does not know pass)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(arg, value) for arg in args)
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        value = [value] if isinstance(value, str) else value  # one name stands for a list of one
        if not isinstance(value, list | tuple):
            return False
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        return (not args or len(items) == len(value)) and all(map(_matches, items, value))
    simple = {
        type(None): lambda v: v is None,
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        Path: lambda v: isinstance(v, str | Path),
        dict: lambda v: isinstance(v, dict),
    }
    check = simple.get(origin or kind)
    return check is None or check(value)


def _describe(kind) -> str:
    """A field type in words, for error messages: "int", "one of 'pa', 'ipa'", "a list of str"."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        return f"a list of {_describe(args[0])}" if args else "a list"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    return {type(None): "null", float: "a number"}.get(kind, getattr(kind, "__name__", str(kind)))


def _admits_tuple(kind) -> bool:
    return any(typing.get_origin(arg) is tuple for arg in typing.get_args(kind))


def dataclass_to_dict(obj) -> dict:
    """The JSON-ready form of a (nested) config dataclass; tuples become lists."""
    return _jsonable(dataclasses.asdict(obj))


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class VersionedConfig:
    """JSON round trip for a frozen config dataclass whose `config_version` field must match the code's
    `CURRENT_VERSION`: a checkpoint from another format version is refused with one clear line."""

    CURRENT_VERSION: ClassVar[int]

    def to_dict(self) -> dict:
        return dataclass_to_dict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> Self:
        version = values.get("config_version") if isinstance(values, dict) else None
        if version != cls.CURRENT_VERSION:
            raise InputError(
                f"{source}: config_version {version} is not {cls.CURRENT_VERSION}, the version this code reads; "
                "use a matching video-planner release or retrain"
            )
        return dataclass_from_dict(cls, values, source)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: Path) -> Self:
        return cls.from_dict(read_json(path), source=str(path))


def read_json(path: Path, keys: dict[str, type | tuple[type, ...]] | None = None) -> Any:
    """A JSON file this project wrote, refused in one line when it is missing, unreadable or damaged; with
    `keys`, it must be an object holding each key with a value of the given type."""
    try:
        value = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path} does not exist; check the path, or point at a complete checkpoint or run") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(
            f"{path} is damaged (not JSON: {str(err).splitlines()[0]}); restore or regenerate it"
        ) from None
    return value if keys is None else checked_keys(value, keys, str(path))


def checked_keys(value: Any, keys: dict[str, type | tuple[type, ...]], source: str) -> dict:
    """`value` (parsed JSON from `source`), refused in one line unless it is an object holding each of `keys`
    with a value of the given type: what a file we wrote must hold before any code trusts it."""
    if not isinstance(value, dict):
        found = type(value).__name__
        raise InputError(f"{source} is damaged (a JSON object expected, not {found}); restore or regenerate it")
    for key, kind in keys.items():
        if not isinstance(value.get(key), kind) or (kind is int and isinstance(value[key], bool)):
            found = "missing" if key not in value else f"{value[key]!r}"
            raise InputError(f"{source} is damaged ({key}: {found}); restore or regenerate it")
    return value


def field_docs(cls: type) -> dict[str, str]:
    """Each dataclass field's documentation as written beside it in the source: the comment lines right above
    the field and the comment after it on its line, joined; inherited fields are documented where they are
    defined. The one place a setting is documented is its definition; `--help` reads it from there."""
    docs = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass) and "__dataclass_fields__" in vars(klass):
            docs |= _own_field_docs(klass)
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
    source = textwrap.dedent(inspect.getsource(cls))
    comments = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    lines = source.splitlines()
    docs = {}
    for node in ast.parse(source).body[0].body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above, line = [], node.lineno - 1
        while line >= 1 and line in comments and lines[line - 1].lstrip().startswith("#"):
            above.insert(0, comments[line])
            line -= 1
        trailing = [comments[n] for n in range(node.lineno, node.end_lineno + 1) if n in comments]
        docs[node.target.id] = " ".join(above + trailing)
    return docs


@dataclasses.dataclass(frozen=True)
class Range:
    """An interval of valid numbers, written as in maths: "(0, 1]", "[1, inf)"."""

    text: str

    def _bounds(self) -> tuple[float, float]:
        low, high = (float(part) for part in self.text[1:-1].split(","))
        if self.text[0] not in "([" or self.text[-1] not in ")]" or low > high:
            raise ValueError(f"not an interval: {self.text!r}")
        return low, high

    def __post_init__(self):
        self._bounds()  # a malformed interval fails where it is declared

    def __contains__(self, value) -> bool:
        low, high = self._bounds()
        above = value > low if self.text[0] == "(" else value >= low
        below = value < high if self.text[-1] == ")" else value <= high
        return math.isfinite(value) and above and below


def ranged(default, interval: str):
    """A dataclass field whose valid values are declared beside it: `steps: int = ranged(1000, "[1, inf)")`.
    `check_ranges` enforces every such field (None passes, for optional ones); `--help` shows the interval."""
    return dataclasses.field(default=default, metadata={"range": Range(interval)})


def check_ranges(config, owner: str, fields_of: type | None = None) -> None:
    """One line naming the first field of `config` outside its declared interval (NaN and inf never pass);
    `fields_of` limits the check to one class's fields (a base class checking its own)."""
    for f in dataclasses.fields(fields_of or config):
        interval, value = f.metadata.get("range"), getattr(config, f.name)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if interval is not None and value is not None and (not number or value not in interval):
            raise InputError(f"{owner}: {f.name} must be a number in {interval.text}, got {value!r}")
