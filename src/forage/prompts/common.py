"""Reader prompts in both profiles, and the exemplars they are built from.

``completion`` profile: a few-shot completion prompt in a plain line format, the only kind the tiny
embedded models follow. ``chat`` profile: a system instruction and one user message, for capable
chat models. Exemplars are passed in: benchmarks take them from a dataset's dev split; ``forage ask``
uses ``GENERIC_READER_EXEMPLARS``, hand-written about invented things that appear in no dataset.

Not here: parsing of model output beyond ``clean_answer``; strategy logic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from forage.core.types import Hit
from forage.llm.base import LLMRequest, Message


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


def passage_text(hits: Sequence[Hit], *, max_words: int = 120) -> str:
    """Hits joined as ``Title: text`` lines, each cut to ``max_words`` words."""
    parts = []
    for h in hits:
        words = h.document.text.split()
        text = " ".join(words[:max_words])
        parts.append(f"{h.document.title}: {text}" if h.document.title else text)
    return " ".join(parts)


def reader_request(
    question: str,
    hits: Sequence[Hit],
    *,
    profile: str,
    exemplars: Sequence[Exemplar] = GENERIC_READER_EXEMPLARS,
    max_tokens: int = 24,
    seed: int | None = None,
    temperature: float = 0.0,
) -> LLMRequest:
    passage = passage_text(hits)
    if profile == "chat":
        shots = "\n\n".join(
            f"Passage: {e.passage}\nQuestion: {e.question}\nAnswer: {e.answer}" for e in exemplars
        )
        return LLMRequest(
            messages=(
                Message(
                    role="system",
                    content=f"{READER_INSTRUCTION} Reply with the answer only.\n\n{shots}",
                ),
                Message(role="user", content=f"Passage: {passage}\nQuestion: {question}"),
            ),
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
        )
    blocks = [READER_INSTRUCTION, ""]
    for e in exemplars:
        blocks += [f"Passage: {e.passage}", f"Question: {e.question}", f"Answer: {e.answer}", ""]
    blocks += [f"Passage: {passage}", f"Question: {question}", "Answer:"]
    return LLMRequest(
        prompt="\n".join(blocks),
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        stop=STOP,
    )


_ANSWER_PREFIX = re.compile(r"^\s*(answer\s*:\s*)", re.IGNORECASE)


def clean_answer(text: str) -> str:
    """The first line of a reply, without an ``Answer:`` prefix, quotes or a final full stop."""
    line = text.strip().split("\n", 1)[0]
    line = _ANSWER_PREFIX.sub("", line).strip().strip('"').strip()
    return line[:-1].strip() if line.endswith(".") else line
