"""Turn the model's attrs values into JSON-ready dicts and back, generically.

Storage adapters keep the indexed fields in columns and the whole record as JSON. Because
the codec walks the attrs fields and their type hints, a field added to
:class:`~cegema_onboarding.model.Account` is persisted by every adapter without a change
there; a field missing from older stored data takes its default.
"""

from __future__ import annotations

import base64
import enum
import functools
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar, get_args, get_origin

import attrs

T = TypeVar("T")


def to_data(value: object) -> Any:
    """A JSON-ready form of an attrs value (recursively)."""
    if attrs.has(type(value)):
        return {f.name: to_data(getattr(value, f.name))
                for f in attrs.fields(type(value))}  # type: ignore[arg-type]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass timezone-aware values")
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (tuple, list, frozenset)):
        return [to_data(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


def from_data(cls: type[T], data: Any) -> T:
    """Rebuild an attrs value of type ``cls`` from :func:`to_data` output."""
    return typing.cast(T, _decode(cls, data))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, data: Any) -> Any:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        options = [a for a in get_args(tp) if a is not type(None)]
        return _decode(options[0], data)
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in data)
        return tuple(_decode(a, v) for a, v in zip(args, data, strict=True))
    if origin in (dict, Mapping, typing.Mapping):
        key_t, val_t = get_args(tp)
        return {_decode(key_t, k): _decode(val_t, v) for k, v in data.items()}
    if isinstance(tp, type):
        if attrs.has(tp):
            hints = _hints(tp)
            kwargs = {}
            for f in attrs.fields(tp):
                if f.name in data:
                    kwargs[f.alias or f.name] = _decode(hints[f.name], data[f.name])
            return tp(**kwargs)
        if issubclass(tp, enum.Enum):
            return tp(data)
        if tp is datetime:
            return datetime.fromisoformat(data)
        if tp is bytes:
            return base64.b64decode(data)
        if tp in (str, int, float, bool):
            if not isinstance(data, tp):
                raise TypeError(f"expected {tp.__name__}, got {type(data).__name__}")
            return data
    if tp is Any or tp is object:
        return data
    raise TypeError(f"cannot decode {tp!r}")
