"""Atomic, durable file writes: a crash leaves the old state or the whole new file.

Every file is written to a temporary file in the same folder, flushed to disk
(``fsync``), renamed onto its final name, and the folder entry is flushed too, so an
interrupted run never leaves a truncated or empty file under a final name.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Permissions of written files: 0666 less the process's umask, as open() would give.
FILE_MODE: int = 0o666 & ~_umask()
#: Prefix and suffix of the temporary files of :func:`atomic_path` (``.NAME.XXXX.tmp``).
TMP_SUFFIX: str = ".tmp"


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's) contents to disk; ignored where unsupported."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # pragma: no cover - e.g. folders on some network file systems
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - fsync unsupported on this file system
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success flush it and rename it onto
    ``path`` (then flush the folder). On error the temporary file is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    os.close(fd)
    # mkstemp makes the file private (0600); results get the usual permissions
    # (readable by collaborators on a shared cluster file system).
    os.chmod(tmp, FILE_MODE)
    try:
        yield Path(tmp)
        fsync_path(Path(tmp))
        os.replace(tmp, path)
        fsync_path(path.parent)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: Path, text: str) -> None:
    """Atomically and durably write a UTF-8 text file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
