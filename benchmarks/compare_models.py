"""Side-by-side tables of two or more `forage bench` runs that differ only in the model.

    .venv/bin/python benchmarks/compare_models.py smollm2=/tmp/m/smollm2/results.json \
        forage-small=/tmp/m/forage-small/results.json [--metric em]

Prints Markdown for docs/LOG.md: per dataset, one row per strategy and budget with each run's
score, F1 and mean compute, then each run's best flat strategy, the hierarchy's compute-to-match
against it and the area under the shared part of the log-compute curve. The runs must score the
same questions (same datasets, split, limit and budgets); a mismatch is refused.

``--dataset NAME`` (repeatable) compares only those datasets' cells, so runs kept in separate
folders per dataset compare on the one they share.

When each results.json has its sweep's journal.sqlite beside it, every run after the first also
gets a paired column per cell: its difference from the first run on the same questions with a
paired bootstrap 95% interval, and McNemar's exact p for right/wrong (em, acc)
(``forage.report.paired``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from forage.eval.journal import journaled_results
from forage.report.paired import mcnemar, paired_bootstrap


def load(label_path: str) -> tuple[str, dict[str, Any]]:
    label, sep, path = label_path.partition("=")
    if not sep or not label or not path:
        raise SystemExit(f"error: expected LABEL=path/to/results.json, got {label_path!r}")
    return label, json.loads(Path(path).read_text())


Rows = dict[tuple[str, str, float], dict[tuple[str, int], float]]


def per_question(label_path: str, metric: str) -> Rows | None:
    """Each cell's per-question scores from the journal beside the results.json (None without)."""
    journal = Path(label_path.partition("=")[2]).with_name("journal.sqlite")
    if not journal.is_file():
        return None
    out: Rows = {}
    for r in journaled_results(journal):
        out.setdefault((r.dataset, r.strategy, float(r.budget)), {})[(r.question_id, r.seed)] = \
            float(getattr(r, metric))
    return out


def paired_text(first: dict[tuple[str, int], float], other: dict[tuple[str, int], float],
                metric: str) -> str:
    """other - first on the questions both scored: paired bootstrap CI, McNemar p (binary scores)."""
    ids = sorted(set(first) & set(other))
    if len(ids) < 2:
        return "n/a"
    x, y = [other[i] for i in ids], [first[i] for i in ids]
    d = paired_bootstrap(x, y)
    text = f"{d.estimate:+.3f} [{d.ci[0]:+.2f}, {d.ci[1]:+.2f}]"
    if metric in ("em", "acc"):
        text += f" p={mcnemar([v >= 1 for v in x], [v >= 1 for v in y]).p:.2g}"
    return text


def cells_by_key(run: dict[str, Any]) -> dict[tuple[str, str, float], dict[str, Any]]:
    return {(c["dataset"], c["strategy"], c["budget"]): c for c in run["cells"]}


def fmt(x: float | None, digits: int = 3) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("runs", nargs="+", help="LABEL=results.json, two or more")
    ap.add_argument("--metric", default="em", choices=("em", "f1", "acc"))
    ap.add_argument("--dataset", action="append", default=None,
                    help="compare only this dataset's cells (repeatable): runs that swept other "
                         "datasets besides it, or in separate folders, compare on the shared one")
    args = ap.parse_args()
    runs = [load(r) for r in args.runs]
    rows = [per_question(r, args.metric) for r in args.runs]
    paired = rows[0] is not None and all(r is not None for r in rows[1:])
    if len(runs) < 2:
        raise SystemExit("error: give two or more runs to compare")
    keyed = [(label, {k: c for k, c in cells_by_key(run).items()
                      if args.dataset is None or k[0] in args.dataset}) for label, run in runs]
    if not keyed[0][1]:
        raise SystemExit(f"error: {keyed[0][0]} has no cells of {', '.join(args.dataset or [])}")
    keys = list(keyed[0][1])
    for label, cells in keyed[1:]:
        if set(cells) != set(keys):
            raise SystemExit(f"error: {label} scored other cells than {keyed[0][0]}")
        for k in keys:
            if cells[k]["n"] != keyed[0][1][k]["n"]:
                raise SystemExit(f"error: {label} scored {cells[k]['n']} questions at {k}, "
                                 f"{keyed[0][0]} {keyed[0][1][k]['n']}")
    m = args.metric
    for dataset in dict.fromkeys(k[0] for k in keys):
        n = keyed[0][1][next(k for k in keys if k[0] == dataset)]["n"]
        print(f"\n**{dataset}** (n = {n} per cell; {m.upper()} with 95% bootstrap interval)\n")
        head = ["strategy", "budget"]
        for label, _ in keyed:
            head += [f"{label} {m.upper()} [CI]", "F1", "compute"]
        if paired:
            head += [f"{label} - {keyed[0][0]} paired [CI]" + (" McNemar p" if m != "f1" else "")
                     for label, _ in keyed[1:]]
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for k in (k for k in keys if k[0] == dataset):
            row = [k[1], f"{k[2]:g}"]
            for _, cells in keyed:
                c = cells[k]
                lo, hi = c.get(f"{m}_ci") or (None, None)
                ci = f" [{fmt(lo, 2)}, {fmt(hi, 2)}]" if lo is not None else ""
                row += [fmt(c[m]) + ci, fmt(c["f1"]), fmt(c["compute_mean"], 1)]
            if paired:
                first_rows = rows[0][k] if rows[0] and k in rows[0] else {}
                row += [paired_text(first_rows, (other or {}).get(k, {}), m) for other in rows[1:]]
            print("| " + " | ".join(row) + " |")
        print()
        for label, run in runs:
            eff = run["efficiency"]["datasets"].get(dataset, {})
            ctm = eff.get("compute_to_match") or {}
            auc = {s: v for s, v in (eff.get("auc") or {}).items() if v is not None}
            own = not auc  # no compute range every strategy covers: each over its own range
            if own:
                auc = {s: v for s, v in (eff.get("auc_own") or {}).items() if v is not None}
            best_auc = sorted(auc.items(), key=lambda kv: -kv[1])[:3]
            if ctm.get("flat_strategy"):
                ratio = ctm.get("ratio")
                hier = run["efficiency"]["hierarchical"]
                where = (f"{hier} matches it at {fmt(ratio, 2)}x of its compute "
                         f"({hier}@{ctm['hierarchical_budget']:g}, "
                         f"{fmt(ctm.get('hierarchical_compute'), 1)} units)"
                         if ctm.get("reached") and ratio is not None
                         else f"{hier} does not reach it within the budgets")
                line = (f"best flat {ctm['flat_strategy']}@{ctm['flat_budget']:g} "
                        f"({m} {fmt(ctm.get('target'))} at {fmt(ctm.get('flat_compute'), 1)} units); "
                        f"{where}")
            else:
                line = "no compute-to-match (no flat strategy scored above zero)"
            aucs = ", ".join(f"{s} {v:.3f}" for s, v in best_auc) or "n/a"
            kind = "AUC over each strategy's own log-compute range" if own else "AUC"
            print(f"- {label}: {line}; top {kind}: {aucs}")
        first_label, first = keyed[0]
        for label, cells in keyed[1:]:
            diffs = [cells[k][m] - first[k][m] for k in keys if k[0] == dataset]
            print(f"- {label} vs {first_label}, cell by cell: higher in "
                  f"{sum(d > 1e-9 for d in diffs)}, equal in {sum(abs(d) <= 1e-9 for d in diffs)}, "
                  f"lower in {sum(d < -1e-9 for d in diffs)} of {len(diffs)} cells; mean {m} "
                  f"{sum(cells[k][m] for k in keys if k[0] == dataset) / len(diffs):.3f} vs "
                  f"{sum(first[k][m] for k in keys if k[0] == dataset) / len(diffs):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
