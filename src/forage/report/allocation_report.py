"""The allocation figures as pictures and HTML: what ``forage.report.allocation`` computed, drawn.

- ``draw_allocation`` / ``plot_allocation``: one dataset's score vs mean spent compute (log x):
  every uniform configuration as faint per-strategy lines, the uniform Pareto frontier as a grey
  band (straight between frontier points on the log axis, as the gap interpolates it, flat to the
  costliest configuration), each adaptive policy as a bold line labelled with its levels, and the
  oracle curve dashed, labelled "oracle (unattainable)";
- ``draw_rungs`` / ``plot_rungs``: per adaptive budget level, how many results ended at each
  ladder rung (stacked bars; one panel per policy);
- ``write_allocation_figures``: both PNGs per dataset into a folder; a figure that cannot be drawn
  is logged and returned as an error, never raised (the report must survive a drawing bug);
- ``allocation_html``: an HTML fragment (a ``<section>``, no page around it) with one table per
  dataset and policy, for the bench report to include; plots inline as base64 PNGs.

Every text is drawn literally (no mathtext). Matplotlib's Agg backend, as in ``sweep_report``.

Not here: the figures themselves (``forage.report.allocation``), the page around the section
(``forage.report.sweep_report``).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from forage.report.allocation import (
    NO_RUNG,
    ORACLE_NOTE,
    AllocationSummary,
    DatasetAllocation,
    LevelFigures,
    MatchToBest,
)
from forage.report.text import escape as _e
from forage.report.text import number as _num
from forage.report.text import plain_number
from forage.report.text import slug as _slug

logger = logging.getLogger(__name__)

ORACLE_LABEL = "oracle (unattainable)"
FRONTIER_LABEL = "uniform Pareto frontier"
RUNG_ORDER = ("read", "passages", "tree", "replan")  # the cascade's ladder, cheapest first
_BOLD = ("#111111", "#c0392b", "#1f618d", "#7d3c98")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain_log_axis(ax: Any) -> None:
    from matplotlib.ticker import LogFormatter

    class PlainLog(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return plain_number(x)

    ax.xaxis.set_major_formatter(PlainLog())
    ax.xaxis.set_minor_formatter(PlainLog(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


def _literal(fig: Any) -> None:
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        t.set_parse_math(False)


def draw_allocation(entry: DatasetAllocation) -> Any:
    """Score vs mean spent compute for one dataset by allocation; returns the matplotlib figure
    (the caller closes it)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=100)
    try:
        ax.set_xscale("log")
        ax.set_ylim(-0.04, 1.06)
        xs_all = [p.compute for p in entry.uniform]
        xs_all += [lv.compute for pol in entry.policies.values() for lv in pol.levels]
        if entry.oracle is not None:
            xs_all += [entry.oracle.cheapest.compute, entry.oracle.full.compute]
        xs_all = [max(x, 1e-9) for x in xs_all] or [1.0]
        lo, hi = min(xs_all), max(xs_all)
        pad = 1.35 if hi / lo < 10 else 1.6
        ax.set_xlim(lo / pad, hi * pad)
        for i, name in enumerate(dict.fromkeys(p.strategy for p in entry.uniform)):
            pts = sorted((p for p in entry.uniform if p.strategy == name), key=lambda p: p.compute)
            ax.plot([max(p.compute, 1e-9) for p in pts], [p.score for p in pts], marker="o",
                    markersize=3.5, linewidth=1.0, alpha=0.4, color=f"C{i % 10}",
                    label=f"uniform {name}", zorder=2)
        if entry.frontier:
            costliest = max(p.compute for p in entry.uniform)
            fx = [max(p.compute, 1e-9) for p in entry.frontier] + [max(costliest, 1e-9)]
            fy = [p.score for p in entry.frontier] + [entry.frontier[-1].score]
            ax.plot(fx, fy, color="#555", linewidth=7, alpha=0.22, solid_capstyle="butt",
                    label=FRONTIER_LABEL, zorder=1)
        if entry.oracle is not None:
            pts = sorted((p for p, over in zip(entry.oracle.points, entry.oracle.over_budget,
                                               strict=True) if not over),
                         key=lambda p: (p.compute, p.score))
            if pts:
                ax.plot([max(p.compute, 1e-9) for p in pts], [p.score for p in pts],
                        linestyle="--", linewidth=1.6, color="#8e44ad", label=ORACLE_LABEL,
                        zorder=3)
            full = entry.oracle.full
            ax.plot([max(full.compute, 1e-9)], [full.score], marker="*", markersize=11,
                    markerfacecolor="none", color="#8e44ad", linestyle="none", zorder=3)
        for i, (name, pol) in enumerate(entry.policies.items()):
            color = _BOLD[i % len(_BOLD)]
            pts = sorted(pol.points, key=lambda p: p.compute)
            ax.plot([max(p.compute, 1e-9) for p in pts], [p.score for p in pts], marker="o",
                    markersize=7, linewidth=2.6, color=color, label=name, zorder=4)
            for p in pts:
                ax.annotate(f"{p.budget:g}", (max(p.compute, 1e-9), p.score),
                            textcoords="offset points", xytext=(5, -12), fontsize=7, color=color,
                            parse_math=False)
        _plain_log_axis(ax)
        ax.set_xlabel("mean compute spent per question (units, log scale)")
        ax.set_ylabel(entry.metric)
        ax.set_title(f"{entry.dataset}: {entry.metric} vs spent compute by allocation "
                     f"(n={entry.n_questions}; labels: mean budget)", parse_math=False)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        _literal(fig)
    except BaseException:
        plt.close(fig)
        raise
    return fig


def rung_order(levels: Sequence[LevelFigures]) -> list[str]:
    """The ladder's rungs cheapest first, then unknown rungs as first seen, "(none)" last."""
    seen = list(dict.fromkeys(r for lv in levels for r in lv.rungs))
    known = [r for r in RUNG_ORDER if r in seen]
    rest = [r for r in seen if r not in RUNG_ORDER and r != NO_RUNG]
    return known + rest + ([NO_RUNG] if NO_RUNG in seen else [])


def draw_rungs(entry: DatasetAllocation) -> Any:
    """Stacked bars per adaptive budget level: results ending at each rung, a panel per policy;
    ValueError when the dataset has no adaptive results."""
    if not entry.policies:
        raise ValueError(f"{entry.dataset} has no adaptive results")
    plt = _pyplot()
    pols = list(entry.policies.values())
    width = max(5.0, 2.5 + 1.1 * sum(len(p.levels) for p in pols))
    fig, axes = plt.subplots(1, len(pols), figsize=(width, 4), dpi=100, squeeze=False)
    try:
        for ax, pol in zip(axes[0], pols, strict=True):
            x = list(range(len(pol.levels)))
            bottom = [0] * len(x)
            for j, rung in enumerate(rung_order(pol.levels)):
                h = [lv.rungs.get(rung, 0) for lv in pol.levels]
                ax.bar(x, h, bottom=bottom, label=rung, color=f"C{j % 10}")
                bottom = [b + v for b, v in zip(bottom, h, strict=True)]
            ax.set_xticks(x, [f"{lv.budget:g}" for lv in pol.levels])
            ax.set_xlabel("batch mean budget per question")
            ax.set_ylabel("results (question x seed)")
            ax.set_title(f"{entry.dataset}: the rung {pol.policy} answered at", parse_math=False)
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="rung",
                      title_fontsize=7)
        fig.tight_layout()
        _literal(fig)
    except BaseException:
        plt.close(fig)
        raise
    return fig


def _save(fig: Any, path: Path) -> Path:
    plt = _pyplot()
    try:
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def plot_allocation(path: Path, entry: DatasetAllocation) -> Path:
    return _save(draw_allocation(entry), path)


def plot_rungs(path: Path, entry: DatasetAllocation) -> Path:
    return _save(draw_rungs(entry), path)


def write_allocation_figures(out_dir: str | Path, summary: AllocationSummary
                             ) -> tuple[dict[str, list[Path]], dict[str, str]]:
    """``allocation_<dataset>.png`` and, where there are adaptive results,
    ``rungs_<dataset>.png`` per dataset; returns (dataset -> paths, dataset -> error)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, list[Path]] = {}
    errors: dict[str, str] = {}
    for name, entry in summary.datasets.items():
        if not entry.uniform:
            continue
        paths[name] = []
        try:
            paths[name].append(plot_allocation(out / f"allocation_{_slug(name)}.png", entry))
            if entry.policies:
                paths[name].append(plot_rungs(out / f"rungs_{_slug(name)}.png", entry))
        except Exception as e:  # a drawing bug must not lose the report
            logger.warning("could not plot allocation for %s: %s: %s", name, type(e).__name__, e)
            errors[name] = f"{type(e).__name__}: {e}"
    return paths, errors


# -- html ------------------------------------------------------------------------------------


def _ci(ci: tuple[float, float] | None, digits: int = 3) -> str:
    return "" if ci is None else f" [{_num(ci[0], digits)}, {_num(ci[1], digits)}]"


def _signed(x: float, digits: int) -> str:
    return f"{x:+.{digits}f}"


def _na(reason: str | None) -> str:
    return f"n/a ({reason})" if reason else "n/a"


def _level_cells(lv: LevelFigures, order: Sequence[str]) -> list[str]:
    gap = (_na(lv.frontier_reason) if lv.gap is None
           else _signed(lv.gap, 3) + _ci(lv.gap_ci))
    gap_q = (_na(None) if lv.gap_questions is None
             else _signed(lv.gap_questions, 1) + _ci(lv.gap_questions_ci, 1))
    share = (_na(lv.share_reason) if lv.share is None
             else f"{lv.share:.2f}" + _ci(lv.share_ci, 2))
    rungs = ", ".join(f"{k} {lv.rungs[k]}" for k in order if k in lv.rungs)
    return [f"{lv.budget:g}", str(lv.n), f"{lv.score:.3f}", f"{lv.compute:.1f}",
            "n/a" if lv.frontier is None else f"{lv.frontier:.3f}", gap, gap_q,
            f"{lv.oracle:.3f}", share, rungs]


def match_text(m: MatchToBest | None) -> str:
    """Compute-to-match as one line of text (the table cell)."""
    if m is None:
        return "n/a"
    ci = "" if m.ratio_ci is None else f" [{_num(m.ratio_ci[0])}, {_num(m.ratio_ci[1])}]"
    where = f"{m.uniform.strategy}@{m.uniform.budget:g}"
    reached = ("" if m.reached_share is None or m.reached_share == 1
               else f"; reached in {m.reached_share:.0%} of resamples")
    if m.ratio is None:
        return _na(m.reason) + ci + reached
    return f"{_num(m.ratio)}x of {where} ({m.target:.3f}){ci}{reached}"


_HEAD = ("level (mean budget)", "n", "{metric}", "spent compute", "frontier at that compute",
         "gap [95% CI]", "gap in questions [95% CI]", "oracle (unattainable)",
         "share of oracle gain [95% CI]", "rungs", "compute-to-match [95% CI]")


def _images(name: str, paths: Sequence[Path]) -> str:
    parts = []
    for p in paths:
        try:
            b64 = base64.b64encode(Path(p).read_bytes()).decode()
        except OSError as e:
            parts.append(f'<p class="bad">{_e(Path(p).name)} could not be read: {_e(e)}</p>')
            continue
        parts.append(f'<img alt="{_e(name)} {_e(Path(p).stem)}" '
                     f'src="data:image/png;base64,{b64}">')
    return "".join(parts)


def allocation_html(summary: AllocationSummary,
                    figures: Mapping[str, Sequence[Path]] | None = None,
                    errors: Mapping[str, str] | None = None) -> str:
    """The allocation section: per dataset its figures (``figures``: dataset -> PNG paths,
    inlined), a note where a plot failed (``errors``) and one table per policy."""
    figures, errors = figures or {}, errors or {}
    body = ['<section class="allocation"><h2>Allocation: adaptive against uniform</h2>',
            f"<p>score: <b>{_e(summary.metric)}</b>, against mean compute actually spent per "
            "question. The frontier is the uniform configurations' Pareto frontier at the "
            "level's spent compute (linear in log compute; past the costliest configuration, the "
            "best score any reached); gap = adaptive minus frontier, also "
            "in questions (gap x n); share = (adaptive - frontier) / (oracle - frontier). "
            "Intervals: paired bootstrap 95% over questions "
            f"({summary.n_boot} resamples, seed {summary.seed}). "
            f"Oracle: {_e(ORACLE_NOTE)}.</p>"]
    for name, entry in summary.datasets.items():
        body.append(f"<h3>{_e(name)}</h3>")
        body.append(f"<p>{entry.n_questions} questions shared by every configuration and level"
                    + (f" ({entry.dropped_questions} left out: some configuration lacks them)"
                       if entry.dropped_questions else "") + ".</p>")
        body.append(_images(name, figures.get(name, ())))
        if name in errors:
            body.append(f'<p class="bad">a plot could not be drawn: {_e(errors[name])}</p>')
        if entry.not_applicable:
            body.append(f"<p>{_e(entry.not_applicable)}</p>")
        for pol in entry.policies.values():
            head = "".join(f"<th>{_e(h.format(metric=entry.metric))}</th>" for h in _HEAD)
            rows = []
            order = rung_order(pol.levels)
            for i, lv in enumerate(pol.levels):
                cells = "".join(f"<td>{_e(c)}</td>" for c in _level_cells(lv, order))
                if i == 0:
                    cells += (f'<td class="l" rowspan="{len(pol.levels)}">'
                              f"{_e(match_text(pol.compute_to_match))}</td>")
                rows.append(f'<tr class="level">{cells}</tr>')
            body.append(f"<h4>{_e(pol.policy)}</h4><table class=\"allocation\">"
                        f"<tr>{head}</tr>{''.join(rows)}</table>")
    body.append("</section>")
    return "".join(body)


__all__ = ["FRONTIER_LABEL", "ORACLE_LABEL", "RUNG_ORDER", "allocation_html", "draw_allocation",
           "draw_rungs", "match_text", "plot_allocation", "plot_rungs", "rung_order",
           "write_allocation_figures"]
