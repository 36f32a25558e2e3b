"""Which embedded model answers best on dev splits: single-retrieval RAG with each, side by side.

    .venv/bin/python benchmarks/model_choice.py [--n 50] [--models smollm2,gemma3-270m]
                                                [--datasets hotpotqa,2wiki,world]

Datasets: the dev splits of the shipped HotpotQA-500 (every 10th line) and 2Wiki-200 (first 50)
files (the registry in ``forage.eval.datasets``), searched over each file's pooled corpus, and the
dev split of a generated world (one-hop questions, where a single passage holds the answer).
Exemplars come from the same dev split. EM and F1 carry 95% percentile-bootstrap intervals over
questions. Run by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from pathlib import Path

from forage.data.loaders import load
from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.eval.datasets import split_dataset
from forage.report.statistics import bootstrap_ci
from forage.eval.runner import evaluate
from forage.llm.embedded import EmbeddedLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus, load_corpus
from forage.runtime import registry
from forage.prompts.exemplars import ExemplarSet

SHARED = Path(__file__).resolve().parents[1] / "data"


FILES = {"hotpotqa": "hotpotqa_dev_distractor_500.jsonl", "2wiki": "2wikimultihopqa_dev_200.jsonl"}


def datasets(n: int, names: list[str]):
    for name in names:
        if name == "world":
            continue
        ds = load(SHARED / FILES[name])
        dev, _, _ = split_dataset(ds)
        yield name, dev[:n], dev, BM25Search(Corpus(ds.corpus))
    if "world" not in names:
        return
    folder = Path("/tmp/forage-model-choice-world")
    world = generate_world(WorldSettings(seed=11, entities=400, hops=(1, 1), questions=300,
                                         types=("bridge",)))
    write_world(world, folder)
    dev = load(folder / "dev.jsonl").questions
    # exemplars from the first half of the dev split, scored on the second half
    yield "world-1hop", dev[len(dev) // 2 :][:n], dev[: len(dev) // 2], BM25Search(
        load_corpus(folder / "corpus.jsonl"))


def ci(values: list[float]) -> str:
    lo, hi = bootstrap_ci(values)
    return f"{statistics.mean(values):.3f} [{lo:.2f}, {hi:.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--models", default="smollm2,gemma3-270m")
    ap.add_argument("--datasets", default="hotpotqa,2wiki,world")
    args = ap.parse_args()
    spec = registry.get("rag")
    data = list(datasets(args.n, args.datasets.split(",")))
    print(f"{'model':<14}{'dataset':<12}{'n':>4}{'EM [95% CI]':>22}{'F1 [95% CI]':>22}{'s/q':>7}")
    for model in args.models.split(","):
        llm = EmbeddedLLM(model)
        for name, questions, dev, tool in data:
            ex = ExemplarSet.from_dev(dev)
            rs = [asyncio.run(evaluate(spec, 1, q, llm=llm, tools=tool, budget=5000, exemplars=ex))
                  for q in questions]
            print(f"{model:<14}{name:<12}{len(rs):>4}{ci([r.em for r in rs]):>22}"
                  f"{ci([r.f1 for r in rs]):>22}"
                  f"{statistics.mean(r.seconds for r in rs):>7.2f}", flush=True)


if __name__ == "__main__":
    main()
