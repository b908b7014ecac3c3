"""Golden values: the default study and each trial at a fixed seed and small n give
exactly the pinned summaries of ``tests/golden/`` (see ``tests/golden_values.py``).

Any change of results — a stream moved, a covariate remapped, a default changed —
shows here even when every statistical test still passes. If the change is deliberate,
regenerate with ``python tests/golden/update.py`` (it prints the differences) and
explain them in the commit message.
"""

import pytest

import golden_values as g


@pytest.mark.parametrize("name", list(g.STUDIES))
def test_study_matches_its_golden_values(name: str) -> None:
    """Catches any unreviewed change of simulated results (milestones, Cox, log-rank,
    observation statistics, patient means) of the default study and every trial."""
    assert g.path(name).is_file(), f"no golden file; run python tests/golden/update.py {name}"
    diff = g.differences(g.load(name), g.compute(name))
    assert not diff, (
        f"{name}: results changed ({len(diff)} differences); if deliberate, run "
        "`python tests/golden/update.py` and explain the diff in the commit:\n"
        + "\n".join(diff[:40])
    )


def test_differences_sees_a_small_change() -> None:
    """Catches a comparison too loose to fail: a relative change of 1e-6 is reported,
    1e-9 is not, and structure changes are reported."""
    old = {"a": [1.0, {"b": 2.0}], "c": "x"}
    assert g.differences(old, {"a": [1.0, {"b": 2.0 * (1 + 1e-9)}], "c": "x"}) == []
    assert g.differences(old, {"a": [1.0, {"b": 2.0 * (1 + 1e-6)}], "c": "x"}) != []
    assert g.differences(old, {"a": [1.0], "c": "x"}) != []
    assert g.differences(old, {"a": [1.0, {"b": 2.0}], "c": "y"}) != []
    assert g.differences(old, {"a": [1.0, {"b": 2.0}]}) != []
