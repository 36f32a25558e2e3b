"""``forage serve`` under load: throughput, latency, memory, budgets, and the server's overhead.

    nice -n 10 .venv/bin/python benchmarks/serve_load.py [--clients 1,4,16] [--phase-requests 16]
        [--requests 200] [--load-upstream embedded|stub] [--pairs 8] [--model smollm2]
        [--strategy rag] [--knob 1] [--budget 600]

1. **Throughput and latency** against the embedded model: the real ``forage serve`` (a subprocess
   on 127.0.0.1, ``--model``, examples/corpus); after a warm-up, bounded loops of 1, 4 and 16
   concurrent clients (``httpx``, one connection each) send ``--phase-requests`` good requests
   (at least one per client): requests per second, p50 and p95 latency.
2. **Overhead** of the service: one process loads the model once, serves it with uvicorn in a
   thread, and for each of ``--pairs`` questions times the same run over HTTP and in-process
   through the driver (same model, strategy, knob, budget), alternating, so both see the same
   machine load, each starting from an empty prefix cache (otherwise the second run of a question
   finds its whole prompt cached); the ratio is median(HTTP) / median(in-process).
3. **The load test:** ``--requests`` requests from the largest client count against a fresh
   ``forage serve`` with malformed requests (bad JSON, unknown model, negative budget, oversized
   body: every 10th) and client disconnects (a plain request abandoned after a moment, or a stream
   closed after its first event: every 15th) mixed in. Every good response must stay within its
   budget and search cap with ``usage`` equal to its ledger, every bad one must get its 4xx OpenAI
   error object; afterwards nothing may be left running, every stored run (cancelled ones
   included) must be within its budget, a fresh request must be answered, and the server's RSS
   must stay within ``--rss-tolerance-mb`` of its RSS after the warm-up. The upstream is the
   embedded model, or with ``--load-upstream stub`` the stub OpenAI-compatible server of the tests
   (``tests/stub_openai.py``, 50 ms a call), which makes the server itself the thing under load.

Exit status 1 when a check of part 3 fails. ``tests/serve/test_load.py`` runs part 3, shorter.
Timing is for this table only, never a test assertion.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "corpus"
KEY = "sk-forage-load-0123456789"
QUESTIONS = (
    "Who founded the Marrow Festival?",
    "Who designed Skerry Point Lighthouse?",
    "Where was Odile Maren born?",
    "Who founded the Grey Sound Ferry Company?",
    "When was the sea wall of Brennock completed?",
    "Whom did Odile Maren marry?",
    "What is Caddel known for?",
    "Which island does the ferry from Brennock reach?",
)
BAD = (
    ("bad json", b'{"model": "forage-rag", "messages": [', 400),
    ("unknown model", None, 404),
    ("negative budget", None, 400),
    ("oversized body", None, 413),
)


@dataclass
class Load:
    """What one bounded loop of clients saw."""

    ok: int = 0
    refused: int = 0  # bad requests answered with a 4xx error object
    disconnected: int = 0
    busy: int = 0  # 429
    problems: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0

    @property
    def rps(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def forage_serve(*, model: str = "smollm2", base_url: str | None = None, max_concurrency: int = 2,
                 max_queue: int = 64, max_traces: int = 100, extra: tuple[str, ...] = ()
                 ) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The real ``forage serve`` on a free loopback port; yields (base URL, process)."""
    port = free_port()
    env = {**os.environ, "FORAGE_SERVE_API_KEY": KEY,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "forage.cli.app", "serve", "--corpus", str(CORPUS),
         *(("--base-url", base_url, "--retries", "0") if base_url else
           ("--model", model, "--n-ctx", "2048")), "--port", str(port), "--max-concurrency", str(max_concurrency),
         "--max-queue", str(max_queue), "--max-traces", str(max_traces), "--max-body-bytes",
         "16384", *extra],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"forage serve exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("forage serve did not start")
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def body(question: str, *, strategy: str, knob: int, budget: float, searches: int,
         stream: bool = False) -> dict:
    return {"model": f"forage-{strategy}", "messages": [{"role": "user", "content": question}],
            "budget": budget, "knob": knob, "max_search_calls": searches, "stream": stream}


def _bad_body(kind: str, good: dict) -> bytes:
    if kind == "bad json":
        return b'{"model": "forage-rag", "messages": ['
    if kind == "unknown model":
        return json.dumps({**good, "model": "forage-nonexistent"}).encode()
    if kind == "negative budget":
        return json.dumps({**good, "budget": -100}).encode()
    return json.dumps({**good, "padding": "x" * 20000}).encode()  # oversized


def _check_good(r: httpx.Response, load: Load, budget: float, searches: int) -> None:
    if r.status_code == 429:
        load.busy += 1
        return
    if r.status_code != 200:
        load.problems.append(f"good request answered {r.status_code}: {r.text[:200]}")
        return
    ext = r.json()["forage"]
    if not ext["budget"]["spent"] <= budget + 1e-6:
        load.problems.append(f"overspent: {ext['budget']}")
    if ext["budget"]["search_calls"] > searches:
        load.problems.append(f"too many searches: {ext['budget']}")
    u = r.json()["usage"]
    if u["total_tokens"] != ext["ledger"]["prompt_tokens"] + ext["ledger"]["completion_tokens"]:
        load.problems.append("usage differs from the ledger")
    load.ok += 1


async def run_load(url: str, *, requests: int, clients: int, strategy: str, knob: int,
                   budget: float, searches: int = 2, bad_every: int = 0,
                   disconnect_every: int = 0, seed: int = 0) -> Load:
    """``requests`` requests from ``clients`` concurrent clients; every ``bad_every``-th is
    malformed and every ``disconnect_every``-th is abandoned (0 = none)."""
    load = Load()
    rng = random.Random(seed)
    plan = []
    for i in range(requests):
        q = QUESTIONS[i % len(QUESTIONS)]
        if bad_every and i % bad_every == bad_every - 1:
            plan.append(("bad", q, BAD[(i // bad_every) % len(BAD)][0]))
        elif disconnect_every and i % disconnect_every == disconnect_every - 1:
            plan.append(("leave", q, "stream" if (i // disconnect_every) % 2 else "plain"))
        else:
            plan.append(("good", q, ""))
    queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as http:
            while not queue.empty():
                kind, q, how = queue.get_nowait()
                good = body(q, strategy=strategy, knob=knob, budget=budget, searches=searches)
                if kind == "good":
                    t0 = time.perf_counter()
                    r = await http.post("/v1/chat/completions", json=good)
                    if r.status_code == 200:
                        load.latencies.append(time.perf_counter() - t0)
                    _check_good(r, load, budget, searches)
                elif kind == "bad":
                    r = await http.post("/v1/chat/completions", content=_bad_body(how, good))
                    expected = dict((k, s) for k, _, s in BAD)[how]
                    error = r.json().get("error") if r.headers.get("content-type", "").startswith(
                        "application/json") else None
                    if r.status_code != expected or not error or not error.get("message"):
                        load.problems.append(f"{how}: {r.status_code} {r.text[:200]}")
                    else:
                        load.refused += 1
                elif how == "plain":
                    try:
                        await http.post("/v1/chat/completions", json=good,
                                        timeout=rng.uniform(0.02, 0.3))
                        load.ok += 1  # it finished before the client gave up
                    except httpx.TimeoutException:
                        load.disconnected += 1
                else:
                    async with http.stream("POST", "/v1/chat/completions",
                                           json={**good, "stream": True}) as r:
                        async for _ in r.aiter_lines():
                            break  # leave after the first event
                    load.disconnected += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    load.wall = time.perf_counter() - t0
    return load


def audit(url: str, *, strategy: str, knob: int, budget: float, searches: int = 2) -> list[str]:
    """After a load: nothing running, every stored run within its budget, a fresh request works."""
    problems = []
    h = {"Authorization": f"Bearer {KEY}"}
    deadline = time.monotonic() + 30
    while httpx.get(f"{url}/health").json()["running"] and time.monotonic() < deadline:
        time.sleep(0.1)
    if httpx.get(f"{url}/health").json()["running"]:
        problems.append("requests still running after the load")
    for rec in httpx.get(f"{url}/v1/traces?limit=1000", headers=h).json()["data"]:
        if not rec["spent"] <= rec["budget"] + 1e-6:
            problems.append(f"run {rec['id']} ({rec['status']}) overspent")
        if rec["search_calls"] > rec["max_search_calls"]:
            problems.append(f"run {rec['id']} exceeded its search cap")
    r = httpx.post(f"{url}/v1/chat/completions", headers=h, timeout=120,
                   json=body(QUESTIONS[0], strategy=strategy, knob=knob, budget=budget,
                             searches=searches))
    if r.status_code != 200:
        problems.append(f"a fresh request after the load got {r.status_code}")
    return problems


def overhead(questions: list[str], *, model: str, strategy: str, knob: int, budget: float,
             searches: int = 2) -> tuple[list[float], list[float], list[tuple[float, float]]]:
    """Seconds per question over HTTP (uvicorn in a thread, the same loaded model) and
    in-process through the driver, measured alternately; returns (http, local, and per pair the
    seconds each spent outside model calls: wall minus the ledger's ``llm_seconds``)."""
    import threading

    import uvicorn

    from forage.core.budget import Budget, Caps
    from forage.llm.embedded import EmbeddedLLM
    from forage.runtime.driver import run
    from forage.runtime.ask import bm25_over, build_strategy
    from forage.serve.app import create_app
    from forage.serve.settings import ServeSettings

    llm = EmbeddedLLM(model, n_ctx=2048)
    tool = bm25_over(CORPUS, name="corpus")
    app = create_app(ServeSettings(api_key=KEY, max_traces=len(questions) + 8), llm=llm,
                     corpora={"corpus": tool})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    h = {"Authorization": f"Bearer {KEY}"}
    http_s: list[float] = []
    local_s: list[float] = []
    beside_model: list[tuple[float, float]] = []  # seconds outside model calls: (HTTP, local)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=h, timeout=600) as c:
            for i, q in enumerate([questions[0], *questions]):  # the first pair warms up
                cold(llm)
                t0 = time.perf_counter()
                r = c.post("/v1/chat/completions", json=body(q, strategy=strategy, knob=knob,
                                                             budget=budget, searches=searches))
                t_http = time.perf_counter() - t0
                r.raise_for_status()
                http_model = r.json()["forage"]["ledger"]["llm_seconds"]
                cold(llm)
                t0 = time.perf_counter()
                b = Budget(budget, caps=Caps(search_calls=searches))
                asyncio.run(run(build_strategy(strategy, knob), q, llm=llm, tools=tool, budget=b))
                t_local = time.perf_counter() - t0
                if i:
                    http_s.append(t_http)
                    local_s.append(t_local)
                    beside_model.append((t_http - http_model, t_local - b.ledger.usage.llm_seconds))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return http_s, local_s, beside_model


def cold(llm) -> None:
    """Empty the embedded model's prefix cache, so no run reuses the KV cells of the previous one
    (the second run of a question would otherwise find its whole prompt cached)."""
    with llm.exclusive():
        llm.llama.reset()


@contextmanager
def upstream_stub(delay: float = 0.05) -> Iterator[str]:
    """The tests' stub OpenAI-compatible server (instant, deterministic replies after ``delay``)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from stub_openai import StubServer  # type: ignore[import-not-found]

    with StubServer() as stub:
        stub.delay = delay
        yield stub.url


def load_test(*, requests: int, clients: int, upstream: str, model: str, strategy: str,
              knob: int, budget: float, rss_tolerance_mb: float,
              log: bool = True) -> tuple[Load, list[str], dict[str, float]]:
    """Part 3: returns the load, every problem found, and the server's RSS (MB) at each point."""
    with nullcontext() if upstream == "embedded" else upstream_stub() as base_url:
        with forage_serve(model=model, base_url=base_url) as (url, proc):
            common = dict(strategy=strategy, knob=knob, budget=budget)
            asyncio.run(run_load(url, requests=16, clients=4, **common))  # warm-up
            rss = {"warm": rss_mb(proc.pid)}
            big = asyncio.run(run_load(url, requests=requests, clients=clients, bad_every=10,
                                       disconnect_every=15, **common))
            problems = big.problems + audit(url, **common)
            rss["after"] = rss_mb(proc.pid)
    if rss["after"] - rss["warm"] > rss_tolerance_mb:
        problems.append(f"RSS grew {rss['after'] - rss['warm']:.0f} MB (tolerance "
                        f"{rss_tolerance_mb:g})")
    if big.refused != sum(1 for i in range(requests) if i % 10 == 9):
        problems.append(f"{big.refused} malformed requests refused, not every one")
    if log:
        print(f"load test ({upstream} upstream): {requests} requests, {clients} clients: "
              f"{big.ok} ok, {big.refused} malformed refused, {big.disconnected} disconnected, "
              f"{big.busy} 429s, {big.wall:.1f} s; server RSS after warm-up {rss['warm']:.0f} MB, "
              f"after {rss['after']:.0f} MB ({rss['after'] - rss['warm']:+.1f} MB, tolerance "
              f"{rss_tolerance_mb:g}); problems: {problems or 'none'}", flush=True)
    return big, problems, rss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--phase-requests", type=int, default=16)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--load-upstream", choices=("embedded", "stub"), default="embedded")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--strategy", default="rag")
    ap.add_argument("--knob", type=int, default=1)
    ap.add_argument("--budget", type=float, default=600.0)
    ap.add_argument("--rss-tolerance-mb", type=float, default=32.0)
    ap.add_argument("--skip", default="", help="parts to skip, e.g. 1,2")
    args = ap.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    skip = set(args.skip.split(","))
    common = dict(strategy=args.strategy, knob=args.knob, budget=args.budget)
    if "1" not in skip:
        with forage_serve(model=args.model) as (url, _):
            asyncio.run(run_load(url, requests=4, clients=2, **common))  # warm-up
            for c in counts:
                n = max(args.phase_requests, c)  # every client sends at least one
                load = asyncio.run(run_load(url, requests=n, clients=c, **common))
                print(f"{c:>3} clients, {n} requests: {load.rps:.2f} req/s, "
                      f"p50 {load.pct(0.5):.2f} s, p95 {load.pct(0.95):.2f} s, 429s {load.busy}, "
                      f"problems {load.problems or 'none'}", flush=True)
    if "2" not in skip:
        qs = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.pairs)]
        http_s, local_s, beside = overhead(qs, model=args.model, **common)
        print(f"overhead: {len(qs)} questions, median over HTTP {statistics.median(http_s):.3f} s, "
              f"in-process {statistics.median(local_s):.3f} s, ratio "
              f"{statistics.median(http_s) / statistics.median(local_s):.3f}x (per-pair ratios "
              f"{', '.join(f'{a / b:.2f}' for a, b in zip(http_s, local_s))}); outside model "
              f"calls: HTTP median {statistics.median(a for a, _ in beside):.3f} s, in-process "
              f"{statistics.median(b for _, b in beside):.3f} s", flush=True)
    problems: list[str] = []
    if "3" not in skip:
        _, problems, _ = load_test(requests=args.requests, clients=max(counts),
                                   upstream=args.load_upstream, model=args.model,
                                   rss_tolerance_mb=args.rss_tolerance_mb, **common)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
