"""Peak context with and without forgetting finished subtasks, as questions get deeper.

    .venv/bin/python benchmarks/tree_pruning.py [--per-hop 3] [--hops 1-6] [--planning oracle]

Generated-world bridge questions of 1 to 6 hops; the hierarchical engine runs each question twice,
side by side: ``buffer=0`` (finished subtasks leave only their conclusions) and ``buffer=-1``
(every finished subtask's queries and passages stay verbatim in working memory). Per hop count it
prints mean peak context tokens (the longest prompt of the run), mean total prompt tokens, EM, and
the ratios. ``--planning oracle`` executes the gold decomposition (an ablation that isolates the
memory mechanism from the planner); ``--planning dag`` lets the model plan. Run by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from dataclasses import replace
from pathlib import Path

from forage.core.budget import Budget
from forage.data.loaders import load
from forage.data.scoring import score
from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.llm.embedded import EmbeddedLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import load_corpus
from forage.runtime.driver import run
from forage.prompts.exemplars import ExemplarSet
from forage.hierarchy.tree import Tree


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-hop", type=int, default=3)
    ap.add_argument("--hops", default="1-6")
    ap.add_argument("--planning", default="oracle", choices=("oracle", "dag", "stepwise"))
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--budget", type=float, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    lo, hi = (int(x) for x in args.hops.split("-"))

    folder = Path(f"/tmp/forage-pruning-world-{lo}-{hi}")
    world = generate_world(WorldSettings(seed=5, entities=600, hops=(lo, hi), questions=400,
                                         types=("bridge",)))
    write_world(world, folder)
    dev = load(folder / "dev.jsonl").questions
    test = load(folder / "test.jsonl").questions
    tool = BM25Search(load_corpus(folder / "corpus.jsonl"))
    exemplars = ExemplarSet.from_dev(dev, seed=args.seed)
    llm = EmbeddedLLM(args.model, n_ctx=8192)
    base = Tree(attempts=1, planning=args.planning, exemplars=exemplars, max_replans=0)
    variants = {"pruned": replace(base, buffer=0), "verbatim": replace(base, buffer=-1)}

    print(f"{'hops':>4}{'n':>3}  {'peak ctx pruned':>16}{'peak ctx verbatim':>18}{'ratio':>7}"
          f"  {'prompt tok pruned':>18}{'verbatim':>10}{'ratio':>7}  {'EM pruned':>9}{'verbatim':>9}")
    for hops in range(lo, hi + 1):
        qs = [q for q in test if q.hops == hops][: args.per_hop]
        if not qs:
            continue
        stats: dict[str, dict[str, list[float]]] = {}
        for q in qs:
            for name, strategy in variants.items():
                b = Budget(args.budget)
                ans = asyncio.run(run(strategy, q, llm=llm, tools=tool, budget=b, seed=args.seed))
                s = stats.setdefault(name, {"peak": [], "prompt": [], "em": []})
                s["peak"].append(ans.meta["peak_context_tokens"])
                s["prompt"].append(b.ledger.usage.prompt_tokens)
                s["em"].append(score(ans.text, q).em)
        m = {n: {k: statistics.mean(v) for k, v in s.items()} for n, s in stats.items()}
        p, v = m["pruned"], m["verbatim"]
        print(f"{hops:>4}{len(qs):>3}  {p['peak']:>16.0f}{v['peak']:>18.0f}{v['peak'] / p['peak']:>7.2f}"
              f"  {p['prompt']:>18.0f}{v['prompt']:>10.0f}{v['prompt'] / p['prompt']:>7.2f}"
              f"  {p['em']:>9.2f}{v['em']:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
