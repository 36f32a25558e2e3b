"""Pure arithmetic for the hierarchical engine: plans, dependencies, shares, refunds, confidence,
and when to stop reading.

A plan is a list of sub-questions; a later one may refer to the answer of an earlier one by ``#k``
(1-based, as in ReWOO and Self-Ask), which makes the plan a DAG. ``plan_from_questions`` turns
sub-questions (a planner's, or a dataset's gold decomposition) into ``PlanStep``s. Everything here
is a pure function tested alone; the engine (``tree``) does the I/O.

Not here: prompts and reading their replies (``tree_prompts``, which parses a planner's reply into
a plan), running anything (``tree``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from forage.core.text import normalize_answer
from forage.prompts.exemplars import resolve_placeholders

_REF = re.compile(r"#(\d+)")


@dataclass(frozen=True)
class PlanStep:
    index: int  # 1-based
    question: str  # may hold #k placeholders
    depends_on: tuple[int, ...] = ()


_WORD = re.compile(r"[^\W\d_]{2,}")


def is_question_like(text: str) -> bool:
    """At least two words of letters: rules out empty, numeric or one-token lines."""
    return len(_WORD.findall(text)) >= 2


def _fix_references(question: str, i: int) -> str:
    """A step can only use answers of earlier steps: a reference to itself or a later step is
    taken as a miscount of the previous step (and dropped in step 1)."""

    def sub(m: re.Match[str]) -> str:
        k = int(m.group(1))
        if 0 < k < i:
            return m.group(0)
        return f"#{i - 1}" if i > 1 else ""

    return re.sub(r"\s+", " ", _REF.sub(sub, question)).strip()


def _steps(questions: Sequence[str], max_steps: int) -> list[PlanStep]:
    out: list[PlanStep] = []
    for q in questions:
        if len(out) == max_steps:
            break
        i = len(out) + 1
        q = _fix_references(q, i)
        if not is_question_like(q):
            continue
        deps = tuple(sorted({int(m) for m in _REF.findall(q)}))
        out.append(PlanStep(i, q, deps))
    return out


def plan_from_questions(questions: Sequence[str], *, max_steps: int = 8) -> list[PlanStep]:
    """A plan from sub-questions (a parsed planner reply, or a dataset's gold decomposition for
    ablations): references fixed, lines that are not questions dropped, at most ``max_steps``."""
    return _steps(list(questions), max_steps)


def ready_steps(plan: Sequence[PlanStep], done: set[int], started: set[int]) -> list[PlanStep]:
    """Steps not yet started whose dependencies are all done."""
    return [
        s for s in plan if s.index not in started and all(d in done for d in s.depends_on)
    ]


def resolve(step: PlanStep, conclusions: dict[int, str]) -> str:
    answers = [conclusions.get(i, f"#{i}") for i in range(1, step.index)]
    return resolve_placeholders(step.question, answers)


def share(available: float, pending: int, reserve: float) -> float:
    """Budget for one of ``pending`` subtasks starting now: an equal split of what is available
    after keeping ``reserve`` back for synthesis. What a subtask does not spend flows back and
    enlarges the shares of the subtasks after it."""
    if pending < 1:
        return 0.0
    return max(0.0, (available - reserve) / pending)


def worth_another_passage(
    last_gain: float, last_cost: float, run_gain: float, run_cost: float
) -> bool:
    """The marginal-value rule (Charnov's marginal value theorem: leave a patch when its rate of
    gain falls below the habitat's average). Read one more passage for a sub-question only while
    the last passage's confidence gain per compute unit (``last_gain / last_cost``, the expected
    gain rate of the next one) is at least the run's average rate so far: all confidence gained by
    reading in this run per unit spent searching and reading (``run_gain / run_cost``). A run that
    has gained nothing yet keeps reading: it has no better place to spend. Gains are increases of
    a sub-question's best confidence, so they are >= 0."""
    if run_gain <= 0 or run_cost <= 0:
        return True
    if last_cost <= 0:
        return last_gain > 0
    return last_gain / last_cost >= run_gain / run_cost


def refund_target(open_confidences: Mapping[int, float], threshold: float) -> int | None:
    """Which open subtask a finished sibling's unspent budget goes to: the least confident one
    still below ``threshold`` (ties to the lowest key, the earliest step). None when every open
    subtask is already confident or none is open: the refund then stays with the parent."""
    needy = [(c, k) for k, c in open_confidences.items() if c < threshold]
    return min(needy)[1] if needy else None


def answer_support(answer: str, passage: str) -> float:
    """Fraction of the answer's normalised tokens that occur in the passage (extractive check)."""
    tokens = normalize_answer(answer).split()
    if not tokens:
        return 0.0
    words = set(normalize_answer(passage).split())
    return sum(t in words for t in tokens) / len(tokens)


SHORT_ANSWER_WORDS = 6


ABSTAIN = "unknown"  # what the reader writes when the passage does not say


def answer_probability(first_alternatives: Sequence[tuple[str, float]] | None) -> float | None:
    """The model's own probability of answering rather than abstaining: 1 - P(the reply starts
    with "unknown"), summed over the first position's most likely tokens that begin that word
    (three letters or more, any case). None without alternatives (the backend gave none)."""
    if not first_alternatives:
        return None
    p = sum(math.exp(lp) for tok, lp in first_alternatives
            if len(t := tok.strip().lower()) >= 3 and ABSTAIN.startswith(t))
    return max(0.0, 1.0 - p)


def confidence(
    answer: str, passage: str, token_logprobs: Sequence[float] | None,
    first_alternatives: Sequence[tuple[str, float]] | None = None,
) -> float:
    """How much to trust a reader's answer: its support in the passage, times the model's
    probability of answering at all rather than "unknown" (``answer_probability``; 1 where the
    backend gives no alternatives), times the geometric-mean token probability of the generated
    text (1 when logprobs are not available), times a brevity factor — the reader was asked for a
    short phrase, and a long reply is usually a copied sentence rather than an answer
    (``SHORT_ANSWER_WORDS`` / words beyond that length). An abstention is 0."""
    if not answer.strip() or answer.strip().lower() == ABSTAIN:
        return 0.0
    p = 1.0
    if token_logprobs:
        p = math.exp(sum(token_logprobs) / len(token_logprobs))
    answering = answer_probability(first_alternatives)
    if answering is not None:
        p *= answering
    words = len(answer.split())
    brevity = min(1.0, SHORT_ANSWER_WORDS / words)
    return answer_support(answer, passage) * p * brevity
