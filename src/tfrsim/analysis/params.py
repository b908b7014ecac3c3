"""Parameters of the analysis stage."""

from dataclasses import dataclass, field
from typing import Any

from tfrsim import checks as c

#: Covariates the Cox model accepts (columns of ``patients.parquet``);
#: ``sokal_group`` expands into indicators of intermediate and high versus low.
COX_COVARIATES: tuple[str, ...] = (
    "sokal_group",
    "tki_years",
    "dmr_years",
    "prior_ifn",
    "male",
    "age_years",
    "depth_log",
    "sokal_score",
    "elts_score",
)
#: Analyses run when ``analysis.methods`` is not set.
DEFAULT_METHODS: tuple[str, ...] = ("km", "logrank", "cox", "observation")


def _months(field_name: str, values: tuple[float, ...]) -> tuple[float, ...]:
    out = tuple(c.non_negative(f"{field_name}[{i}]", v, "months") for i, v in enumerate(values))
    if list(out) != sorted(set(out)):
        raise c.ConfigError(field_name, "must be strictly increasing", list(values))
    return out


@dataclass(frozen=True)
class AnalysisParams:
    """What the analysis stage computes.

    Parameters
    ----------
    milestones_months : tuple of float
        Months at which MRFS is reported with its CI.
    at_risk_months : tuple of float
        Months of the at-risk table.
    cox_covariates : tuple of str
        Covariates of the Cox model (each at most once); ``"sokal_group"`` expands to
        indicators of intermediate and high versus low.
    alpha : float
        1 - confidence level of every interval.
    ph_test : bool
        Whether to run the proportional-hazards test.
    methods : tuple of str
        Registered analyses to run, in order (see :mod:`tfrsim.analysis.registry`).
    options : dict
        Settings of individual analyses, keyed by analysis name (free-form; each
        analysis validates its own).
    """

    milestones_months: tuple[float, ...]
    at_risk_months: tuple[float, ...]
    cox_covariates: tuple[str, ...]
    alpha: float = 0.05
    ph_test: bool = True
    methods: tuple[str, ...] = DEFAULT_METHODS
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from tfrsim.analysis.registry import ANALYSES  # the registry imports this module

        object.__setattr__(
            self, "milestones_months", _months("milestones_months", self.milestones_months)
        )
        object.__setattr__(self, "at_risk_months", _months("at_risk_months", self.at_risk_months))
        seen: set[str] = set()
        for i, name in enumerate(self.cox_covariates):
            c.one_of(f"cox_covariates[{i}]", name, COX_COVARIATES)
            if name in seen:
                raise c.ConfigError(f"cox_covariates[{i}]", "must not repeat a covariate", name)
            seen.add(name)
        object.__setattr__(
            self,
            "alpha",
            c.in_range("alpha", self.alpha, 0.0, 1.0, "(1 - confidence level)"),
        )
        for i, name in enumerate(self.methods):
            c.one_of(f"methods[{i}]", name, ANALYSES)
        if len(set(self.methods)) != len(self.methods):
            raise c.ConfigError("methods", "must not repeat an analysis", list(self.methods))
        for key in self.options:
            c.one_of(f"options.{key}", key, ANALYSES)
