"""Relapse rules: when a series of test results counts as molecular relapse.

Rules are built from two criteria and combined with :func:`any_of`:

* :func:`above` — one test above a threshold (loss of MMR, loss of MR4);
* :func:`confirmed` — a test meeting one condition followed by the *next test* meeting
  another, optionally with a minimum rise (a missed visit is skipped: the next test is
  the next one actually done).

Every criterion works on whole ``(n, t)`` arrays of the tests each patient actually had
(left-aligned, see :func:`tfrsim.monitoring.observe.left_align`) and returns, per
patient, the index of the test that completes it and of the first test it involves.

Registered rules (``monitoring.rule.name``):

* ``loss_of_mmr`` — one test > 0.1 % IS (most trials after STIM; ENESTfreedom, EURO-SKI);
* ``loss_of_mmr_confirmed`` — two consecutive tests > 0.1 %;
* ``stim`` — loss of MMR, or a positive test confirmed by the next with a >= 1 log rise
  (STIM1/STIM2: Etienne JCO 2017; Nicolini ASH 2013);
* ``twister`` — loss of MMR, or two consecutive detectable tests (TWISTER: Ross,
  Blood 2013);
* ``loss_of_mr4`` — one test > 0.01 % IS.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tfrsim.monitoring.params import RuleParams
from tfrsim.monitoring.registry import Rule, get_rule, register_rule

#: Boolean test condition on the left-aligned results: (measured_pct, detected) -> mask.
Condition = Callable[[NDArray[np.float64], NDArray[np.bool_]], NDArray[np.bool_]]


@dataclass(frozen=True)
class RuleOutcome:
    """Where a rule fires in each patient's test series; arrays of shape (n,).

    Attributes
    ----------
    fired : bool
        The rule was met.
    trigger : int64
        Index of the test that completes the rule (-1 if not fired).
    first : int64
        Index of the first test involved (== trigger for a one-test criterion).
    """

    fired: NDArray[np.bool_]
    trigger: NDArray[np.int64]
    first: NDArray[np.int64]


#: A criterion maps left-aligned results to an outcome.
Criterion = Callable[[NDArray[np.float64], NDArray[np.bool_]], RuleOutcome]


def _earliest(mask: NDArray[np.bool_], offset: int) -> RuleOutcome:
    """First column where ``mask`` holds; the completing test is ``offset`` later."""
    if mask.shape[1] == 0:  # e.g. pairs of a one-test series: argmax has nothing to scan
        never = np.full(mask.shape[0], -1, dtype=np.int64)
        return RuleOutcome(fired=np.zeros(mask.shape[0], dtype=bool), trigger=never, first=never)
    fired = np.asarray(mask.any(axis=1), dtype=bool)
    first = np.where(fired, mask.argmax(axis=1), -1).astype(np.int64)
    trigger = np.where(fired, first + offset, -1).astype(np.int64)
    return RuleOutcome(fired=fired, trigger=trigger, first=first)


def above_threshold(threshold_pct: float) -> Condition:
    """Condition: measured level strictly above ``threshold_pct`` (% IS)."""

    def condition(measured: NDArray[np.float64], detected: NDArray[np.bool_]) -> NDArray[np.bool_]:
        return np.asarray(detected & (measured > threshold_pct))

    return condition


def positive(measured: NDArray[np.float64], detected: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Condition: the test detected BCR-ABL1 (any level)."""
    return detected


def above(threshold_pct: float) -> Criterion:
    """Criterion: one test above ``threshold_pct`` (% IS)."""
    condition = above_threshold(threshold_pct)

    def criterion(measured: NDArray[np.float64], detected: NDArray[np.bool_]) -> RuleOutcome:
        return _earliest(condition(measured, detected), offset=0)

    return criterion


def confirmed(
    first: Condition, second: Condition, min_rise_log10: float | None = None
) -> Criterion:
    """Criterion: a test meeting ``first`` and the next test meeting ``second``.

    With ``min_rise_log10``, the second result must also be at least
    ``10 ** min_rise_log10`` times the first.
    """

    def criterion(measured: NDArray[np.float64], detected: NDArray[np.bool_]) -> RuleOutcome:
        if measured.shape[1] < 2:
            return _earliest(np.zeros((measured.shape[0], 0), dtype=bool), offset=1)
        pair = first(measured, detected)[:, :-1] & second(measured, detected)[:, 1:]
        if min_rise_log10 is not None:
            with np.errstate(invalid="ignore"):
                pair &= measured[:, 1:] >= measured[:, :-1] * 10.0**min_rise_log10
        return _earliest(pair, offset=1)

    return criterion


def any_of(*criteria: Criterion) -> Criterion:
    """Criterion met when any of ``criteria`` is; the earliest completion wins."""

    def criterion(measured: NDArray[np.float64], detected: NDArray[np.bool_]) -> RuleOutcome:
        outcomes = [c(measured, detected) for c in criteria]
        never = np.iinfo(np.int64).max
        triggers = np.stack([np.where(o.fired, o.trigger, never) for o in outcomes])
        firsts = np.stack([np.where(o.fired, o.first, never) for o in outcomes])
        # Earliest completing test; among ties, the one whose series started first.
        order = np.lexsort((firsts, triggers), axis=0)[0]
        cols = np.arange(measured.shape[0])
        trigger, first = triggers[order, cols], firsts[order, cols]
        fired = trigger != never
        return RuleOutcome(
            fired=fired,
            trigger=np.where(fired, trigger, -1).astype(np.int64),
            first=np.where(fired, first, -1).astype(np.int64),
        )

    return criterion


def _loss_of_mmr(p: RuleParams) -> Criterion:
    return above(p.mmr_threshold_pct)


def _loss_of_mmr_confirmed(p: RuleParams) -> Criterion:
    mmr = above_threshold(p.mmr_threshold_pct)
    return confirmed(mmr, mmr)


def _stim(p: RuleParams) -> Criterion:
    return any_of(above(p.mmr_threshold_pct), confirmed(positive, positive, p.rise_log10))


def _twister(p: RuleParams) -> Criterion:
    return any_of(above(p.mmr_threshold_pct), confirmed(positive, positive))


def _loss_of_mr4(p: RuleParams) -> Criterion:
    return above(p.mr4_threshold_pct)


for _rule in (
    Rule("loss_of_mmr", _loss_of_mmr, description="one test above the MMR threshold"),
    Rule(
        "loss_of_mmr_confirmed",
        _loss_of_mmr_confirmed,
        description="two consecutive tests above the MMR threshold",
    ),
    Rule(
        "stim",
        _stim,
        description="loss of MMR, or a positive test confirmed by the next with a rise",
    ),
    Rule("twister", _twister, description="loss of MMR, or two consecutive positive tests"),
    Rule("loss_of_mr4", _loss_of_mr4, description="one test above the MR4 threshold"),
):
    register_rule(_rule)


def build_rule(params: RuleParams) -> Criterion:
    """The criterion of the rule named ``params.name``; the error lists valid names."""
    built: Criterion = get_rule(params.name).build(params)
    return built


def apply_rule(
    measured_pct: NDArray[np.float64], detected: NDArray[np.bool_], params: RuleParams
) -> RuleOutcome:
    """Apply the rule to left-aligned test results.

    Parameters
    ----------
    measured_pct : float array, shape (n, t)
        Reported % IS of each patient's tests in order; NaN after the last test.
    detected : bool array, shape (n, t)
        Whether each test was positive (False after the last test).
    params : RuleParams

    Returns
    -------
    RuleOutcome
    """
    return build_rule(params)(measured_pct, detected)
