"""Closed-book baselines: ``Direct`` (answer from the question alone) and ``CoT`` (chain of
thought).

``Direct`` is few-shot question -> answer prompting (Brown et al. 2020): one call, no search.
``CoT`` is few-shot chain-of-thought prompting (Wei et al. 2022) in the format IRCoT's readers use:
reasoning sentences, then ``So the answer is: X``. When the reasoning stops without that line
(truncated at the knob's token cap, or rambling), one short extraction call appends
``So the answer is:`` and reads the answer (the second stage of Kojima et al. 2022).

Exemplars are the dev split's multi-hop examples: their question and answer for ``Direct``; for
``CoT`` their supporting sentences, one per step, as the reasoning (``reasoning_sentences``, also
used by ``ircot``). ``answer_after`` parses the ``So the (final) answer is:`` line for every
strategy that uses one.

Not here: anything that searches (``rag``, ``react``, ``ircot``, ``self_ask``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from forage.core.errors import BudgetExhausted
from forage.llm.base import LLMRequest, Message
from forage.runtime.base import Answer, Context, Generate, Steps
from forage.prompts.exemplars import DevExample, ExemplarSet
from forage.prompts.common import clean_answer

DIRECT_INSTRUCTION = "Answer each question with a short phrase."
COT_INSTRUCTION = (
    'Answer each question. Reason step by step in short sentences, then write "So the answer is:" '
    "and a short phrase."
)
ANSWER_MARKER = "So the answer is:"

_FINAL = re.compile(r"so\s+the\s+(?:final\s+)?answer\s+is\s*:?", re.IGNORECASE)


def answer_after(text: str) -> str | None:
    """The answer after the last ``So the (final) answer is:`` in ``text``; ``None`` if absent."""
    matches = list(_FINAL.finditer(text))
    if not matches:
        return None
    return clean_answer(text[matches[-1].end():])


def _titled(title: str, sentence: str) -> str:
    """A sentence that names its subject: prefixed by the title when it does not contain it."""
    sentence = sentence.strip()
    if title and title.lower() not in sentence.lower():
        return f"{title}: {sentence}"
    return sentence


def reasoning_sentences(example: DevExample) -> tuple[str, ...]:
    """One supporting sentence per step of a dev example, each naming its subject: a reasoning chain
    written from evidence (IRCoT derives its chain-of-thought exemplars the same way)."""
    if example.steps:
        return tuple(_titled(s.title, s.evidence) for s in example.resolved_steps() if s.evidence)
    titles = list(example.titles) + [""] * max(0, len(example.evidence) - len(example.titles))
    return tuple(_titled(t, e) for t, e in zip(titles, example.evidence, strict=False))


def cot_text(example: DevExample) -> str:
    """The reasoning line of a CoT exemplar: its sentences, then ``So the answer is: X.``"""
    return " ".join((*reasoning_sentences(example), f"{ANSWER_MARKER} {example.answer}."))


def direct_request(
    question: str,
    examples: Sequence[DevExample],
    *,
    profile: str,
    max_tokens: int = 24,
    seed: int | None = None,
) -> LLMRequest:
    if profile == "chat":
        shots = "\n\n".join(f"Question: {e.question}\nAnswer: {e.answer}" for e in examples)
        return LLMRequest(
            messages=(
                Message(
                    role="system",
                    content=f"{DIRECT_INSTRUCTION} Answer from what you know; reply with the "
                    f"answer only.\n\n{shots}",
                ),
                Message(role="user", content=f"Question: {question}"),
            ),
            max_tokens=max_tokens,
            seed=seed,
        )
    blocks = [DIRECT_INSTRUCTION, ""]
    for e in examples:
        blocks += [f"Question: {e.question}", f"Answer: {e.answer}", ""]
    blocks += [f"Question: {question}", "Answer:"]
    return LLMRequest(prompt="\n".join(blocks), max_tokens=max_tokens, seed=seed, stop=("\n",))


def cot_request(
    question: str,
    examples: Sequence[DevExample],
    *,
    profile: str,
    max_tokens: int = 96,
    seed: int | None = None,
    reasoning: str | None = None,
) -> LLMRequest:
    """The CoT prompt; with ``reasoning`` given, the extraction prompt that continues it with
    ``So the answer is:``."""
    extract = reasoning is not None
    if profile == "chat":
        shots = "\n\n".join(f"Question: {e.question}\nAnswer: {cot_text(e)}" for e in examples)
        messages = [
            Message(role="system", content=f"{COT_INSTRUCTION}\n\n{shots}"),
            Message(role="user", content=f"Question: {question}"),
        ]
        if extract:
            messages += [
                Message(role="assistant", content=reasoning or ""),
                Message(role="user",
                        content=f"Finish with one line: {ANSWER_MARKER} <short phrase>"),
            ]
        return LLMRequest(messages=tuple(messages), max_tokens=max_tokens, seed=seed)
    blocks = [COT_INSTRUCTION, ""]
    for e in examples:
        blocks += [f"Question: {e.question}", f"Answer: {cot_text(e)}", ""]
    blocks += [f"Question: {question}", "Answer:"]
    prompt = "\n".join(blocks)
    if extract:
        prompt += f" {reasoning} {ANSWER_MARKER}" if reasoning else f" {ANSWER_MARKER}"
    return LLMRequest(prompt=prompt, max_tokens=max_tokens, seed=seed, stop=("\n",))


@dataclass(frozen=True)
class Direct:
    """Closed-book: one few-shot call from the question alone. Knob: ``max_tokens``."""

    max_tokens: int = 24
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "direct"

    def steps(self, ctx: Context) -> Steps:
        request = direct_request(
            ctx.question.text, self.exemplars.multi_hop, profile=ctx.profile,
            max_tokens=self.max_tokens, seed=ctx.seed,
        )
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
        request = cot_request(
            question, examples, profile=ctx.profile, max_tokens=self.max_tokens, seed=ctx.seed
        )
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
        extract = cot_request(
            question, examples, profile=ctx.profile, max_tokens=self.answer_tokens,
            seed=ctx.seed, reasoning=reasoning,
        )
        try:
            response = yield Generate(extract, label="extract")
        except BudgetExhausted:
            return Answer(text="", task=ctx.root, exhausted=True)
        text = response.text
        return Answer(text=answer_after(text) or clean_answer(text), task=ctx.root)
