"""What the calibration fits: published MRFS milestones and relapse-timing facts.

Milestones come from the package's reference data (:mod:`tfrsim.reference`) with
their standard errors (from the published 95 % CI, or binomial at the stated n where
the CI is missing or unconfirmed). Timing facts:

* STIM1 median month of recurrence among relapsers 2.5 (range 1-22; Etienne, J Clin
  Oncol 2017). On a monthly grid a median is only known to about half a month, so its
  SE is taken as 0.5 month (ASSUMPTION).
* TWISTER: no relapse after month 27 among ~22 relapses (Ross, Blood 2013): the share
  of relapses after month 27 must stay at most 12 % (0 of 22 has a one-sided 95 %
  upper bound of 12.7 %).
* TWISTER: "most relapses within 4 months" (Ross, Blood 2013): at least half of the
  relapses by month 4.
"""

from dataclasses import dataclass

from tfrsim.reference import published_mrfs, timing_facts

#: The calibration trials and the SE of STIM1's median relapse month (see above).
CALIBRATION_TRIALS: tuple[str, ...] = ("stim1", "stim2", "twister")
MEDIAN_RELAPSE_SE_MONTHS = 0.5


@dataclass(frozen=True)
class MilestoneTarget:
    """A published MRFS point (probabilities; ``lower``/``upper`` NaN if no CI)."""

    trial: str
    month: float
    survival: float
    se: float
    lower: float
    upper: float
    se_basis: str
    source: str


@dataclass(frozen=True)
class TimingTargets:
    """Relapse-timing facts used in the objective (months, shares)."""

    stim1_median_relapse_month: float
    stim1_median_relapse_se: float
    twister_late_after_month: float
    twister_max_late_share: float
    twister_early_by_month: float
    twister_min_early_share: float


@dataclass(frozen=True)
class Targets:
    """Everything the calibration fits."""

    milestones: tuple[MilestoneTarget, ...]
    timing: TimingTargets

    def months(self, trial: str) -> list[float]:
        """Published milestone months of one trial."""
        return sorted({m.month for m in self.milestones if m.trial == trial})


def load_targets() -> Targets:
    """Read the calibration targets from the packaged reference data."""
    milestones = []
    for trial in CALIBRATION_TRIALS:
        for row in published_mrfs(trial, targets_only=True).to_dict("records"):
            milestones.append(
                MilestoneTarget(
                    trial=trial,
                    month=float(row["month"]),
                    survival=float(row["survival"]),
                    se=float(row["se"]),
                    lower=float(row["lower"]),
                    upper=float(row["upper"]),
                    se_basis=str(row["se_basis"]),
                    source=str(row["source"]),
                )
            )
    stim1 = timing_facts("stim1")["median_relapse_month"]
    twister = timing_facts("twister")
    late = twister["last_relapse_month"]
    return Targets(
        milestones=tuple(milestones),
        timing=TimingTargets(
            stim1_median_relapse_month=float(stim1["value"]),
            stim1_median_relapse_se=MEDIAN_RELAPSE_SE_MONTHS,
            twister_late_after_month=float(late["value"]),
            twister_max_late_share=float(late["acceptance"]["max_share_of_relapses_after"]),
            twister_early_by_month=float(twister["most_relapses_within_months"]["value"]),
            twister_min_early_share=0.5,
        ),
    )
