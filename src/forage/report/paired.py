"""Paired statistics: two strategies (or models) scored on the *same* questions, compared so that
a verdict can go either way.

Every function takes two per-question vectors ``x`` and ``y`` (the same questions, in the same
order) or their per-question differences ``d = x - y``; an effect is always *x minus y*.

- ``paired_bootstrap``: the difference of means with a percentile-bootstrap interval. Each
  replicate resamples question indices once and uses them for both arms; for a difference of means
  that is exactly ``statistics.bootstrap_ci`` of ``x - y`` (same draws: ``n_boot`` rows of
  ``default_rng(seed).integers(0, n, n)``, linear percentiles), so it calls that.
  ``paired_bootstrap_statistic`` does the same for any statistic of the two vectors
  (``stat(x, y) -> float``, e.g. a difference of medians or of AUROCs), with the same draws.
- ``mcnemar``: McNemar's exact test for paired right/wrong outcomes. ``b`` counts questions x got
  right and y wrong, ``c`` the reverse; under no difference ``b ~ Binomial(b + c, 1/2)``.
  ``p_exact`` is the two-sided exact p, ``min(1, 2 P(B <= min(b, c)))``, the conventional one and
  the one verdicts use; ``p_mid`` the mid-p (half the probability of the observed count left out,
  less conservative, for reporting beside it); ``chi2``/``p_chi2`` the continuity-corrected
  chi-square, ``(|b - c| - 1)^2 / (b + c)`` on 1 df. Binomial tails are exact integer sums
  (``math.comb``); no scipy.
- ``sequential``: keep adding questions until the 95% interval of the mean paired difference is
  narrower than ``width``, or ``max_n`` questions or ``max_seconds`` ran out; the result says which
  happened and at what n. The default interval is the *normal approximation*
  (mean +- z s / sqrt(n), s the sample sd): it is closed-form, so checking after every question
  costs nothing, and it is deterministic, so the stopping n does not jitter with a bootstrap seed
  (a percentile bootstrap re-drawn at each n can dip under the width by chance and stop early).
  ``method="bootstrap"`` uses ``bootstrap_ci`` instead. Nothing stops before ``min_n`` questions:
  early on, agreeing questions give s = 0 and a zero-width interval.
- ``n_needed(width, sd)``: the n at which the normal interval's width 2 z sd / sqrt(n) reaches
  ``width``: ``ceil((2 z sd / width)^2)``, at least 2.
- ``tost``: two one-sided tests for equivalence within +-``margin``, in its interval form: the
  90% interval (for alpha = 0.05; ``1 - 2 alpha`` in general) is the paired bootstrap's.
  *equivalent* when it lies inside (-margin, margin); *not equivalent* when it lies wholly outside
  [-margin, margin] (the difference is larger than the margin at the same alpha); *inconclusive*
  when it straddles a margin.
- ``verdict``: the rule a claim's verdict follows (``VERDICT_RULE``). A claim that predicts a
  direction (x - y ``"greater"`` or ``"less"`` than 0) is *supported* when its 95% interval
  excludes zero on the predicted side, *refuted* only when it excludes zero on the opposite side,
  and *inconclusive* when it contains zero (touching zero counts as containing it) or is not
  defined. A claim of equivalence takes the TOST 90% interval and its margin: *supported* when
  TOST says equivalent, *refuted* when it says not equivalent, otherwise inconclusive.

Results are frozen dataclasses with ``to_dict()``; a non-finite float (an undefined interval end)
is written as None there. Intervals need at least two questions: with fewer they are (nan, nan).

Not here: per-cell CIs and efficiency figures (``forage.report.statistics``), running anything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from forage.report.statistics import DEFAULT_BOOT, bootstrap_ci

Interval = tuple[float, float]
Direction = Literal["greater", "less", "equivalent"]
Verdict = Literal["supported", "refuted", "inconclusive"]
VERDICT_RULE = (
    "supported: the 95% paired interval excludes zero on the predicted side; refuted: it excludes "
    "zero on the opposite side; inconclusive: it contains zero. Equivalence claims: supported when "
    "the TOST 90% interval lies inside +-margin, refuted when it lies wholly outside, else "
    "inconclusive."
)


def _z(level: float) -> float:
    """The two-sided normal quantile of ``level`` (1.959964 for 0.95)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    return x


def _pair(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired vectors must be 1-d and of one length, got {a.shape} and {b.shape}")
    return a, b


# -- paired bootstrap ------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedDifference:
    """An effect x - y over ``n`` paired questions with its percentile-bootstrap interval."""

    estimate: float
    ci: Interval
    n: int
    level: float = 0.95
    x_mean: float | None = None  # for a difference of means: each arm's mean
    y_mean: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))  # type: ignore[no-any-return]


def paired_bootstrap(
    x: Sequence[float], y: Sequence[float], *, n_boot: int = DEFAULT_BOOT, seed: int = 0,
    level: float = 0.95,
) -> PairedDifference:
    """mean(x) - mean(y) over the same questions, with a paired percentile-bootstrap interval."""
    a, b = _pair(x, y)
    if a.size == 0:
        return PairedDifference(math.nan, (math.nan, math.nan), 0, level)
    ci = bootstrap_ci(a - b, n_boot=n_boot, seed=seed, level=level)
    return PairedDifference(float(np.mean(a - b)), ci, int(a.size), level,
                            float(np.mean(a)), float(np.mean(b)))


def paired_bootstrap_statistic(
    x: Sequence[float], y: Sequence[float], stat: Callable[[np.ndarray, np.ndarray], float], *,
    n_boot: int = DEFAULT_BOOT, seed: int = 0, level: float = 0.95,
) -> PairedDifference:
    """``stat(x, y)`` (e.g. ``median(x) - median(y)``) with a paired percentile-bootstrap interval:
    the draws of ``bootstrap_ci``, each replicate's indices applied to both vectors. A replicate
    where ``stat`` is not finite is left out of the interval."""
    a, b = _pair(x, y)
    if a.size == 0:
        return PairedDifference(math.nan, (math.nan, math.nan), 0, level)
    estimate = float(stat(a, b))
    if a.size < 2:
        return PairedDifference(estimate, (math.nan, math.nan), 1, level)
    idx = np.random.default_rng(seed).integers(0, a.size, size=(n_boot, a.size))
    reps = np.array([float(stat(a[row], b[row])) for row in idx])
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return PairedDifference(estimate, (math.nan, math.nan), int(a.size), level)
    alpha = (1 - level) / 2
    lo, hi = np.percentile(reps, [100 * alpha, 100 * (1 - alpha)])
    return PairedDifference(estimate, (float(lo), float(hi)), int(a.size), level)


# -- McNemar ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class McNemar:
    """McNemar's test on paired right/wrong outcomes: ``b`` = x right & y wrong, ``c`` = x wrong &
    y right, of ``n`` pairs."""

    b: int
    c: int
    n: int
    p_exact: float  # two-sided exact binomial
    p_mid: float  # two-sided mid-p
    chi2: float | None  # continuity-corrected; None when b + c = 0
    p_chi2: float

    @property
    def p(self) -> float:
        """The p a verdict uses: the exact one."""
        return self.p_exact

    @property
    def difference(self) -> float:
        """x's accuracy minus y's: (b - c) / n."""
        return (self.b - self.c) / self.n if self.n else math.nan

    def to_dict(self) -> dict[str, Any]:
        return _finite({**asdict(self), "difference": self.difference})  # type: ignore[no-any-return]


def mcnemar_counts(b: int, c: int, n: int | None = None) -> McNemar:
    """McNemar's test from the discordant counts (``n``, all pairs, defaults to b + c)."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    m, k = b + c, min(b, c)
    if m == 0:
        return McNemar(b, c, n if n is not None else 0, 1.0, 1.0, None, 1.0)
    tail = sum(math.comb(m, i) for i in range(k + 1))  # exact integers: P(B <= k) * 2^m
    at_k = math.comb(m, k)
    p_exact = min(1.0, 2 * tail / 2**m)
    p_mid = min(1.0, (2 * tail - at_k) / 2**m)
    chi2 = max(0.0, abs(b - c) - 1.0) ** 2 / m
    p_chi2 = math.erfc(math.sqrt(chi2 / 2))  # the chi-square(1) upper tail
    return McNemar(b, c, n if n is not None else m, p_exact, p_mid, chi2, p_chi2)


def mcnemar(x: Sequence[bool], y: Sequence[bool]) -> McNemar:
    """McNemar's test on paired right/wrong outcomes of the same questions."""
    if len(x) != len(y):
        raise ValueError(f"paired outcomes must be of one length, got {len(x)} and {len(y)}")
    b = sum(1 for u, v in zip(x, y, strict=True) if u and not v)
    c = sum(1 for u, v in zip(x, y, strict=True) if v and not u)
    return mcnemar_counts(b, c, len(x))


# -- sample size -----------------------------------------------------------------------------


def normal_interval(d: Sequence[float], level: float = 0.95) -> Interval:
    """mean(d) +- z s / sqrt(n), s the sample sd (ddof 1); (nan, nan) for fewer than two values."""
    v = np.asarray(d, dtype=float)
    if v.size < 2:
        return (math.nan, math.nan)
    half = _z(level) * float(np.std(v, ddof=1)) / math.sqrt(v.size)
    m = float(np.mean(v))
    return (m - half, m + half)


def n_needed(width: float, sd: float, level: float = 0.95) -> int:
    """Questions needed for the normal interval of a mean paired difference with standard
    deviation ``sd`` to be ``width`` wide: ceil((2 z sd / width)^2), at least 2."""
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    if sd < 0 or not math.isfinite(sd):
        raise ValueError(f"sd must be finite and >= 0, got {sd}")
    return max(2, math.ceil((2 * _z(level) * sd / width) ** 2 - 1e-9))


StopReason = Literal["width", "max_n", "time", "exhausted"]


@dataclass(frozen=True)
class SequentialRule:
    """Stop when the ``level`` interval of the mean difference is at most ``width`` wide (after at
    least ``min_n`` questions), or at ``max_n`` questions, or once ``max_seconds`` have passed."""

    width: float
    level: float = 0.95
    min_n: int = 10
    max_n: int | None = None
    max_seconds: float | None = None
    method: Literal["normal", "bootstrap"] = "normal"
    n_boot: int = DEFAULT_BOOT
    seed: int = 0

    def __post_init__(self) -> None:
        if self.width <= 0:
            raise ValueError(f"width must be > 0, got {self.width}")
        if self.min_n < 2:
            raise ValueError("min_n must be >= 2 (an interval needs two questions)")


@dataclass(frozen=True)
class SequentialResult:
    """Why sampling stopped (``reason``: "width", "max_n", "time", or "exhausted" when the stream
    ended first) and at what ``n``; the interval there and the n its width would need."""

    reason: StopReason
    n: int
    estimate: float
    ci: Interval
    width: float
    target_width: float
    n_needed: int | None  # None while the sd is undefined (n < 2)

    @property
    def narrow_enough(self) -> bool:
        return self.reason == "width"

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))  # type: ignore[no-any-return]


def interval_of(d: Sequence[float], rule: SequentialRule) -> Interval:
    """The interval ``rule`` judges: normal, or ``bootstrap_ci`` with its seed."""
    if rule.method == "bootstrap":
        return bootstrap_ci(d, n_boot=rule.n_boot, seed=rule.seed, level=rule.level)
    return normal_interval(d, rule.level)


def should_stop(d: Sequence[float], rule: SequentialRule, elapsed: float = 0.0
                ) -> StopReason | None:
    """Whether to stop after the differences ``d`` so far, ``elapsed`` seconds in; None: go on.
    A narrow interval wins over a limit reached at the same question."""
    n = len(d)
    if n >= rule.min_n:
        lo, hi = interval_of(d, rule)
        if hi - lo <= rule.width:
            return "width"
    if rule.max_n is not None and n >= rule.max_n:
        return "max_n"
    if rule.max_seconds is not None and elapsed >= rule.max_seconds:
        return "time"
    return None


def _result(reason: StopReason, d: Sequence[float], rule: SequentialRule) -> SequentialResult:
    ci = interval_of(d, rule)
    sd = float(np.std(d, ddof=1)) if len(d) >= 2 else math.nan
    return SequentialResult(
        reason, len(d), float(np.mean(d)) if len(d) else math.nan, ci, ci[1] - ci[0], rule.width,
        n_needed(rule.width, sd, rule.level) if math.isfinite(sd) else None)


def sequential(
    stream: Iterable[float], rule: SequentialRule, *, clock: Callable[[], float] = time.monotonic
) -> SequentialResult:
    """Draw paired differences from ``stream`` (lazily: each may be a question being run) until
    ``rule`` says stop, and say why. Time is read from ``clock`` before the first draw and after
    each one."""
    start = clock()
    d: list[float] = []
    for value in stream:
        d.append(float(value))
        reason = should_stop(d, rule, clock() - start)
        if reason is not None:
            return _result(reason, d, rule)
    return _result("exhausted", d, rule)


# -- equivalence and verdicts ----------------------------------------------------------------

Outcome = Literal["equivalent", "not equivalent", "inconclusive"]


def tost_outcome(ci: Interval, margin: float) -> Outcome:
    """The TOST outcome of a (1 - 2 alpha) interval against +-``margin`` (module docstring)."""
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    if -margin < lo and hi < margin:
        return "equivalent"
    if lo > margin or hi < -margin:
        return "not equivalent"
    return "inconclusive"


@dataclass(frozen=True)
class Equivalence:
    """TOST of a paired difference against +-``margin``: the interval it uses and its outcome."""

    estimate: float
    ci: Interval  # the (1 - 2 alpha) paired bootstrap interval
    level: float
    margin: float
    n: int
    outcome: Outcome

    def to_dict(self) -> dict[str, Any]:
        return _finite(asdict(self))  # type: ignore[no-any-return]


def tost(
    x: Sequence[float], y: Sequence[float], margin: float, *, alpha: float = 0.05,
    n_boot: int = DEFAULT_BOOT, seed: int = 0,
) -> Equivalence:
    """Is mean(x) - mean(y) within +-``margin``? Two one-sided tests at ``alpha``, as the
    (1 - 2 alpha) paired bootstrap interval lying inside the margin."""
    if margin <= 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    level = 1 - 2 * alpha
    diff = paired_bootstrap(x, y, n_boot=n_boot, seed=seed, level=level)
    return Equivalence(diff.estimate, diff.ci, level, margin, diff.n,
                       tost_outcome(diff.ci, margin))


def verdict(ci: Interval, predicts: Direction, *, margin: float | None = None) -> Verdict:
    """A claim's verdict from its effect's interval (``VERDICT_RULE``). For ``"greater"`` or
    ``"less"`` pass the 95% interval of x - y; for ``"equivalent"`` the TOST 90% interval and the
    ``margin``."""
    lo, hi = ci
    if predicts == "equivalent":
        if margin is None or margin <= 0:
            raise ValueError("an equivalence claim needs a margin > 0")
        outcome = tost_outcome(ci, margin)
        return ("supported" if outcome == "equivalent"
                else "refuted" if outcome == "not equivalent" else "inconclusive")
    if predicts not in ("greater", "less"):
        raise ValueError(f"predicts must be 'greater', 'less' or 'equivalent', got {predicts!r}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    above, below = lo > 0, hi < 0
    if above or below:
        return "supported" if above == (predicts == "greater") else "refuted"
    return "inconclusive"


__all__ = [
    "VERDICT_RULE",
    "Equivalence",
    "McNemar",
    "PairedDifference",
    "SequentialResult",
    "SequentialRule",
    "interval_of",
    "mcnemar",
    "mcnemar_counts",
    "n_needed",
    "normal_interval",
    "paired_bootstrap",
    "paired_bootstrap_statistic",
    "sequential",
    "should_stop",
    "tost",
    "tost_outcome",
    "verdict",
]
