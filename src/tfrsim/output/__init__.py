"""Writing runs: the run folder's tables, summary and figures."""

from tfrsim.output.run import (
    COMPLETE_MARKER,
    ERROR_FILE,
    RUN_FILES,
    IncompleteResultError,
    PatientsWriter,
    RunDirNotEmptyError,
    ensure_fresh,
    is_complete,
    params_yaml,
    read_summary,
    save_result,
    summary,
    write_patients,
    write_run,
    write_study,
)

__all__ = [
    "COMPLETE_MARKER",
    "ERROR_FILE",
    "RUN_FILES",
    "IncompleteResultError",
    "PatientsWriter",
    "RunDirNotEmptyError",
    "ensure_fresh",
    "is_complete",
    "params_yaml",
    "read_summary",
    "save_result",
    "summary",
    "write_patients",
    "write_run",
    "write_study",
]
