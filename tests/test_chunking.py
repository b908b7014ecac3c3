"""Chunked simulation: memory is bounded by the chunk, results never depend on it."""

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import tfrsim.execution
from tfrsim import load_params, pipeline, run_study
from tfrsim.checks import ConfigError
from tfrsim.execution import PatientColumns, chunk_blocks, iter_chunks, retained_columns
from tfrsim.output import write_run, write_study
from tfrsim.random import BLOCK_SIZE
from tfrsim.random import blocks as blocks_of

N = 2 * BLOCK_SIZE + 500  # three random blocks, the last one short
FILES = ("patients.parquet", "summary.json", "km.csv", "milestones.csv", "cox.csv")


def _params(chunk_size: int, *more: str):  # type: ignore[no-untyped-def]
    return load_params([f"cohort.n_patients={N}", f"chunk_size={chunk_size}", *more])


def test_chunks_are_whole_blocks() -> None:
    assert [len(c) for c in chunk_blocks(_params(1))] == [1, 1, 1]
    assert [len(c) for c in chunk_blocks(_params(BLOCK_SIZE + 1))] == [2, 1]
    assert [len(c) for c in chunk_blocks(_params(10**9))] == [3]
    flat = [b for chunk in chunk_blocks(_params(BLOCK_SIZE + 1)) for b in chunk]
    assert flat[0] == (0, 0, BLOCK_SIZE)
    assert flat[-1] == (2, 2 * BLOCK_SIZE, N)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("chunks")
    folders = {}
    for chunk_size in (BLOCK_SIZE, 2 * BLOCK_SIZE, 10**6):
        folder = root / f"stream_{chunk_size}"
        write_study(folder, _params(chunk_size), "resolved: config\n", figures=False)
        folders[f"stream_{chunk_size}"] = folder
    # The in-memory path (run_study + write_run) too.
    folder = root / "memory"
    write_run(folder, run_study(_params(BLOCK_SIZE)), "resolved: config\n", figures=False)
    folders["memory"] = folder
    return folders


@pytest.mark.parametrize("name", FILES)
def test_outputs_are_byte_identical_across_chunk_sizes(written: dict[str, Path], name: str) -> None:
    reference = (written["memory"] / name).read_bytes()
    for label, folder in written.items():
        assert (folder / name).read_bytes() == reference, (label, name)


def test_streamed_table_is_the_full_table(written: dict[str, Path]) -> None:
    patients = pd.read_parquet(written[f"stream_{BLOCK_SIZE}"] / "patients.parquet")
    in_memory = run_study(_params(BLOCK_SIZE), keep_visits=0).patients
    pd.testing.assert_frame_equal(patients, in_memory)
    assert patients["patient_id"].tolist() == list(range(N))


def test_streaming_keeps_only_the_analysis_columns(tmp_path: Path) -> None:
    params = _params(BLOCK_SIZE)
    result = write_study(tmp_path / "run", params, "x: 1\n", figures=False)
    assert list(result.patients.columns) == retained_columns(params)
    assert len(result.patients) == N


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="`chunk_size` must be an integer >= 1; got 0"):
        _params(0)


@pytest.fixture(scope="module")
def with_visits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Runs with ``output.visits=true``: streamed at several chunk sizes and thread
    counts, and written at once from a study held in memory."""
    root = tmp_path_factory.mktemp("visits")
    folders = {}
    for chunk_size, threads in ((BLOCK_SIZE, 1), (2 * BLOCK_SIZE, 2), (10**6, 3)):
        folder = root / f"stream_{chunk_size}_{threads}"
        params = _params(chunk_size, "output.visits=true", f"limits.threads={threads}")
        write_study(folder, params, "x: 1\n", keep_visits=None, figures=False, visits=True)
        folders[folder.name] = folder
    folder = root / "memory"
    in_memory = run_study(_params(BLOCK_SIZE, "output.visits=true"), keep_visits=None)
    write_run(folder, in_memory, "x: 1\n", figures=False, visits=True)
    folders["memory"] = folder
    return folders


@pytest.mark.parametrize("name", ["visits.parquet", "patients.parquet", "summary.json"])
def test_streamed_visits_are_byte_identical(with_visits: dict[str, Path], name: str) -> None:
    """Bug caught: ``visits.parquet`` whose bytes depend on the chunk size, the number
    of threads or whether it was streamed (row groups following the chunks instead of
    the random blocks), or a visits sink that changes the other files."""
    reference = (with_visits["memory"] / name).read_bytes()
    for label, folder in with_visits.items():
        assert (folder / name).read_bytes() == reference, (label, name)


def test_streamed_visits_are_every_test(with_visits: dict[str, Path]) -> None:
    """Bug caught: a streamed ``visits.parquet`` that drops, repeats or reorders tests
    (e.g. only the kept patients', or a chunk written twice): row for row it equals the
    tests of the study simulated in memory, one row group per random block."""
    streamed = with_visits[f"stream_{BLOCK_SIZE}_1"] / "visits.parquet"
    expected = run_study(_params(BLOCK_SIZE), keep_visits=None).visits
    pd.testing.assert_frame_equal(pd.read_parquet(streamed), expected)
    assert expected["patient_id"].nunique() > 0.9 * N
    assert pq.ParquetFile(streamed).metadata.num_row_groups == 3  # one per block


def test_streaming_visits_keeps_only_the_trajectories_tests(tmp_path: Path) -> None:
    """Bug caught: with ``output.visits=true`` every test stayed in memory (2-4 GB at
    10^6 patients, out of memory at 10^7); only the first ``trajectory_patients``
    patients' tests may stay (the trajectories figure), the rest go to the file."""
    params = _params(BLOCK_SIZE, "output.visits=true", "output.trajectory_patients=50")
    result = write_study(tmp_path / "run", params, "x: 1\n", keep_visits=None, visits=True)
    assert set(result.visits["patient_id"]) == set(range(50))
    on_disk = pd.read_parquet(tmp_path / "run" / "visits.parquet")
    pd.testing.assert_frame_equal(
        on_disk[on_disk["patient_id"] < 50].reset_index(drop=True), result.visits
    )
    assert (tmp_path / "run" / "figures" / "trajectories.png").is_file()


def test_failed_stream_leaves_no_visits_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug caught: a run failing half-way left a truncated ``visits.parquet`` under its
    final name; the streamed file appears only whole (temporary file, then rename)."""
    params = _params(BLOCK_SIZE, "output.visits=true")

    def failing_analysis(*args: object, **kwargs: object) -> None:
        raise RuntimeError("analysis failed")

    monkeypatch.setattr(tfrsim.execution, "analyse", failing_analysis)
    with pytest.raises(RuntimeError, match="analysis failed"):
        write_study(tmp_path / "run", params, "x: 1\n", visits=True, figures=False)
    left = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert left == ["config.yaml"], left


def test_kept_columns_equal_the_concatenated_chunks() -> None:
    """Bug caught: the columns kept for the analysis, filled chunk by chunk into arrays
    of the study's length, differing from the chunks concatenated (a dtype, the
    categories of ``sokal_group``, a row out of place, a short or overfull table)."""
    params = _params(BLOCK_SIZE)
    keep = retained_columns(params)
    chunks = [sim.patients[keep] for sim in iter_chunks(params)]
    columns = PatientColumns(N)
    for chunk in chunks:
        columns.add(chunk)
    pd.testing.assert_frame_equal(columns.frame(), pd.concat(chunks, ignore_index=True))
    with pytest.raises(ValueError, match="more than the study's"):
        columns.add(chunks[0])
    partial = PatientColumns(N)
    partial.add(chunks[0])
    with pytest.raises(ValueError, match=f"{BLOCK_SIZE} of {N} patients"):
        partial.frame()


def test_columns_by_name_fill_as_tables_do() -> None:
    """Bug caught: a block given as its columns by name (arrays and categoricals, how
    ``simulate`` fills the study's arrays) filled differently from the same block as a
    table, or a block that does not fit (a dtype, a column differing) was half counted."""
    blocks = [
        pipeline.simulate_block_columns(_params(BLOCK_SIZE), b, start, stop)
        for b, start, stop in blocks_of(N)
    ]
    by_name, by_table = PatientColumns(N), PatientColumns(N)
    for block in blocks:
        by_name.add(block.columns)
        by_table.add(block.simulation().patients)
    tables = [block.simulation().patients for block in blocks]
    pd.testing.assert_frame_equal(by_name.frame(), pd.concat(tables, ignore_index=True))
    pd.testing.assert_frame_equal(by_table.frame(), by_name.frame())
    partial = PatientColumns(N)
    partial.add(blocks[0].columns)
    retyped = {**blocks[1].columns, "n_tests": blocks[1].columns["n_tests"].astype(float)}
    renamed = {f"x_{name}": column for name, column in blocks[1].columns.items()}
    for bad, match in ((retyped, "n_tests.*float64 after int64"), (renamed, "columns")):
        with pytest.raises(ValueError, match=match):
            partial.add(bad)
        assert partial.filled == BLOCK_SIZE
    pd.testing.assert_frame_equal(partial.head(), tables[0])


def test_a_block_that_does_not_fit_gives_the_concatenated_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bug caught: when a block's dtype differs from the first block's (a model plugin
    returning floats in one block), ``simulate`` wrote it into the first block's
    arrays (casting its values) or lost the blocks before it; the table must be what
    ``pd.concat`` of the blocks' tables gives."""
    simulate_block_columns = pipeline.simulate_block_columns

    def float_tests_in_block_1(*args: object, **kwargs: object) -> pipeline.Block:
        block = simulate_block_columns(*args, **kwargs)  # type: ignore[arg-type]
        if args[1] != 1:
            return block
        columns = {**block.columns, "n_tests": block.columns["n_tests"] + 0.5}
        return pipeline.Block(columns, block.visits, block.seconds)

    monkeypatch.setattr(tfrsim.execution, "simulate_block_columns", float_tests_in_block_1)
    params = _params(BLOCK_SIZE, "limits.threads=2")
    tables = [
        float_tests_in_block_1(params, b, start, stop).simulation().patients
        for b, start, stop in blocks_of(N)
    ]
    expected = pd.concat(tables, ignore_index=True)
    assert expected["n_tests"].dtype == float
    pd.testing.assert_frame_equal(tfrsim.execution.simulate(params).patients, expected)
