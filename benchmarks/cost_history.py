"""Does a run's charged compute depend on what ran before it on the same loaded model?

    .venv/bin/python benchmarks/cost_history.py [--model smollm2] [--strategies react,thread] \
        [--budgets 300,600] [--question 0] [--world-seed 7]

For each strategy and budget, one generated-world test question runs three times: alone on a
freshly loaded model (a resumed sweep in a new process), on a model that first ran other questions
with other strategies, and straight after itself (the KV cache then holds its own last prompt).
Printed per run: LLM calls, prompt tokens charged as cached, compute units and the answer; the last
column says whether the three runs were charged identically. No timing: this is about accounting.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from forage.core.budget import Budget
from forage.data.loaders import load
from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.llm.embedded import EmbeddedLLM
from forage.runtime import registry
from forage.runtime.driver import run
from forage.search.bm25 import BM25Search
from forage.search.corpus import load_corpus


def once(llm, name: str, knob: int, question, tool, compute: float) -> tuple[Budget, str]:
    budget = Budget(compute)
    answer = asyncio.run(run(registry.get(name).build(knob), question, llm=llm, tools=tool,
                             budget=budget))  # fmt: skip
    return budget, answer.text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--strategies", default="react,thread")
    ap.add_argument("--budgets", default="300,600")
    ap.add_argument("--knob", type=int, default=2)
    ap.add_argument("--question", type=int, default=0)
    ap.add_argument("--world-seed", type=int, default=7)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        world = generate_world(WorldSettings(seed=args.world_seed, entities=200, hops=(1, 3),
                                             questions=60))  # fmt: skip
        write_world(world, Path(tmp))
        test = load(Path(tmp) / "test.jsonl").questions
        tool = BM25Search(load_corpus(Path(tmp) / "corpus.jsonl"))
    q, others = test[args.question], test[args.question + 1 : args.question + 3]
    shared = EmbeddedLLM(args.model, n_ctx=1024)
    print("strategy | budget | run | llm calls | cached prompt tokens | compute | answer")
    for name in args.strategies.split(","):
        for compute in (float(b) for b in args.budgets.split(",")):
            fresh = EmbeddedLLM(args.model, n_ctx=1024)
            rows = [("alone, fresh model", *once(fresh, name, args.knob, q, tool, compute))]
            del fresh
            for other_name, other_q in zip(("thread", "react"), others):
                once(shared, other_name, 2, other_q, tool, 600.0)
            once(shared, name, args.knob, others[0], tool, compute)  # same strategy, other question
            rows.append(("after other runs", *once(shared, name, args.knob, q, tool, compute)))
            rows.append(("straight after itself", *once(shared, name, args.knob, q, tool, compute)))
            computes = {round(b.ledger.compute, 6) for _, b, _ in rows}
            for label, b, text in rows:
                u = b.ledger.usage
                print(f"{name} | {compute:g} | {label} | {u.llm_calls} | {u.cached_prompt_tokens} "
                      f"| {b.ledger.compute:.2f} | {text!r}")  # fmt: skip
            print(f"{name} | {compute:g} | identical: {len(computes) == 1}")


if __name__ == "__main__":
    main()
