"""Config helpers: dotted replacement in nested frozen dataclasses and choice validation."""

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


def check_choice(name: str, value, choices) -> None:
    """Refuse ``value`` unless it is one of ``choices``: one line naming the option and the closest."""
    choices = list(choices)
    if value in choices:
        return
    from labcore.cli import closest

    hint = closest(str(value), [str(c) for c in choices])
    raise DataError(
        f"{name} must be one of {', '.join(map(str, choices))} (got {value!r})"
        + (f"; did you mean {hint!r}?" if hint else "")
    )


def check_choices(obj, group: str = "") -> None:
    """Every ``Literal[...]``-typed field of dataclass ``obj`` holds one of its choices.

    ``group`` prefixes the option names in the message (``model`` → ``model.arch``); nested
    dataclass fields are checked too, with their own prefix.
    """
    import typing

    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{group}.{f.name}" if group else f.name
        if typing.get_origin(hints[f.name]) is typing.Literal:
            check_choice(name, value, typing.get_args(hints[f.name]))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_choices(value, name)
