"""Registry of relapse rules, chosen by ``monitoring.rule.name``.

A rule is registered with :func:`register_rule` from the module that defines it,
together with the names and defaults of any parameters of its own (beyond the shared
thresholds of :class:`~tfrsim.monitoring.params.RuleParams`); those are set under
``monitoring.rule.settings.NAME`` and validated as finite numbers. A new rule with a
new parameter is therefore one file.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rule:
    """A registered relapse rule.

    Attributes
    ----------
    name : str
        ``monitoring.rule.name``.
    build : callable
        ``build(rule_params) -> criterion``; a criterion maps left-aligned test results
        ``(measured_pct, detected)`` to a :class:`~tfrsim.monitoring.rules.RuleOutcome`.
    settings : mapping of str to float
        The rule's own parameters and their defaults (``monitoring.rule.settings``).
    description : str
        One line for documentation and error messages.
    """

    name: str
    build: Callable[[Any], Any]
    settings: Mapping[str, float] = field(default_factory=dict)
    description: str = ""


RULES: dict[str, Rule] = {}


def register_rule(rule: Rule) -> Rule:
    """Register ``rule`` under its name (re-registering a name replaces it)."""
    RULES[rule.name] = rule
    return rule


def get_rule(name: str) -> Rule:
    """Look up a rule by name; the error lists the valid names."""
    try:
        return RULES[name]
    except KeyError:
        raise KeyError(f"unknown relapse rule {name!r}; valid rules: {sorted(RULES)}") from None
