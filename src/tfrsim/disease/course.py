"""The latent disease course after stopping, shared by every disease model."""

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tfrsim.cohort.sample import Cohort
from tfrsim.disease.params import CovariateEffects


@dataclass(frozen=True)
class Course:
    """Latent BCR-ABL course of ``n`` patients after stopping the TKI.

    A patient's true BCR-ABL1 (% IS) at month ``t`` is its persistent residual level
    plus the sum of its regrowing clones; clone ``j`` is 0 before its onset and
    ``min(initial_pct * exp(rate_j * (t - onset_j)), plateau_pct)`` after.

    Attributes
    ----------
    relapse_month : float, shape (n,)
        Latent relapse month (first crossing of MMR by a clone); NaN if the patient
        never relapses (operational cure).
    n_clones : int64, shape (n,)
        Number of regrowing clones.
    residual_pct : float, shape (n,)
        Persistent, non-growing residual disease (% IS).
    clone_patient : int64, shape (m,)
        Patient index (0..n-1, within this course) of each clone, sorted.
    clone_onset_month : float, shape (m,)
        Month the clone leaves quiescence and starts growing.
    clone_rate_per_month : float, shape (m,)
        Exponential growth rate of the clone (1/month).
    initial_pct, plateau_pct : float
        Clone level at onset and saturation level (% IS).
    clone_ceiling_pct : float, shape (m,), optional
        Immune-control ceiling of the clone's patient (% IS; ``inf`` if the patient is
        not controlled). ``None`` for models without immune control.
    clone_escape_month : float, shape (m,), optional
        Month the clone's patient escapes immune control (``inf`` if never
        controlled). Until then a clone that has reached the ceiling is held there,
        and the patient's not-yet-escaped clones together are capped at the ceiling;
        afterwards each clone grows again from where it was held.
    clone_cycle_month : float, shape (m,), optional
        Month the clone's patient's controlled burden first reaches its ceiling
        (``inf`` if it never does before escape); from then until escape the ceiling
        oscillates (``oscillation_log10``).
    oscillation_log10 : float, default 0
        Depth of the immune oscillation of a controlled patient (log10): from the cycle
        month on, the controlled burden is capped at
        ``c * 10 ** (-A (1 - cos(2 pi (t - T) / P)) / 2)``, falling from the ceiling to
        ``A`` logs below it and back every ``P`` months (Clapp et al. Cancer Res 2015).
        It never raises the burden, so latent MMR-loss and first-crossing times of
        levels below the ceiling are those without oscillation.
    oscillation_period_months : float, default inf
        ``P``.
    """

    relapse_month: NDArray[np.float64]
    n_clones: NDArray[np.int64]
    residual_pct: NDArray[np.float64]
    clone_patient: NDArray[np.int64]
    clone_onset_month: NDArray[np.float64]
    clone_rate_per_month: NDArray[np.float64]
    initial_pct: float
    plateau_pct: float
    clone_ceiling_pct: NDArray[np.float64] | None = None
    clone_escape_month: NDArray[np.float64] | None = None
    clone_cycle_month: NDArray[np.float64] | None = None
    oscillation_log10: float = 0.0
    oscillation_period_months: float = float("inf")

    def __len__(self) -> int:
        return int(self.relapse_month.shape[0])

    def take(self, rows: NDArray[np.intp]) -> "Course":
        """The course of patients ``rows`` (increasing indices), renumbered 0..k-1."""
        keep = np.zeros(len(self), dtype=bool)
        keep[rows] = True
        clones = keep[self.clone_patient]
        renumber = np.cumsum(keep) - 1

        def per_clone(values: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
            return None if values is None else values[clones]

        return dataclasses.replace(
            self,
            relapse_month=self.relapse_month[rows],
            n_clones=self.n_clones[rows],
            residual_pct=self.residual_pct[rows],
            clone_patient=renumber[self.clone_patient[clones]].astype(np.int64),
            clone_onset_month=self.clone_onset_month[clones],
            clone_rate_per_month=self.clone_rate_per_month[clones],
            clone_ceiling_pct=per_clone(self.clone_ceiling_pct),
            clone_escape_month=per_clone(self.clone_escape_month),
            clone_cycle_month=per_clone(self.clone_cycle_month),
        )

    def bcr_abl_pct(self, months: NDArray[np.float64]) -> NDArray[np.float64]:
        """True BCR-ABL1 (% IS) of every patient at the given months.

        Parameters
        ----------
        months : float array, shape (n, v)
            Months after stopping at which to evaluate patient ``i`` (row ``i``);
            NaN entries give NaN.

        Returns
        -------
        float array, shape (n, v)
        """
        # months * 0 keeps NaN where there is no time to evaluate (no test).
        level = self.residual_pct[:, None] + months * 0.0
        if self.clone_patient.size == 0:
            return level
        if self.clone_ceiling_pct is None or self.clone_escape_month is None:
            self._add_free_clones(level, months, slice(None))
            return level
        # Control is per patient, so a patient's clones are all free or all held: the
        # free ones take the cheap path (for them the held path adds exact zeros, so
        # the levels are the same to the bit), the held path runs on the rest only.
        held = np.isfinite(self.clone_ceiling_pct)
        if not held.all():
            self._add_free_clones(level, months, np.flatnonzero(~held))
        if held.any():
            self._add_held_clones(level, months, np.flatnonzero(held))
        return level

    def _grown(
        self,
        rows: NDArray[np.intp] | slice,
        elapsed: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Level of clones ``rows`` after growing for ``elapsed`` months (0 before onset)."""
        # In place, few temporaries (each the size of clones x visits):
        # clone = exp(min(log(initial) + rate * elapsed, log(plateau))) once grown, else 0.
        log_level = self.clone_rate_per_month[rows][:, None] * elapsed
        log_level += np.log(self.initial_pct)
        np.minimum(log_level, np.log(self.plateau_pct), out=log_level)
        clone = np.zeros_like(log_level)
        np.exp(log_level, out=clone, where=elapsed > 0)
        return clone

    def _add_free_clones(
        self,
        level: NDArray[np.float64],
        months: NDArray[np.float64],
        rows: NDArray[np.intp] | slice,
    ) -> None:
        """Add the clones ``rows`` (whole patients' runs), growing freely, to ``level``."""
        patient = self.clone_patient[rows]
        elapsed = months[patient]
        elapsed -= self.clone_onset_month[rows][:, None]
        clone = self._grown(rows, elapsed)
        # Clones are sorted by patient: sum each patient's run of clones at once.
        starts = np.flatnonzero(np.r_[True, np.diff(patient) != 0])
        level[patient[starts]] += _run_sums(clone, starts)

    def _add_held_clones(
        self, level: NDArray[np.float64], months: NDArray[np.float64], rows: NDArray[np.intp]
    ) -> None:
        """Add the clones ``rows`` of controlled patients to ``level``: the controlled
        (not yet escaped) burden is bounded by the patient's ceiling (one per patient),
        escaped clones add on top."""
        assert self.clone_ceiling_pct is not None
        assert self.clone_escape_month is not None
        patient = self.clone_patient[rows]
        clone_months = months[patient]
        elapsed = clone_months - self.clone_onset_month[rows][:, None]
        elapsed = elapsed - self._held_months(clone_months, rows)
        clone = self._grown(rows, elapsed)
        starts = np.flatnonzero(np.r_[True, np.diff(patient) != 0])
        owners = patient[starts]
        with np.errstate(invalid="ignore"):
            under = clone_months < self.clone_escape_month[rows][:, None]
        controlled = _run_sums(np.where(under, clone, 0.0), starts)
        ceiling = self.clone_ceiling_pct[rows][starts][:, None]
        if self.oscillation_log10 > 0 and self.clone_cycle_month is not None:
            cycle = self.clone_cycle_month[rows][starts]
            ceiling = ceiling * self._oscillation(months[owners], cycle)
        level[owners] += _run_sums(np.where(under, 0.0, clone), starts)
        level[owners] += np.minimum(controlled, ceiling)

    def _oscillation(
        self, months: NDArray[np.float64], cycle_month: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Factor (<= 1) on the ceiling at ``months`` (k, v) of patients whose cycle
        starts at ``cycle_month`` (k,): 1 before it, a cosine in log10 after."""
        with np.errstate(invalid="ignore"):
            since = np.maximum(months - cycle_month[:, None], 0.0)
        since = np.where(np.isfinite(since), since, 0.0)
        phase = since * (2.0 * np.pi / self.oscillation_period_months)
        np.cos(phase, out=phase)
        # 10 ** (-A (1 - cos) / 2) as exp(ln 10 * ...): several times faster than a power.
        phase -= 1.0
        phase *= 0.5 * self.oscillation_log10 * np.log(10.0)
        return np.exp(phase, out=phase)

    def _held_months(
        self, clone_months: NDArray[np.float64], rows: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        """Months each clone of ``rows`` (clones of controlled patients: finite
        ceilings) has spent held at its ceiling by ``clone_months`` (m, v)."""
        assert self.clone_ceiling_pct is not None
        assert self.clone_escape_month is not None
        reach = (
            self.clone_onset_month[rows]
            + np.log(self.clone_ceiling_pct[rows] / self.initial_pct)
            / (self.clone_rate_per_month[rows])
        )
        # Control ends at the escape month; a clone reaching its ceiling later is not held.
        hold = np.maximum(self.clone_escape_month[rows] - reach, 0.0)
        return np.clip(clone_months - reach[:, None], 0.0, hold[:, None])


def _run_sums(values: NDArray[np.float64], starts: NDArray[np.intp]) -> NDArray[np.float64]:
    """``np.add.reduceat(values, starts, axis=0)`` (runs of rows from each start to the
    next), bit for bit, with one vectorised addition per position in a run instead of
    one reduction per run: runs (a patient's clones) are short and many.

    numpy adds a run as ``first + (sum of the others)``, the others left to right when
    there are fewer than 8 of them (pairwise beyond, so longer runs go to ``reduceat``).
    """
    n_rows = values.shape[0]
    lengths = np.diff(np.r_[starts, n_rows])
    total = values[starts]
    short = np.flatnonzero((lengths >= 2) & (lengths <= _SEQUENTIAL_RUN))
    if short.size:
        first, size = starts[short], lengths[short]
        others = values[first + 1]
        for k in range(2, int(size.max())):
            more = np.flatnonzero(size > k)
            others[more] += values[first[more] + k]
        total[short] += others
    long = np.flatnonzero(lengths > _SEQUENTIAL_RUN)
    if long.size:
        size = lengths[long]
        offsets = np.r_[0, np.cumsum(size)[:-1]]
        rows = np.repeat(starts[long] - offsets, size) + np.arange(int(size.sum()))
        total[long] = np.add.reduceat(values[rows], offsets, axis=0)
    return total


#: Longest run whose sum numpy's reduction adds left to right (1 + 7 others).
_SEQUENTIAL_RUN: int = 8


def linear_predictor(cohort: Cohort, effects: CovariateEffects) -> NDArray[np.float64]:
    """Log relative risk ``eta`` of each patient (0 at the reference covariates)."""
    eta = (
        effects.sokal_intermediate * (cohort.sokal_group == 1)
        + effects.sokal_high * (cohort.sokal_group == 2)
        + effects.tki_per_year * (cohort.tki_years - effects.tki_ref_years)
        + effects.dmr_per_year * (cohort.dmr_years - effects.dmr_ref_years)
        + effects.prior_ifn * cohort.prior_ifn
        + effects.male * cohort.male
        + effects.nilotinib * (cohort.tki == 1)
        + effects.dasatinib * (cohort.tki == 2)
        + effects.depth_per_log * (cohort.depth_log - effects.depth_ref_log)
    )
    if effects.tki_per_doubling:
        # Added only when set: models without it keep their bits and their speed.
        eta = eta + tki_doubling_term(effects, cohort.tki_years)
    return eta


def tki_doubling_term(effects: CovariateEffects, tki_years: ArrayLike) -> NDArray[np.float64]:
    """The per-doubling duration term of ``eta``: ``b_dbl * log2(tki_years / ref)``."""
    years = np.asarray(tki_years, dtype=float)
    return np.asarray(effects.tki_per_doubling * np.log2(years / effects.tki_ref_years))


def residual_levels(
    n: int, median_pct: float, sigma: float, *, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Persistent residual disease (% IS): log-normal across patients."""
    return median_pct * np.exp(sigma * rng.standard_normal(n))


def first_crossing(
    clone_patient: NDArray[np.int64], crossing_month: NDArray[np.float64], n: int
) -> NDArray[np.float64]:
    """Earliest clone crossing per patient (NaN for patients without clones)."""
    out = np.full(n, np.nan)
    if clone_patient.size:
        starts = np.flatnonzero(np.r_[True, np.diff(clone_patient) != 0])
        out[clone_patient[starts]] = np.minimum.reduceat(crossing_month, starts)
    return out
