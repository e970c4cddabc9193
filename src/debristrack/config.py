"""Typed configuration: dataclasses whose fields become command-line flags.

Every method and scene keeps its parameters in one dataclass. A field's ``metadata["help"]``
is its documentation; :func:`add_dataclass_arguments` turns each field into ``--field-name``
and :func:`dataclass_from_args` builds the instance back, so the command line and the Python
API can never disagree about a parameter's name, type or default.

A field whose value is itself a dataclass and whose metadata has ``"prefix"`` is a nested
config: its fields become ``--<prefix><field-name>`` flags (``prefix`` may be empty).

A class attribute ``RANGES = {"field": "[1, inf)", ...}`` gives each numeric field's valid
interval (``[``/``]`` closed, ``(``/``)`` open, ``inf`` unbounded); :func:`check_ranges`
raises an :class:`InputError` naming the flag and its range, NaN included.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

from .errors import InputError

T = TypeVar("T")


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one :class:`InputError` line, not a usage dump.

    The command line prints InputError as ``debristrack: error: ...`` and exits with code 2,
    argparse's own exit code for usage errors.
    """

    def error(self, message: str):  # argparse calls this for every usage error
        raise InputError(f"{self.prog}: {message}; see {self.prog} --help")


def int_at_least(low: int):
    """An argparse ``type``: an integer >= ``low`` (``int_at_least(1)`` for counts, sizes, workers)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expects an integer >= {low}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def finite_float(text: str) -> float:
    """An argparse ``type``: a finite number (NaN and infinity are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expects a finite number, got {text!r}")
    return value


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _base_type(tp):
    """(scalar type, is_tuple, optional) for the field types we support."""
    optional = False
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        tp = args[0]
        origin = typing.get_origin(tp)
    if origin is tuple:
        return typing.get_args(tp)[0], True, optional
    return tp, False, optional


def _parser_for(scalar, is_tuple: bool, optional: bool, name: str):
    def one(text: str):
        if scalar is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        return scalar(text)

    def parse(text: str):
        if optional and text.lower() in ("none", ""):
            return None
        try:
            if is_tuple:
                return tuple(one(t) for t in text.split(","))
            return one(text)
        except ValueError:
            kind = f"comma-separated {scalar.__name__}s" if is_tuple else scalar.__name__
            raise argparse.ArgumentTypeError(f"expects {kind}, got {text!r}") from None

    return parse


def _nested(cls):
    """(field, its dataclass, flag prefix) of the nested configs of ``cls``."""
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name], f.metadata["prefix"]) for f in dataclasses.fields(cls)
            if "prefix" in f.metadata and dataclasses.is_dataclass(hints[f.name])]


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls, *, title: str | None = None,
                            defaults: Any = None, prefix: str = "", group=None) -> None:
    """Add one ``--flag`` per field of dataclass ``cls`` (flags default to None = unchanged);
    nested configs add theirs with their prefix."""
    group = group or parser.add_argument_group(title or f"{cls.__name__} options")
    hints = typing.get_type_hints(cls)
    base = defaults if defaults is not None else _try_default(cls)
    nested = {f.name for f, _, _ in _nested(cls)}
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get("cli") is False:
            continue
        if f.name in nested:
            add_dataclass_arguments(parser, hints[f.name], defaults=getattr(base, f.name, None),
                                    prefix=prefix + f.metadata["prefix"], group=group)
            continue
        scalar, is_tuple, optional = _base_type(hints[f.name])
        if scalar not in (int, float, str, bool):
            continue
        default = getattr(base, f.name, None) if base is not None else None
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = f.metadata.get("help", "")
        help_text = f"{help_text} (default: {shown})" if help_text else f"default: {shown}"
        group.add_argument(_flag(prefix + f.name), dest=f"cfg_{prefix}{f.name}", default=None,
                           type=_parser_for(scalar, is_tuple, optional, prefix + f.name),
                           metavar=f.metadata.get("metavar", scalar.__name__.upper()),
                           help=help_text)


def _try_default(cls):
    try:
        return cls()
    except TypeError:
        return None


def overrides_from_args(cls, args: argparse.Namespace, *, prefix: str = "") -> dict[str, Any]:
    """The fields of ``cls`` that were given on the command line (a nested config's as a
    dict of its own overrides)."""
    out: dict[str, Any] = {}
    nested = {f.name: (sub, p) for f, sub, p in _nested(cls)}
    for f in dataclasses.fields(cls):
        if f.name in nested:
            sub, p = nested[f.name]
            inner = overrides_from_args(sub, args, prefix=prefix + p)
            if inner:
                out[f.name] = inner
            continue
        value = getattr(args, f"cfg_{prefix}{f.name}", None)
        if value is not None:
            out[f.name] = value
    return out


def replace_checked(obj: T, **changes) -> T:
    """``dataclasses.replace`` that reports an unknown field as an :class:`InputError`; a
    dict given for a nested dataclass field replaces fields inside it."""
    names = {f.name for f in dataclasses.fields(obj)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise InputError(f"unknown {type(obj).__name__} parameter(s): {', '.join(unknown)}")
    for name, value in changes.items():
        if isinstance(value, dict) and dataclasses.is_dataclass(getattr(obj, name)):
            changes[name] = replace_checked(getattr(obj, name), **value)
    return dataclasses.replace(obj, **changes)


def flag_fields(obj, prefix: str = ""):
    """``(flag name, value, range or None, owner)`` of every flag field of config ``obj``,
    nested configs included (``owner`` is the dataclass that defines the field)."""
    nested = {f.name: p for f, _, p in _nested(type(obj))}
    ranges = getattr(type(obj), "RANGES", {})
    for f in dataclasses.fields(obj):
        if f.name in nested:
            yield from flag_fields(getattr(obj, f.name), prefix + nested[f.name])
        elif f.init and f.metadata.get("cli") is not False:
            yield _flag(prefix + f.name), getattr(obj, f.name), ranges.get(f.name), type(obj)


def _in_range(value, spec: str) -> bool:
    lo_text, hi_text = (t.strip() for t in spec[1:-1].split(","))
    lo, hi = float(lo_text), float(hi_text)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return False
    if v != v:  # NaN
        return False
    above = v >= lo if spec[0] == "[" else v > lo
    below = v <= hi if spec[-1] == "]" else v < hi
    return above and below


def check_ranges(obj, where: str) -> None:
    """Raise :class:`InputError` on the first flag field of ``obj`` outside its ``RANGES``
    interval (NaN is never inside); None (an optional parameter not given) passes; a tuple
    is checked element by element."""
    for flag, value, spec, _ in flag_fields(obj):
        if spec is None or value is None:
            continue
        values = value if isinstance(value, tuple) else (value,)
        if not all(_in_range(v, spec) for v in values):
            raise InputError(f"{where}: {flag} must be in {spec}, got {value}")


def dataclass_from_args(cls, args: argparse.Namespace, base=None):
    """Build ``cls`` from its defaults (or ``base``) and the flags given."""
    base = base if base is not None else cls()
    return replace_checked(base, **overrides_from_args(cls, args))


def to_dict(obj) -> dict[str, Any]:
    """A dataclass as a JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(obj)
