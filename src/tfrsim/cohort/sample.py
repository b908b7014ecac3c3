"""Sampling the cohort of patients who stop a TKI (DESIGN §3)."""

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.cohort.distributions import (
    categorical,
    truncated_lognormal,
    truncated_normal,
)
from tfrsim.cohort.params import DEPTHS, MIN_YEARS_TO_DMR, SOKAL_GROUPS, TKIS, CohortParams
from tfrsim.cohort.scores import elts_group, elts_score, sokal_group, sokal_score
from tfrsim.random import named_children

#: Upper limit of peripheral blasts in chronic phase (%, < 15 %: cmlsupport glossary).
CHRONIC_PHASE_MAX_BLASTS_PCT = 15.0
#: The random decisions of the cohort stage, each with its own child stream of the
#: cohort stream, in PERMANENT order (see :func:`tfrsim.random.named_children`): never
#: reorder or remove, only append, so adding a variable leaves every other draw as it was.
COHORT_DECISIONS: tuple[str, ...] = (
    "age",
    "male",
    "prior_ifn",
    "tki_years",
    "dmr_years",
    "depth",
    "sokal_group",
    "spleen_palpable",
    "spleen_cm",
    "platelets",
    "blasts_zero",
    "blasts_pct",
)


@dataclass(frozen=True)
class Cohort:
    """Patients at the time they stop the TKI; every array has shape ``(n,)``.

    Attributes
    ----------
    patient_id : int64
        Index of the patient in the study (0-based, unique).
    age_years : float
        Age at diagnosis (years).
    male, prior_ifn : bool
        Sex; interferon before the TKI.
    spleen_cm, platelets_1e9_per_l, blasts_pct : float
        Clinical variables at diagnosis (cm below costal margin, 10^9/L, % blood);
        NaN in trial mode.
    sokal_score, elts_score : float
        Prognostic scores; NaN in trial mode.
    sokal_group, elts_group : int8
        0 = low, 1 = intermediate, 2 = high (ELTS: -1 when not computed).
    tki_years, dmr_years : float
        TKI duration and deep-molecular-response duration before stop (years).
    depth_log : float
        Depth at stop as a log10 reduction (4, 4.5, 5).
    tki : int8
        The TKI stopped, as a code into :data:`~tfrsim.cohort.params.TKIS`
        (0 = imatinib).
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
    tki_years: NDArray[np.float64]
    dmr_years: NDArray[np.float64]
    depth_log: NDArray[np.float64]
    tki: NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.patient_id.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per patient; risk groups as ordered categoricals."""
        return pd.DataFrame(self.columns())

    def columns(self) -> dict[str, Any]:
        """The columns of :meth:`to_frame`, by name in its order (arrays and
        categoricals), to build a wider table in one go."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for col in ("sokal_group", "elts_group"):
            # pandas-stubs 2.x types `codes` as Sequence[int]; an integer array is valid.
            data[col] = pd.Categorical.from_codes(
                data[col], categories=pd.Index(SOKAL_GROUPS), ordered=True
            )
        data["tki"] = pd.Categorical.from_codes(data["tki"], categories=pd.Index(TKIS))
        return data


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
    eligible. Each decision of :data:`COHORT_DECISIONS` draws ``n`` uniforms from its
    own child stream, so patient ``i`` is the same whatever ``n`` (a smaller cohort is
    a prefix of a larger one) and adding a decision leaves the others' draws unchanged.

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
    streams = named_children(rng, COHORT_DECISIONS)

    def u(decision: str) -> NDArray[np.float64]:
        return streams[decision].random(n)

    age = truncated_normal(
        u("age"), params.age_mean_years, params.age_sd_years, elig.min_age_years, elig.max_age_years
    )
    male = u("male") < params.male_fraction
    prior_ifn = u("prior_ifn") < params.prior_ifn_fraction
    tki_years = truncated_lognormal(
        u("tki_years"), params.tki_years, lo=elig.min_tki_years_effective
    )
    # A deep response starts after some TKI: DMR duration is truncated at the
    # patient's own TKI duration minus MIN_YEARS_TO_DMR.
    dmr = truncated_lognormal(
        u("dmr_years"), params.dmr_years, lo=elig.min_dmr_years, hi=tki_years - MIN_YEARS_TO_DMR
    )
    depth_codes = categorical(u("depth"), depth_probabilities(params))
    depth_log = np.asarray(list(DEPTHS.values()))[depth_codes]

    nan = np.full(n, np.nan)
    if params.mode == "trial":
        shares = np.array([params.sokal_shares[g] for g in SOKAL_GROUPS])
        sokal_codes = categorical(u("sokal_group"), shares)
        spleen, platelets, blasts, sokal, elts = nan, nan.copy(), nan.copy(), nan.copy(), nan.copy()
        elts_codes = np.full(n, -1, dtype=np.int8)
    else:
        c = params.clinical
        spleen = np.where(
            u("spleen_palpable") < c.spleen_nonpalpable,
            0.0,
            truncated_lognormal(u("spleen_cm"), c.spleen_cm),
        )
        platelets = truncated_lognormal(u("platelets"), c.platelets)
        blasts = np.where(
            u("blasts_zero") < c.blasts_zero,
            0.0,
            truncated_lognormal(u("blasts_pct"), c.blasts_pct, hi=CHRONIC_PHASE_MAX_BLASTS_PCT),
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
        tki_years=tki_years,
        dmr_years=dmr,
        depth_log=depth_log,
        tki=np.full(n, TKIS.index(params.tki), dtype=np.int8),
    )
