"""Batch allocation measured against uniform spending: the oracle, the uniform Pareto frontier,
and how much of the room between them an adaptive policy takes.

The input is ``Result`` rows of one or more datasets, told apart by ``allocation``:

- "uniform" rows are the control. A *configuration* is one (dataset, strategy, budget) cell;
- "adaptive" rows are one per question per batch budget level; ``budget`` is the level (the batch's
  mean budget per question). Each adaptive strategy name is a *policy* with its own curve;
- "oracle" rows (precomputed by the bench) are set aside: the oracle is recomputed here from the
  uniform rows, because its curve needs every configuration's per-question outcome anyway.

All figures are in compute actually *spent* (the ledger) and, per dataset, on one question set:
the questions every configuration and every adaptive level has (the others are counted in
``dropped_questions``). Scores and compute are per-question means over seeds (``per_question``).

- ``oracle``: per (dataset, question, seed), the cheapest configuration that reached the question's
  best score (for EM: the cheapest that answered right); the cheapest overall when none scored.
  Unattainable -- it knows the answers -- so it is a bound, and is labelled so everywhere.
- ``oracle_curve``: the oracle under a *mean* budget B: everyone starts at their cheapest
  configuration, then questions are upgraded to their oracle configuration in order of the extra
  compute the upgrade needs, while the batch's total spent compute stays <= B x n. (Greedy over
  two options per question: optimal for 0/1 scores, a heuristic for F1.) Below the all-cheapest
  total nothing fits; the point is then everyone's cheapest, marked ``over_budget``.
- ``frontier_at``: the uniform Pareto frontier (``pareto_frontier``) at a compute, linear in log
  compute between frontier points (``interpolate``), flat from the last frontier point to the
  costliest configuration (nothing measured there does better); None with a reason outside the
  configurations' compute range, never extrapolated.
- Per adaptive level: the *gap* (adaptive's mean score minus the frontier at adaptive's mean spent
  compute), also in questions (gap x n); the oracle curve at that compute; the *share* of the
  oracle's gain adaptive captured, (adaptive - frontier) / (oracle - frontier), None where the
  oracle gains nothing over the frontier.
- Per policy: *compute-to-match*: the spent compute at which the policy's curve (its levels, linear
  in log compute, measured range only: ``compute_to_reach``) first reaches the best uniform score,
  divided by the compute of the cheapest configuration with that score.

Intervals are paired percentile-bootstrap 95% intervals: each replicate resamples question ids once
(numpy, seeded) and recomputes every configuration's means, the frontier, the oracle curve, every
level and the interpolations on that resample. A replicate where a figure is undefined is left
out of that figure's interval (``*_defined`` says in what share it was defined), except
compute-to-match, where a replicate that never reaches the target counts as an infinite ratio
(``inf``: an unbounded end). Fewer than two questions: no intervals.

Not here: running a batch (``forage.allocation``), cells and the uniform efficiency figures
(``forage.report.statistics``), plots and HTML (``forage.report.allocation_report``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from forage.report.results import Result
from forage.report.statistics import DEFAULT_BOOT, Point, interpolate, pareto_frontier, per_question

ORACLE_NOTE = ("unattainable: picks each question's cheapest right configuration knowing the "
               "answers; an upper bound, not a policy")
NO_RUNG = "(none)"
_EPS = 1e-12

Config = tuple[str, float]  # strategy, budget


def _log(c: float) -> float:
    return math.log10(max(c, 1e-9))


def _finite(x: Any) -> Any:
    """JSON-ready: non-finite floats become None (an unbounded end), tuples lists."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Mapping):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


# -- the oracle --------------------------------------------------------------------------------


def _uniform(results: Iterable[Result]) -> list[Result]:
    return [r for r in results if r.allocation == "uniform"]


def _pick(rows: Sequence[Result], metric: str) -> tuple[Result, Result]:
    """(the cheapest row, the cheapest row with the best score); ties go to the higher score,
    then the strategy name and budget, so the choice does not depend on input order."""
    cheapest = min(rows, key=lambda r: (r.compute, -getattr(r, metric), r.strategy, r.budget))
    top = max(float(getattr(r, metric)) for r in rows)
    best = min((r for r in rows if getattr(r, metric) >= top - _EPS),
               key=lambda r: (r.compute, r.strategy, r.budget))
    return cheapest, best


def _units(rows: Iterable[Result]) -> dict[tuple[str, str, int], list[Result]]:
    """(dataset, question, seed) -> that question's uniform rows at that seed, one per
    configuration (the first row of a duplicated configuration)."""
    out: dict[tuple[str, str, int], dict[Config, Result]] = defaultdict(dict)
    for r in rows:
        out[(r.dataset, r.question_id, r.seed)].setdefault((r.strategy, float(r.budget)), r)
    return {k: list(v.values()) for k, v in out.items()}


def oracle(uniform_results: Iterable[Result], metric: str = "em") -> list[Result]:
    """One ``Result`` per (dataset, question, seed), allocation and strategy "oracle": the
    cheapest (by spent compute) uniform configuration that reached the question's best score;
    when no configuration scored, the cheapest overall (score 0). Rows whose ``allocation`` is
    not "uniform" are ignored.

    The chosen row's answer, scores and ledger are kept; ``given`` is the chosen configuration's
    budget, ``rung`` names it ("strategy@budget"), ``trace["oracle"]`` holds it, and ``budget`` is
    the dataset's oracle batch's mean spent compute (what a batch would need, per question, to
    buy every pick), so a dataset's oracle rows form one cell."""
    picks: list[Result] = []
    for rows in _units(_uniform(uniform_results)).values():
        picks.append(_pick(rows, metric)[1])
    mean_spent: dict[str, list[float]] = defaultdict(list)
    for r in picks:
        mean_spent[r.dataset].append(r.compute)
    out = []
    for r in picks:
        chosen = {"strategy": r.strategy, "budget": float(r.budget), "knob": r.knob}
        out.append(replace(
            r, strategy="oracle", allocation="oracle", budget=float(np.mean(mean_spent[r.dataset])),
            budget_level=None, given=float(r.budget), rung=f"{r.strategy}@{r.budget:g}",
            trace={**r.trace, "oracle": chosen},
        ))  # fmt: skip
    return out


@dataclass(frozen=True)
class _Options:
    """Every oracle unit's two options, arrays over units: the cheapest configuration (compute
    ``c0``, score ``s0``) and the oracle pick (``extra`` compute more, ``gain`` score more);
    ``order``: units worth upgrading (gain > 0) by extra compute; ``question``: each unit's
    question index (for resampling)."""

    c0: np.ndarray
    s0: np.ndarray
    extra: np.ndarray
    gain: np.ndarray
    order: np.ndarray
    question: np.ndarray


def _options(units: Mapping[tuple[str, str, int], Sequence[Result]], qids: Sequence[str],
             metric: str) -> _Options:
    index = {q: i for i, q in enumerate(qids)}
    keys = sorted((k for k in units if k[1] in index), key=lambda k: (index[k[1]], k[2]))
    c0, s0, extra, gain = [], [], [], []
    for k in keys:
        cheap, best = _pick(units[k], metric)
        c0.append(cheap.compute)
        s0.append(float(getattr(cheap, metric)))
        extra.append(max(0.0, best.compute - cheap.compute))
        gain.append(float(getattr(best, metric)) - float(getattr(cheap, metric)))
    g = np.array(gain, dtype=float)
    e = np.array(extra, dtype=float)
    worth = np.flatnonzero(g > _EPS)
    return _Options(np.array(c0, dtype=float), np.array(s0, dtype=float), e, g,
                    worth[np.argsort(e[worth], kind="stable")],
                    np.array([index[k[1]] for k in keys], dtype=int))


def _oracle_at(o: _Options, m: np.ndarray, budget: float) -> tuple[float, float, bool]:
    """(mean score, mean spent compute, over budget) of the greedy oracle under mean budget
    ``budget``; ``m``: each unit's multiplicity (1 without resampling)."""
    total = float(m.sum())
    base_c = float(m @ o.c0)
    base_s = float(m @ o.s0)
    tol = 1e-9 * max(1.0, abs(budget * total))
    room = budget * total - base_c
    if room < -tol:
        return base_s / total, base_c / total, True
    mm, e, g = m[o.order], o.extra[o.order], o.gain[o.order]
    cost = np.cumsum(mm * e)
    k = int(np.searchsorted(cost, room + tol, side="right"))
    spent = float(cost[k - 1]) if k else 0.0
    got = float(mm[:k] @ g[:k])
    if k < len(o.order) and e[k] > 0:  # copies of a resampled question: take those that fit
        copies = min(float(mm[k]), math.floor((room - spent + tol) / e[k]))
        spent += copies * e[k]
        got += copies * g[k]
    return (base_s + got) / total, (base_c + spent) / total, False


@dataclass(frozen=True)
class OracleCurve:
    """The oracle's score under each mean budget (``points``: strategy "oracle", ``budget`` the
    mean budget, ``compute`` the mean actually spent). Unattainable: a bound, never a policy.
    ``over_budget``: the budget is below everyone's cheapest configuration, so the point is that
    (it spends more than its budget)."""

    dataset: str
    metric: str
    n: int  # (question, seed) units
    points: tuple[Point, ...]
    over_budget: tuple[bool, ...]
    cheapest: Point  # everyone at their cheapest configuration
    full: Point  # everyone at their oracle pick

    unattainable = True

    def to_dict(self) -> dict[str, Any]:
        return _finite({
            "unattainable": True, "note": ORACLE_NOTE, "dataset": self.dataset,
            "metric": self.metric, "n": self.n,
            "points": [{**asdict(p), "over_budget": ob}
                       for p, ob in zip(self.points, self.over_budget, strict=True)],
            "cheapest": asdict(self.cheapest), "full": asdict(self.full),
        })  # fmt: skip


def _curve(o: _Options, m: np.ndarray, dataset: str, metric: str, budgets: Iterable[float]
           ) -> OracleCurve:
    pts, over = [], []
    for b in budgets:
        s, c, ob = _oracle_at(o, m, float(b))
        pts.append(Point("oracle", float(b), c, s))
        over.append(ob)
    total = float(m.sum())
    cheapest = Point("oracle", float(m @ o.c0) / total, float(m @ o.c0) / total,
                     float(m @ o.s0) / total)
    full_c = float(m @ (o.c0 + o.extra)) / total
    full = Point("oracle", full_c, full_c, float(m @ (o.s0 + o.gain)) / total)
    return OracleCurve(dataset, metric, int(total), tuple(pts), tuple(over), cheapest, full)


def oracle_curve(uniform_results: Iterable[Result], mean_budgets: Iterable[float], *,
                 metric: str = "em") -> OracleCurve:
    """The oracle (see the module docstring) under each mean budget, over every (question, seed)
    of one dataset's uniform rows (others are ignored); ValueError for none or several datasets."""
    rows = _uniform(uniform_results)
    datasets = {r.dataset for r in rows}
    if len(datasets) != 1:
        raise ValueError(f"oracle_curve needs the uniform rows of one dataset, got {len(datasets)}")
    units = _units(rows)
    qids = list(dict.fromkeys(k[1] for k in units))
    o = _options(units, qids, metric)
    return _curve(o, np.ones(len(o.c0)), datasets.pop(), metric, mean_budgets)


# -- the frontier and the curves -----------------------------------------------------------


def frontier_at(points: Sequence[Point], compute: float) -> tuple[float | None, str | None]:
    """(score, None) of the uniform Pareto frontier of ``points`` at ``compute``: linear in log
    compute between frontier points, flat from the last one on -- beyond the costliest measured
    configuration too, where it is the best score any measured uniform configuration reached with
    at most ``compute`` units; (None, reason) below the cheapest configuration."""
    if not points:
        return None, "no uniform configuration"
    front = pareto_frontier(points)
    lo = front[0].compute
    if _log(compute) < _log(lo) - 1e-12:
        return None, f"below the cheapest uniform configuration ({lo:.1f} units)"
    if compute >= front[-1].compute:
        return front[-1].score, None
    return interpolate(front, compute), None


def compute_to_reach(points: Sequence[Point], target: float) -> float | None:
    """The least compute at which ``points``' curve (sorted by compute, linear in log compute
    between points) reaches ``target``; None when no measured point or segment reaches it."""
    pts = sorted(points, key=lambda p: p.compute)
    if not pts:
        return None
    if pts[0].score >= target - _EPS:
        return pts[0].compute
    for a, b in zip(pts, pts[1:], strict=False):
        if b.score >= target - _EPS:  # a.score < target: the first crossing
            t = (target - a.score) / (b.score - a.score)
            return float(10 ** (_log(a.compute) + t * (_log(b.compute) - _log(a.compute))))
    return None


# -- one dataset's table, evaluated once per (re)sample ----------------------------------------


@dataclass(frozen=True)
class _Table:
    qids: tuple[str, ...]
    configs: tuple[Config, ...]
    u_score: np.ndarray  # configs x questions
    u_compute: np.ndarray
    levels: tuple[Config, ...]  # (policy, mean budget)
    a_score: np.ndarray  # levels x questions
    a_compute: np.ndarray
    options: _Options


@dataclass(frozen=True)
class _Eval:
    uniform: list[Point]
    adaptive: list[Point]  # one per level
    frontier: list[float | None]
    reason: list[str | None]
    oracle: list[float]  # the oracle curve at each level's spent compute
    share: list[float | None]
    target: Point | None  # the cheapest uniform point with the best uniform score
    ratio: dict[str, float | None]  # policy -> compute-to-match (inf: not reached)


def _evaluate(t: _Table, w: np.ndarray) -> _Eval:
    """Every figure on the sample where question i appears ``w[i]`` times."""
    total = float(w.sum())
    us, uk = t.u_score @ w / total, t.u_compute @ w / total
    uniform = [Point(s, b, float(k), float(v))
               for (s, b), k, v in zip(t.configs, uk, us, strict=True)]
    a_s, a_k = t.a_score @ w / total, t.a_compute @ w / total
    adaptive = [Point(s, b, float(k), float(v))
                for (s, b), k, v in zip(t.levels, a_k, a_s, strict=True)]
    m = w[t.options.question].astype(float)
    frontier, reason, orc, share = [], [], [], []
    for p in adaptive:
        f, why = frontier_at(uniform, p.compute)
        o = _oracle_at(t.options, m, p.compute)[0]
        frontier.append(f)
        reason.append(why)
        orc.append(o)
        share.append(None if f is None or o - f <= 1e-9 else (p.score - f) / (o - f))
    target = min(uniform, key=lambda p: (-p.score, p.compute)) if uniform else None
    ratio: dict[str, float | None] = {}
    for policy in dict.fromkeys(s for s, _ in t.levels):
        if target is None or target.score <= 0:
            ratio[policy] = None
            continue
        c = compute_to_reach([p for p in adaptive if p.strategy == policy], target.score)
        ratio[policy] = math.inf if c is None else (c / target.compute if target.compute > 0
                                                    else math.inf)
    return _Eval(uniform, adaptive, frontier, reason, orc, share, target, ratio)


def _interval(values: Sequence[float | None], level: float = 0.95
              ) -> tuple[tuple[float, float] | None, float]:
    """(percentile interval of the defined values, share defined); None when none is."""
    vals = np.array([v for v in values if v is not None], dtype=float)
    share = len(vals) / len(values) if len(values) else 0.0
    if not len(vals):
        return None, share
    alpha = (1 - level) / 2
    if np.all(np.isfinite(vals)):
        lo, hi = np.percentile(vals, [100 * alpha, 100 * (1 - alpha)])
    else:  # pick sample values, never interpolating towards an infinite end
        lo = np.percentile(vals, 100 * alpha, method="lower")
        hi = np.percentile(vals, 100 * (1 - alpha), method="higher")
    return (float(lo), float(hi)), share


# -- typed results -------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelFigures:
    """One adaptive budget level against the uniform frontier and the oracle, at the level's
    mean spent compute. A None figure has its reason (``frontier_reason``, ``share_reason``)."""

    policy: str
    budget: float  # the level: the batch's mean budget per question
    n: int  # questions
    score: float
    compute: float  # mean spent
    frontier: float | None
    frontier_reason: str | None
    gap: float | None  # score - frontier
    gap_ci: tuple[float, float] | None
    gap_defined: float | None  # share of resamples where the frontier covered the compute
    oracle: float  # the oracle curve at this compute (unattainable)
    share: float | None  # (score - frontier) / (oracle - frontier)
    share_ci: tuple[float, float] | None
    share_reason: str | None
    rungs: Mapping[str, int]  # rung -> results (question x seed) that ended there

    @property
    def gap_questions(self) -> float | None:
        return None if self.gap is None else self.gap * self.n

    @property
    def gap_questions_ci(self) -> tuple[float, float] | None:
        return None if self.gap_ci is None else (self.gap_ci[0] * self.n, self.gap_ci[1] * self.n)

    @property
    def within_one_question(self) -> bool | None:
        """Not more than one question below the frontier (the point estimate)."""
        g = self.gap_questions
        return None if g is None else g >= -1 - 1e-9

    def to_dict(self) -> dict[str, Any]:
        return _finite({**asdict(self), "rungs": dict(self.rungs),
                        "gap_questions": self.gap_questions,
                        "gap_questions_ci": self.gap_questions_ci,
                        "within_one_question": self.within_one_question,
                        "oracle_unattainable": True})


@dataclass(frozen=True)
class MatchToBest:
    """Compute-to-match: the policy's spent compute to reach the best uniform score over the
    cheapest uniform configuration's compute with that score. ``ratio`` None: not reached (or
    not defined: ``reason``); ``ratio_ci`` ends of ``inf``: unbounded."""

    policy: str
    target: float
    uniform: Point
    compute: float | None  # the policy's compute at the target, interpolated
    ratio: float | None
    ratio_ci: tuple[float, float] | None
    reached_share: float | None  # share of resamples where the policy reached the target
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))


@dataclass(frozen=True)
class PolicyFigures:
    policy: str
    levels: tuple[LevelFigures, ...]
    compute_to_match: MatchToBest | None  # None when no uniform configuration

    @property
    def points(self) -> tuple[Point, ...]:
        return tuple(Point(self.policy, lv.budget, lv.compute, lv.score) for lv in self.levels)

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "levels": [lv.to_dict() for lv in self.levels],
                "compute_to_match": (self.compute_to_match.to_dict()
                                     if self.compute_to_match else None)}


@dataclass(frozen=True)
class DatasetAllocation:
    """One dataset's allocation figures, on ``n_questions`` shared questions."""

    dataset: str
    metric: str
    n_questions: int
    dropped_questions: int  # questions some configuration or level lacks
    uniform: tuple[Point, ...]  # every configuration
    frontier: tuple[Point, ...]
    oracle: OracleCurve | None
    policies: Mapping[str, PolicyFigures]
    not_applicable: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _finite({
            "dataset": self.dataset, "metric": self.metric, "n_questions": self.n_questions,
            "dropped_questions": self.dropped_questions,
            "uniform": [asdict(p) for p in self.uniform],
            "frontier": [asdict(p) for p in self.frontier],
            "oracle": self.oracle.to_dict() if self.oracle else None,
            "policies": {k: v.to_dict() for k, v in self.policies.items()},
            "not_applicable": self.not_applicable,
        })  # fmt: skip


@dataclass(frozen=True)
class AllocationSummary:
    metric: str
    n_boot: int
    seed: int
    datasets: Mapping[str, DatasetAllocation]

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "n_boot": self.n_boot, "seed": self.seed,
                "oracle_note": ORACLE_NOTE,
                "datasets": {k: v.to_dict() for k, v in self.datasets.items()}}


# -- putting it together ---------------------------------------------------------------------


def _grid(o: _Options, extra: Iterable[float]) -> list[float]:
    """Mean budgets to draw the oracle curve at: log-spaced from everyone-cheapest to
    everyone-at-their-pick, plus ``extra`` computes at or above the cheapest."""
    n = len(o.c0)
    lo, hi = float(o.c0.sum()) / n, float((o.c0 + o.extra).sum()) / n
    pts = set(np.geomspace(max(lo, 1e-9), max(hi, lo, 1e-9), 25).tolist()) if lo > 0 else {lo, hi}
    pts |= {float(x) for x in extra if x >= lo}
    return sorted(pts)


def _dataset(dataset: str, rows: Sequence[Result], metric: str, n_boot: int, seed: int
             ) -> DatasetAllocation:
    uni = _uniform(rows)
    ada = [r for r in rows if r.allocation == "adaptive"]
    u_table, a_table = per_question(uni, metric), per_question(ada, metric)
    every = set().union(*(set(v) for v in (*u_table.values(), *a_table.values())))
    if not u_table:
        return DatasetAllocation(dataset, metric, 0, len(every), (), (), None, {},
                                 "no uniform configuration")
    common = set.intersection(*(set(v) for v in (*u_table.values(), *a_table.values())))
    qids = tuple(q for q in dict.fromkeys(r.question_id for r in rows) if q in common)
    if not qids:
        return DatasetAllocation(dataset, metric, 0, len(every), (), (), None, {},
                                 "no question that every configuration and level has")
    configs = tuple(u_table)
    levels = tuple(sorted(a_table, key=lambda k: (k[0], k[1])))

    def arrays(table: Mapping[Config, Mapping[str, tuple[float, float]]], keys: Sequence[Config]
               ) -> tuple[np.ndarray, np.ndarray]:
        s = np.array([[table[k][q][0] for q in qids] for k in keys], dtype=float)
        c = np.array([[table[k][q][1] for q in qids] for k in keys], dtype=float)
        return s.reshape(len(keys), len(qids)), c.reshape(len(keys), len(qids))

    t = _Table(qids, configs, *arrays(u_table, configs), levels, *arrays(a_table, levels),
               _options(_units(uni), qids, metric))
    n = len(qids)
    point = _evaluate(t, np.ones(n))
    boots: list[_Eval] = []
    if n >= 2 and n_boot > 0:
        idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
        boots = [_evaluate(t, np.bincount(row, minlength=n).astype(float)) for row in idx]

    keep = set(qids)
    rungs: dict[Config, Counter[str]] = defaultdict(Counter)
    for r in ada:
        if r.question_id in keep:
            rungs[(r.strategy, float(r.budget))][r.rung or NO_RUNG] += 1

    policies: dict[str, PolicyFigures] = {}
    for policy in dict.fromkeys(s for s, _ in levels):
        figs = []
        for i, (s, b) in enumerate(levels):
            if s != policy:
                continue
            gap = None if point.frontier[i] is None else point.adaptive[i].score - point.frontier[i]
            gap_ci = share_ci = None
            gap_defined = None
            if boots and gap is not None:
                gap_ci, gap_defined = _interval(
                    [None if e.frontier[i] is None else e.adaptive[i].score - e.frontier[i]
                     for e in boots])
            if boots and point.share[i] is not None:
                share_ci = _interval([e.share[i] for e in boots])[0]
            share_reason = None
            if point.share[i] is None:
                share_reason = (point.reason[i] if point.frontier[i] is None
                                else "the oracle gains nothing over the frontier at this compute")
            figs.append(LevelFigures(
                policy, b, n, point.adaptive[i].score, point.adaptive[i].compute,
                point.frontier[i], point.reason[i], gap, gap_ci, gap_defined, point.oracle[i],
                point.share[i], share_ci, share_reason, dict(rungs[(s, b)]),
            ))  # fmt: skip
        policies[policy] = PolicyFigures(policy, tuple(figs), _match(policy, point, boots))

    grid = _grid(t.options, [p.compute for p in point.uniform + point.adaptive])
    curve = _curve(t.options, np.ones(len(t.options.c0)), dataset, metric, grid)
    return DatasetAllocation(
        dataset, metric, n, len(every) - n, tuple(point.uniform),
        tuple(pareto_frontier(point.uniform)), curve, policies,
        None if levels else "no adaptive results",
    )  # fmt: skip


def _match(policy: str, point: _Eval, boots: Sequence[_Eval]) -> MatchToBest | None:
    target = point.target
    if target is None:
        return None
    ratio = point.ratio[policy]
    if ratio is None:
        return MatchToBest(policy, target.score, target, None, None, None, None,
                           "the best uniform score is 0: matching nothing is free")
    ci, share = None, None
    if boots:
        vals = [e.ratio[policy] for e in boots]
        ci = _interval(vals)[0]
        share = float(np.mean([v is not None and math.isfinite(v) for v in vals]))
    if math.isinf(ratio):
        return MatchToBest(policy, target.score, target, None, None, ci, share,
                           f"{policy} never reaches the best uniform score "
                           f"({target.score:.3f}) in its measured range")
    return MatchToBest(policy, target.score, target, ratio * target.compute, ratio, ci, share,
                       None)


def allocation_summary(results: Iterable[Result], metric: str = "em", *,
                       n_boot: int = DEFAULT_BOOT, seed: int = 0) -> AllocationSummary:
    """Every dataset's allocation figures (see the module docstring) from a mixed list of
    uniform and adaptive rows; oracle rows in the list are set aside (recomputed here)."""
    rows = [r for r in results if r.allocation in ("uniform", "adaptive")]
    by_ds: dict[str, list[Result]] = defaultdict(list)
    for r in rows:
        by_ds[r.dataset].append(r)
    return AllocationSummary(metric, n_boot, seed, {
        d: _dataset(d, rs, metric, n_boot, seed) for d, rs in by_ds.items()})


__all__ = [
    "ORACLE_NOTE",
    "AllocationSummary",
    "DatasetAllocation",
    "LevelFigures",
    "MatchToBest",
    "OracleCurve",
    "PolicyFigures",
    "allocation_summary",
    "compute_to_reach",
    "frontier_at",
    "oracle",
    "oracle_curve",
]
