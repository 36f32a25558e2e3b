"""Sweep statistics: per-cell means with bootstrap CIs, and the efficiency figures.

A *cell* is (dataset, strategy, budget), pooled over seeds. ``cell_stats`` gives EM, F1 and
accuracy means with percentile-bootstrap 95% CIs (numpy, seeded), compute units and every ledger
counter (mean and total), latency and the share of runs that ran out of budget.

The efficiency figures are pure functions of curve points (``Point``: a strategy at a budget, its
mean compute actually spent and its mean score):

- ``pareto_frontier``: points no other point beats on both compute (lower) and score (higher);
- ``compute_to_match``: the best score any *flat* strategy (every strategy but the hierarchical one)
  reached at any budget; the cheapest measured point of the hierarchical strategy that reaches it;
  the ratio of the two computes (< 1: the hierarchy needs less). Measured points only, no
  extrapolation; ``None`` when the hierarchy never reaches it. ``bootstrap_compute_to_match``
  resamples questions (paired across cells) for its CI; a resample where the hierarchy does not
  reach the target counts as an infinite ratio, so an unbounded CI says so;
- ``gain_at_equal_compute``: at each flat point inside the hierarchy's compute range, the
  hierarchy's score interpolated linearly in log compute, minus the flat score;
- ``auc_log_compute``: the area under score vs log10(compute), over a range shared by all
  strategies, divided by the range's width: the mean score across that range of log compute
  (``auc``; None when the strategies' ranges do not overlap), and over each strategy's own range
  (``auc_own``).

``compute_to_match`` is reported as n/a when the best flat score is 0 (matching nothing is free).

Not here: scoring one answer (``forage.data.metrics``), files and plots (``forage.eval.report``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from forage.core.budget import Usage
from forage.eval.runner import Result

SCORES = ("em", "f1", "acc")
COUNTERS = tuple(f.name for f in fields(Usage))
DEFAULT_BOOT = 2000


def bootstrap_ci(
    values: Sequence[float], *, n_boot: int = DEFAULT_BOOT, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean: ``n_boot`` resamples of ``len(values)`` indices drawn
    with ``numpy.random.default_rng(seed).integers``; (nan, nan) for no values."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = x[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.percentile(means, [100 * alpha, 100 * (1 - alpha)])
    return (float(lo), float(hi))


# -- cells -----------------------------------------------------------------------------------

CellId = tuple[str, str, float]  # dataset, strategy, budget


@dataclass(frozen=True)
class CellStats:
    dataset: str
    strategy: str
    budget: float
    budget_level: int | None
    knob: int | None
    seeds: tuple[int, ...]
    n: int
    em: float
    em_ci: tuple[float, float]
    f1: float
    f1_ci: tuple[float, float]
    acc: float
    acc_ci: tuple[float, float]
    compute_mean: float
    compute_ci: tuple[float, float]
    compute_total: float
    counters_mean: Mapping[str, float]
    counters_total: Mapping[str, float]
    seconds_mean: float
    seconds_total: float
    exhausted_rate: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("em_ci", "f1_ci", "acc_ci", "compute_ci", "seeds"):
            d[key] = list(d[key])
        for name, v in self.counters_mean.items():
            d[f"{name}_mean"] = v
        for name, v in self.counters_total.items():
            d[f"{name}_total"] = v
        return d


def group(results: Iterable[Result]) -> dict[CellId, list[Result]]:
    """Results by (dataset, strategy, budget), in first-seen order."""
    out: dict[CellId, list[Result]] = defaultdict(list)
    for r in results:
        out[(r.dataset, r.strategy, float(r.budget))].append(r)
    return dict(out)


def cell_stats(results: Sequence[Result], *, n_boot: int = DEFAULT_BOOT, seed: int = 0) -> CellStats:
    """Statistics of one cell's results (all of one dataset, strategy and budget)."""
    if not results:
        raise ValueError("a cell needs at least one result")
    first = results[0]
    if any((r.dataset, r.strategy, r.budget) != (first.dataset, first.strategy, first.budget)
           for r in results):
        raise ValueError("results of different cells passed to cell_stats")
    n = len(results)

    def col(name: str) -> list[float]:
        return [float(getattr(r, name)) for r in results]

    def ci(values: list[float]) -> tuple[float, float]:
        return bootstrap_ci(values, n_boot=n_boot, seed=seed)

    counters_total = {c: float(sum(r.usage.get(c, 0.0) for r in results)) for c in COUNTERS}
    compute = col("compute")
    seconds = col("seconds")
    return CellStats(
        dataset=first.dataset,
        strategy=first.strategy,
        budget=float(first.budget),
        budget_level=first.budget_level,
        knob=first.knob,
        seeds=tuple(sorted({r.seed for r in results})),
        n=n,
        em=float(np.mean(col("em"))),
        em_ci=ci(col("em")),
        f1=float(np.mean(col("f1"))),
        f1_ci=ci(col("f1")),
        acc=float(np.mean(col("acc"))),
        acc_ci=ci(col("acc")),
        compute_mean=float(np.mean(compute)),
        compute_ci=ci(compute),
        compute_total=float(sum(compute)),
        counters_mean={c: v / n for c, v in counters_total.items()},
        counters_total=counters_total,
        seconds_mean=float(np.mean(seconds)),
        seconds_total=float(sum(seconds)),
        exhausted_rate=float(np.mean([float(r.exhausted) for r in results])),
    )


# -- efficiency (pure functions of points) ---------------------------------------------------


@dataclass(frozen=True)
class Point:
    strategy: str
    budget: float
    compute: float
    score: float


def pareto_frontier(points: Iterable[Point]) -> list[Point]:
    """Points not dominated by another (another with compute <= and score >=, one strictly),
    sorted by compute."""
    ordered = sorted(points, key=lambda p: (p.compute, -p.score))
    front: list[Point] = []
    for p in ordered:
        if not front or p.score > front[-1].score:
            front.append(p)
    return front


def curve(points: Iterable[Point], strategy: str) -> list[Point]:
    """One strategy's points, sorted by compute."""
    return sorted((p for p in points if p.strategy == strategy), key=lambda p: p.compute)


def _log(c: float) -> float:
    return math.log10(max(c, 1e-9))


def interpolate(points: Sequence[Point], compute: float) -> float | None:
    """Score at ``compute`` by linear interpolation in log10(compute) along ``points`` (sorted by
    compute); None outside their compute range."""
    if not points:
        return None
    xs = [_log(p.compute) for p in points]
    x = _log(compute)
    if x < xs[0] - 1e-12 or x > xs[-1] + 1e-12:
        return None
    return float(np.interp(x, xs, [p.score for p in points]))


@dataclass(frozen=True)
class Match:
    """The outcome of ``compute_to_match``."""

    target: float  # the best flat score
    flat: Point  # where a flat strategy reached it (the cheapest such point)
    hierarchical: Point | None  # the cheapest hierarchical point reaching it, if any
    ratio: float | None  # hierarchical.compute / flat.compute


def compute_to_match(points: Sequence[Point], hierarchical: str) -> Match | None:
    """None when either the hierarchical strategy or any flat strategy has no points."""
    hier = curve(points, hierarchical)
    flat = [p for p in points if p.strategy != hierarchical]
    if not hier or not flat:
        return None
    best = min(flat, key=lambda p: (-p.score, p.compute))
    reach = next((p for p in hier if p.score >= best.score - 1e-12), None)
    ratio = None
    if reach is not None:
        ratio = reach.compute / best.compute if best.compute > 0 else math.inf
    return Match(best.score, best, reach, ratio)


def gain_at_equal_compute(
    points: Sequence[Point], hierarchical: str
) -> dict[str, list[tuple[float, float]]]:
    """For each flat strategy: (compute, hierarchical score - flat score) at each of its points
    inside the hierarchical strategy's compute range."""
    hier = curve(points, hierarchical)
    out: dict[str, list[tuple[float, float]]] = {}
    if not hier:
        return out
    for name in sorted({p.strategy for p in points} - {hierarchical}):
        gains = []
        for p in curve(points, name):
            h = interpolate(hier, p.compute)
            if h is not None:
                gains.append((p.compute, h - p.score))
        out[name] = gains
    return out


def common_range(points: Sequence[Point]) -> tuple[float, float] | None:
    """The compute range every strategy's curve covers; None if it is empty or a single point."""
    names = {p.strategy for p in points}
    if not names:
        return None
    lo = max(curve(points, n)[0].compute for n in names)
    hi = min(curve(points, n)[-1].compute for n in names)
    return (lo, hi) if _log(hi) - _log(lo) > 1e-9 else None


def auc_log_compute(points: Sequence[Point], lo: float, hi: float) -> float | None:
    """Area under score vs log10(compute) over [lo, hi] (``points`` sorted by compute, covering the
    range), divided by log10(hi / lo). None when the range is empty or not covered."""
    if not points or _log(hi) - _log(lo) <= 1e-9:
        return None
    xs = np.array([_log(p.compute) for p in points])
    ys = np.array([p.score for p in points])
    a, b = _log(lo), _log(hi)
    if a < xs[0] - 1e-12 or b > xs[-1] + 1e-12:
        return None
    inside = (xs > a) & (xs < b)
    grid = np.concatenate([[a], xs[inside], [b]])
    vals = np.interp(grid, xs, ys)
    area = float(np.sum((grid[1:] - grid[:-1]) * (vals[1:] + vals[:-1]) / 2))
    return area / (b - a)


# -- putting the efficiency object together --------------------------------------------------


def points_of(stats: Iterable[CellStats], metric: str = "acc") -> list[Point]:
    return [Point(s.strategy, s.budget, s.compute_mean, float(getattr(s, metric))) for s in stats]


def per_question(
    results: Iterable[Result], metric: str = "acc"
) -> dict[tuple[str, float], dict[str, tuple[float, float]]]:
    """(strategy, budget) -> question id -> (mean score, mean compute) over seeds."""
    acc: dict[tuple[str, float], dict[str, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in results:
        acc[(r.strategy, float(r.budget))][r.question_id].append(
            (float(getattr(r, metric)), r.compute)
        )
    return {
        cell: {q: (float(np.mean([v[0] for v in vs])), float(np.mean([v[1] for v in vs])))
               for q, vs in qs.items()}
        for cell, qs in acc.items()
    }  # fmt: skip


def bootstrap_compute_to_match(
    table: Mapping[tuple[str, float], Mapping[str, tuple[float, float]]],
    hierarchical: str,
    *,
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float] | None:
    """(lo, hi, share of resamples where the hierarchy reached the flat best): questions are
    resampled once per replicate and shared by every cell. ``inf`` marks an unbounded end."""
    cells = list(table)
    if not cells or not any(c[0] == hierarchical for c in cells):
        return None
    # Every question any cell has; a cell lacking a question averages over the ones it has, so
    # the point estimate (no resampling) is the cells' plain means.
    qids = sorted(set().union(*(set(table[c]) for c in cells)))
    nan = (math.nan, math.nan)
    scores = np.array([[table[c].get(q, nan)[0] for q in qids] for c in cells])
    computes = np.array([[table[c].get(q, nan)[1] for q in qids] for c in cells])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(qids), size=(n_boot, len(qids)))
    ratios = []
    for row in idx:
        s, k = scores[:, row], computes[:, row]
        have = (~np.isnan(s)).sum(axis=1)
        pts = [Point(c[0], c[1], float(np.nansum(k[i]) / have[i]), float(np.nansum(s[i]) / have[i]))
               for i, c in enumerate(cells) if have[i] > 0]
        m = compute_to_match(pts, hierarchical)
        if m is None:
            continue
        ratios.append(math.inf if m.ratio is None else m.ratio)
    if not ratios:
        return None
    arr = np.array(ratios)
    alpha = (1 - level) / 2
    # "lower"/"higher" pick sample values, never interpolating towards an infinite ratio.
    lo = np.percentile(arr, 100 * alpha, method="lower")
    hi = np.percentile(arr, 100 * (1 - alpha), method="higher")
    return (float(lo), float(hi), float(np.mean(np.isfinite(arr))))


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def efficiency(
    stats: Sequence[CellStats],
    results: Sequence[Result],
    *,
    hierarchical: str = "tree",
    metric: str = "acc",
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """The efficiency figures of every dataset, as a JSON-ready dict. Figures that need the
    hierarchical strategy are the string ``"n/a"`` when it was not in the sweep."""
    out: dict[str, Any] = {"metric": metric, "hierarchical": hierarchical, "datasets": {}}
    for dataset in dict.fromkeys(s.dataset for s in stats):
        pts = points_of([s for s in stats if s.dataset == dataset], metric)
        has_hier = any(p.strategy == hierarchical for p in pts)
        rng = common_range(pts)
        entry: dict[str, Any] = {
            "pareto": [asdict(p) for p in pareto_frontier(pts)],
            "auc_range": list(rng) if rng else None,
            "auc": {n: (auc_log_compute(curve(pts, n), *rng) if rng else None)
                    for n in dict.fromkeys(p.strategy for p in pts)},
            # Over each strategy's own compute range: not comparable across strategies whose
            # ranges differ, but defined when the ranges do not overlap.
            "auc_own": {n: auc_log_compute(c, c[0].compute, c[-1].compute)
                        for n in dict.fromkeys(p.strategy for p in pts)
                        for c in [curve(pts, n)]},
        }  # fmt: skip
        if not has_hier:
            entry["compute_to_match"] = "n/a"
            entry["gain_at_equal_compute"] = "n/a"
        else:
            m = compute_to_match(pts, hierarchical)
            if m is None:
                entry["compute_to_match"] = "n/a"
            elif m.target <= 0:
                entry["compute_to_match"] = "n/a: no flat strategy scored above 0"
            else:
                ci = bootstrap_compute_to_match(
                    per_question([r for r in results if r.dataset == dataset], metric),
                    hierarchical, n_boot=n_boot, seed=seed,
                )  # fmt: skip
                entry["compute_to_match"] = {
                    "target": m.target,
                    "flat_strategy": m.flat.strategy,
                    "flat_budget": m.flat.budget,
                    "flat_compute": m.flat.compute,
                    "hierarchical_budget": m.hierarchical.budget if m.hierarchical else None,
                    "hierarchical_compute": m.hierarchical.compute if m.hierarchical else None,
                    "reached": m.hierarchical is not None,
                    "ratio": _finite(m.ratio),
                    "ratio_ci": [_finite(ci[0]), _finite(ci[1])] if ci else None,
                    "reached_share": ci[2] if ci else None,
                }
            gains = gain_at_equal_compute(pts, hierarchical)
            entry["gain_at_equal_compute"] = {
                name: {"points": [list(g) for g in gs],
                       "mean": float(np.mean([g[1] for g in gs])) if gs else None}
                for name, gs in gains.items()
            }  # fmt: skip
        out["datasets"][dataset] = entry
    return out


__all__ = [
    "COUNTERS",
    "CellStats",
    "Match",
    "Point",
    "SCORES",
    "auc_log_compute",
    "bootstrap_ci",
    "bootstrap_compute_to_match",
    "cell_stats",
    "common_range",
    "compute_to_match",
    "curve",
    "efficiency",
    "gain_at_equal_compute",
    "group",
    "interpolate",
    "pareto_frontier",
    "per_question",
    "points_of",
]
