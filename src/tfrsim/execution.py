"""Execution of the stage chain: blocks, chunks, threads, sinks, and the analysis.

Patients are simulated in blocks of :data:`tfrsim.random.BLOCK_SIZE`, each with its
own named random streams (:func:`tfrsim.pipeline.simulate_block`), so the per-visit
arrays exist for one block at a time and the result does not depend on how the blocks
are processed. Blocks are grouped into *chunks* of about ``params.chunk_size``
patients: the unit handed to a ``patients_sink`` (e.g. the Parquet writer of
:func:`tfrsim.output.write_study`), after which only the columns the analysis needs
stay in memory. The chunk size changes memory use, never results.
"""

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from tqdm.auto import tqdm

from tfrsim.analysis import (
    AnalysisResult,
    ObservationResult,
    ObservationSummary,
    analyse,
    summarise_observation,
)
from tfrsim.analysis.registry import get_analysis
from tfrsim.pipeline import Simulation, simulate_block
from tfrsim.random import BLOCK_SIZE, blocks
from tfrsim.study import StudyParams

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Columns of ``patients`` kept in memory when the full table goes to a sink: what the
#: analysis, the observation summary, the run summary and the figures read (plus the
#: Cox covariates of the study).
RETAINED_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "sokal_group",
    "relapse_month",
    "n_positive",
    "duration_months",
    "event",
)
#: Receives the full patient table of each chunk, in patient order.
PatientsSink = Callable[[pd.DataFrame], None]


@dataclass(frozen=True)
class StudyResult:
    """One simulated study and its analysis (``patients`` and ``visits`` as in
    :class:`Simulation`).

    Examples
    --------
    >>> result = tfrsim.run_study(tfrsim.load_params(["cohort.n_patients=500"]))  # doctest: +SKIP
    >>> result.summary()          # key estimands, one tidy row each  # doctest: +SKIP
    >>> ax = result.plot()        # Kaplan–Meier by Sokal group  # doctest: +SKIP
    >>> result.save("my_run")     # the files of a ``tfrsim`` run  # doctest: +SKIP
    """

    params: StudyParams
    patients: pd.DataFrame
    visits: pd.DataFrame
    analysis: AnalysisResult

    @property
    def observation(self) -> ObservationSummary:
        """What the monitoring saw (from the ``observation`` analysis when it ran)."""
        output = self.analysis.outputs.get("observation")
        if isinstance(output, ObservationResult):
            return output.summary_
        return summarise_observation(self.patients)

    def summary(self) -> pd.DataFrame:
        """The key estimands: MRFS at the milestones (overall and by Sokal group), the
        log-rank test, Cox hazard ratios and PH tests, and what the monitoring saw.

        Returns
        -------
        pandas.DataFrame
            One tidy row per number, columns
            :data:`~tfrsim.analysis.estimands.ESTIMAND_COLUMNS` (``analysis``,
            ``estimand``, ``group``, ``covariate``, ``month``, ``value``, ``lower``,
            ``upper``, ``p``, ``statistic``); months for times, proportions (0-1) for
            MRFS. The schema of ``summary.json``'s ``estimands`` and of the sweep table.
        """
        return self.analysis.to_frame()

    def plot(self, ax: "Axes | None" = None) -> "Axes":
        """Kaplan–Meier MRFS by Sokal group with the numbers at risk (the run's
        ``figures/km.png``).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure).

        Returns
        -------
        matplotlib.axes.Axes
            The KM panel.
        """
        from tfrsim.plots import plot_km  # matplotlib loads only when a figure is drawn
        from tfrsim.plots.style import trial_title
        from tfrsim.reference import TRIALS, published_for_plot

        name = self.params.trial_name
        outputs = self.analysis.outputs
        return plot_km(
            self.analysis.km,
            ax=ax,
            published=published_for_plot(name) if name in TRIALS else None,
            title=f"{trial_title(name)}: MRFS by Sokal group",
            patients=self.patients,
            logrank=self.analysis.logrank if "logrank" in outputs else None,
        )

    def save(self, folder: str | Path) -> list[Path]:
        """Write the files of a ``tfrsim`` run into ``folder`` (atomically): tables,
        ``patients.parquet``, figures, ``report.html`` and ``summary.json`` last, as
        ``params.output`` asks.

        Parameters
        ----------
        folder : str or Path
            A new or empty folder; tfrsim never overwrites a run.

        Returns
        -------
        list of Path
            The files written.

        Raises
        ------
        tfrsim.output.RunDirNotEmptyError
            If ``folder`` already holds files.
        """
        from tfrsim.output import save_result  # the output layer sits above this one

        return save_result(Path(folder), self)

    def _repr_html_(self) -> str:
        """Jupyter's view: the study in one line and the key estimands as a table."""
        import html

        p = self.params
        head = (
            f"<p><b>tfrsim study</b> {html.escape(p.trial_name)}, "
            f"{html.escape(p.model_name)} model, seed {p.seed}, replicate {p.replicate}: "
            f"{len(self.patients)} patients, {int(self.patients['event'].sum())} relapses "
            f"observed</p>"
        )
        table = self.summary().to_html(index=False, na_rep="", float_format="{:.4g}".format)
        return head + table

    def __repr__(self) -> str:
        p = self.params
        return (
            f"StudyResult(trial={p.trial_name!r}, model={p.model_name!r}, seed={p.seed}, "
            f"replicate={p.replicate}, patients={len(self.patients)}, "
            f"relapses={int(self.patients['event'].sum())})"
        )


def chunk_blocks(params: StudyParams) -> list[list[tuple[int, int, int]]]:
    """Random blocks of the study grouped into chunks of whole blocks.

    A chunk holds ``ceil(params.chunk_size / BLOCK_SIZE)`` blocks (the last one
    fewer), so chunk boundaries always fall on block boundaries.
    """
    parts = blocks(params.cohort.n_patients)
    per_chunk = max(1, -(-params.chunk_size // BLOCK_SIZE))
    return [parts[i : i + per_chunk] for i in range(0, len(parts), per_chunk)]


def simulation_threads() -> int:
    """Threads that simulate blocks side by side: the CPUs this process may use.

    Blocks draw from their own streams, so the result does not depend on it; numpy
    releases the GIL in the heavy array work, so threads scale on a multi-core machine.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _iter_blocks(
    params: StudyParams, *, keep_visits: int | None, progress: bool
) -> Iterator[list[Simulation]]:
    """The blocks of each chunk, simulated by :func:`simulation_threads` threads."""
    chunks = chunk_blocks(params)
    n_blocks = sum(len(chunk) for chunk in chunks)
    threads = min(simulation_threads(), n_blocks)
    # disable=None lets tqdm stay quiet when not on a terminal.
    bar = tqdm(
        total=params.cohort.n_patients,
        desc="simulating",
        unit="patient",
        unit_scale=True,
        disable=None if progress and n_blocks > 1 else True,
    )

    def one(block: tuple[int, int, int]) -> Simulation:
        b, start, stop = block
        return simulate_block(params, b, start, stop, keep_visits)

    with bar, ThreadPoolExecutor(max_workers=threads) as pool:
        for chunk in chunks:
            sims = []
            # map() returns the blocks in order, whichever thread finished first.
            for sim in pool.map(one, chunk) if threads > 1 else map(one, chunk):
                sims.append(sim)
                bar.update(len(sim.patients))
            yield sims


def iter_chunks(
    params: StudyParams, *, keep_visits: int | None = 0, progress: bool = False
) -> Iterator[Simulation]:
    """Simulate the study chunk by chunk (see :func:`chunk_blocks`).

    The blocks of a chunk are simulated by :func:`simulation_threads` threads; memory
    holds the per-visit arrays of that many blocks at a time.

    Yields
    ------
    Simulation
        The patients (and kept tests) of one chunk, in patient order.
    """
    for sims in _iter_blocks(params, keep_visits=keep_visits, progress=progress):
        yield _concat(sims)


def _concat(sims: list[Simulation]) -> Simulation:
    if len(sims) == 1:
        return sims[0]
    return Simulation(
        patients=pd.concat([s.patients for s in sims], ignore_index=True),
        visits=pd.concat([s.visits for s in sims], ignore_index=True),
    )


def simulate(
    params: StudyParams, *, keep_visits: int | None = 0, progress: bool = False
) -> Simulation:
    """Simulate every patient of the study.

    Parameters
    ----------
    params : StudyParams
    keep_visits : int or None, default 0
        Keep the tests of the first ``keep_visits`` patients (None: of all patients;
        that table has one row per test and can be large).
    progress : bool, default False
        Show a progress bar (only on a terminal).

    Returns
    -------
    Simulation
    """
    # One concatenation of every block (not of chunks of blocks): the table is copied once.
    blocks_ = _iter_blocks(params, keep_visits=keep_visits, progress=progress)
    return _concat([sim for sims in blocks_ for sim in sims])


def simulate_patients(params: StudyParams, *, progress: bool = False) -> pd.DataFrame:
    """Simulate the study and return one row per patient (see :class:`Simulation`)."""
    return simulate(params, progress=progress).patients


def retained_columns(params: StudyParams) -> list[str]:
    """Columns kept in memory when the full patient table goes to a sink."""
    covariates = [c for c in params.analysis.cox_covariates if c not in RETAINED_COLUMNS]
    extra = [c for name in params.analysis.methods for c in get_analysis(name).columns]
    return list(dict.fromkeys([*RETAINED_COLUMNS, *covariates, *extra]))


def run_study(
    params: StudyParams,
    *,
    keep_visits: int | None = 400,
    progress: bool = False,
    patients_sink: PatientsSink | None = None,
) -> StudyResult:
    """Simulate the study and analyse it.

    Parameters
    ----------
    params : StudyParams
        Validated parameters (see :func:`tfrsim.load_params`).
    keep_visits : int or None, default 400
        Keep the tests of the first ``keep_visits`` patients (None: all).
    progress : bool, default False
        Show a progress bar on a terminal.
    patients_sink : callable, optional
        Called with the full patient table of each chunk, in order (e.g. to write it
        to disk). Memory then holds only :func:`retained_columns` of each patient, and
        ``result.patients`` has only those columns.

    Returns
    -------
    StudyResult
        Its ``params`` are those simulated: with ``uncertainty=posterior``, the
        replicate's parameter draw applied (:meth:`StudyParams.with_posterior_draw`,
        the one place where draws enter a study).
    """
    params = params.with_posterior_draw()
    if patients_sink is None:
        sim = simulate(params, keep_visits=keep_visits, progress=progress)
        patients, visits = sim.patients, sim.visits
    else:
        keep = retained_columns(params)
        kept, tests = [], []
        for chunk in iter_chunks(params, keep_visits=keep_visits, progress=progress):
            patients_sink(chunk.patients)
            kept.append(chunk.patients[keep])
            tests.append(chunk.visits)
        patients = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
        visits = pd.concat(tests, ignore_index=True) if len(tests) > 1 else tests[0]
    return StudyResult(
        params=params,
        patients=patients,
        visits=visits,
        analysis=analyse(patients, params.analysis, threads=analysis_threads(len(patients))),
    )


#: From this many patients the analyses run side by side (:func:`analysis_threads`);
#: below, threads cost more than they save.
CONCURRENT_ANALYSIS_MIN_ROWS: int = 100_000


def analysis_threads(n_patients: int) -> int:
    """Threads for :func:`tfrsim.analysis.analyse`: :func:`simulation_threads` for
    large tables, else 1 (results never depend on it)."""
    return simulation_threads() if n_patients >= CONCURRENT_ANALYSIS_MIN_ROWS else 1
