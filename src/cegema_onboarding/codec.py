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
import keyword
import operator
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar, get_args, get_origin

import attrs

T = TypeVar("T")

# Bulk provisioning encodes a million accounts, and every read decodes one, so both
# directions are compiled once per type: an attrs class gets a generated encoder function
# (encoding follows the runtime types, as before) and a list of (name, alias, decoder)
# triples built from its resolved type hints (decoding). Scalars, most of an account's
# fields, are handled inline without a call.

_Encoder = Callable[[Any], Any]
_Decoder = Callable[[Any], Any]

# Exact types only: a str or int subclass (an enum, say) goes through its own encoder.
_SCALARS = frozenset({str, int, float, bool, type(None)})

_ENCODERS: dict[type[Any], _Encoder] = {}
_DECODERS: dict[Any, _Decoder] = {}


def to_data(value: object) -> Any:
    """A JSON-ready form of an attrs value (recursively)."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    encoder = _ENCODERS.get(cls)
    if encoder is None:
        encoder = _ENCODERS[cls] = _make_encoder(cls)
    return encoder(value)


def _encode_attrs(cls: type[Any]) -> _Encoder:
    # Generated source, as attrs does for __init__: one attribute read and one inline
    # scalar test per field, no loop and no call for str/int/None fields. This is a third
    # faster than a comprehension over attrgetter's tuple. Only attrs field names, which
    # are identifiers, go into the source; the dict keys are their repr.
    names = [f.name for f in attrs.fields(cls)]
    if not all(name.isidentifier() and not keyword.iskeyword(name) for name in names):
        return lambda value: {name: to_data(getattr(value, name)) for name in names}
    lines = ["def encoder(value):"]
    lines += [f"    x{i} = value.{name}" for i, name in enumerate(names)]
    items = ", ".join(f"{name!r}: x{i} if type(x{i}) in scalars else encode(x{i})"
                      for i, name in enumerate(names))
    lines.append(f"    return {{{items}}}")
    namespace: dict[str, Any] = {"scalars": _SCALARS, "encode": to_data, "type": type}
    exec(compile("\n".join(lines), f"<codec encoder for {cls.__qualname__}>", "exec"),  # noqa: S102
         namespace)
    return typing.cast(_Encoder, namespace["encoder"])


def _encode_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored: pass timezone-aware values")
    return value.isoformat()


def _encode_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _encode_items(value: Any) -> list[Any]:
    return [to_data(v) for v in value]


def _encode_mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): to_data(v) for k, v in value.items()}


def _identity(value: Any) -> Any:
    return value


def _make_encoder(cls: type[Any]) -> _Encoder:
    # The same order of checks as a value-by-value walk would make; the choice depends on
    # the runtime type only, so it is made once per type.
    if attrs.has(cls):
        return _encode_attrs(cls)
    if issubclass(cls, enum.Enum):
        return operator.attrgetter("value")
    if issubclass(cls, datetime):
        return _encode_datetime
    if issubclass(cls, bytes):
        return _encode_bytes
    if issubclass(cls, (tuple, list, frozenset)):
        return _encode_items
    if issubclass(cls, Mapping):
        return _encode_mapping
    if issubclass(cls, (str, int, float, bool)):
        return _identity

    def refuse(value: Any) -> Any:
        raise TypeError(f"cannot encode {type(value).__name__}")

    return refuse


def from_data(cls: type[T], data: Any) -> T:
    """Rebuild an attrs value of type ``cls`` from :func:`to_data` output."""
    return typing.cast(T, _decoder(cls)(data))


def _decoder(tp: Any) -> _Decoder:
    try:
        return _DECODERS[tp]
    except KeyError:
        decoder = _DECODERS[tp] = _make_decoder(tp)
        return decoder
    except TypeError:
        # An unhashable hint (Annotated with a list, say): not cached, still decoded.
        return _make_decoder(tp)


def _make_decoder(tp: Any) -> _Decoder:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        first = _decoder(options[0])
        return lambda data: None if data is None else first(data)
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return lambda data: tuple([item(v) for v in data])
        items = tuple(_decoder(a) for a in args)
        return lambda data: tuple([d(v) for d, v in zip(items, data, strict=True)])
    if origin in (dict, Mapping, typing.Mapping):
        key_t, val_t = get_args(tp)
        key, val = _decoder(key_t), _decoder(val_t)
        return lambda data: {key(k): val(v) for k, v in data.items()}
    if isinstance(tp, type):
        if attrs.has(tp):
            return _decode_attrs(tp)
        if issubclass(tp, enum.Enum):
            return tp
        if tp is datetime:
            return datetime.fromisoformat
        if tp is bytes:
            return base64.b64decode
        if tp in (str, int, float, bool):
            return functools.partial(_check_scalar, tp)
    if tp is Any or tp is object:
        return _identity

    def refuse(data: Any) -> Any:
        raise TypeError(f"cannot decode {tp!r}")

    return refuse


def _check_scalar(tp: type[Any], data: Any) -> Any:
    if not isinstance(data, tp):
        raise TypeError(f"expected {tp.__name__}, got {type(data).__name__}")
    return data


def _decode_attrs(cls: type[Any]) -> _Decoder:
    # The fields are resolved on first use, not here: a class may refer to itself, and
    # a type hint that cannot be resolved fails only when data of that class is decoded.
    fields: list[tuple[str, str, _Decoder]] | None = None

    def decoder(data: Any) -> Any:
        nonlocal fields
        if fields is None:
            fields = _attrs_fields(cls)
        kwargs = {}
        for name, alias, decode in fields:
            if name in data:
                kwargs[alias] = decode(data[name])
        return cls(**kwargs)

    return decoder


def _attrs_fields(cls: type[Any]) -> list[tuple[str, str, _Decoder]]:
    hints = typing.get_type_hints(cls)
    found = []
    for f in attrs.fields(cls):
        hint = hints.get(f.name, _MISSING)
        decode = (_decoder(hint) if hint is not _MISSING
                  else functools.partial(_missing_hint, f.name))
        found.append((f.name, f.alias or f.name, decode))
    return found


_MISSING = object()


def _missing_hint(name: str, data: Any) -> Any:
    # A field without an annotation cannot be decoded (and never could).
    raise KeyError(name)
