"""The headline comparison: every registered strategy at 4+ budgets on the generated world (test
split, 200 questions, 1-6 hops), HotpotQA and 2WikiMultiHopQA (test splits, 150 each).

    .venv/bin/python benchmarks/headline.py [--model gemma3-270m] [--budgets 300,1000,3000,10000]
        [--strategies all] [--limit N] [--seeds 0] [--out benchmarks/results/DATE-headline]

Writes a dated folder with the generated world, the journal, the call cache, results.json, the
plots and report.html (``forage bench`` does the work; rerunning with the same --out resumes).
Run by hand, not in CI: with the embedded model the full sweep takes many hours on 2 cores; use
``--limit`` for a quick check that it runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from forage.cli.app import main as forage_main
from forage.data.world import WorldSettings, generate_world
from forage.data.world.export import write_world
from forage.runtime import registry

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "data"


def headline_world(folder: Path, seed: int) -> Path:
    """The headline world: 250 questions, 1-6 hops, 20% dev -> 200 test questions."""
    world = generate_world(WorldSettings(seed=seed, entities=800, hops=(1, 6), questions=250,
                                         dev_fraction=0.2))
    return write_world(world, folder)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--strategies", default="all", help="comma-separated, or all registered")
    ap.add_argument("--budgets", default="300,1000,3000,10000")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--limit", type=int, default=None, help="questions per dataset (quick check)")
    ap.add_argument("--world-seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=SHARED, help="folder of the shared data files")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    out = args.out or ROOT / "benchmarks" / "results" / f"{dt.date.today().isoformat()}-headline"
    world = headline_world(out / "world", args.world_seed)
    strategies = (",".join(sorted(registry.available())) if args.strategies == "all"
                  else args.strategies)
    argv = ["bench", "--dataset", str(world),
            "--dataset", str(args.data / "hotpotqa_dev_distractor_500.jsonl"),
            "--dataset", str(args.data / "2wikimultihopqa_dev_200.jsonl"),
            "--split", "test", "--strategies", strategies, "--budgets", args.budgets,
            "--seeds", args.seeds, "--model", args.model, "--out", str(out / "sweep")]  # fmt: skip
    if args.limit is not None:
        argv += ["--limit", str(args.limit)]
    if args.base_url:
        argv += ["--base-url", args.base_url]
    print(f"headline sweep -> {out}", flush=True)
    return forage_main(argv)


if __name__ == "__main__":
    sys.exit(main())
