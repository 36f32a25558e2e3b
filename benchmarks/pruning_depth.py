"""Single-stream (thread) mode with and without KV pruning, on bridge questions of 1 to 6 hops.

    .venv/bin/python benchmarks/pruning_depth.py --n 2 --hops 1-6 [--model gemma3-270m] \
        [--keep-last 0] [--budget 20000] [--world-seed 3] [--out results.jsonl]

For each hop count, the same ``--n`` generated-world test questions run twice, back to back on one
loaded model: pruning on (finished tasks' Search/Result lines leave the KV cache) and off. Printed
per hop count: peak KV cells, evaluated tokens, tokens/s (evaluated tokens over model seconds),
compute units and EM of both, and the ratios pruned/unpruned. Exemplars come from the world's dev
split. The tokens/s ratio is only meaningful side by side in this one run (shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

from forage.core.budget import Budget
from forage.data.loaders import load
from forage.data.scoring import score
from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.llm.embedded import EmbeddedLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import load_corpus
from forage.prompts.exemplars import ExemplarSet
from forage.hierarchy.thread import Thread
from forage.runtime.driver import run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2, help="questions per hop count")
    ap.add_argument("--hops", default="1-6")
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--budget", type=float, default=20000)
    ap.add_argument("--keep-last", type=int, default=0)
    ap.add_argument("--max-searches", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world-seed", type=int, default=3)
    ap.add_argument("--entities", type=int, default=400)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    lo, hi = (int(x) for x in args.hops.split("-"))
    world = generate_world(WorldSettings(seed=args.world_seed, entities=args.entities, hops=(lo, hi),
                                         questions=max(120, 12 * args.n * (hi - lo + 1)),
                                         types=("bridge",)))  # fmt: skip
    folder = Path(f"/tmp/forage-world-{args.world_seed}-{args.entities}-{lo}-{hi}-bridge")
    write_world(world, folder)
    dev = load(folder / "dev.jsonl").questions
    test = load(folder / "test.jsonl").questions
    tool = BM25Search(load_corpus(folder / "corpus.jsonl"))
    exemplars = ExemplarSet.from_dev(dev, seed=args.seed)
    llm = EmbeddedLLM(args.model, n_ctx=4096)
    settings = {"exemplars": exemplars, "max_tasks": hi, "max_searches": args.max_searches,
                "max_lines": 4 * hi + 4}  # fmt: skip
    modes = {"pruned": Thread(prune=True, keep_last=args.keep_last, **settings),
             "full": Thread(prune=False, **settings)}  # fmt: skip
    out = args.out.open("w") if args.out else None
    rows: dict[tuple[int, str], list[dict[str, float]]] = {}
    # Warm-up: put the shared exemplar preamble in the KV cache, so no mode pays for it.
    asyncio.run(run(Thread(exemplars=exemplars, max_tasks=1, max_lines=2), test[0], llm=llm,
                    tools=tool, budget=Budget(args.budget)))
    t0 = time.perf_counter()
    for hops in range(lo, hi + 1):
        questions = [q for q in test if q.hops == hops][: args.n]
        for q in questions:
            for mode, thread in modes.items():
                budget = Budget(args.budget)
                answer = asyncio.run(run(thread, q, llm=llm, tools=tool, budget=budget,
                                         seed=args.seed))
                m = answer.meta
                row = {"peak": m["peak_kv_cells"], "evaluated": m["evaluated_tokens"],
                       "seconds": m["llm_seconds"], "compute": budget.spent,
                       "em": score(answer.text, q).em, "tasks": m["tasks"],
                       "malformed": m["malformed_lines"]}  # fmt: skip
                rows.setdefault((hops, mode), []).append(row)
                if out:
                    out.write(json.dumps({"id": q.id, "hops": hops, "mode": mode,
                                          "prediction": answer.text, "gold": q.answers[0],
                                          **row}) + "\n")  # fmt: skip
                    out.flush()

    def mean(hops: int, mode: str, key: str) -> float:
        return statistics.mean(r[key] for r in rows[(hops, mode)])

    def tps(hops: int, mode: str) -> float:
        rs = rows[(hops, mode)]
        return sum(r["evaluated"] for r in rs) / max(sum(r["seconds"] for r in rs), 1e-9)

    print(f"model {args.model}, n={args.n} per hop count, keep_last={args.keep_last}, "
          f"max_searches={args.max_searches}, {time.perf_counter() - t0:.0f} s")  # fmt: skip
    print(f"{'hops':>4} | {'peak KV cells':>15} {'ratio':>6} | {'evaluated tok':>15} {'ratio':>6} |"
          f" {'tok/s':>11} {'ratio':>6} | {'compute':>13} | {'EM':>9} | {'tasks':>9}")  # fmt: skip
    print(f"{'':>4} | {'pruned  full':>15} {'':>6} | {'pruned  full':>15} {'':>6} |"
          f" {'pr   full':>11} {'':>6} | {'pr    full':>13} | {'pr  full':>9} | {'pr  full':>9}")  # fmt: skip
    for hops in range(lo, hi + 1):
        if (hops, "pruned") not in rows:
            continue
        p_peak, f_peak = mean(hops, "pruned", "peak"), mean(hops, "full", "peak")
        p_ev, f_ev = mean(hops, "pruned", "evaluated"), mean(hops, "full", "evaluated")
        p_tps, f_tps = tps(hops, "pruned"), tps(hops, "full")
        print(
            f"{hops:>4} | {p_peak:>7.0f} {f_peak:>7.0f} {p_peak / f_peak:>6.2f} |"
            f" {p_ev:>7.0f} {f_ev:>7.0f} {p_ev / f_ev:>6.2f} |"
            f" {p_tps:>5.0f} {f_tps:>5.0f} {p_tps / f_tps:>6.2f} |"
            f" {mean(hops, 'pruned', 'compute'):>6.0f} {mean(hops, 'full', 'compute'):>6.0f} |"
            f" {mean(hops, 'pruned', 'em'):>4.2f} {mean(hops, 'full', 'em'):>4.2f} |"
            f" {mean(hops, 'pruned', 'tasks'):>4.1f} {mean(hops, 'full', 'tasks'):>4.1f}",
            flush=True,
        )
    if out:
        out.close()


if __name__ == "__main__":
    main()
