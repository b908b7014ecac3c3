"""Parameters of the cohort stage: who stops the TKI, and with what history.

Each dataclass validates itself on construction (``__post_init__``); a broken rule
raises :class:`~tfrsim.checks.ConfigError` naming the field (relative to the
dataclass; the translation step prefixes the config path), the rule and the value.
"""

from dataclasses import dataclass, field

from tfrsim import checks as c
from tfrsim.cohort.distributions import lognormal_mass, normal_mass

#: Sokal risk groups, in increasing order of risk (Sokal 1984 cut-offs 0.8 / 1.2;
#: cancersci2014_tbl).
SOKAL_GROUPS: tuple[str, ...] = ("low", "intermediate", "high")
#: Molecular-response depths a patient can have at stop, as log10 reductions.
#: MR4 = 0.01 %, MR4.5 = 0.0032 %, MR5 = 0.001 % IS (ross2018_enestfreedom).
DEPTHS: dict[str, float] = {"MR4": 4.0, "MR4.5": 4.5, "MR5": 5.0}
#: Tyrosine-kinase inhibitors a cohort can stop (codes 0, 1, 2 in ``Cohort.tki``).
#: The calibration trials (STIM1, STIM2, TWISTER) all stopped imatinib.
TKIS: tuple[str, ...] = ("imatinib", "nilotinib", "dasatinib")
#: Shortest TKI treatment before a deep molecular response starts (years).
#: ASSUMPTION: a deep response takes at least ~6 months of TKI, so DMR duration
#: <= TKI duration - 0.5 year. (STIM1's medians, 36 months of CMR after 50 months
#: of imatinib (tbl_sci2016), leave no room for a longer minimum.)
MIN_YEARS_TO_DMR = 0.5
#: Below this probability an eligibility filter is taken to leave no patient.
MIN_ELIGIBLE_MASS = 1e-9

_NO_PATIENT = "no patient would be eligible; relax the filter or move the distribution"


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class LogNormalParams:
    """A log-normal distribution given by its median and log-scale SD.

    Parameters
    ----------
    median : float
        Median of the (untruncated) distribution, in the unit of the quantity (> 0).
    sigma : float
        Standard deviation of the natural log of the quantity (>= 0).
    """

    median: float
    sigma: float

    def __post_init__(self) -> None:
        _set(self, "median", c.positive("median", self.median))
        _set(self, "sigma", c.non_negative("sigma", self.sigma, "(log scale)"))


@dataclass(frozen=True)
class ClinicalParams:
    """Distributions of the clinical variables at diagnosis (population mode).

    These are modelling assumptions, not data (``sampling_assumptions`` in the
    calibration reference); the defaults give a Sokal high-risk share near the
    23–25 % seen in unselected European registries (eutos_pbr2015; pfirrmann2020_news).

    Parameters
    ----------
    spleen_nonpalpable : float
        Probability that the spleen is not palpable (0 cm below the costal margin).
    spleen_cm : LogNormalParams
        Spleen size in cm below the costal margin, if palpable.
    platelets : LogNormalParams
        Platelet count, 10^9/L.
    blasts_zero : float
        Probability of 0 % peripheral blasts.
    blasts_pct : LogNormalParams
        Peripheral blasts in %, if any; truncated below 15 % (chronic phase).
    """

    spleen_nonpalpable: float
    spleen_cm: LogNormalParams
    platelets: LogNormalParams
    blasts_zero: float
    blasts_pct: LogNormalParams

    def __post_init__(self) -> None:
        _set(self, "spleen_nonpalpable", c.fraction("spleen_nonpalpable", self.spleen_nonpalpable))
        _set(self, "blasts_zero", c.fraction("blasts_zero", self.blasts_zero))


@dataclass(frozen=True)
class EligibilityParams:
    """Protocol eligibility applied when sampling the cohort.

    Eligibility truncates the sampling distributions (inverse-CDF sampling on the
    eligible range), so a cohort always has exactly ``n_patients`` eligible
    patients. A filter whose eligible range has no probability mass is a
    configuration error.

    Parameters
    ----------
    min_tki_years, min_dmr_years : float
        Minimum TKI duration and deep-molecular-response duration before stop (years).
    min_depth : str
        Minimum depth at stop, one of :data:`DEPTHS`.
    min_age_years, max_age_years : float
        Age range at diagnosis (years).
    """

    min_tki_years: float = 0.0
    min_dmr_years: float = 0.0
    min_depth: str = "MR4"
    min_age_years: float = 18.0
    max_age_years: float = 90.0

    def __post_init__(self) -> None:
        _set(self, "min_tki_years", c.non_negative("min_tki_years", self.min_tki_years, "years"))
        _set(self, "min_dmr_years", c.non_negative("min_dmr_years", self.min_dmr_years, "years"))
        c.one_of("min_depth", self.min_depth, DEPTHS)
        _set(self, "min_age_years", c.non_negative("min_age_years", self.min_age_years, "years"))
        _set(self, "max_age_years", c.positive("max_age_years", self.max_age_years, "years"))
        if self.max_age_years <= self.min_age_years:
            raise c.ConfigError(
                "max_age_years",
                f"must exceed min_age_years ({self.min_age_years:g})",
                self.max_age_years,
            )

    @property
    def min_tki_years_effective(self) -> float:
        """Shortest eligible TKI duration: the protocol minimum, or enough for the
        minimum deep response to start after :data:`MIN_YEARS_TO_DMR`."""
        return max(self.min_tki_years, self.min_dmr_years + MIN_YEARS_TO_DMR)


@dataclass(frozen=True)
class CohortParams:
    """How the patients of one study are sampled.

    Parameters
    ----------
    n_patients : int
        Number of eligible patients (whole numbers written as ``1e6`` accepted).
    mode : {"trial", "population"}
        ``"trial"`` draws the Sokal group from ``sokal_shares`` (clinical variables
        and scores are then not sampled, NaN); ``"population"`` samples age,
        spleen, platelets and blasts and derives the Sokal and ELTS scores.
    sokal_shares : dict
        Share of each Sokal group (trial mode); sums to 1.
    age_mean_years, age_sd_years : float
        Normal distribution of age at diagnosis, truncated to the eligible range.
    male_fraction, prior_ifn_fraction : float
        Bernoulli probabilities.
    tki_years, dmr_years : LogNormalParams
        Untruncated distributions of TKI duration and deep-response duration
        before stop (years); truncated below by eligibility.
    depth_shares : dict
        Share of each depth at stop (keys of :data:`DEPTHS`), before eligibility.
    clinical : ClinicalParams
        Clinical-variable distributions (population mode).
    eligibility : EligibilityParams
        Protocol eligibility.
    tki : str, default "imatinib"
        The TKI the cohort stops, one of :data:`TKIS`.
    """

    n_patients: int
    mode: str
    sokal_shares: dict[str, float]
    age_mean_years: float
    age_sd_years: float
    male_fraction: float
    prior_ifn_fraction: float
    tki_years: LogNormalParams
    dmr_years: LogNormalParams
    depth_shares: dict[str, float]
    clinical: ClinicalParams
    eligibility: EligibilityParams = field(default_factory=EligibilityParams)
    tki: str = "imatinib"

    def __post_init__(self) -> None:
        _set(self, "n_patients", c.positive_int("n_patients", self.n_patients))
        c.one_of("mode", self.mode, ("trial", "population"))
        _set(self, "sokal_shares", c.shares("sokal_shares", self.sokal_shares, SOKAL_GROUPS))
        _set(self, "age_mean_years", c.positive("age_mean_years", self.age_mean_years, "years"))
        _set(self, "age_sd_years", c.non_negative("age_sd_years", self.age_sd_years, "years"))
        _set(self, "male_fraction", c.fraction("male_fraction", self.male_fraction))
        _set(self, "prior_ifn_fraction", c.fraction("prior_ifn_fraction", self.prior_ifn_fraction))
        _set(self, "depth_shares", c.shares("depth_shares", self.depth_shares, DEPTHS))
        c.one_of("tki", self.tki, TKIS)
        self._check_eligible()

    def _check_eligible(self) -> None:
        """Refuse eligibility filters that leave (almost) no patient."""
        e = self.eligibility
        if lognormal_mass(self.tki_years, e.min_tki_years) < MIN_ELIGIBLE_MASS:
            raise c.ConfigError(
                "eligibility.min_tki_years",
                f"leaves no patient under tki_years {self.tki_years}",
                e.min_tki_years,
                _NO_PATIENT,
            )
        if lognormal_mass(self.dmr_years, e.min_dmr_years) < MIN_ELIGIBLE_MASS:
            raise c.ConfigError(
                "eligibility.min_dmr_years",
                f"leaves no patient under dmr_years {self.dmr_years}",
                e.min_dmr_years,
                _NO_PATIENT,
            )
        # A patient needs min_dmr_years of deep response after MIN_YEARS_TO_DMR of TKI.
        if lognormal_mass(self.tki_years, e.min_tki_years_effective) < MIN_ELIGIBLE_MASS:
            raise c.ConfigError(
                "eligibility.min_dmr_years",
                f"leaves no patient: a deep response starts at least {MIN_YEARS_TO_DMR:g} "
                f"year into the TKI, and tki_years is {self.tki_years}",
                e.min_dmr_years,
                _NO_PATIENT,
            )
        floor = DEPTHS[e.min_depth]
        if sum(v for k, v in self.depth_shares.items() if DEPTHS[k] >= floor) <= 0:
            raise c.ConfigError(
                "eligibility.min_depth",
                f"leaves no patient under depth_shares {self.depth_shares}",
                e.min_depth,
                _NO_PATIENT,
            )
        age_mass = normal_mass(
            self.age_mean_years, self.age_sd_years, e.min_age_years, e.max_age_years
        )
        if age_mass < MIN_ELIGIBLE_MASS:
            raise c.ConfigError(
                "eligibility.min_age_years",
                f"with max_age_years {e.max_age_years:g} leaves no patient under "
                f"age ~ Normal({self.age_mean_years:g}, {self.age_sd_years:g})",
                e.min_age_years,
                _NO_PATIENT,
            )
