"""Adaptive allocation against uniform budgets and the oracle, side by side, at equal compute.

    python benchmarks/allocation.py --dataset data/hotpotqa_dev_distractor_500.jsonl --limit 200 \
        --strategies direct,rag,self_consistency,revision,tree --budgets 250,500,1500,4000 \
        --out runs/alloc/hotpot

runs (resumably: rerun the same command after an interruption):

1. the uniform configurations: every ``--strategies`` x ``--budgets`` cell into ``OUT/uniform``;
2. the adaptive cascade at each ``--budgets`` value as the *mean* budget per question, into
   ``OUT/adaptive`` (its call cache starts as a copy of the uniform one: replayed calls are charged
   as computed, so this saves wall time only);
3. the oracle and the comparison: ``OUT/adaptive/results.json`` (``allocation``) and
   ``OUT/adaptive/report.html``.

It prints, per dataset and level: adaptive's score and mean spent compute, the uniform frontier at
that compute, the gap with its paired 95% interval (also in questions), the oracle there and the
share of the oracle's gain adaptive captures; then compute-to-match with its interval and the
issue's targets. ``--threshold`` and ``--reserve`` set the cascade (defaults: the library's).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import forage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", action="append", required=True)
    ap.add_argument("--strategies", default="direct,rag,self_consistency,revision,tree")
    ap.add_argument("--budgets", default="250,500,1500,4000")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", default=None)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--reserve", type=float, default=None)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--skip-uniform", action="store_true",
                    help="use OUT/uniform as it is (another process is filling it)")
    args = ap.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    common = {"budgets": budgets, "limit": args.limit, "split": args.split, "model": args.model}
    uniform, adaptive = args.out / "uniform", args.out / "adaptive"
    if not args.skip_uniform:
        forage.bench(args.dataset, strategies=args.strategies.split(","), out=uniform, **common)
    adaptive.mkdir(parents=True, exist_ok=True)
    if (uniform / "cache.sqlite").exists() and not (adaptive / "cache.sqlite").exists():
        shutil.copy(uniform / "cache.sqlite", adaptive / "cache.sqlite")
    forage.bench(args.dataset, allocation="adaptive", threshold=args.threshold,
                 reserve=args.reserve, out=adaptive, against=[uniform], **common)
    summary = json.loads((adaptive / "results.json").read_text())["allocation"]
    print_summary(summary)


def _f(x: float | None, d: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{d}f}"


def _ci(ci: list[float] | None, d: int = 3) -> str:
    return "" if not ci or None in ci else f" [{ci[0]:.{d}f}, {ci[1]:.{d}f}]"


def print_summary(summary: dict) -> None:
    for name, entry in summary["datasets"].items():
        print(f"\n## {name} (n = {entry['n_questions']}, metric {entry['metric']})")
        for policy, fig in entry["policies"].items():
            print(f"| {policy} level | score | spent | frontier there | gap [95% CI] | "
                  "gap in questions | oracle there | share of oracle gain | rungs |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            for lv in fig["levels"]:
                print(f"| {lv['budget']:g} | {_f(lv['score'])} | {lv['compute']:.1f} | "
                      f"{_f(lv.get('frontier'))} | {_f(lv.get('gap'))}{_ci(lv.get('gap_ci'))} | "
                      f"{_f(lv.get('gap_questions'), 1)}{_ci(lv.get('gap_questions_ci'), 1)} | "
                      f"{_f(lv.get('oracle'))} | {_f(lv.get('share'), 2)}"
                      f"{_ci(lv.get('share_ci'), 2)} | {lv.get('rungs')} |")
            m = fig.get("compute_to_match")
            if m:
                print(f"compute-to-match: {json.dumps(m)}")


if __name__ == "__main__":
    main()
