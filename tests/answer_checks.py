"""Properties that any competent run has, whatever words the model chose.

A real model's exact words change with the CPU, the llama.cpp build and the batch sizes, so a test
that runs one asserts these instead of an expected answer:

- ``assert_ledger_matches_trace``: within budget; every ledger entry is one action of the trace
  tree (same kind, same count); with ``costs=True`` the trace's action costs add up to the
  ledger's total; an answer marked exhausted had a call refused;
- ``assert_short_span``: the answer is a short span, not the prompt or the question echoed;
- ``assert_drawn_from``: the answer's words occur in the given source texts (the corpus it read,
  or the model's own outputs in the trace): all of them, or at least the fraction ``at_least``
  (a tiny reader may inflect a copied name, "Maren's");
- ``generated_texts``: the outputs of every ``generate`` action of a trace;
- ``assert_competent``: all of the above for one run of a strategy on a real model.

Not here: anything that names an expected answer, or timing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pytest

from forage.core.budget import Budget
from forage.core.text import normalize_answer
from forage.core.trace import Task
from forage.runtime.base import Answer

_ENTRY_TO_ACTION = {"llm": "generate", "search": "search", "refused": "refused"}


def actions(task: Task) -> list:
    """Every action of the trace tree, parents before children."""
    return [a for t in task.walk() for a in t.actions]


def generated_texts(task: Task) -> list[str]:
    return [a.output for a in actions(task) if a.kind == "generate"]


def assert_ledger_matches_trace(answer: Answer, budget: Budget, *, costs: bool = True) -> None:
    """The ledger and the trace tell the same story: one action per entry, same total cost."""
    assert budget.spent <= budget.limit + 1e-9, f"overspent: {budget.spent} > {budget.limit}"
    entries = Counter(_ENTRY_TO_ACTION[e.kind] for e in budget.ledger.entries)
    traced = Counter(a.kind for a in actions(answer.task))
    assert traced == entries, f"trace {dict(traced)} != ledger {dict(entries)}"
    assert budget.ledger.compute == pytest.approx(budget.spent)
    if costs:
        total = sum(a.cost for a in actions(answer.task))
        assert total == pytest.approx(budget.ledger.compute), "action costs do not add up"
    # An answer marked exhausted was refused a call, unless the strategy says it ran out of
    # something else (the thread's line cap or context window: meta["wrapped_up"]).
    if answer.exhausted and answer.meta.get("wrapped_up") in (None, "budget"):
        assert budget.ledger.refused_calls >= 1, "an exhausted answer without a refused call"


def assert_short_span(text: str, question: str, *, max_words: int = 12) -> None:
    """A short answer: at most ``max_words`` words, not the question copied back, no prompt
    labels (``Question:``, ``Answer:``, ...) carried over."""
    words = text.split()
    assert len(words) <= max_words, f"not a short span ({len(words)} words): {text!r}"
    assert normalize_answer(text) != normalize_answer(question), "the question was echoed"
    for label in ("Question:", "Answer:", "Context:", "Passage:", "Search:", "Thought"):
        assert label not in text, f"prompt text leaked into the answer: {text!r}"


def assert_drawn_from(text: str, sources: Iterable[str], *, at_least: float = 1.0) -> None:
    """``text`` has at least one word, and at least the fraction ``at_least`` of its words
    (normalised) occur somewhere in ``sources``."""
    vocabulary: set[str] = set()
    for source in sources:
        vocabulary.update(normalize_answer(source).split())
    words = normalize_answer(text).split()
    assert words, f"no words to check in {text!r}"
    found = [w for w in words if w in vocabulary]
    missing = [w for w in words if w not in vocabulary]
    assert len(found) >= at_least * len(words), f"{text!r}: words found in no source: {missing}"


def assert_competent(answer: Answer, budget: Budget, question: str, *, costs: bool = True,
                     may_be_empty: bool = False, max_words: int = 12,
                     outputs: Iterable[str] = ()) -> None:
    """What any competent run of a strategy leaves behind, whatever the model's words: within
    budget, a ledger that matches the trace, and an answer that is a short span taken from the
    model's own outputs (or an exhausted run). ``may_be_empty`` allows an empty answer that is not
    exhausted, for strategies that promise one (ReAct at its iteration cap without evidence).
    ``outputs``: model outputs the trace does not show (an action keeps only the first of ``n``
    samples)."""
    assert_ledger_matches_trace(answer, budget, costs=costs)
    assert_short_span(answer.text, question, max_words=max_words)
    if not answer.text.strip():
        assert answer.exhausted or may_be_empty, "an empty answer from a run that was not exhausted"
        return
    assert_drawn_from(answer.text, [*generated_texts(answer.task), *outputs])
