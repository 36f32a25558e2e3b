"""Parallel sampling: self-consistency (majority vote) and best-of-N with a verifier score.

Both retrieve once with the question (like ``rag``), then sample the reader N times at temperature
> 0 with seeds ``seed .. seed+N-1`` (one ``Generate`` with ``n=N``; the backend or the driver runs
the N samples).

- ``SelfConsistency`` (Wang et al. 2023): the answer most samples agree on, after SQuAD
  normalisation (``majority_vote``; ties go to the answer sampled first). With ``adaptive=True``
  samples are drawn ``batch`` at a time and sampling stops when ``adaptive_should_stop`` says the
  vote has settled (Adaptive-Consistency, Aggarwal et al. 2023: the leader's lead cannot be
  overturned by the remaining samples, or the Beta posterior that the leader beats the runner-up
  reaches ``threshold``). Registered as ``adaptive_consistency``: its N is the cap.
- ``BestOfN``: the sample with the best verifier score. ``verifier="logprob"``: the
  length-normalised sequence log-probability (the backend must return logprobs).
  ``verifier="self_eval"``: the model judges each distinct candidate against the passage
  (``forage.prompts.verifier``), scored by the probability of "yes" when ``logprobs`` is on and
  the backend declares logprobs, else by the sampled verdict; ties go to the answer more samples
  gave, then to the one sampled first. With ``adaptive=True`` its sampling phase stops the same
  way (on the vote of the answers drawn), then it verifies the distinct candidates drawn
  (registered as ``best_of_n_adaptive`` and ``best_of_n_logprob_adaptive``).

Every answer's ``meta`` records ``drawn`` (samples drawn, N at most) and ``stopped``: ``"settled"``
(the vote settled before N), ``"cap"`` (all N drawn) or ``"budget"`` (a sample was refused).

The knob of both is N. On ``BudgetExhausted`` they answer with the samples they have (a refused
batch of N is retried with fewer samples, halving down to one), and best-of-N falls back to the
vote when it could verify no candidate.

Not here: retrieval beyond the first search, prompts (``forage.prompts``: ``reader``,
``verifier``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from forage.core.errors import BudgetExhausted, ConfigError
from forage.core.text import normalize_answer
from forage.core.types import Hit
from forage.llm.base import Choice, LLMRequest
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.reader import STOP, clean_answer, flat_reader_prompt, passage_text
from forage.prompts.render import render
from forage.prompts.verifier import choice_yes_score, verify_prompt
from forage.runtime.base import Answer, Context, Generate, Parallel, Search, Steps

log = logging.getLogger(__name__)


# -- pure arithmetic ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Vote:
    answer: str  # the surface form sampled first among the winning group ("" when none)
    count: int
    counts: tuple[int, ...]  # votes per distinct normalised answer, in order of first appearance


def majority_vote(answers: Sequence[str]) -> Vote:
    """The most frequent answer after ``normalize_answer``; empty answers do not vote; a tie goes
    to the answer that appeared first."""
    groups: dict[str, list[str]] = {}
    for a in answers:
        key = normalize_answer(a)
        if key:
            groups.setdefault(key, []).append(a)
    if not groups:
        return Vote("", 0, ())
    counts = tuple(len(g) for g in groups.values())
    best = max(groups.values(), key=len)  # max keeps the first of equals: insertion order
    return Vote(best[0], len(best), counts)


def beta_majority_probability(top: int, second: int) -> float:
    """P(p_top > p_second) under a uniform prior, restricted to the two leading answers: with
    ``X ~ Beta(top + 1, second + 1)`` this is ``P(X > 1/2)``, computed exactly for integer counts
    as ``P(Binomial(top + second + 1, 1/2) <= top)``."""
    if top < 0 or second < 0:
        raise ValueError("counts must be >= 0")
    n = top + second + 1
    return sum(math.comb(n, i) for i in range(top + 1)) / 2**n


def adaptive_should_stop(counts: Sequence[int], remaining: int, threshold: float = 0.95) -> bool:
    """Stop sampling when no sample is left, when the leader's lead over the runner-up exceeds the
    samples still to draw (the vote cannot change), or when the Beta posterior that the leader is
    the majority answer reaches ``threshold``."""
    if remaining <= 0:
        return True
    ranked = sorted(counts, reverse=True)
    top = ranked[0] if ranked else 0
    second = ranked[1] if len(ranked) > 1 else 0
    if top == 0:
        return False
    if top - second > remaining:
        return True
    return beta_majority_probability(top, second) >= threshold


StopReason = Literal["settled", "cap", "budget"]


def sampling_stop(
    counts: Sequence[int], drawn: int, cap: int, *, adaptive: bool, threshold: float = 0.95
) -> StopReason | None:
    """Why sampling stops after ``drawn`` of at most ``cap`` samples whose vote is ``counts``:
    ``"cap"`` when all were drawn, ``"settled"`` when ``adaptive`` and ``adaptive_should_stop``
    says the vote cannot change or is settled at ``threshold``; None to draw more. (A refused
    sample, ``"budget"``, is the caller's to see.)"""
    if drawn >= cap:
        return "cap"
    if adaptive and adaptive_should_stop(counts, cap - drawn, threshold):
        return "settled"
    return None


def length_normalised_logprob(token_logprobs: Sequence[float] | None) -> float:
    """Mean token log-probability; ``-inf`` for a sample without tokens or logprobs."""
    if not token_logprobs:
        return -math.inf
    return float(sum(token_logprobs)) / len(token_logprobs)


def best_index(scores: Sequence[float], tiebreak: Sequence[float] | None = None) -> int:
    """Index of the highest score; ties go to the higher ``tiebreak``, then to the earliest."""
    if not scores:
        raise ValueError("no scores")
    keys = tiebreak if tiebreak is not None else [0.0] * len(scores)
    return max(range(len(scores)), key=lambda i: (scores[i], keys[i], -i))


# -- shared steps ------------------------------------------------------------------------------


def _draw(base: LLMRequest, m: int, seed: int, label: str) -> Steps:
    """Draw up to ``m`` samples with seeds ``seed..``; a refused batch is retried at half its size.
    Returns the choices drawn (none when even one sample is refused)."""
    while m >= 1:
        request = base.model_copy(update={"n": m, "seed": seed})
        try:
            response = yield Generate(request, label=label)
        except BudgetExhausted:
            if m == 1:
                return []
            m //= 2
            continue
        return list(response.choices)
    return []


def _sample(
    base: LLMRequest, seed: int, n: int, *, adaptive: bool, batch: int, threshold: float
) -> Steps:
    """Draw up to ``n`` samples (all at once, or ``batch`` at a time when ``adaptive``) with seeds
    ``seed..``; returns ``(choices, stopped)`` with ``stopped`` a ``StopReason``."""
    choices: list[Choice] = []
    step = batch if adaptive else n
    while True:
        want = min(step, n - len(choices))
        got = yield from _draw(base, want, seed + len(choices), "sample")
        choices += got
        if len(got) < want:
            return choices, "budget"
        votes = majority_vote([clean_answer(c.text) for c in choices]).counts
        stopped = sampling_stop(votes, len(choices), n, adaptive=adaptive, threshold=threshold)
        if stopped is not None:
            return choices, stopped


def _check_adaptive(n: int, batch: int, threshold: float) -> None:
    if n < 1 or batch < 1:
        raise ConfigError("n and batch must be >= 1")
    if not 0.5 < threshold <= 1:
        raise ConfigError(f"threshold must be in (0.5, 1], got {threshold}")


def _retrieve(ctx: Context, k: int) -> Steps:
    try:
        hits = yield Search(ctx.question.text, k=k)
    except BudgetExhausted:
        return None
    return list(hits)


def _exhausted(ctx: Context) -> Answer:
    return Answer(text="", task=ctx.root, exhausted=True)


# -- strategies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SelfConsistency:
    n: int = 5
    k: int = 1
    temperature: float = 0.7
    adaptive: bool = False
    threshold: float = 0.95
    batch: int = 1  # samples per step when adaptive
    max_tokens: int = 24
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "self_consistency"

    def __post_init__(self) -> None:
        _check_adaptive(self.n, self.batch, self.threshold)

    def steps(self, ctx: Context) -> Steps:
        hits = yield from _retrieve(ctx, self.k)
        if hits is None:
            return _exhausted(ctx)
        base = render(flat_reader_prompt(
            ctx.question.text, hits, exemplars=self.exemplars.reader, max_tokens=self.max_tokens,
            temperature=self.temperature, chat_stop=STOP,  # one line per sample, in both profiles
        ), ctx.profile)
        sources = tuple(h.document.title for h in hits)
        choices, stopped = yield from _sample(base, ctx.seed, self.n, adaptive=self.adaptive,
                                              batch=self.batch, threshold=self.threshold)
        answers = [clean_answer(c.text) for c in choices]
        exhausted = stopped == "budget"
        vote = majority_vote(answers)
        log.debug("self-consistency: %d samples (%s), %s", len(answers), stopped, vote)
        return Answer(
            text=vote.answer,
            task=ctx.root,
            sources=sources,
            confidence=vote.count / len(answers) if answers else None,
            exhausted=exhausted,
            meta={"samples": answers, "votes": list(vote.counts), "budget_cut": exhausted,
                  "drawn": len(answers), "stopped": stopped},
        )


Verifier = Literal["self_eval", "logprob"]


@dataclass(frozen=True)
class BestOfN:
    n: int = 5
    k: int = 1
    temperature: float = 0.7
    verifier: Verifier = "self_eval"
    logprobs: bool = True  # self_eval: score by P(yes) when the backend returns logprobs
    adaptive: bool = False  # stop sampling once the vote is settled (then verify what was drawn)
    threshold: float = 0.95
    batch: int = 1  # samples per step when adaptive
    max_tokens: int = 24
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "best_of_n"

    def __post_init__(self) -> None:
        _check_adaptive(self.n, self.batch, self.threshold)
        if self.verifier not in ("self_eval", "logprob"):
            raise ConfigError(f"unknown verifier {self.verifier!r}: self_eval or logprob")

    def steps(self, ctx: Context) -> Steps:
        if self.verifier == "logprob" and not ctx.capabilities.supports_logprobs:
            raise ConfigError("best-of-N with the logprob verifier needs a backend with logprobs")
        hits = yield from _retrieve(ctx, self.k)
        if hits is None:
            return _exhausted(ctx)
        base = render(flat_reader_prompt(
            ctx.question.text, hits, exemplars=self.exemplars.reader, max_tokens=self.max_tokens,
            temperature=self.temperature, logprobs=self.verifier == "logprob", chat_stop=STOP,
        ), ctx.profile)
        sources = tuple(h.document.title for h in hits)
        choices, stopped = yield from _sample(base, ctx.seed, self.n, adaptive=self.adaptive,
                                              batch=self.batch, threshold=self.threshold)
        budget_cut = stopped == "budget"
        answers = [clean_answer(c.text) for c in choices]
        if self.verifier == "logprob":
            scores = [length_normalised_logprob(c.token_logprobs) if a else -math.inf
                      for c, a in zip(choices, answers, strict=True)]
        else:
            scores = yield from self._self_evaluate(ctx, hits, answers)
        if self.verifier == "self_eval":
            budget_cut = budget_cut or any(
                s == -math.inf for s, a in zip(scores, answers, strict=True) if a
            )
        meta = {
            "samples": answers,
            "scores": [None if s == -math.inf else s for s in scores],
            "budget_cut": budget_cut,
            "drawn": len(choices),
            "stopped": stopped,
        }
        if not answers or all(s == -math.inf for s in scores):
            vote = majority_vote(answers)  # nothing verified: fall back to the vote
            # Empty samples are no answer, not a spent budget: exhausted only on a budget cut.
            return Answer(text=vote.answer, task=ctx.root, sources=sources,
                          exhausted=budget_cut, meta=meta)
        freq = [float(sum(normalize_answer(b) == normalize_answer(a) for b in answers))
                for a in answers]
        i = best_index(scores, freq)
        confidence = scores[i] if self.verifier == "self_eval" else math.exp(scores[i])
        return Answer(text=answers[i], task=ctx.root, sources=sources, confidence=confidence,
                      exhausted=budget_cut, meta=meta)

    def _self_evaluate(self, ctx: Context, hits: Sequence[Hit], answers: Sequence[str]) -> Steps:
        """Verify each distinct non-empty candidate once, concurrently; unverified ones score
        -inf."""
        distinct: list[str] = []
        for a in answers:
            key = normalize_answer(a)
            if key and key not in distinct:
                distinct.append(key)
        if not distinct:
            return [-math.inf] * len(answers)
        first = {key: next(a for a in answers if normalize_answer(a) == key) for key in distinct}
        passage = passage_text(hits)
        logprobs = self.logprobs and ctx.capabilities.supports_logprobs
        requests = [
            render(verify_prompt(ctx.question.text, passage, first[key], exemplars=self.exemplars,
                                 seed=ctx.seed, logprobs=logprobs), ctx.profile)
            for key in distinct
        ]
        # Parallel never raises BudgetExhausted: a refused step's result is the exception itself.
        results = yield Parallel(tuple(Generate(r, label="verify") for r in requests))
        by_key: dict[str, float] = {}
        for key, result in zip(distinct, results, strict=True):
            if isinstance(result, BaseException):
                continue
            choice: Choice = result.choices[0]
            by_key[key] = choice_yes_score(choice)
        return [by_key.get(normalize_answer(a), -math.inf) for a in answers]


@dataclass(frozen=True)
class BestOfNLogprob(BestOfN):
    """Best-of-N scored by length-normalised sequence log-probability (registered separately so
    sweeps can compare both verifiers)."""

    verifier: Verifier = "logprob"
    name: str = "best_of_n_logprob"
