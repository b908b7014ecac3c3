"""Parameters shared by the disease models (each model's own type lives in its module)."""

from dataclasses import dataclass
from typing import Any

from tfrsim import checks as c

#: Loss of major molecular response: BCR-ABL1 IS above 0.1 % (ross2018_enestfreedom).
MMR_PCT: float = 0.1


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class CovariateEffects:
    """Log-linear covariate effects shared by the disease models.

    A coefficient multiplies the covariate in a linear predictor
    ``eta = b_int*[Sokal intermediate] + b_high*[Sokal high]
    + b_tki*(tki_years - ref) + b_dmr*(dmr_years - ref)
    + b_ifn*[prior IFN] + b_male*[male] + b_nil*[nilotinib] + b_das*[dasatinib]
    + b_depth*(depth_log - depth_ref_log) + b_dbl*log2(tki_years / tki_ref_years)``;
    Sokal low, the reference durations, no prior IFN, female, imatinib and the
    reference depth define ``eta = 0``.

    Parameters
    ----------
    sokal_intermediate, sokal_high : float
        Effect of Sokal intermediate / high versus low.
    tki_per_year, dmr_per_year : float
        Effect per year of TKI / deep molecular response (1/year).
    prior_ifn, male : float
        Effect of prior interferon, of male sex.
    tki_ref_years, dmr_ref_years : float
        Reference durations (covariate centring, years).
    nilotinib, dasatinib : float, default 0
        Effect of having stopped nilotinib / dasatinib rather than imatinib.
        ASSUMPTION: 0. Not calibrated: the calibration trials all stopped imatinib.
    depth_per_log : float, default 0
        Effect per log10 of molecular response at stop (MR4 = 4, MR4.5 = 4.5, MR5 = 5);
        negative: deeper responses relapse less. 0 (no depth effect) unless a model
        sets it (conf/model/immune.yaml cites its source).
    depth_ref_log : float, default 4.5
        Reference depth (MR4.5; covariate centring, log10 reduction).
    tki_per_doubling : float, default 0
        Effect per doubling of the TKI duration (``log2(tki_years / tki_ref_years)``):
        a duration effect that shrinks per year as treatment lengthens, the form that
        reconciles the Spanish < 5 y vs >= 5 y contrast with EURO-SKI's smaller
        per-year gain around 7 years (docs/model.md). 0 unless a model sets it; a
        model may use it instead of, or beside, ``tki_per_year``.
    """

    sokal_intermediate: float
    sokal_high: float
    tki_per_year: float
    dmr_per_year: float
    prior_ifn: float
    male: float
    tki_ref_years: float
    dmr_ref_years: float
    nilotinib: float = 0.0
    dasatinib: float = 0.0
    depth_per_log: float = 0.0
    depth_ref_log: float = 4.5
    tki_per_doubling: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "sokal_intermediate",
            "sokal_high",
            "tki_per_year",
            "dmr_per_year",
            "prior_ifn",
            "male",
            "nilotinib",
            "dasatinib",
            "depth_per_log",
            "tki_per_doubling",
        ):
            _set(self, name, c.finite(name, getattr(self, name)))
        for name in ("tki_ref_years", "dmr_ref_years"):
            _set(self, name, c.non_negative(name, getattr(self, name), "years"))
        _set(self, "depth_ref_log", c.positive("depth_ref_log", self.depth_ref_log, "log10"))
        if self.tki_per_doubling and self.tki_ref_years <= 0:
            raise c.ConfigError(
                "tki_ref_years", "must be positive when tki_per_doubling is set", self.tki_ref_years
            )


def check_course_levels(params: Any) -> None:
    """Checks shared by every model that draws a BCR-ABL course.

    ``params`` has ``initial_pct``, ``residual_median_pct``, ``residual_sigma`` and
    ``plateau_pct`` (all % IS but the log-scale SD); values are normalised to floats.
    """
    _set(
        params,
        "initial_pct",
        c.in_range(
            "initial_pct",
            params.initial_pct,
            0.0,
            MMR_PCT,
            "percent IS",
            "a clone must start below MMR (0.1 % IS)",
        ),
    )
    plateau = c.finite("plateau_pct", params.plateau_pct)
    if plateau <= MMR_PCT:
        raise c.ConfigError("plateau_pct", f"must exceed MMR ({MMR_PCT} % IS)", plateau)
    _set(params, "plateau_pct", plateau)
    _set(
        params,
        "residual_median_pct",
        c.in_range("residual_median_pct", params.residual_median_pct, 0.0, 100.0, "percent IS"),
    )
    _set(params, "residual_sigma", c.non_negative("residual_sigma", params.residual_sigma))
