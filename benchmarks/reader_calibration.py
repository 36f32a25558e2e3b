"""Reader calibration: does the tree's reader answer when the passage says, and abstain when not?

    python benchmarks/reader_calibration.py --models forage-small,runs/train/forage-small.json \
        --dataset data/hotpotqa_dev_distractor_500.jsonl --dataset data/2wikimultihopqa_dev_200.jsonl \
        --dataset runs/world-test --limit 100

Every model reads the *same* readings, built from a dataset's test split with the tree's reader
prompt (``forage.hierarchy.tree_prompts.memory_reader_prompt``, exemplars from the dev split,
greedy, with logprobs) on the embedded backend, and its confidence is the tree's own
(``forage.hierarchy.plan.confidence``; "unknown" counts as no answer):

- ``whole/answerable``: the whole question over a supporting passage that contains the answer
  (what reading first should settle);
- ``whole/hop``: the whole question over a supporting passage that does not contain the answer
  (a first hop: what reading first must not settle);
- ``whole/distractor``: the whole question over the best BM25 hit among the non-supporting
  passages that do not contain the answer (a look-alike);
- for datasets with gold decompositions (generated worlds): ``part/answerable`` (a resolved
  sub-question over its gold passage, with the earlier facts as memory) and ``part/other``
  (the same sub-question over another hop's passage or a distractor without its answer).

Printed per model and set: the answer rate (confidence >= the threshold) and EM on answerable
readings, the abstain rate on the others, and AUROC of the confidence between right answers and
readings that should abstain; then the paired difference of the first two models (McNemar on
"did the right thing" per reading, ``forage.report.paired.mcnemar``). Yes/no questions are left
out (their answer is in no passage).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

from forage.core.text import normalize_answer
from forage.data.scoring import exact_match
from forage.eval.datasets import open_dataset
from forage.hierarchy.plan import answer_probability, confidence
from forage.hierarchy.tree import TOP_ALTERNATIVES
from forage.hierarchy.tree_prompts import Memory, memory_reader_prompt
from forage.llm.embedded import EmbeddedLLM
from forage.prompts.exemplars import ExemplarSet, dev_example
from forage.prompts.reader import clean_answer
from forage.prompts.render import render
from forage.prompts.spec import titled
from forage.report.paired import mcnemar
from forage.search.bm25 import BM25Search

THRESHOLD = 0.5  # the tree's default


def _contains(answer: str, text: str) -> bool:
    a = normalize_answer(answer)
    return bool(a) and a in normalize_answer(text)


def readings(path: str, limit: int, split: str = "test",
             seed: int = 0) -> tuple[list[dict], ExemplarSet]:  # type: ignore[type-arg]
    ds = open_dataset(path, split_name=split)
    exemplars = ExemplarSet.from_dev(ds.dev, seed=0)
    docs = {d.title: d for d in ds.corpus.documents}
    search = BM25Search(ds.corpus)
    rng = random.Random(seed)
    out: list[dict] = []  # type: ignore[type-arg]
    for q in ds.questions:
        if len({r["qid"] for r in out}) >= limit:
            break
        answer = q.answers[0] if q.answers else ""
        if not answer or normalize_answer(answer) in ("yes", "no"):
            continue
        support = [docs[t] for t in dict.fromkeys(q.supporting_titles) if t in docs]
        stating = [d for d in support if _contains(answer, f"{d.title} {d.text}")]
        hops = [d for d in support if not _contains(answer, f"{d.title} {d.text}")]
        others = [h.document for h in search.search(q.text, k=20)
                  if h.document.title not in q.supporting_titles
                  and not _contains(answer, f"{h.document.title} {h.document.text}")]
        base = {"qid": q.id, "main": q.text, "question": q.text, "memory": [], "answer": answer}
        if stating:
            out.append({**base, "kind": "whole/answerable", "doc": stating[-1]})
        if hops:
            out.append({**base, "kind": "whole/hop", "doc": hops[0]})
        if others:
            out.append({**base, "kind": "whole/distractor", "doc": others[0]})
        e = dev_example(q)
        steps = e.resolved_steps() if e is not None and q.decomposition else ()
        if steps and all(s.answer and s.title in docs for s in steps):
            i = rng.randrange(len(steps))
            s, known = steps[i], [(x.question, x.answer) for x in steps[:i]]
            part = {**base, "question": s.question, "memory": known, "answer": s.answer}
            if _contains(s.answer, docs[s.title].text):
                out.append({**part, "kind": "part/answerable", "doc": docs[s.title]})
            wrong = [docs[x.title] for x in steps if x.title != s.title
                     and not _contains(s.answer, docs[x.title].text)]
            wrong += [h.document for h in search.search(s.question, k=5)
                      if h.document.title != s.title
                      and not _contains(s.answer, h.document.text)][:1]
            if wrong:
                out.append({**part, "kind": "part/other", "doc": rng.choice(wrong)})
    return out, exemplars


async def read_all(model: str, rows: Sequence[dict], exemplars: ExemplarSet) -> list[dict]:  # type: ignore[type-arg]
    llm = EmbeddedLLM(model)
    results = []
    for r in rows:
        passage = titled(r["doc"].title, r["doc"].text)
        memory = Memory(r["main"], facts=tuple(tuple(f) for f in r["memory"]))
        spec = memory_reader_prompt(r["question"], passage, memory, exemplars, logprobs=True,
                                    top_logprobs=TOP_ALTERNATIVES, seed=0)
        response = await llm.complete(render(spec, "completion"))
        choice = response.choices[0]
        first = choice.top_logprobs[0] if choice.top_logprobs else None
        text = clean_answer(response.text)
        if text.lower() == "unknown":
            text = ""
        conf = confidence(text, passage, choice.token_logprobs, first)
        right = bool(text) and exact_match(text, [r["answer"]]) > 0
        results.append({"text": text, "confidence": conf, "right": right,
                        "p_answer": answer_probability(first)})
    return results


def auroc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(a random positive scores above a random negative), ties counting half."""
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def summary(rows: Sequence[dict], res: Sequence[dict]) -> dict[str, object]:  # type: ignore[type-arg]
    out: dict[str, object] = {}
    shapes = sorted({r["kind"].split("/")[0] for r in rows})
    for shape in shapes:
        ans = [x for r, x in zip(rows, res) if r["kind"] == f"{shape}/answerable"]
        bad = [x for r, x in zip(rows, res) if r["kind"].startswith(f"{shape}/")
               and not r["kind"].endswith("answerable")]
        out[shape] = {
            "answerable": len(ans), "should_abstain": len(bad),
            "answer_rate": _rate([x["confidence"] >= THRESHOLD for x in ans]),
            "em_answerable": _rate([x["right"] for x in ans]),
            "abstain_rate": _rate([x["confidence"] < THRESHOLD for x in bad]),
            "auroc": auroc([x["confidence"] for x in ans if x["right"]],
                           [x["confidence"] for x in bad]),
            "auroc_p_answer": auroc([x["p_answer"] or 0.0 for x in ans if x["right"]],
                                    [x["p_answer"] or 0.0 for x in bad]),
        }
        for kind in sorted({r["kind"] for r in rows if r["kind"].startswith(shape + "/")}):
            sel = [x for r, x in zip(rows, res) if r["kind"] == kind]
            if not kind.endswith("answerable"):
                out[shape][f"abstain_{kind.split('/')[1]}"] = _rate(  # type: ignore[index]
                    [x["confidence"] < THRESHOLD for x in sel])
    return out


def _rate(xs: Sequence[bool]) -> float:
    return round(sum(xs) / len(xs), 3) if xs else float("nan")


def did_right(r: dict, x: dict, threshold: float = THRESHOLD) -> bool:  # type: ignore[type-arg]
    """Answered right where the passage states it; abstained where it does not."""
    if r["kind"].endswith("answerable"):
        return x["right"] and x["confidence"] >= threshold
    return x["confidence"] < threshold


def balanced(rows: Sequence[dict], res: Sequence[dict], threshold: float) -> float:  # type: ignore[type-arg]
    """The mean of the right-answer rate on answerable readings and the abstain rate on the
    others, at ``threshold`` (what choosing the tree's threshold on a dev split maximises)."""
    ans = [did_right(r, x, threshold) for r, x in zip(rows, res) if r["kind"].endswith("answerable")]
    bad = [did_right(r, x, threshold) for r, x in zip(rows, res)
           if not r["kind"].endswith("answerable")]
    return (sum(ans) / max(1, len(ans)) + sum(bad) / max(1, len(bad))) / 2


def paired_line(ma: str, ra: Mapping[str, bool], mb: str, rb: Mapping[str, bool]) -> str:
    """Model ``mb`` against ``ma`` on the readings both have ("did the right thing"), with
    McNemar's exact two-sided p (``forage.report.paired.mcnemar``)."""
    common = [k for k in rb if k in ra]
    a, b = [ra[k] for k in common], [rb[k] for k in common]
    m = mcnemar(b, a)  # m.b: mb right where ma was wrong; m.c: the reverse
    return (f"  paired ({mb} vs {ma}, {len(common)} readings): right thing {sum(b)} vs "
            f"{sum(a)}; better on {m.b}, worse on {m.c}; McNemar p = {m.p_exact:.3g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="forage-small")
    ap.add_argument("--dataset", action="append", required=True)
    ap.add_argument("--limit", type=int, default=100, help="questions per dataset")
    ap.add_argument("--split", default="test", help="test, or dev to choose the threshold")
    ap.add_argument("--out", type=Path, help="write summaries and every reading's result here")
    ap.add_argument("--against", type=Path,
                    help="an --out file of an earlier run: pair this run's first model with its "
                         "first model on the same readings")
    args = ap.parse_args()
    earlier = json.loads(args.against.read_text()) if args.against else {}
    models = args.models.split(",")
    report: dict[str, object] = {}
    for path in args.dataset:
        rows, exemplars = readings(path, args.limit, args.split)
        per_model = {m: asyncio.run(read_all(m, rows, exemplars)) for m in models}
        name = Path(path).stem
        report[name] = {m: summary(rows, res) for m, res in per_model.items()}
        print(f"\n{name}: {len({r['qid'] for r in rows})} questions, {len(rows)} readings")
        for m, s in report[name].items():  # type: ignore[union-attr]
            for shape, v in s.items():
                print(f"  {m:<40} {shape:<6} " + "  ".join(
                    f"{k} {v[k]}" for k in v), flush=True)
        for m, res in per_model.items():
            print(f"  {m}: threshold -> mean of (right-answer rate on answerable, abstain rate)")
            print("    " + "  ".join(f"{t:.1f}:{balanced(rows, res, t):.3f}"
                                     for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)))
        keys = [f"{r['qid']}|{r['kind']}" for r in rows]
        report[name]["readings"] = {  # type: ignore[index]
            m: {k: did_right(r, x) for k, r, x in zip(keys, rows, res)}
            for m, res in per_model.items()}
        pairs = []
        if len(models) >= 2:
            pairs.append((models[0], report[name]["readings"][models[0]],  # type: ignore[index]
                          models[1], report[name]["readings"][models[1]]))  # type: ignore[index]
        if name in earlier:
            first = next(iter(earlier[name]["readings"]))
            pairs.append((first, earlier[name]["readings"][first],
                          models[0], report[name]["readings"][models[0]]))  # type: ignore[index]
        for ma, ra, mb, rb in pairs:
            print(paired_line(ma, ra, mb, rb))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
