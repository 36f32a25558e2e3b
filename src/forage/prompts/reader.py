"""The flat reader prompt (passages, question -> short answer) and its generic exemplars.

``completion`` profile: a few-shot completion prompt in a plain line format, the only kind the tiny
embedded models follow. ``chat`` profile: a system instruction and one user message, for capable
chat models. Exemplars are passed in: benchmarks take them from a dataset's dev split; ``forage ask``
uses ``GENERIC_READER_EXEMPLARS``, hand-written about invented things that appear in no dataset.

``flat_reader_prompt`` is the spec (``forage.prompts.render`` renders it); its reply is a short
answer, read by ``clean_answer`` (``parse``, re-exported here with ``spec``'s ``passage_text`` for
the strategies that import them from here). ``STOP`` ends one-line replies.

Not here: rendering (``render``), the tree executor's reader with working memory
(``forage.hierarchy.tree_prompts.memory_reader_prompt``), strategy logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from forage.core.types import Hit
from forage.prompts.parse import clean_answer
from forage.prompts.spec import Block, Chat, Generation, PromptSpec, passage_text


@dataclass(frozen=True)
class Exemplar:
    passage: str
    question: str
    answer: str


GENERIC_READER_EXEMPLARS: tuple[Exemplar, ...] = (
    Exemplar(
        "Quorra Bay: Quorra Bay is a small fishing harbour on the west coast. Its stone pier was "
        "built in 1821 by the mason Eliel Strand.",
        "Who built the stone pier at Quorra Bay?",
        "Eliel Strand",
    ),
    Exemplar(
        "The Lantern Society: The Lantern Society is a reading club founded in 1956 in the town of "
        "Wexmoor by the schoolteacher Ada Prell.",
        "In which town was the Lantern Society founded?",
        "Wexmoor",
    ),
)

READER_INSTRUCTION = "Answer each question with a short phrase taken from the passage."
STOP = ("\n",)


def reader_block(passage: str, question: str, answer: str = "") -> Block:
    return Block((f"Passage: {passage}", f"Question: {question}"), "Answer:", answer)


def flat_reader_prompt(
    question: str,
    hits: Sequence[Hit],
    *,
    exemplars: Sequence[Exemplar] = GENERIC_READER_EXEMPLARS,
    max_tokens: int = 24,
    seed: int | None = None,
    temperature: float = 0.0,
    logprobs: bool = False,
    chat_stop: tuple[str, ...] = (),
    chat_note: str = "",
) -> PromptSpec:
    """The flat reader: answer ``question`` in a short phrase from ``hits`` alone, with no memory
    of a run (RAG's reader, and the reader of the other flat strategies). The tree's executor
    reads with its working memory in view instead (``forage.hierarchy.tree_prompts``'s
    ``memory_reader_prompt``)."""
    return PromptSpec(
        instruction=READER_INSTRUCTION,
        shots=tuple(reader_block(e.passage, e.question, e.answer) for e in exemplars),
        query=reader_block(passage_text(hits), question),
        stop=STOP,
        generation=Generation(max_tokens=max_tokens, temperature=temperature, seed=seed,
                              logprobs=logprobs),
        chat=Chat(hint="Reply with the answer only.", note=chat_note, stop=chat_stop),
    )


__all__ = [
    "GENERIC_READER_EXEMPLARS",
    "READER_INSTRUCTION",
    "STOP",
    "Exemplar",
    "clean_answer",
    "flat_reader_prompt",
    "passage_text",
    "reader_block",
]
