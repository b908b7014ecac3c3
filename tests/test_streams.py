"""The random-stream contract: every block, stage and cohort decision has its own stream.

The layout is documented in :mod:`tfrsim.random`. These tests check the properties it
promises, which no closed-form test can see: two decisions drawing the *same* uniforms
(say ``prior_ifn`` reusing the ``male`` draws), two stages sharing one stream, or two
blocks repeating each other all leave every marginal distribution exactly right.

Independence is checked through correlations: with ``n`` independent pairs a sample
correlation has standard error ``1 / sqrt(n)``; every check allows 4 SE, while a shared
draw gives a correlation of order 1 (hundreds of SE).
"""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tfrsim import load_params, simulate_patients
from tfrsim import pipeline as pipeline_module
from tfrsim import random as tfr_random
from tfrsim.cohort import sample as sample_module
from tfrsim.cohort.params import MIN_YEARS_TO_DMR
from tfrsim.cohort.sample import COHORT_DECISIONS, sample_cohort
from tfrsim.random import BLOCK_SIZE, STREAMS, named_children, stream

N = 20_000
#: A sample correlation of independent variables has SE 1/sqrt(n).
Z = 4.0


def _uncorrelated(a: np.ndarray, b: np.ndarray, what: str) -> None:
    r = np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1]
    assert abs(r) < Z / np.sqrt(a.size), f"{what}: correlation {r:.4f} (n = {a.size})"


def test_stream_ids_are_unique_and_streams_differ() -> None:
    """Catches two stage names mapped to one id (two stages drawing the same numbers)."""
    assert len(set(STREAMS.values())) == len(STREAMS)
    draws = {name: stream(name, seed=1, replicate=0).random(N) for name in STREAMS}
    for a, b in combinations(STREAMS, 2):
        _uncorrelated(draws[a], draws[b], f"streams {a} and {b}")


def test_stream_layout_is_permanent() -> None:
    """Catches a renumbered stream id, a changed block size or key derivation (each
    changes every result; ids may only be appended): the ids, the block size and two
    draws are pinned."""
    assert STREAMS == {
        "cohort": 1, "disease": 2, "follow_up": 3, "schedule": 4, "assay": 5, "posterior": 6,
    }  # fmt: skip
    assert BLOCK_SIZE == 10_000
    assert stream("cohort", seed=1, replicate=0).random() == 0.9004824530305011
    assert stream("assay", seed=20070701, replicate=3, block=2).random() == 0.8636461808541227


def test_stream_defaults_to_block_zero_and_takes_keywords_only() -> None:
    """Catches a default block other than 0 (single-block callers would draw block 1's
    numbers) and a positional signature (seed and replicate could be swapped silently)."""
    a = stream("disease", seed=4, replicate=2).random(8)
    np.testing.assert_array_equal(a, stream("disease", seed=4, replicate=2, block=0).random(8))
    with pytest.raises(TypeError):
        stream("disease", 4, 2)  # type: ignore[misc]


@pytest.mark.parametrize("argument", ["seed", "replicate", "block"])
def test_seed_replicate_and_block_each_give_an_independent_stream(argument: str) -> None:
    """Catches a stream key that ignores the seed, the replicate or the block (two
    blocks or replicates repeating each other)."""
    base = {"seed": 7, "replicate": 0, "block": 0}
    a = stream("cohort", **base).random(N)
    b = stream("cohort", **{**base, argument: 1}).random(N)
    assert not np.array_equal(a, b)
    _uncorrelated(a, b, f"{argument} 0 vs 1")


def test_named_children_are_independent_and_appending_keeps_earlier_ones() -> None:
    """Catches children that share a seed, or a spawn order where appending a decision
    moves the draws of the existing ones."""
    names = ("a", "b", "c")
    kids = named_children(stream("cohort", seed=3, replicate=0), names)
    draws = {k: g.random(N) for k, g in kids.items()}
    for a, b in combinations(names, 2):
        _uncorrelated(draws[a], draws[b], f"children {a} and {b}")
    more = named_children(stream("cohort", seed=3, replicate=0), (*names, "d"))
    for k in names:
        np.testing.assert_array_equal(more[k].random(N), draws[k])
    with pytest.raises(ValueError, match="unique"):
        named_children(stream("cohort", seed=3, replicate=0), ("a", "a"))


def _cohort_uniforms(overrides: list[str], seed: int = 21) -> dict[str, np.ndarray]:
    """The uniform behind each cohort decision, recovered from the sampled values by the
    intended (truncated) distribution function, written here with scipy.stats."""
    params = load_params([f"cohort.n_patients={N}", *overrides])
    cp = params.cohort
    elig = cp.eligibility
    cohort = sample_cohort(cp, N, rng=stream("cohort", seed=seed, replicate=0))

    def trunc_norm_pit(x: np.ndarray, mu: float, sd: float, lo, hi) -> np.ndarray:  # type: ignore[no-untyped-def]
        a, b = stats.norm.cdf((np.log(lo) - mu) / sd), stats.norm.cdf((np.log(hi) - mu) / sd)
        return (stats.norm.cdf((np.log(x) - mu) / sd) - a) / (b - a)

    tki, dmr = cp.tki_years, cp.dmr_years
    age_a = stats.norm.cdf((elig.min_age_years - cp.age_mean_years) / cp.age_sd_years)
    age_b = stats.norm.cdf((elig.max_age_years - cp.age_mean_years) / cp.age_sd_years)
    out = {
        "age": (stats.norm.cdf((cohort.age_years - cp.age_mean_years) / cp.age_sd_years) - age_a)
        / (age_b - age_a),
        "male": cohort.male.astype(float),
        "prior_ifn": cohort.prior_ifn.astype(float),
        "tki_years": trunc_norm_pit(
            cohort.tki_years, np.log(tki.median), tki.sigma, elig.min_tki_years_effective, np.inf
        ),
        "dmr_years": trunc_norm_pit(
            cohort.dmr_years,
            np.log(dmr.median),
            dmr.sigma,
            max(elig.min_dmr_years, 1e-300),
            cohort.tki_years - MIN_YEARS_TO_DMR,
        ),
        "depth": cohort.depth_log,
    }
    if cp.mode == "trial":
        out["sokal_group"] = cohort.sokal_group.astype(float)
    else:
        out["spleen_palpable"] = (cohort.spleen_cm > 0).astype(float)
        out["spleen_cm"] = np.log(np.where(cohort.spleen_cm > 0, cohort.spleen_cm, np.nan))
        out["platelets"] = np.log(cohort.platelets_1e9_per_l)
        out["blasts_zero"] = (cohort.blasts_pct == 0).astype(float)
        out["blasts_pct"] = np.log(np.where(cohort.blasts_pct > 0, cohort.blasts_pct, np.nan))
    return out


MIXED = [
    "cohort.male_fraction=0.5",
    "cohort.prior_ifn_fraction=0.5",
    "cohort.sokal_shares={low: 0.4, intermediate: 0.3, high: 0.3}",
    "cohort.depth_shares={MR4: 0.3, MR4.5: 0.3, MR5: 0.4}",
    "cohort.eligibility.min_depth=MR4",
    "cohort.eligibility.min_tki_years=0",
    "cohort.eligibility.min_dmr_years=0",
]


@pytest.mark.parametrize("mode", ["trial", "population"])
def test_cohort_decisions_are_pairwise_independent(mode: str) -> None:
    """Catches two cohort decisions sharing the same draws (e.g. ``prior_ifn`` computed
    from the very uniforms ``male`` used, or ``dmr_years`` from the ``tki_years``
    uniforms): the recovered uniforms of every pair of decisions are uncorrelated
    within 4 SE. (A decision reading the *next* numbers of another's stream is
    independent of it and passes here; the draw count per stream catches it:
    :func:`test_each_cohort_decision_draws_once_from_its_own_stream`.)"""
    overrides = MIXED if mode == "trial" else ["trial=population", *MIXED]
    u = _cohort_uniforms(overrides)
    # Population-mode variables that depend on one another by design (the Sokal score
    # is derived from age, spleen, platelets and blasts) are not in ``u``.
    for a, b in combinations(sorted(u), 2):
        both = np.isfinite(u[a]) & np.isfinite(u[b])
        if np.ptp(u[a][both]) == 0 or np.ptp(u[b][both]) == 0:
            continue  # e.g. spleen size among the palpable spleens only
        _uncorrelated(u[a][both], u[b][both], f"decisions {a} and {b}")
    # Every decision is in the permanent list, so each has its own child stream.
    assert set(u) <= set(COHORT_DECISIONS)


def test_cohort_decision_uniforms_are_uniform() -> None:
    """Catches a decision mapped through the wrong distribution (its recovered
    probability-integral transform would not be uniform): mean 1/2 and variance 1/12
    within 4 SE (SE of the variance of U(0,1): sqrt((1/80 - 1/144) / n))."""
    u = _cohort_uniforms(MIXED)
    for name in ("age", "tki_years", "dmr_years"):
        x = u[name]
        assert abs(x.mean() - 0.5) < Z * np.sqrt(1 / 12 / N), name
        assert abs(x.var() - 1 / 12) < Z * np.sqrt((1 / 80 - 1 / 144) / N), name


class _CountingStream:
    """Stands in for a decision's child stream and counts how often it is drawn from."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.calls = rng, 0

    def random(self, size: int) -> np.ndarray:
        self.calls += 1
        return self.rng.random(size)


@pytest.mark.parametrize(
    ("trial", "unused"),
    [
        ("stim1", {"spleen_palpable", "spleen_cm", "platelets", "blasts_zero", "blasts_pct"}),
        ("population", {"sokal_group"}),
    ],
)
def test_each_cohort_decision_draws_once_from_its_own_stream(
    trial: str, unused: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches a decision drawing from another decision's stream (e.g. ``prior_ifn``
    taking the next uniforms of the ``male`` stream: statistically invisible, but adding
    a draw to ``male`` would then move ``prior_ifn``): every decision used by the mode
    is drawn from exactly once, the others never."""
    made: dict[str, _CountingStream] = {}

    def counting(rng: np.random.Generator, names: tuple[str, ...]) -> dict[str, object]:
        made.update({k: _CountingStream(g) for k, g in named_children(rng, names).items()})
        return dict(made)

    monkeypatch.setattr(sample_module, "named_children", counting)
    params = load_params([f"trial={trial}", "cohort.n_patients=100"])
    sample_cohort(params.cohort, 100, rng=stream("cohort", seed=1, replicate=0))
    calls = {k: s.calls for k, s in made.items()}
    assert calls == {k: 0 if k in unused else 1 for k in COHORT_DECISIONS}


@pytest.mark.parametrize("trial", ["stim1", "population"])
def test_appending_a_cohort_decision_leaves_every_column_unchanged(
    trial: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches a decision order that is not append-only (children spawned in a
    different order, or a decision looked up by position): with an extra decision
    appended, every column is byte-for-byte identical."""
    params = load_params([f"trial={trial}", "cohort.n_patients=2000"])

    def sample() -> pd.DataFrame:
        rng = stream("cohort", seed=5, replicate=0)
        return sample_cohort(params.cohort, 2000, rng=rng).to_frame()

    before = sample()
    monkeypatch.setattr(sample_module, "COHORT_DECISIONS", (*COHORT_DECISIONS, "new_decision"))
    after = sample()
    assert before.to_parquet() == after.to_parquet()
    # ...while putting the new decision first moves every draw: the check can fail.
    monkeypatch.setattr(sample_module, "COHORT_DECISIONS", ("new_decision", *COHORT_DECISIONS))
    assert not np.array_equal(sample()["tki_years"], before["tki_years"])


def test_each_stage_draws_from_its_own_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches two stages sharing a stream (e.g. the follow-up drawn from the cohort
    stream): the stage chain asks for every stage stream exactly once per block, and
    the stages' draws are uncorrelated."""
    calls: list[tuple[str, int]] = []
    real = pipeline_module.stream

    def spy(name: str, **kw: int) -> np.random.Generator:
        calls.append((name, kw["block"]))
        return real(name, **kw)

    monkeypatch.setattr(pipeline_module, "stream", spy)
    params = load_params(
        [f"cohort.n_patients={BLOCK_SIZE + 5}", "cohort.male_fraction=0.5", *MIXED[1:3]]
    )
    patients = simulate_patients(params)
    for block in (0, 1):
        names = sorted(n for n, b in calls if b == block)
        # "posterior" picks a parameter draw per (seed, replicate), not per block.
        stages = sorted(set(STREAMS) - {"posterior"})
        assert names == stages, f"block {block} used {names}"
    # Stage draws are independent: cohort (sex), disease (clone count given covariates
    # is not independent of them, so use the residual level), follow-up (entry).
    entry = patients["entry_month"].to_numpy()
    residual = np.log(patients["residual_pct"].to_numpy())
    male = patients["male"].to_numpy(float)
    age = patients["age_years"].to_numpy()
    for a, b, what in (
        (male, entry, "cohort vs follow-up"),
        (age, residual, "cohort vs disease"),
        (entry, residual, "follow-up vs disease"),
    ):
        _uncorrelated(a, b, what)


def test_adding_a_stage_stream_leaves_the_study_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Catches stream ids derived from positions (adding a stage would renumber the
    others): with one more stream registered the patients are byte-for-byte identical."""
    params = load_params(["cohort.n_patients=1500"])
    before = simulate_patients(params)
    monkeypatch.setitem(tfr_random.STREAMS, "new_stage", max(STREAMS.values()) + 1)
    after = simulate_patients(params)
    assert before.to_parquet() == after.to_parquet()


def test_blocks_do_not_repeat_each_other() -> None:
    """Catches every block reusing block 0's streams (or the execution passing a wrong
    block index): the first patients of block 1 are not those of block 0, and their
    draws are uncorrelated."""
    n0 = 3000
    params = load_params([f"cohort.n_patients={BLOCK_SIZE + n0}", "cohort.male_fraction=0.5"])
    patients = simulate_patients(params)
    first, second = patients.iloc[:n0], patients.iloc[BLOCK_SIZE:]
    assert len(second) == n0
    for column in ("tki_years", "entry_month", "residual_pct", "age_years"):
        a, b = first[column].to_numpy(), second[column].to_numpy()
        assert not np.array_equal(a, b), column
        _uncorrelated(a, b, f"{column}: block 0 vs block 1")
    # Same block index, same draws: blocks are keyed by index, not by position.
    again = pipeline_module.simulate_block(params, 1, BLOCK_SIZE, BLOCK_SIZE + n0).patients
    np.testing.assert_array_equal(again["tki_years"], second["tki_years"])
