"""The sweep's outputs: ``results.json``, accuracy-vs-compute PNGs and one offline ``report.html``.

``write_report(out_dir, results, ...)`` aggregates results into cells (``forage.report.statistics``) and
writes

- ``results.json``: ``{"meta", "cells": [...], "efficiency": {...}}``; each cell has ``dataset``,
  ``strategy``, ``budget``, ``budget_level``, ``knob``, ``n``, ``em``/``f1``/``acc`` with ``*_ci``,
  ``compute_mean``/``compute_total``/``compute_ci`` and ``<counter>_mean``/``<counter>_total`` for
  every ledger counter (``prompt_tokens_mean``, ``completion_tokens_mean``, ``search_calls_mean``,
  ...), ``seconds_mean``, ``exhausted_rate``;
- ``accuracy_vs_compute_<dataset>.png``: score vs compute spent (log x), one line per strategy with
  CI bars where n >= 2, the Pareto frontier as a grey step band (matplotlib, Agg backend; names
  drawn literally, never as mathtext);
- ``report.html``: one self-contained file (inline CSS and JS, plots as base64 PNGs) with the
  curves, the tables, the efficiency figures and, per question, every run's trace tree as nested
  ``<details>``, pruned tasks marked.

``describe`` turns one dataset's efficiency figures into text; the terminal table and the page
both use it, so they cannot disagree.

``results.json`` and ``report.html`` are replaced atomically (a temporary file, then a rename), so
a crash or a full disk never leaves half a file where the last good one was.

Not here: the statistics themselves (``forage.report.statistics``), drawing one trace tree
(``forage.report.trace_html``), terminal output (the CLI).
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forage.core.files import atomic_write_text
from forage.report.statistics import (
    DEFAULT_BOOT,
    CellStats,
    DatasetEfficiency,
    Efficiency,
    cell_stats,
    curve,
    efficiency,
    group,
    pareto_frontier,
    points_of,
)
from forage.report.allocation import AllocationSummary, allocation_summary
from forage.report.allocation_report import allocation_html, write_allocation_figures
from forage.report.results import Result
from forage.report.styles import PAGE_CSS, TRACE_CSS
from forage.report.text import escape as _e
from forage.report.text import number as _num
from forage.report.text import plain_number
from forage.report.text import slug as _slug
from forage.report.trace_html import fmt, render_task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Report:
    cells: list[CellStats]
    efficiency: Efficiency
    results_json: Path
    html: Path
    plots: dict[str, Path]
    plot_errors: dict[str, str]  # dataset -> why its plot could not be drawn
    allocation: AllocationSummary | None = None  # with a batch allocation or the oracle


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


# -- plots -----------------------------------------------------------------------------------

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DODGE_PT = 3.0  # horizontal offset between strategies, so identical points stay visible


def _ci_ok(ci: Sequence[float]) -> bool:
    return all(isinstance(v, float) and math.isfinite(v) for v in ci)


def plot_dataset(path: Path, dataset: str, cells: Sequence[CellStats], metric: str) -> Path:
    """Write ``draw_dataset``'s figure to ``path`` as a PNG."""
    fig = draw_dataset(dataset, cells, metric)  # selects the Agg backend first
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def draw_dataset(dataset: str, cells: Sequence[CellStats], metric: str) -> Any:
    """Score vs compute (log x) for one dataset, one line per strategy, Pareto frontier marked;
    returns the matplotlib figure (the caller closes it).

    Every text is drawn literally (no mathtext: a ``$`` or a backslash in a name is just a
    character); strategies get distinct hollow markers and are dodged a few points sideways so
    identical points do not hide each other; CI bars only where a CI exists (n >= 2); budget
    labels are placed where they do not overlap, merged when a strategy's points coincide.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text
    from matplotlib.ticker import LogFormatter
    from matplotlib.transforms import ScaledTranslation

    class PlainLog(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return plain_number(x)

    pts = points_of(cells, metric)
    names = list(dict.fromkeys(c.strategy for c in cells))
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=100)
    try:
        xs_all = [max(p.compute, 1e-9) for p in pts]
        lo, hi = min(xs_all), max(xs_all)
        pad = 1.35 if hi / lo < 10 else 1.6
        ax.set_xscale("log")
        ax.set_xlim(lo / pad, hi * pad)
        ax.set_ylim(-0.04, 1.06)
        front = pareto_frontier(pts)
        if front:  # a step line from the cheapest frontier point to the right edge
            fx = [max(p.compute, 1e-9) for p in front] + [hi * pad]
            fy = [p.score for p in front] + [front[-1].score]
            ax.step(fx, fy, where="post", color="#555", linewidth=7, alpha=0.22, zorder=1,
                    solid_capstyle="butt", label="Pareto frontier")
        labels: list[tuple[Any, float, float, str, str]] = []
        for i, name in enumerate(names):
            shift = ScaledTranslation((i - (len(names) - 1) / 2) * DODGE_PT / 72, 0,
                                      fig.dpi_scale_trans)
            trans = ax.transData + shift
            mine = sorted((c for c in cells if c.strategy == name), key=lambda c: c.compute_mean)
            xs = [max(c.compute_mean, 1e-9) for c in mine]
            ys = [float(getattr(c, metric)) for c in mine]
            (line,) = ax.plot(xs, ys, marker=MARKERS[i % len(MARKERS)], markersize=9 - min(i, 4),
                              markerfacecolor="none", markeredgewidth=1.6, linewidth=1.3,
                              label=name, transform=trans, zorder=3)
            cis = [getattr(c, f"{metric}_ci") for c in mine]
            bars = [(x, y, ci) for x, y, ci in zip(xs, ys, cis, strict=True) if _ci_ok(ci)]
            if bars:
                ax.errorbar([b[0] for b in bars], [b[1] for b in bars],
                            yerr=[[max(0.0, y - ci[0]) for _, y, ci in bars],
                                  [max(0.0, ci[1] - y) for _, y, ci in bars]],
                            fmt="none", ecolor=line.get_color(), alpha=0.6, capsize=3,
                            transform=trans, zorder=2)
            merged: dict[tuple[float, float], list[str]] = {}
            for c, x, y in zip(mine, xs, ys, strict=True):
                merged.setdefault((round(math.log10(x), 2), round(y, 3)), []).append(
                    f"{c.budget:g}")
            for c, x, y in zip(mine, xs, ys, strict=True):
                key = (round(math.log10(x), 2), round(y, 3))
                if key in merged:
                    labels.append((trans, x, y, "/".join(merged.pop(key)), line.get_color()))
        ax.xaxis.set_major_formatter(PlainLog())
        ax.xaxis.set_minor_formatter(PlainLog(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
        ax.set_xlabel("compute spent per question (units, log scale)")
        ax.set_ylabel(metric)
        ax.set_title(f"{dataset}: {metric} vs compute (labels: budget)", parse_math=False)
        ax.grid(True, which="both", alpha=0.3)
        legend = ax.legend(fontsize=8, loc="best")
        for t in legend.get_texts():
            t.set_parse_math(False)
        fig.tight_layout()
        _place_labels(fig, ax, labels)
        for t in fig.findobj(Text):
            t.set_parse_math(False)
    except BaseException:
        plt.close(fig)
        raise
    return fig


_OFFSETS = ((5, 4, "left"), (5, -11, "left"), (-5, 4, "right"), (-5, -11, "right"),
            (5, 13, "left"), (5, -20, "left"), (-5, 13, "right"), (-5, -20, "right"))


def _place_labels(fig: Any, ax: Any, labels: Sequence[tuple[Any, float, float, str, str]]
                  ) -> None:
    """Annotate each point with its budget(s), in its strategy's colour, at the first offset that
    stays inside the axes and overlaps no label placed before; a label with no free place is left
    out (the table has every budget)."""
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed = []
    for trans, x, y, text, color in labels:
        for dx, dy, ha in _OFFSETS:
            t = ax.annotate(text, (x, y), xycoords=trans, textcoords="offset points",
                            xytext=(dx, dy), ha=ha, fontsize=7, color=color, parse_math=False)
            box = t.get_window_extent(renderer).expanded(1.05, 1.1)
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0
                      and box.y1 <= frame.y1)
            if inside and not any(box.overlaps(b) for b in placed):
                placed.append(box)
                break
            t.remove()


# -- html ------------------------------------------------------------------------------------

_CSS = TRACE_CSS + PAGE_CSS + """
details.question{margin-left:0;border-top:1px solid #ddd;padding:4px 0}
.ok{color:#176b1b}.bad{color:#a33}
img{max-width:100%}
"""

_JS = """
function setAll(open){document.querySelectorAll('details').forEach(d=>d.open=open);}
function filterQ(text){text=text.toLowerCase();
 document.querySelectorAll('details.question').forEach(d=>{
  d.style.display=d.dataset.text.includes(text)?'':'none';});}
"""


_fmt = fmt


AUC_NOTE = ("AUC: mean score over the log-compute range all strategies share "
            "(* own range: no overlap)")


@dataclass(frozen=True)
class EfficiencyText:
    """One dataset's efficiency figures as text: the terminal table and report.html both print
    these, so the two never disagree."""

    compute_to_match: str
    ci: str
    gain: str
    auc: str


def describe(entry: DatasetEfficiency) -> EfficiencyText:
    ctm = entry.compute_to_match
    if ctm is None:
        ratio, ci = f"n/a ({entry.not_applicable})", "n/a"
    elif not ctm.reached:
        ratio, ci = "not reached", "n/a"
    else:
        ratio = f"{_num(ctm.ratio)}x of {ctm.flat.strategy}@{ctm.flat.budget:g}"
        ci = (f"[{_num(ctm.ratio_ci[0])}, {_num(ctm.ratio_ci[1])}]" if ctm.ratio_ci
              else "n/a (one question)")
    if entry.gains is None:
        gain = "n/a"
    else:
        gain = ", ".join(f"{k} {g.mean:+.3f}" if g.mean is not None else f"{k} n/a"
                         for k, g in entry.gains.items()) or "n/a"
    auc = ", ".join(
        f"{k} {v:.3f}" if v is not None
        else (f"{k} {entry.auc_own[k]:.3f}*" if entry.auc_own.get(k) is not None else f"{k} n/a")
        for k, v in entry.auc.items()
    )
    return EfficiencyText(ratio, ci, gain, auc)


def ci_text(ci: Sequence[float], n: int) -> str:
    """A CI as "[lo, hi]"; "—" where there is none (n < 2)."""
    return f"[{_fmt(ci[0], 2)}, {_fmt(ci[1], 2)}]" if n >= 2 and _ci_ok(ci) else "—"


def _cell_table(cells: Sequence[CellStats], metric: str) -> str:
    head = ("<tr><th>strategy</th><th>budget</th><th>knob</th><th>n</th><th>EM</th><th>F1</th>"
            f"<th>acc</th><th>{_e(metric)} 95% CI</th><th>compute</th><th>prompt tok</th>"
            "<th>completion tok</th><th>search calls</th><th>llm calls</th><th>exhausted</th>"
            "<th>s/q</th></tr>")
    rows = []
    for c in cells:
        m = c.counters_mean
        rows.append(
            f'<tr class="cell"><td>{_e(c.strategy)}</td><td>{c.budget:g}</td><td>{_e(c.knob)}</td>'
            f"<td>{c.n}</td><td>{_fmt(c.em)}</td><td>{_fmt(c.f1)}</td><td>{_fmt(c.acc)}</td>"
            f"<td>{ci_text(getattr(c, f'{metric}_ci'), c.n)}</td>"
            f"<td>{_fmt(c.compute_mean, 1)}</td>"
            f"<td>{_fmt(m['prompt_tokens'], 1)}</td><td>{_fmt(m['completion_tokens'], 1)}</td>"
            f"<td>{_fmt(m['search_calls'], 2)}</td><td>{_fmt(m['llm_calls'], 2)}</td>"
            f"<td>{_fmt(c.exhausted_rate, 2)}</td><td>{_fmt(c.seconds_mean, 2)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _efficiency_html(entry: DatasetEfficiency | None, hierarchical: str) -> str:
    if entry is None:
        return ""
    t = describe(entry)
    rows = [(f"compute-to-match ({hierarchical} vs the best flat point)", t.compute_to_match),
            ("compute-to-match 95% CI", t.ci),
            (f"gain at equal compute ({hierarchical} minus each flat strategy)", t.gain),
            (AUC_NOTE, t.auc)]
    body = "".join(f'<tr class="eff"><td class="l">{_e(k)}</td><td class="l">{_e(v)}</td></tr>'
                   for k, v in rows)
    return f'<table class="efficiency"><tr><th>figure</th><th>value</th></tr>{body}</table>'


def _questions_html(results: Sequence[Result], metric: str) -> str:
    by_q: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        by_q[(r.dataset, r.question_id)].append(r)
    parts = []
    for (dataset, qid), runs in by_q.items():
        text = runs[0].trace.get("trace", {}).get("goal", "")
        gold = " | ".join(runs[0].answers)
        n_ok = sum(1 for r in runs if getattr(r, metric) >= 0.5)
        inner = []
        for r in sorted(runs, key=lambda r: (r.strategy, r.budget, r.seed)):
            ok = getattr(r, metric) >= 0.5
            mark = '<span class="ok">✓</span>' if ok else '<span class="bad">✗</span>'
            inner.append(
                f'<details class="run"><summary>{mark} {_e(r.strategy)} @ {r.budget:g} '
                f"(knob {_e(r.knob)}, seed {r.seed}): “{_e(r.prediction)}” — "
                f"EM {r.em:g}, F1 {r.f1:.2f}, acc {r.acc:g}, "
                f"compute {r.compute:.1f}{' exhausted' if r.exhausted else ''}</summary>"
                f"{render_task(r.trace.get('trace', {}), scale=r.budget)}</details>"
            )
        parts.append(
            f'<details class="question" data-text="{_e((qid + " " + text).lower())}">'
            f"<summary><b>{_e(dataset)}/{_e(qid)}</b> {_e(text)} — gold: {_e(gold)} "
            f"({n_ok}/{len(runs)} runs right by {_e(metric)})</summary>{''.join(inner)}</details>"
        )
    return "".join(parts)


def render_html(
    cells: Sequence[CellStats],
    eff: Efficiency,
    results: Sequence[Result],
    plots: Mapping[str, bytes],
    meta: Mapping[str, Any],
    plot_errors: Mapping[str, str] | None = None,
    extra: str = "",
) -> str:
    body = [f"<h1>forage bench</h1><p>{_e(', '.join(f'{k}: {v}' for k, v in meta.items()))}</p>",
            f"<p>score on the curves and efficiency figures: <b>{_e(eff.metric)}</b>; "
            "compute is what the ledger recorded (replayed calls at their original cost). "
            "EM and F1 are HotpotQA's; acc is a strict cover match. "
            "CIs are percentile-bootstrap 95% intervals over questions (none for n = 1).</p>"]
    for dataset in dict.fromkeys(c.dataset for c in cells):
        mine = [c for c in cells if c.dataset == dataset]
        body.append(f"<h2>{_e(dataset)}</h2>")
        if dataset in plots:
            b64 = base64.b64encode(plots[dataset]).decode()
            body.append(f'<img alt="{_e(dataset)} accuracy vs compute" '
                        f'src="data:image/png;base64,{b64}">')
        elif plot_errors and dataset in plot_errors:
            body.append(f'<p class="bad">the plot could not be drawn: {_e(plot_errors[dataset])}'
                        "</p>")
        body.append(_cell_table(mine, eff.metric))
        body.append(_efficiency_html(eff.datasets.get(dataset), eff.hierarchical))
    body.append(extra)
    body.append('<h2>Questions</h2><p><button onclick="setAll(true)">expand all</button> '
                '<button onclick="setAll(false)">collapse all</button> '
                '<input placeholder="filter questions" oninput="filterQ(this.value)"></p>')
    body.append(_questions_html(results, eff.metric))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>forage bench'
            f"</title><style>{_CSS}</style><script>{_JS}</script></head><body>"
            f"{''.join(body)}</body></html>")


def write_report(
    out_dir: str | Path,
    results: Sequence[Result],
    *,
    hierarchical: str = "tree",
    metric: str = "em",
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
    meta: Mapping[str, Any] | None = None,
    against: Sequence[Result] = (),
    oracle: bool = False,
) -> Report:
    """Aggregate ``results`` and write ``results.json``, the PNGs and ``report.html``.

    When ``results`` hold a batch allocation (``allocation="adaptive"``), or ``oracle`` is asked
    for, the report gains the allocation section (``forage.report.allocation``): each policy
    against the Pareto frontier of the uniform configurations (those of ``results`` and of
    ``against``, uniform results of other sweeps on the same questions), the oracle and the rung
    histogram; ``results.json`` gains ``allocation``. Efficiency figures (compute-to-match, gain)
    compare uniform configurations only. A plot that cannot be drawn is logged and noted in the
    page; it never costs the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cells = aggregate(results, n_boot=n_boot, seed=seed)
    uniform = [r for r in results if r.allocation == "uniform"]
    eff = efficiency([c for c in cells if c.strategy != "adaptive"], uniform,
                     hierarchical=hierarchical, metric=metric, n_boot=n_boot, seed=seed)
    meta = dict(meta or {})
    extra = ""
    summary_json: dict[str, Any] | None = None
    summary: AllocationSummary | None = None
    if oracle or any(r.allocation != "uniform" for r in results):
        summary = allocation_summary([*results, *against], metric, n_boot=n_boot, seed=seed)
        figures, errors = write_allocation_figures(out, summary)
        extra = allocation_html(summary, figures, errors)
        summary_json = summary.to_dict()
    results_json = out / "results.json"
    payload: dict[str, Any] = {"meta": meta, "cells": [c.to_dict() for c in cells],
                               "efficiency": eff.to_dict()}
    if summary_json is not None:
        payload["allocation"] = summary_json
    atomic_write_text(results_json, json.dumps(_json_safe(payload), indent=2))
    plots: dict[str, Path] = {}
    plot_errors: dict[str, str] = {}
    for dataset in dict.fromkeys(c.dataset for c in cells):
        mine = [c for c in cells if c.dataset == dataset]
        try:
            plots[dataset] = plot_dataset(out / f"accuracy_vs_compute_{_slug(dataset)}.png",
                                          dataset, mine, metric)
        except Exception as e:  # a drawing bug must not lose the sweep's report
            logger.warning("could not plot %s: %s: %s", dataset, type(e).__name__, e)
            plot_errors[dataset] = f"{type(e).__name__}: {e}"
    page = render_html(cells, eff, results, {d: p.read_bytes() for d, p in plots.items()}, meta,
                       plot_errors, extra)
    html_path = out / "report.html"
    atomic_write_text(html_path, page)
    return Report(cells, eff, results_json, html_path, plots, plot_errors, summary)


__all__ = ["AUC_NOTE", "EfficiencyText", "Report", "aggregate", "ci_text", "describe",
           "plain_number", "render_html", "render_task", "write_report", "curve"]
