"""A model-estimated verifier: does a passage support a candidate answer? Prompt and score.

``verify_prompt`` is a yes/no verification prompt (passage, question, candidate answer) as a spec
(``forage.prompts``); ``yes_score`` turns the reply into a score in
[0, 1]: the probability of "yes" read from the verdict's first-token log-probability when the reply
carries logprobs, else 1 / 0 for a sampled "yes" / "no", and 0.5 for a reply that is neither (an
undecided verifier, not an error).
Used by best-of-N (self-evaluation), sequential revision (the critique) and MCTS (leaf values).

The few-shot verdicts are built from the dev ``ExemplarSet``: a reader exemplar with its own answer
("Yes"), a multi-hop dev question read against its *first* hop's evidence with that hop's answer
(the intermediate entity, "No"), the same question against its last hop's evidence with the final
answer ("Yes"), and a reader exemplar paired with another exemplar's answer ("No").

Not here: choosing among candidates (``sampling``), when to critique (``revision``), tree search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from forage.llm.base import Choice
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.reader import STOP
from forage.prompts.spec import Block, Chat, Generation, PromptSpec, titled

VERIFY_INSTRUCTION = "Does the passage support the answer to the question? Reply Yes or No."


@dataclass(frozen=True)
class Verdict:
    passage: str
    question: str
    answer: str
    supported: bool


def verdict_exemplars(exemplars: ExemplarSet) -> tuple[Verdict, ...]:
    """Balanced yes/no verdicts from dev exemplars (see the module docstring)."""
    reader = exemplars.reader
    out: list[Verdict] = []
    if reader:
        out.append(Verdict(reader[0].passage, reader[0].question, reader[0].answer, True))
    multi = [m for m in exemplars.multi_hop
             if len(m.steps) >= 2 and all(s.evidence for s in m.steps)]
    if multi:
        m = multi[0]
        first, last = m.resolved_steps()[0], m.resolved_steps()[-1]
        out.append(Verdict(titled(first.title, first.evidence), m.question, first.answer, False))
        out.append(Verdict(titled(last.title, last.evidence), m.question, m.answer, True))
    if len(reader) >= 2:
        out.append(Verdict(reader[1].passage, reader[1].question, reader[0].answer, False))
    return tuple(out)


def _block(passage: str, question: str, answer: str, verdict: str = "") -> Block:
    return Block((f"Passage: {passage}", f"Question: {question}", f"Answer: {answer}"),
                 "Supported:", verdict)


def verify_prompt(
    question: str,
    passage: str,
    answer: str,
    *,
    exemplars: ExemplarSet,
    logprobs: bool = False,
    seed: int | None = None,
    max_tokens: int = 2,
) -> PromptSpec:
    """A greedy yes/no verification prompt; ``logprobs`` asks for the verdict's probability."""
    shots: Sequence[Verdict] = verdict_exemplars(exemplars)
    return PromptSpec(
        instruction=VERIFY_INSTRUCTION,
        shots=tuple(_block(v.passage, v.question, v.answer, "Yes" if v.supported else "No")
                    for v in shots),
        query=_block(passage, question, answer),
        stop=STOP,
        generation=Generation(max_tokens=max_tokens, seed=seed, logprobs=logprobs),
        chat=Chat(show_cue=True, stop=STOP),
    )


def verdict_word(text: str) -> str | None:
    """"yes" or "no" if the reply starts with that word (any case, punctuation ignored)."""
    words = text.strip().split()
    if not words:
        return None
    word = words[0].strip(".,:;!\"'*").lower()
    return word if word in ("yes", "no") else None


def yes_score(text: str, token_logprobs: Sequence[float] | None = None) -> float:
    """The verifier's probability that the answer is supported, in [0, 1].

    With logprobs, ``p = exp(first token logprob)`` is the probability of the verdict the model
    chose (greedy), so the score is ``p`` for "yes" and ``1 - p`` for "no" (treating the verdict as
    a two-way choice). Without logprobs: 1.0 or 0.0. A reply that is neither scores 0.5.
    """
    word = verdict_word(text)
    if word is None:
        return 0.5
    if token_logprobs:
        p = min(1.0, max(0.0, math.exp(token_logprobs[0])))
    else:
        p = 1.0
    return p if word == "yes" else 1.0 - p


def choice_yes_score(choice: Choice) -> float:
    return yes_score(choice.text, choice.token_logprobs)
