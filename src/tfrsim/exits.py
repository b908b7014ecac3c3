"""Exit statuses and one-line error reports shared by every tfrsim command.

Every entry point (``tfrsim``, ``tfrsim-aggregate``, ``tfrsim-calibrate``,
``tfrsim-reproduce``) ends with one of these statuses (also in ``docs/runs.md``):

====  ================================================================================
0     success
1     an acceptance check was not met (calibrate/reproduce), or an unexpected error
      (a bug: please report it with the ``--debug`` traceback)
2     bad configuration or command line (nothing was started, nothing written)
3     environment or I/O error (permission denied, disk full, a path that is a file...)
4     a sweep finished but a job failed, is incomplete or never started
130   interrupted (Ctrl-C or SIGTERM)
====  ================================================================================

Errors are reported in one line, ``PROG: error: MESSAGE``, without a traceback unless
``--debug`` is given or ``HYDRA_FULL_ERROR=1`` is set. An exception class chooses its
own status with a class attribute ``exit_code`` (e.g. ``ConfigError.exit_code = 2``).
"""

import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

OK: int = 0
FAILED_CHECK: int = 1
BAD_CONFIG: int = 2
ENVIRONMENT: int = 3
JOB_FAILED: int = 4
INTERRUPTED: int = 130

#: Command-line flag that shows the traceback of an error.
DEBUG_FLAG: str = "--debug"


class Abort(BaseException):
    """Carries an error out of a Hydra callback, which would turn an ``Exception`` into a
    mere warning and carry on (a guard must fail closed). Entry points unwrap it."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that cleanup (``finally``) runs."""


def exit_code(exc: BaseException) -> int:
    """The documented exit status for an exception (see the module docstring)."""
    if isinstance(exc, Abort):
        return exit_code(exc.error)
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    code = getattr(exc, "exit_code", None)
    if isinstance(code, int):
        return code
    module = type(exc).__module__
    # Hydra and OmegaConf errors at this level: an unknown config option, a bad override.
    if module.startswith(("hydra.", "omegaconf.")):
        return BAD_CONFIG
    if isinstance(exc, OSError | MemoryError):
        return ENVIRONMENT
    return FAILED_CHECK


def one_line(exc: BaseException) -> str:
    """The error as one line (the type only when the message alone would be unclear)."""
    if isinstance(exc, Abort):
        return one_line(exc.error)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    message = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in message:
        message = f"{message}: {exc.filename}"
    if exit_code(exc) in (FAILED_CHECK, ENVIRONMENT) and not getattr(exc, "exit_code", None):
        return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return message or type(exc).__name__


def wants_debug(argv: list[str]) -> bool:
    """Remove ``--debug`` from ``argv`` (in place); whether tracebacks are wanted."""
    debug = DEBUG_FLAG in argv
    while DEBUG_FLAG in argv:
        argv.remove(DEBUG_FLAG)
    return debug or os.environ.get("HYDRA_FULL_ERROR") == "1"


def report(prog: str, exc: BaseException, *, debug: bool) -> int:
    """Print the error (one line; the traceback first if ``debug``) and return its status."""
    error = exc.error if isinstance(exc, Abort) else exc
    code = exit_code(error)
    if debug and not isinstance(error, KeyboardInterrupt):
        traceback.print_exception(error, file=sys.stderr)
    if code == INTERRUPTED:
        print(f"{prog}: interrupted", file=sys.stderr)
    else:
        hint = "" if debug or code != FAILED_CHECK else f" (run with {DEBUG_FLAG} for details)"
        print(f"{prog}: error: {one_line(error)}{hint}", file=sys.stderr)
    return code


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Interrupted` (cleanup runs, status 130)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(prog: str, body: Callable[[], int | None], argv: list[str] | None = None) -> None:
    """Run an entry point's body and exit with its documented status (return on 0).

    ``body`` returns a status (None: 0) or raises; :class:`SystemExit` passes through.
    ``--debug`` is removed from ``argv`` (default ``sys.argv``) before ``body`` runs.
    Hydra is told to re-raise errors (``HYDRA_FULL_ERROR=1`` for this process) so that
    they reach this function instead of Hydra's own report (always status 1).
    """
    debug = wants_debug(sys.argv if argv is None else argv)
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        with sigterm_as_interrupt():
            code = body() or OK
    except SystemExit:
        raise
    except BaseException as exc:  # every error ends in one documented status
        code = report(prog, exc, debug=debug)
    finally:
        if previous is None:
            del os.environ["HYDRA_FULL_ERROR"]
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous
    if code != OK:
        sys.exit(code)
