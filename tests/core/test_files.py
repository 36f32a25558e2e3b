"""Atomic writes, the folder lock and the one-line description of a refusing disk."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from forage.core.errors import EnvironmentProblem, FolderInUse
from forage.core.files import FolderLock, atomic_write_text, environment_problem


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    target.write_text("old")

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(EnvironmentProblem, match="disk is full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_an_atomic_write_replaces_the_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    atomic_write_text(target, "new ü")
    assert target.read_text(encoding="utf-8") == "new ü"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_second_lock_on_a_held_folder_is_refused_naming_the_holder(tmp_path):
    with FolderLock(tmp_path / "x.lock", "folder out"):
        with pytest.raises(FolderInUse, match=f"folder out is in use .*pid {os.getpid()}"):
            FolderLock(tmp_path / "x.lock", "folder out").acquire()
    FolderLock(tmp_path / "x.lock").acquire().release()  # released: free again


def test_the_lock_of_a_killed_process_is_free(tmp_path):
    code = ("import sys, time; sys.path.insert(0, sys.argv[2]);"
            "from forage.core.files import FolderLock;"
            "lock = FolderLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)")
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "x.lock"), src],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        with pytest.raises(FolderInUse):
            FolderLock(tmp_path / "x.lock").acquire()
    finally:
        p.kill()
        p.wait(timeout=30)
    FolderLock(tmp_path / "x.lock").acquire().release()


@pytest.mark.parametrize("code,needle", [(errno.EROFS, "read-only"), (errno.ENOSPC, "disk is full"),
                                         (errno.ENOTDIR, "not a folder")])
def test_environment_problems_name_the_file_and_the_cause(code, needle):
    e = environment_problem(OSError(code, os.strerror(code), "/data/out/x"), "cannot write")
    assert str(e).startswith("cannot write /data/out/x: ") and needle in str(e)
    assert "not with forage" in str(e) and "\n" not in str(e)
