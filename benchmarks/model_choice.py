"""Which embedded model answers best on dev splits: single-retrieval RAG with each, side by side.

    .venv/bin/python benchmarks/model_choice.py [--n 50] [--models smollm2,gemma3-270m]

Datasets: the first 50 questions (the dev split) of the shared HotpotQA and 2Wiki files, searched
over each file's pooled corpus, and the dev split of a generated world (one-hop questions, where a
single passage holds the answer). Exemplars come from the same dev split. Run by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from pathlib import Path

from forage.data.loaders import load, split
from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.eval.runner import evaluate
from forage.llm.embedded import EmbeddedLLM
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus, load_corpus
from forage.strategies import registry
from forage.prompts.exemplars import ExemplarSet

SHARED = Path(__file__).resolve().parents[1] / "data"


def datasets(n: int):
    for name in ("hotpotqa_dev_200.jsonl", "2wikimultihopqa_dev_200.jsonl"):
        ds = load(SHARED / name)
        dev, _ = split(ds.questions)
        yield name.split("_")[0], dev[:n], dev, BM25Search(Corpus(ds.corpus))
    folder = Path("/tmp/forage-model-choice-world")
    world = generate_world(WorldSettings(seed=11, entities=400, hops=(1, 1), questions=300,
                                         types=("bridge",)))
    write_world(world, folder)
    dev = load(folder / "dev.jsonl").questions
    # exemplars from the first half of the dev split, scored on the second half
    yield "world-1hop", dev[len(dev) // 2 :][:n], dev[: len(dev) // 2], BM25Search(
        load_corpus(folder / "corpus.jsonl"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--models", default="smollm2,gemma3-270m")
    args = ap.parse_args()
    spec = registry.get("rag")
    data = list(datasets(args.n))
    print(f"{'model':<14}{'dataset':<12}{'n':>4}{'EM':>7}{'F1':>7}{'s/q':>7}")
    for model in args.models.split(","):
        llm = EmbeddedLLM(model)
        for name, questions, dev, tool in data:
            ex = ExemplarSet.from_dev(dev)
            rs = [asyncio.run(evaluate(spec, 1, q, llm=llm, tools=tool, budget=5000, exemplars=ex))
                  for q in questions]
            print(f"{model:<14}{name:<12}{len(rs):>4}{statistics.mean(r.em for r in rs):>7.3f}"
                  f"{statistics.mean(r.f1 for r in rs):>7.3f}"
                  f"{statistics.mean(r.seconds for r in rs):>7.2f}", flush=True)


if __name__ == "__main__":
    main()
