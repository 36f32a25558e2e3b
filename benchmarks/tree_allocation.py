"""How the tree spent its compute in a `forage bench` run: first reading accepted, or planned.

    .venv/bin/python benchmarks/tree_allocation.py forage-small=/tmp/m/forage-small/journal.sqlite \
        smollm2=/tmp/m/smollm2/journal.sqlite [--strategy tree]

The tree reads for the whole question first and plans only when that answer is not confident
(``Tree.direct_first``). Per run, dataset and budget this prints how many questions stopped after
the first reading, their EM and mean compute, and the same for the questions that were planned --
the numbers behind "the tree accepted a confident first reading" in docs/LOG.md. Reads the journal
only; opens it read-only, so a running sweep is not disturbed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import defaultdict


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("journals", nargs="+", help="LABEL=path/to/journal.sqlite")
    ap.add_argument("--strategy", default="tree")
    args = ap.parse_args()
    print("| run | dataset | budget | n | first reading kept | EM kept | compute kept | "
          "planned | EM planned | compute planned |")
    print("|" + " --- |" * 10)
    for item in args.journals:
        label, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"error: expected LABEL=journal.sqlite, got {item!r}")
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        groups: dict[tuple[str, float], dict[bool, list[tuple[float, float]]]] = defaultdict(
            lambda: {True: [], False: []})
        rows = con.execute("SELECT dataset, budget, result FROM results WHERE strategy = ?",
                           (args.strategy,))
        for dataset, budget, result in rows:
            r = json.loads(result)
            direct = bool(r["trace"]["meta"].get("direct"))
            groups[(dataset, budget)][direct].append((r["em"], r["compute"]))
        for (dataset, budget), g in sorted(groups.items()):
            n = len(g[True]) + len(g[False])

            def mean(xs: list[tuple[float, float]], i: int) -> str:
                return f"{sum(x[i] for x in xs) / len(xs):.3f}" if xs else ""

            print(f"| {label} | {dataset} | {budget:g} | {n} | {len(g[True])} | {mean(g[True], 0)} "
                  f"| {mean(g[True], 1)} | {len(g[False])} | {mean(g[False], 0)} "
                  f"| {mean(g[False], 1)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
