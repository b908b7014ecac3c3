"""RQ-PCR assay: what a BCR-ABL1 test reports given the true level (DESIGN §5)."""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from tfrsim.monitoring.params import AssayParams

LN10 = float(np.log(10.0))


@dataclass(frozen=True)
class Measurements:
    """Results of the tests of ``n`` patients at ``v`` visits; arrays of shape (n, v).

    Attributes
    ----------
    abl_copies : int64
        ABL1 control-gene copies in the sample (0 where there was no test).
    bcr_copies : int64
        BCR-ABL1 copies detected (Poisson).
    detected : bool
        At least ``min_bcr_copies`` BCR-ABL1 copies: a positive test.
    measured_pct : float
        Reported BCR-ABL1 (% IS): ratio with technical noise if detected, 0 if not,
        NaN where there was no test.
    min_bcr_copies : int
        The assay's positivity threshold (copies).
    sensitivity_mr : float
        MR level the sample could show, ``log10(abl_copies / min_bcr_copies)``
        (4.5 = MR4.5); NaN where there was no test. Computed when first read (the
        simulation reads it only for the tests it keeps).
    """

    abl: NDArray[np.float32] = field(repr=False)  # abl_copies as float
    bcr_copies: NDArray[np.int64]
    detected: NDArray[np.bool_]
    measured_pct: NDArray[np.float64]
    min_bcr_copies: int

    @cached_property
    def abl_copies(self) -> NDArray[np.int64]:
        """See the class docstring (computed when first read)."""
        return self.abl.astype(np.int64)

    @cached_property
    def sensitivity_mr(self) -> NDArray[np.float64]:
        """See the class docstring."""
        return sensitivity_mr(self.abl_copies, self.measured_pct, self.min_bcr_copies)


def sensitivity_mr(
    abl_copies: NDArray[np.int64], measured_pct: NDArray[np.float64], min_bcr_copies: int
) -> NDArray[np.float64]:
    """``log10(abl_copies / min_bcr_copies)`` where there was a test (``measured_pct``
    not NaN), NaN elsewhere; any shape."""
    with np.errstate(divide="ignore"):
        sensitivity = np.log10(abl_copies / min_bcr_copies)
    return np.where(np.isnan(measured_pct), np.nan, sensitivity)


def measure(
    true_pct: NDArray[np.float64], params: AssayParams, *, rng: np.random.Generator
) -> Measurements:
    """Simulate RQ-PCR tests of samples with known true BCR-ABL1 levels.

    Parameters
    ----------
    true_pct : float array, shape (n, v)
        True BCR-ABL1 (% IS) of each sample; NaN where there is no test.
    params : AssayParams
    rng : numpy.random.Generator
        The assay stream.

    Returns
    -------
    Measurements
    """
    tested = ~np.isnan(true_pct)
    untested = ~tested
    # One child stream per kind of draw, each drawn patient-major (C order), so a
    # patient's results do not depend on how many patients follow it. They may depend
    # on the patients before it in its block (numpy's Poisson sampler uses a variable
    # number of uniforms per count), so common random numbers hold between runs whose
    # true levels agree at every sample: another rule, another analysis.
    abl_rng, count_rng, noise_rng = rng.spawn(3)
    # Arithmetic in place (few temporaries), each element computed as in the formulas:
    # abl = max(rint(exp(log(median) + sigma ln10 Z)), 1) copies where tested, else 0;
    # exp(x ln 10) rather than 10 ** x: the same number, several times faster.
    # The two normal draws are single precision: numpy draws and exponentiates them
    # about twice as fast (benchmarks/README.md), and a 1e-7 relative error is far
    # below the assay's own noise (ABL1 copies stay exact whole numbers up to 2^24,
    # 16.8 million, far above any sample's count).
    z_abl = abl_rng.standard_normal(true_pct.shape, dtype=np.float32)
    z_abl *= np.float32(params.abl_sigma_log10 * LN10)
    z_abl += np.float32(np.log(params.abl_median_copies))
    np.exp(z_abl, out=z_abl)
    np.rint(z_abl, out=z_abl)
    np.maximum(z_abl, np.float32(1.0), out=z_abl)
    abl = z_abl
    abl[untested] = 0.0
    mean_copies = true_pct * 0.01
    mean_copies *= abl
    mean_copies[untested] = 0.0
    bcr = count_rng.poisson(mean_copies)
    detected = tested & (bcr >= params.min_bcr_copies)
    # Reported level 100 bcr / abl * exp(noise ln10 Z) where detected, 0 where not; one
    # Z per positive test, in C order (a patient's noise depends only on the patients
    # before it, like its Poisson counts: numpy's sampler draws a data-dependent
    # number of uniforms per count).
    z = noise_rng.standard_normal(int(np.count_nonzero(detected)), dtype=np.float32)
    z *= np.float32(params.noise_sd_log10 * LN10)
    np.exp(z, out=z)
    # Whole-array arithmetic (no masked gathers: the fastest form measured, see
    # benchmarks/README.md): the noise factor is 0 where not detected, and untested
    # samples (0 ABL1 copies, 0 / 0) are set to NaN afterwards.
    noise = np.zeros(true_pct.shape, dtype=np.float32)
    noise[detected] = z
    with np.errstate(divide="ignore", invalid="ignore"):
        measured = np.multiply(bcr, 100.0, dtype=np.float64)
        measured /= abl
        measured *= noise
    measured[untested] = np.nan
    return Measurements(
        abl=abl,
        bcr_copies=bcr.astype(np.int64, copy=False),
        detected=detected,
        measured_pct=measured,
        min_bcr_copies=params.min_bcr_copies,
    )


def detection_probability(true_pct: float, params: AssayParams, n_nodes: int = 64) -> float:
    """Probability that a sample at ``true_pct`` (% IS) tests positive.

    ``P = E_A[P(Poisson(true_pct / 100 * A) >= min_bcr_copies)]`` over the log-normal
    ABL1 copies ``A`` (Gauss–Hermite quadrature; exact when ``abl_sigma_log10 = 0``,
    up to the rounding of copies).
    """
    from scipy import stats

    x, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    abl = np.maximum(
        np.rint(10.0 ** (np.log10(params.abl_median_copies) + params.abl_sigma_log10 * x)), 1.0
    )
    p = stats.poisson.sf(params.min_bcr_copies - 1, true_pct / 100.0 * abl)
    return float(np.dot(w, p))
