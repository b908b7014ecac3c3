"""Relapse rules on hand-built series of test results (left-aligned, NaN = no test)."""

import warnings

import numpy as np
import pytest

from tfrsim.checks import ConfigError
from tfrsim.monitoring import RULES
from tfrsim.monitoring.params import RuleParams
from tfrsim.monitoring.rules import above_threshold, apply_rule

NAN = np.nan


def _run(rule: str, series: list[list[float]], **kwargs: object):
    measured = np.array(series, dtype=float)
    detected = np.nan_to_num(measured) > 0
    return apply_rule(measured, detected, RuleParams(rule, **kwargs))  # type: ignore[arg-type]


def test_loss_of_mmr_single_test() -> None:
    out = _run("loss_of_mmr", [[0, 0.05, 0.2, 0.01], [0, 0, 0, 0], [0.5, NAN, NAN, NAN]])
    assert out.fired.tolist() == [True, False, True]
    assert out.trigger.tolist() == [2, -1, 0]
    assert out.first.tolist() == [2, -1, 0]


def test_threshold_is_strict() -> None:
    # Exactly 0.1 % is not a loss of MMR; the next float above is.
    out = _run("loss_of_mmr", [[0.1, 0.1], [0.1, np.nextafter(0.1, 1)]])
    assert out.fired.tolist() == [False, True]
    assert out.trigger.tolist() == [-1, 1]


def test_loss_of_mmr_confirmed_needs_consecutive_tests() -> None:
    out = _run("loss_of_mmr_confirmed", [[0.2, 0.05, 0.2, 0.3], [0.2, 0.05, 0.2, NAN]])
    assert out.fired.tolist() == [True, False]
    assert out.trigger.tolist() == [3, -1]
    assert out.first.tolist() == [2, -1]


def test_stim_one_log_rise_confirms_a_positive() -> None:
    out = _run(
        "stim",
        [
            [0, 0.001, 0.01, 0],  # exactly 1 log rise: confirmed at index 2
            [0, 0.001, 0.009, 0],  # less than 1 log: not confirmed
            [0, 0.001, 0, 0.01],  # rise not on consecutive tests
            [0, 0, 0, 0.003],  # positive at the last test: nothing to confirm it
            [0, 0, 0.5, 0],  # loss of MMR alone suffices
            [0.02, 0.3, 0, 0],  # both criteria at index 1: one event at 1
        ],
    )
    assert out.fired.tolist() == [True, False, False, False, True, True]
    assert out.trigger.tolist() == [2, -1, -1, -1, 2, 1]
    assert out.first.tolist() == [1, -1, -1, -1, 2, 0]


def test_twister_two_consecutive_detectable() -> None:
    out = _run(
        "twister",
        [
            [0, 0.001, 0.0005, 0],  # two consecutive positives, even falling
            [0.001, 0, 0.001, 0],  # interrupted by a negative
            [0, 0, 0, 0.001],  # positive at the last test
            [0, 0.2, NAN, NAN],  # loss of MMR
        ],
    )
    assert out.fired.tolist() == [True, False, False, True]
    assert out.trigger.tolist() == [2, -1, -1, 1]
    assert out.first.tolist() == [1, -1, -1, 1]


def test_loss_of_mr4() -> None:
    out = _run("loss_of_mr4", [[0.005, 0.011, 0], [0.01, 0.009, 0]])
    assert out.trigger.tolist() == [1, -1]


def test_configurable_thresholds() -> None:
    out = _run("loss_of_mmr", [[0.05, 0.2]], mmr_threshold_pct=0.04)
    assert out.trigger.tolist() == [0]
    out = _run("stim", [[0.001, 0.005]], rise_log10=0.5)  # 10^0.5 = 3.16x rise
    assert out.trigger.tolist() == [1]


@pytest.mark.parametrize("name", sorted(RULES))
def test_rules_never_fire_on_all_negative_series(name: str) -> None:
    out = _run(name, [[0.0] * 6, [NAN] * 6])
    assert not out.fired.any()


def test_stricter_rules_fire_no_later_than_loss_of_mmr() -> None:
    rng = np.random.default_rng(0)
    detected = rng.random((4000, 20)) < 0.1
    measured = np.where(detected, 10 ** rng.uniform(-4, 0, (4000, 20)), 0.0)
    mmr = apply_rule(measured, detected, RuleParams("loss_of_mmr"))
    for name in ("stim", "twister"):
        out = apply_rule(measured, detected, RuleParams(name))
        assert np.all(out.fired[mmr.fired])
        assert np.all(out.trigger[mmr.fired] <= mmr.trigger[mmr.fired])


def test_unknown_rule_lists_valid_names() -> None:
    """An unknown rule is refused when its parameters are built, listing the rules."""
    with pytest.raises(ConfigError, match="loss_of_mmr"):
        RuleParams("sometimes")


def test_rule_outcome_is_immutable() -> None:
    """Catches a mutable RuleOutcome (``any_of`` combines the outcomes of several
    criteria; one criterion must not be able to change another's result)."""
    import dataclasses

    out = _run("loss_of_mmr", [[0.2]])
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.fired = np.array([False])  # type: ignore[misc]


@pytest.mark.parametrize("rule", ["loss_of_mmr_confirmed", "stim", "twister"])
def test_confirmation_rules_accept_a_single_test(rule: str) -> None:
    """Catches a crash of the two-test criteria when every series has one test (a
    study whose follow-up allows a single visit): nothing can be confirmed, while a
    single test above MMR still fires the rules that include loss of MMR."""
    out = _run(rule, [[0.05], [0.2]])
    loss_of_mmr = rule != "loss_of_mmr_confirmed"
    assert out.fired.tolist() == [False, loss_of_mmr]
    assert out.trigger.tolist() == [-1, 0 if loss_of_mmr else -1]
    assert out.first.tolist() == [-1, 0 if loss_of_mmr else -1]


def test_threshold_condition_is_a_boolean_mask_computed_without_warnings() -> None:
    """Catches a condition combined arithmetically rather than logically (e.g. ``//``
    for ``&``: integer output, and a divide-by-zero warning on every negative test):
    the condition is a boolean mask, true exactly where a detected test is above the
    threshold, and evaluating it on negative and missing tests warns about nothing."""
    measured = np.array([[0.0, 0.05, 0.2, NAN], [0.3, 0.1, 0.0, 0.0]])
    detected = np.nan_to_num(measured) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mask = above_threshold(0.1)(measured, detected)
    assert mask.dtype == np.bool_
    assert mask.tolist() == [[False, False, True, False], [True, False, False, False]]


@pytest.mark.parametrize("name", sorted(RULES))
def test_rules_run_without_warnings_and_return_masks(name: str) -> None:
    """Catches tests combined arithmetically rather than logically inside a rule (e.g.
    ``//`` for ``&`` between consecutive tests: the same 0/1 values, but a divide-by-zero
    warning on every negative test and integer output): every registered rule, on
    series with negative, positive and missing tests, warns about nothing and fires a
    boolean mask."""
    measured = np.array([[0.0, 0.05, 0.2, 0.3], [0.002, 0.0, 0.5, NAN], [0.0] * 4])
    detected = np.nan_to_num(measured) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = apply_rule(measured, detected, RuleParams(name))
    assert out.fired.dtype == np.bool_
    assert not out.fired[2]


def test_earliest_of_is_the_lexicographic_minimum() -> None:
    """Catches the combination of criteria (``any_of``, a protocol amendment) taking the
    wrong outcome: a tie on the completing test broken towards the later start, a
    "not fired" (-1) read as the earliest test, or the running minimum reset. Against
    Python's ``min`` over (trigger, first) tuples, per patient, on random outcomes
    with ties and misses."""
    from tfrsim.monitoring.rules import RuleOutcome, earliest_of

    rng = np.random.default_rng(11)
    n, k = 2000, 3
    outcomes = []
    for _ in range(k):
        trigger = rng.integers(0, 6, n)
        first = trigger - rng.integers(0, 3, n).clip(max=trigger)
        fired = rng.random(n) < 0.6
        outcomes.append(
            RuleOutcome(
                fired=fired, trigger=np.where(fired, trigger, -1), first=np.where(fired, first, -1)
            )
        )
    out = earliest_of(outcomes)
    for i in range(n):
        options = [(o.trigger[i], o.first[i]) for o in outcomes if o.fired[i]]
        expected = min(options) if options else (-1, -1)
        assert (out.trigger[i], out.first[i]) == expected
        assert out.fired[i] == bool(options)
