"""Writing the user's files safely: atomic replacement, a folder lock, and naming what the machine
refused.

- ``atomic_write_text`` / ``atomic_write_bytes``: write a temporary file in the same folder, fsync,
  then ``os.replace`` it over the target, so a reader (or a crash) sees the old file or the new
  one, never half of one.
- ``FolderLock``: an exclusive ``fcntl.flock`` on a lock file. The kernel releases it when the
  process exits, however it exits (``kill -9`` included), so a crash never leaves a stale lock.
- ``environment_problem``: an ``OSError`` from the user's disk (read-only, full, not a folder, no
  permission) as an ``EnvironmentProblem`` whose one line names the file and the cause.

Not here: what the files contain (``forage.report.sweep_report``, ``forage.eval.journal``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from forage.core.errors import EnvironmentProblem, FolderInUse

# errno values that describe the user's machine, not a bug in forage.
ENVIRONMENT_ERRNOS = frozenset({
    errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.ENOTDIR,
    errno.EISDIR, errno.EEXIST, errno.ENOENT, errno.EIO, errno.EMFILE, errno.ENAMETOOLONG,
})  # fmt: skip

_HINTS = {
    errno.EROFS: "the file system is read-only; choose a writable folder",
    errno.ENOSPC: "the disk is full; free some space and rerun (finished work is kept)",
    errno.EDQUOT: "the disk quota is exhausted; free some space and rerun (finished work is kept)",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "permission denied; choose a folder you can write to",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "the path is a folder, not a file",
}


def environment_problem(e: OSError, what: str) -> EnvironmentProblem:
    """``e`` (raised while doing ``what``, e.g. "cannot write results.json") as one line."""
    where = f" {e.filename}" if e.filename else ""
    hint = _HINTS.get(e.errno or 0, e.strerror or type(e).__name__)
    return EnvironmentProblem(f"{what}{where}: {hint} (a problem with this machine's files, "
                              "not with forage)")


def sqlite_environment_problem(e: sqlite3.OperationalError, path: Path, what: str
                               ) -> EnvironmentProblem | None:
    """A SQLite ``OperationalError`` that comes from the disk (full, read-only, cannot open) as an
    ``EnvironmentProblem``; None for other operational errors."""
    text = str(e).lower()
    if "disk is full" in text or "disk i/o" in text:
        hint = "the disk is full; free some space and rerun (finished work is kept)"
    elif "readonly" in text or "read-only" in text:
        hint = "the file or its folder is read-only; choose a writable folder"
    elif "unable to open" in text:
        hint = "the file cannot be opened (missing folder or no permission)"
    else:
        return None
    return EnvironmentProblem(f"{what} {path}: {hint} (a problem with this machine's files, "
                              "not with forage)")


def _write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise environment_problem(e, f"cannot write {path.name} into") from e
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise environment_problem(e, f"cannot write {path}") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically (temporary file in the same folder + rename)."""
    data = text.encode(encoding)
    _write_atomic(Path(path), lambda f: f.write(data))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temporary file in the same folder + rename)."""
    _write_atomic(Path(path), lambda f: f.write(data))


class FolderLock:
    """An exclusive, non-blocking lock on ``path`` (a lock file), held until ``release``.

    ``acquire`` raises ``FolderInUse`` naming the process that holds it. The lock file stays on
    disk (removing it would race with a process that just opened it); only the lock matters.
    """

    def __init__(self, path: str | Path, what: str = "this folder") -> None:
        self.path = Path(path)
        self.what = what
        self._file: IO[str] | None = None

    def acquire(self) -> FolderLock:
        try:
            f = open(self.path, "a+")  # noqa: SIM115 -- held until release()
        except OSError as e:
            raise environment_problem(e, "cannot create the lock file") from e
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            raise FolderInUse(
                f"{self.what} is in use by another forage process (pid {holder}); wait for it to "
                "finish or choose another output folder"
            ) from None
        except OSError as e:
            f.close()
            raise environment_problem(e, f"cannot lock {self.path}") from e
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


__all__ = [
    "ENVIRONMENT_ERRNOS",
    "FolderLock",
    "atomic_write_bytes",
    "atomic_write_text",
    "environment_problem",
    "sqlite_environment_problem",
]


@contextmanager
def stderr_to_devnull() -> Iterator[None]:
    """File descriptor 2 goes to /dev/null while the block runs: native libraries (llama.cpp's
    model loading, Ray's C++ core) write their log lines there directly, past ``logging``."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
