"""The RQ-PCR assay against the Poisson formula (fixed seeds, SE-derived tolerances)."""

import numpy as np
import pytest

from tfrsim.monitoring.assay import detection_probability, measure
from tfrsim.monitoring.params import AssayParams
from tfrsim.random import stream

N = 200_000


def _measure(true_pct: float, params: AssayParams, seed: int = 1):
    true = np.full((N // 20, 20), true_pct)
    return measure(true, params, rng=stream("assay", seed=seed, replicate=0))


@pytest.mark.statistical
def test_detection_probability_matches_poisson_formula_fixed_copies() -> None:
    # 50,000 ABL1 copies, true 0.0005 % IS: mean 0.25 BCR-ABL1 copies,
    # P(>= 1 copy) = 1 - exp(-0.25) = 0.221199...
    params = AssayParams(abl_median_copies=50_000, abl_sigma_log10=0.0, noise_sd_log10=0.15)
    tests = _measure(0.0005, params)
    p = 1 - np.exp(-0.25)
    assert abs(tests.detected.mean() - p) < 4 * np.sqrt(p * (1 - p) / N)
    assert detection_probability(0.0005, params) == pytest.approx(p, rel=1e-12)
    # MR level the sample could show: log10(50,000) = 4.699.
    assert np.allclose(tests.sensitivity_mr, np.log10(50_000))
    assert np.all(tests.measured_pct[~tests.detected] == 0)


@pytest.mark.statistical
def test_detection_probability_with_variable_copies_and_two_copy_threshold() -> None:
    params = AssayParams(
        abl_median_copies=10**4.7, abl_sigma_log10=0.25, noise_sd_log10=0.1, min_bcr_copies=2
    )
    tests = _measure(0.003, params, seed=2)
    p = detection_probability(0.003, params)
    assert abs(tests.detected.mean() - p) < 4 * np.sqrt(p * (1 - p) / N)
    # Sensitivity is log10(ABL1 copies / 2) test by test.
    assert np.allclose(tests.sensitivity_mr, np.log10(tests.abl_copies / 2))


@pytest.mark.statistical
def test_measured_level_is_unbiased_on_the_log_scale_at_high_levels() -> None:
    # At 1 % IS with 50,000 copies (500 BCR-ABL1 copies) Poisson error is ~4.5 %; the
    # log10 noise has mean 0 and SD 0.15, so mean log10(measured) = log10(1) within SE.
    params = AssayParams(abl_median_copies=50_000, abl_sigma_log10=0.2, noise_sd_log10=0.15)
    tests = _measure(1.0, params, seed=3)
    logs = np.log10(tests.measured_pct)
    se = logs.std() / np.sqrt(N)
    # Delta method: E[log10(K / lambda)] = -1 / (2 lambda ln 10) with lambda = 500 x
    # 10^(0.2 Z) copies, so E[1/lambda] = exp((0.2 ln 10)^2 / 2) / 500.
    bias = -np.exp((0.2 * np.log(10)) ** 2 / 2) / 500 / (2 * np.log(10))
    assert abs(logs.mean() - bias) < 4 * se


def test_no_test_gives_nan() -> None:
    params = AssayParams(abl_median_copies=50_000, abl_sigma_log10=0.2, noise_sd_log10=0.15)
    true = np.array([[0.01, np.nan, 0.02]])
    tests = measure(true, params, rng=stream("assay", seed=1, replicate=0))
    assert np.isnan(tests.measured_pct[0, 1])
    assert not tests.detected[0, 1]
    assert np.isnan(tests.sensitivity_mr[0, 1])
    assert np.isfinite(tests.measured_pct[0, [0, 2]]).all()
