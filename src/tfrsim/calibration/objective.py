"""The calibration objective: simulate every trial, compare with what was published.

Each trial is simulated with its own cohort, schedule, assay, rule and follow-up (its
``conf/trial/*.yaml``), with follow-up extended to the last published month, from a
fixed seed: common random numbers, so that between two evaluations only the model
parameters change and the objective moves smoothly.

Objective = for each trial, z' R^-1 z over its milestones, z = (simulated - published)
            / SE and R the correlation of Kaplan-Meier estimates of one cohort at
            those months (:func:`milestone_correlation`); with R = I this is the sum of
            z^2, which treats five STIM1 milestones of the same 100 patients as five
            independent studies and makes every interval too narrow
          + ((STIM1 median relapse month - 2.5) / 0.5)^2
          + hinge penalties for the TWISTER timing facts (late and early shares)
          + optional extra targets (``extra_targets``):
            ``fluctuation`` ((share of STIM2 non-relapsers with a positive test - 1/3)
            / SE)^2 (stim2_ash2013 via DESIGN §4, approximate) and ``restart_mix`` the
            binomial deviance of 12 of 64 rule-triggered restarts without loss of MMR
            (spain2018) at the simulated share of STIM-rule events without latent MMR
            loss (STIM2's and STIM1's after its protocol amendment, pooled;
            two-sided, or charged only below 12/64 when read as a lower bound:
            :mod:`tfrsim.calibration.targets`)
          + Gaussian priors on fitted covariate effects,
i.e. minus twice a log-likelihood of the published summaries. Any registered model
can be fitted: its fittable parameters are read from its parameter dataclass
(:func:`fittable`). ``leave_out`` drops one trial (its milestones, timing facts and
extra targets) for leave-one-trial-out validation.
A term that cannot be computed (NaN) adds :data:`NAN_TERM_PENALTY` instead of being
dropped.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from tfrsim.calibration.statistics import TrialStatistics, trial_statistics
from tfrsim.calibration.targets import Targets
from tfrsim.checks import ConfigError
from tfrsim.disease.course import tki_doubling_term
from tfrsim.disease.registry import MODELS
from tfrsim.execution import simulate
from tfrsim.study import StudyParams

#: Parameters of the clonal model the calibration can fit (positive, log scale); every
#: model's own list comes from its parameter dataclass (:func:`fittable`).
FITTABLE: tuple[str, ...] = (
    "theta0",
    "latency_rate_per_month",
    "latency_sigma",
    "growth_rate_per_month",
    "growth_sigma",
    "residual_median_pct",
    "residual_sigma",
)
#: Extra targets beyond the milestones and timing facts (module docstring).
EXTRA_TARGETS: tuple[str, ...] = ("fluctuation", "restart_mix", "duration_gain")
#: Covariate effects that may be fitted (raw scale), each with a Gaussian prior from a
#: published estimate that enters the objective as ((value - mean) / sd)^2.
#: - prior_ifn: prior IFN vs none, sHR 0.53 [0.28, 1.01] (Hernandez-Boluda, Blood
#:   Cancer J 2018, univariate): mean log(0.53), sd (log 1.01 - log 0.28) / 3.92.
#: - tki_per_year: EURO-SKI, +2-3 points of RFS per extra year (euroski_ashcn),
#:   i.e. -0.07 to -0.10 per year at S ~ 0.5; the Spanish series' TKI < 5 y vs >= 5 y
#:   sHR 2.59 [1.33, 5.01] (spain2018) is about -0.27 per year for groups ~3.5 years
#:   apart. Prior -0.15 with sd 0.07 covers both within 2 sd (ASSUMPTION).
#: - dmr_per_year: time in MR4.5 < 4 y vs >= 4 y sHR 2.06 [1.27, 3.35] (spain2018) over
#:   an ASSUMED 3.5-year separation of the groups: -0.21 per year, sd 0.071.
#: - depth_per_log: ENESTfreedom 96-week TFR 50.6 % (stable MR4.5) vs 35.0 % (not;
#:   ross2018_enestfreedom): -ln S = 0.681 vs 1.050, log ratio 0.433 over an ASSUMED
#:   0.75-log depth gap: -0.58 per log10, sd 0.40 (nilotinib, not imatinib).
#: - tki_per_doubling (the same two sources on the doubling scale): the Spanish
#:   < 5 y vs >= 5 y sHR 2.59 [1.33, 5.01] over groups ASSUMED one doubling apart
#:   (~3.7 vs ~7.5 years) is -0.95 per doubling, sd 0.34; EURO-SKI's 2-3 points per
#:   year (-0.07 to -0.10 per year, above) at ~7 years (ASSUMPTION) is
#:   -0.07..-0.10 x 7 x ln 2 = -0.34 to -0.49 per doubling. Prior -0.6 with sd 0.25
#:   puts both within 1.5 sd (ASSUMPTION). On the linear scale the two sources are
#:   3x apart (-0.27 vs -0.085 per year); a doubling-scale effect shrinks per year as
#:   treatment lengthens, which is what they show together.
EFFECT_PRIORS: dict[str, tuple[float, float]] = {
    "prior_ifn": (float(np.log(0.53)), float((np.log(1.01) - np.log(0.28)) / 3.92)),
    "tki_per_year": (-0.15, 0.07),
    "dmr_per_year": (-0.21, 0.071),
    "depth_per_log": (-0.58, 0.40),
    "tki_per_doubling": (-0.6, 0.25),
}
#: Source key of each prior (tfrsim.reference).
PRIOR_SOURCES: dict[str, str] = {
    "prior_ifn": "spain2018",
    "tki_per_year": "euroski_ashcn, spain2018",
    "dmr_per_year": "spain2018",
    "depth_per_log": "ross2018_enestfreedom",
    "tki_per_doubling": "euroski_ashcn, spain2018",
}
#: Hinge scales of the TWISTER timing penalties (share units); a 1-SE-like softness.
LATE_SHARE_SCALE = 0.03
EARLY_SHARE_SCALE = 0.05
#: Largest correlation between two milestones of one trial (ASSUMPTION: 0.99). Two
#: published values equal to the last digit would otherwise be perfectly correlated and
#: R singular; censoring makes real correlations smaller than the uncensored formula.
MAX_MILESTONE_CORRELATION = 0.99
#: What one term that cannot be computed adds to the objective (e.g. the STIM1 median
#: relapse month when no simulated patient relapses): large and finite, so that the
#: optimiser moves away from such parameters. A NaN term is never dropped.
NAN_TERM_PENALTY = 1e6


def milestone_correlation(survival: NDArray[np.float64]) -> NDArray[np.float64]:
    """Correlation of one cohort's survival estimates at increasing months.

    Parameters
    ----------
    survival : float array, shape (k,)
        Survival at the milestones, in increasing order of month (published values).

    Returns
    -------
    numpy.ndarray, shape (k, k)
        ``R[s, t] = sqrt(g(s) / g(t))`` for ``s <= t``, with ``g = (1 - S) / S``,
        capped at :data:`MAX_MILESTONE_CORRELATION` off the diagonal.

    Notes
    -----
    Without censoring the empirical survival function of n patients has
    ``Var S(t) = S(t)(1 - S(t)) / n`` and, for s <= t (everyone event-free at t is
    event-free at s), ``Cov(S(s), S(t)) = S(t)(1 - S(s)) / n``; the correlation is
    ``sqrt(S(t)(1 - S(s)) / (S(s)(1 - S(t))))``, i.e. the formula above. It is also
    Greenwood's ``sqrt(G(s) / G(t))`` in that case. Values are clipped to [0.02, 0.98]
    and ``g`` made non-decreasing (milestones from different reports need not be
    monotone).
    """
    s = np.clip(np.asarray(survival, dtype=float), 0.02, 0.98)
    g = np.maximum.accumulate((1.0 - s) / s)
    r = np.sqrt(np.minimum.outer(g, g) / np.maximum.outer(g, g))
    r = np.minimum(r, MAX_MILESTONE_CORRELATION)
    np.fill_diagonal(r, 1.0)
    return np.asarray(r, dtype=float)


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


def model_name_of(model: Any) -> str:
    """Registered name of the model whose parameters ``model`` holds."""
    for name, registered in MODELS.items():
        if type(model) is registered.params_type:
            return name
    raise TypeError(f"no registered model takes {type(model).__name__}")


def with_model(design: StudyParams, model: Any) -> StudyParams:
    """``design`` simulating ``model`` (any registered model's parameters)."""
    return dataclasses.replace(design, model_name=model_name_of(model), model=model)


def _is_probability(name: str) -> bool:
    return name.endswith(("_probability", "_fraction"))


def _accepts(model: Any, name: str, value: float) -> bool:
    try:
        dataclasses.replace(model, **{name: value})
    except (ConfigError, ValueError):
        return False
    return True


def search_scale(model: Any, name: str) -> str:
    """``"raw"`` (effects, unconstrained), ``"logit"`` (probabilities) or ``"log"``.

    A parameter whose dataclass rejects a negative value is positive: log scale.
    """
    if name.startswith("effects.") or _accepts(model, name, -1.0):
        return "raw"
    return "logit" if _is_probability(name) else "log"


def fittable(model: Any) -> tuple[str, ...]:
    """Parameters of ``model`` the calibration may fit.

    Every float field of the model's parameter dataclass (but the plateau, which only
    keeps trajectories finite) and ``effects.NAME`` for every covariate effect (not the
    reference values used for centring).
    """
    base = [
        f.name
        for f in dataclasses.fields(model)
        if f.name not in ("effects", "plateau_pct") and isinstance(getattr(model, f.name), float)
    ]
    effects = [
        f"effects.{f.name}"
        for f in dataclasses.fields(model.effects)
        if not f.name.endswith(("_ref_years", "_ref_log"))
    ]
    return (*base, *effects)


def with_parameters(model: Any, names: Sequence[str], values: NDArray[np.float64]) -> Any:
    """``model`` with the named parameters set from search-scale ``values``.

    Positive parameters are searched on the log scale, probabilities on the logit
    scale, ``effects.NAME`` on their own scale (:func:`search_scale`).
    """
    base: dict[str, float] = {}
    effects: dict[str, float] = {}
    for name, value in zip(names, values, strict=True):
        scale = search_scale(model, name)
        if name.startswith("effects."):
            effects[name.removeprefix("effects.")] = float(value)
        elif scale == "log":
            base[name] = float(np.exp(value))
        elif scale == "logit":
            base[name] = float(special.expit(value))
        else:
            base[name] = float(value)
    return dataclasses.replace(model, effects=dataclasses.replace(model.effects, **effects), **base)


def natural_value(model: Any, name: str, value: float) -> float:
    """A search-scale value of ``name`` on its natural scale."""
    scale = search_scale(model, name)
    if scale == "log":
        return float(np.exp(value))
    if scale == "logit":
        return float(special.expit(value))
    return float(value)


def search_value(model: Any, name: str) -> float:
    """Current value of a fitted parameter on its search scale."""
    if name.startswith("effects."):
        return float(getattr(model.effects, name.removeprefix("effects.")))
    value = float(getattr(model, name))
    scale = search_scale(model, name)
    if scale == "log":
        return float(np.log(value))
    if scale == "logit":
        return float(special.logit(value))
    return value


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the objective.

    Attributes
    ----------
    objective : float
        Total (see module docstring).
    residuals : pandas.DataFrame
        One row per term: trial, quantity, month, published, simulated, se, residual
        (z), term (its contribution to the objective).
    statistics : dict
        Trial -> :class:`TrialStatistics`.
    """

    objective: float
    residuals: pd.DataFrame
    statistics: dict[str, TrialStatistics]


class Objective:
    """Callable objective over search-scale parameters, with fixed trials and seeds.

    Parameters
    ----------
    targets : Targets
    model : parameters of any registered model
        Starting model; parameters not fitted keep these values.
    names : sequence of str
        Parameters fitted (a subset of :func:`fittable` of ``model``).
    n_per_trial : int
        Simulated patients per trial.
    seed : int
        Seed of every trial (common random numbers).
    designs : mapping of str to StudyParams
        Each target trial's design (cohort, schedule, assay, rule, follow-up), e.g.
        from :func:`tfrsim.config.compose.trial_designs`; the objective never composes
        a configuration itself.
    extra_targets : sequence of str, default ()
        Any of :data:`EXTRA_TARGETS`.
    leave_out : str or None, default None
        A trial left out of the fit (leave-one-trial-out validation).
    correlated : bool, default True
        Score each trial's milestones jointly with :func:`milestone_correlation`;
        False treats them as independent (the objective before December 2026, kept
        for comparison in the honesty check).
    """

    def __init__(
        self,
        targets: Targets,
        model: Any,
        names: Sequence[str],
        n_per_trial: int,
        seed: int,
        designs: Mapping[str, StudyParams],
        extra_targets: Sequence[str] = (),
        leave_out: str | None = None,
        correlated: bool = True,
    ) -> None:
        valid = fittable(model)
        unknown = sorted(set(names) - set(valid))
        if unknown:
            raise ValueError(f"cannot fit {unknown}; fittable parameters: {list(valid)}")
        bad = sorted(set(extra_targets) - set(EXTRA_TARGETS))
        if bad:
            raise ValueError(f"unknown extra targets {bad}; valid: {list(EXTRA_TARGETS)}")
        self.targets = targets
        self.model = model
        self.names = tuple(names)
        self.extra_targets = tuple(extra_targets)
        self.leave_out = leave_out
        # Recorded in the provenance of posterior draws sampled on this objective.
        self.n_per_trial = int(n_per_trial)
        self.seed = int(seed)
        needed = sorted({m.trial for m in targets.milestones} - {leave_out})
        missing = [t for t in needed if t not in designs]
        if missing:
            raise ValueError(f"no design given for target trial(s) {missing}")
        self.designs = dict(designs)
        self.trials = {
            t: trial_params(
                with_model(designs[t], model), n_per_trial, seed, max(targets.months(t) or [0.0])
            )
            for t in needed
        }
        # Per trial: its milestones' rows in the residual table (which lists the
        # milestones of the simulated trials first, in targets order), in month order,
        # and the inverse Cholesky factor of their correlation (w = L^-1 z has
        # independent unit-variance entries, so sum(w^2) = z' R^-1 z).
        kept = [m for m in targets.milestones if m.trial in self.trials]
        self._whiten: list[tuple[NDArray[np.intp], NDArray[np.float64]]] = []
        for t in needed:
            rows = sorted(
                (i for i, m in enumerate(kept) if m.trial == t), key=lambda i: kept[i].month
            )
            published = np.array([kept[i].survival for i in rows])
            r = milestone_correlation(published) if correlated else np.eye(len(rows))
            inverse = np.linalg.inv(np.linalg.cholesky(r))
            self._whiten.append((np.asarray(rows, dtype=np.intp), inverse))
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
                rule_from_calendar_month=params.monitoring.amendment.calendar_month,
            )
        rows = []
        for m in self.targets.milestones:
            if m.trial not in stats:
                continue
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
        f = self.targets.fluctuation
        if "fluctuation" in self.extra_targets and f.trial in stats:
            rows.append(
                (
                    f.trial,
                    "nonrelapsers_with_positive",
                    np.nan,
                    f.share,
                    stats[f.trial].nonrelapsers_with_positive,
                    f.se,
                )
            )
        for name in self.names:
            effect = name.removeprefix("effects.")
            if name.startswith("effects.") and effect in EFFECT_PRIORS:
                mean, sd = EFFECT_PRIORS[effect]
                rows.append(("prior", name, np.nan, mean, getattr(model.effects, effect), sd))
        table = pd.DataFrame(
            rows, columns=["trial", "quantity", "month", "published", "simulated", "se"]
        )
        table["residual"] = (table["simulated"] - table["published"]) / table["se"]
        table["term"] = table["residual"] ** 2
        # Each trial's milestones scored jointly (whitened).
        z = table["residual"].to_numpy(dtype=float)
        terms = table["term"].to_numpy(dtype=float).copy()
        for rows_of_trial, inverse in self._whiten:
            terms[rows_of_trial] = (inverse @ z[rows_of_trial]) ** 2
        table["term"] = terms
        extra = []
        if "twister" in stats:
            late = stats["twister"].share_relapses_after[t.twister_late_after_month]
            early = stats["twister"].share_relapses_by[t.twister_early_by_month]
            extra.append(
                (
                    "twister",
                    "late_share_hinge",
                    t.twister_late_after_month,
                    t.twister_max_late_share,
                    late,
                    LATE_SHARE_SCALE,
                    np.nan,
                    (max(0.0, late - t.twister_max_late_share) / LATE_SHARE_SCALE) ** 2,
                )
            )
            extra.append(
                (
                    "twister",
                    "early_share_hinge",
                    t.twister_early_by_month,
                    t.twister_min_early_share,
                    early,
                    EARLY_SHARE_SCALE,
                    np.nan,
                    (max(0.0, t.twister_min_early_share - early) / EARLY_SHARE_SCALE) ** 2,
                )
            )
        r = self.targets.restart_mix
        pooled = [stats[x] for x in r.trials if x in stats]
        if "restart_mix" in self.extra_targets and pooled:
            k = sum(s.events_without_mmr_loss for s in pooled)
            n = sum(s.rule_events for s in pooled)
            share = float(np.clip(k / max(n, 1), 1e-6, 1 - 1e-6))
            charged = not (r.one_sided and share >= r.share)
            extra.append(
                (
                    r.source,
                    "restart_share_no_mmr_loss",
                    np.nan,
                    r.share,
                    share,
                    np.nan,
                    np.nan,
                    binomial_deviance(r.without_mmr_loss, r.restarts, share) if charged else 0.0,
                )
            )
        if "duration_gain" in self.extra_targets:
            g = self.targets.duration_gain
            gain = duration_gain(model, g.month, g.from_years)
            extra.append(
                (
                    g.source,
                    "mrfs_gain_per_imatinib_year",
                    g.month,
                    g.gain,
                    gain,
                    g.se,
                    (gain - g.gain) / g.se,
                    ((gain - g.gain) / g.se) ** 2,
                )
            )
        if extra:
            table = pd.concat(
                [table, pd.DataFrame(extra, columns=table.columns)], ignore_index=True
            )
        # A term that cannot be computed is a large finite penalty, never dropped.
        terms = table["term"].to_numpy(dtype=float)
        total = float(np.where(np.isnan(terms), NAN_TERM_PENALTY, terms).sum())
        return Evaluation(objective=total, residuals=table, statistics=stats)

    def __call__(self, log_values: NDArray[np.float64]) -> float:
        return self.evaluate(np.asarray(log_values, dtype=float)).objective


def duration_gain(model: Any, month: float, from_years: float) -> float:
    """Latent MMR-loss-free survival at ``month`` gained by one more year of imatinib.

    From ``from_years`` to ``from_years + 1`` years, every other covariate at its
    reference, on the model's closed form (:attr:`DiseaseModel.survival`); NaN for a
    model without one (the objective then charges :data:`NAN_TERM_PENALTY`).
    """
    survival = MODELS[model_name_of(model)].survival
    if survival is None:
        return float("nan")
    e = model.effects
    years = np.array([from_years, from_years + 1.0])
    eta = e.tki_per_year * (years - e.tki_ref_years)
    if e.tki_per_doubling:
        eta = eta + tki_doubling_term(e, years)
    s = np.asarray(survival(np.full(2, month), model, eta), dtype=float)
    return float(s[1] - s[0])


def binomial_deviance(k: int, n: int, p: float) -> float:
    """``2 [k log(k / (n p)) + (n - k) log((n - k) / (n (1 - p)))]``: 0 at ``p = k / n``."""
    hat = k / n
    out = 0.0
    if k:
        out += k * np.log(hat / p)
    if n - k:
        out += (n - k) * np.log((1 - hat) / (1 - p))
    return float(2 * out)
