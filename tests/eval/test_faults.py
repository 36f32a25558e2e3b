"""The fault suite: `forage bench` and `forage ask` as a user runs them, while things go wrong.

Every test drives the real CLI in a subprocess against a stub OpenAI-compatible server on
127.0.0.1 (``tests/stub_openai.py``: deterministic replies, and hanging, dying or failing on
demand), so a fault can be injected at a known point: the server holds the n-th model call while
the test kills the sweep with SIGKILL, fills the disk, damages a file or starts a second sweep.

What each sweep test checks, against one uninterrupted reference sweep:
- lost: cells of the reference missing from the final journal (must be 0);
- duplicated: cells journaled twice or rewritten by a later run (must be 0);
- identical: every cell's result equals the reference's (wall-clock fields aside);
- one line: each failure is one ``error:`` line and a non-zero exit, never an "internal error".

Full-disk and read-only cases mount a small tmpfs and are skipped, with the reason, where the
machine does not allow mounting (not root). All waits are bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from stub_openai import StubServer  # type: ignore[import-not-found]

from .test_resume import comparable, rows

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0
STRATEGIES = "rag,react"
BUDGETS = "400,1500"
LIMIT = "3"  # 3 questions x 2 strategies x 2 budgets = 12 cells


def bench_args(world: Path, out: Path, url: str, *extra: str, timeout: str = "20") -> list[str]:
    return [sys.executable, "-m", "forage.cli.app", "bench", "--dataset", str(world),
            "--strategies", STRATEGIES, "--budgets", BUDGETS, "--limit", LIMIT,
            "--base-url", url, "--timeout", timeout, "--retries", "0", "--out", str(out), *extra]


def start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)


def finish(p: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=WAIT_S * 2)
    return p.returncode, out, err


def run(args: list[str]) -> tuple[int, str, str]:
    return finish(start(args))


def kill_when_held(p: subprocess.Popen[str], stub: StubServer) -> None:
    """SIGKILL the sweep while the stub holds one of its model calls."""
    deadline = time.monotonic() + WAIT_S
    while not stub.held.wait(0.05):
        assert p.poll() is None, f"the sweep ended before the held call: {p.communicate()}"
        assert time.monotonic() < deadline, "the held call never came"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=WAIT_S)
    p.communicate()
    stub.release()


def error_line(stderr: str) -> str:
    """The one ``error:`` line of a failed command (warnings may precede it)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if not ln.startswith("warning")]
    assert len(errors) == 1, stderr
    assert errors[0].startswith("error:"), stderr
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    return errors[0]


class Reference:
    """One uninterrupted sweep: its journal rows and the model calls it made."""

    def __init__(self, rows: list[tuple], calls: list[str]) -> None:
        self.rows = rows
        self.calls = calls
        self.by_key = {r[:5]: comparable(r[5]) for r in rows}


@pytest.fixture(scope="module")
def reference(small_world, tmp_path_factory) -> Reference:
    out = tmp_path_factory.mktemp("reference") / "out"
    with StubServer() as stub:
        code, stdout, stderr = run(bench_args(small_world.path, out, stub.url))
        assert code == 0, stderr
        calls = list(stub.calls)
    ref = Reference(rows(out), calls)
    assert len(ref.rows) == 12 and len(set(r[:5] for r in ref.rows)) == 12
    return ref


def check_against(reference: Reference, out: Path, before: list[list[tuple]]) -> dict[str, int]:
    """Lost and duplicated cells of a finished journal; asserts both are 0 and the results equal
    the reference's. ``before`` holds the journal rows seen after each interrupted run."""
    final = rows(out)
    keys = [r[:5] for r in final]
    lost = len(set(reference.by_key) - set(keys))
    duplicated = len(keys) - len(set(keys))
    for earlier in before:  # rows journaled before a fault are never rewritten later
        duplicated += sum(1 for r in earlier if r not in final)
    assert lost == 0 and duplicated == 0, (lost, duplicated)
    assert {r[:5]: comparable(r[5]) for r in final} == reference.by_key
    return {"runs": len(before) + 1, "lost": lost, "duplicated": duplicated}


def report(fault: str, numbers: dict[str, int]) -> None:
    print(f"\nFAULT | {fault} | runs {numbers['runs']} | lost {numbers['lost']} | "
          f"duplicated {numbers['duplicated']}")


# -- kill -9 ----------------------------------------------------------------------------------


def test_sigkill_at_three_points_then_resume_loses_and_repeats_nothing(
        small_world, reference, tmp_path):
    out = tmp_path / "out"
    snapshots = []
    with StubServer() as stub:
        for point in ("first", "middle", "last"):  # which of the calls still to make is held
            # Calls answered so far are cached, so a resumed sweep makes only the others; the
            # call in flight at each kill was logged by the stub but never answered.
            remaining = len(reference.calls) - (len(stub.calls) - len(snapshots))
            nth = {"first": 1, "middle": remaining // 2, "last": remaining}[point]
            stub.hold_at(len(stub.calls) + nth)
            kill_when_held(start(bench_args(small_world.path, out, stub.url)), stub)
            snapshots.append(rows(out))
        code, _, stderr = run(bench_args(small_world.path, out, stub.url))
        assert code == 0, stderr
    assert [len(s) for s in snapshots][0] == 0 and 0 < len(snapshots[1]) < 11
    assert len(snapshots[2]) == 11
    numbers = check_against(reference, out, snapshots)
    assert (out / "report.html").is_file() and (out / "results.json").is_file()
    report("kill -9 at the first, middle and last model call, then resume", numbers)


def test_rerun_of_a_finished_sweep_calls_no_model(small_world, reference, tmp_path):
    out = tmp_path / "out"
    with StubServer() as stub:
        assert run(bench_args(small_world.path, out, stub.url))[0] == 0
        first = len(stub.calls)
        code, stdout, stderr = run(bench_args(small_world.path, out, stub.url))
        assert code == 0, stderr
        assert len(stub.calls) == first  # nothing recomputed
    assert "12 cell(s) already in the journal" in stdout
    report("rerun of a finished sweep", check_against(reference, out, [rows(out)]))


# -- damaged files ----------------------------------------------------------------------------


def test_a_damaged_cache_is_set_aside_with_a_warning_and_the_sweep_completes(
        small_world, reference, tmp_path):
    out = tmp_path / "out"
    with StubServer() as stub:
        stub.hold_at(len(reference.calls) // 2)
        kill_when_held(start(bench_args(small_world.path, out, stub.url)), stub)
        at_kill = rows(out)
        for suffix in ("-wal", "-shm"):
            (out / f"cache.sqlite{suffix}").unlink(missing_ok=True)
        (out / "cache.sqlite").write_bytes(b"this is not a database" * 200)
        code, _, stderr = run(bench_args(small_world.path, out, stub.url))
    assert code == 0, stderr
    assert "call cache" in stderr and "damaged" in stderr and "moved it to" in stderr
    assert (out / "cache.sqlite.corrupt").read_bytes().startswith(b"this is not a database")
    report("damaged cache.sqlite, then resume", check_against(reference, out, [at_kill]))


@pytest.mark.parametrize("damage", ["garbage", "overwritten pages"])
def test_a_damaged_journal_is_refused_in_one_line_and_left_untouched(
        small_world, reference, tmp_path, damage):
    out = tmp_path / "out"
    with StubServer() as stub:
        assert run(bench_args(small_world.path, out, stub.url))[0] == 0
        journal = out / "journal.sqlite"
        data = bytearray(journal.read_bytes())
        if damage == "garbage":
            data = bytearray(b"\x00garbage" * (len(data) // 8))
        else:  # keep the header, scribble over every page after the first two
            for i in range(8192, len(data), 4096):
                data[i: i + 64] = os.urandom(64)
        journal.write_bytes(bytes(data))
        calls = len(stub.calls)
        code, _, stderr = run(bench_args(small_world.path, out, stub.url))
        assert len(stub.calls) == calls  # no work started
    assert code == 1
    line = error_line(stderr)
    assert str(journal) in line and "damaged" in line and "move it aside" in line
    assert journal.read_bytes() == bytes(data)


# -- the disk ---------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *options: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    opts = ",".join((f"size={size}", *options))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        if os.geteuid() == 0:  # root (as in CI) can mount: a failure here is a real problem
            pytest.fail(f"mount -t tmpfs failed as root: {r.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here (needs root; mount said: {r.stderr.strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> Path:
    """Write a file into ``folder`` until its disk is full."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_stops_the_sweep_in_one_line_and_a_rerun_completes_it(
        small_world, reference, tmp_path):
    with tmpfs(tmp_path / "disk", "8m") as disk:
        out = disk / "out"
        with StubServer() as stub:
            stub.hold_at(len(reference.calls) // 2)
            p = start(bench_args(small_world.path, out, stub.url))
            deadline = time.monotonic() + WAIT_S
            while not stub.held.wait(0.05):
                assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            filler = fill(disk)
            stub.release()
            code, _, stderr = finish(p)
            at_failure = rows(out)
            assert code == 1, stderr
            line = error_line(stderr)
            assert "disk is full" in line and "not with forage" in line
            filler.unlink()
            code, _, stderr = run(bench_args(small_world.path, out, stub.url))
            assert code == 0, stderr
        numbers = check_against(reference, out, [at_failure])
    report("disk full mid-sweep (tmpfs), free space, rerun", numbers)


def test_a_read_only_output_folder_is_the_machines_problem_in_one_line(small_world, tmp_path):
    with tmpfs(tmp_path / "ro", "1m", "ro") as ro, StubServer() as stub:
        code, _, stderr = run(bench_args(small_world.path, ro / "out", stub.url))
    assert code == 1
    line = error_line(stderr)
    assert "read-only" in line and str(ro) in line


def test_an_output_path_under_a_file_is_the_machines_problem_in_one_line(small_world, tmp_path):
    (tmp_path / "file").write_text("x")
    with StubServer() as stub:
        code, _, stderr = run(bench_args(small_world.path, tmp_path / "file" / "out", stub.url))
    assert code == 1
    assert "not a folder" in error_line(stderr)


# -- servers ----------------------------------------------------------------------------------


def test_a_server_that_dies_mid_sweep_stops_it_and_a_rerun_completes_it(
        small_world, reference, tmp_path):
    out = tmp_path / "out"
    with StubServer() as stub:
        stub.hold_at(len(reference.calls) // 2)
        p = start(bench_args(small_world.path, out, stub.url))
        deadline = time.monotonic() + WAIT_S
        while not stub.held.wait(0.05):
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        stub.mode = "die"
        stub.release()
        code, _, stderr = finish(p)
        at_failure = rows(out)
        assert code == 1, stderr
        assert "cannot reach" in error_line(stderr) or "disconnected" in stderr
        stub.mode = "ok"
        code, _, stderr = run(bench_args(small_world.path, out, stub.url))
        assert code == 0, stderr
    report("server dies mid-sweep, rerun", check_against(reference, out, [at_failure]))


@pytest.mark.parametrize("mode,message", [("hang", "no reply from"), ("die", "cannot reach"),
                                          ("error", "answered 500")])
def test_ask_against_a_bad_server_retries_visibly_and_says_the_total_time(tmp_path, mode, message):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Paris is the capital of France.")
    with StubServer(mode) as stub:
        url = stub.url.replace("http://", "http://alice:s3cret@") + "?key=k3y"
        code, _, stderr = run([sys.executable, "-m", "forage.cli.app", "ask", "Capital?",
                               "--corpus", str(corpus), "--base-url", url, "--timeout", "1",
                               "--retries", "1"])
    assert code == 1
    retries = [ln for ln in stderr.splitlines() if ln.startswith("warning:")]
    assert len(retries) == 1 and "attempt 1 of 2" in retries[0], stderr
    line = error_line(stderr)
    assert message in line and "gave up after 2 attempts over" in line
    assert "s3cret" not in stderr and "k3y" not in stderr and "alice" not in stderr


def test_bench_against_a_hanging_server_fails_at_the_probe_in_one_line(small_world, tmp_path):
    with StubServer("hang") as stub:
        code, _, stderr = run(bench_args(small_world.path, tmp_path / "out", stub.url,
                                         timeout="1"))
    assert code == 1
    assert "cannot reach the model server" in error_line(stderr)
    assert not (tmp_path / "out").exists()


# -- two sweeps -------------------------------------------------------------------------------


def test_a_second_bench_into_the_same_folder_is_refused_and_the_first_completes(
        small_world, reference, tmp_path):
    out = tmp_path / "out"
    with StubServer() as stub:
        stub.hold_at(3)
        first = start(bench_args(small_world.path, out, stub.url))
        deadline = time.monotonic() + WAIT_S
        while not stub.held.wait(0.05):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        calls = len(stub.calls)
        code, _, stderr = run(bench_args(small_world.path, out, stub.url))
        assert len(stub.calls) == calls  # the second sweep did no work
        stub.release()
        assert code == 1
        line = error_line(stderr)
        assert "in use by another forage process" in line and str(first.pid) in line
        code, _, stderr = finish(first)
        assert code == 0, stderr
        assert len(stub.calls) == len(reference.calls)
    numbers = check_against(reference, out, [])
    report("two benches into one folder at once", {**numbers, "runs": 2})


def test_the_lock_of_a_killed_sweep_does_not_block_the_next(small_world, reference, tmp_path):
    out = tmp_path / "out"
    with StubServer() as stub:
        stub.hold_at(2)
        kill_when_held(start(bench_args(small_world.path, out, stub.url)), stub)
        assert (out / "journal.sqlite.lock").exists()
        code, _, stderr = run(bench_args(small_world.path, out, stub.url))
        assert code == 0, stderr
    check_against(reference, out, [])


def test_progress_lines_reach_a_redirected_stdout_while_the_sweep_runs(small_world, tmp_path):
    log = tmp_path / "bench.log"
    with StubServer() as stub, open(log, "w") as f:
        stub.hold_at(5)
        p = subprocess.Popen(bench_args(small_world.path, tmp_path / "out", stub.url), stdout=f,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT)
        deadline = time.monotonic() + WAIT_S
        while not stub.held.wait(0.05):
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        written = log.read_text()  # the sweep is still running: its call 5 is held
        stub.release()
        assert p.wait(timeout=WAIT_S) == 0, p.communicate()
    assert written.startswith("sweep: 12 cell(s)")
    assert "[1/12]" in written
    final = log.read_text()
    assert "[12/12]" in final and final.count("\n[") >= 12


def test_sqlite_rows_of_a_killed_sweep_are_never_half_written(small_world, reference, tmp_path):
    """Every journaled row of a killed sweep decodes as a full result (the commit is atomic)."""
    out = tmp_path / "out"
    with StubServer() as stub:
        stub.hold_at(len(reference.calls) // 3)
        kill_when_held(start(bench_args(small_world.path, out, stub.url)), stub)
    got = {tuple(r[:5]): comparable(r[5]) for r in rows(out)}
    assert got and all(reference.by_key[k] == v for k, v in got.items())


# -- bad input: a Ray address with nothing (or no Ray) behind it, a manifest that is not JSON ----


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_bounded(args: list[str], limit_s: float) -> tuple[int, str, str, float]:
    """Run ``args`` to the end, killed (and the test failed) if it runs past ``limit_s``."""
    t0 = time.monotonic()
    p = start(args)
    try:
        out, err = p.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"still running after {limit_s:g}s; stderr: {err[-2000:]}")
    return p.returncode, out, err, time.monotonic() - t0


def ray_bench_args(world: Path, out: Path, url: str, address: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "forage.cli.app", "bench", "--dataset", str(world),
            "--strategies", "rag", "--budgets", "500", "--limit", "2", "--base-url", url,
            "--out", str(out), "--executor", "ray", "--address", address, *extra]


@pytest.mark.ray
def test_a_ray_address_with_nothing_behind_it_is_one_line_within_the_connect_timeout(
        small_world, tmp_path):
    address = f"127.0.0.1:{_closed_port()}"
    with StubServer("ok") as stub:
        code, _, stderr, took = run_bounded(  # the default connect timeout (30 s)
            ray_bench_args(small_world.path, tmp_path / "out", stub.url, address), 90)
    assert code == 2
    line = error_line(stderr)  # one line: no Ray log lines around it
    assert f"cannot connect to the Ray cluster at {address}" in line
    assert took < 60, f"took {took:.0f}s"


@pytest.mark.ray
def test_a_ray_address_that_is_no_ray_head_is_one_line_within_the_connect_timeout(
        small_world, tmp_path):
    with socket.socket() as listener, StubServer("ok") as stub:  # answers TCP, never speaks Ray
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        code, _, stderr, took = run_bounded(ray_bench_args(
            small_world.path, tmp_path / "out", stub.url, address, "--connect-timeout", "5"), 90)
    assert code == 2
    assert f"cannot connect to the Ray cluster at {address}" in error_line(stderr)
    assert took < 60, f"took {took:.0f}s"


def test_a_model_manifest_that_is_not_json_is_one_readable_line(small_world, tmp_path):
    manifest = tmp_path / "adapter.json"
    manifest.write_text("{not json\n")
    code, _, stderr = run([sys.executable, "-m", "forage.cli.app", "bench", "--dataset",
                           str(small_world.path), "--model", str(manifest), "--out",
                           str(tmp_path / "out")])
    assert code == 1
    line = error_line(stderr)
    assert str(manifest) in line and "line 1, column 2" in line, line
    assert "JSONDecodeError" not in line and "Error(" not in line
