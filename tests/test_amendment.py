"""A protocol amendment: one relapse rule before a calendar date, another after it.

STIM1 judged relapse by two consecutive positive tests until its rule was amended to a
confirmed 1-log rise or loss of MMR (conf/trial/stim1.yaml, stim_ash2008,
stim_asco2009, etienne2017_abs).
"""

import dataclasses

import numpy as np
import pytest

from tfrsim.checks import ConfigError
from tfrsim.config.compose import load_params
from tfrsim.execution import simulate
from tfrsim.monitoring import RULES
from tfrsim.monitoring.params import AmendmentParams, MonitoringParams
from tfrsim.monitoring.rules import apply_protocol

NAN = np.nan


def _monitoring(month: float, rule: str = "stim") -> MonitoringParams:
    base = load_params(["trial=stim1", "cohort.n_patients=10"]).monitoring
    return dataclasses.replace(
        base,
        rule=dataclasses.replace(base.rule, name=rule),
        amendment=AmendmentParams(calendar_month=month),
    )


def _run(series: list[list[float]], entry: list[float], month: float):
    measured = np.array(series, dtype=float)
    detected = np.nan_to_num(measured) > 0
    test_month = np.where(np.isnan(measured), NAN, np.arange(1.0, measured.shape[1] + 1))
    return apply_protocol(
        measured, detected, _monitoring(month), test_month, np.array(entry, dtype=float)
    )


def test_each_rule_applies_on_its_side_of_the_date() -> None:
    """Catches the two rules swapped, the date read on the stop-relative clock instead
    of the calendar (entry + test month), and a pair dated by its first test: two
    positives without a 1-log rise at months 1 and 2 are a relapse only while the early
    rule holds at the second test."""
    flat = [0.002, 0.003, 0.0, 0.0]
    out = _run([flat, flat, flat, flat], entry=[0.0, 10.0, 0.5, 0.0], month=5.0)
    # Patient 0: test 2 at calendar 2 < 5: early rule, relapse at test index 1.
    # Patient 1: tests at calendar 11, 12 >= 5: STIM rule, no 1-log rise: no relapse.
    # Patient 2: test 2 at calendar 2.5 < 5: relapse.
    assert out.fired.tolist()[:3] == [True, False, True]
    assert out.trigger.tolist()[:3] == [1, -1, 1]
    straddle = _run([flat], entry=[0.0], month=1.5)  # first test before, second after
    assert not straddle.fired[0]  # judged by the later (STIM) rule
    rise = _run([[0.001, 0.02, 0.0, 0.0]], entry=[0.0], month=1.5)
    assert rise.trigger.tolist() == [1]  # the STIM rule after the date still fires


def test_an_amendment_before_every_test_is_no_amendment() -> None:
    """Catches the amended path differing from the plain rule where the earlier rule
    covers no test (the later rule's mask blocking tests it should allow): an amendment
    dated before every test (calendar month 0.5; tests start a month after each stop)
    gives exactly the patients of no amendment (month 0). Earlier-rule outcomes leaking
    into later tests are the brute-force test's business.
    STIM1's own amendment (month 18) adds relapses: two positives without a 1-log rise
    count before it."""
    assert not AmendmentParams().active
    p = load_params(["trial=stim1", "model=calibrated", "cohort.n_patients=3000"])
    assert p.monitoring.amendment.calendar_month == 18.0

    def at(month: float):  # type: ignore[no-untyped-def]
        amendment = AmendmentParams(calendar_month=month)
        monitoring = dataclasses.replace(p.monitoring, amendment=amendment)
        return simulate(dataclasses.replace(p, monitoring=monitoring)).patients

    none, before_all = at(0.0), at(0.5)
    assert before_all.equals(none)
    assert simulate(p).patients["event"].sum() > none["event"].sum() + 30


def _brute_force(measured, detected, calendar, month, mmr=0.1, rise=1.0):
    """Per patient, per test, as a trial nurse would read the rules (a loop)."""
    n, t = measured.shape
    trigger = np.full(n, -1)
    for i in range(n):
        for j in range(t):
            if np.isnan(measured[i, j]):
                break
            pair = j >= 1 and detected[i, j - 1] and detected[i, j]
            if calendar[i, j] < month:
                fires = pair
            else:
                fires = (detected[i, j] and measured[i, j] > mmr) or (
                    pair and measured[i, j] >= measured[i, j - 1] * 10**rise
                )
            if fires:
                trigger[i] = j
                break
    return trigger


@pytest.mark.parametrize("month", [0.5, 7.0, 30.0])
def test_matches_a_test_by_test_reading(month: float) -> None:
    """Catches the allowed mask shifted by one test (a pair completed at test j allowed
    by test j - 1's date), relapses under the early rule dropped or the later rule's
    earliest completion taken from before the date, on 3,000 random series (rises,
    plateaus, losses of MMR, missing tests) against a loop written separately."""
    rng = np.random.default_rng(3)
    n, t = 3000, 12
    detected = rng.random((n, t)) < 0.35
    measured = np.where(detected, 10 ** rng.uniform(-4.5, -0.3, (n, t)), 0.0)
    stop = rng.integers(2, t + 1, n)
    gone = np.arange(t)[None, :] >= stop[:, None]
    measured[gone] = NAN
    detected[gone] = False
    test_month = np.where(gone, NAN, np.arange(1.0, t + 1)[None, :])
    entry = rng.uniform(0, 24, n)
    out = apply_protocol(measured, detected, _monitoring(month), test_month, entry)
    expected = _brute_force(measured, detected, entry[:, None] + test_month, month)
    assert (expected >= 0).sum() > 500
    assert (expected < 0).sum() > 100
    assert out.trigger.tolist() == expected.tolist()
    assert out.fired.tolist() == (expected >= 0).tolist()


def test_amendment_settings_are_checked() -> None:
    """A negative date or an unknown earlier rule is refused with the field's name."""
    with pytest.raises(ConfigError, match="calendar_month"):
        AmendmentParams(calendar_month=-1.0)
    with pytest.raises(ConfigError, match="earlier_rule"):
        AmendmentParams(calendar_month=12.0, earlier_rule="sometimes")


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("month", [0.0, 7.0])
def test_a_relapse_among_the_first_tests_is_the_relapse(rule: str, month: float) -> None:
    """The premise of testing later visit slots only for patients not yet relapsed
    (``observe._test``): for every registered rule, with and without an amendment, a
    rule that fires among a series' first 12 tests fires at the same test (and the same
    first test) on the whole series. Catches a rule whose earliest completion depends
    on later tests, which would make the early stop change results."""
    from tfrsim.monitoring.observe import EARLY_SLOTS

    rng = np.random.default_rng(13)
    n, t = 4000, 30
    detected = rng.random((n, t)) < 0.3
    measured = np.where(detected, 10 ** rng.uniform(-4.5, 0.0, (n, t)), 0.0)
    test_month = np.broadcast_to(np.arange(1.0, t + 1), (n, t)).copy()
    entry = rng.uniform(0, 24, n)
    mon = _monitoring(month, rule)
    head = apply_protocol(
        measured[:, :EARLY_SLOTS],
        detected[:, :EARLY_SLOTS],
        mon,
        test_month[:, :EARLY_SLOTS],
        entry,
    )
    whole = apply_protocol(measured, detected, mon, test_month, entry)
    assert head.fired.sum() > 100
    np.testing.assert_array_equal(whole.trigger[head.fired], head.trigger[head.fired])
    np.testing.assert_array_equal(whole.first[head.fired], head.first[head.fired])


def test_the_rule_leaves_every_test_result_unchanged() -> None:
    """Common random numbers across rules (the observe docstring's promise): the same
    patients under the STIM rule and under loss of MMR get identical results at every
    visit slot tested in both runs, including the slots after the first year, which
    are simulated only for some patients (``observe._test``). Catches a set of
    later-simulated patients that depends on the rule, which shifts their draws."""
    from tfrsim.cohort.sample import sample_cohort
    from tfrsim.disease.registry import simulate_course
    from tfrsim.monitoring.follow_up import horizon_months, sample_follow_up
    from tfrsim.monitoring.observe import EARLY_SLOTS, observe
    from tfrsim.random import stream

    def run(rule: str):  # type: ignore[no-untyped-def]
        p = load_params(["trial=stim1", "cohort.n_patients=4000", f"monitoring.rule.name={rule}"])

        def rng(name: str) -> np.random.Generator:
            return stream(name, seed=9, replicate=0, block=0)

        cohort = sample_cohort(p.cohort, 4000, rng=rng("cohort"), first_id=0)
        course = simulate_course(cohort, p.model_name, p.model, rng=rng("disease"))
        follow_up = sample_follow_up(p.follow_up, 4000, rng=rng("follow_up"))
        horizon = horizon_months(p.follow_up)
        return observe(
            course,
            follow_up,
            p.monitoring,
            horizon,
            schedule_rng=rng("schedule"),
            assay_rng=rng("assay"),
        )

    a, b = run("stim"), run("loss_of_mmr")
    both = ~np.isnan(a.month) & ~np.isnan(b.month)
    assert both[:, EARLY_SLOTS:].sum() > 10_000
    np.testing.assert_array_equal(a.measured_pct[both], b.measured_pct[both])
