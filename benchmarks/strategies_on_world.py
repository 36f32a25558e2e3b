"""Accuracy and mean compute of strategies on generated-world test questions, one run side by side.

    .venv/bin/python benchmarks/strategies_on_world.py --strategies rag,react --n 50 --hops 2-3 \
        [--model gemma3-270m] [--budget 20000] [--seed 0] [--world-seed 1] [--out results.jsonl] \
        [--templates heldout]

Exemplars come from the world's dev split; questions from its test split. ``--templates heldout``
writes the world in phrasings and with relations no training world has (a transfer measurement
for a trained model); the default, standard, is in-template. Run by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from forage.data.loaders import load
from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.eval.runner import evaluate
from forage.llm.embedded import EmbeddedLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import load_corpus
from forage.runtime import registry
from forage.prompts.exemplars import ExemplarSet


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strategies", default="rag")
    ap.add_argument("--knobs", default="", help="name=value,... overrides of each strategy's knob")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--hops", default="2-3")
    ap.add_argument("--types", default="bridge")
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--budget", type=float, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world-seed", type=int, default=1)
    ap.add_argument("--entities", type=int, default=400)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--templates", default="standard", help="standard or heldout")
    args = ap.parse_args()

    lo, hi = (int(x) for x in args.hops.split("-"))
    world = generate_world(WorldSettings(
        seed=args.world_seed, entities=args.entities, hops=(lo, hi), questions=max(200, args.n * 2),
        types=tuple(args.types.split(",")), templates=args.templates,
    ))
    suffix = "" if args.templates == "standard" else f"-{args.templates}"
    folder = Path(
        f"/tmp/forage-world-{args.world_seed}-{args.entities}-{lo}-{hi}-{args.types}{suffix}"
    )
    write_world(world, folder)
    dev = load(folder / "dev.jsonl").questions
    test = [q for q in load(folder / "test.jsonl").questions if q.hops and lo <= q.hops <= hi][: args.n]
    corpus = load_corpus(folder / "corpus.jsonl")
    tool = BM25Search(corpus)
    exemplars = ExemplarSet.from_dev(dev, seed=args.seed)
    llm = EmbeddedLLM(args.model, n_ctx=4096)
    knobs = dict(kv.split("=") for kv in args.knobs.split(",") if kv)
    out = args.out.open("w") if args.out else None
    print(f"{'strategy':<18}{'knob':>6}{'n':>5}{'EM':>7}{'F1':>7}{'compute':>10}{'llm calls':>10}{'s/q':>7}")
    for name in args.strategies.split(","):
        spec = registry.get(name)
        knob = int(knobs[name]) if name in knobs else None
        results = []
        t0 = time.perf_counter()
        for q in test:
            r = asyncio.run(evaluate(spec, knob, q, llm=llm, tools=tool, budget=args.budget,
                                     exemplars=exemplars, seed=args.seed))
            results.append(r)
            if out:
                out.write(json.dumps(r.to_dict()) + "\n")
                out.flush()
        n = len(results)
        print(
            f"{name:<18}{str(knob):>6}{n:>5}"
            f"{statistics.mean(r.em for r in results):>7.3f}"
            f"{statistics.mean(r.f1 for r in results):>7.3f}"
            f"{statistics.mean(r.compute for r in results):>10.1f}"
            f"{statistics.mean(r.usage['llm_calls'] for r in results):>10.2f}"
            f"{(time.perf_counter() - t0) / n:>7.2f}",
            flush=True,
        )
    if out:
        out.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
