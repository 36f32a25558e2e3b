"""IRCoT-style interleaving (Trivedi et al. 2023): retrieve with each reasoning sentence.

Retrieve with the question; then alternate: generate ONE chain-of-thought sentence conditioned on
the passages retrieved so far (the first sentence of the reply is kept, as in the paper), and
retrieve with that sentence as the query, adding passages not yet seen. The loop ends when a
sentence contains ``So the answer is:`` or after ``max_steps`` sentences (the knob). At most
``max_passages`` passages are shown to the model, the latest ones (tiny readers read worse with
more; the paper caps at 15 for large models). If the loop ends without an answer line, one short
call continues the reasoning with ``So the answer is:``. ``reserve`` compute units are kept back
for that call: no step starts with less than that left. On an exhausted budget it answers with
what it has (the answer line if one was written, else empty).

Exemplars: the dev split's multi-hop examples, their supporting sentences as passages and the
same sentences as the reasoning chain (``direct.reasoning_sentences``).

Not here: a separate reader stage over all passages (the answer comes from the chain itself).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from forage.core.errors import BudgetExhausted
from forage.core.types import Hit
from forage.llm.base import LLMRequest, Message
from forage.runtime.base import Answer, Context, Generate, Search, Steps
from forage.strategies.direct import ANSWER_MARKER, answer_after, cot_text
from forage.prompts.exemplars import DevExample, ExemplarSet
from forage.prompts.common import clean_answer, passage_text

INSTRUCTION = (
    "Answer the question using the passages. Reason one sentence at a time, then write "
    '"So the answer is:" and a short phrase.'
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")


def first_sentence(text: str) -> str:
    """The first sentence of the first line of ``text`` (whitespace normalised)."""
    line = " ".join(text.strip().split("\n", 1)[0].split())
    return _SENTENCE_END.split(line, maxsplit=1)[0] if line else ""


def _exemplar_passages(example: DevExample) -> list[str]:
    steps = example.resolved_steps()
    if steps:
        return [f"{s.title}: {s.evidence}" if s.title else s.evidence for s in steps if s.evidence]
    titles = list(example.titles) + [""] * max(0, len(example.evidence) - len(example.titles))
    return [f"{t}: {e}" if t else e for t, e in zip(titles, example.evidence, strict=False)]


def ircot_request(
    question: str,
    hits: Sequence[Hit],
    sentences: Sequence[str],
    examples: Sequence[DevExample],
    *,
    profile: str,
    max_words: int = 80,
    max_tokens: int = 40,
    seed: int | None = None,
    final: bool = False,
) -> LLMRequest:
    """The next-sentence prompt; with ``final``, the prompt that ends with ``So the answer is:``."""
    shots = []
    for e in examples:
        passages = "\n".join(f"Passage: {p}" for p in _exemplar_passages(e))
        shots.append(f"{passages}\nQ: {e.question}\nA: {cot_text(e)}")
    passages = "\n".join(f"Passage: {passage_text([h], max_words=max_words)}" for h in hits)
    reasoning = " ".join(sentences)
    if profile == "chat":
        ask = (
            f"Finish with one line: {ANSWER_MARKER} <short phrase>" if final
            else "Write the next sentence of the reasoning only."
        )
        body = f"{passages}\nQ: {question}\nA so far: {reasoning or '(nothing yet)'}\n\n{ask}"
        return LLMRequest(
            messages=(
                Message(role="system", content=f"{INSTRUCTION}\n\n" + "\n\n".join(shots)),
                Message(role="user", content=body),
            ),
            max_tokens=max_tokens,
            seed=seed,
            stop=("\n",),
        )
    prompt = "\n\n".join([INSTRUCTION, *shots, f"{passages}\nQ: {question}\nA:"])
    if reasoning:
        prompt += f" {reasoning}"
    if final:
        prompt += f" {ANSWER_MARKER}"
    return LLMRequest(prompt=prompt, max_tokens=max_tokens, seed=seed, stop=("\n",))


def add_new(passages: list[Hit], hits: Sequence[Hit], k: int, cap: int) -> list[Hit]:
    """``passages`` plus up to ``k`` of ``hits`` not already there, keeping the latest ``cap``."""
    seen = {h.document.id for h in passages}
    fresh = [h for h in hits if h.document.id not in seen][:k]
    return (passages + fresh)[-cap:] if cap > 0 else []


@dataclass(frozen=True)
class IRCoT:
    """Interleaved retrieval and chain of thought. Knob: ``max_steps`` (reasoning sentences)."""

    max_steps: int = 4
    k: int = 1  # passages retrieved (and added) per retrieval
    max_passages: int = 3  # passages shown to the model, the latest ones
    max_words: int = 80
    sentence_tokens: int = 40
    answer_tokens: int = 16
    reserve: float = 120.0  # compute units kept back for the final answer call
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "ircot"

    def steps(self, ctx: Context) -> Steps:
        question = ctx.question.text
        examples = self.exemplars.multi_hop
        passages: list[Hit] = []
        sentences: list[str] = []
        exhausted = False

        def request(final: bool = False) -> LLMRequest:
            return ircot_request(
                question, passages, sentences, examples, profile=ctx.profile,
                max_words=self.max_words, seed=ctx.seed, final=final,
                max_tokens=self.answer_tokens if final else self.sentence_tokens,
            )

        try:
            hits = yield Search(question, k=self.k)
            passages = add_new(passages, hits, self.k, self.max_passages)
            for step in range(1, self.max_steps + 1):
                if ctx.budget.available < self.reserve:
                    break
                reply = yield Generate(request(), label=f"sentence {step}")
                sentence = first_sentence(reply.text)
                if not sentence:
                    # Nothing usable: the next step would see the same prompt; stop here.
                    break
                sentences.append(sentence)
                found = answer_after(sentence)
                if found:
                    return self._answer(ctx, found, passages, sentences)
                if found is not None:  # the answer line came without an answer: ask for it
                    sentences.pop()
                    break
                hits = yield Search(sentence, k=self.k)
                passages = add_new(passages, hits, self.k, self.max_passages)
        except BudgetExhausted:
            exhausted = True
        try:
            reply = yield Generate(request(final=True), label="answer")
            text = answer_after(f"{ANSWER_MARKER}{reply.text}") or clean_answer(reply.text)
        except BudgetExhausted:
            return self._answer(ctx, "", passages, sentences, exhausted=True)
        return self._answer(ctx, text, passages, sentences, exhausted=exhausted)

    def _answer(
        self, ctx: Context, text: str, passages: Sequence[Hit], sentences: Sequence[str],
        *, exhausted: bool = False,
    ) -> Answer:
        ctx.root.thought = " ".join(sentences)
        return Answer(
            text=text,
            task=ctx.root,
            sources=tuple(h.document.title for h in passages),
            exhausted=exhausted,
            meta={"sentences": list(sentences)},
        )
