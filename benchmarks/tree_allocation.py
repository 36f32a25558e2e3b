"""How the tree spent its compute in a `forage bench` run: first reading accepted, or planned.

    .venv/bin/python benchmarks/tree_allocation.py forage-small=/tmp/m/forage-small/journal.sqlite \
        smollm2=/tmp/m/smollm2/journal.sqlite [--strategy tree]

The tree reads for the whole question first and plans only when that answer is not confident
(``Tree.direct_first``). Per run, dataset and budget this prints how many questions stopped after
the first reading, their EM and mean compute, and the same for the questions that were planned --
the numbers behind "the tree accepted a confident first reading" in docs/LOG.md. With ``--world
FOLDER`` (the generated world the sweep scored) it also counts the kept first readings that are
the answer of an earlier hop of the question's gold decomposition (an intermediate entity, not the
answer asked for). Reads the journal only; opens it read-only, so a running sweep is not disturbed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

from forage.core.text import normalize_answer


def intermediate_answers(world: Path) -> dict[str, set[str]]:
    """Question id -> the normalised answers of every hop but the last, from the world's files."""
    out: dict[str, set[str]] = {}
    for name in ("dev.jsonl", "test.jsonl"):
        for line in (world / name).read_text().splitlines():
            q = json.loads(line)
            steps = q["metadata"].get("decomposition") or []
            out[q["id"]] = {normalize_answer(s["answer"]) for s in steps[:-1] if s.get("answer")}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("journals", nargs="+", help="LABEL=path/to/journal.sqlite")
    ap.add_argument("--strategy", default="tree")
    ap.add_argument("--world", type=Path, default=None,
                    help="the world folder the sweep scored: count intermediate answers kept")
    args = ap.parse_args()
    earlier = intermediate_answers(args.world) if args.world else {}
    print("| run | dataset | budget | n | first reading kept | EM kept | compute kept | "
          "planned | EM planned | compute planned |" + (" kept = an earlier hop's answer |"
                                                        if earlier else ""))
    print("|" + " --- |" * (11 if earlier else 10))
    for item in args.journals:
        label, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"error: expected LABEL=journal.sqlite, got {item!r}")
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        groups: dict[tuple[str, float], dict[bool, list[tuple[float, float]]]] = defaultdict(
            lambda: {True: [], False: []})
        partial: dict[tuple[str, float], int] = defaultdict(int)
        rows = con.execute("SELECT dataset, budget, result FROM results WHERE strategy = ?",
                           (args.strategy,))
        for dataset, budget, result in rows:
            r = json.loads(result)
            direct = bool(r["trace"]["meta"].get("direct"))
            groups[(dataset, budget)][direct].append((r["em"], r["compute"]))
            if direct and normalize_answer(r["prediction"]) in earlier.get(r["question_id"], ()):
                partial[(dataset, budget)] += 1
        for (dataset, budget), g in sorted(groups.items()):
            n = len(g[True]) + len(g[False])

            def mean(xs: list[tuple[float, float]], i: int) -> str:
                return f"{sum(x[i] for x in xs) / len(xs):.3f}" if xs else ""

            print(f"| {label} | {dataset} | {budget:g} | {n} | {len(g[True])} | {mean(g[True], 0)} "
                  f"| {mean(g[True], 1)} | {len(g[False])} | {mean(g[False], 0)} "
                  f"| {mean(g[False], 1)} |" + (f" {partial[(dataset, budget)]} |" if earlier else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
