"""The calibration objective: simulate every trial, compare with what was published.

Each trial is simulated with its own cohort, schedule, assay, rule and follow-up (its
``conf/trial/*.yaml``), with follow-up extended to the last published month, from a
fixed seed: common random numbers, so that between two evaluations only the model
parameters change and the objective moves smoothly.

Objective = sum over milestones of ((simulated - published) / SE)^2
          + ((STIM1 median relapse month - 2.5) / 0.5)^2
          + hinge penalties for the TWISTER timing facts (late and early shares),
i.e. minus twice a Gaussian log-likelihood of the published summaries. A term that
cannot be computed (NaN) adds :data:`NAN_TERM_PENALTY` instead of being dropped.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.calibration.statistics import TrialStatistics, trial_statistics
from tfrsim.calibration.targets import Targets
from tfrsim.disease.clonal import ClonalParams
from tfrsim.execution import simulate
from tfrsim.study import StudyParams

#: Parameters the calibration can fit, all positive and searched on the log scale.
FITTABLE: tuple[str, ...] = (
    "theta0",
    "latency_rate_per_month",
    "latency_sigma",
    "growth_rate_per_month",
    "growth_sigma",
    "residual_median_pct",
    "residual_sigma",
)
#: Covariate effects that may be fitted (raw scale), each with a Gaussian prior from a
#: published estimate that enters the objective as ((value - mean) / sd)^2.
#: - prior_ifn: prior IFN vs none, sHR 0.53 [0.28, 1.01] (Hernandez-Boluda, Blood
#:   Cancer J 2018, univariate): mean log(0.53), sd (log 1.01 - log 0.28) / 3.92.
#: - tki_per_year: EURO-SKI, +2-3 points of RFS per extra year (euroski_ashcn),
#:   i.e. -0.07 to -0.10 per year at S ~ 0.5; the Spanish series' TKI < 5 y vs >= 5 y
#:   sHR 2.59 [1.33, 5.01] (spain2018) is about -0.27 per year for groups ~3.5 years
#:   apart. Prior -0.15 with sd 0.07 covers both within 2 sd (ASSUMPTION).
EFFECT_PRIORS: dict[str, tuple[float, float]] = {
    "prior_ifn": (float(np.log(0.53)), float((np.log(1.01) - np.log(0.28)) / 3.92)),
    "tki_per_year": (-0.15, 0.07),
}
#: Hinge scales of the TWISTER timing penalties (share units); a 1-SE-like softness.
LATE_SHARE_SCALE = 0.03
EARLY_SHARE_SCALE = 0.05
#: What one term that cannot be computed adds to the objective (e.g. the STIM1 median
#: relapse month when no simulated patient relapses): large and finite, so that the
#: optimiser moves away from such parameters. A NaN term is never dropped.
NAN_TERM_PENALTY = 1e6


def trial_params(design: StudyParams, n_patients: int, seed: int, last_month: float) -> StudyParams:
    """A trial's design (its validated :class:`StudyParams`) resized to ``n_patients``,
    seeded with ``seed`` and followed at least to ``last_month``."""
    followup = max(design.follow_up.followup_months, last_month)
    return dataclasses.replace(
        design,
        seed=seed,
        cohort=dataclasses.replace(design.cohort, n_patients=n_patients),
        follow_up=dataclasses.replace(design.follow_up, followup_months=followup),
    )


def with_parameters(
    model: ClonalParams, names: Sequence[str], values: NDArray[np.float64]
) -> ClonalParams:
    """``model`` with the named parameters set from search-scale ``values``.

    Names in :data:`FITTABLE` are searched on the log scale; ``effects.NAME`` (see
    :data:`EFFECT_PRIORS`) on their own scale.
    """
    base: dict[str, float] = {}
    effects: dict[str, float] = {}
    for name, value in zip(names, values, strict=True):
        if name.startswith("effects."):
            effects[name.removeprefix("effects.")] = float(value)
        else:
            base[name] = float(np.exp(value))
    return dataclasses.replace(model, effects=dataclasses.replace(model.effects, **effects), **base)


def search_value(model: ClonalParams, name: str) -> float:
    """Current value of a fitted parameter on its search scale."""
    if name.startswith("effects."):
        return float(getattr(model.effects, name.removeprefix("effects.")))
    return float(np.log(getattr(model, name)))


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the objective.

    Attributes
    ----------
    objective : float
        Total (see module docstring).
    residuals : pandas.DataFrame
        One row per term: trial, quantity, month, published, simulated, se, residual.
    statistics : dict
        Trial -> :class:`TrialStatistics`.
    """

    objective: float
    residuals: pd.DataFrame
    statistics: dict[str, TrialStatistics]


class Objective:
    """Callable objective over log-parameters, with fixed trials and seeds.

    Parameters
    ----------
    targets : Targets
    model : ClonalParams
        Starting model; parameters not fitted keep these values.
    names : sequence of str
        Parameters fitted (a subset of :data:`FITTABLE`).
    n_per_trial : int
        Simulated patients per trial.
    seed : int
        Seed of every trial (common random numbers).
    designs : mapping of str to StudyParams
        Each target trial's design (cohort, schedule, assay, rule, follow-up), e.g.
        from :func:`tfrsim.config.compose.trial_designs`; the objective never composes
        a configuration itself.
    """

    def __init__(
        self,
        targets: Targets,
        model: ClonalParams,
        names: Sequence[str],
        n_per_trial: int,
        seed: int,
        designs: Mapping[str, StudyParams],
    ) -> None:
        valid = [*FITTABLE, *(f"effects.{e}" for e in EFFECT_PRIORS)]
        unknown = sorted(set(names) - set(valid))
        if unknown:
            raise ValueError(f"cannot fit {unknown}; fittable parameters: {valid}")
        self.targets = targets
        self.model = model
        self.names = tuple(names)
        needed = sorted({m.trial for m in targets.milestones})
        missing = [t for t in needed if t not in designs]
        if missing:
            raise ValueError(f"no design given for target trial(s) {missing}")
        self.designs = dict(designs)
        self.trials = {
            t: trial_params(designs[t], n_per_trial, seed, max(targets.months(t) or [0.0]))
            for t in needed
        }
        self.n_evaluations = 0

    def start(self) -> NDArray[np.float64]:
        """Search-scale values of the fitted parameters in the starting model."""
        return np.array([search_value(self.model, n) for n in self.names])

    def evaluate(self, log_values: NDArray[np.float64]) -> Evaluation:
        """Simulate every trial at these parameters and score them."""
        self.n_evaluations += 1
        model = with_parameters(self.model, self.names, log_values)
        t = self.targets.timing
        stats: dict[str, TrialStatistics] = {}
        for trial, params in self.trials.items():
            patients = simulate(dataclasses.replace(params, model=model)).patients
            stats[trial] = trial_statistics(
                patients,
                self.targets.months(trial),
                after=(t.twister_late_after_month,),
                by=(t.twister_early_by_month,),
            )
        rows = []
        for m in self.targets.milestones:
            s = stats[m.trial]
            sim = float(s.survival[np.searchsorted(s.months, m.month)])
            rows.append((m.trial, "mrfs", m.month, m.survival, sim, m.se))
        if "stim1" in stats:
            rows.append(
                (
                    "stim1",
                    "median_relapse_month",
                    np.nan,
                    t.stim1_median_relapse_month,
                    stats["stim1"].median_relapse_month,
                    t.stim1_median_relapse_se,
                )
            )
        for name in self.names:
            if name.startswith("effects."):
                mean, sd = EFFECT_PRIORS[name.removeprefix("effects.")]
                value = getattr(model.effects, name.removeprefix("effects."))
                rows.append(("prior", name, np.nan, mean, value, sd))
        table = pd.DataFrame(
            rows, columns=["trial", "quantity", "month", "published", "simulated", "se"]
        )
        table["residual"] = (table["simulated"] - table["published"]) / table["se"]
        squared = table["residual"].to_numpy(dtype=float) ** 2
        total = float(np.where(np.isnan(squared), NAN_TERM_PENALTY, squared).sum())
        if "twister" in stats:
            late = stats["twister"].share_relapses_after[t.twister_late_after_month]
            early = stats["twister"].share_relapses_by[t.twister_early_by_month]
            total += (max(0.0, late - t.twister_max_late_share) / LATE_SHARE_SCALE) ** 2
            total += (max(0.0, t.twister_min_early_share - early) / EARLY_SHARE_SCALE) ** 2
        return Evaluation(objective=total, residuals=table, statistics=stats)

    def __call__(self, log_values: NDArray[np.float64]) -> float:
        return self.evaluate(np.asarray(log_values, dtype=float)).objective
