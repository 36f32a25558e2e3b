"""Next-search-query prompts: given the question and what is known, what should be searched next?

``query_prompt`` is the spec (``forage.prompts.render`` renders it); ``clean_query`` reads the query
from the reply. The few-shot examples come from dev
decompositions (``ExemplarSet.multi_hop``): for hop *i* of a dev question, "Known" is the evidence
of hop *i-1* (or nothing yet) and "Search" is hop *i*'s resolved sub-question. Used by sequential
revision (a new search after a rejected answer) and MCTS (the search actions an expansion proposes).

Not here: running searches or deciding when to search.
"""

from __future__ import annotations

from forage.prompts.exemplars import ExemplarSet
from forage.prompts.parse import clean_answer
from forage.prompts.reader import STOP
from forage.prompts.spec import Block, Chat, Generation, PromptSpec, titled

QUERY_INSTRUCTION = "Write the next search query needed to answer the question."
NOTHING_KNOWN = "nothing yet"


def query_shots(exemplars: ExemplarSet, *, max_shots: int = 4) -> tuple[tuple[str, str, str], ...]:
    """(question, known, search) triples from dev decompositions, at most two per dev question."""
    shots: list[tuple[str, str, str]] = []
    for m in exemplars.multi_hop:
        steps = m.resolved_steps()
        if len(steps) < 2:
            continue
        shots.append((m.question, NOTHING_KNOWN, steps[0].question))
        shots.append((m.question, titled(steps[0].title, steps[0].evidence), steps[1].question))
    return tuple(shots[:max_shots])


def _block(question: str, known: str, search: str = "") -> Block:
    return Block((f"Question: {question}", f"Known: {known}"), "Search:", search)


def query_prompt(
    question: str,
    known: str,
    *,
    exemplars: ExemplarSet,
    n: int = 1,
    temperature: float = 0.0,
    seed: int | None = None,
    max_tokens: int = 24,
) -> PromptSpec:
    """Ask for ``n`` next queries (sampled when ``temperature`` > 0); ``known`` may be empty."""
    return PromptSpec(
        instruction=QUERY_INSTRUCTION,
        shots=tuple(_block(*shot) for shot in query_shots(exemplars)),
        query=_block(question, known or NOTHING_KNOWN),
        stop=STOP,
        generation=Generation(max_tokens=max_tokens, temperature=temperature, seed=seed, n=n),
        chat=Chat(hint="Reply with the query only.", stop=STOP),
    )


def clean_query(text: str) -> str:
    """The first line of a reply without a ``Search:`` prefix; empty when there is no query."""
    line = clean_answer(text)
    if line.lower().startswith("search:"):
        line = line[len("search:"):].strip()
    return line[:200]


__all__ = ["NOTHING_KNOWN", "QUERY_INSTRUCTION", "clean_query", "query_prompt",
           "query_shots"]
