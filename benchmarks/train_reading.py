"""Per-hop reading given the gold passage: the embedded base against base + a trained adapter.

    python benchmarks/train_reading.py [--adapter runs/train/forage-small.gguf] \
        [--model smollm2] [--world-seed 1] [--entities 400] [--split dev] [--limit 120]

For every hop of every bridge/comparison question of a generated world's split, the reader prompt
the strategies use (``forage.prompts.reader.flat_reader_prompt``: RAG's, Self-Ask's and ReAct's
reader), with two reader exemplars from the world's dev split, reads the hop's gold passage and
answers the hop's resolved sub-question. Both models run greedily in llama-cpp-python, one after the other, on
the same prompts; printed: exact match and token F1 of each, and the ratio. Hops whose question is
an exemplar's are skipped.

Greedy decoding: the numbers depend on the adapter and the split, not on the machine's load (the
seconds do). Not a test.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from llama_cpp import Llama

from forage.core.types import Hit
from forage.data.scoring import exact_match, token_f1
from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.eval.datasets import open_dataset
from forage.llm.models import resolve_model
from forage.prompts.exemplars import ExemplarSet, dev_example
from forage.prompts.reader import clean_answer, flat_reader_prompt
from forage.prompts.render import render


def items(folder: Path, split: str, limit: int) -> tuple[list[tuple[str, str, str]], ExemplarSet]:
    ds = open_dataset(folder, split_name=split)
    exemplars = ExemplarSet.from_dev(ds.dev, seed=0)
    corpus = {d.title: d for d in ds.corpus.documents}
    taken = {e.question for e in exemplars.reader}
    out = []
    for q in ds.questions:
        e = dev_example(q)
        if e is None:
            continue
        for s in e.resolved_steps():
            doc = corpus.get(s.title)
            if doc is None or s.question in taken or not s.answer:
                continue
            prompt = render(flat_reader_prompt(s.question, [Hit(doc, 1.0, 0)],
                                               exemplars=exemplars.reader), "completion").prompt
            out.append((prompt, s.answer, s.question))
    return out[:limit], exemplars


def score(llm: Llama, rows: list[tuple[str, str, str]]) -> tuple[float, float, list[str]]:
    answers = []
    for prompt, _, _ in rows:
        out = llm.create_completion(prompt, max_tokens=24, temperature=0.0, top_k=1, stop=["\n"])
        answers.append(clean_answer(out["choices"][0]["text"]))
    em = sum(exact_match(a, [g]) for a, (_, g, _) in zip(answers, rows)) / len(rows)
    f1 = sum(token_f1(a, [g]) for a, (_, g, _) in zip(answers, rows)) / len(rows)
    return em, f1, answers


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", type=Path, default=None,
                    help="a GGUF LoRA adapter (default: forage-small's shipped adapter)")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--world-seed", type=int, default=1)
    ap.add_argument("--entities", type=int, default=400)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--limit", type=int, default=120)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    folder = Path(f"/tmp/forage-train-reading-world-{args.world_seed}-{args.entities}")
    world = generate_world(WorldSettings(seed=args.world_seed, entities=args.entities,
                                         hops=(1, 4), questions=200))
    write_world(world, folder)
    rows, _ = items(folder, args.split, args.limit)
    path = resolve_model(args.model).path
    adapter = args.adapter or resolve_model("forage-small").adapter
    results = {}
    for label, lora in (("base", None), ("trained", adapter)):
        llm = Llama(model_path=str(path), lora_path=str(lora) if lora else None, n_ctx=2048,
                    verbose=False, seed=0)
        t = time.time()
        em, f1, answers = score(llm, rows)
        results[label] = {"em": em, "f1": f1, "seconds": round(time.time() - t, 1),
                          "answers": answers}
        del llm
    print(f"world seed {args.world_seed} ({args.entities} entities), {args.split} split: "
          f"{len(rows)} hops read from their gold passage, model {args.model}")
    for label in ("base", "trained"):
        r = results[label]
        print(f"  {label:8s} EM {r['em']:.3f}  F1 {r['f1']:.3f}  ({r['seconds']} s)")
    base_em = results["base"]["em"]
    if base_em:
        print(f"  trained / base EM: {results['trained']['em'] / base_em:.2f}")
    if args.out:
        args.out.write_text(json.dumps({"rows": [(g, q) for _, g, q in rows], **results},
                                       indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
