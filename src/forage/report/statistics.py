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

``efficiency`` gathers these per dataset into typed results (``Efficiency``, ``DatasetEfficiency``,
``MatchFigure``, ``Gain``) that stay dataclasses until ``to_dict()`` writes JSON; a figure that is
not defined is None with the reason in ``not_applicable`` (the hierarchical strategy was not in
the sweep, no flat strategy, or the best flat score is 0: matching nothing is free). Bootstrap
intervals need at least two values (questions): with one they are (nan, nan) / None.

Not here: scoring one answer (``forage.data.scoring``), files and plots (``forage.report.sweep_report``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from forage.core.budget import Usage
from forage.report.results import Result

SCORES = ("em", "f1", "acc")
COUNTERS = tuple(f.name for f in fields(Usage))
DEFAULT_BOOT = 2000


def bootstrap_ci(
    values: Sequence[float], *, n_boot: int = DEFAULT_BOOT, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean: ``n_boot`` resamples of ``len(values)`` indices drawn
    with ``numpy.random.default_rng(seed).integers``; (nan, nan) for fewer than two values (one
    value has no spread to resample)."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
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
    # "uniform": each question got ``budget``; "adaptive": ``budget`` is the batch's mean per
    # question and ``given_mean`` what questions were granted on average.
    allocation: str = "uniform"
    given_mean: float | None = None

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
        allocation=first.allocation,
        given_mean=(float(np.mean([r.given for r in results]))
                    if all(r.given is not None for r in results) else None),
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


def points_of(stats: Iterable[CellStats], metric: str = "em") -> list[Point]:
    return [Point(s.strategy, s.budget, s.compute_mean, float(getattr(s, metric))) for s in stats]


def per_question(
    results: Iterable[Result], metric: str = "em"
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


@dataclass(frozen=True)
class MatchFigure:
    """Compute-to-match with its bootstrap CI (``ratio_ci``: ``inf`` marks an unbounded end;
    None with fewer than two questions)."""

    target: float  # the best flat score
    flat: Point
    hierarchical: Point | None  # None: the hierarchy never reached the target
    ratio: float | None
    ratio_ci: tuple[float, float] | None
    reached_share: float | None  # share of resamples where the hierarchy reached the target

    @property
    def reached(self) -> bool:
        return self.hierarchical is not None


@dataclass(frozen=True)
class Gain:
    """The hierarchy's score minus one flat strategy's, at each of its points (compute, gain)."""

    points: tuple[tuple[float, float], ...]

    @property
    def mean(self) -> float | None:
        return float(np.mean([g for _, g in self.points])) if self.points else None


@dataclass(frozen=True)
class DatasetEfficiency:
    """The efficiency figures of one dataset. ``compute_to_match`` and ``gains`` are None when
    they are not defined, and ``not_applicable`` says why."""

    pareto: tuple[Point, ...]
    auc_range: tuple[float, float] | None
    auc: Mapping[str, float | None]  # over the range every strategy covers
    auc_own: Mapping[str, float | None]  # over each strategy's own range
    compute_to_match: MatchFigure | None = None
    gains: Mapping[str, Gain] | None = None
    not_applicable: str | None = None

    def to_dict(self) -> dict[str, Any]:
        ctm = self.compute_to_match
        return {
            "pareto": [asdict(p) for p in self.pareto],
            "auc_range": list(self.auc_range) if self.auc_range else None,
            "auc": dict(self.auc),
            "auc_own": dict(self.auc_own),
            "compute_to_match": None if ctm is None else {
                "target": ctm.target,
                "flat_strategy": ctm.flat.strategy,
                "flat_budget": ctm.flat.budget,
                "flat_compute": ctm.flat.compute,
                "hierarchical_budget": ctm.hierarchical.budget if ctm.hierarchical else None,
                "hierarchical_compute": ctm.hierarchical.compute if ctm.hierarchical else None,
                "reached": ctm.reached,
                "ratio": ctm.ratio,
                "ratio_ci": list(ctm.ratio_ci) if ctm.ratio_ci else None,
                "reached_share": ctm.reached_share,
            },
            "gain_at_equal_compute": None if self.gains is None else {
                name: {"points": [list(p) for p in g.points], "mean": g.mean}
                for name, g in self.gains.items()
            },
            "not_applicable": self.not_applicable,
        }  # fmt: skip


@dataclass(frozen=True)
class Efficiency:
    """The efficiency figures of every dataset of a sweep, scored by ``metric``."""

    metric: str
    hierarchical: str
    datasets: Mapping[str, DatasetEfficiency]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; an infinite CI end is written as null (unbounded)."""
        return {"metric": self.metric, "hierarchical": self.hierarchical,
                "datasets": {name: e.to_dict() for name, e in self.datasets.items()}}


def _dataset_efficiency(
    pts: list[Point], results: Sequence[Result], hierarchical: str, metric: str, n_boot: int,
    seed: int,
) -> DatasetEfficiency:
    rng = common_range(pts)
    names = list(dict.fromkeys(p.strategy for p in pts))
    base = dict(
        pareto=tuple(pareto_frontier(pts)),
        auc_range=rng,
        auc={n: (auc_log_compute(curve(pts, n), *rng) if rng else None) for n in names},
        # Over each strategy's own compute range: not comparable across strategies whose ranges
        # differ, but defined when the ranges do not overlap.
        auc_own={n: auc_log_compute(c, c[0].compute, c[-1].compute)
                 for n in names for c in [curve(pts, n)]},
    )  # fmt: skip
    if hierarchical not in names:
        return DatasetEfficiency(**base, not_applicable=f"{hierarchical} was not in the sweep")
    m = compute_to_match(pts, hierarchical)
    if m is None:
        return DatasetEfficiency(**base, not_applicable="no flat strategy in the sweep")
    gains = {name: Gain(tuple(g)) for name, g in gain_at_equal_compute(pts, hierarchical).items()}
    if m.target <= 0:
        return DatasetEfficiency(**base, gains=gains,
                                 not_applicable="no flat strategy scored above 0")
    table = per_question(results, metric)
    ci = None
    if len(set().union(*(set(v) for v in table.values()))) >= 2:
        ci = bootstrap_compute_to_match(table, hierarchical, n_boot=n_boot, seed=seed)
    figure = MatchFigure(m.target, m.flat, m.hierarchical, m.ratio,
                         (ci[0], ci[1]) if ci else None, ci[2] if ci else None)
    return DatasetEfficiency(**base, compute_to_match=figure, gains=gains)


def efficiency(
    stats: Sequence[CellStats],
    results: Sequence[Result],
    *,
    hierarchical: str = "tree",
    metric: str = "em",
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
) -> Efficiency:
    """The efficiency figures of every dataset (see the module docstring)."""
    datasets = {}
    for dataset in dict.fromkeys(s.dataset for s in stats):
        pts = points_of([s for s in stats if s.dataset == dataset], metric)
        datasets[dataset] = _dataset_efficiency(
            pts, [r for r in results if r.dataset == dataset], hierarchical, metric, n_boot, seed)
    return Efficiency(metric, hierarchical, datasets)


__all__ = [
    "COUNTERS",
    "CellStats",
    "DatasetEfficiency",
    "Efficiency",
    "Gain",
    "Match",
    "MatchFigure",
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
