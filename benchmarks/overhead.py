"""Orchestration overhead: what a run costs beyond the model and the searches, vs raw llama.cpp.

    .venv/bin/python benchmarks/overhead.py [--questions 5] [--strategies rag,tree,thread]
                                            [--model smollm2] [--budget 4000]

A small generated world (2-3 hop bridge questions). Each strategy answers each question through
forage's own path (``forage.eval.runner.evaluate``: the driver, the budget, the trace, the embedded
backend), one call at a time, and the ledger says how long the model (``llm_seconds``) and the
searches (``tool_seconds``) took. Right after each run, the same LLM calls (the requests the
backend received, with their clipped ``max_tokens``) are replayed on a second ``llama_cpp.Llama``
of the same weights, called directly. Printed per strategy, summed over the questions:

- wall: the runs' wall time; model, wait, search: the ledger's seconds (``llm_seconds``,
  ``llm_wait_seconds``, ``tool_seconds``);
- overhead = (wall - model - search) / wall: forage's own time, outside the model and the
  searches. The wait is not subtracted: one model runs one call at a time, so a call waits while
  another call's model time runs (the tree runs independent subtasks concurrently) -- waits
  overlap model time, they are not time of their own;
- raw: the same calls on raw llama.cpp; vs raw = (wall - search - raw) / wall: the share of the
  wall time that raw llama.cpp plus the searches would not have needed (the backend's own
  tokenising and bookkeeping included). A call that asked for logprobs is replayed without them
  (raw ``create_completion`` gives them only with ``logits_all``, a slower model); forage's
  backend samples such calls in its own loop (``TokenStream``), which this column counts as
  overhead. ``same``: replies equal to forage's, a check that the calls were the same.

The thread strategy drives llama.cpp's token API itself (``forage.llm.token_stream``) rather than
making ``complete`` calls, so it has no calls to replay: its raw column is empty and its model time
is the token stream's, Python sampling loop included. Wall-clock numbers: run it on a quiet machine
(or niced beside other work, and say so: the overhead share is measured inside each run and holds
up under load; the raw column, timed after the run, does not). Run by hand; the default run makes
about 80 model calls, and as many again on raw llama.cpp.

The service's overhead on top of this (HTTP, JSON, validation, the trace store) is measured by
``benchmarks/serve_load.py --skip 1,3``: the same run over HTTP and in-process, paired, with the
same ledger split (time outside model calls). Both are in docs/LOG.md (2026-12-06, quiet machine).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.eval.datasets import open_dataset
from forage.eval.runner import evaluate
from forage.eval.sweep import knob_for
from forage.llm.base import LLMRequest, LLMResponse
from forage.llm.embedded import EmbeddedLLM
from forage.prompts.exemplars import ExemplarSet
from forage.runtime import registry
from forage.search.bm25 import BM25Search


class Recording:
    """The embedded backend, keeping every request it ran (the driver's calls, as clipped)."""

    def __init__(self, llm: EmbeddedLLM) -> None:
        self._llm = llm
        self.calls: list[tuple[LLMRequest, LLMResponse]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        response = await self._llm.complete(request)
        self.calls.append((request, response))
        return response


def replay(raw: Any, calls: list[tuple[LLMRequest, LLMResponse]]) -> tuple[float, int]:
    """The calls on raw llama.cpp: seconds, and how many gave the text forage's backend gave."""
    from llama_cpp import LlamaGrammar

    seconds, same = 0.0, 0
    for request, response in calls:
        for i in range(request.n):
            seed = 0 if request.seed is None else request.seed + i
            kwargs: dict[str, Any] = dict(max_tokens=request.max_tokens,
                                          temperature=request.temperature, top_p=request.top_p,
                                          stop=list(request.stop) or None, seed=seed)
            t0 = time.perf_counter()
            if request.grammar:  # built inside the timing: the backend builds it per call too
                kwargs["grammar"] = LlamaGrammar.from_string(request.grammar, verbose=False)
            if request.prompt is not None:  # tokenised as the backend does (no special tokens)
                tokens = raw.tokenize(request.prompt.encode("utf-8"), add_bos=True)
                out = raw.create_completion(prompt=tokens, **kwargs)
                text = out["choices"][0]["text"]
            else:
                out = raw.create_chat_completion(
                    messages=[m.model_dump() for m in request.messages or ()], **kwargs)
                text = out["choices"][0]["message"]["content"] or ""
            seconds += time.perf_counter() - t0
            same += text == response.choices[i].text
    return seconds, same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=5)
    ap.add_argument("--strategies", default="rag,tree,thread")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--budget", type=float, default=4000)
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="forage-overhead-"))
    write_world(generate_world(WorldSettings(seed=11, entities=120, hops=(2, 3), questions=60,
                                             types=("bridge",))), folder)
    ds = open_dataset(folder, limit=args.questions)
    tool = BM25Search(ds.corpus)
    exemplars = ExemplarSet.from_dev(ds.dev, seed=args.seed)
    llm = EmbeddedLLM(args.model, n_ctx=args.n_ctx, n_threads=args.threads)
    from llama_cpp import Llama

    raw = Llama(model_path=str(llm.path), lora_path=str(llm.adapter) if llm.adapter else None,
                n_ctx=args.n_ctx, n_threads=args.threads, seed=0, verbose=False, swa_full=True)
    recording = Recording(llm)

    print(f"{len(ds.questions)} question(s) of a generated world, model {llm.model_id}, budget "
          f"{args.budget:g}", flush=True)
    header = (f"{'strategy':<9}{'calls':>6}{'wall s':>9}{'model s':>9}{'wait s':>8}"
              f"{'search s':>9}{'overhead':>10}{'raw s':>8}{'vs raw':>8}{'same':>7}")
    print(header)
    for name in args.strategies.split(","):
        spec = registry.get(name)
        knob = knob_for(spec, 1)  # the knob of a sweep's second budget level
        wall = model = wait = search = raw_s = 0.0
        calls = same = choices = 0
        for q in ds.questions:
            recording.calls = []
            backend = llm if name == "thread" else recording  # thread needs the model itself
            r = asyncio.run(evaluate(
                spec, knob, q, llm=backend, tools=tool,  # type: ignore[arg-type]
                budget=args.budget, exemplars=exemplars, seed=args.seed))
            wall += r.seconds
            model += r.usage["llm_seconds"]
            wait += r.usage.get("llm_wait_seconds", 0.0)
            search += r.usage["tool_seconds"]
            calls += int(r.usage["llm_calls"])
            if recording.calls:
                s, k = replay(raw, recording.calls)
                raw_s, same = raw_s + s, same + k
                choices += sum(req.n for req, _ in recording.calls)
        overhead = (wall - model - search) / wall
        if name == "thread":
            raw_cols = f"{'-':>8}{'-':>8}{'-':>7}"
        else:
            raw_cols = (f"{raw_s:>8.2f}{(wall - search - raw_s) / wall:>8.1%}"
                        f"{same:>4}/{choices:<2}")
        print(f"{name:<9}{calls:>6}{wall:>9.2f}{model:>9.2f}{wait:>8.2f}{search:>9.3f}"
              f"{overhead:>10.2%}{raw_cols}", flush=True)


if __name__ == "__main__":
    main()
