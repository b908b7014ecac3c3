"""Generic construction of frozen parameter dataclasses from plain config mappings.

:func:`build` walks a dataclass's fields: nested dataclasses, ``tuple[X, ...]`` and
``dict[str, X]`` are built recursively; every unknown key (with the closest valid
one) and every missing required key anywhere in the tree is collected and reported
at once; the dataclasses then validate their values in ``__post_init__``, and a
:class:`~tfrsim.checks.ConfigError` they raise gets its full dotted config path.
No stage's constants or rules are imported here: each parameter type owns its rules.
"""

import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from typing import Any

from tfrsim.checks import ConfigError


class ConfigProblems(ConfigError):
    """Several structural problems (unknown or missing keys), listed together."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        ValueError.__init__(self, "; ".join(problems))
        self.field, self.rule, self.value, self.hint = "", "; ".join(problems), None, ""

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        return f"{len(self.problems)} problems in the configuration:\n" + "\n".join(
            f"  - {p}" for p in self.problems
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_keys(
    value: Mapping[str, Any],
    valid: list[str],
    required: list[str],
    path: str,
    problems: list[str],
    ignore: tuple[str, ...] = (),
) -> None:
    """Record unknown keys (with the closest valid one) and missing required keys."""
    for key in value:
        if key in valid or key in ignore:
            continue
        close = difflib.get_close_matches(str(key), valid, n=1)
        hint = f" — did you mean `{_join(path, close[0])}`?" if close else ""
        problems.append(f"`{_join(path, str(key))}` is not a known setting{hint}")
    for key in required:
        if key not in value:
            problems.append(f"`{_join(path, key)}` is required but missing")


def _construct(tp: Any, value: Any, path: str, problems: list[str]) -> Any:
    origin = typing.get_origin(tp)
    if is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            problems.append(f"`{path}` must be a mapping of settings; got {value!r}")
            return None
        return _dataclass(tp, value, path, problems)
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str) or not isinstance(value, list | tuple):
            problems.append(f"`{path}` must be a list; got {value!r}")
            return None
        item = args[0] if args else Any
        return tuple(_construct(item, v, f"{path}[{i}]", problems) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            problems.append(f"`{path}` must be a mapping; got {value!r}")
            return None
        item = typing.get_args(tp)[1] if typing.get_args(tp) else Any
        return {
            str(k): _construct(item, v, _join(path, str(k)), problems) for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            problems.append(f"`{path}` must be true or false; got {value!r}")
        return value
    if tp is str and not isinstance(value, str):
        problems.append(f"`{path}` must be text; got {value!r}")
        return value
    if isinstance(tp, types.UnionType) or tp is Any:
        return value
    return value


def _dataclass(cls: type, value: Mapping[str, Any], path: str, problems: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    required = [
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    ]
    before = len(problems)
    check_keys(value, names, required, path, problems)
    kwargs = {
        name: _construct(hints[name], value[name], _join(path, name), problems)
        for name in names
        if name in value
    }
    if len(problems) > before:
        return None
    try:
        return cls(**kwargs)
    except ConfigError as err:
        if isinstance(err, ConfigProblems):
            raise
        raise err.within(path) from None


def build(cls: type, value: Mapping[str, Any], path: str = "") -> Any:
    """Build ``cls`` (a dataclass) from ``value``, validating everything.

    Parameters
    ----------
    cls : type
        A (frozen) dataclass whose ``__post_init__`` validates its own values.
    value : mapping
        Plain config values (e.g. from ``OmegaConf.to_container``).
    path : str
        Dotted config path of ``value``, for messages (``"cohort"``).

    Raises
    ------
    ConfigProblems
        Listing every unknown or missing key in the tree at once.
    ConfigError
        The first value that breaks a rule, with its full path.
    """
    problems: list[str] = []
    out = _construct(cls, value, path, problems)
    if problems:
        raise ConfigProblems(problems)
    return out


def defaults_of(cls: type) -> dict[str, Any]:
    """The default values of a parameter dataclass, as plain config containers.

    Nested dataclass fields are included when they have a default (recursively) or
    when every one of their own fields has a default; required fields are left out
    (the YAML files give them). Registered as Hydra's base config, so every setting
    with a default can be overridden on the command line without ``+``, while the
    values stay defined once, in the stage's dataclass.
    """
    out: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        tp = hints[f.name]
        if is_dataclass(tp) and isinstance(tp, type):
            nested = defaults_of(tp)
            if f.default_factory is not MISSING or nested:
                out[f.name] = nested
            continue
        if f.default is not MISSING:
            value: Any = f.default
        elif f.default_factory is not MISSING:
            value = f.default_factory()
        else:
            continue
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out
