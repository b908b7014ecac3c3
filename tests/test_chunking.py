"""Chunked simulation: memory is bounded by the chunk, results never depend on it."""

from pathlib import Path

import pandas as pd
import pytest

from tfrsim import load_params, run_study
from tfrsim.checks import ConfigError
from tfrsim.execution import chunk_blocks, retained_columns
from tfrsim.output import write_run, write_study
from tfrsim.random import BLOCK_SIZE

N = 2 * BLOCK_SIZE + 500  # three random blocks, the last one short
FILES = ("patients.parquet", "summary.json", "km.csv", "milestones.csv", "cox.csv")


def _params(chunk_size: int):  # type: ignore[no-untyped-def]
    return load_params([f"cohort.n_patients={N}", f"chunk_size={chunk_size}"])


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
