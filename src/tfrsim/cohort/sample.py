"""Sampling the cohort of patients who stop imatinib (DESIGN §3)."""

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.cohort.distributions import (
    categorical,
    truncated_lognormal,
    truncated_normal,
)
from tfrsim.cohort.scores import elts_group, elts_score, sokal_group, sokal_score
from tfrsim.config.params import DEPTHS, SOKAL_GROUPS, CohortParams, EligibilityParams

#: Upper limit of peripheral blasts in chronic phase (%, < 15 %: cmlsupport glossary).
CHRONIC_PHASE_MAX_BLASTS_PCT = 15.0
#: Shortest imatinib treatment before a deep molecular response starts (years).
#: ASSUMPTION: a deep response takes at least ~6 months of imatinib, so DMR duration
#: <= imatinib duration - 0.5 year. (STIM1's medians, 36 months of CMR after 50 months
#: of imatinib (tbl_sci2016), leave no room for a longer minimum.)
MIN_YEARS_TO_DMR = 0.5
#: Uniforms per patient: 7 for every mode, 5 more for the clinical variables.
N_UNIFORMS = 12


@dataclass(frozen=True)
class Cohort:
    """Patients at the time they stop imatinib; every array has shape ``(n,)``.

    Attributes
    ----------
    patient_id : int64
        Index of the patient in the study (0-based, unique).
    age_years : float
        Age at diagnosis (years).
    male, prior_ifn : bool
        Sex; interferon before imatinib.
    spleen_cm, platelets_1e9_per_l, blasts_pct : float
        Clinical variables at diagnosis (cm below costal margin, 10^9/L, % blood);
        NaN in trial mode.
    sokal_score, elts_score : float
        Prognostic scores; NaN in trial mode.
    sokal_group, elts_group : int8
        0 = low, 1 = intermediate, 2 = high (ELTS: -1 when not computed).
    imatinib_years, dmr_years : float
        Imatinib duration and deep-molecular-response duration before stop (years).
    depth_log : float
        Depth at stop as a log10 reduction (4, 4.5, 5).
    """

    patient_id: NDArray[np.int64]
    age_years: NDArray[np.float64]
    male: NDArray[np.bool_]
    prior_ifn: NDArray[np.bool_]
    spleen_cm: NDArray[np.float64]
    platelets_1e9_per_l: NDArray[np.float64]
    blasts_pct: NDArray[np.float64]
    sokal_score: NDArray[np.float64]
    elts_score: NDArray[np.float64]
    sokal_group: NDArray[np.int8]
    elts_group: NDArray[np.int8]
    imatinib_years: NDArray[np.float64]
    dmr_years: NDArray[np.float64]
    depth_log: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.patient_id.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per patient; risk groups as ordered categoricals."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for col in ("sokal_group", "elts_group"):
            # pandas-stubs 2.x types `codes` as Sequence[int]; an integer array is valid.
            data[col] = pd.Categorical.from_codes(
                data[col], categories=pd.Index(SOKAL_GROUPS), ordered=True
            )
        return pd.DataFrame(data)


def min_imatinib_years(eligibility: EligibilityParams) -> float:
    """Shortest eligible imatinib duration: the protocol minimum, or enough for the
    minimum deep response to start after :data:`MIN_YEARS_TO_DMR`."""
    return max(eligibility.min_imatinib_years, eligibility.min_dmr_years + MIN_YEARS_TO_DMR)


def depth_probabilities(params: CohortParams) -> NDArray[np.float64]:
    """Depth shares (ordered as :data:`DEPTHS`) restricted to eligible depths."""
    min_log = DEPTHS[params.eligibility.min_depth]
    p = np.array(
        [params.depth_shares.get(k, 0.0) if v >= min_log else 0.0 for k, v in DEPTHS.items()]
    )
    return p / p.sum()


def sample_cohort(
    params: CohortParams, n: int, *, rng: np.random.Generator, first_id: int = 0
) -> Cohort:
    """Sample ``n`` eligible patients.

    Eligibility truncates the sampling distributions, so every sampled patient is
    eligible. Each patient consumes one row of uniforms (one per variable, drawn as an
    ``(n, 12)`` array), so patient ``i`` is the same whatever ``n``: a smaller cohort
    is a prefix of a larger one.

    Parameters
    ----------
    params : CohortParams
        Validated cohort parameters.
    n : int
        Number of patients to sample.
    rng : numpy.random.Generator
        The cohort stream.
    first_id : int, default 0
        ``patient_id`` of the first patient.

    Returns
    -------
    Cohort
    """
    elig = params.eligibility
    u = rng.random((n, N_UNIFORMS)).T
    age = truncated_normal(
        u[0], params.age_mean_years, params.age_sd_years, elig.min_age_years, elig.max_age_years
    )
    male = u[1] < params.male_fraction
    prior_ifn = u[2] < params.prior_ifn_fraction
    imatinib = truncated_lognormal(u[3], params.imatinib_years, lo=min_imatinib_years(elig))
    # A deep response starts after some imatinib: DMR duration is truncated at the
    # patient's own imatinib duration minus MIN_YEARS_TO_DMR.
    dmr = truncated_lognormal(
        u[4], params.dmr_years, lo=elig.min_dmr_years, hi=imatinib - MIN_YEARS_TO_DMR
    )
    depth_codes = categorical(u[5], depth_probabilities(params))
    depth_log = np.asarray(list(DEPTHS.values()))[depth_codes]

    nan = np.full(n, np.nan)
    if params.mode == "trial":
        shares = np.array([params.sokal_shares[g] for g in SOKAL_GROUPS])
        sokal_codes = categorical(u[6], shares)
        spleen, platelets, blasts, sokal, elts = nan, nan.copy(), nan.copy(), nan.copy(), nan.copy()
        elts_codes = np.full(n, -1, dtype=np.int8)
    else:
        c = params.clinical
        v = u[7:]
        spleen = np.where(v[0] < c.spleen_nonpalpable, 0.0, truncated_lognormal(v[1], c.spleen_cm))
        platelets = truncated_lognormal(v[2], c.platelets)
        blasts = np.where(
            v[3] < c.blasts_zero,
            0.0,
            truncated_lognormal(v[4], c.blasts_pct, hi=CHRONIC_PHASE_MAX_BLASTS_PCT),
        )
        sokal = sokal_score(age, spleen, platelets, blasts)
        elts = elts_score(age, spleen, platelets, blasts)
        sokal_codes, elts_codes = sokal_group(sokal), elts_group(elts)

    return Cohort(
        patient_id=np.arange(first_id, first_id + n, dtype=np.int64),
        age_years=age,
        male=male,
        prior_ifn=prior_ifn,
        spleen_cm=spleen,
        platelets_1e9_per_l=platelets,
        blasts_pct=blasts,
        sokal_score=sokal,
        elts_score=elts,
        sokal_group=sokal_codes,
        elts_group=elts_codes,
        imatinib_years=imatinib,
        dmr_years=dmr,
        depth_log=depth_log,
    )
