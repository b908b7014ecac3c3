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
        self.hint = hint
        msg = f"`{field}` {rule}; got {value!r}"
        if hint:
            msg += f" — {hint}"
        super().__init__(msg)

    def within(self, prefix: str) -> "ConfigError":
        """The same error with ``prefix`` prepended to its field (``"cohort"`` +
        ``"n_patients"`` -> ``"cohort.n_patients"``)."""
        if not prefix:
            return self
        field = f"{prefix}.{self.field}" if not self.field.startswith("[") else prefix + self.field
        return ConfigError(field, self.rule, self.value, self.hint)


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


def whole(field: str, value: object) -> int:
    """Return ``value`` as an int if it is a whole number.

    Scientists write ``1e6`` for a million: a float (or a numeric string such as
    ``"1e6"``) that is a whole number is accepted as that integer; ``2.5`` is refused.
    """
    if isinstance(value, bool):
        raise ConfigError(field, "must be a whole number", value)
    if isinstance(value, int):
        return value
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(field, "must be a whole number", value) from None
    if not math.isfinite(x) or x != math.floor(x):
        raise ConfigError(field, "must be a whole number", value)
    return int(x)


def positive_int(field: str, value: object) -> int:
    """Require an integer ``>= 1`` (whole floats such as ``1e6`` accepted)."""
    n = whole(field, value)
    if n < 1:
        raise ConfigError(field, "must be an integer >= 1", value)
    return n


def non_negative_int(field: str, value: object) -> int:
    """Require an integer ``>= 0`` (whole floats accepted)."""
    n = whole(field, value)
    if n < 0:
        raise ConfigError(field, "must be an integer >= 0", value)
    return n


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
