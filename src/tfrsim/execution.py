"""Execution of the stage chain: blocks, chunks, threads, sinks, and the analysis.

Patients are simulated in blocks of :data:`tfrsim.random.BLOCK_SIZE`, each with its
own named random streams (:func:`tfrsim.pipeline.simulate_block`), so the per-visit
arrays exist for one block at a time and the result does not depend on how the blocks
are processed. Blocks are grouped into *chunks* of about ``params.chunk_size``
patients: the unit handed to a ``patients_sink`` and a ``visits_sink`` (the Parquet
writers of :func:`tfrsim.output.write_study`), after which only the columns the
analysis needs, and the tests of the first few patients, stay in memory. The chunk
size changes memory use, never results.

Threads: blocks are simulated by ``limits.threads`` threads side by side, and the
BLAS/OpenMP pools (threadpoolctl) and Arrow's pool are held to the same number while
the study runs (:func:`thread_limits`), so that jobs running side by side do not
oversubscribe the cores. The number of threads never changes results.
"""

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
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
from tfrsim.pipeline import STAGES, Block, Simulation, simulate_block_columns
from tfrsim.random import BLOCK_SIZE, blocks
from tfrsim.study import StudyParams

if TYPE_CHECKING:
    from matplotlib.axes import Axes

log = logging.getLogger(__name__)

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
#: Receives every test of each chunk's patients, in patient then visit order.
VisitsSink = Callable[[pd.DataFrame], None]


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
    #: Wall seconds of each stage — ``simulate`` and ``observe``
    #: (:data:`tfrsim.pipeline.STAGES`), ``analyse`` and ``write`` (the sinks) — a run's
    #: own timing, logged in ``tfrsim.log``, not part of the results. ``simulate`` and
    #: ``observe`` run side by side in threads: their wall time is split in proportion
    #: to their thread time.
    seconds: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

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


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. a SLURM allocation)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


#: Jobs of a sweep that run at once beside this one (set by the ``tfrsim`` command
#: from its launcher, :func:`set_concurrent_jobs`; 1 for a single run or the Python
#: API). A property of the process, not of the study: it never enters a config or a
#: result, so the bytes a job writes do not depend on how many workers ran it.
_CONCURRENT_JOBS = [1]


def set_concurrent_jobs(jobs: int) -> None:
    """Record how many jobs run at once (:func:`default_threads` divides the CPUs)."""
    _CONCURRENT_JOBS[0] = max(1, int(jobs))


def default_threads(concurrent_jobs: int | None = None) -> int:
    """Threads per run when ``limits.threads`` is null: the CPUs available to the
    process divided by the jobs running at once (``concurrent_jobs``, or the count the
    command recorded with :func:`set_concurrent_jobs`; at least 1)."""
    jobs = _CONCURRENT_JOBS[0] if concurrent_jobs is None else concurrent_jobs
    return max(1, available_cpus() // max(1, jobs))


def simulation_threads(params: StudyParams | None = None) -> int:
    """Threads of a run: ``params.limits.threads``, or (null, or no study) the CPUs
    this process may use.

    Blocks draw from their own streams, so the result does not depend on it; numpy
    releases the GIL in the heavy array work, so threads scale on a multi-core machine.
    """
    if params is not None and params.limits.threads is not None:
        return params.limits.threads
    return default_threads()


@contextmanager
def thread_limits(threads: int) -> Iterator[None]:
    """Hold the BLAS/OpenMP thread pools (threadpoolctl) and Arrow's CPU pool to
    ``threads`` inside the block; the previous sizes come back when it exits.

    threadpoolctl limits the libraries loaded when the block starts, so scipy's BLAS
    is loaded first (numpy's is loaded with numpy).
    """
    import pyarrow as pa
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS so that the limit covers it)
    from threadpoolctl import threadpool_limits

    previous = pa.cpu_count()
    pa.set_cpu_count(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        pa.set_cpu_count(previous)


#: Bytes of the array allocated and freed once per process by
#: :func:`raise_malloc_thresholds`: just under glibc's largest dynamic mmap threshold
#: (32 MiB on 64-bit, mallopt(3)).
MALLOC_THRESHOLD_BYTES: int = 32_000_000


@functools.cache
def raise_malloc_thresholds() -> None:
    """Let glibc's malloc keep the memory of one block's arrays for the next blocks.

    A block's per-visit arrays (a few MB each) are above glibc's initial mmap
    threshold (128 KiB): until it has risen, each one is mapped, faulted in page by
    page and unmapped, and the threads' heaps are trimmed back to the system as soon
    as 128 KiB lie free at their top. glibc raises both thresholds when a mapped chunk
    is freed (to its size and twice it, up to 32 MiB: mallopt(3), dynamic mmap
    threshold), so allocating and freeing one array of :data:`MALLOC_THRESHOLD_BYTES`
    (never touched: no page is faulted in) sets them at once where a long-running
    process ends up anyway. Measured at 10^6 patients, the first run in a process
    (2 December 2026): page faults while simulating 240-320 k -> 33 k, system CPU
    0.5-0.8 -> 0.1-0.15 s. With another allocator: one allocation and free, no effect.
    """
    np.empty(MALLOC_THRESHOLD_BYTES, dtype=np.uint8)


def _madvise_hugepage_setter() -> Callable[[bool], bool] | None:
    """numpy's switch of ``madvise(MADV_HUGEPAGE)`` (returns the previous setting)."""
    from importlib import import_module

    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):  # numpy 2, 1
        try:
            setter: Callable[[bool], bool] | None = getattr(
                import_module(module), "_set_madvise_hugepage", None
            )
        except ImportError:
            continue
        return setter
    return None


@contextmanager
def small_pages() -> Iterator[None]:
    """Inside the block numpy does not ask for transparent huge pages for its arrays
    (``madvise(MADV_HUGEPAGE)`` on arrays of 4 MiB or more, numpy's default on Linux);
    the previous setting comes back when it exits.

    A run's large arrays live for a few passes each: the first touch of each 2 MiB
    page (zeroed, and compacted for when the kernel's ``defrag`` is ``madvise``) costs
    more system time than the fewer TLB misses save. Measured with :func:`run_study`
    at 10^6 patients, the first run in a process (2 December 2026, a 2-core VM whose
    ``/sys/kernel/mm/transparent_hugepage`` is ``madvise``): system CPU 0.58-0.73 ->
    0.20-0.42 s, user CPU unchanged (6.7-7.0 s). Never changes results.
    """
    setter = _madvise_hugepage_setter()
    if setter is None:
        yield
        return
    previous = setter(False)
    try:
        yield
    finally:
        setter(previous)


def _iter_blocks(
    params: StudyParams,
    *,
    keep_visits: int | None,
    progress: bool,
    on_block: Callable[[Block], None] | None = None,
) -> Iterator[list[Block]]:
    """The blocks of each chunk, simulated by :func:`simulation_threads` threads.

    ``on_block`` is called in the calling thread with each block, in order, as soon as
    it is done (while the threads simulate the next ones)."""
    raise_malloc_thresholds()
    chunks = chunk_blocks(params)
    n_blocks = sum(len(chunk) for chunk in chunks)
    threads = min(simulation_threads(params), n_blocks)
    # disable=None lets tqdm stay quiet when not on a terminal.
    bar = tqdm(
        total=params.cohort.n_patients,
        desc="simulating",
        unit="patient",
        unit_scale=True,
        disable=None if progress and n_blocks > 1 else True,
    )

    def one(block: tuple[int, int, int]) -> Block:
        b, start, stop = block
        return simulate_block_columns(params, b, start, stop, keep_visits)

    with bar, ThreadPoolExecutor(max_workers=threads) as pool:
        for chunk in chunks:
            done = []
            # map() returns the blocks in order, whichever thread finished first.
            for block in pool.map(one, chunk) if threads > 1 else map(one, chunk):
                done.append(block)
                if on_block is not None:
                    on_block(block)
                bar.update(len(block))
            yield done


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
    for done in _iter_blocks(params, keep_visits=keep_visits, progress=progress):
        yield _concat([block.simulation() for block in done])


def _concat(sims: list[Simulation]) -> Simulation:
    if len(sims) == 1:
        return sims[0]
    return Simulation(
        patients=pd.concat([s.patients for s in sims], ignore_index=True),
        visits=pd.concat([s.visits for s in sims], ignore_index=True),
        seconds={k: sum(s.seconds.get(k, 0.0) for s in sims) for k in STAGES},
    )


def first_patients_tests(visits: pd.DataFrame, n_patients: int | None) -> pd.DataFrame:
    """The tests of the patients with index below ``n_patients`` (None: all), from a
    table in patient order."""
    if n_patients is None:
        return visits
    stop = int(np.searchsorted(visits["patient_id"].to_numpy(), n_patients, side="left"))
    return visits.iloc[:stop]


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
    # Each block's columns are copied into the study's arrays as soon as it is done,
    # while the threads simulate the next blocks (concatenating all blocks at the end
    # was ~0.35 s of serial work at 10^6 patients), without a table per block, and the
    # block is then let go (kept, the blocks doubled the columns' memory: first touches
    # of fresh pages are system time). At 10^6, first run in a process (2 December
    # 2026, loaded machine): 5.7 -> 5.4 s user and ~0.7 -> ~0.3 s system CPU, peak
    # memory after simulating 530 -> 395 MiB. Should a block not fit the arrays (a
    # column or dtype differing between blocks), the table is pd.concat of the blocks'
    # tables from there on, which is what the filled arrays equal (test_chunking).
    columns = PatientColumns(params.cohort.n_patients)
    frames: list[pd.DataFrame] = []  # the blocks' tables, once one did not fit
    tests: list[pd.DataFrame] = []
    seconds = dict.fromkeys(STAGES, 0.0)

    def take(block: Block) -> None:
        if not frames:
            try:
                columns.add(block.columns)
            except ValueError:
                frames.append(columns.head())
        if frames:
            frames.append(pd.DataFrame(block.columns))
        tests.append(block.visits)
        for k in STAGES:
            seconds[k] += block.seconds.get(k, 0.0)

    for _ in _iter_blocks(params, keep_visits=keep_visits, progress=progress, on_block=take):
        pass
    patients = pd.concat(frames, ignore_index=True) if frames else columns.frame()
    visits = pd.concat(tests, ignore_index=True) if len(tests) > 1 else tests[0]
    return Simulation(patients, visits, seconds)


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
    visits_sink: VisitsSink | None = None,
) -> StudyResult:
    """Simulate the study and analyse it.

    Parameters
    ----------
    params : StudyParams
        Validated parameters (see :func:`tfrsim.load_params`).
    keep_visits : int or None, default 400
        Keep in memory the tests of the first ``keep_visits`` patients (None: all).
    progress : bool, default False
        Show a progress bar on a terminal.
    patients_sink : callable, optional
        Called with the full patient table of each chunk, in order (e.g. to write it
        to disk). Memory then holds only :func:`retained_columns` of each patient, and
        ``result.patients`` has only those columns.
    visits_sink : callable, optional
        Called with every test of each chunk's patients, in order (e.g. to write
        ``visits.parquet``); memory still keeps only the tests of the first
        ``keep_visits`` patients (``result.visits``).

    Returns
    -------
    StudyResult
        Its ``params`` are those simulated: with ``uncertainty=posterior``, the
        replicate's parameter draw applied (:meth:`StudyParams.with_posterior_draw`,
        the one place where draws enter a study).

    Notes
    -----
    The run computes with :func:`simulation_threads` threads, and holds the BLAS and
    Arrow pools to that number (:func:`thread_limits`); numpy allocates without huge
    pages meanwhile (:func:`small_pages`).
    """
    params = params.with_posterior_draw()
    threads = simulation_threads(params)
    with thread_limits(threads), small_pages():
        start = time.perf_counter()
        if patients_sink is None and visits_sink is None:
            sim = simulate(params, keep_visits=keep_visits, progress=progress)
            patients, visits, thread_seconds, written = sim.patients, sim.visits, sim.seconds, 0.0
        else:
            patients, visits, thread_seconds, written = _stream(
                params, keep_visits, progress, patients_sink, visits_sink
            )
        simulated = time.perf_counter()
        analysis = analyse(
            patients, params.analysis, threads=analysis_threads(len(patients), threads)
        )
        analysed = time.perf_counter()
    # simulate and observe ran side by side in threads: split their wall time in
    # proportion to their thread time.
    thread_time = sum(thread_seconds.get(k, 0.0) for k in STAGES) or 1.0
    wall = simulated - start - written
    seconds = {k: wall * thread_seconds.get(k, 0.0) / thread_time for k in STAGES}
    seconds.update(analyse=analysed - simulated, write=written)
    log.info(
        "%d patients with %d threads: stage seconds %s",
        len(patients),
        threads,
        json.dumps({k: round(v, 3) for k, v in seconds.items()}),
    )
    return StudyResult(
        params=params, patients=patients, visits=visits, analysis=analysis, seconds=seconds
    )


class PatientColumns:
    """The kept columns of every patient, filled chunk by chunk into arrays allocated
    once for the whole study.

    Concatenating the chunks at the end would hold the columns twice and leave the
    chunks' pieces as holes in the heap, which the process keeps (glibc returns little
    of it): filling arrays of the study's length keeps one copy only.
    """

    def __init__(self, n_patients: int) -> None:
        self.n_patients = n_patients
        self.filled = 0
        self._arrays: dict[str, np.ndarray] = {}
        self._dtypes: dict[str, pd.CategoricalDtype] = {}

    def add(self, columns: pd.DataFrame | Mapping[str, Any]) -> None:
        """Append the rows of one chunk, in patient order: a table, or its columns by
        name (arrays, categoricals or Series); the same columns as the first chunk.

        Raises
        ------
        ValueError
            If the rows overflow the study, or a column, its dtype or its categories
            differ from the first chunk's (nothing is then counted as added).
        """
        items = [(str(name), column) for name, column in columns.items()]
        names = [key for key, _ in items]
        if self._arrays and names != list(self._arrays):
            raise ValueError(f"columns {names} after {list(self._arrays)}")
        rows = len(items[0][1]) if items else 0
        stop = self.filled + rows
        if stop > self.n_patients:
            raise ValueError(f"more than the study's {self.n_patients} patients")
        for key, column in items:
            values, categories = _values(column)
            if categories is not None:
                known = self._dtypes.setdefault(key, categories)
                if categories != known:
                    raise ValueError(f"column {key!r}: categories differ between chunks")
            array = self._arrays.get(key)
            if array is None:
                array = self._arrays[key] = np.empty(self.n_patients, dtype=values.dtype)
            elif array.dtype != values.dtype:
                raise ValueError(f"column {key!r}: {values.dtype} after {array.dtype}")
            array[self.filled : stop] = values
        self.filled = stop

    def frame(self) -> pd.DataFrame:
        """The columns as one table (no copy), as ``pd.concat`` of the chunks gives."""
        if self.filled != self.n_patients:
            raise ValueError(f"{self.filled} of {self.n_patients} patients were added")
        return self.head()

    def head(self) -> pd.DataFrame:
        """The rows added so far as one table (no copy)."""
        data = {
            name: (
                pd.Categorical.from_codes(cast(Any, array[: self.filled]), dtype=self._dtypes[name])
                if name in self._dtypes
                else array[: self.filled]
            )
            for name, array in self._arrays.items()
        }
        return pd.DataFrame(data, copy=False)


def _values(column: Any) -> tuple[np.ndarray, pd.CategoricalDtype | None]:
    """A column's values as an array, or a categorical's codes and its dtype."""
    if isinstance(column, pd.Series):
        column = column.array
    if isinstance(column, pd.Categorical):
        return column.codes, column.dtype
    return np.asarray(column), None


def _stream(
    params: StudyParams,
    keep_visits: int | None,
    progress: bool,
    patients_sink: PatientsSink | None,
    visits_sink: VisitsSink | None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float], float]:
    """Simulate chunk by chunk into the sinks; keep the analysis columns and the first
    patients' tests. Returns the patients kept, the tests kept, the thread seconds of
    each stage of :data:`~tfrsim.pipeline.STAGES` and the seconds spent in the sinks."""
    keep = retained_columns(params) if patients_sink is not None else None
    kept, tests = PatientColumns(params.cohort.n_patients), []
    seconds = dict.fromkeys(STAGES, 0.0)
    written = 0.0
    # With a visits sink every test is simulated; memory keeps the first patients'.
    simulated_visits = None if visits_sink is not None else keep_visits
    for chunk in iter_chunks(params, keep_visits=simulated_visits, progress=progress):
        t0 = time.perf_counter()
        if patients_sink is not None:
            patients_sink(chunk.patients)
        if visits_sink is not None:
            visits_sink(chunk.visits)
        written += time.perf_counter() - t0
        kept.add(chunk.patients[keep] if keep is not None else chunk.patients)
        # A copy: a slice would keep the whole chunk's tests alive.
        tests.append(first_patients_tests(chunk.visits, keep_visits).copy())
        for k in STAGES:
            seconds[k] += chunk.seconds.get(k, 0.0)
        del chunk
    patients = kept.frame()
    visits = pd.concat(tests, ignore_index=True) if len(tests) > 1 else tests[0]
    return patients, visits, seconds, written


#: From this many patients the analyses run side by side (:func:`analysis_threads`);
#: below, threads cost more than they save.
CONCURRENT_ANALYSIS_MIN_ROWS: int = 100_000


def analysis_threads(n_patients: int, threads: int | None = None) -> int:
    """Threads for :func:`tfrsim.analysis.analyse`: the run's threads (``threads``, or
    :func:`simulation_threads`) for large tables, else 1 (results never depend on it)."""
    if n_patients < CONCURRENT_ANALYSIS_MIN_ROWS:
        return 1
    return threads if threads is not None else simulation_threads()
