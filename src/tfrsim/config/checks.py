"""Input checks whose messages name the field, the rule, the value and a fix."""

import math
from collections.abc import Iterable, Mapping


class ConfigError(ValueError):
    """A configuration value breaks a rule.

    The message names the field (its dotted config path), the rule and the value,
    and where possible suggests a fix.
    """

    def __init__(self, field: str, rule: str, value: object, hint: str = "") -> None:
        self.field = field
        self.rule = rule
        self.value = value
        msg = f"`{field}` {rule}; got {value!r}"
        if hint:
            msg += f" — {hint}"
        super().__init__(msg)


def finite(field: str, value: float) -> float:
    """Return ``value`` as float if finite, else raise :class:`ConfigError`."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(field, "must be a number", value) from None
    if not math.isfinite(x):
        raise ConfigError(field, "must be finite", value)
    return x


def positive(field: str, value: float, unit: str = "", hint: str = "") -> float:
    """Require ``value > 0``."""
    x = finite(field, value)
    if x <= 0:
        raise ConfigError(field, f"must be > 0{(' ' + unit) if unit else ''}", value, hint)
    return x


def non_negative(field: str, value: float, unit: str = "", hint: str = "") -> float:
    """Require ``value >= 0``."""
    x = finite(field, value)
    if x < 0:
        raise ConfigError(field, f"must be >= 0{(' ' + unit) if unit else ''}", value, hint)
    return x


def fraction(field: str, value: float) -> float:
    """Require ``0 <= value <= 1`` (a probability, not a percentage)."""
    x = finite(field, value)
    if not 0.0 <= x <= 1.0:
        hint = "did you give a percentage instead of a fraction?" if 1 < x <= 100 else ""
        raise ConfigError(field, "must be a probability in [0, 1]", value, hint)
    return x


def in_range(field: str, value: float, lo: float, hi: float, unit: str, hint: str = "") -> float:
    """Require ``lo < value < hi`` (open interval)."""
    x = finite(field, value)
    if not lo < x < hi:
        raise ConfigError(field, f"must be in ({lo:g}, {hi:g}) {unit}", value, hint)
    return x


def positive_int(field: str, value: int) -> int:
    """Require an integer ``>= 1``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(field, "must be an integer >= 1", value)
    return value


def non_negative_int(field: str, value: int) -> int:
    """Require an integer ``>= 0``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(field, "must be an integer >= 0", value)
    return value


def one_of(field: str, value: str, valid: Iterable[str]) -> str:
    """Require ``value`` to be one of ``valid``."""
    options = list(valid)
    if value not in options:
        raise ConfigError(field, f"must be one of {options}", value)
    return value


def shares(field: str, value: Mapping[str, float], keys: Iterable[str]) -> dict[str, float]:
    """Require a mapping over exactly ``keys`` of probabilities summing to 1."""
    expected = list(keys)
    got = dict(value)
    unknown = sorted(set(got) - set(expected))
    if unknown:
        raise ConfigError(field, f"has unknown keys {unknown}; valid keys are {expected}", got)
    out = {k: fraction(f"{field}.{k}", got.get(k, 0.0)) for k in expected}
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(field, "must sum to 1", got, f"they sum to {total:g}")
    return out
