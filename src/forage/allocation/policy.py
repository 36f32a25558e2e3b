"""The adaptive policy's arithmetic: who gets what next out of one budget for many questions.

A *cascade with a reserve*, as pure functions and one generator (``cascade``) that says what to
run and is told what happened; it never runs anything itself, so every decision is unit-testable
and a journal can replay it.

1. **Rung 0 for everyone.** Each question is granted the cheapest rung of the ladder (one
   retrieval and a reading, with its confidence): ``min(cap, pool / questions still waiting)``, so
   the last question's first step is as affordable as the first's. What a run does not spend goes
   back to the pool.
2. **Escalate by expected gain per unit.** A question whose confidence reaches ``threshold`` is
   settled and gets nothing more. Every other one may climb the ladder one rung at a time. The
   next escalation goes to the question with the highest ``expected_gain / expected_cost``:
   the gain is the chance its answer is wrong (``1 - confidence``, an empty answer counts as
   wrong) times the next rung's ``fix_rate`` (how often that rung turns a wrong answer right; a
   setting chosen on dev splits), and the cost is what that rung has cost so far in this batch
   (its ``cap`` x ``COLD_COST_SHARE`` before any run of it). An escalation is granted
   ``min(cap, pool - reserve)``.
3. **The reserve.** ``reserve`` x the batch budget is held back from step 2; when no escalation
   fits outside it, it is released, so the questions still unsettled after their first escalations
   (the hard ones found late) are not left without compute.
4. **Stop** when no unsettled question can be granted at least ``min_step``. Every question ends
   with an answer or marked exhausted.

The batch never overspends: every grant fits in what is left, and a run never spends more than its
grant (the runner gives it a ``Budget`` of exactly the grant). Not here: running a rung
(``forage.allocation.cascade``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass

from forage.core.errors import ConfigError

COLD_COST_SHARE = 0.5  # a rung's expected cost before it has run: this share of its cap


@dataclass(frozen=True)
class Rung:
    """One step of the ladder: ``name`` (a rung the runner knows), ``cap`` (the most compute one
    escalation to it is granted) and ``fix_rate`` (the chance it turns a wrong answer right)."""

    name: str
    cap: float
    fix_rate: float = 0.3


@dataclass(frozen=True)
class CascadeSettings:
    """The ladder (cheapest first), the confidence that settles a question and the reserve share."""

    ladder: tuple[Rung, ...]
    threshold: float = 0.5
    reserve: float = 0.1

    def check(self, min_step: float) -> None:
        """``ConfigError`` for an empty ladder, a repeated rung, a cap below ``min_step``, or a
        threshold, fix rate or reserve outside [0, 1]."""
        if not self.ladder:
            raise ConfigError("the allocation ladder needs at least one rung")
        names = [r.name for r in self.ladder]
        if len(set(names)) != len(names):
            raise ConfigError(f"a rung is listed twice in the ladder: {', '.join(names)}")
        for r in self.ladder:
            if not r.cap >= min_step:
                raise ConfigError(f"rung {r.name!r}: cap {r.cap:g} is below the cheapest step "
                                  f"({min_step:g} compute units)")
            if not 0.0 <= r.fix_rate <= 1.0:
                raise ConfigError(f"rung {r.name!r}: fix rate {r.fix_rate:g} is not in [0, 1]")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold {self.threshold:g} is not in [0, 1]")
        if not 0.0 <= self.reserve < 1.0:
            raise ConfigError(f"reserve {self.reserve:g} is not in [0, 1)")

    def to_dict(self) -> dict[str, object]:
        return {"ladder": [[r.name, r.cap, r.fix_rate] for r in self.ladder],
                "threshold": self.threshold, "reserve": self.reserve}


def check_batch(total: float, n: int, min_step: float) -> None:
    """``ConfigError`` when ``total`` cannot pay one cheapest step for each of ``n`` questions."""
    if n < 1:
        raise ConfigError("an allocation needs at least one question")
    if not total >= n * min_step:
        raise ConfigError(
            f"a batch budget of {total:g} compute units cannot pay one cheapest step "
            f"({min_step:g}) for each of {n} questions: give at least {n * min_step:g} "
            f"(a mean of {min_step:g} per question)")


@dataclass(frozen=True)
class Ask:
    """Run rung ``rung`` (an index into the ladder) for question ``question`` with ``grant``
    compute units."""

    question: int
    rung: int
    grant: float


@dataclass(frozen=True)
class Outcome:
    """What a rung's run gave: its answer ("" for none), confidence, the compute it spent (at most
    its grant) and whether it ran out of budget."""

    answer: str
    confidence: float
    spent: float
    exhausted: bool = False


@dataclass
class QuestionState:
    """Where one question stands: the highest rung run (-1: none), what it was granted and spent in
    all, its current answer and confidence, the rung that gave that answer, and whether it ended
    without an answer because the budget ran out."""

    rung: int = -1
    granted: float = 0.0
    spent: float = 0.0
    answer: str = ""
    confidence: float = 0.0
    answered_by: int = -1
    exhausted: bool = False

    def apply(self, ask: Ask, outcome: Outcome) -> None:
        self.rung = ask.rung
        self.granted += ask.grant
        self.spent += outcome.spent
        if outcome.answer:  # a later rung starts from the earlier reading: its answer supersedes
            self.answer, self.confidence, self.answered_by = (outcome.answer, outcome.confidence,
                                                              ask.rung)
            self.exhausted = False
        elif not self.answer:
            self.exhausted = self.exhausted or outcome.exhausted


def settled(state: QuestionState, threshold: float) -> bool:
    return bool(state.answer) and state.confidence >= threshold


def expected_gain(state: QuestionState, rung: Rung) -> float:
    """The chance the question's answer is wrong (an empty one is) times the rung's fix rate."""
    wrong = 1.0 if not state.answer else 1.0 - min(max(state.confidence, 0.0), 1.0)
    return wrong * rung.fix_rate


def expected_cost(rung: Rung, observed: Sequence[float]) -> float:
    """What the rung has cost per run in this batch so far; ``cap`` x ``COLD_COST_SHARE`` before
    any run (never below one unit)."""
    if observed:
        return max(sum(observed) / len(observed), 1.0)
    return max(rung.cap * COLD_COST_SHARE, 1.0)


def next_escalation(
    states: Sequence[QuestionState],
    settings: CascadeSettings,
    costs: Mapping[int, Sequence[float]],
    room: float,
    min_step: float,
) -> Ask | None:
    """The escalation with the highest expected gain per unit among unsettled questions that are
    not at the top of the ladder, granted ``min(cap, room)``; ``None`` when ``room`` is below
    ``min_step`` or nothing is left to gain. Ties go to the lower question index."""
    if room < min_step:
        return None
    best: tuple[float, int] | None = None
    for i, s in enumerate(states):
        nxt = s.rung + 1
        if s.rung < 0 or nxt >= len(settings.ladder) or settled(s, settings.threshold):
            continue
        rung = settings.ladder[nxt]
        gain = expected_gain(s, rung)
        if gain <= 0.0:
            continue
        priority = gain / expected_cost(rung, costs.get(nxt, ()))
        if best is None or priority > best[0]:
            best = (priority, i)
    if best is None:
        return None
    i = best[1]
    nxt = states[i].rung + 1
    return Ask(i, nxt, min(settings.ladder[nxt].cap, room))


Cascade = Generator[Ask, Outcome, list[QuestionState]]


def cascade(n: int, total: float, settings: CascadeSettings, *, min_step: float) -> Cascade:
    """Yield ``Ask``s and receive each one's ``Outcome`` (``.send``); return every question's final
    ``QuestionState``. Checks the settings and the batch first (``ConfigError``)."""
    settings.check(min_step)
    check_batch(total, n, min_step)
    states = [QuestionState() for _ in range(n)]
    costs: dict[int, list[float]] = {}
    pool = float(total)

    def record(ask: Ask, outcome: Outcome) -> None:
        nonlocal pool
        spent = min(max(outcome.spent, 0.0), ask.grant)  # a run cannot spend beyond its grant
        outcome = Outcome(outcome.answer, outcome.confidence, spent, outcome.exhausted)
        states[ask.question].apply(ask, outcome)
        costs.setdefault(ask.rung, []).append(spent)
        pool -= spent

    first = settings.ladder[0]
    for i in range(n):
        ask = Ask(i, 0, min(first.cap, pool / (n - i)))
        record(ask, (yield ask))
    reserve = settings.reserve * total
    releasing = reserve <= 0.0
    while True:
        room = pool if releasing else pool - reserve
        ask = next_escalation(states, settings, costs, room, min_step)
        if ask is None:
            if releasing:
                break
            releasing = True
            continue
        record(ask, (yield ask))
    for s in states:
        if not s.answer:
            s.exhausted = True
    return states


__all__ = [
    "Ask",
    "COLD_COST_SHARE",
    "Cascade",
    "CascadeSettings",
    "Outcome",
    "QuestionState",
    "Rung",
    "cascade",
    "check_batch",
    "expected_cost",
    "expected_gain",
    "next_escalation",
    "settled",
]
