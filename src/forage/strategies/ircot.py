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
from forage.llm.base import LLMRequest
from forage.prompts.exemplars import DevExample, ExemplarSet
from forage.prompts.parse import ANSWER_MARKER, answer_after, clean_answer
from forage.prompts.render import render
from forage.prompts.spec import Block, Chat, Generation, PromptSpec, passage_text, titled
from forage.runtime.base import Answer, Context, Generate, Search, Steps
from forage.strategies.direct import cot_text

INSTRUCTION = (
    "Answer the question using the passages. Reason one sentence at a time, then write "
    '"So the answer is:" and a short phrase.'
)


def _exemplar_passages(example: DevExample) -> list[str]:
    steps = example.resolved_steps()
    if steps:
        return [titled(s.title, s.evidence) for s in steps if s.evidence]
    titles = list(example.titles) + [""] * max(0, len(example.evidence) - len(example.titles))
    return [titled(t, e) for t, e in zip(titles, example.evidence, strict=False)]


def _block(passages: Sequence[str], question: str, answer: str = "") -> Block:
    return Block((*(f"Passage: {p}" for p in passages), f"Q: {question}"), "A:", answer)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")


def first_sentence(text: str) -> str:
    """The reasoning sentence in a reply to ``ircot_prompt``: the first sentence of its first line
    (whitespace normalised)."""
    line = " ".join(text.strip().split("\n", 1)[0].split())
    return _SENTENCE_END.split(line, maxsplit=1)[0] if line else ""


def ircot_prompt(
    question: str,
    hits: Sequence[Hit],
    sentences: Sequence[str],
    examples: Sequence[DevExample],
    *,
    max_words: int = 80,
    max_tokens: int = 40,
    seed: int | None = None,
    final: bool = False,
) -> PromptSpec:
    """The next-sentence prompt; with ``final``, the prompt that ends with ``So the answer is:``."""
    written = " ".join([*sentences, *([ANSWER_MARKER] if final else [])])
    passages = [passage_text([h], max_words=max_words) for h in hits]
    return PromptSpec(
        instruction=INSTRUCTION,
        shots=tuple(_block(_exemplar_passages(e), e.question, cot_text(e)) for e in examples),
        query=_block(passages, question, written),
        stop=("\n",),
        generation=Generation(max_tokens=max_tokens, seed=seed),
        chat=Chat(
            ask=f"Finish with one line: {ANSWER_MARKER} <short phrase>" if final
            else "Write the next sentence of the reasoning only.",
            show_cue=True,
            stop=("\n",),
        ),
    )


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
            return render(ircot_prompt(
                question, passages, sentences, examples, max_words=self.max_words, seed=ctx.seed,
                final=final, max_tokens=self.answer_tokens if final else self.sentence_tokens,
            ), ctx.profile)

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
