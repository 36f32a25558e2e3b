"""Closed-book baselines: ``Direct`` (answer from the question alone) and ``CoT`` (chain of
thought).

``Direct`` is few-shot question -> answer prompting (Brown et al. 2020): one call, no search.
``CoT`` is few-shot chain-of-thought prompting (Wei et al. 2022) in the format IRCoT's readers use:
reasoning sentences, then ``So the answer is: X``. When the reasoning stops without that line
(truncated at the knob's token cap, or rambling), one short extraction call appends
``So the answer is:`` and reads the answer (the second stage of Kojima et al. 2022).

Exemplars are the dev split's multi-hop examples: their question and answer for ``Direct``; for
``CoT`` their supporting sentences, one per step, as the reasoning (``reasoning_sentences``, also
used by ``ircot``). ``direct_prompt`` and ``cot_prompt`` are the specs (``forage.prompts``);
``answer_after`` (``forage.prompts.parse``) reads the ``So the answer is:`` line.

Not here: anything that searches (``rag``, ``react``, ``ircot``, ``self_ask``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from forage.core.errors import BudgetExhausted
from forage.prompts.exemplars import DevExample, ExemplarSet
from forage.prompts.parse import ANSWER_MARKER, answer_after, clean_answer
from forage.prompts.render import render
from forage.prompts.spec import Block, Chat, Generation, PromptSpec, continue_text, titled
from forage.runtime.base import Answer, Context, Generate, Steps

DIRECT_INSTRUCTION = "Answer each question with a short phrase."
COT_INSTRUCTION = (
    'Answer each question. Reason step by step in short sentences, then write "So the answer is:" '
    "and a short phrase."
)


def reasoning_sentences(example: DevExample) -> tuple[str, ...]:
    """One supporting sentence per step of a dev example, each naming its subject: a reasoning chain
    written from evidence (IRCoT derives its chain-of-thought exemplars the same way)."""
    if example.steps:
        return tuple(titled(s.title, s.evidence.strip(), unless_named=True)
                     for s in example.resolved_steps() if s.evidence)
    titles = list(example.titles) + [""] * max(0, len(example.evidence) - len(example.titles))
    return tuple(titled(t, e.strip(), unless_named=True)
                 for t, e in zip(titles, example.evidence, strict=False))


def cot_text(example: DevExample) -> str:
    """The reasoning line of a CoT exemplar: its sentences, then ``So the answer is: X.``"""
    return " ".join((*reasoning_sentences(example), f"{ANSWER_MARKER} {example.answer}."))


def qa_block(question: str, answer: str = "") -> Block:
    return Block((f"Question: {question}",), "Answer:", answer)


def direct_prompt(
    question: str, examples: Sequence[DevExample], *, max_tokens: int = 24, seed: int | None = None
) -> PromptSpec:
    return PromptSpec(
        instruction=DIRECT_INSTRUCTION,
        shots=tuple(qa_block(e.question, e.answer) for e in examples),
        query=qa_block(question),
        stop=("\n",),
        generation=Generation(max_tokens=max_tokens, seed=seed),
        chat=Chat(hint="Answer from what you know; reply with the answer only."),
    )


def cot_prompt(
    question: str,
    examples: Sequence[DevExample],
    *,
    max_tokens: int = 96,
    seed: int | None = None,
    reasoning: str | None = None,
) -> PromptSpec:
    """The CoT prompt; with ``reasoning`` given, the extraction prompt that continues it with
    ``So the answer is:``."""
    extract = reasoning is not None
    written = continue_text(reasoning or "", ANSWER_MARKER) if extract else ""
    return PromptSpec(
        instruction=COT_INSTRUCTION,
        shots=tuple(qa_block(e.question, cot_text(e)) for e in examples),
        query=qa_block(question, written),
        stop=("\n",),
        generation=Generation(max_tokens=max_tokens, seed=seed),
        chat=Chat(ask=f"Finish with one line: {ANSWER_MARKER} <short phrase>" if extract else ""),
    )


@dataclass(frozen=True)
class Direct:
    """Closed-book: one few-shot call from the question alone. Knob: ``max_tokens``."""

    max_tokens: int = 24
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "direct"

    def steps(self, ctx: Context) -> Steps:
        spec = direct_prompt(ctx.question.text, self.exemplars.multi_hop,
                             max_tokens=self.max_tokens, seed=ctx.seed)
        request = render(spec, ctx.profile)
        try:
            response = yield Generate(request, label="answer")
        except BudgetExhausted:
            return Answer(text="", task=ctx.root, exhausted=True)
        return Answer(text=clean_answer(response.text), task=ctx.root)


@dataclass(frozen=True)
class CoT:
    """Closed-book chain of thought. Knob: ``max_tokens``, the cap on reasoning tokens."""

    max_tokens: int = 96
    answer_tokens: int = 16
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "cot"

    def steps(self, ctx: Context) -> Steps:
        question = ctx.question.text
        examples = self.exemplars.multi_hop
        request = render(cot_prompt(question, examples, max_tokens=self.max_tokens, seed=ctx.seed),
                         ctx.profile)
        try:
            response = yield Generate(request, label="reason")
        except BudgetExhausted:
            return Answer(text="", task=ctx.root, exhausted=True)
        reasoning = response.text.strip()
        ctx.root.thought = reasoning
        found = answer_after(reasoning)
        if found:
            return Answer(text=found, task=ctx.root)
        # No answer line: one short extraction call continues the reasoning with the marker.
        extract = render(cot_prompt(question, examples, max_tokens=self.answer_tokens,
                                    seed=ctx.seed, reasoning=reasoning), ctx.profile)
        try:
            response = yield Generate(extract, label="extract")
        except BudgetExhausted:
            return Answer(text="", task=ctx.root, exhausted=True)
        text = response.text
        return Answer(text=answer_after(text) or clean_answer(text), task=ctx.root)
