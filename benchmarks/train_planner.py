"""Planner quality against gold decompositions: the embedded base against base + a trained adapter.

    python benchmarks/train_planner.py [--adapter runs/train/forage-small.gguf [--adapter B.gguf]] \
        [--model smollm2] [--world-seed 1] [--entities 400] [--split test] [--limit 200] \
        [--templates heldout]

``--templates heldout`` writes the world with held-out templates (questions in phrasings and with
relations no training world has; the gold sub-questions keep their canonical forms): a transfer
measurement. The default, standard templates, is an in-template one; report them side by side.

For every question of a generated world's split that has a gold decomposition (bridge and
comparison questions, 1–4 hops), the tree's planner prompt (``forage.hierarchy.tree_prompts.
planner_prompt``, exemplars from the world's dev split, as the tree strategy builds them) is run
greedily in llama-cpp-python with and without the adapter, and the continuation is parsed as the
tree parses it (``parse_numbered_plan``). Reported per model:

- ``usable``: the plan has at least one step (the tree falls back to one step otherwise);
- ``steps ok``: as many steps as the gold decomposition;
- ``resolved``: the share of gold steps whose sub-question the plan states at the same position —
  both with ``#k`` replaced by the gold answers, token F1 >= 0.6 after HotpotQA normalisation
  (credits "Where was #1 born?" for "Where was Tavi Orin born?" once #1 is resolved);
- ``same entities``: the share of gold steps where the plan's step at the same position names the
  same entities (capitalised words after the first, after resolving ``#k``) — credits paraphrases
  ("What is the birth date of X?" for "When was X born?") that token F1 does not;
- ``all resolved``: every gold step resolved and no extra step;
- ``copied``: the plan repeats an exemplar's sub-questions word for word (the base's known failure).

With two or more ``--adapter``, each later adapter is compared with the first on the same
questions: whole plans right and right step counts, the questions only one of them got right, and
McNemar's exact p (``--out`` keeps every question's judgement under ``per_question``).

Greedy decoding: the numbers depend on the adapter and the split, not on the machine's load.
Not a test.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from llama_cpp import Llama

from forage.data.scoring import token_f1
from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.eval.datasets import open_dataset
from forage.hierarchy.tree_prompts import parse_numbered_plan, planner_prompt
from forage.llm.models import resolve_model
from forage.prompts.exemplars import ExemplarSet, dev_example, resolve_placeholders
from forage.prompts.render import render
from forage.report.paired import mcnemar_counts

MATCH_F1 = 0.6


def items(folder: Path, split: str, limit: int) -> tuple[list[dict], ExemplarSet]:
    ds = open_dataset(folder, split_name=split)
    exemplars = ExemplarSet.from_dev(ds.dev, seed=0)
    shown = {e.question for e in exemplars.multi_hop}
    rows = []
    for q in ds.questions:
        e = dev_example(q)
        if e is None or not e.steps or q.text in shown:
            continue
        spec = planner_prompt(q.text, exemplars)
        request = render(spec, "completion")
        rows.append({"question": q.text, "prompt": request.prompt,
                     "max_tokens": spec.generation.max_tokens, "stop": list(spec.stop),
                     "gold": [s.question for s in e.steps],
                     "answers": [s.answer for s in e.steps]})
    return rows[:limit], exemplars


def entities(text: str) -> set[str]:
    words = [w.strip("?.,!'\"") for w in text.split()[1:]]
    return {w.lower() for w in words if w[:1].isupper()}


def judge(plan: list[str], gold: list[str], answers: list[str],
          exemplar_plans: set[tuple[str, ...]]) -> dict[str, float]:
    resolved_gold = [resolve_placeholders(g, answers) for g in gold]
    resolved_plan = [resolve_placeholders(p, answers) for p in plan]
    hits = sum(token_f1(p, [g]) >= MATCH_F1
               for p, g in zip(resolved_plan, resolved_gold, strict=False))
    same = sum(bool(entities(g)) and entities(p) == entities(g)
               for p, g in zip(resolved_plan, resolved_gold, strict=False))
    return {
        "usable": float(bool(plan)),
        "same_entities": same / len(gold),
        "steps_ok": float(len(plan) == len(gold)),
        "resolved": hits / len(gold),
        "all_resolved": float(hits == len(gold) and len(plan) == len(gold)),
        "copied": float(tuple(plan) in exemplar_plans),
    }


def run(llm: Llama, rows: list[dict], exemplar_plans: set[tuple[str, ...]]) -> dict:
    scores: dict[str, float] = {}
    plans, per_question = [], []
    for row in rows:
        out = llm.create_completion(row["prompt"], max_tokens=row["max_tokens"], temperature=0.0,
                                    top_k=1, stop=row["stop"])
        plan = [s.question for s in parse_numbered_plan("1. " + out["choices"][0]["text"])]
        plans.append(plan)
        judged = judge(plan, row["gold"], row["answers"], exemplar_plans)
        per_question.append(judged)
        for k, v in judged.items():
            scores[k] = scores.get(k, 0.0) + v
    n = len(rows)
    return {**{k: v / n for k, v in scores.items()},
            "mean_steps": sum(len(p) for p in plans) / n, "plans": plans,
            "per_question": per_question}


def paired_line(label: str, first: str, a: dict, b: dict) -> str:
    """Whole plan right and right step count, ``b`` against ``a`` on the same questions: the
    counts, the questions only one got right, McNemar's exact p."""
    parts = []
    for key in ("all_resolved", "steps_ok"):
        x = [bool(q[key]) for q in a["per_question"]]
        y = [bool(q[key]) for q in b["per_question"]]
        only_b = sum(yb and not xa for xa, yb in zip(x, y, strict=True))
        only_a = sum(xa and not yb for xa, yb in zip(x, y, strict=True))
        parts.append(f"{key} {sum(y)} vs {sum(x)} of {len(x)} (better on {only_b}, worse on "
                     f"{only_a}, McNemar p = {mcnemar_counts(only_b, only_a).p_exact:.2g})")
    return f"  {label} vs {first}: " + "; ".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", type=Path, action="append", default=None,
                    help="a GGUF LoRA adapter (default: forage-small's shipped adapter); repeat "
                         "it to compare adapters, paired on the same questions")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--world-seed", type=int, default=1)
    ap.add_argument("--entities", type=int, default=400)
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--templates", default="standard", help="standard or heldout")
    args = ap.parse_args()

    suffix = "" if args.templates == "standard" else f"-{args.templates}"
    folder = Path(f"/tmp/forage-train-planner-world-{args.world_seed}-{args.entities}{suffix}")
    world = generate_world(WorldSettings(seed=args.world_seed, entities=args.entities,
                                         hops=(1, 4), questions=200, templates=args.templates))
    write_world(world, folder)
    rows, exemplars = items(folder, args.split, args.limit)
    exemplar_plans = {tuple(s.question for s in e.steps) for e in exemplars.multi_hop}
    path = resolve_model(args.model).path
    adapters = args.adapter or [resolve_model("forage-small").adapter]
    runs: list[tuple[str, Path | None]] = [("base", None)]
    runs += [("trained" if len(adapters) == 1 else f"trained{i + 1}", a)
             for i, a in enumerate(adapters)]
    results = {}
    for label, lora in runs:
        llm = Llama(model_path=str(path), lora_path=str(lora) if lora else None, n_ctx=2048,
                    verbose=False, seed=0)
        t = time.time()
        results[label] = run(llm, rows, exemplar_plans)
        results[label]["seconds"] = round(time.time() - t, 1)
        del llm
    gold_steps = sum(len(r["gold"]) for r in rows) / len(rows)
    print(f"world seed {args.world_seed} ({args.entities} entities, {args.templates} "
          f"templates), {args.split} split: "
          f"{len(rows)} questions with a gold decomposition (mean {gold_steps:.2f} steps), "
          f"model {args.model}")
    print("  model     usable  steps ok  resolved  same entities  all resolved  copied  "
          "mean steps")
    for label, lora in runs:
        r = results[label]
        print(f"  {label:8s}  {r['usable']:.3f}   {r['steps_ok']:.3f}     {r['resolved']:.3f}"
              f"     {r['same_entities']:.3f}          {r['all_resolved']:.3f}         "
              f"{r['copied']:.3f}   {r['mean_steps']:.2f}   ({r['seconds']} s)"
              + (f"  {lora}" if lora else ""))
    first = runs[1][0]
    for label, _ in runs[2:]:
        print(paired_line(label, first, results[first], results[label]))
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, **results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
