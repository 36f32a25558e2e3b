"""The sweep's outputs: ``results.json``, accuracy-vs-compute PNGs and one offline ``report.html``.

``write_report(out_dir, results, ...)`` aggregates results into cells (``forage.eval.metrics``) and
writes

- ``results.json``: ``{"meta", "cells": [...], "efficiency": {...}}``; each cell has ``dataset``,
  ``strategy``, ``budget``, ``budget_level``, ``knob``, ``n``, ``em``/``f1``/``acc`` with ``*_ci``,
  ``compute_mean``/``compute_total``/``compute_ci`` and ``<counter>_mean``/``<counter>_total`` for
  every ledger counter (``prompt_tokens_mean``, ``completion_tokens_mean``, ``search_calls_mean``,
  ...), ``seconds_mean``, ``exhausted_rate``;
- ``accuracy_vs_compute_<dataset>.png``: score vs compute spent (log x), one line per strategy with
  CI bars, the Pareto frontier marked (matplotlib, Agg backend);
- ``report.html``: one self-contained file (inline CSS and JS, plots as base64 PNGs) with the
  curves, the tables, the efficiency figures and, per question, every run's trace tree as nested
  ``<details>``, pruned tasks marked.

Not here: the statistics themselves (``forage.eval.metrics``), terminal output (the CLI).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forage.eval.metrics import (
    DEFAULT_BOOT,
    CellStats,
    cell_stats,
    curve,
    efficiency,
    group,
    pareto_frontier,
    points_of,
)
from forage.eval.runner import Result

logger = logging.getLogger(__name__)

MAX_TEXT = 1500  # characters of a prompt or output shown in the HTML trace


@dataclass(frozen=True)
class Report:
    cells: list[CellStats]
    efficiency: dict[str, Any]
    results_json: Path
    html: Path
    plots: dict[str, Path]


def aggregate(results: Sequence[Result], *, n_boot: int = DEFAULT_BOOT, seed: int = 0
              ) -> list[CellStats]:
    """One ``CellStats`` per (dataset, strategy, budget), sorted by dataset order, strategy order
    and budget."""
    groups = group(results)
    order_ds = list(dict.fromkeys(r.dataset for r in results))
    order_st = list(dict.fromkeys(r.strategy for r in results))
    keys = sorted(groups, key=lambda k: (order_ds.index(k[0]), order_st.index(k[1]), k[2]))
    return [cell_stats(groups[k], n_boot=n_boot, seed=seed) for k in keys]


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    return x


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "dataset"


# -- plots -----------------------------------------------------------------------------------


def plot_dataset(path: Path, dataset: str, cells: Sequence[CellStats], metric: str) -> Path:
    """Score vs compute (log x) for one dataset, one line per strategy, Pareto frontier marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = points_of(cells, metric)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        for name in dict.fromkeys(c.strategy for c in cells):
            mine = sorted((c for c in cells if c.strategy == name), key=lambda c: c.compute_mean)
            xs = [max(c.compute_mean, 1e-9) for c in mine]
            ys = [getattr(c, metric) for c in mine]
            cis = [getattr(c, f"{metric}_ci") for c in mine]
            err = [[max(0.0, y - lo) for y, (lo, _) in zip(ys, cis, strict=True)],
                   [max(0.0, hi - y) for y, (_, hi) in zip(ys, cis, strict=True)]]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=name)
            for c, x, y in zip(mine, xs, ys, strict=True):
                ax.annotate(f"{c.budget:g}", (x, y), textcoords="offset points", xytext=(4, 4),
                            fontsize=7, alpha=0.7)
        front = pareto_frontier(pts)
        if front:
            ax.step([max(p.compute, 1e-9) for p in front], [p.score for p in front], where="post",
                    color="black", linestyle="--", linewidth=1, label="Pareto frontier")
            ax.scatter([max(p.compute, 1e-9) for p in front], [p.score for p in front], s=120,
                       facecolors="none", edgecolors="black", zorder=5)
        ax.set_xscale("log")
        ax.set_xlabel("compute spent per question (units, log scale)")
        ax.set_ylabel(metric)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{dataset}: {metric} vs compute (labels: budget)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


# -- html ------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th:first-child,td:first-child,td.l{text-align:left}
th{background:#f3f3f3}
details{margin:2px 0 2px 1em}
details.question{margin-left:0;border-top:1px solid #ddd;padding:4px 0}
summary{cursor:pointer}
pre{white-space:pre-wrap;background:#f8f8f8;padding:4px;margin:2px 0;font-size:0.85em}
.pruned>summary{color:#999}
.badge{font-size:0.75em;padding:0 5px;border-radius:3px;margin-left:4px}
.pruned-badge{background:#fde2e2;color:#a33}
.ok{color:#176b1b}.bad{color:#a33}
.action{margin:2px 0}
.kind{font-weight:bold;font-size:0.8em}
img{max-width:100%}
"""

_JS = """
function setAll(open){document.querySelectorAll('details').forEach(d=>d.open=open);}
function filterQ(text){text=text.toLowerCase();
 document.querySelectorAll('details.question').forEach(d=>{
  d.style.display=d.dataset.text.includes(text)?'':'none';});}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"
    return str(x)


def _ci(ci: Sequence[float]) -> str:
    return f"[{_fmt(ci[0], 2)}, {_fmt(ci[1], 2)}]"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"… ({len(text)} chars)"


def render_task(task: Mapping[str, Any], depth: int = 0) -> str:
    """One task of a trace (``Task.to_dict()``) and its subtasks as nested ``<details>``."""
    pruned = bool(task.get("pruned"))
    badge = '<span class="badge pruned-badge">pruned</span>' if pruned else ""
    conclusion = task.get("conclusion")
    summary = (f"[{_e(task.get('status', ''))}] {_e(task.get('goal', ''))}{badge}"
               + (f" → <b>{_e(conclusion)}</b>" if conclusion else ""))
    parts = [f'<details class="task{" pruned" if pruned else ""}"{" open" if depth == 0 else ""}>'
             f"<summary>{summary}</summary>"]
    if task.get("thought"):
        parts.append(f"<pre>thought: {_e(_clip(task['thought']))}</pre>")
    budget = task.get("budget")
    if budget:
        parts.append(f"<div>budget {_e(budget.get('path'))}: spent {_fmt(budget.get('spent'), 1)}"
                     f" of {_fmt(budget.get('limit'), 1)}</div>")
    for a in task.get("actions", []):
        parts.append(
            f'<details class="action"><summary><span class="kind">{_e(a.get("kind"))}</span> '
            f"cost {_fmt(a.get('cost'), 1)}{' (replayed)' if a.get('replayed') else ''}: "
            f"{_e(_clip(str(a.get('output', ''))).splitlines()[0] if a.get('output') else '')}"
            f"</summary><pre>{_e(_clip(str(a.get('input', ''))))}</pre>"
            f"<pre>→ {_e(_clip(str(a.get('output', ''))))}</pre></details>"
        )
    for sub in task.get("subtasks", []):
        parts.append(render_task(sub, depth + 1))
    parts.append("</details>")
    return "".join(parts)


def _cell_table(cells: Sequence[CellStats]) -> str:
    head = ("<tr><th>strategy</th><th>budget</th><th>knob</th><th>n</th><th>EM</th><th>F1</th>"
            "<th>acc</th><th>acc 95% CI</th><th>compute</th><th>prompt tok</th>"
            "<th>completion tok</th><th>search calls</th><th>llm calls</th><th>exhausted</th>"
            "<th>s/q</th></tr>")
    rows = []
    for c in cells:
        m = c.counters_mean
        rows.append(
            f'<tr class="cell"><td>{_e(c.strategy)}</td><td>{c.budget:g}</td><td>{_e(c.knob)}</td>'
            f"<td>{c.n}</td><td>{_fmt(c.em)}</td><td>{_fmt(c.f1)}</td><td>{_fmt(c.acc)}</td>"
            f"<td>{_ci(c.acc_ci)}</td><td>{_fmt(c.compute_mean, 1)}</td>"
            f"<td>{_fmt(m['prompt_tokens'], 1)}</td><td>{_fmt(m['completion_tokens'], 1)}</td>"
            f"<td>{_fmt(m['search_calls'], 2)}</td><td>{_fmt(m['llm_calls'], 2)}</td>"
            f"<td>{_fmt(c.exhausted_rate, 2)}</td><td>{_fmt(c.seconds_mean, 2)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _efficiency_html(entry: Mapping[str, Any], hierarchical: str) -> str:
    out = ["<table><tr><th>figure</th><th>value</th></tr>"]
    ctm = entry.get("compute_to_match")
    if not isinstance(ctm, dict):
        out.append(f"<tr><td>compute-to-match ({_e(hierarchical)})</td>"
                   f"<td>{_e(ctm if ctm else 'n/a')}</td></tr>")
    else:
        ci = ctm.get("ratio_ci") or [None, None]
        text = (f"{_fmt(ctm['ratio'], 2)} [{_fmt(ci[0], 2)}, {_fmt(ci[1], 2)}]"
                if ctm["reached"] else "not reached")
        out.append(f"<tr><td>compute-to-match ({_e(hierarchical)} vs best flat "
                   f"{_e(ctm['flat_strategy'])}@{ctm['flat_budget']:g}, target "
                   f"{_fmt(ctm['target'])})</td><td>{text}</td></tr>")
    gains = entry.get("gain_at_equal_compute")
    if isinstance(gains, dict):
        for name, g in gains.items():
            out.append(f"<tr><td>gain at equal compute vs {_e(name)}</td>"
                       f"<td>{_fmt(g.get('mean'))}</td></tr>")
    else:
        out.append("<tr><td>gain at equal compute</td><td>n/a</td></tr>")
    for name, v in (entry.get("auc") or {}).items():
        out.append(f"<tr><td>AUC (mean score over log compute) {_e(name)}</td>"
                   f"<td>{_fmt(v)}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _questions_html(results: Sequence[Result]) -> str:
    by_q: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        by_q[(r.dataset, r.question_id)].append(r)
    parts = []
    for (dataset, qid), runs in by_q.items():
        text = runs[0].trace.get("trace", {}).get("goal", "")
        gold = " | ".join(runs[0].answers)
        n_ok = sum(1 for r in runs if r.acc > 0)
        inner = []
        for r in sorted(runs, key=lambda r: (r.strategy, r.budget, r.seed)):
            mark = '<span class="ok">✓</span>' if r.acc > 0 else '<span class="bad">✗</span>'
            inner.append(
                f'<details class="run"><summary>{mark} {_e(r.strategy)} @ {r.budget:g} '
                f"(knob {_e(r.knob)}, seed {r.seed}): “{_e(r.prediction)}” — "
                f"compute {r.compute:.1f}{' exhausted' if r.exhausted else ''}</summary>"
                f"{render_task(r.trace.get('trace', {}))}</details>"
            )
        parts.append(
            f'<details class="question" data-text="{_e((qid + " " + text).lower())}">'
            f"<summary><b>{_e(dataset)}/{_e(qid)}</b> {_e(text)} — gold: {_e(gold)} "
            f"({n_ok}/{len(runs)} runs right)</summary>{''.join(inner)}</details>"
        )
    return "".join(parts)


def render_html(
    cells: Sequence[CellStats],
    eff: Mapping[str, Any],
    results: Sequence[Result],
    plots: Mapping[str, bytes],
    meta: Mapping[str, Any],
) -> str:
    hier = str(eff.get("hierarchical", ""))
    body = [f"<h1>forage bench</h1><p>{_e(', '.join(f'{k}: {v}' for k, v in meta.items()))}</p>",
            f"<p>score on the curves and efficiency figures: <b>{_e(eff.get('metric'))}</b>; "
            "compute is what the ledger recorded (replayed calls at their original cost).</p>"]
    for dataset in dict.fromkeys(c.dataset for c in cells):
        mine = [c for c in cells if c.dataset == dataset]
        body.append(f"<h2>{_e(dataset)}</h2>")
        if dataset in plots:
            b64 = base64.b64encode(plots[dataset]).decode()
            body.append(f'<img alt="{_e(dataset)} accuracy vs compute" '
                        f'src="data:image/png;base64,{b64}">')
        body.append(_cell_table(mine))
        body.append(_efficiency_html(eff.get("datasets", {}).get(dataset, {}), hier))
    body.append('<h2>Questions</h2><p><button onclick="setAll(true)">expand all</button> '
                '<button onclick="setAll(false)">collapse all</button> '
                '<input placeholder="filter questions" oninput="filterQ(this.value)"></p>')
    body.append(_questions_html(results))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>forage bench'
            f"</title><style>{_CSS}</style><script>{_JS}</script></head><body>"
            f"{''.join(body)}</body></html>")


def write_report(
    out_dir: str | Path,
    results: Sequence[Result],
    *,
    hierarchical: str = "tree",
    metric: str = "acc",
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
    meta: Mapping[str, Any] | None = None,
) -> Report:
    """Aggregate ``results`` and write ``results.json``, the PNGs and ``report.html``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cells = aggregate(results, n_boot=n_boot, seed=seed)
    eff = efficiency(cells, results, hierarchical=hierarchical, metric=metric, n_boot=n_boot,
                     seed=seed)
    meta = dict(meta or {})
    results_json = out / "results.json"
    results_json.write_text(json.dumps(_json_safe(
        {"meta": meta, "cells": [c.to_dict() for c in cells], "efficiency": eff}), indent=2))
    plots: dict[str, Path] = {}
    for dataset in dict.fromkeys(c.dataset for c in cells):
        mine = [c for c in cells if c.dataset == dataset]
        plots[dataset] = plot_dataset(out / f"accuracy_vs_compute_{_slug(dataset)}.png", dataset,
                                      mine, metric)
    page = render_html(cells, eff, results, {d: p.read_bytes() for d, p in plots.items()}, meta)
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return Report(cells, eff, results_json, html_path, plots)


__all__ = ["Report", "aggregate", "render_html", "render_task", "write_report", "curve"]
