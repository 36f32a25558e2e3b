"""Next-search-query prompts: given the question and what is known, what should be searched next?

``query_request`` renders the prompt in both profiles; ``clean_query`` reads a query from the reply.
The few-shot examples come from dev decompositions (``ExemplarSet.multi_hop``): for hop *i* of a dev
question, "Known" is the evidence of hop *i-1* (or nothing yet) and "Search" is hop *i*'s resolved
sub-question. Used by sequential revision (a new search after a rejected answer) and MCTS (the
search actions an expansion proposes).

Not here: running searches or deciding when to search.
"""

from __future__ import annotations

from forage.llm.base import LLMRequest, Message
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.common import STOP, clean_answer

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
        known = f"{steps[0].title}: {steps[0].evidence}" if steps[0].title else steps[0].evidence
        shots.append((m.question, known, steps[1].question))
    return tuple(shots[:max_shots])


def query_request(
    question: str,
    known: str,
    *,
    profile: str,
    exemplars: ExemplarSet,
    n: int = 1,
    temperature: float = 0.0,
    seed: int | None = None,
    max_tokens: int = 24,
) -> LLMRequest:
    """Ask for ``n`` next queries (sampled when ``temperature`` > 0); ``known`` may be empty."""
    known = known or NOTHING_KNOWN
    shots = query_shots(exemplars)
    if profile == "chat":
        text = "\n\n".join(f"Question: {q}\nKnown: {k}\nSearch: {s}" for q, k, s in shots)
        return LLMRequest(
            messages=(
                Message(
                    role="system",
                    content=f"{QUERY_INSTRUCTION} Reply with the query only.\n\n{text}",
                ),
                Message(role="user", content=f"Question: {question}\nKnown: {known}"),
            ),
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
            stop=STOP,
            n=n,
        )
    blocks = [QUERY_INSTRUCTION, ""]
    for q, k, s in shots:
        blocks += [f"Question: {q}", f"Known: {k}", f"Search: {s}", ""]
    blocks += [f"Question: {question}", f"Known: {known}", "Search:"]
    return LLMRequest(
        prompt="\n".join(blocks),
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        stop=STOP,
        n=n,
    )


def clean_query(text: str) -> str:
    """The first line of a reply without a ``Search:`` prefix; empty when there is no query."""
    line = clean_answer(text)
    if line.lower().startswith("search:"):
        line = line[len("search:"):].strip()
    return line[:200]
