"""Dotted overrides of nested frozen dataclass configs (``model.d_model=64``), type-checked."""

from __future__ import annotations

import dataclasses

from labcore.errors import DataError


def replace_dotted(obj, dotted: str, value):
    """A copy of dataclass ``obj`` with the field at ``dotted`` set to ``value``.

    The new value must match the type of the current one (bool, number, tuple, str);
    an unknown name or a wrong type raises a one-line ``DataError`` naming the option.
    """
    return _replace_path(obj, dotted.split("."), value)


def _replace_path(obj, parts: list[str], value, prefix: str = ""):
    head = parts[0]
    name = prefix + head
    if not dataclasses.is_dataclass(obj) or head not in {f.name for f in dataclasses.fields(obj)}:
        raise DataError(f"unknown option {name!r}")
    old = getattr(obj, head)
    if len(parts) > 1:
        return dataclasses.replace(obj, **{head: _replace_path(old, parts[1:], value, name + ".")})
    return dataclasses.replace(obj, **{head: _coerce(name, old, value)})


def _coerce(name: str, old, value):
    """Check a new value against the type of the field's current value."""
    if isinstance(old, bool):
        if not isinstance(value, bool):
            raise DataError(f"{name} expects True or False (got {value!r})")
    elif isinstance(old, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DataError(f"{name} expects a number (got {value!r})")
        if isinstance(old, int) and not float(value).is_integer():
            raise DataError(f"{name} expects an integer (got {value!r})")
        return type(old)(value)
    elif isinstance(old, tuple):
        return tuple(value) if isinstance(value, list | tuple) else (value,)
    elif dataclasses.is_dataclass(old):
        raise DataError(f"{name} is a group of options; set one of its fields, e.g. {name}.<field>")
    return value
