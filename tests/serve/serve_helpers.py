"""Shared by the service's tests: a live ``forage serve`` application on 127.0.0.1 (uvicorn in a
thread, real HTTP, a free port), a small corpus and a stand-in model that drives the hierarchy
(plans two sub-questions, reads, synthesises) so trees with pruned branches are deterministic."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from forage.core.types import Document
from forage.llm.base import Capabilities, LLMRequest
from forage.llm.testing import FunctionLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.serve.app import create_app
from forage.serve.settings import ServeSettings

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key-0123456789"
QUESTION = "In which town was the founder of the Lantern Society born?"
LANTERN = [
    Document("1", "Lantern Society", "The Lantern Society was founded by Ada Prell in 1956."),
    Document("2", "Ada Prell", "Ada Prell was born in Harrowgate and taught school."),
    Document("3", "Harrowgate", "Harrowgate is a market town on the river Wex."),
    Document("4", "Morning Gull", "Morning Gull is a ferry built in 1931."),
]
FACTS = {"Who founded the Lantern Society?": "Ada Prell", "Where was Ada Prell born?": "Harrowgate"}
PLAN = " Who founded the Lantern Society?\n2. Where was #1 born?"
COMPLETION = Capabilities(exact_token_count=True, prompt_profile="completion")


def corpus(extra: list[Document] | None = None) -> BM25Search:
    return BM25Search(Corpus(LANTERN + list(extra or [])), name="lantern")


def tree_model() -> FunctionLLM:
    """Plans the two-hop question, reads facts from FACTS, synthesises from the conclusions."""

    def reply(request: LLMRequest) -> str:
        prompt = request.prompt or ""
        if prompt.startswith("Split each question"):
            return PLAN
        if prompt.startswith("Answer the main question"):
            return "Harrowgate"
        found = re.findall(r"^Question: (.*)$", prompt, re.M)
        return FACTS.get(found[-1], "unknown") if found else "unknown"

    return FunctionLLM(reply, capabilities=COMPLETION)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Live:
    def __init__(self, app, port: int, thread: threading.Thread, server: uvicorn.Server):
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._thread = thread
        self._server = server

    def headers(self, key: str | None = KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}


@contextmanager
def live_server(llm=None, tools=None, **settings) -> Iterator[Live]:
    """``create_app`` served by uvicorn in a thread on a free loopback port until the block ends."""
    settings.setdefault("api_key", KEY)
    app = create_app(ServeSettings(**settings), llm=llm or tree_model(),
                     corpora=tools or {"lantern": corpus()})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield Live(app, port, thread, server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def chat(live: Live, body: dict | bytes | str, *, key: str | None = KEY,
         timeout: float = 60) -> httpx.Response:
    """POST a raw body (or a JSON object) to /v1/chat/completions."""
    if isinstance(body, dict):
        return httpx.post(f"{live.url}/v1/chat/completions", json=body,
                          headers=live.headers(key), timeout=timeout)
    content = body.encode() if isinstance(body, str) else body
    return httpx.post(f"{live.url}/v1/chat/completions", content=content,
                      headers={**live.headers(key), "Content-Type": "application/json"},
                      timeout=timeout)


def ask(model: str = "forage-tree", question: str = QUESTION, **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": question}], **extra}


def forage(*args: str, env: dict[str, str] | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the ``forage`` command to completion, as a user does."""
    return subprocess.run([sys.executable, "-m", "forage.cli.app", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=_env(env))


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FORAGE_SERVE_API_KEY"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    return {**env, **(extra or {})}


@contextmanager
def serve_process(*args: str, env: dict[str, str] | None = None,
                  start_timeout: float = 180) -> Iterator[str]:
    """``forage serve ARGS --port <free>`` in a subprocess; yields its base URL once /health
    answers, and stops it at the end of the block."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "forage.cli.app", "serve", *args,
                             "--port", str(port)], cwd=ROOT, env=_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"forage serve exited: {proc.stdout.read()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"forage serve did not start in {start_timeout:g} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
